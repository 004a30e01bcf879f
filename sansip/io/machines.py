"""The shapes of the sans-IO machines the drivers run (structural types)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sansip.transport.types import Address, Datagram

__all__ = ["CloseRequest", "DatagramMachine", "StreamMachine", "TransportErrors"]


class DatagramMachine(Protocol):
    """A machine on a datagram socket: a UA core, a registrar.

    It may also have the method of :class:`TransportErrors`
    (``transport_error(addr, now)``): the driver then tells it of the
    destinations found unreachable (an ICMP unreachable, a refused send).
    """

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Take one datagram from ``addr``."""

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the outbox."""

    def get_timer(self) -> float | None:
        """The next absolute deadline, or None."""

    def handle_timer(self, now: float) -> None:
        """Fire what is due."""


class TransportErrors(Protocol):
    """The optional input of a datagram machine: a transport failure."""

    def transport_error(self, addr: Address, now: float) -> None:
        """A datagram sent to ``addr`` could not be delivered (RFC 3261 §18.4)."""


class CloseRequest(Protocol):
    """What a stream machine lists in ``connections_to_close``."""

    @property
    def addr(self) -> Address:
        """The peer whose connection to close."""


class StreamMachine(Protocol):
    """A machine over connections: ``addr`` names a connection by its peer."""

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
