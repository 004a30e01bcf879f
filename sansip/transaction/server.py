"""Server transactions: INVITE (RFC 3261 §17.2.1 with the RFC 6026
ACCEPTED state) and non-INVITE (§17.2.2).

A server transaction is created for a request that matched no transaction
(see :mod:`sansip.transaction.matching`); its first event is
:class:`RequestReceived` carrying that request.  The TU answers with
:meth:`respond`; retransmissions of the request (and the ACK) go in through
:meth:`receive_request` and are absorbed: the machine answers them itself.
``dest`` is where responses go (§18.2.2 / RFC 3581, chosen by the
transport layer).
"""

from __future__ import annotations

from sansip.errors import LocalProtocolError
from sansip.message import Request, Response, make_response
from sansip.transaction._base import TransactionBase, check_request
from sansip.transaction.events import (
    AckReceived,
    IstEvent,
    NistEvent,
    RequestReceived,
    TimedOut,
)
from sansip.transaction.states import IST_TRANSITIONS, NIST_TRANSITIONS, IstState, NistState
from sansip.transaction.timers import TimerConfig
from sansip.transport import Address

__all__ = ["InviteServerTransaction", "NonInviteServerTransaction"]

_DEFAULT_TIMERS = TimerConfig()
#: Name of the timer that sends 100 (Trying) when the TU is slow (not an RFC letter).
TRYING_TIMER = "Trying"


class InviteServerTransaction(TransactionBase[IstState, IstEvent]):
    """The INVITE server transaction (§17.2.1, RFC 6026).

    PROCEEDING sends a 100 (Trying) if the TU has not answered within
    ``timers.trying_after`` and answers INVITE retransmissions with the last
    provisional response.  A 2xx from the TU moves to ACCEPTED (RFC 6026):
    INVITE retransmissions are absorbed, further 2xx from the TU (its
    retransmissions) are sent, ACKs go to the TU as :class:`AckReceived`,
    until Timer L (64*T1).  A 300-699 moves to COMPLETED: Timer G
    retransmits it (unreliable transports; T1 doubling up to T2), INVITE
    retransmissions are answered with it, and Timer H (64*T1) gives up with
    :class:`TimedOut`.  The ACK moves to CONFIRMED, which absorbs ACK
    retransmissions until Timer I (T4, 0 on reliable transports).
    """

    def __init__(
        self,
        request: Request,
        dest: Address,
        *,
        reliable: bool,
        now: float,
        timers: TimerConfig = _DEFAULT_TIMERS,
    ) -> None:
        if request.method != "INVITE":
            raise LocalProtocolError(f"an INVITE server transaction cannot take {request.method}")
        check_request(request, need_branch=False)
        super().__init__(
            IstState.PROCEEDING,
            IST_TRANSITIONS,
            IstState.TERMINATED,
            dest,
            reliable=reliable,
            timers=timers,
        )
        self._request = request
        self._provisional: bytes | None = None
        self._final = b""
        self._interval = timers.g
        self._emit(RequestReceived(request))
        self._arm(TRYING_TIMER, now + timers.trying_after)

    @property
    def request(self) -> Request:
        """The INVITE that created this transaction."""
        return self._request

    def respond(self, response: Response, now: float) -> None:
        """Send the TU's response.

        Raises :class:`LocalProtocolError` for a response the state does not
        allow: anything after a 300-699, anything but a 2xx after a 2xx, and
        anything once terminated.
        """
        state, status = self._state, response.status
        if state is IstState.ACCEPTED and 200 <= status < 300:
            self._send(response.encode())  # the TU retransmits its 2xx
            return
        if state is not IstState.PROCEEDING:
            raise LocalProtocolError(f"cannot send {status} in state {state.name}")
        wire = response.encode()
        self._send(wire)
        self._disarm(TRYING_TIMER)
        if status < 200:
            self._provisional = wire
        elif status < 300:
            self._enter(IstState.ACCEPTED)
            self._arm("L", now + self._t.l)
        else:
            self._final = wire
            self._enter(IstState.COMPLETED)
            if not self._reliable:
                self._arm("G", now + self._interval)
            self._arm("H", now + self._t.h)

    def receive_request(self, request: Request, now: float) -> None:
        """Feed a retransmitted INVITE or an ACK matched to this
        transaction; never raises."""
        state, method = self._state, request.method
        if method == "ACK":
            if state is IstState.COMPLETED:
                self._disarm("G", "H")
                self._enter(IstState.CONFIRMED)
                self._arm("I", now + self._t.i(self._reliable))
            elif state is IstState.ACCEPTED:
                self._emit(AckReceived(request))
        elif method == "INVITE":
            if state is IstState.PROCEEDING and self._provisional is not None:
                self._send(self._provisional)
            elif state is IstState.COMPLETED:
                self._send(self._final)

    def handle_timer(self, now: float) -> None:
        """Fire whatever is due at ``now``; safe to call early or repeatedly."""
        if self._due("H", now):
            self._emit(TimedOut())
            self._enter(IstState.TERMINATED)
        elif self._due("I", now) or self._due("L", now):
            self._enter(IstState.TERMINATED)
        elif self._due("G", now):
            self._send(self._final)
            self._interval = min(2 * self._interval, self._t.t2)
            self._arm("G", now + self._interval)
        elif self._due(TRYING_TIMER, now):
            self._disarm(TRYING_TIMER)
            self._provisional = make_response(self._request, 100).encode()
            self._send(self._provisional)


class NonInviteServerTransaction(TransactionBase[NistState, NistEvent]):
    """The non-INVITE server transaction (§17.2.2).

    TRYING absorbs retransmissions; a provisional from the TU moves to
    PROCEEDING, where retransmissions are answered with the last
    provisional; a final response moves to COMPLETED, where they are
    answered with it until Timer J (64*T1, 0 on reliable transports).
    """

    def __init__(
        self,
        request: Request,
        dest: Address,
        *,
        reliable: bool,
        now: float,
        timers: TimerConfig = _DEFAULT_TIMERS,
    ) -> None:
        if request.method in ("INVITE", "ACK"):
            raise LocalProtocolError(
                f"{request.method} does not use a non-INVITE server transaction"
            )
        check_request(request, need_branch=False)
        super().__init__(
            NistState.TRYING,
            NIST_TRANSITIONS,
            NistState.TERMINATED,
            dest,
            reliable=reliable,
            timers=timers,
        )
        self._request = request
        self._last = b""
        self._emit(RequestReceived(request))

    @property
    def request(self) -> Request:
        """The request that created this transaction."""
        return self._request

    def respond(self, response: Response, now: float) -> None:
        """Send the TU's response.

        Raises :class:`LocalProtocolError` once a final response was sent.
        """
        state, status = self._state, response.status
        if state is not NistState.TRYING and state is not NistState.PROCEEDING:
            raise LocalProtocolError(f"cannot send {status} in state {state.name}")
        self._last = response.encode()
        self._send(self._last)
        if status < 200:
            if state is NistState.TRYING:
                self._enter(NistState.PROCEEDING)
        else:
            self._enter(NistState.COMPLETED)
            self._arm("J", now + self._t.j(self._reliable))

    def receive_request(self, request: Request, now: float) -> None:
        """Feed a retransmission of the request; never raises."""
        if request.method != self._request.method:
            return
        if self._state is NistState.PROCEEDING or self._state is NistState.COMPLETED:
            self._send(self._last)

    def handle_timer(self, now: float) -> None:
        """Fire whatever is due at ``now``; safe to call early or repeatedly."""
        if self._due("J", now):
            self._enter(NistState.TERMINATED)
