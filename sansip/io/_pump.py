"""The part of every driver that is the same for every event loop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from sansip.transport.types import Address, Datagram

__all__ = ["CloseRequest", "DatagramMachine", "DatagramPump", "StreamMachine", "StreamPump"]

log = logging.getLogger("sansip.io")


class DatagramMachine(Protocol):
    """The sans-IO datagram machine shape (see STYLE.md)."""

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Take one datagram from ``addr``."""

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the outbox."""

    def get_timer(self) -> float | None:
        """The next absolute deadline, or None."""

    def handle_timer(self, now: float) -> None:
        """Fire what is due."""


class TimedMachine(Protocol):
    """What every pumped machine has: an outbox and one timer."""

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the outbox."""

    def get_timer(self) -> float | None:
        """The next absolute deadline, or None."""

    def handle_timer(self, now: float) -> None:
        """Fire what is due."""


M = TypeVar("M", bound=TimedMachine)


class _Pump(Generic[M]):
    """Timer, outbox and fault counting shared by the datagram and stream pumps.

    A machine must never raise on input; if one does anyway, the pump logs
    it, counts it in ``faults`` and carries on, so one bad packet cannot stop
    a driver.
    """

    def __init__(self, machine: M, clock: Callable[[], float]) -> None:
        self.machine = machine
        self._clock = clock
        self.faults = 0
        self.received = 0
        self.sent = 0

    def now(self) -> float:
        """The driver's monotonic clock."""
        return self._clock()

    def _guard(self, action: Callable[[], None], what: str) -> None:
        try:
            action()
        except Exception:
            self.faults += 1
            log.exception("machine raised %s (ignored)", what)

    def fire(self, deadline: float) -> list[Datagram]:
        """The timer went off: never hand the machine a time before its deadline."""
        now = max(self._clock(), deadline)
        self._guard(lambda: self.machine.handle_timer(now), "in handle_timer")
        return self.flush(now)

    def flush(self, now: float | None = None) -> list[Datagram]:
        """Everything the machine wants sent now."""
        out = self.machine.datagrams_to_send(self._clock() if now is None else now)
        self.sent += len(out)
        return out

    def deadline(self) -> float | None:
        """When the machine next needs ``fire``."""
        return self.machine.get_timer()


class DatagramPump(_Pump[DatagramMachine]):
    """Feeds a datagram machine and collects its output; counts what went wrong."""

    def feed(self, data: bytes, addr: Address) -> list[Datagram]:
        """One datagram in; what to send out."""
        now = self._clock()
        self.received += 1
        self._guard(lambda: self.machine.receive_datagram(data, addr, now), f"on data from {addr}")
        return self.flush(now)


class CloseRequest(Protocol):
    """What a stream machine lists in ``connections_to_close``."""

    @property
    def addr(self) -> Address:
        """The peer whose connection to close."""


class StreamMachine(Protocol):
    """The sans-IO shape over connections: ``addr`` names a connection by its peer."""

    def receive_data(self, data: bytes, addr: Address, now: float) -> None:
        """Take octets read from the connection with ``addr``."""

    def connection_lost(self, addr: Address, now: float) -> None:
        """The connection with ``addr`` closed, broke or could not be opened."""

    def connections_to_close(self) -> Sequence[CloseRequest]:
        """Drain the connections the machine wants closed."""

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the outbox: octets to write on the connection to each address."""

    def get_timer(self) -> float | None:
        """The next absolute deadline, or None."""

    def handle_timer(self, now: float) -> None:
        """Fire what is due."""


class StreamPump(_Pump[StreamMachine]):
    """:class:`DatagramPump` for stream machines: feeds octets and connection
    losses, collects output; a machine that raises is logged and counted."""

    def feed(self, data: bytes, addr: Address) -> list[Datagram]:
        """Octets from the connection with ``addr`` in; what to send out."""
        now = self._clock()
        self.received += 1
        self._guard(lambda: self.machine.receive_data(data, addr, now), f"on data from {addr}")
        return self.flush(now)

    def lost(self, addr: Address) -> list[Datagram]:
        """The connection with ``addr`` is gone; what to send out."""
        now = self._clock()
        self._guard(lambda: self.machine.connection_lost(addr, now), f"in connection_lost({addr})")
        return self.flush(now)

    def closing(self) -> list[Address]:
        """The connections the machine wants closed."""
        return [request.addr for request in self.machine.connections_to_close()]
