"""Names shared by the RTP modules: addresses, randomness and the packet transform hook."""

from __future__ import annotations

from typing import Protocol, TypeAlias

__all__ = ["Address", "Datagram", "PacketTransform", "RandomSource"]

#: A network address: ``(host, port)``; IPv6 hosts without brackets.
Address: TypeAlias = tuple[str, int]
#: A packet to send or that was received: ``(payload, peer address)``.
Datagram: TypeAlias = tuple[bytes, Address]


class RandomSource(Protocol):
    """Where SSRCs, initial sequence numbers and RTCP intervals get their randomness.

    ``secrets.SystemRandom()`` in production, a seeded ``random.Random`` in tests.
    """

    def getrandbits(self, k: int, /) -> int:
        """A non-negative integer of ``k`` random bits."""
        ...


class PacketTransform(Protocol):
    """A per-packet layer between the session and the wire (SRTP/SRTCP fits here).

    ``protect_*`` turns a plain packet into wire bytes; ``unprotect_*`` turns wire
    bytes back into a plain packet and raises
    :class:`~sansip.errors.RemoteProtocolError` when the packet must be dropped
    (failed authentication, replay).  The session counts such packets as rejected.
    """

    def protect_rtp(self, packet: bytes) -> bytes:
        """Wire bytes for an outgoing RTP packet."""
        ...

    def unprotect_rtp(self, packet: bytes) -> bytes:
        """The plain RTP packet inside incoming wire bytes."""
        ...

    def protect_rtcp(self, packet: bytes) -> bytes:
        """Wire bytes for an outgoing compound RTCP packet."""
        ...

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        """The plain compound RTCP packet inside incoming wire bytes."""
        ...
