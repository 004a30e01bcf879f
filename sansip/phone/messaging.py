"""Instant messages of a phone, sans-IO (RFC 3428 MESSAGE): ``sendchat``
and ``sendsms`` out, with the delivery result reported, and messages in,
answered 200 (603 from a blacklisted sender), reported with the line of
the call they came in, if any.

A message is sent as it is, never cut: over UDP one that would not fit a
datagram of :data:`MAX_UDP_MESSAGE` octets is refused with an error that
says so (use TCP or TLS for long messages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sansip.bodies.content import IS_COMPOSING
from sansip.bodies.dtmfinfo import build_dtmf_relay, parse_dtmf, parse_dtmf_relay
from sansip.bodies.errors import BodyError
from sansip.bodies.iscomposing import IsComposing, build_iscomposing, parse_iscomposing
from sansip.dialog.call import RequestArrived, RequestCompleted
from sansip.dialog.ua import UserAgent
from sansip.errors import LocalProtocolError
from sansip.message import SipURI
from sansip.message.ids import new_call_id
from sansip.phone.events import ChatComposing, ChatReceived, ChatReport, PhoneEvent
from sansip.rtp import RandomSource
from sansip.transport.types import Address, Transport

__all__ = ["MAX_UDP_MESSAGE", "Messaging"]

#: The largest MESSAGE body sent over UDP (RFC 3428 §8: the request must fit
#: the path MTU; headers take the rest of 1300 octets).
MAX_UDP_MESSAGE: Final = 800
#: How long an "is typing" indication holds unless refreshed (RFC 3994 §3.2).
COMPOSING_REFRESH: Final = 90
#: Report states of ``CHATREPORT``: sending, sent, failed.
SENDING, SENT, FAILED = 1, 2, 3


@dataclass(slots=True)
class _Outgoing:
    peer: str
    line: int


class Messaging:
    """MESSAGE in and out for one UA; ``emit`` takes the events."""

    def __init__(self, ua: UserAgent, emit: Callable[[PhoneEvent], None],
                 rng: RandomSource) -> None:  # fmt: skip
        self.ua = ua
        self._emit = emit
        self._rng = rng
        self._pending: dict[str, _Outgoing] = {}  # by Call-ID (an auth retry keeps it)

    def send(self, target: SipURI, text: str, now: float, *, dest: Address | None = None,
             headers: tuple[tuple[str, str], ...] = (),
             content_type: str = "text/plain;charset=UTF-8", line: int = -1) -> None:  # fmt: skip
        """Send ``text`` to ``target`` in a MESSAGE outside any dialog."""
        body = text.encode("utf-8")
        if self.ua.endpoint.config.transport is Transport.UDP and len(body) > MAX_UDP_MESSAGE:
            raise LocalProtocolError(
                f"a message of {len(body)} octets does not fit a UDP datagram (at most "
                f"{MAX_UDP_MESSAGE}); send it over TCP or TLS (transport=1 or 2)")  # fmt: skip
        peer = target.user or target.host
        call_id = new_call_id(self._rng, self.ua.endpoint.config.sent_by[0])
        self.ua.send_request("MESSAGE", target, now, body=body, content_type=content_type,
                             headers=headers, dest=dest, call_id=call_id)  # fmt: skip
        self._pending[call_id] = _Outgoing(peer, line)
        self._emit(ChatReport(peer, SENDING, "", line))

    def composing(self, target: SipURI, active: bool, now: float, *,
                  dest: Address | None = None) -> None:  # fmt: skip
        """Tell ``target`` we are typing (``active``) or stopped (RFC 3994)."""
        state = "active" if active else "idle"
        refresh = COMPOSING_REFRESH if active else None
        body = build_iscomposing(IsComposing(state, refresh=refresh))
        self.ua.send_request("MESSAGE", target, now, body=body, content_type=IS_COMPOSING,
                             dest=dest)  # fmt: skip

    def completed(self, event: RequestCompleted) -> bool:
        """The answer to a MESSAGE we sent (False: not one of ours)."""
        sent = self._pending.pop(event.request.call_id, None)
        if sent is None or event.request.method != "MESSAGE":
            return False
        status = event.status
        reason = event.response.reason if event.response is not None else "no answer"
        state = SENT if 200 <= status < 300 else FAILED
        self._emit(ChatReport(sent.peer, state, f"{status} {reason}", sent.line))
        return True

    def arrived(self, event: RequestArrived, now: float, *, line: int, blocked: bool) -> None:
        """A MESSAGE came (``line``: the call it came in, -1 for none)."""
        request = event.request
        if blocked:
            self.ua.respond(event, 603, now)
            return
        uri = request.from_.uri
        peer = str(getattr(uri, "user", "") or uri)
        kind = str(request.headers.get("Content-Type") or "text/plain")
        charset = "utf-8"
        for param in kind.split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                charset = value.strip().strip('"') or charset
        try:
            text = request.body.decode(charset, "replace")
        except LookupError:  # an unknown charset: the text as UTF-8
            text = request.body.decode("utf-8", "replace")
        media_type = kind.split(";", maxsplit=1)[0].strip().lower()
        if media_type == IS_COMPOSING:  # RFC 3994: the peer is typing, or stopped
            try:
                indication = parse_iscomposing(request.body)
            except BodyError as exc:
                self.ua.respond(event, exc.status, now)
                return
            self.ua.respond(event, 200, now)
            self._emit(ChatComposing(peer, indication.active, line))
            return
        self.ua.respond(event, 200, now)
        display = request.from_.display_name or ""
        self._emit(ChatReceived(peer, text, line, media_type, display))


#: The INFO bodies that carry a DTMF digit.
DTMF_INFO_TYPES: Final = ("application/dtmf-relay", "application/dtmf")


def dtmf_digit(content_type: str, body: bytes) -> str | None:
    """The digit of an INFO body of ``content_type`` (application/dtmf-relay
    or application/dtmf); ``""`` for a body without a usable digit; None
    when the body type is no DTMF one."""
    if content_type not in DTMF_INFO_TYPES:
        return None
    parse = parse_dtmf_relay if content_type == "application/dtmf-relay" else parse_dtmf
    try:
        return parse(body).digit
    except BodyError:
        return ""


def dtmf_relay_body(digit: str, duration_ms: int = 160) -> bytes:
    """The application/dtmf-relay body of an INFO carrying ``digit``."""
    return build_dtmf_relay(digit.upper(), duration_ms)
