"""RTCP packets (RFC 3550 §6.4-6.7) and compound packets (§6.1, §A.2).

Parsers raise :class:`~sansip.errors.RemoteProtocolError` for malformed
input; builders raise :class:`~sansip.errors.LocalProtocolError` for values
that do not fit.  Unknown packet types (feedback, XR, ...) are kept as
:class:`UnknownRtcp` so a compound packet carrying them still parses.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, TypeAlias

from sansip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "NTP_EPOCH_OFFSET",
    "App",
    "Bye",
    "ReceiverReport",
    "ReportBlock",
    "RtcpPacket",
    "RtcpType",
    "SdesChunk",
    "SdesItem",
    "SenderReport",
    "SourceDescription",
    "UnknownRtcp",
    "encode_rtcp",
    "is_rtcp",
    "ntp_from_unix",
    "ntp_middle",
    "parse_rtcp",
    "report_compound",
]

#: Seconds from the NTP epoch (1900) to the Unix epoch (1970).
NTP_EPOCH_OFFSET: Final = 2_208_988_800

_HEADER: Final = struct.Struct("!BBH")
_SR_INFO: Final = struct.Struct("!IIIIII")
_BLOCK: Final = struct.Struct("!IIIIII")
_U32: Final = struct.Struct("!I")


class RtcpType(IntEnum):
    """RTCP packet types of RFC 3550."""

    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204


class SdesItem(IntEnum):
    """SDES item types (§6.5)."""

    CNAME = 1
    NAME = 2
    EMAIL = 3
    PHONE = 4
    LOC = 5
    TOOL = 6
    NOTE = 7
    PRIV = 8


def ntp_from_unix(wall_time: float) -> int:
    """The 64-bit NTP timestamp of ``wall_time`` (seconds since 1970)."""
    return int((wall_time + NTP_EPOCH_OFFSET) * 4294967296.0) & 0xFFFFFFFFFFFFFFFF


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp (the LSR/DLSR unit is 1/65536 s)."""
    return (ntp >> 16) & 0xFFFFFFFF


