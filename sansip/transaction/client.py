"""Client transactions: INVITE (RFC 3261 §17.1.1 with the RFC 6026
ACCEPTED state) and non-INVITE (§17.1.2).

A client transaction is created with the request it sends; the request is
in the outbox at once.  Responses matched to it (see
:mod:`sansip.transaction.matching`) go in through :meth:`receive_response`.

>>> from sansip.message import parse
>>> req = parse(b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\\r\\n"
...             b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\\r\\n"
...             b"From: <sip:alice@127.0.0.1>;tag=1\\r\\nTo: <sip:bob@127.0.0.1>\\r\\n"
...             b"Call-ID: c1\\r\\nCSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n")
>>> tx = NonInviteClientTransaction(req, ("127.0.0.1", 5070), reliable=False, now=0.0)
>>> len(tx.datagrams_to_send(0.0)), tx.get_timer()
(1, 0.5)
"""

from __future__ import annotations

from sansip.errors import LocalProtocolError
from sansip.message import Request, Response
from sansip.transaction._base import TransactionBase, check_request
from sansip.transaction.events import IctEvent, NictEvent, ResponseReceived, TimedOut
from sansip.transaction.states import ICT_TRANSITIONS, NICT_TRANSITIONS, IctState, NictState
from sansip.transaction.timers import TimerConfig
from sansip.transport import Address

__all__ = ["InviteClientTransaction", "NonInviteClientTransaction"]

_DEFAULT_TIMERS = TimerConfig()


def _derived_request(invite: Request, method: str, to_value: str | None) -> Request:
    """An ACK (§17.1.1.3) or CANCEL (§9.1) for ``invite``: same Request-URI,
    a single Via equal to the INVITE's top Via (same branch), the Route set
    copied, From and Call-ID unchanged, To as given (or the INVITE's), and
    the INVITE's CSeq number with ``method``."""
    headers: list[tuple[str, object]] = [("Via", str(invite.top_via))]
    headers += [("Route", route) for route in invite.headers.get_all("Route")]
    headers += [
        ("Max-Forwards", "70"),
        ("From", invite.headers.get("From") or str(invite.from_)),
        ("To", to_value or invite.headers.get("To") or str(invite.to)),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{invite.cseq.seq} {method}"),
    ]
    return Request(method, invite.uri, headers)


