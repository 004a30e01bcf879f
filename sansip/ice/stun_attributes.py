"""The STUN attributes (RFC 8489 §14) and ICE's (RFC 8445 §16.1) as typed values.

Each attribute is a frozen dataclass with its type code in ``TYPE``; it
encodes its value with :meth:`encode` and is decoded from one with the
class method :meth:`decode` (both take the message's transaction id, which
the XOR'd addresses need).  The base classes (:class:`AddressAttribute`,
:class:`TextAttribute`, :class:`NumberAttribute`, :class:`FlagAttribute`)
serve the TURN attributes of :mod:`sansip.ice.turn_attributes` too.  A type
sansip does not know decodes as :class:`UnknownAttribute`
(comprehension-required when the type is below 0x8000, RFC 8489 §14);
the table of known types is :data:`sansip.ice.stun.ATTRIBUTE_CLASSES`.

MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are not
attributes of this kind: the codec (:mod:`sansip.ice.stun`) computes and
checks them over the bytes of the message.

Decoding raises :class:`StunError` (a :class:`~sansip.errors.RemoteProtocolError`
with status 400) on a malformed value, and nothing else.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final, Protocol, Self

from sansip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "MAGIC_COOKIE",
    "AddressAttribute",
    "AlternateServer",
    "AttributeType",
    "ErrorCode",
    "FlagAttribute",
    "IceControlled",
    "IceControlling",
    "MappedAddress",
    "Nonce",
    "NumberAttribute",
    "PasswordAlgorithm",
    "PasswordAlgorithmId",
    "PasswordAlgorithms",
    "Priority",
    "Realm",
    "Software",
    "StunAttribute",
    "StunError",
    "TextAttribute",
    "UnknownAttribute",
    "UnknownAttributes",
    "UseCandidate",
    "Userhash",
    "Username",
    "XorMappedAddress",
    "check_uint",
    "expect_length",
]

#: The fixed value of bytes 4-7 of every RFC 5389/8489 STUN message.
MAGIC_COOKIE: Final = 0x2112A442
_COOKIE_BYTES: Final = MAGIC_COOKIE.to_bytes(4, "big")

#: The most bytes accepted in USERNAME (RFC 5389's limit; RFC 8489 asks senders
#: for fewer than 509).  REALM, NONCE, SOFTWARE and the reason phrase allow 763
#: (fewer than 128 characters).
MAX_USERNAME: Final = 513
MAX_TEXT: Final = 763


class StunError(RemoteProtocolError):
    """A STUN message (or one attribute of it) is malformed.

    ``status`` is the STUN error code to answer a request with (400 Bad
    Request unless a more precise code applies).
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason, status)


class AttributeType(IntEnum):
    """The attribute type codes sansip knows (IANA "STUN Attributes")."""

    MAPPED_ADDRESS = 0x0001
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    CHANNEL_NUMBER = 0x000C
    LIFETIME = 0x000D
    XOR_PEER_ADDRESS = 0x0012
    DATA = 0x0013
    REALM = 0x0014
    NONCE = 0x0015
    XOR_RELAYED_ADDRESS = 0x0016
    EVEN_PORT = 0x0018
    REQUESTED_TRANSPORT = 0x0019
    DONT_FRAGMENT = 0x001A
    MESSAGE_INTEGRITY_SHA256 = 0x001C
    PASSWORD_ALGORITHM = 0x001D
    USERHASH = 0x001E
    XOR_MAPPED_ADDRESS = 0x0020
    RESERVATION_TOKEN = 0x0022
    PRIORITY = 0x0024
    USE_CANDIDATE = 0x0025
    PASSWORD_ALGORITHMS = 0x8002
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    FINGERPRINT = 0x8028
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A


class PasswordAlgorithmId(IntEnum):
    """The password algorithms of RFC 8489 §18.5."""

    MD5 = 0x0001
    SHA256 = 0x0002


class StunAttribute(Protocol):
    """What every attribute value offers the codec."""

    TYPE: ClassVar[int]

    def encode(self, transaction_id: bytes) -> bytes:
        """The attribute's value bytes (without type, length or padding)."""
        ...


def expect_length(name: str, value: bytes, *lengths: int) -> None:
    """StunError unless ``value`` (of attribute ``name``) has one of ``lengths``."""
    if len(value) not in lengths:
        want = " or ".join(map(str, lengths))
        raise StunError(f"{name} must be {want} bytes, not {len(value)}")


