"""Events an :class:`~sansip.rtp.session.RtpSession` hands to the layer above.

Frozen, slotted dataclasses with past-tense names, pulled with
``next_event()``; consumers ``match`` on :data:`RtpEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sansip.rtp.packet import RtpPacket
from sansip.rtp.rtcp import RtcpPacket
from sansip.rtp.types import Address

__all__ = [
    "ByeReceived",
    "DtmfReceived",
    "Latched",
    "MediaTimedOut",
    "RemoteSourceChanged",
    "RtcpReceived",
    "RtpEvent",
    "RtpReceived",
    "SsrcCollided",
]


@dataclass(frozen=True, slots=True)
class RtpReceived:
    """A media packet (audio or comfort noise) from the remote source, at ``arrival``."""

    packet: RtpPacket
    addr: Address
    arrival: float


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """One RFC 4733 event, reported once when it ends (E bit, a newer event, or timeout).

    ``digit`` is one of ``0-9 * # A-D`` or ``"!"`` for flash; ``duration``
    in seconds; ``volume`` in -dBm0 (0-63).
    """

    digit: str
    duration: float
    volume: int


@dataclass(frozen=True, slots=True)
class RtcpReceived:
    """A valid compound RTCP packet, after the session accounted for it."""

    packets: tuple[RtcpPacket, ...]
    addr: Address
    arrival: float


@dataclass(frozen=True, slots=True)
class ByeReceived:
    """The remote side sent an RTCP BYE for ``ssrcs``."""

    ssrcs: tuple[int, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Latched:
    """Symmetric RTP (RFC 4961): media now goes to ``address`` (was ``previous``)."""

    address: Address
    previous: Address


@dataclass(frozen=True, slots=True)
class SsrcCollided:
    """A remote packet used our SSRC (RFC 3550 §8.2): we sent a BYE for ``old``
    and continue as ``new``."""

    old: int
    new: int
    addr: Address


@dataclass(frozen=True, slots=True)
class RemoteSourceChanged:
    """Media from the remote side now comes from SSRC ``ssrc`` (``previous`` None
    for the first one); a playout buffer should restart."""

    ssrc: int
    previous: int | None


@dataclass(frozen=True, slots=True)
class MediaTimedOut:
    """No RTP arrived for ``silent_for`` seconds while receiving was on (``mediatimeout``)."""

    silent_for: float


RtpEvent: TypeAlias = (
    RtpReceived
    | DtmfReceived
    | RtcpReceived
    | ByeReceived
    | Latched
    | SsrcCollided
    | RemoteSourceChanged
    | MediaTimedOut
)
