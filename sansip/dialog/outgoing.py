"""What the answers to our INVITEs do to outgoing calls (RFC 3261 §13.2.2):
a provisional response rings (and may bring early media), a 2xx is ACKed
and connects, a failure (a timeout counts as a 408, a transport error as
a 503) is retried elsewhere when it can be (see
:mod:`~sansip.dialog.invite_retries`) and ends the call otherwise; a 2xx
retransmitted after its transaction ended is ACKed again (§13.2.2.4).

A forked INVITE (§13.2.2.4, §19.3): the first 2xx wins and is the call;
a 2xx from another fork (another To-tag) is ACKed and at once ended with
a BYE in its own dialog, and its retransmissions are ACKed again."""

from __future__ import annotations

from collections.abc import Callable

from sansip.dialog.call import Call, CallState, EarlyMediaReceived
from sansip.dialog.calls import CallTable, next_hop
from sansip.dialog.dialog import Dialog
from sansip.dialog.invite_retries import InviteRetries
from sansip.dialog.reliable import ReliableResponses
from sansip.dialog.session_refresh import SessionRefreshes
from sansip.dialog.uac import Authenticator, next_attempt
from sansip.message import Response
from sansip.transaction import TransactionKey

__all__ = ["OutgoingInvites"]


class OutgoingInvites:
    """The responses to the INVITEs of outgoing calls; ``hangup`` ends a call
    whose caller hung up while its 2xx was on the way (the UA's command)."""

    def __init__(
        self,
        calls: CallTable,
        auth: Authenticator,
        retries: InviteRetries,
        hangup: Callable[[Call, float], None],
        *,
        refreshes: SessionRefreshes,
        reliable: ReliableResponses,
    ) -> None:
        self._calls = calls
        self._auth = auth
        self._retries = retries
        self._hangup = hangup
        self._refreshes = refreshes
        self._reliable = reliable

    def on_response(self, call: Call, key: TransactionKey, response: Response, now: float) -> None:
        """A response in client transaction ``key`` of ``call`` (its INVITE's or not)."""
        if response.cseq.method != "INVITE" or key != call.invite_key:
            return  # CANCEL and OPTIONS answers need nothing more
        status = response.status
        if status == 503 and self._retries.failover(call, now):
            return
        if status == 422 and self._retry_422(call, response, now):
            return
        if status >= 300 and self._retries.retry(call, response, now):
            return
        if status >= 200:
            self._auth.succeeded(call.invite)
        calls = self._calls
        if status < 200:
            if status > 100 and not self._reliable.on_provisional(call, response, now):
                return  # a reliable 1xx already seen, or out of order (RFC 3262 §4)
            if response.to.tag and call.dialog is None and status > 100:
                call.dialog = Dialog.from_uac(call.invite, response)
            if call.cancel_pending:
                call.cancel_pending = False
                calls.cancel(call, now)
            if status in (180, 183):
                calls.set_state(call, CallState.RINGING, f"{status} {response.reason}")
                if response.body and not call.early_sdp:
                    call.early_sdp = response.body
                    calls.events.append(EarlyMediaReceived(call, response.body))
            return
        call.status = status
        if status < 300:
            self._on_2xx(call, response, now)
            return
        reason = "rejected" if status in (486, 600, 603) else f"{status} {response.reason}"
        if call.dialog is not None:
            call.dialog.update_from_response(response)
        calls.end(call, now, "cancelled" if status == 487 else reason)

    def on_failure(self, call: Call, key: TransactionKey, now: float, status: int = 408) -> None:
        """Client transaction ``key`` of ``call`` timed out (``status`` 408) or
        met a transport error (503, RFC 3261 §8.1.3.1): the INVITE goes to
        the next target, or the call ends with ``status``."""
        live = call.state is not CallState.DISCONNECTED
        if live and key == call.invite_key and call.final is None:
            if self._retries.failover(call, now):
                return
            call.status = status
            self._calls.end(call, now, "transport error" if status == 503 else "no response")

    def on_stray_response(self, call: Call, response: Response, now: float) -> None:
        """A response of ``call`` that matched no transaction: a 2xx
        retransmitted after its transaction ended is ACKed again."""
        dialog = call.dialog
        if not 200 <= response.status < 300 or dialog is None or call.ack is None:
            return
        endpoint = self._calls.endpoint
        tag = response.to.tag or ""
        if tag != dialog.remote_tag and response.cseq.method == "INVITE":
            ended = call.ended_forks.get(tag)
            if ended is None:
                self._end_fork(call, response, now)
            else:  # that fork's 2xx again: our ACK was lost
                endpoint.send_stateless(ended, next_hop(Dialog.from_uac(call.invite, response)),
                                        now)  # fmt: skip
            return
        ack = call.ack
        if ack.cseq.seq != response.cseq.seq:
            if response.cseq.method != "INVITE" or response.cseq.seq > (dialog.local_cseq or 0):
                return
            extra = self._calls.config.extra_headers
            endpoint.send_ack(dialog.create_ack(response.cseq.seq, headers=extra),
                              next_hop(dialog), now)  # fmt: skip
            return
        endpoint.send_stateless(ack, next_hop(dialog), now)

    def _retry_422(self, call: Call, response: Response, now: float) -> bool:
        """422 Session Interval Too Small: the INVITE again, asking for the
        interval the answer wants (RFC 4028 §7.3); True if sent."""
        fields = self._refreshes.retry_after_422(call, response)
        if fields is None or call.cancel_pending or call.state is CallState.DISCONNECTED:
            return False
        retry = next_attempt(call.invite)
        for name, value in fields:
            if name != "Supported":
                retry.headers.set(name, value)
        self._retries.resend(call, retry, now)
        return True

    def _end_fork(self, call: Call, response: Response, now: float) -> None:
        """A 2xx from another fork after the call was answered: ACK it, then BYE."""
        calls = self._calls
        fork = Dialog.from_uac(call.invite, response)
        extra = calls.config.extra_headers
        ack = fork.create_ack(call.invite.cseq.seq, headers=extra)
        calls.endpoint.send_ack(ack, next_hop(fork), now)
        call.ended_forks[response.to.tag or ""] = ack
        bye = fork.create_request("BYE", headers=[("User-Agent", calls.config.user_agent),
                                                  *extra])  # fmt: skip
        calls.endpoint.send_request(bye, next_hop(fork), now)

    def _on_2xx(self, call: Call, response: Response, now: float) -> None:
        calls = self._calls
        if (
            call.final is not None
            and call.dialog is not None
            and ((response.to.tag or "") != call.dialog.remote_tag)
        ):
            ended = call.ended_forks.get(response.to.tag or "")
            if ended is None:
                self._end_fork(call, response, now)
            else:  # that fork's 2xx again: our ACK was lost
                fork = Dialog.from_uac(call.invite, response)
                calls.endpoint.send_stateless(ended, next_hop(fork), now)
            return
        if call.dialog is None or call.dialog.remote_tag != (response.to.tag or ""):
            call.dialog = Dialog.from_uac(call.invite, response)
        else:
            call.dialog.update_from_response(response)
        ack = call.dialog.create_ack(call.invite.cseq.seq, headers=calls.config.extra_headers)
        calls.endpoint.send_ack(ack, next_hop(call.dialog), now)
        call.ack = ack
        call.final = response
        call.alternatives.clear()
        call.remote_sdp = response.body
        if call.state is CallState.DISCONNECTED:
            return
        call.connected_at = now
        self._refreshes.invite_answered(call, response, now)
        calls.set_state(call, CallState.CONNECTED, f"{response.status} {response.reason}")
        if call.cancel_pending:  # hung up while ringing and the 2xx crossed the CANCEL
            call.cancel_pending = False
            self._hangup(call, now)