def _text(name: str, value: bytes, limit: int) -> str:
    if len(value) > limit:
        raise StunError(f"{name} is {len(value)} bytes, more than {limit}")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise StunError(f"{name} is not UTF-8") from None


def _uint(name: str, value: bytes, size: int) -> int:
    expect_length(name, value, size)
    return int.from_bytes(value, "big")


def check_uint(name: str, number: int, bits: int) -> None:
    """LocalProtocolError unless ``number`` fits in ``bits`` unsigned bits."""
    if not 0 <= number < 1 << bits:
        raise LocalProtocolError(f"{name} must fit in {bits} bits, not {number}")


# -- addresses ------------------------------------------------------------------------
_IPV4: Final = 0x01
_IPV6: Final = 0x02


def _pack_address(host: str, port: int, mask: bytes | None) -> bytes:
    """Family, port and address, XOR'd with ``mask`` (cookie + transaction id) if given."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise LocalProtocolError(f"a STUN address needs an IP address, not {host!r}") from None
    check_uint("port", port, 16)
    family = _IPV4 if ip.version == 4 else _IPV6
    packed = ip.packed
    if mask is not None:
        port ^= MAGIC_COOKIE >> 16
        packed = bytes(a ^ b for a, b in zip(packed, mask, strict=False))
    return struct.pack("!BBH", 0, family, port) + packed


def _unpack_address(name: str, value: bytes, mask: bytes | None) -> tuple[str, int]:
    if len(value) < 4:
        raise StunError(f"{name} is too short")
    family, port = value[1], int.from_bytes(value[2:4], "big")
    packed = value[4:]
    if family == _IPV4:
        expect_length(name, value, 8)
    elif family == _IPV6:
        expect_length(name, value, 20)
    else:
        raise StunError(f"{name} has an unknown address family {family}")
    if mask is not None:
        port ^= MAGIC_COOKIE >> 16
        packed = bytes(a ^ b for a, b in zip(packed, mask, strict=False))
    return str(ipaddress.ip_address(packed)), port


@dataclass(frozen=True, slots=True)
class AddressAttribute:
    """An IP address and port carried as is (MAPPED-ADDRESS, ALTERNATE-SERVER)."""

    TYPE: ClassVar[int] = 0
    XORED: ClassVar[bool] = False

    host: str
    port: int

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``."""
        return self.host, self.port

    def encode(self, transaction_id: bytes) -> bytes:
        """Family, port and address (XOR'd for the XOR-* attributes, RFC 8489 §14.2)."""
        return _pack_address(self.host, self.port, self._mask(transaction_id))

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> Self:
        """The address in ``value``."""
        host, port = _unpack_address(cls.__name__, value, cls._mask(transaction_id))
        return cls(host, port)

    @classmethod
    def _mask(cls, transaction_id: bytes) -> bytes | None:
        return _COOKIE_BYTES + transaction_id if cls.XORED else None


@dataclass(frozen=True, slots=True)
class MappedAddress(AddressAttribute):
    """MAPPED-ADDRESS (RFC 8489 §14.1): the reflexive address, not XOR'd (RFC 3489 servers)."""

    TYPE: ClassVar[int] = AttributeType.MAPPED_ADDRESS


@dataclass(frozen=True, slots=True)
class XorMappedAddress(AddressAttribute):
    """XOR-MAPPED-ADDRESS (RFC 8489 §14.2): the reflexive address the server saw."""

    TYPE: ClassVar[int] = AttributeType.XOR_MAPPED_ADDRESS
    XORED: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class AlternateServer(AddressAttribute):
    """ALTERNATE-SERVER (RFC 8489 §14.15): where a 300 Try Alternate sends the client."""

    TYPE: ClassVar[int] = AttributeType.ALTERNATE_SERVER


# -- text -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TextAttribute:
    TYPE: ClassVar[int] = 0
    LIMIT: ClassVar[int] = MAX_TEXT

    value: str

    def encode(self, transaction_id: bytes) -> bytes:
        """The UTF-8 bytes of the text."""
        data = self.value.encode("utf-8")
        if len(data) > self.LIMIT:
            raise LocalProtocolError(f"{type(self).__name__} is longer than {self.LIMIT} bytes")
        return data

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> Self:
        """The text in ``value`` (UTF-8)."""
        return cls(_text(cls.__name__, value, cls.LIMIT))