def is_rtcp(data: bytes) -> bool:
    """Whether a datagram on an rtcp-mux port is RTCP (RFC 5761 §4): version 2 and
    a second octet in 192-223."""
    return len(data) >= 2 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report (§6.4.1); ``cumulative_lost`` is signed 24-bit."""

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int
    last_sr: int = 0
    delay_since_last_sr: int = 0

    def encode(self) -> bytes:
        """The 24 bytes of the block."""
        if not 0 <= self.fraction_lost <= 255 or not -0x800000 <= self.cumulative_lost <= 0x7FFFFF:
            raise LocalProtocolError("report block loss fields out of range")
        lost = (self.fraction_lost << 24) | (self.cumulative_lost & 0xFFFFFF)
        try:
            return _BLOCK.pack(
                self.ssrc, lost, self.highest_sequence, self.jitter, self.last_sr,
                self.delay_since_last_sr,
            )  # fmt: skip
        except struct.error as exc:
            raise LocalProtocolError(f"report block field out of range: {exc}") from None


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR (§6.4.1): sender info and reception reports about other sources."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR (§6.4.2): reception reports from a participant that has not sent."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """The SDES items of one source: ``(item type, value)`` pairs."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...]

    def item(self, kind: int) -> bytes | None:
        """The value of the first item of type ``kind``, if any."""
        return next((value for k, value in self.items if k == kind), None)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES (§6.5)."""

    chunks: tuple[SdesChunk, ...]


@dataclass(frozen=True, slots=True)
class Bye:
    """BYE (§6.6): sources leaving, with an optional reason."""

    ssrcs: tuple[int, ...]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class App:
    """APP (§6.7): application-defined data; ``name`` is 4 ASCII bytes."""

    subtype: int
    ssrc: int
    name: bytes
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class UnknownRtcp:
    """A packet of a type this module does not decode, kept verbatim (padding removed)."""

    packet_type: int
    count: int
    body: bytes


RtcpPacket: TypeAlias = SenderReport | ReceiverReport | SourceDescription | Bye | App | UnknownRtcp


# -- parsing --------------------------------------------------------------------------------


def _blocks(body: bytes, offset: int, count: int) -> tuple[tuple[ReportBlock, ...], int]:
    end = offset + 24 * count
    if end > len(body):
        raise RemoteProtocolError("RTCP report blocks run past the packet")
    blocks = []
    for at in range(offset, end, 24):
        ssrc, lost, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(body, at)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 0x1000000
        blocks.append(ReportBlock(ssrc, lost >> 24, cumulative, highest, jitter, lsr, dlsr))
    return tuple(blocks), end


def _parse_sdes(count: int, body: bytes) -> SourceDescription:
    chunks = []
    i, size = 0, len(body)
    for _ in range(count):
        if i + 4 > size:
            raise RemoteProtocolError("SDES chunk is truncated")
        start = i
        (ssrc,) = _U32.unpack_from(body, i)
        i += 4
        items = []
        while True:
            if i >= size:
                raise RemoteProtocolError("SDES chunk has no end marker")
            kind = body[i]
            if kind == 0:
                i += 1
                i += -(i - start) % 4
                break
            if i + 2 > size or i + 2 + body[i + 1] > size:
                raise RemoteProtocolError("SDES item runs past the packet")
            length = body[i + 1]
            items.append((kind, body[i + 2 : i + 2 + length]))
            i += 2 + length
        chunks.append(SdesChunk(ssrc, tuple(items)))
    return SourceDescription(tuple(chunks))


def _parse_bye(count: int, body: bytes) -> Bye:
    end = 4 * count
    if end > len(body):
        raise RemoteProtocolError("BYE source list runs past the packet")
    ssrcs = struct.unpack_from(f"!{count}I", body)
    reason = ""
    if end < len(body):
        length = body[end]
        if end + 1 + length > len(body):
            raise RemoteProtocolError("BYE reason runs past the packet")
        reason = body[end + 1 : end + 1 + length].decode("utf-8", "replace")
    return Bye(tuple(ssrcs), reason)


def _parse_one(packet_type: int, count: int, body: bytes) -> RtcpPacket:
    if packet_type == RtcpType.SR:
        if len(body) < 24:
            raise RemoteProtocolError("SR is shorter than its sender info")
        ssrc, msw, lsw, rtp_ts, packets, octets = _SR_INFO.unpack_from(body)
        blocks, end = _blocks(body, 24, count)
        return SenderReport(ssrc, (msw << 32) | lsw, rtp_ts, packets, octets, blocks, body[end:])
    if packet_type == RtcpType.RR:
        if len(body) < 4:
            raise RemoteProtocolError("RR is shorter than its SSRC")
        blocks, end = _blocks(body, 4, count)
        return ReceiverReport(_U32.unpack_from(body)[0], blocks, body[end:])
    if packet_type == RtcpType.SDES:
        return _parse_sdes(count, body)
    if packet_type == RtcpType.BYE:
        return _parse_bye(count, body)
    if packet_type == RtcpType.APP:
        if len(body) < 8:
            raise RemoteProtocolError("APP is shorter than its SSRC and name")
        return App(count, _U32.unpack_from(body)[0], body[4:8], body[8:])
    return UnknownRtcp(packet_type, count, body)


def parse_rtcp(data: bytes, *, validate: bool = True) -> list[RtcpPacket]:
    """Decode a compound RTCP packet.

    With ``validate`` (the default) the §A.2 checks apply: the first packet is
    an SR or RR without padding, and only the last packet may be padded.
    Always: every packet is version 2 and the lengths add up to the datagram.
    ``validate=False`` also accepts reduced-size RTCP (RFC 5506).
    """
    packets: list[RtcpPacket] = []
    i, size = 0, len(data)
    if size < 4:
        raise RemoteProtocolError("RTCP packet shorter than its header")
    while i < size:
        if i + 4 > size:
            raise RemoteProtocolError("RTCP compound has trailing bytes")
        first, packet_type, words = _HEADER.unpack_from(data, i)
        if first >> 6 != 2:
            raise RemoteProtocolError("RTCP version is not 2")
        end = i + 4 * (words + 1)
        if end > size:
            raise RemoteProtocolError("RTCP length runs past the datagram")
        body = data[i + 4 : end]
        if first & 0x20:
            if validate and end != size:
                raise RemoteProtocolError("RTCP padding before the last packet")
            pad = body[-1] if body else 0
            if pad == 0 or pad > len(body):
                raise RemoteProtocolError("RTCP padding count is invalid")
            body = body[:-pad]
        if validate and i == 0 and (first & 0x20 or packet_type not in (200, 201)):
            raise RemoteProtocolError("RTCP compound does not start with SR or RR")
        packets.append(_parse_one(packet_type, first & 0x1F, body))
        i = end
    return packets


# -- building -------------------------------------------------------------------------------


def _frame(packet_type: int, count: int, body: bytes) -> bytes:
    if not 0 <= count <= 31:
        raise LocalProtocolError("RTCP count field out of range")
    if len(body) % 4:
        raise LocalProtocolError("RTCP packet body is not a multiple of 4 bytes")
    return _HEADER.pack(0x80 | count, packet_type, len(body) // 4) + body


def _encode_one(packet: RtcpPacket) -> bytes:
    try:
        return _encode_unchecked(packet)
    except struct.error as exc:
        raise LocalProtocolError(f"RTCP field out of range: {exc}") from None


def _encode_unchecked(packet: RtcpPacket) -> bytes:
    match packet:
        case SenderReport():
            ntp = packet.ntp_timestamp
            body = _SR_INFO.pack(
                packet.ssrc, ntp >> 32, ntp & 0xFFFFFFFF, packet.rtp_timestamp,
                packet.packet_count, packet.octet_count,
            )  # fmt: skip
            body += b"".join(block.encode() for block in packet.reports) + packet.extension
            return _frame(RtcpType.SR, len(packet.reports), body)
        case ReceiverReport():
            body = _U32.pack(packet.ssrc) + b"".join(b.encode() for b in packet.reports)
            return _frame(RtcpType.RR, len(packet.reports), body + packet.extension)
        case SourceDescription():
            parts = []
            for chunk in packet.chunks:
                items = b"".join(_sdes_item(kind, value) for kind, value in chunk.items)
                raw = _U32.pack(chunk.ssrc) + items + b"\x00"
                parts.append(raw + bytes(-len(raw) % 4))
            return _frame(RtcpType.SDES, len(packet.chunks), b"".join(parts))
        case Bye():
            body = struct.pack(f"!{len(packet.ssrcs)}I", *packet.ssrcs)
            if packet.reason:
                try:
                    reason = packet.reason.encode()
                except UnicodeEncodeError:
                    raise LocalProtocolError("BYE reason is not encodable as UTF-8") from None
                if len(reason) > 255:
                    raise LocalProtocolError("BYE reason longer than 255 bytes")
                tail = bytes((len(reason),)) + reason
                body += tail + bytes(-len(tail) % 4)
            return _frame(RtcpType.BYE, len(packet.ssrcs), body)
        case App():
            if len(packet.name) != 4:
                raise LocalProtocolError("APP name is not 4 bytes")
            body = _U32.pack(packet.ssrc) + packet.name + packet.data
            return _frame(RtcpType.APP, packet.subtype, body)
        case UnknownRtcp():
            if not 0 <= packet.packet_type <= 255:
                raise LocalProtocolError("RTCP packet type out of range")
            return _frame(packet.packet_type, packet.count, packet.body)


def _sdes_item(kind: int, value: bytes) -> bytes:
    if not 1 <= kind <= 255 or len(value) > 255:
        raise LocalProtocolError("SDES item type or length out of range")
    return bytes((kind, len(value))) + value


def encode_rtcp(packets: Iterable[RtcpPacket]) -> bytes:
    """The wire form of a compound packet made of ``packets``, in order."""
    return b"".join(_encode_one(packet) for packet in packets)


def report_compound(
    ssrc: int, blocks: tuple[ReportBlock, ...], cname: str,
    sender: tuple[int, int, int, int] | None = None, bye: str | None = None,
) -> bytes:  # fmt: skip
    """A compound report of ``ssrc`` (RFC 3550 §6.1): a sender report when
    ``sender`` ``(ntp, rtp_timestamp, packets, octets)`` is given, else a
    receiver report, with the report ``blocks``; then the SDES CNAME (at most
    255 octets) and, with ``bye`` (the reason), a BYE."""
    first: RtcpPacket = (
        ReceiverReport(ssrc, blocks) if sender is None else SenderReport(ssrc, *sender, blocks)
    )
    items = ((SdesItem.CNAME, cname.encode()[:255]),)
    packets = [first, SourceDescription((SdesChunk(ssrc, items),))]
    if bye is not None:
        packets.append(Bye((ssrc,), bye))
    return encode_rtcp(packets)
