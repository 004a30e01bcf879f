"""Building responses to requests (RFC 3261 §8.2.6), including to requests
that failed to parse."""

from __future__ import annotations

from typing import Final

from sansip.message.address import parse_name_addr
from sansip.message.errors import LocalProtocolError, ParseError
from sansip.message.headers import Headers
from sansip.message.message import Request, Response

__all__ = ["make_response"]

# Copied from request to response, in this order (RFC 3261 §8.2.6.2).
_COPIED: Final = ("via", "from", "to", "call-id", "cseq")


def _has_tag(to_value: str) -> bool:
    try:
        return parse_name_addr(to_value, "To").tag is not None
    except ParseError:
        return True  # leave a malformed To as it is


def make_response(
    request: Request | ParseError,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, object]] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Response:
    """Build a response to ``request`` with Via, From, To, Call-ID and CSeq
    copied unchanged, plus ``to_tag`` on To when To has no tag yet.

    ``request`` may also be the :class:`ParseError` raised for a request that
    did not parse: whatever of those headers it split is copied, so a
    malformed request can still get its 400 (raises LocalProtocolError when
    not even a Via could be found, since the response could not be routed).
    """
    if isinstance(request, ParseError):
        source = request.headers
        if source is None or "via" not in source:
            raise LocalProtocolError("the request has no Via; no response can be routed")
        if request.start_line is not None and request.start_line[:4].upper() == "SIP/":
            raise LocalProtocolError("a response is never answered")
    else:
        source = request.headers
    out = Headers()
    for key in _COPIED:
        for value in source.get_all(key):
            if key == "to" and to_tag is not None and status > 100 and not _has_tag(value):
                value = f"{value};tag={to_tag}"
            out.add(_CANONICAL[key], value)
    if status == 100:
        timestamp = source.get("Timestamp")
        if timestamp is not None:
            out.add("Timestamp", timestamp)
    for name, extra in headers or ():
        out.add(name, extra)
    return Response(status, reason, out, body)


_CANONICAL: Final = {
    "via": "Via",
    "from": "From",
    "to": "To",
    "call-id": "Call-ID",
    "cseq": "CSeq",
}
