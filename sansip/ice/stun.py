"""STUN messages (RFC 8489): parse, build, protect with MESSAGE-INTEGRITY and FINGERPRINT.

A :class:`StunMessage` is a method, a class, a 96-bit transaction id and
a tuple of typed attributes (:mod:`sansip.ice.stun_attributes`,
:mod:`sansip.ice.turn_attributes`; :data:`ATTRIBUTE_CLASSES` lists them).
:func:`encode_message` serializes one, padding each attribute to 4 bytes
and appending, on request, MESSAGE-INTEGRITY (HMAC-SHA1),
MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (CRC-32 xor 0x5354554e), each
computed over the bytes before it with the header length adjusted to end
at the attribute (RFC 8489 §14.5-14.7).  :func:`parse_message` does the
reverse; the integrity attributes are not part of ``attributes`` but are
kept with the received bytes so :func:`check_integrity` can verify them
once the key is known (it usually depends on USERNAME or REALM).
Attributes after MESSAGE-INTEGRITY, other than MESSAGE-INTEGRITY-SHA256
and FINGERPRINT, are ignored as RFC 8489 §14.5 asks.

    request = StunMessage(Method.BINDING, MessageClass.REQUEST, tid, (Username("a:b"),))
    wire = encode_message(request, key=short_term_key("pass"), fingerprint=True)
    received = parse_message(wire)            # StunError (status 400) if malformed
    assert check_integrity(received, short_term_key("pass"))

:func:`is_stun` tells STUN from RTP, RTCP and DTLS on a shared port
(RFC 7983); :func:`stun_message_length` frames STUN on a stream (TCP).
Parsing raises :class:`~sansip.ice.stun_attributes.StunError` only.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum
from typing import Final, TypeAlias, TypeVar

from sansip.errors import LocalProtocolError
from sansip.ice.stun_attributes import (
    MAGIC_COOKIE,
    AddressAttribute,
    AlternateServer,
    AttributeType,
    ErrorCode,
    FlagAttribute,
    IceControlled,
    IceControlling,
    MappedAddress,
    Nonce,
    NumberAttribute,
    PasswordAlgorithm,
    PasswordAlgorithms,
    Priority,
    Realm,
    Software,
    StunAttribute,
    StunError,
    TextAttribute,
    UnknownAttribute,
    UnknownAttributes,
    UseCandidate,
    Userhash,
    Username,
    XorMappedAddress,
)
from sansip.ice.turn_attributes import (
    ChannelNumber,
    Data,
    DontFragment,
    EvenPort,
    Lifetime,
    RequestedTransport,
    ReservationToken,
    XorPeerAddress,
    XorRelayedAddress,
)

__all__ = [
    "ATTRIBUTE_CLASSES",
    "FINGERPRINT_XOR",
    "HEADER_SIZE",
    "Integrity",
    "MessageClass",
    "Method",
    "StunMessage",
    "attribute_type",
    "check_integrity",
    "decode_attribute",
    "encode_message",
    "is_stun",
    "parse_message",
    "stun_message_length",
]

#: Bytes of the STUN header: type, length, magic cookie, transaction id.
HEADER_SIZE: Final = 20
#: FINGERPRINT is the CRC-32 of the message xor'd with this ("STUN").
FINGERPRINT_XOR: Final = 0x5354554E
_SHA1_SIZE: Final = 20
_SHA256_SIZE: Final = 32
_COOKIE: Final = MAGIC_COOKIE.to_bytes(4, "big")

A = TypeVar("A")


class MessageClass(IntEnum):
    """The class of a STUN message (the C1 C0 bits)."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS = 0b10
    ERROR = 0b11


class Method(IntEnum):
    """The STUN methods sansip knows: Binding (RFC 8489) and TURN's (RFC 8656)."""

    BINDING = 0x001
    ALLOCATE = 0x003
    REFRESH = 0x004
    SEND = 0x006
    DATA = 0x007
    CREATE_PERMISSION = 0x008
    CHANNEL_BIND = 0x009


class Integrity(Enum):
    """Which MESSAGE-INTEGRITY attributes :func:`encode_message` appends."""

    SHA1 = "sha1"
    SHA256 = "sha256"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class _Received:
    """What parsing found about the integrity attributes, with the bytes to check them."""

    data: bytes
    sha1_at: int | None = None
    sha256_at: int | None = None
    fingerprint_ok: bool | None = None


