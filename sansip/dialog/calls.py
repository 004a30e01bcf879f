"""The calls of one user agent and what every part of it does to them.

:class:`CallTable` holds the calls by Call-ID and by transaction key, and
the common steps the UA's parts share: a state change (with its event),
the end of a call, the connection a call keeps open (stream mode), the
responses a UAS sends for a call, and resending a 2xx until its ACK
(RFC 3261 §13.3.1.4).  Ended calls are remembered for 64*T1 to absorb
retransmissions, then forgotten.
"""

from __future__ import annotations

from collections import deque

from sansip.dialog.call import Call, CallState, CallStateChanged
from sansip.dialog.dialog import Dialog, DialogState
from sansip.dialog.events import UAEventQueue
from sansip.dialog.uaconfig import UAConfig
from sansip.errors import LocalProtocolError
from sansip.message import NameAddr, Response, make_response
from sansip.message.ids import new_tag
from sansip.transaction import TimerConfig, TransactionKey
from sansip.transaction.endpoint import Endpoint, EndpointRandom
from sansip.transport.routing import address_of
from sansip.transport.types import Address

__all__ = ["CallTable", "next_hop"]


def next_hop(dialog: Dialog) -> Address:
    """Where the next request within ``dialog`` goes (its first Route or its
    remote target; numeric addresses only)."""
    uri, routes = dialog.request_target()
    return address_of(routes[0] if routes else uri)


class CallTable:
    """The calls of one UA, with the steps its parts share."""

    def __init__(
        self,
        endpoint: Endpoint,
        config: UAConfig,
        contact: NameAddr,
        events: UAEventQueue,
        *,
        rng: EndpointRandom,
    ) -> None:
        self.endpoint = endpoint
        self.config = config
        self.contact = contact
        self.events = events
        self.rng = rng
        self.timers: TimerConfig = endpoint.config.timers
        self.by_call_id: dict[str, Call] = {}
        self.by_key: dict[TransactionKey, Call] = {}
        # Calls resending their 2xx, and ended calls kept 64*T1 for stray
        # retransmissions before they are forgotten.
        self._retransmitting: set[Call] = set()
        self._expiry: deque[tuple[float, Call]] = deque()

    def add(self, call: Call, key: TransactionKey) -> None:
        """Track ``call``, whose INVITE is transaction ``key``."""
        self.by_call_id[call.call_id] = call
        self.by_key[key] = call

    # -- time ------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """The earliest 2xx retransmission or expiry of an ended call; pure."""
        deadlines = [c.retransmit_at for c in self._retransmitting if c.retransmit_at is not None]
        if self._expiry:
            deadlines.append(self._expiry[0][0])
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        """Resend the 2xx that are due; forget the calls ended 64*T1 ago."""
        for call in list(self._retransmitting):
            if call.retransmit_at is None:
                self._retransmitting.discard(call)
            elif now >= call.retransmit_at:
                self._retransmit_2xx(call, now)
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, call = expiry.popleft()
            if self.by_call_id.get(call.call_id) is call:
                del self.by_call_id[call.call_id]
            for key in (call.invite_key, call.bye_key, call.reinvite_key):
                if key is not None and self.by_key.get(key) is call:
                    del self.by_key[key]

    # -- shared steps ------------------------------------------------------------
    def set_state(self, call: Call, new: CallState, reason: str = "") -> None:
        """Move ``call`` to ``new`` and report it (a disconnected call stays so)."""
        old = call.state
        if old is new or old is CallState.DISCONNECTED:
            return
        call.state = new
        self.events.append(CallStateChanged(call, old, new, reason))

    def end(self, call: Call, now: float, reason: str) -> None:
        """``call`` is over: release its connection, stop its 2xx, end its
        dialog, remember it 64*T1 and report it disconnected."""
        self.pin(call, None)
        call.alternatives.clear()
        call.retransmit_at = None
        self._retransmitting.discard(call)
        if call.ended_at is None:
            self._expiry.append((now + 64 * self.timers.t1, call))
        call.ended_at = now
        call.reason = reason
        if call.dialog is not None:
            call.dialog.terminate()
        self.set_state(call, CallState.DISCONNECTED, reason)

    def pin(self, call: Call, addr: Address | None) -> None:
        """Keep the connection ``call`` runs on open (stream mode; None: release)."""
        endpoint = self.endpoint
        if not endpoint.stream_mode or call.pinned == addr:
            return
        if call.pinned is not None:
            endpoint.unpin_connection(call.pinned)
        call.pinned = addr
        if addr is not None:
            endpoint.pin_connection(addr)

    def cancel(self, call: Call, now: float) -> None:
        """CANCEL the INVITE of outgoing ``call`` (nothing if it was answered)."""
        if call.invite_key is not None:
            self.endpoint.cancel(call.invite_key, now)

    def response(
        self,
        call: Call,
        status: int,
        *,
        reason: str | None = None,
        headers: list[tuple[str, object]] | None = None,
        body: bytes = b"",
    ) -> Response:
        """A response of ours to the INVITE of incoming ``call``, with our To tag."""
        if call.local_tag is None:
            call.local_tag = new_tag(self.rng)
        config = self.config
        extra: list[tuple[str, object]] = []
        if 100 < status < 300:
            # A dialog-creating response carries the request's Record-Route (§12.1.1).
            extra += [("Record-Route", v) for v in call.invite.headers.get_all("Record-Route")]
            extra += [("Contact", self.contact), ("Allow", ", ".join(config.allow))]
        extra += [("User-Agent", config.user_agent), *config.extra_headers, *(headers or [])]
        return make_response(call.invite, status, reason, to_tag=call.local_tag,
                             headers=extra, body=body)  # fmt: skip

    def resend_2xx_until_ack(
        self, call: Call, key: TransactionKey, response: Response, now: float
    ) -> None:
        """``response``, a 2xx to INVITE ``key`` of ``call``, was sent: resend
        it (T1, doubling to T2) until its ACK or for 64*T1 (§13.3.1.4)."""
        t1 = self.timers.t1
        call.invite_key, call.final = key, response
        call.retransmit_interval = t1
        call.retransmit_at = now + t1
        call.retransmit_until = now + 64 * t1
        self._retransmitting.add(call)

    def ack_received(self, call: Call) -> None:
        """The ACK of the 2xx of ``call`` came: stop resending it."""
        call.retransmit_at = None
        self._retransmitting.discard(call)

    def _retransmit_2xx(self, call: Call, now: float) -> None:
        if call.final is None or call.invite_key is None:
            call.retransmit_at = None
            return
        if now >= call.retransmit_until:
            # No ACK within 64*T1: confirm the session ended with a BYE (§13.3.1.4).
            call.retransmit_at = None
            if call.dialog is not None and call.dialog.state is not DialogState.TERMINATED:
                bye = call.dialog.create_request("BYE")
                self.endpoint.send_request(bye, next_hop(call.dialog), now)
            self.end(call, now, "not acked connection expired")
            return
        try:
            self.endpoint.respond(call.invite_key, call.final, now)
        except LocalProtocolError:
            self.endpoint.send_stateless(call.final, call.peer, now)
        call.retransmit_interval = min(2 * call.retransmit_interval, self.timers.t2)
        call.retransmit_at = min(now + call.retransmit_interval, call.retransmit_until)
