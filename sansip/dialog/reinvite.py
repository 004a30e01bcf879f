"""Session modification with re-INVITE (RFC 3261 §14) or UPDATE (RFC
3311), both sides, for :class:`~sansip.dialog.ua.UserAgent`.

Ours: :meth:`SessionModifications.reinvite` sends the new offer in the
dialog (in an UPDATE with ``method="UPDATE"``); a 2xx (ACKed for an INVITE)
ends in :class:`SessionUpdated`, a 491 (glare)
is retried after 2.1-4 s when this UA owns the Call-ID and 0-2 s when it
does not (§14.1), a 408 or 481 (or no answer) ends the call with a BYE
(§12.2.1.2), any other failure — a transport error counts as a 503
(§8.1.3.1) — leaves the session as it was (:class:`ModificationFailed`);
a challenge is answered once with credentials.

The peer's: an INVITE in the dialog becomes :class:`OfferReceived`; the
application answers with :meth:`accept_offer` (200 OK with its SDP,
retransmitted until the ACK, §13.3.1.4) or :meth:`reject_offer` (488 by
default).  While our re-INVITE is pending the peer's gets 491; while the
peer's is unanswered a second one gets 500 with Retry-After (§14.2).  An
offer-less re-INVITE asks for our offer: ``accept_offer`` sends it in the
2xx and the answer comes in the ACK.  The peer's UPDATE with an offer
(in a confirmed dialog, or an early one once the first offer/answer is
done) is an :class:`OfferReceived` answered the same way, in its 200; an
UPDATE without a body (a session refresh) gets 200 at once.
"""

from __future__ import annotations

from collections.abc import Callable

from sansip.dialog.call import (
    OUTGOING,
    Call,
    CallState,
    ModificationFailed,
    OfferReceived,
    SessionUpdated,
)
from sansip.dialog.calls import CallTable, next_hop
from sansip.dialog.session_refresh import SessionRefreshes
from sansip.dialog.uac import Authenticator
from sansip.errors import LocalProtocolError
from sansip.message import Request, Response, make_response
from sansip.transaction import TransactionKey

__all__ = ["SessionModifications"]


