"""What the four transaction machines share: outbox, event queue, named
timers, checked state moves and transport errors."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from types import MappingProxyType
from typing import Generic, TypeVar, cast

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.message import Request
from sansip.transaction.events import (
    StateChanged,
    Terminated,
    TransactionEvent,
    TransportFailed,
)
from sansip.transaction.states import IctState, IstState, NictState, NistState
from sansip.transaction.timers import TimerConfig
from sansip.transport import Address, Datagram

__all__ = ["TransactionBase", "check_request"]

S = TypeVar("S", IctState, NictState, IstState, NistState)
E = TypeVar("E")


def check_request(request: Request, *, need_branch: bool) -> None:
    """Raise LocalProtocolError unless ``request`` has the headers a
    transaction reads (top Via, CSeq, Call-ID, From, To) and, when
    ``need_branch``, a Via branch."""
    try:
        branch = request.top_via.branch
        request.cseq  # noqa: B018 - reading validates the header
        request.call_id  # noqa: B018
        request.from_  # noqa: B018
        request.to  # noqa: B018
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"cannot start a transaction: {exc.reason}") from None
    if need_branch and not branch:
        raise LocalProtocolError("the top Via of a client request needs a branch")


class TransactionBase(Generic[S, E]):
    """The sans-IO shape every transaction shares.

    Outputs are pulled: :meth:`datagrams_to_send`, :meth:`next_event`,
    :meth:`get_timer`.  Timers are kept by their RFC letter so tests and
    debuggers can see which are armed (:attr:`armed_timers`).
    """

    def __init__(
        self,
        state: S,
        transitions: Mapping[S, frozenset[S]],
        terminated: S,
        dest: Address,
        *,
        reliable: bool,
        timers: TimerConfig,
    ) -> None:
        self._state: S = state
        self._transitions: Mapping[S, frozenset[S]] = transitions
        self._terminated: S = terminated
        self._dest = dest
        self._reliable = reliable
        self._t = timers
        self._outbox: list[Datagram] = []
        self._events: deque[E] = deque()
        self._deadlines: dict[str, float] = {}

    # -- read-only views ----------------------------------------------------
    @property
    def state(self) -> S:
        """The current state."""
        return self._state

    @property
    def dest(self) -> Address:
        """Where this transaction's messages are sent."""
        return self._dest

    @property
    def reliable(self) -> bool:
        """Whether the transport is reliable (no retransmission timers)."""
        return self._reliable

    @property
    def armed_timers(self) -> Mapping[str, float]:
        """The armed timers by RFC letter (``"A"``, ``"B"``, ...): absolute deadlines."""
        return MappingProxyType(dict(self._deadlines))

    @property
    def terminated(self) -> bool:
        """Whether the transaction is in the TERMINATED state."""
        return self._state is self._terminated

    # -- outputs ------------------------------------------------------------
    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the messages to put on the wire, oldest first."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> E | None:
        """Pop the oldest event for the TU, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest armed deadline (absolute), or None; pure."""
        return min(self._deadlines.values(), default=None)

    # -- inputs shared by all machines --------------------------------------
    def transport_error(self, now: float) -> None:
        """The transport failed to send one of our messages: report
        :class:`TransportFailed` and terminate (ignored once terminated)."""
        if self._state is self._terminated:
            return
        self._emit(TransportFailed())
        self._enter(self._terminated)

    def retarget(self, dest: Address) -> None:
        """Send this transaction's next messages to ``dest`` (a server
        transaction whose connection broke answers over a new one to the
        Via sent-by, RFC 3261 §18.2.2)."""
        self._dest = dest

    # -- helpers for the machines -------------------------------------------
    def _send(self, wire: bytes) -> None:
        self._outbox.append((wire, self._dest))

    def _emit(self, event: TransactionEvent) -> None:
        self._events.append(cast(E, event))

    def _enter(self, new: S) -> None:
        old = self._state
        if new not in self._transitions[old]:  # pragma: no cover - a bug, not input
            raise AssertionError(f"illegal transition {old} -> {new}")
        self._state = new
        self._emit(StateChanged(old, new))
        if new is self._terminated:
            self._deadlines.clear()
            self._emit(Terminated())

    def _arm(self, name: str, at: float) -> None:
        self._deadlines[name] = at

    def _disarm(self, *names: str) -> None:
        for name in names:
            self._deadlines.pop(name, None)

    def _due(self, name: str, now: float) -> bool:
        at = self._deadlines.get(name)
        return at is not None and now >= at
