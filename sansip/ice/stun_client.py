"""STUN client transactions (RFC 8489 §6.2) as a sans-IO machine.

:class:`StunClient` sends requests, retransmits them and matches the
responses by transaction id.  It has the shape of every machine here:

- input: :meth:`~StunClient.send_request`, :meth:`~StunClient.receive_datagram`,
  :meth:`~StunClient.handle_timer`;
- output: :meth:`~StunClient.datagrams_to_send` ``[(data, (host, port))]``,
  :meth:`~StunClient.next_event` (:class:`StunResponse`,
  :class:`StunErrorResponse`, :class:`StunTimeout`) and :meth:`~StunClient.get_timer`.

Over UDP a request is sent at 0, RTO, 3 RTO, 7 RTO, ... (the interval
doubling), ``Rc`` = 7 times in all, and the transaction fails ``Rm`` = 16
RTO after the last one: with the default RTO of 500 ms, sends at 0, 0.5,
1.5, 3.5, 7.5, 15.5 and 31.5 s and a timeout at 39.5 s.  Over TCP
(``reliable=True``) it is sent once and fails after 39.5 s (Ti).  The
schedule runs from the planned times, so a late ``handle_timer`` does not
stretch it.

When a request is sent with a ``key``, a success response must carry a
valid MESSAGE-INTEGRITY (or -SHA256) made with it, and an error response
either none or a valid one (a 401 challenge carries none): responses that
fail, that carry a bad FINGERPRINT, or that are malformed are discarded as
if never received (RFC 8489 §9.1.4) and counted.  The client reads no
clock and draws transaction ids from the ``rng`` it is given.

    client = StunClient(rng=random.SystemRandom())
    tid = client.send_request(StunMessage(Method.BINDING, MessageClass.REQUEST),
                              ("198.51.100.1", 3478), now)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Final, Protocol, TypeAlias

from sansip.errors import LocalProtocolError
from sansip.ice.stun import (
    Integrity,
    MessageClass,
    StunMessage,
    check_integrity,
    encode_message,
    is_stun,
    parse_message,
)
from sansip.ice.stun_attributes import StunError

__all__ = [
    "MAX_EVENTS",
    "RC",
    "RM",
    "RTO",
    "TI",
    "Address",
    "Datagram",
    "RandomSource",
    "StunClient",
    "StunClientEvent",
    "StunErrorResponse",
    "StunResponse",
    "StunTimeout",
]

#: A network address: ``(host, port)``; IPv6 hosts without brackets.
Address: TypeAlias = tuple[str, int]
#: A packet to send or that was received: ``(payload, peer address)``.
Datagram: TypeAlias = tuple[bytes, Address]

#: The initial retransmission timeout (RFC 8489 §6.2.1), seconds.
RTO: Final = 0.5
#: Requests sent over UDP before giving up.
RC: Final = 7
#: The wait after the last request, in RTOs.
RM: Final = 16
#: The transaction timeout over TCP (RFC 8489 §6.2.2), seconds.
TI: Final = 39.5
#: Events kept for the layer above before the oldest are dropped.
MAX_EVENTS: Final = 1024
#: Transactions in progress at once, at most.
MAX_PENDING: Final = 1024


class RandomSource(Protocol):
    """Where transaction ids come from: ``secrets.SystemRandom()`` in production,
    a seeded ``random.Random`` in tests."""

    def getrandbits(self, k: int, /) -> int:
        """A non-negative integer of ``k`` random bits."""
        ...


@dataclass(frozen=True, slots=True)
class StunResponse:
    """A success response to ``request`` came from ``addr``.  ``rtt`` is the round
    trip time, or None when the request was retransmitted (Karn's rule)."""

    transaction_id: bytes
    request: StunMessage
    response: StunMessage
    addr: Address
    rtt: float | None


@dataclass(frozen=True, slots=True)
class StunErrorResponse:
    """An error response to ``request`` came from ``addr``: ``code`` and ``reason``
    from its ERROR-CODE (401 and 438 carry what a retry needs: REALM, NONCE)."""

    transaction_id: bytes
    request: StunMessage
    response: StunMessage
    addr: Address
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class StunTimeout:
    """No acceptable response to ``request`` sent to ``addr`` came in time."""

    transaction_id: bytes
    request: StunMessage
    addr: Address


StunClientEvent: TypeAlias = StunResponse | StunErrorResponse | StunTimeout


@dataclass(slots=True)
class _Transaction:
    request: StunMessage
    data: bytes
    addr: Address
    key: bytes | None
    reliable: bool
    started: float
    deadline: float
    sends: int = 1


class StunClient:
    """STUN client transactions (see the module docstring).

    ``rto`` is the initial retransmission timeout, ``max_requests`` (Rc) the
    number of UDP sends, ``last_wait`` (Rm) the wait after the last one in
    RTOs, ``tcp_timeout`` (Ti) the timeout of a reliable transaction.
    """

    def __init__(
        self,
        *,
        rng: RandomSource,
        rto: float = RTO,
        max_requests: int = RC,
        last_wait: int = RM,
        tcp_timeout: float = TI,
        max_pending: int = MAX_PENDING,
    ) -> None:
        if not (rto > 0 and max_requests >= 1 and last_wait >= 1 and tcp_timeout > 0):
            raise LocalProtocolError("STUN timers must be positive and Rc, Rm at least 1")
        self._rng = rng
        self.rto = rto
        self.max_requests = max_requests
        self.last_wait = last_wait
        self.tcp_timeout = tcp_timeout
        self.max_pending = max_pending
        #: Datagrams that were not STUN, or not a well-formed STUN message.
        self.malformed = 0
        #: Responses to no transaction in progress, and requests or indications.
        self.stray = 0
        #: Responses discarded: bad integrity or fingerprint, wrong method, no ERROR-CODE.
        self.discarded = 0
        #: Events dropped because nobody read :meth:`next_event`.
        self.events_dropped = 0
        self._pending: dict[bytes, _Transaction] = {}
        self._outbox: list[Datagram] = []
        self._events: deque[StunClientEvent] = deque()

    # -- commands ---------------------------------------------------------------------
    def new_transaction_id(self) -> bytes:
        """A fresh 96-bit transaction id from the rng, unlike any in progress."""
        while True:
            tid = self._rng.getrandbits(96).to_bytes(12, "big")
            if tid not in self._pending:
                return tid

    def send_request(
        self,
        message: StunMessage,
        addr: Address,
        now: float,
        *,
        key: bytes | None = None,
        integrity: Integrity = Integrity.SHA1,
        fingerprint: bool = False,
        reliable: bool = False,
    ) -> bytes:
        """Start a transaction: send ``message`` (a request) to ``addr`` and return
        its transaction id (drawn here when the message has none).

        ``key`` adds MESSAGE-INTEGRITY (``integrity`` says which) and is the
        key responses are checked with; ``fingerprint`` adds FINGERPRINT;
        ``reliable`` means the bytes go over TCP or TLS (one send, Ti timeout).
        """
        if message.message_class is not MessageClass.REQUEST:
            raise LocalProtocolError("a STUN client transaction sends a request")
        if len(self._pending) >= self.max_pending:
            raise LocalProtocolError(f"{self.max_pending} STUN transactions already in progress")
        if not message.transaction_id:
            message = replace(message, transaction_id=self.new_transaction_id(), _received=None)
        tid = message.transaction_id
        if tid in self._pending:
            raise LocalProtocolError("a STUN transaction with this id is in progress")
        data = encode_message(message, key=key, integrity=integrity, fingerprint=fingerprint)
        wait = self.tcp_timeout if reliable else self._wait_after(1)
        self._pending[tid] = _Transaction(message, data, addr, key, reliable, now, now + wait)
        self._outbox.append((data, addr))
        return tid

    def cancel(self, transaction_id: bytes) -> bool:
        """Forget a transaction (no event); whether it was in progress."""
        return self._pending.pop(transaction_id, None) is not None

    @property
    def pending(self) -> int:
        """Transactions in progress."""
        return len(self._pending)

    # -- the machine shape --------------------------------------------------------------
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """One datagram (or one framed message from a stream) arrived from ``addr``;
        never raises."""
        if not is_stun(data):
            self.malformed += 1
            return
        try:
            message = parse_message(data)
        except StunError:
            self.malformed += 1
            return
        cls = message.message_class
        transaction = self._pending.get(message.transaction_id)
        if cls in (MessageClass.REQUEST, MessageClass.INDICATION) or transaction is None:
            self.stray += 1
            return
        if not self._acceptable(message, transaction):
            self.discarded += 1
            return
        del self._pending[message.transaction_id]
        tid, request = message.transaction_id, transaction.request
        if cls is MessageClass.SUCCESS:
            rtt = now - transaction.started if transaction.sends == 1 else None
            self._report(StunResponse(tid, request, message, addr, rtt))
        else:
            error = message.error_code
            assert error is not None  # checked by _acceptable
            self._report(StunErrorResponse(tid, request, message, addr, error.code, error.reason))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the outbox: ``(data, destination)`` pairs."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> StunClientEvent | None:
        """The next event, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When the next retransmission or timeout is due, or None (pure)."""
        return min((t.deadline for t in self._pending.values()), default=None)

    def handle_timer(self, now: float) -> None:
        """Retransmit what is due and time out what has waited long enough.
        Safe to call early or twice; one send per transaction per call."""
        for tid, transaction in list(self._pending.items()):
            if now < transaction.deadline:
                continue
            if transaction.reliable or transaction.sends >= self.max_requests:
                del self._pending[tid]
                self._report(StunTimeout(tid, transaction.request, transaction.addr))
                continue
            transaction.sends += 1
            transaction.deadline += self._wait_after(transaction.sends)
            self._outbox.append((transaction.data, transaction.addr))

    # -- internals ------------------------------------------------------------------------
    def _wait_after(self, sends: int) -> float:
        """How long to wait after the ``sends``-th request: RTO doubling, then Rm RTO."""
        if sends >= self.max_requests:
            return self.last_wait * self.rto
        return self.rto * (1 << (sends - 1))

    def _acceptable(self, message: StunMessage, transaction: _Transaction) -> bool:
        if message.method != transaction.request.method or message.fingerprint_ok is False:
            return False
        if message.message_class is MessageClass.ERROR and message.error_code is None:
            return False
        key = transaction.key
        if key is None:
            return True
        if message.message_class is MessageClass.ERROR and not message.has_integrity:
            return True  # a 400 or 401 carries none (RFC 8489 §9.1.3, §9.2.4)
        return check_integrity(message, key)

    def _report(self, event: StunClientEvent) -> None:
        if len(self._events) >= MAX_EVENTS:
            self._events.popleft()
            self.events_dropped += 1
        self._events.append(event)
