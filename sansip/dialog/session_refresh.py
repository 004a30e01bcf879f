"""Session timers (RFC 4028) in the calls of :class:`~sansip.dialog.ua.UserAgent`.

With ``UAConfig.session_expires`` (seconds; 0: off) every INVITE we send
asks for a session timer (``Supported: timer``, ``Session-Expires``,
``Min-SE``), a 422 is answered once with the interval it asks for, and the
2xx settles who refreshes; every INVITE, re-INVITE and UPDATE we answer
gets the answer :func:`~sansip.dialog.session_timer.answer_session_timer`
decides (422 when it asks for less than ``UAConfig.min_se``).  Requests
that carry a Session-Expires are answered so even with our timer off.

The running timer of a connected call: when we refresh, at half the
interval an UPDATE without a body goes (a re-INVITE offering the current
SDP when the peer does not allow UPDATE); its 2xx restarts the timer, a
408/481 ends the call, a 491 retries.  When the peer refreshes and no
refresh comes in time, the call ends with a BYE, reason ``session
expired``.  A refresh from the peer (any re-INVITE or UPDATE it sends)
restarts the timer once our 2xx goes.
"""

from __future__ import annotations

from collections.abc import Callable

from sansip.dialog.call import Call, CallState
from sansip.dialog.calls import CallTable, next_hop
from sansip.dialog.session_timer import (
    SessionTimerAnswer,
    SessionTimerRequest,
    answer_session_timer,
    refresh_method,
    session_expires_of,
)
from sansip.message import ParseError, Request, Response
from sansip.transaction import TransactionKey

__all__ = ["SessionRefreshes"]


