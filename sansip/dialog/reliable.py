"""Reliable provisional responses (RFC 3262) in the calls of
:class:`~sansip.dialog.ua.UserAgent`, on the helpers of
:mod:`sansip.dialog.prack`.

When ``100rel`` is in ``UAConfig.supported`` our INVITEs say
``Supported: 100rel`` and:

- as UAC, each reliable 1xx (``Require: 100rel`` with an RSeq) is PRACKed
  once, in the early dialog of its To-tag (each fork has its own RSeq
  numbers); a retransmitted or out-of-order one is dropped (§4);
- as UAS, our 180/183 to an INVITE that requires ``100rel`` (or supports it,
  with ``UAConfig.prefer_100rel``) are sent reliably: RSeq, retransmitted
  from T1 doubling until the PRACK, at most one unacknowledged at a time
  (a later one waits), the 2xx held while a 1xx carrying SDP is not
  PRACKed yet; no PRACK in 64*T1 ends the call with 500 (§3); a PRACK
  gets 200 when its RAck matches, 481 when not.
"""

from __future__ import annotations

from sansip.dialog.call import Call, CallState
from sansip.dialog.calls import CallTable, next_hop
from sansip.dialog.dialog import Dialog
from sansip.dialog.prack import (
    REL100,
    PrackTimeout,
    PrackTracker,
    ReliableProvisionals,
    format_rack,
    is_reliable,
)
from sansip.message import ParseError, Request, Response, make_response
from sansip.transaction import TransactionKey

__all__ = ["ReliableResponses"]


class ReliableResponses:
    """RFC 3262 for the calls of ``calls`` (see the module docstring)."""

    def __init__(self, calls: CallTable) -> None:
        self._calls = calls
        self._waiting: set[Call] = set()  # incoming calls with a reliable 1xx out

    @property
    def enabled(self) -> bool:
        """Whether this UA supports ``100rel``."""
        return REL100 in self._calls.config.supported

    # -- UAC ---------------------------------------------------------------------
    def invite_headers(self) -> list[tuple[str, object]]:
        """``Supported: 100rel`` for our INVITEs, when enabled."""
        return [("Supported", REL100)] if self.enabled else []

    def on_provisional(self, call: Call, response: Response, now: float) -> bool:
        """A 1xx to our INVITE: PRACK it if it is reliable; False when it
        must be dropped (a retransmission, out of order, a bad RSeq)."""
        if not is_reliable(response) or not response.to.tag:
            return True
        tag = response.to.tag
        tracker = call.prack_trackers.setdefault(tag, PrackTracker())
        try:
            rack = tracker.on_reliable(response)
        except ParseError:
            return False
        if rack is None:
            return False
        dialog = call.dialog
        if dialog is None or dialog.remote_tag != tag:
            dialog = Dialog.from_uac(call.invite, response)  # its own early dialog (a fork)
            if call.dialog is None:
                call.dialog = dialog
        config = self._calls.config
        prack = dialog.create_request("PRACK", headers=[
            ("RAck", format_rack(rack)), ("User-Agent", config.user_agent),
            *config.extra_headers])  # fmt: skip
        self._calls.endpoint.send_request(prack, next_hop(dialog), now)
        return True

    # -- UAS ---------------------------------------------------------------------
    def incoming(self, call: Call) -> None:
        """An INVITE came in: how its 1xx will be sent."""
        if self.enabled:
            call.reliable = ReliableProvisionals(
                call.invite, self._calls.rng, prefer=self._calls.config.prefer_100rel,
                timers=self._calls.timers,
            )  # fmt: skip

    def provisional(self, call: Call, response: Response, now: float) -> Response | None:
        """The 1xx to send for ``response`` now (made reliable when it must
        be), or None when it waits for the PRACK of the one before."""
        reliable = call.reliable
        if reliable is None or not reliable.reliable or response.status == 100:
            return response
        out = reliable.send(response, now)
        self._waiting.add(call)
        return out

    def hold_final(self, call: Call, response: Response) -> bool:
        """Whether our 2xx to ``call`` must wait for a PRACK (kept until then)."""
        reliable = call.reliable
        if reliable is None or reliable.may_send_final(response.status):
            return False
        call.held_final = response
        return True

    def final_sent(self, call: Call) -> None:
        """A final response to the INVITE of ``call`` went."""
        if call.reliable is not None:
            call.reliable.final_response_sent()
        self._waiting.discard(call)

    def on_prack(self, call: Call, key: TransactionKey, prack: Request, now: float) -> None:
        """A PRACK in the dialog of incoming ``call``: 200 or 481, then what it releases."""
        reliable = call.reliable
        endpoint = self._calls.endpoint
        if reliable is None:
            endpoint.respond(key, make_response(prack, 481, to_tag=prack.to.tag), now)
            return
        try:
            result = reliable.on_prack(prack, now)
        except ParseError as exc:
            endpoint.respond(key, make_response(prack, exc.status, to_tag=prack.to.tag), now)
            return
        endpoint.respond(key, make_response(prack, result.status, to_tag=prack.to.tag), now)
        invite_key = call.invite_key
        if result.next_provisional is not None and invite_key is not None:
            endpoint.respond(invite_key, result.next_provisional, now)
        held = call.held_final
        if held is not None and result.final_may_go and invite_key is not None:
            call.held_final = None
            endpoint.respond(invite_key, held, now)
            self._calls.resend_2xx_until_ack(call, invite_key, held, now)
            self.final_sent(call)

    # -- time --------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """The next retransmission of a reliable 1xx; pure."""
        due = [c.reliable.get_timer() for c in self._waiting if c.reliable is not None]
        return min((d for d in due if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Resend the unacknowledged reliable 1xx that are due; 500 after 64*T1."""
        for call in list(self._waiting):
            reliable, key = call.reliable, call.invite_key
            if reliable is None or key is None or call.state is CallState.DISCONNECTED:
                self._waiting.discard(call)
                continue
            out = reliable.handle_timer(now)
            if isinstance(out, Response):
                self._calls.endpoint.respond(key, out, now)
            elif isinstance(out, PrackTimeout):
                self._waiting.discard(call)
                call.held_final = None
                self._calls.endpoint.respond(key, self._calls.response(call, out.status), now)
                call.status = out.status
                self._calls.end(call, now, "no PRACK")