class InviteClientTransaction(TransactionBase[IctState, IctEvent]):
    """The INVITE client transaction (§17.1.1, RFC 6026).

    CALLING retransmits the INVITE on Timer A (T1, doubling; unreliable
    transports only) and gives up on Timer B (64*T1) with :class:`TimedOut`.
    A provisional response moves to PROCEEDING (no more retransmissions or
    timeout: ending a ringing INVITE is the TU's job, by CANCEL).
    A 300-699 response is acknowledged here (same branch) and moves to
    COMPLETED, where Timer D absorbs and re-acknowledges retransmissions.
    A 2xx moves to ACCEPTED (RFC 6026): every further 2xx is passed to the
    TU, which sends the ACK itself, until Timer M (64*T1).
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
            raise LocalProtocolError(f"an INVITE client transaction cannot send {request.method}")
        check_request(request, need_branch=True)
        super().__init__(
            IctState.CALLING,
            ICT_TRANSITIONS,
            IctState.TERMINATED,
            dest,
            reliable=reliable,
            timers=timers,
        )
        self._request = request
        self._wire = request.encode()
        self._ack: Request | None = None
        self._ack_wire = b""
        self._interval = timers.a
        self._send(self._wire)
        if not reliable:
            self._arm("A", now + timers.a)
        self._arm("B", now + timers.b)

    @property
    def request(self) -> Request:
        """The INVITE this transaction sends."""
        return self._request

    @property
    def ack(self) -> Request | None:
        """The ACK this transaction sent for a 300-699 response, if any."""
        return self._ack

    def receive_response(self, response: Response, now: float) -> None:
        """Feed a response matched to this transaction; never raises."""
        state, status = self._state, response.status
        if state is IctState.CALLING or state is IctState.PROCEEDING:
            if status < 200:
                self._disarm("A", "B")
                self._emit(ResponseReceived(response))
                if state is IctState.CALLING:
                    self._enter(IctState.PROCEEDING)
            elif status < 300:
                self._disarm("A", "B")
                self._emit(ResponseReceived(response))
                self._enter(IctState.ACCEPTED)
                self._arm("M", now + self._t.m)
            else:
                self._disarm("A", "B")
                self._ack = _derived_request(self._request, "ACK", response.headers.get("To"))
                self._ack_wire = self._ack.encode()
                self._send(self._ack_wire)
                self._emit(ResponseReceived(response))
                self._enter(IctState.COMPLETED)
                self._arm("D", now + self._t.d(self._reliable))
        elif state is IctState.COMPLETED:
            if status >= 300:  # a retransmitted final: acknowledge it again
                self._send(self._ack_wire)
        elif state is IctState.ACCEPTED and 200 <= status < 300:
            self._emit(ResponseReceived(response))
        # Anything else (late provisionals, a non-2xx after a 2xx) is absorbed.

    def handle_timer(self, now: float) -> None:
        """Fire whatever is due at ``now``; safe to call early or repeatedly."""
        if self._due("B", now):
            self._emit(TimedOut())
            self._enter(IctState.TERMINATED)
        elif self._due("D", now) or self._due("M", now):
            self._enter(IctState.TERMINATED)
        elif self._due("A", now):
            self._send(self._wire)
            self._interval *= 2
            self._arm("A", now + self._interval)

    def cancel_request(self) -> Request:
        """Build the CANCEL for this INVITE (§9.1): same branch, Request-URI,
        Call-ID, From, To and CSeq number, method CANCEL, Route copied.

        The caller sends it in its own non-INVITE client transaction, and
        should wait for a provisional response before doing so.  Raises
        :class:`LocalProtocolError` once a final response has arrived.
        """
        if self._state not in (IctState.CALLING, IctState.PROCEEDING):
            raise LocalProtocolError(f"nothing to cancel in state {self._state.name}")
        return _derived_request(self._request, "CANCEL", None)

    def abandon(self, now: float) -> None:
        """Terminate without waiting any longer, for the TU that gave up on
        the INVITE (§9.1: no final response 64*T1 after its CANCEL)."""
        if self._state is not IctState.TERMINATED:
            self._enter(IctState.TERMINATED)


class NonInviteClientTransaction(TransactionBase[NictState, NictEvent]):
    """The non-INVITE client transaction (§17.1.2).

    Timer E retransmits the request on unreliable transports (T1 doubling up
    to T2 in TRYING, every T2 in PROCEEDING); Timer F (64*T1) gives up with
    :class:`TimedOut`.  The first final response moves to COMPLETED, where
    Timer K (T4, 0 on reliable transports) absorbs retransmissions.
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
                f"{request.method} does not use a non-INVITE client transaction"
            )
        check_request(request, need_branch=True)
        super().__init__(
            NictState.TRYING,
            NICT_TRANSITIONS,
            NictState.TERMINATED,
            dest,
            reliable=reliable,
            timers=timers,
        )
        self._request = request
        self._wire = request.encode()
        self._interval = timers.e
        self._send(self._wire)
        if not reliable:
            self._arm("E", now + timers.e)
        self._arm("F", now + timers.f)

    @property
    def request(self) -> Request:
        """The request this transaction sends."""
        return self._request

    def receive_response(self, response: Response, now: float) -> None:
        """Feed a response matched to this transaction; never raises."""
        state = self._state
        if state is not NictState.TRYING and state is not NictState.PROCEEDING:
            return  # retransmitted finals are absorbed
        self._emit(ResponseReceived(response))
        if response.status < 200:
            if state is NictState.TRYING:
                self._enter(NictState.PROCEEDING)
            return
        self._disarm("E", "F")
        self._enter(NictState.COMPLETED)
        self._arm("K", now + self._t.k(self._reliable))

    def handle_timer(self, now: float) -> None:
        """Fire whatever is due at ``now``; safe to call early or repeatedly."""
        if self._due("F", now):
            self._emit(TimedOut())
            self._enter(NictState.TERMINATED)
        elif self._due("K", now):
            self._enter(NictState.TERMINATED)
        elif self._due("E", now):
            self._send(self._wire)
            if self._state is NictState.PROCEEDING:
                self._interval = self._t.t2
            else:
                self._interval = min(2 * self._interval, self._t.t2)
            self._arm("E", now + self._interval)
