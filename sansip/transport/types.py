"""Names shared by every layer that sends or receives packets."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, TypeAlias

__all__ = ["DEFAULT_PORTS", "Address", "Datagram", "Transport", "parse_hostport"]

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


def parse_hostport(text: str, default_port: int) -> Address:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6
    address as an address (``default_port`` when none is given); ValueError
    for a port that is not a number."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:  # a name, an IPv4 address, or a bare IPv6 address
        host, port = text, ""
    if port and not port.isdigit():
        raise ValueError(f"bad port in {text!r}")
    return host, int(port) if port else default_port
