"""Ogg pages (RFC 3533) read back by hand: the page checksum and a packet
reader that resynchronises on damage, for :mod:`sansip.audio.oggopus`."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO, Final

__all__ = ["OggPacketReader", "ogg_crc"]

#: Bytes read from the file at a time.
_READ_CHUNK: Final = 16384


def _crc_entry(index: int) -> int:
    crc = index << 24
    for _ in range(8):
        crc = (crc << 1) ^ (0x04C11DB7 if crc & 0x80000000 else 0)
    return crc & 0xFFFFFFFF


_CRC_TABLE: Final = tuple(_crc_entry(index) for index in range(256))


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum of ``data`` (CRC-32, polynomial 0x04C11DB7, unreflected)."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def _crc_bytes(page: bytes) -> bytes:
    """The checksum field ``page`` should carry."""
    return ogg_crc(page[:22] + bytes(4) + page[26:]).to_bytes(4, "little")


class OggPacketReader:
    """The packets of the first Opus stream in an Ogg file.

    Pages failing their checksum are skipped (counted in ``bad_pages``) and
    the reader resynchronises on the next capture pattern; a packet spanning
    a missing page is dropped.  Pyogg's own Ogg reading wrappers are not
    usable (they return copies of libogg's buffers), hence this parser.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._buffer = bytearray()
        self._eof = False
        self.bad_pages = 0

    def _fill(self, wanted: int) -> bool:
        while len(self._buffer) < wanted and not self._eof:
            chunk = self._file.read(_READ_CHUNK)
            self._eof = not chunk
            self._buffer += chunk
        return len(self._buffer) >= wanted

    def _next_page(self) -> tuple[int, int, int, int, bytes, bytes] | None:
        """(flags, granule, serial, sequence, lacing values, body) of the next good page."""
        while self._fill(27):
            start = self._buffer.find(b"OggS")
            if start < 0:  # keep a tail that may begin a capture pattern
                del self._buffer[: len(self._buffer) - 3]
                if not self._fill(len(self._buffer) + 1):
                    return None
                continue
            del self._buffer[:start]
            raw = self._page_bytes()
            if raw is None or raw[4] != 0 or raw[22:26] != _crc_bytes(raw):
                self.bad_pages += 1  # damaged, or cut short by the end of the file
                del self._buffer[:1]
                continue
            del self._buffer[: len(raw)]
            flags, granule, serial, sequence = struct.unpack_from("<BqII", raw, 5)
            return flags, granule, serial, sequence, raw[27 : 27 + raw[26]], raw[27 + raw[26] :]
        return None

    def _page_bytes(self) -> bytes | None:
        """The page at the start of the buffer, or None if the file ends inside it."""
        if not self._fill(27) or not self._fill(27 + self._buffer[26]):
            return None
        size = 27 + self._buffer[26] + sum(self._buffer[27 : 27 + self._buffer[26]])
        return bytes(self._buffer[:size]) if self._fill(size) else None

    def packets(self) -> Iterator[tuple[bytes, int, bool]]:
        """(packet, granule or -1 unless it ends its page, end of stream) in order."""
        serial: int | None = None
        expected = 0  # the next page sequence number
        partial = bytearray()
        discard = False  # the start of the packet being assembled was lost
        while (page := self._next_page()) is not None:
            flags, granule, page_serial, sequence, lacing, body = page
            if serial is None:
                if not flags & 0x02 or not body.startswith(b"OpusHead"):
                    continue  # another logical stream's first page, or junk
                serial, expected = page_serial, sequence
            elif page_serial != serial:
                continue
            if sequence != expected or not flags & 0x01:
                discard = bool(flags & 0x01)  # a continuation of what we do not have
                partial.clear()
            expected = sequence + 1
            last_end = max((i for i, value in enumerate(lacing) if value < 255), default=-1)
            offset = 0
            for index, value in enumerate(lacing):
                partial += body[offset : offset + value]
                offset += value
                if value < 255:
                    if not discard:
                        ends = index == last_end
                        yield bytes(partial), granule if ends else -1, ends and bool(flags & 4)
                    partial.clear()
                    discard = False
            if flags & 0x04:
                return
