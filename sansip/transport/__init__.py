"""SIP transport: packet types, stream framing, Via and response routing (sans-IO)."""

from __future__ import annotations

from sansip.transport.types import DEFAULT_PORTS, Address, Datagram, Transport

__all__ = ["DEFAULT_PORTS", "Address", "Datagram", "Transport"]
