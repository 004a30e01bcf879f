"""DTLS handshake framing (RFC 6347 §4.2.2-§4.2.3): the 12-byte handshake
header with ``message_seq``, splitting a message into fragments that fit a
datagram, and reassembling fragments that arrive in any order, twice, or
overlapping.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum
from typing import Final

from sansip.dtls.messages import DecodeError

__all__ = [
    "HANDSHAKE_HEADER_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "Fragment",
    "FragmentFate",
    "HandshakeMessage",
    "Reassembler",
    "encode_handshake",
    "parse_fragments",
    "split_message",
]

#: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3).
HANDSHAKE_HEADER_LENGTH: Final = 12
#: The largest handshake message accepted (certificate chains included).
MAX_MESSAGE_LENGTH: Final = 1 << 16


@dataclass(frozen=True)
class Fragment:
    """One handshake fragment as found in a record."""

    msg_type: int
    length: int
    message_seq: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class HandshakeMessage:
    """A whole handshake message and the epoch of the record that brought it."""

    msg_type: int
    message_seq: int
    body: bytes
    epoch: int

    @property
    def encoded(self) -> bytes:
        """The message as it enters the transcript: one fragment covering it all."""
        return encode_handshake(self.msg_type, self.message_seq, self.body)


def _header(msg_type: int, length: int, seq: int, offset: int, frag_length: int) -> bytes:
    return (
        struct.pack("!B", msg_type)
        + length.to_bytes(3, "big")
        + struct.pack("!H", seq)
        + offset.to_bytes(3, "big")
        + frag_length.to_bytes(3, "big")
    )


def encode_handshake(msg_type: int, message_seq: int, body: bytes) -> bytes:
    """A whole (unfragmented) handshake message with its header."""
    return _header(msg_type, len(body), message_seq, 0, len(body)) + body


def split_message(message: bytes, max_fragment: int) -> list[bytes]:
    """Split an encoded whole message into fragments of at most ``max_fragment``
    body bytes, each with its own header."""
    msg_type = message[0]
    seq = int.from_bytes(message[4:6], "big")
    body = message[HANDSHAKE_HEADER_LENGTH:]
    if len(body) <= max_fragment:
        return [message]
    step = max(1, max_fragment)
    return [
        _header(msg_type, len(body), seq, off, len(body[off : off + step])) + body[off : off + step]
        for off in range(0, len(body), step)
    ]


def parse_fragments(data: bytes) -> list[Fragment]:
    """The handshake fragments of a record's plaintext; DecodeError if malformed."""
    out: list[Fragment] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < HANDSHAKE_HEADER_LENGTH:
            raise DecodeError("truncated handshake header")
        msg_type = data[offset]
        length = int.from_bytes(data[offset + 1 : offset + 4], "big")
        seq = int.from_bytes(data[offset + 4 : offset + 6], "big")
        frag_offset = int.from_bytes(data[offset + 6 : offset + 9], "big")
        frag_length = int.from_bytes(data[offset + 9 : offset + 12], "big")
        offset += HANDSHAKE_HEADER_LENGTH
        if frag_offset + frag_length > length or offset + frag_length > len(data):
            raise DecodeError("handshake fragment out of bounds")
        out.append(
            Fragment(msg_type, length, seq, frag_offset, data[offset : offset + frag_length])
        )
        offset += frag_length
    return out


class FragmentFate(Enum):
    """What :meth:`Reassembler.add` did with a fragment."""

    ACCEPTED = "accepted"
    OLD = "old"  # a message already processed: the peer retransmits
    REPLACED = "replaced"  # disagreed with the fragments so far, which were dropped
    DROPPED = "dropped"  # too far ahead or too large


class _Pending:
    def __init__(self, msg_type: int, length: int, epoch: int) -> None:
        self.msg_type = msg_type
        self.length = length
        self.epoch = epoch
        self.body = bytearray(length)
        self.have = bytearray(length)
        self.missing = length

    def add(self, offset: int, data: bytes) -> None:
        end = offset + len(data)
        self.body[offset:end] = data
        self.missing -= len(data) - self.have[offset:end].count(1)
        self.have[offset:end] = b"\x01" * len(data)


class Reassembler:
    """Collects fragments into messages handed out strictly by ``message_seq``.

    ``next_seq`` is the message expected next; messages up to ``window``
    ahead are buffered.
    """

    def __init__(self, window: int = 16) -> None:
        self.next_seq = 0
        self.window = window
        self._pending: dict[int, _Pending] = {}

    def add(self, fragment: Fragment, epoch: int) -> FragmentFate:
        """Take one fragment brought by a record of ``epoch``."""
        seq = fragment.message_seq
        if seq < self.next_seq:
            return FragmentFate.OLD
        if seq >= self.next_seq + self.window or fragment.length > MAX_MESSAGE_LENGTH:
            return FragmentFate.DROPPED
        pending = self._pending.get(seq)
        fate = FragmentFate.ACCEPTED
        if pending is not None and (pending.msg_type, pending.length, pending.epoch) != (
            fragment.msg_type,
            fragment.length,
            epoch,
        ):
            # Fragments that disagree: one of them is forged or damaged (epoch 0
            # is unauthenticated).  The newer one wins, so that a retransmission
            # repairs what a bad fragment spoilt.
            pending = None
            fate = FragmentFate.REPLACED
        if pending is None:
            pending = self._pending[seq] = _Pending(fragment.msg_type, fragment.length, epoch)
        pending.add(fragment.offset, fragment.data)
        return fate

    def pop(self) -> HandshakeMessage | None:
        """The next whole message in order, or None if it is not complete yet."""
        pending = self._pending.get(self.next_seq)
        if pending is None or pending.missing:
            return None
        del self._pending[self.next_seq]
        message = HandshakeMessage(
            pending.msg_type, self.next_seq, bytes(pending.body), pending.epoch
        )
        self.next_seq += 1
        return message

    def reset(self, next_seq: int) -> None:
        """Expect ``next_seq`` next; what is buffered outside the new window is forgotten."""
        self.next_seq = next_seq
        for seq in [s for s in self._pending if not next_seq <= s < next_seq + self.window]:
            del self._pending[seq]