@dataclass(frozen=True, slots=True)
class Username(TextAttribute):
    """USERNAME (RFC 8489 §14.3); ICE's is ``remote-ufrag:local-ufrag``."""

    TYPE: ClassVar[int] = AttributeType.USERNAME
    LIMIT: ClassVar[int] = MAX_USERNAME


@dataclass(frozen=True, slots=True)
class Realm(TextAttribute):
    """REALM (RFC 8489 §14.9): the long-term credential's realm."""

    TYPE: ClassVar[int] = AttributeType.REALM


@dataclass(frozen=True, slots=True)
class Nonce(TextAttribute):
    """NONCE (RFC 8489 §14.10)."""

    TYPE: ClassVar[int] = AttributeType.NONCE


@dataclass(frozen=True, slots=True)
class Software(TextAttribute):
    """SOFTWARE (RFC 8489 §14.14): a description of the agent."""

    TYPE: ClassVar[int] = AttributeType.SOFTWARE


# -- numbers and flags ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NumberAttribute:
    TYPE: ClassVar[int] = 0
    SIZE: ClassVar[int] = 4

    value: int

    def encode(self, transaction_id: bytes) -> bytes:
        """The number, big-endian on ``SIZE`` bytes."""
        check_uint(type(self).__name__, self.value, 8 * self.SIZE)
        return self.value.to_bytes(self.SIZE, "big")

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> Self:
        """The number in ``value``."""
        return cls(_uint(cls.__name__, value, cls.SIZE))


@dataclass(frozen=True, slots=True)
class Priority(NumberAttribute):
    """PRIORITY (RFC 8445 §16.1): the priority a peer-reflexive candidate would get."""

    TYPE: ClassVar[int] = AttributeType.PRIORITY


@dataclass(frozen=True, slots=True)
class IceControlled(NumberAttribute):
    """ICE-CONTROLLED (RFC 8445 §16.1): the agent is controlled; ``value`` is its tie-breaker."""

    TYPE: ClassVar[int] = AttributeType.ICE_CONTROLLED
    SIZE: ClassVar[int] = 8


@dataclass(frozen=True, slots=True)
class IceControlling(NumberAttribute):
    """ICE-CONTROLLING (RFC 8445 §16.1): the agent is controlling; ``value`` is its tie-breaker."""

    TYPE: ClassVar[int] = AttributeType.ICE_CONTROLLING
    SIZE: ClassVar[int] = 8


@dataclass(frozen=True, slots=True)
class FlagAttribute:
    TYPE: ClassVar[int] = 0

    def encode(self, transaction_id: bytes) -> bytes:
        """Nothing: the attribute's presence is what it says."""
        return b""

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> Self:
        """The flag (``value`` must be empty)."""
        expect_length(cls.__name__, value, 0)
        return cls()


@dataclass(frozen=True, slots=True)
class UseCandidate(FlagAttribute):
    """USE-CANDIDATE (RFC 8445 §16.1): the controlling agent nominates this pair."""

    TYPE: ClassVar[int] = AttributeType.USE_CANDIDATE


# -- user hash --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Userhash:
    """USERHASH (RFC 8489 §14.4): SHA-256 of ``username:realm`` instead of USERNAME."""

    TYPE: ClassVar[int] = AttributeType.USERHASH

    value: bytes

    def encode(self, transaction_id: bytes) -> bytes:
        """The 32 bytes of the hash."""
        if len(self.value) != 32:
            raise LocalProtocolError("a USERHASH is 32 bytes")
        return self.value

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> Userhash:
        """The hash in ``value``."""
        expect_length("USERHASH", value, 32)
        return cls(value)