@dataclass(frozen=True, slots=True)
class StunMessage:
    """One STUN message: ``method`` (a :class:`Method` or another 12-bit number),
    ``message_class``, the 12-byte ``transaction_id`` and the ``attributes`` in
    order (without MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT:
    see :func:`encode_message` and :func:`check_integrity`).

    An empty ``transaction_id`` means "not drawn yet": the client machine
    draws one; :func:`encode_message` refuses it.
    """

    method: int
    message_class: MessageClass
    transaction_id: bytes = b""
    attributes: tuple[StunAttribute, ...] = ()
    _received: _Received | None = field(default=None, compare=False, repr=False)

    def get(self, kind: type[A]) -> A | None:
        """The first attribute of class ``kind``, or None (later ones are ignored, RFC 8489 §14)."""
        return next((a for a in self.attributes if isinstance(a, kind)), None)

    def get_all(self, kind: type[A]) -> list[A]:
        """Every attribute of class ``kind``, in order (XOR-PEER-ADDRESS may repeat)."""
        return [a for a in self.attributes if isinstance(a, kind)]

    @property
    def unknown_required(self) -> tuple[int, ...]:
        """The comprehension-required attribute types this message carries that
        sansip does not understand (a request with any is answered 420)."""
        return tuple(
            a.type
            for a in self.attributes
            if isinstance(a, UnknownAttribute) and a.comprehension_required
        )

    @property
    def error_code(self) -> ErrorCode | None:
        """ERROR-CODE, if present."""
        return self.get(ErrorCode)

    @property
    def has_integrity(self) -> bool:
        """Whether the message came with MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256."""
        received = self._received
        return received is not None and (
            received.sha1_at is not None or received.sha256_at is not None
        )

    @property
    def has_sha256_integrity(self) -> bool:
        """Whether the message came with MESSAGE-INTEGRITY-SHA256."""
        return self._received is not None and self._received.sha256_at is not None

    @property
    def fingerprint_ok(self) -> bool | None:
        """Whether the received FINGERPRINT matched (None: there was none)."""
        return None if self._received is None else self._received.fingerprint_ok

    def response(
        self, message_class: MessageClass, attributes: tuple[StunAttribute, ...] = ()
    ) -> StunMessage:
        """A response to this request: same method and transaction id."""
        return StunMessage(self.method, message_class, self.transaction_id, attributes)

    def with_attributes(self, *attributes: StunAttribute) -> StunMessage:
        """A copy with ``attributes`` appended."""
        return replace(self, attributes=self.attributes + attributes, _received=None)


# -- the attribute table ------------------------------------------------------------------
_Decoder: TypeAlias = type[
    AddressAttribute
    | TextAttribute
    | NumberAttribute
    | FlagAttribute
    | ChannelNumber
    | RequestedTransport
    | EvenPort
    | Data
    | ReservationToken
    | Userhash
    | ErrorCode
    | UnknownAttributes
    | PasswordAlgorithm
    | PasswordAlgorithms
]

#: The attribute classes by type code (MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256
#: and FINGERPRINT are the codec's, not here).
ATTRIBUTE_CLASSES: Final[dict[int, _Decoder]] = {
    cls.TYPE: cls
    for cls in (
        MappedAddress,
        XorMappedAddress,
        AlternateServer,
        XorPeerAddress,
        XorRelayedAddress,
        Username,
        Realm,
        Nonce,
        Software,
        Priority,
        IceControlled,
        IceControlling,
        Lifetime,
        ChannelNumber,
        RequestedTransport,
        EvenPort,
        UseCandidate,
        DontFragment,
        Data,
        ReservationToken,
        Userhash,
        ErrorCode,
        UnknownAttributes,
        PasswordAlgorithm,
        PasswordAlgorithms,
    )
}


def attribute_type(attribute: StunAttribute) -> int:
    """The type code of ``attribute`` (an :class:`UnknownAttribute` carries its own)."""
    return attribute.type if isinstance(attribute, UnknownAttribute) else attribute.TYPE


