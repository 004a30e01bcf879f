"""The transaction layer: many transactions behind one sans-IO face.

:class:`TransactionLayer` creates client transactions for requests the TU
sends and server transactions for requests that match none, routes
responses and retransmissions by the keys of :mod:`.matching`, and merges
the children's outputs: one outbox, one event queue of
``(key, event)`` pairs and one timer (the earliest child deadline, kept in
a heap with lazy deletion).  Terminated transactions are dropped once their
last events are queued.

Messages that match no transaction go to the TU with key ``None``: an ACK
(for a 2xx, RFC 6026 §6) as :class:`RequestReceived` and a response (a 2xx
retransmitted after its INVITE transaction ended) as
:class:`ResponseReceived`.
"""

from __future__ import annotations

import heapq
from collections import deque
from itertools import count
from typing import TypeAlias

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.message import Request, Response
from sansip.transaction.client import InviteClientTransaction, NonInviteClientTransaction
from sansip.transaction.events import RequestReceived, ResponseReceived, TransactionEvent
from sansip.transaction.matching import (
    ClientKey,
    MergeKey,
    TransactionKey,
    cancel_target_key,
    client_key,
    merge_key,
    server_key,
)
from sansip.transaction.server import InviteServerTransaction, NonInviteServerTransaction
from sansip.transaction.timers import TimerConfig
from sansip.transport import Address, Datagram

__all__ = ["LayerEvent", "Transaction", "TransactionLayer"]

#: Any transaction machine.
Transaction: TypeAlias = (
    InviteClientTransaction
    | NonInviteClientTransaction
    | InviteServerTransaction
    | NonInviteServerTransaction
)
#: What :meth:`TransactionLayer.next_event` returns: the key of the
#: transaction (None for a message that matched none) and its event.
LayerEvent: TypeAlias = tuple[TransactionKey | None, TransactionEvent]

_DEFAULT_TIMERS = TimerConfig()


