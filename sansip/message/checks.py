"""The checks a UAS makes on a well-formed request before processing it
(RFC 3261 §8.2.2 and §8.2.3), as data: what it supports goes in, the error
response it owes comes out.

``check_request`` raises :class:`RequestRejected` (a ParseError) carrying
the status (416, 420, 415 or 406) and the fields the response must list
(Unsupported, Accept)::

    try:
        check_request(req, supported={"replaces", "timer"})
    except RequestRejected as exc:
        send(make_response(req, exc.status, headers=exc.response_headers))
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sansip.message import headers as h
from sansip.message.errors import ParseError
from sansip.message.message import Request

__all__ = ["DEFAULT_SCHEMES", "RequestRejected", "check_request"]

DEFAULT_SCHEMES: Final = frozenset({"sip", "sips", "tel"})


class RequestRejected(ParseError):
    """A well-formed request this UAS cannot process.

    ``response_headers`` are the fields the error response must carry
    (``Unsupported`` for 420, ``Accept`` for 415).
    """

    def __init__(self, reason: str, status: int, response_headers: list[tuple[str, str]]) -> None:
        super().__init__(reason, status)
        self.response_headers = response_headers


def check_request(
    request: Request,
    *,
    supported: Iterable[str] = (),
    schemes: Iterable[str] = DEFAULT_SCHEMES,
    accepted_bodies: Iterable[str] | None = None,
    produced_bodies: Iterable[str] | None = None,
) -> None:
    """Raise :class:`RequestRejected` if ``request`` must be refused.

    - 416 when the Request-URI scheme is not one of ``schemes`` (§8.2.2.1);
    - 420 when Require names an option tag not in ``supported`` (§8.2.2.3;
      never for ACK and CANCEL), with Unsupported listing the tags;
    - 415 when the body's Content-Type is not in ``accepted_bodies`` (§8.2.3),
      with Accept listing what is accepted;
    - 406 when the request has an Accept header and nothing in
      ``produced_bodies`` matches it (RFC 3261 §21.4.7).

    Media types compare case-insensitively, without parameters; ``*/*`` and
    ``type/*`` in Accept match as usual.  A check whose parameter is None
    is skipped.
    """
    if request.uri.scheme not in {s.lower() for s in schemes}:
        raise RequestRejected(f"URI scheme {request.uri.scheme!r} not supported", 416, [])
    if request.method not in ("ACK", "CANCEL"):
        required = request.headers.parsed(h.REQUIRE) or []
        known = {tag.lower() for tag in supported}
        missing = [tag for tag in required if tag.lower() not in known]
        if missing:
            raise RequestRejected("Bad Extension", 420, [("Unsupported", ", ".join(missing))])
    if accepted_bodies is not None and request.body:
        accepted = [mime.lower() for mime in accepted_bodies]
        content_type = request.content_type
        mime = content_type.mime if content_type is not None else "application/octet-stream"
        if mime not in accepted:
            raise RequestRejected(
                f"body type {mime} not supported", 415, [("Accept", ", ".join(accepted))]
            )
    if produced_bodies is not None and "accept" in request.headers:
        wanted = [t.mime for t in request.headers.parsed(h.ACCEPT) or []]
        offered = [mime.lower() for mime in produced_bodies]
        if wanted and not any(_matches(w, o) for w in wanted for o in offered):
            raise RequestRejected("no acceptable body type", 406, [])


def _matches(pattern: str, mime: str) -> bool:
    if pattern == "*/*":
        return True
    kind, _, sub = pattern.partition("/")
    return pattern == mime or (sub == "*" and mime.startswith(kind + "/"))