def decode_attribute(kind: int, value: bytes, transaction_id: bytes) -> StunAttribute:
    """The typed value of one attribute of type ``kind``; StunError if malformed."""
    cls = ATTRIBUTE_CLASSES.get(kind)
    if cls is None:
        return UnknownAttribute(kind, value)
    return cls.decode(value, transaction_id)


# -- the header ----------------------------------------------------------------------------
def _message_type(method: int, message_class: int) -> int:
    """The 14-bit type: method bits M11-M0 with C1 C0 interleaved (RFC 8489 §5)."""
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((message_class & 1) << 4)
        | ((message_class & 2) << 7)
    )


def _split_type(kind: int) -> tuple[int, MessageClass]:
    method = (kind & 0x000F) | ((kind & 0x00E0) >> 1) | ((kind & 0x3E00) >> 2)
    message_class = MessageClass(((kind >> 4) & 1) | ((kind >> 7) & 2))
    try:
        return Method(method), message_class
    except ValueError:
        return method, message_class


def is_stun(data: bytes) -> bool:
    """Whether ``data`` looks like a STUN message on a port shared with RTP, RTCP
    and DTLS (RFC 7983: first byte 0-3, RFC 8489: the magic cookie)."""
    return len(data) >= HEADER_SIZE and data[0] < 4 and data[4:8] == _COOKIE


def stun_message_length(buffer: bytes) -> int | None:
    """The size of the STUN message at the start of ``buffer`` (a stream), or
    None while fewer than 4 bytes are there."""
    if len(buffer) < 4:
        return None
    return HEADER_SIZE + int.from_bytes(buffer[2:4], "big")


# -- integrity ---------------------------------------------------------------------------------
def _with_length(prefix: bytes, attribute_size: int) -> bytes:
    """``prefix`` (the message up to an attribute) with the header length set to
    end just after that attribute of ``attribute_size`` value bytes."""
    length = len(prefix) - HEADER_SIZE + 4 + attribute_size
    return prefix[:2] + length.to_bytes(2, "big") + prefix[4:]


def _hmac(key: bytes, prefix: bytes, sha256: bool, size: int) -> bytes:
    digest = hashlib.sha256 if sha256 else hashlib.sha1
    return hmac.new(key, _with_length(prefix, size), digest).digest()[:size]


def _crc(prefix: bytes) -> int:
    return (zlib.crc32(_with_length(prefix, 4)) ^ FINGERPRINT_XOR) & 0xFFFFFFFF


def check_integrity(message: StunMessage, key: bytes, *, sha256: bool | None = None) -> bool:
    """Whether the received ``message``'s integrity attribute matches ``key``.

    ``sha256`` None checks MESSAGE-INTEGRITY-SHA256 when present, else
    MESSAGE-INTEGRITY (RFC 8489 §9.1.3); True or False checks that one only.
    False when the attribute checked is absent or the message was not parsed.
    """
    received = message._received
    if received is None:
        return False
    use_sha256 = received.sha256_at is not None if sha256 is None else sha256
    at = received.sha256_at if use_sha256 else received.sha1_at
    if at is None:
        return False
    data = received.data
    size = int.from_bytes(data[at + 2 : at + 4], "big")
    expected = _hmac(key, data[:at], use_sha256, size)
    return hmac.compare_digest(expected, data[at + 4 : at + 4 + size])


# -- serializing ----------------------------------------------------------------------------------
def _attribute(kind: int, value: bytes, padding: int) -> bytes:
    if len(value) > 0xFFFF:
        raise LocalProtocolError(f"attribute 0x{kind:04x} is longer than 65535 bytes")
    return struct.pack("!HH", kind, len(value)) + value + bytes([padding]) * (-len(value) % 4)