class TransactionLayer:
    """All client and server transactions of one endpoint (sans-IO)."""

    def __init__(self, *, timers: TimerConfig = _DEFAULT_TIMERS) -> None:
        self._t = timers
        self._transactions: dict[TransactionKey, Transaction] = {}
        self._merged: dict[MergeKey, TransactionKey] = {}
        self._heap: list[tuple[float, int, TransactionKey]] = []
        self._armed: dict[TransactionKey, tuple[float, int]] = {}
        self._seq = count()
        self._outbox: list[Datagram] = []
        self._events: deque[LayerEvent] = deque()

    # -- look-ups -----------------------------------------------------------
    def __len__(self) -> int:
        """How many transactions are alive."""
        return len(self._transactions)

    def __contains__(self, key: object) -> bool:
        return key in self._transactions

    def get(self, key: TransactionKey) -> Transaction | None:
        """The live transaction with ``key``, or None."""
        return self._transactions.get(key)

    def find_cancel_target(self, cancel: Request) -> TransactionKey | None:
        """The key of the live INVITE server transaction ``cancel`` targets
        (§9.2), or None (then the TU answers the CANCEL with 481)."""
        try:
            key = cancel_target_key(cancel)
        except RemoteProtocolError:
            return None
        tx = self._transactions.get(key)
        return key if isinstance(tx, InviteServerTransaction) else None

    def find_merged(self, request: Request) -> TransactionKey | None:
        """The key of another live server transaction this out-of-dialog
        request was merged with (§8.2.2.2: answer 482), or None."""
        try:
            mkey, own = merge_key(request), server_key(request)
        except RemoteProtocolError:
            return None
        other = None if mkey is None else self._merged.get(mkey)
        return other if other is not None and other != own else None

    # -- commands -----------------------------------------------------------
    def send_request(
        self, request: Request, dest: Address, *, reliable: bool, now: float
    ) -> ClientKey:
        """Start a client transaction for ``request`` and return its key.

        Raises :class:`LocalProtocolError` for an ACK (it has no
        transaction), a request lacking transaction headers, or a branch
        and method already in use.
        """
        tx: InviteClientTransaction | NonInviteClientTransaction
        if request.method == "INVITE":
            tx = InviteClientTransaction(request, dest, reliable=reliable, now=now, timers=self._t)
        else:
            tx = NonInviteClientTransaction(
                request, dest, reliable=reliable, now=now, timers=self._t
            )
        key = client_key(request)
        if key in self._transactions:
            raise LocalProtocolError(f"a {key.method} transaction with branch {key.branch} exists")
        self._transactions[key] = tx
        self._pump(key, tx, now)
        return key

    def respond(self, key: TransactionKey, response: Response, now: float) -> None:
        """Send the TU's response in server transaction ``key``.

        Raises :class:`LocalProtocolError` if there is no such live server
        transaction or its state does not allow the response.
        """
        tx = self._transactions.get(key)
        if not isinstance(tx, InviteServerTransaction | NonInviteServerTransaction):
            raise LocalProtocolError(f"no live server transaction {key}")
        tx.respond(response, now)
        self._pump(key, tx, now)

    def transport_error(self, key: TransactionKey, now: float) -> None:
        """Sending a message of transaction ``key`` failed (unknown keys are ignored)."""
        tx = self._transactions.get(key)
        if tx is not None:
            tx.transport_error(now)
            self._pump(key, tx, now)

    def retarget(self, key: TransactionKey, dest: Address) -> bool:
        """Send the next responses of server transaction ``key`` to ``dest``
        (its connection is gone); False if there is no such live transaction."""
        tx = self._transactions.get(key)
        if not isinstance(tx, InviteServerTransaction | NonInviteServerTransaction):
            return False
        tx.retarget(dest)
        return True

    def request_of(self, key: TransactionKey) -> Request | None:
        """The request of live server transaction ``key``, or None."""
        tx = self._transactions.get(key)
        if isinstance(tx, InviteServerTransaction | NonInviteServerTransaction):
            return tx.request
        return None

    # -- network input --------------------------------------------------------
    def receive_request(
        self, request: Request, source: Address, *, reliable: bool, now: float
    ) -> TransactionKey | None:
        """Route a parsed request: to its server transaction, to a new one
        (responses go to ``source``), or, for an unmatched ACK, to the TU
        with key None.  Returns the key used; never raises."""
        try:
            key = server_key(request)
        except RemoteProtocolError:
            return None
        tx = self._transactions.get(key)
        if isinstance(tx, InviteServerTransaction | NonInviteServerTransaction):
            tx.receive_request(request, now)
            self._pump(key, tx, now)
            return key
        if request.method == "ACK":
            self._events.append((None, RequestReceived(request)))
            return None
        new: InviteServerTransaction | NonInviteServerTransaction
        try:
            if request.method == "INVITE":
                new = InviteServerTransaction(
                    request, source, reliable=reliable, now=now, timers=self._t
                )
            else:
                new = NonInviteServerTransaction(
                    request, source, reliable=reliable, now=now, timers=self._t
                )
            mkey = merge_key(request)
        except (LocalProtocolError, RemoteProtocolError):
            return None
        self._transactions[key] = new
        if mkey is not None:
            self._merged.setdefault(mkey, key)
        self._pump(key, new, now)
        return key

    def receive_response(self, response: Response, now: float) -> ClientKey | None:
        """Route a parsed response to its client transaction, or to the TU
        with key None when it matches none.  Never raises."""
        try:
            key = client_key(response)
        except RemoteProtocolError:
            return None
        tx = self._transactions.get(key)
        if isinstance(tx, InviteClientTransaction | NonInviteClientTransaction):
            tx.receive_response(response, now)
            self._pump(key, tx, now)
            return key
        self._events.append((None, ResponseReceived(response)))
        return None

    # -- time and outputs -----------------------------------------------------
    def get_timer(self) -> float | None:
        """The earliest deadline of any transaction, or None; pure."""
        return self._heap[0][0] if self._heap else None

    def handle_timer(self, now: float) -> None:
        """Fire every transaction whose deadline is due; safe early or repeated."""
        due: list[TransactionKey] = []
        heap, armed = self._heap, self._armed
        while heap and heap[0][0] <= now:
            at, seq, key = heapq.heappop(heap)
            if armed.get(key) == (at, seq):
                del armed[key]
                due.append(key)
        for key in due:
            tx = self._transactions.get(key)
            if tx is not None:
                tx.handle_timer(now)
                self._pump(key, tx, now)
        self._prune()

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the messages every transaction wants sent, oldest first."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> LayerEvent | None:
        """Pop the oldest ``(key, event)`` pair, or None."""
        return self._events.popleft() if self._events else None

    # -- internals --------------------------------------------------------------
    def _pump(self, key: TransactionKey, tx: Transaction, now: float) -> None:
        """Collect ``tx``'s outputs, re-arm its timer, drop it if terminated."""
        self._outbox += tx.datagrams_to_send(now)
        events = self._events
        while (event := tx.next_event()) is not None:
            events.append((key, event))
        if tx.terminated:
            del self._transactions[key]
            self._armed.pop(key, None)
            if isinstance(tx, InviteServerTransaction | NonInviteServerTransaction):
                mkey = merge_key(tx.request)
                if mkey is not None and self._merged.get(mkey) == key:
                    del self._merged[mkey]
        else:
            at = tx.get_timer()
            current = self._armed.get(key)
            if at is None:
                self._armed.pop(key, None)
            elif current is None or current[0] != at:
                entry = (at, next(self._seq))
                self._armed[key] = entry
                heapq.heappush(self._heap, (*entry, key))
        self._prune()

    def _prune(self) -> None:
        """Pop stale heap entries so the top is always a live deadline."""
        heap, armed = self._heap, self._armed
        while heap and armed.get(heap[0][2]) != heap[0][:2]:
            heapq.heappop(heap)
