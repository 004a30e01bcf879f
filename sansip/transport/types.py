"""Names shared by every layer that sends or receives packets."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, TypeAlias

__all__ = ["DEFAULT_PORTS", "Address", "Datagram", "Transport"]

#: A network address: ``(host, port)``; IPv6 hosts without brackets.
Address: TypeAlias = tuple[str, int]
#: A packet to send or that was received: ``(payload, peer address)``.
Datagram: TypeAlias = tuple[bytes, Address]


class Transport(StrEnum):
    """The SIP transports, named as in the Via header."""

    UDP = "UDP"
    TCP = "TCP"
    TLS = "TLS"
    WS = "WS"
    WSS = "WSS"

    @property
    def reliable(self) -> bool:
        """Whether the transport delivers in order without loss (no retransmission timers)."""
        return self is not Transport.UDP

    @property
    def secure(self) -> bool:
        """Whether the transport is encrypted (``sips:`` may use it)."""
        return self in (Transport.TLS, Transport.WSS)


DEFAULT_PORTS: Final[dict[Transport, int]] = {
    Transport.UDP: 5060,
    Transport.TCP: 5060,
    Transport.TLS: 5061,
    Transport.WS: 80,
    Transport.WSS: 443,
}