def encode_message(
    message: StunMessage,
    *,
    key: bytes | None = None,
    integrity: Integrity = Integrity.SHA1,
    fingerprint: bool = False,
    padding: int = 0,
) -> bytes:
    """The wire bytes of ``message``.

    With ``key``, MESSAGE-INTEGRITY and/or MESSAGE-INTEGRITY-SHA256 (as
    ``integrity`` says) follow the attributes; ``fingerprint`` appends
    FINGERPRINT last.  Attributes are padded to 4 bytes with ``padding``
    (0 as RFC 8489 asks; RFC 3489-era agents used other bytes, which the
    RFC 5769 vectors show).  LocalProtocolError for a value that cannot be
    encoded (a transaction id that is not 12 bytes, a host name for an address).
    """
    tid = message.transaction_id
    if len(tid) != 12:
        raise LocalProtocolError("a STUN transaction id is 12 bytes (96 bits)")
    if not 0 <= message.method <= 0xFFF:
        raise LocalProtocolError(f"a STUN method is 12 bits, not {message.method}")
    body = b"".join(
        _attribute(attribute_type(a), a.encode(tid), padding) for a in message.attributes
    )
    kind = _message_type(message.method, message.message_class)
    data = struct.pack("!HHI", kind, len(body), MAGIC_COOKIE) + tid + body
    if key is not None:
        if integrity is not Integrity.SHA256:
            mac = _hmac(key, data, False, _SHA1_SIZE)
            data = _with_length(data, _SHA1_SIZE) + _attribute(
                AttributeType.MESSAGE_INTEGRITY, mac, padding
            )
        if integrity is not Integrity.SHA1:
            mac = _hmac(key, data, True, _SHA256_SIZE)
            data = _with_length(data, _SHA256_SIZE) + _attribute(
                AttributeType.MESSAGE_INTEGRITY_SHA256, mac, padding
            )
    if fingerprint:
        crc = _crc(data).to_bytes(4, "big")
        data = _with_length(data, 4) + _attribute(AttributeType.FINGERPRINT, crc, padding)
    if len(data) - HEADER_SIZE > 0xFFFF:
        raise LocalProtocolError("a STUN message is at most 65535 bytes after its header")
    return data


# -- parsing ----------------------------------------------------------------------------------
def parse_message(data: bytes) -> StunMessage:
    """The message in ``data`` (one whole message); StunError (status 400) if malformed.

    A FINGERPRINT that does not match is recorded, not refused
    (:attr:`StunMessage.fingerprint_ok`); the integrity attributes are checked
    later with :func:`check_integrity`.
    """
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise StunError("a STUN message is at least 20 bytes")
    kind, length, cookie = struct.unpack_from("!HHI", data)
    if kind & 0xC000:
        raise StunError("the first two bits of a STUN message are zero")
    if cookie != MAGIC_COOKIE:
        raise StunError("no STUN magic cookie")
    if length % 4 or HEADER_SIZE + length != len(data):
        raise StunError(f"bad STUN message length {length} for {len(data)} bytes")
    method, message_class = _split_type(kind)
    tid = data[8:HEADER_SIZE]
    attributes: list[StunAttribute] = []
    sha1_at: int | None = None
    sha256_at: int | None = None
    fingerprint_ok: bool | None = None
    offset = HEADER_SIZE
    while offset < len(data):
        if fingerprint_ok is not None:
            raise StunError("an attribute follows FINGERPRINT")
        if offset + 4 > len(data):
            raise StunError("a truncated attribute header")
        kind, size = struct.unpack_from("!HH", data, offset)
        start = offset + 4
        end = start + size
        if end + (-size % 4) > len(data):
            raise StunError(f"attribute 0x{kind:04x} overruns the message")
        value = data[start:end]
        if kind == AttributeType.FINGERPRINT:
            if size != 4:
                raise StunError("FINGERPRINT is 4 bytes")
            fingerprint_ok = int.from_bytes(value, "big") == _crc(data[:offset])
        elif sha256_at is not None:
            pass  # only FINGERPRINT counts after MESSAGE-INTEGRITY-SHA256
        elif kind == AttributeType.MESSAGE_INTEGRITY_SHA256:
            if not (16 <= size <= _SHA256_SIZE and size % 4 == 0):
                raise StunError(f"MESSAGE-INTEGRITY-SHA256 of {size} bytes")
            sha256_at = offset
        elif sha1_at is not None:
            pass  # ignored after MESSAGE-INTEGRITY (RFC 8489 §14.5)
        elif kind == AttributeType.MESSAGE_INTEGRITY:
            if size != _SHA1_SIZE:
                raise StunError(f"MESSAGE-INTEGRITY of {size} bytes")
            sha1_at = offset
        else:
            attributes.append(decode_attribute(kind, value, tid))
        offset = end + (-size % 4)
    received = _Received(data, sha1_at, sha256_at, fingerprint_ok)
    return StunMessage(method, message_class, tid, tuple(attributes), received)