class SessionModifications:
    """re-INVITE in and out, for the calls of ``calls``; ``hangup`` ends a
    call whose dialog failed (the UA's command)."""

    def __init__(
        self,
        calls: CallTable,
        auth: Authenticator,
        hangup: Callable[[Call, float], None],
        refreshes: SessionRefreshes,
    ) -> None:
        self._calls = calls
        self._auth = auth
        self._hangup = hangup
        self._refreshes = refreshes
        self._glare_waits: set[Call] = set()  # re-INVITEs to retry after a 491

    # -- commands ------------------------------------------------------------
    def reinvite(self, call: Call, sdp: bytes, now: float, *, method: str = "INVITE") -> None:
        """Offer ``sdp`` to the peer of connected ``call`` in a re-INVITE
        (hold, resume, codec change), or in an UPDATE with ``method``.
        Raises :class:`LocalProtocolError` when the call is not connected or
        an offer is already pending."""
        if method not in ("INVITE", "UPDATE"):
            raise LocalProtocolError(f"an offer goes in an INVITE or an UPDATE, not {method}")
        if call.state is not CallState.CONNECTED or call.dialog is None:
            raise LocalProtocolError("only a connected call can be re-INVITEd")
        if not sdp:
            raise LocalProtocolError("a re-INVITE needs an SDP offer")
        if self._offer_pending(call):
            raise LocalProtocolError("an offer/answer exchange is already in progress")
        call.reinvite_sdp = sdp
        call.reinvite_method = method
        self._send_reinvite(call, now)

    def accept_offer(self, call: Call, sdp: bytes, now: float) -> None:
        """Answer the peer's re-INVITE of ``call`` with 200 OK and ``sdp``
        (our answer, or our offer when the re-INVITE had none)."""
        key, request = call.offer_key, call.offer_request
        if key is None or request is None or call.dialog is None:
            raise LocalProtocolError("no re-INVITE of this call is waiting for an answer")
        if not sdp:
            raise LocalProtocolError("the answer to a re-INVITE needs an SDP body")
        calls, config = self._calls, self._calls.config
        response = make_response(
            request, 200, to_tag=request.to.tag, body=sdp,
            headers=[("Contact", calls.contact), ("Allow", ", ".join(config.allow)),
                     ("User-Agent", config.user_agent), ("Content-Type", "application/sdp"),
                     *self._refreshes.answer_headers(call)],
        )  # fmt: skip
        calls.endpoint.respond(key, response, now)
        call.offer_key = call.offer_request = None
        self._refreshes.answered(call, request, now)  # a refresh too (RFC 4028)
        if request.method == "UPDATE":  # a non-INVITE transaction: no ACK to wait for
            call.local_sdp, call.remote_sdp = sdp, request.body
            calls.events.append(SessionUpdated(call, sdp, request.body, True))
            return
        # Retransmit the 2xx until the ACK, as for the first INVITE.
        calls.resend_2xx_until_ack(call, key, response, now)
        call.local_sdp = sdp
        if request.body:
            call.remote_sdp = request.body
            calls.events.append(SessionUpdated(call, sdp, request.body, True))
        else:
            call.answer_in_ack = True

    def reject_offer(
        self, call: Call, now: float, status: int = 488, warning: str | None = None
    ) -> None:
        """Refuse the peer's re-INVITE of ``call`` (488 Not Acceptable Here
        by default, with an optional Warning value); the session stays."""
        key, request = call.offer_key, call.offer_request
        if key is None or request is None:
            raise LocalProtocolError("no re-INVITE of this call is waiting for an answer")
        if not 300 <= status <= 699:
            raise LocalProtocolError("a refusal needs a 3xx-6xx status")
        headers: list[tuple[str, object]] = [("User-Agent", self._calls.config.user_agent)]
        if warning:
            headers.append(("Warning", warning))
        self._calls.endpoint.respond(
            key, make_response(request, status, to_tag=request.to.tag, headers=headers), now
        )
        call.offer_key = call.offer_request = None

    # -- what came in --------------------------------------------------------
    def on_request(self, call: Call, key: TransactionKey, request: Request, now: float) -> None:
        """The peer re-INVITEd ``call`` (the dialog has accounted for it)."""
        if call.reinvite is not None:
            self._refuse(key, request, 491, now)  # glare: ours is in progress
            return
        if (
            call.offer_key is not None
            or call.answer_in_ack
            or call.state is not CallState.CONNECTED
        ):
            seconds = self._calls.rng.getrandbits(16) % 11
            self._refuse(key, request, 500, now, [("Retry-After", str(seconds))])
            return
        call.offer_key, call.offer_request = key, request
        self._calls.events.append(OfferReceived(call, request.body))

    def on_update(self, call: Call, key: TransactionKey, request: Request, now: float) -> None:
        """The peer sent UPDATE in the dialog of ``call`` (RFC 3311): without
        a body it refreshes the session (200 now); with an offer it is
        answered like a re-INVITE's, but only once the first offer/answer is
        done and no other offer is pending (491 while ours is, 500 with
        Retry-After otherwise, §5.2)."""
        if not request.body:
            config = self._calls.config
            fields: list[tuple[str, object]] = [
                ("Contact", self._calls.contact), ("Allow", ", ".join(config.allow)),
                ("User-Agent", config.user_agent)]  # fmt: skip
            fields += self._refreshes.answer_headers(call)
            self._refuse(key, request, 200, now, fields)
            self._refreshes.answered(call, request, now)
            return
        if call.reinvite is not None or call.reinvite_retry_at is not None:
            self._refuse(key, request, 491, now)
            return
        settled = bool(call.local_sdp) and bool(call.remote_sdp)
        if call.offer_key is not None or call.answer_in_ack or not settled:
            seconds = self._calls.rng.getrandbits(16) % 11
            self._refuse(key, request, 500, now, [("Retry-After", str(seconds))])
            return
        call.offer_key, call.offer_request = key, request
        self._calls.events.append(OfferReceived(call, request.body))

    def on_response(self, call: Call, key: TransactionKey, response: Response, now: float) -> None:
        """A response to our re-INVITE of ``call``."""
        self._on_response(call, key, response, now)
        if call.reinvite_retry_at is not None:
            self._glare_waits.add(call)

    def _on_response(self, call: Call, key: TransactionKey, response: Response, now: float) -> None:
        status = response.status
        request = call.reinvite
        if status < 200 or request is None or call.dialog is None:
            return
        calls = self._calls
        calls.by_key.pop(key, None)
        call.reinvite = call.reinvite_key = None
        if status in (401, 407):
            retry = self._auth.retry(request, response)
            if retry is not None:
                call.dialog.local_cseq = max(call.dialog.local_cseq or 0, retry.cseq.seq)
                self._send(call, retry, now)
                return
        if status < 300:
            self._auth.succeeded(request)
            call.dialog.update_from_response(response)
            if request.method == "INVITE":
                ack = call.dialog.create_ack(request.cseq.seq, headers=calls.config.extra_headers)
                calls.endpoint.send_ack(ack, next_hop(call.dialog), now)
                call.ack = ack
            call.local_sdp, call.remote_sdp = call.reinvite_sdp, response.body
            calls.events.append(SessionUpdated(call, call.local_sdp, call.remote_sdp, False))
            return
        if status == 491:
            # §14.1: the Call-ID's owner waits 2.1-4 s, the other side 0-2 s (10 ms steps).
            steps = calls.rng.getrandbits(16) % (191 if call.direction == OUTGOING else 201)
            offset = 2.1 if call.direction == OUTGOING else 0.0
            call.reinvite_retry_at = now + offset + steps / 100
            return
        if status in (408, 481):
            self._dialog_failed(call, now, status)
            return
        calls.events.append(ModificationFailed(call, status))

    def on_failure(self, call: Call, now: float, status: int = 408) -> None:
        """Our re-INVITE got no answer (timer B, ``status`` 408: the dialog
        ends) or met a transport error (503, RFC 3261 §8.1.3.1: a refusal,
        the session stays)."""
        call.reinvite = call.reinvite_key = None
        if status == 408:
            self._dialog_failed(call, now, 408)
        else:
            self._calls.events.append(ModificationFailed(call, status))

    def on_ack(self, call: Call, ack: Request, now: float) -> None:
        """An ACK for a 2xx we sent: stop resending it; it may carry the
        answer to the offer we made in an offer-less re-INVITE's 2xx."""
        final = call.final
        if final is None or final.cseq.seq != ack.cseq.seq:
            return
        self._calls.ack_received(call)
        if call.answer_in_ack:
            call.answer_in_ack = False
            if ack.body:
                call.remote_sdp = ack.body
                self._calls.events.append(SessionUpdated(call, call.local_sdp, ack.body, True))

    # -- time ----------------------------------------------------------------
    def get_timer(self) -> float | None:
        """When the earliest re-INVITE waiting after a 491 is due; pure."""
        due = [c.reinvite_retry_at for c in self._glare_waits if c.reinvite_retry_at]
        return min(due, default=None)

    def handle_timer(self, now: float) -> None:
        """Send the re-INVITEs whose 491 back-off is over."""
        if not self._glare_waits:
            return
        due = [c for c in self._glare_waits if (c.reinvite_retry_at or 0.0) <= now]
        self._glare_waits.difference_update(due)
        for call in due:
            at = call.reinvite_retry_at
            if at is None or at > now:
                continue
            call.reinvite_retry_at = None
            if call.state is CallState.CONNECTED and call.offer_key is None:
                self._send_reinvite(call, now)
            else:
                self._calls.events.append(ModificationFailed(call, 491))

    # -- internals ---------------------------------------------------------------
    def _offer_pending(self, call: Call) -> bool:
        return (
            call.reinvite is not None
            or call.reinvite_retry_at is not None
            or call.offer_key is not None
            or call.answer_in_ack
        )

    def _send_reinvite(self, call: Call, now: float) -> None:
        assert call.dialog is not None
        calls, config = self._calls, self._calls.config
        request = call.dialog.create_request(
            call.reinvite_method,
            headers=[("Contact", calls.contact), ("Allow", ", ".join(config.allow)),
                     ("User-Agent", config.user_agent), *config.extra_headers,
                     ("Content-Type", "application/sdp")],
            body=call.reinvite_sdp,
        )  # fmt: skip
        self._send(call, request, now)

    def _send(self, call: Call, request: Request, now: float) -> None:
        assert call.dialog is not None
        key = self._calls.endpoint.send_request(request, next_hop(call.dialog), now)
        call.reinvite, call.reinvite_key = request, key
        self._calls.by_key[key] = call

    def _refuse(
        self,
        key: TransactionKey,
        request: Request,
        status: int,
        now: float,
        headers: list[tuple[str, object]] | None = None,
    ) -> None:
        response = make_response(request, status, to_tag=request.to.tag, headers=headers or [])
        self._calls.endpoint.respond(key, response, now)

    def _dialog_failed(self, call: Call, now: float, status: int) -> None:
        """A 408/481 to a request in the dialog: it is gone (§12.2.1.2)."""
        self._calls.events.append(ModificationFailed(call, status))
        if status == 408:
            self._hangup(call, now)  # the peer may still be there: say goodbye
        if call.state is not CallState.DISCONNECTED:
            self._calls.end(call, now, f"{status} to re-INVITE")