# -- errors -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ErrorCode:
    """ERROR-CODE (RFC 8489 §14.8): a code 300-699 and a reason phrase."""

    TYPE: ClassVar[int] = AttributeType.ERROR_CODE

    code: int
    reason: str = ""

    def encode(self, transaction_id: bytes) -> bytes:
        """Two reserved bytes, the class (hundreds), the number and the reason."""
        if not 300 <= self.code <= 699:
            raise LocalProtocolError(f"a STUN error code is 300-699, not {self.code}")
        reason = self.reason.encode("utf-8")
        if len(reason) > MAX_TEXT:
            raise LocalProtocolError(f"the reason phrase is longer than {MAX_TEXT} bytes")
        return bytes([0, 0, self.code // 100, self.code % 100]) + reason

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> ErrorCode:
        """The code and reason in ``value`` (an undecodable reason is replaced)."""
        if len(value) < 4:
            raise StunError("ERROR-CODE is too short")
        hundreds, number = value[2] & 0x07, value[3]
        if not 3 <= hundreds <= 6 or number > 99:
            raise StunError(f"ERROR-CODE has a bad code {hundreds}/{number}")
        if len(value) - 4 > MAX_TEXT:
            raise StunError("the ERROR-CODE reason phrase is too long")
        return cls(hundreds * 100 + number, value[4:].decode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class UnknownAttributes:
    """UNKNOWN-ATTRIBUTES (RFC 8489 §14.13): the types a 420 answer did not understand."""

    TYPE: ClassVar[int] = AttributeType.UNKNOWN_ATTRIBUTES

    types: tuple[int, ...]

    def encode(self, transaction_id: bytes) -> bytes:
        """The 16-bit types, one after the other."""
        for kind in self.types:
            check_uint("attribute type", kind, 16)
        return b"".join(kind.to_bytes(2, "big") for kind in self.types)

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> UnknownAttributes:
        """The types listed in ``value``."""
        if len(value) % 2:
            raise StunError("UNKNOWN-ATTRIBUTES has an odd length")
        return cls(tuple(int.from_bytes(value[i : i + 2], "big") for i in range(0, len(value), 2)))


# -- password algorithms --------------------------------------------------------------------
def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


@dataclass(frozen=True, slots=True)
class PasswordAlgorithm:
    """PASSWORD-ALGORITHM (RFC 8489 §14.12): the algorithm the client chose, with its
    parameters (none for MD5 and SHA-256)."""

    TYPE: ClassVar[int] = AttributeType.PASSWORD_ALGORITHM

    algorithm: int
    parameters: bytes = b""

    def encode(self, transaction_id: bytes) -> bytes:
        """Algorithm, parameter length and parameters (padded to 4 bytes)."""
        check_uint("password algorithm", self.algorithm, 16)
        check_uint("parameters length", len(self.parameters), 16)
        return struct.pack("!HH", self.algorithm, len(self.parameters)) + self.parameters

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> PasswordAlgorithm:
        """The algorithm in ``value``."""
        found, rest = cls.split(value)
        if rest.strip(b"\0"):
            raise StunError("PASSWORD-ALGORITHM has trailing bytes")
        return found

    @classmethod
    def split(cls, value: bytes) -> tuple[PasswordAlgorithm, bytes]:
        """The first algorithm in ``value`` and what follows its padding."""
        if len(value) < 4:
            raise StunError("a password algorithm is too short")
        algorithm, length = struct.unpack_from("!HH", value)
        end = 4 + length
        if end > len(value):
            raise StunError("a password algorithm's parameters overrun")
        return cls(algorithm, value[4:end]), value[end + (-end % 4) :]


@dataclass(frozen=True, slots=True)
class PasswordAlgorithms:
    """PASSWORD-ALGORITHMS (RFC 8489 §14.11): the algorithms a server offers, preferred first."""

    TYPE: ClassVar[int] = AttributeType.PASSWORD_ALGORITHMS

    algorithms: tuple[PasswordAlgorithm, ...]

    def encode(self, transaction_id: bytes) -> bytes:
        """Each algorithm, padded to 4 bytes."""
        return b"".join(_pad4(each.encode(transaction_id)) for each in self.algorithms)

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> PasswordAlgorithms:
        """The algorithms in ``value``."""
        found: list[PasswordAlgorithm] = []
        while value:
            algorithm, value = PasswordAlgorithm.split(value)
            found.append(algorithm)
        return cls(tuple(found))


# -- attributes sansip does not know -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UnknownAttribute:
    """An attribute sansip does not decode, kept as bytes.  ``comprehension_required``
    types (below 0x8000) in a request are answered with 420 (RFC 8489 §6.3.1)."""

    TYPE: ClassVar[int] = -1

    type: int
    value: bytes

    @property
    def comprehension_required(self) -> bool:
        """Whether the type is in the comprehension-required range 0x0000-0x7FFF."""
        return self.type < 0x8000

    def encode(self, transaction_id: bytes) -> bytes:
        """The value as is."""
        return self.value
