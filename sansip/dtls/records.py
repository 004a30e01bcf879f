"""The DTLS 1.2 record layer (RFC 6347 §4.1): record headers with epochs and
48-bit sequence numbers, the anti-replay window (§4.1.2.6) and AES-GCM
record protection (RFC 5288 with the DTLS sequence number as nonce).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sansip.dtls.suites import DTLS_1_0, DTLS_1_2

__all__ = [
    "AEAD_OVERHEAD",
    "MAX_SEQUENCE",
    "RECORD_HEADER_LENGTH",
    "Record",
    "RecordCipher",
    "ReplayWindow",
    "encode_record",
    "parse_records",
]

#: type(1) version(2) epoch(2) sequence_number(6) length(2).
RECORD_HEADER_LENGTH: Final = 13
#: Explicit nonce (8) and GCM tag (16) a protected record adds.
AEAD_OVERHEAD: Final = 24
#: The largest 48-bit sequence number.
MAX_SEQUENCE: Final = (1 << 48) - 1
#: RFC 6347 §4.1: a record's fragment is at most 2^14 + 2048 bytes.
MAX_FRAGMENT: Final = 2**14 + 2048
_HEADER = struct.Struct("!BHHHIH")


@dataclass(frozen=True)
class Record:
    """One record as it travels: ``fragment`` is still protected when ``epoch`` > 0."""

    content_type: int
    version: int
    epoch: int
    sequence: int
    fragment: bytes


def encode_record(
    content_type: int, epoch: int, sequence: int, fragment: bytes, version: int = DTLS_1_2
) -> bytes:
    """The bytes of one record."""
    header = _HEADER.pack(
        content_type, version, epoch, sequence >> 32, sequence & 0xFFFFFFFF, len(fragment)
    )
    return header + fragment


def parse_records(datagram: bytes) -> tuple[list[Record], bool]:
    """The records of a datagram and whether it was well formed.

    Parsing stops at the first malformed record (a bad length, an unknown
    version): the records before it are returned with ``False``.
    """
    records: list[Record] = []
    offset = 0
    while offset < len(datagram):
        if len(datagram) - offset < RECORD_HEADER_LENGTH:
            return records, False
        ctype, version, epoch, seq_high, seq_low, length = _HEADER.unpack_from(datagram, offset)
        offset += RECORD_HEADER_LENGTH
        if version not in (DTLS_1_2, DTLS_1_0) or length > MAX_FRAGMENT:
            return records, False
        if len(datagram) - offset < length:
            return records, False
        fragment = datagram[offset : offset + length]
        offset += length
        records.append(Record(ctype, version, epoch, (seq_high << 32) | seq_low, fragment))
    return records, True


class ReplayWindow:
    """The sliding anti-replay window of one epoch (RFC 6347 §4.1.2.6).

    :meth:`is_fresh` tells whether a sequence number may be processed; only
    after the record authenticated does :meth:`mark` record it.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._highest = -1
        self._bits = 0  # bit i set: highest - i was seen

    def is_fresh(self, sequence: int) -> bool:
        """Neither seen yet nor left of the window."""
        if sequence > self._highest:
            return True
        offset = self._highest - sequence
        if offset >= self.size:
            return False
        return not (self._bits >> offset) & 1

    def mark(self, sequence: int) -> None:
        """Remember ``sequence`` as received."""
        if sequence > self._highest:
            shift = sequence - self._highest
            mask = (1 << self.size) - 1
            self._bits = 1 if shift >= self.size else ((self._bits << shift) | 1) & mask
            self._highest = sequence
        else:
            self._bits |= 1 << (self._highest - sequence)


class RecordCipher:
    """AES-GCM protection of one direction of one epoch (RFC 5288 §3).

    The explicit nonce is the record's epoch and sequence number, so it
    never repeats under one key.
    """

    def __init__(self, key: bytes, fixed_iv: bytes) -> None:
        self._aead = AESGCM(key)
        self._fixed_iv = fixed_iv

    @staticmethod
    def _aad(content_type: int, version: int, epoch: int, sequence: int, length: int) -> bytes:
        return struct.pack(
            "!HHIBHH", epoch, sequence >> 32, sequence & 0xFFFFFFFF, content_type, version, length
        )

    def seal(self, content_type: int, epoch: int, sequence: int, plaintext: bytes) -> bytes:
        """The protected fragment of a record."""
        explicit = struct.pack("!HHI", epoch, sequence >> 32, sequence & 0xFFFFFFFF)
        aad = self._aad(content_type, DTLS_1_2, epoch, sequence, len(plaintext))
        return explicit + self._aead.encrypt(self._fixed_iv + explicit, plaintext, aad)

    def unseal(self, record: Record) -> bytes | None:
        """The plaintext of a protected record, or None if it does not authenticate."""
        fragment = record.fragment
        if len(fragment) < AEAD_OVERHEAD:
            return None
        explicit = fragment[:8]
        length = len(fragment) - AEAD_OVERHEAD
        aad = self._aad(record.content_type, record.version, record.epoch, record.sequence, length)
        try:
            return self._aead.decrypt(self._fixed_iv + explicit, fragment[8:], aad)
        except InvalidTag:
            return None
