"""The stateless answer to a malformed datagram (RFC 3261 §8.2.7, §16.3, §18.2.1).

A request that does not parse gets an error response when there is enough
of it to route one: a request line (responses and ACKs are never answered)
and a top Via that parses.  Everything else is dropped; the caller counts it.
"""

from __future__ import annotations

import hashlib
from typing import Final

from sansip.message import (
    Headers,
    LocalProtocolError,
    ParseError,
    Request,
    Response,
    make_response,
    parse,
    reason_phrase,
)
from sansip.message.via import Via, parse_via_list
from sansip.transport.routing import response_target
from sansip.transport.types import Address, Datagram
from sansip.transport.via import received_via, replace_top_via

__all__ = ["answer_malformed", "error_response"]

#: The largest datagram looked into to answer 513 (the UDP maximum).
_MAX_DATAGRAM: Final = 65535


def answer_malformed(
    data: bytes,
    source: Address,
    *,
    max_message_size: int = _MAX_DATAGRAM,
    to_tag: str | None = None,
) -> Datagram | None:
    """The error response to a datagram that failed to parse, or None.

    ``data`` came from ``source`` over UDP.  When it is a request that does
    not parse (or is larger than ``max_message_size``), the answer is the
    400, 505 or 513 its :class:`ParseError` calls for (see
    :func:`error_response`), sent where RFC 3261 §18.2.2 routes it.

    None when the datagram parses, is a response, is an ACK, has no usable
    top Via, or would need DNS to route (a ``maddr`` host name).  Never
    raises on any input.
    """
    error = _parse_error(data, max_message_size)
    if error is None:
        return None
    answer = _answer(error, source, to_tag)
    if answer is None:
        return None
    response, top = answer
    target = response_target(top, reliable=False)
    if target.needs_dns:
        return None
    return response.encode(), target.address


def error_response(
    error: ParseError, source: Address, *, to_tag: str | None = None
) -> Response | None:
    """The response to a request that failed to parse, or None if there is none.

    Use it for a datagram (see :func:`answer_malformed`) or for the
    ``error`` of a stream's ``MessageRejected``; on a stream the answer goes
    back on the same connection.  The status is the error's (400, 505,
    513); Via, From, To, Call-ID and CSeq are copied as far as the parser
    split them, with ``source`` recorded in the top Via (``received`` and
    ``rport``, RFC 3261 §18.2.1 / RFC 3581 §4).  ``to_tag`` goes on a To
    without a tag; by default it is derived from the request, so a
    retransmission gets the same answer (RFC 3261 §8.2.7).

    None for a response, an ACK, or a request without a top Via that
    parses.  Never raises.
    """
    answer = _answer(error, source, to_tag)
    return None if answer is None else answer[0]


def _answer(error: ParseError, source: Address, to_tag: str | None) -> tuple[Response, Via] | None:
    headers = error.headers
    start = error.start_line
    if headers is None or start is None or start[:4].upper() == "SIP/":
        return None
    if start.partition(" ")[0] == "ACK":
        return None  # an ACK is never answered (RFC 3261 §17.2.1)
    top_field = headers.get("Via")
    if top_field is None:
        return None
    try:
        top = received_via(parse_via_list(top_field)[0], source)
        reason = error.reason if error.status == 400 else reason_phrase(error.status)
        tag = to_tag if to_tag is not None else _derived_tag(start, headers)
        response = make_response(error, error.status, _safe_reason(reason), to_tag=tag)
        replace_top_via(response.headers, top)
        response.encode()  # anything that cannot be written fails here, not later
    except (ParseError, LocalProtocolError, ValueError):
        return None
    return response, top


def _parse_error(data: bytes, max_message_size: int) -> ParseError | None:
    """The ParseError of ``data``, with its headers split when possible."""
    try:
        parse(data, max_size=max_message_size)
    except ParseError as exc:
        if exc.status != 513 or exc.headers is not None or len(data) > _MAX_DATAGRAM:
            return exc
        too_large = exc
    else:
        return None
    # Too large: split it anyway (within the datagram limit) to answer 513.
    try:
        message = parse(data, max_size=_MAX_DATAGRAM)
    except ParseError as exc:
        too_large.start_line, too_large.headers = exc.start_line, exc.headers
        return too_large
    if isinstance(message, Response):
        return None
    too_large.start_line, too_large.headers = _start_line(message), message.headers
    return too_large


def _start_line(request: Request) -> str:
    return f"{request.method} {request.uri} {request.version}"


def _derived_tag(start_line: str, headers: Headers) -> str:
    """A To tag that depends only on the request (the same for its retransmissions)."""
    text = "\r\n".join([start_line, *(f"{name}:{value}" for name, value in headers.items())])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _safe_reason(reason: str) -> str | None:
    """``reason`` as a reason phrase if it is plain printable ASCII, else the default."""
    if reason and reason.isascii() and reason.isprintable():
        return reason
    return None