class SessionRefreshes:
    """The session timers of the calls of ``calls``; ``hangup`` ends a call
    whose session expired (the UA's command)."""

    def __init__(self, calls: CallTable, hangup: Callable[..., None]) -> None:
        self._calls = calls
        self._hangup = hangup
        self._pending: dict[TransactionKey, tuple[Call, Request, SessionTimerRequest]] = {}
        self._timed: set[Call] = set()

    @property
    def _interval(self) -> int:
        return self._calls.config.session_expires

    # -- our INVITE ----------------------------------------------------------------
    def invite_offer(self) -> SessionTimerRequest | None:
        """What the first INVITE of an outgoing call asks for (None: no
        timer); its ``headers()`` go in the INVITE, it goes on the call."""
        if self._interval <= 0:
            return None
        return SessionTimerRequest(self._interval, self._calls.config.min_se)

    def retry_after_422(self, call: Call, response: Response) -> list[tuple[str, str]] | None:
        """The fields of the INVITE to send again after a 422 (None: give up)."""
        offer = call.timer_request
        if offer is None or offer.on_422(response) is None:
            return None
        return offer.headers()

    def invite_answered(self, call: Call, response: Response, now: float) -> None:
        """The 2xx to our first INVITE: the timer it settled, if any."""
        offer = call.timer_request
        if offer is None:
            return
        try:
            agreement = offer.on_2xx(response)
        except ParseError:
            agreement = None
        if agreement is not None:
            call.session_timer = agreement.start(now, method=refresh_method(response))
            self._timed.add(call)

    # -- the peer's INVITE, re-INVITE or UPDATE ------------------------------------
    def check(self, call: Call, request: Request) -> SessionTimerAnswer | None:
        """How to answer ``request`` (None: it needs no session timer
        fields); raises :class:`ParseError` (400) for a bad Session-Expires.
        The answer is kept on ``call`` for :meth:`answered`."""
        if self._interval <= 0 and session_expires_of(request) is None:
            call.timer_answer = None
            return None
        answer = answer_session_timer(request, min_se=self._calls.config.min_se,
                                      interval=self._interval or None)  # fmt: skip
        call.timer_answer = answer if answer.status != 422 else None
        return answer

    def answer_headers(self, call: Call) -> list[tuple[str, object]]:
        """The session timer fields of our 2xx to the request :meth:`check` saw."""
        return list(call.timer_answer.headers) if call.timer_answer is not None else []

    def answered(self, call: Call, request: Request, now: float) -> None:
        """Our 2xx to ``request`` went: the timer starts, or restarts."""
        answer, call.timer_answer = call.timer_answer, None
        if answer is None:
            return
        agreement = answer.agreement
        if agreement is None:
            call.session_timer = None  # the peer turned the timer off (§9)
            self._timed.discard(call)
        elif call.session_timer is None:
            call.session_timer = agreement.start(now, method=refresh_method(request))
            self._timed.add(call)
        else:
            call.session_timer.refreshed(now, agreement.interval, agreement.refresher, False,
                                         min_se=agreement.min_se)  # fmt: skip

    # -- time ----------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """The next refresh or expiry of a call's session; pure."""
        due = [c.session_timer.get_timer() for c in self._timed if c.session_timer is not None]
        return min((d for d in due if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Refresh the sessions we refresh; end those that expired."""
        for call in list(self._timed):
            timer = call.session_timer
            if timer is None or call.state is not CallState.CONNECTED:
                self._timed.discard(call)
                continue
            action = timer.handle_timer(now)
            if action == "refresh":
                self._refresh(call, now)
            elif action == "expire":
                self._expire(call, now)

    def _expire(self, call: Call, now: float) -> None:
        self._timed.discard(call)
        call.session_timer = None
        if call.state is CallState.CONNECTED:
            self._hangup(call, now, reason="session expired")

    def _refresh(self, call: Call, now: float) -> None:
        timer, dialog = call.session_timer, call.dialog
        if timer is None or dialog is None:
            return
        calls, config = self._calls, self._calls.config
        offer = timer.request()
        method = timer.method if timer.method == "UPDATE" or call.local_sdp else "UPDATE"
        headers: list[tuple[str, object]] = [("Contact", calls.contact),
                                             ("User-Agent", config.user_agent),
                                             *config.extra_headers, *offer.headers()]  # fmt: skip
        body = b""
        if method == "INVITE":
            headers.append(("Content-Type", "application/sdp"))
            body = call.local_sdp
        request = dialog.create_request(method, headers=headers, body=body)
        key = calls.endpoint.send_request(request, next_hop(dialog), now)
        self._pending[key] = (call, request, offer)

    # -- the answers to our refreshes ----------------------------------------------
    def on_response(self, key: TransactionKey, response: Response, now: float) -> bool:
        """A response to a refresh of ours; False if ``key`` is not one."""
        pending = self._pending.get(key)
        if pending is None:
            return False
        if response.status < 200:
            return True
        del self._pending[key]
        call, request, offer = pending
        timer = call.session_timer
        if request.method == "INVITE" and call.dialog is not None and response.status < 300:
            ack = call.dialog.create_ack(request.cseq.seq, headers=self._calls.config.extra_headers)
            self._calls.endpoint.send_ack(ack, next_hop(call.dialog), now)
        if timer is None:
            return True
        if 200 <= response.status < 300:
            try:
                agreement = offer.on_2xx(response)
            except ParseError:
                agreement = None
            if agreement is None:
                call.session_timer = None
                self._timed.discard(call)
            else:
                timer.refreshed(now, agreement.interval, agreement.refresher, True,
                                min_se=agreement.min_se)  # fmt: skip
            return True
        self._failed(call, now, response.status)
        return True

    def on_failure(self, key: TransactionKey, now: float, status: int) -> bool:
        """A refresh of ours got no answer (408) or met a transport error (503)."""
        pending = self._pending.pop(key, None)
        if pending is None:
            return False
        self._failed(pending[0], now, status)
        return True

    def _failed(self, call: Call, now: float, status: int) -> None:
        timer = call.session_timer
        if timer is not None and timer.refresh_failed(now, status) == "expire":
            self._expire(call, now)
