"""RTP data packets (RFC 3550 §5.1) and header extensions (§5.3.1, RFC 8285).

:func:`parse_rtp` is the per-packet hot path: one precompiled ``struct``
unpack for the fixed header, slicing for the rest, one tuple for the result.
Malformed packets raise :class:`~sansip.errors.RemoteProtocolError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final, NamedTuple

from sansip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "ONE_BYTE_PROFILE",
    "RTP_HEADER_SIZE",
    "RTP_VERSION",
    "TWO_BYTE_PROFILE",
    "RtpHeaderExtension",
    "RtpPacket",
    "build_extension_elements",
    "encode_rtp",
    "parse_extension_elements",
    "parse_rtp",
    "plain_rtp_header",
]

RTP_VERSION: Final = 2
#: Size of the fixed RTP header (no CSRCs, no extension).
RTP_HEADER_SIZE: Final = 12
#: "defined by profile" value of an RFC 8285 one-byte header extension.
ONE_BYTE_PROFILE: Final = 0xBEDE
#: Top 12 bits of the profile value of an RFC 8285 two-byte header extension.
TWO_BYTE_PROFILE: Final = 0x1000

_FIXED: Final = struct.Struct("!BBHII")
_pack_fixed = _FIXED.pack
_unpack_fixed = _FIXED.unpack_from
_new_packet = tuple.__new__
_EXT_HEADER: Final = struct.Struct("!HH")


class RtpHeaderExtension(NamedTuple):
    """A header extension (§5.3.1): 16 profile-defined bits and the data words."""

    profile: int
    #: The extension data, a multiple of 4 bytes long.
    data: bytes


class RtpPacket(NamedTuple):
    """One RTP data packet.

    ``padding`` is the number of padding bytes at the end (0: the P bit is
    clear), the count octet included.
    """

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: RtpHeaderExtension | None = None
    padding: int = 0

    def encode(self) -> bytes:
        """The packet on the wire (see :func:`encode_rtp`)."""
        return encode_rtp(self)


def parse_rtp(data: bytes) -> RtpPacket:
    """Decode one RTP packet; raises :class:`RemoteProtocolError` if malformed."""
    size = len(data)
    if size < 12:
        raise RemoteProtocolError("RTP packet shorter than its fixed header")
    first, second, seq, ts, ssrc = _unpack_fixed(data)
    if first == 0x80:  # the usual packet: no padding, extension or CSRCs
        return _new_packet(RtpPacket, (second & 0x7F, seq, ts, ssrc, data[12:],
                                       second > 0x7F, (), None, 0))  # fmt: skip
    if first >> 6 != RTP_VERSION:
        raise RemoteProtocolError("RTP version is not 2")
    offset = 12
    end = size
    csrcs: tuple[int, ...] = ()
    cc = first & 0x0F
    if cc:
        offset += 4 * cc
        if offset > size:
            raise RemoteProtocolError("RTP CSRC list runs past the packet")
        csrcs = struct.unpack_from(f"!{cc}I", data, 12)
    extension = None
    if first & 0x10:
        if offset + 4 > size:
            raise RemoteProtocolError("RTP header extension runs past the packet")
        profile, words = _EXT_HEADER.unpack_from(data, offset)
        start = offset + 4
        offset = start + 4 * words
        if offset > size:
            raise RemoteProtocolError("RTP header extension runs past the packet")
        extension = RtpHeaderExtension(profile, data[start:offset])
    padding = 0
    if first & 0x20:
        padding = data[-1]
        if padding == 0 or offset + padding > size:
            raise RemoteProtocolError("RTP padding count is invalid")
        end = size - padding
    return RtpPacket(
        second & 0x7F,
        seq,
        ts,
        ssrc,
        data[offset:end],
        bool(second & 0x80),
        csrcs,
        extension,
        padding,
    )


def plain_rtp_header(
    payload_type: int, seq: int, timestamp: int, ssrc: int, marker: bool = False
) -> bytes:
    """The 12-byte fixed header of a packet without CSRCs, extension or padding
    (the send hot path; the fields must be in range: ``payload_type`` 0-127,
    ``seq`` 16 bits, ``timestamp`` and ``ssrc`` 32 bits)."""
    return _pack_fixed(0x80, payload_type | 0x80 if marker else payload_type, seq, timestamp, ssrc)


def encode_rtp(packet: RtpPacket) -> bytes:
    """The wire form of ``packet``; raises :class:`LocalProtocolError` for values
    that do not fit their fields."""
    payload_type, seq, ts, ssrc, payload, marker, csrcs, extension, padding = packet
    if not 0 <= payload_type <= 127 or len(csrcs) > 15 or not 0 <= padding <= 255:
        raise LocalProtocolError("RTP payload type, CSRC count or padding out of range")
    first = 0x80 | len(csrcs)
    if padding:
        first |= 0x20
    if extension is not None:
        first |= 0x10
    try:
        parts = [_FIXED.pack(first, payload_type | (0x80 if marker else 0), seq, ts, ssrc)]
        if csrcs:
            parts.append(struct.pack(f"!{len(csrcs)}I", *csrcs))
        if extension is not None:
            profile, ext_data = extension
            if len(ext_data) % 4:
                raise LocalProtocolError("RTP header extension data is not a multiple of 4")
            parts.append(_EXT_HEADER.pack(profile, len(ext_data) // 4))
            parts.append(ext_data)
    except struct.error as exc:
        raise LocalProtocolError(f"RTP header field out of range: {exc}") from None
    parts.append(payload)
    if padding:
        parts.append(bytes(padding - 1) + bytes((padding,)))
    return b"".join(parts)


def parse_extension_elements(extension: RtpHeaderExtension) -> list[tuple[int, bytes]]:
    """The ``(id, data)`` elements of an RFC 8285 one-byte (profile ``0xBEDE``) or
    two-byte (profile ``0x100x``) header extension, padding skipped.

    Raises :class:`RemoteProtocolError` for another profile or a malformed element.
    """
    data = extension.data
    size = len(data)
    elements: list[tuple[int, bytes]] = []
    i = 0
    if extension.profile == ONE_BYTE_PROFILE:
        while i < size:
            head = data[i]
            if head == 0:
                i += 1
                continue
            ident, length = head >> 4, (head & 0x0F) + 1
            if ident == 15:  # reserved: stop processing (RFC 8285 §4.2)
                break
            i += 1
            if i + length > size:
                raise RemoteProtocolError("one-byte header extension element runs past the data")
            elements.append((ident, data[i : i + length]))
            i += length
        return elements
    if extension.profile & 0xFFF0 == TWO_BYTE_PROFILE:
        while i < size:
            ident = data[i]
            if ident == 0:
                i += 1
                continue
            if i + 2 > size:
                raise RemoteProtocolError("two-byte header extension element is truncated")
            length = data[i + 1]
            i += 2
            if i + length > size:
                raise RemoteProtocolError("two-byte header extension element runs past the data")
            elements.append((ident, data[i : i + length]))
            i += length
        return elements
    raise RemoteProtocolError(f"header extension profile {extension.profile:#06x} is not RFC 8285")


def build_extension_elements(
    elements: Iterable[tuple[int, bytes]], *, two_byte: bool = False
) -> RtpHeaderExtension:
    """An RFC 8285 header extension carrying ``elements`` (zero-padded to 32 bits).

    One-byte form: ids 1-14, 1-16 bytes of data; two-byte form: ids 1-255,
    0-255 bytes.  Raises :class:`LocalProtocolError` otherwise.
    """
    parts: list[bytes] = []
    for ident, value in elements:
        if two_byte:
            if not 1 <= ident <= 255 or len(value) > 255:
                raise LocalProtocolError("two-byte extension element id or length out of range")
            parts.append(bytes((ident, len(value))) + value)
        else:
            if not 1 <= ident <= 14 or not 1 <= len(value) <= 16:
                raise LocalProtocolError("one-byte extension element id or length out of range")
            parts.append(bytes(((ident << 4) | (len(value) - 1),)) + value)
    body = b"".join(parts)
    body += bytes(-len(body) % 4)
    return RtpHeaderExtension(TWO_BYTE_PROFILE if two_byte else ONE_BYTE_PROFILE, body)
