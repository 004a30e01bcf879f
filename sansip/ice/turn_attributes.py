"""The TURN attributes (RFC 8656 §18) as typed values, for the TURN client to come.

They follow the conventions of :mod:`sansip.ice.stun_attributes`: frozen
dataclasses with their type code in ``TYPE``, :meth:`encode` and the class
method :meth:`decode`, which raises only :class:`StunError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sansip.errors import LocalProtocolError
from sansip.ice.stun_attributes import (
    AddressAttribute,
    AttributeType,
    FlagAttribute,
    NumberAttribute,
    check_uint,
    expect_length,
)

__all__ = [
    "ChannelNumber",
    "Data",
    "DontFragment",
    "EvenPort",
    "Lifetime",
    "RequestedTransport",
    "ReservationToken",
    "XorPeerAddress",
    "XorRelayedAddress",
]


@dataclass(frozen=True, slots=True)
class XorPeerAddress(AddressAttribute):
    """XOR-PEER-ADDRESS (RFC 8656 §18.3): a TURN peer's address."""

    TYPE: ClassVar[int] = AttributeType.XOR_PEER_ADDRESS
    XORED: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class XorRelayedAddress(AddressAttribute):
    """XOR-RELAYED-ADDRESS (RFC 8656 §18.5): the relayed transport address allocated."""

    TYPE: ClassVar[int] = AttributeType.XOR_RELAYED_ADDRESS
    XORED: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Lifetime(NumberAttribute):
    """LIFETIME (RFC 8656 §18.2): seconds an allocation should live."""

    TYPE: ClassVar[int] = AttributeType.LIFETIME


@dataclass(frozen=True, slots=True)
class ChannelNumber:
    """CHANNEL-NUMBER (RFC 8656 §18.1): a channel (0x4000-0x4FFF) and 2 reserved bytes."""

    TYPE: ClassVar[int] = AttributeType.CHANNEL_NUMBER

    value: int

    def encode(self, transaction_id: bytes) -> bytes:
        """The channel number and two zero bytes."""
        check_uint("channel number", self.value, 16)
        return self.value.to_bytes(2, "big") + b"\0\0"

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> ChannelNumber:
        """The channel number in ``value`` (the reserved bytes are ignored)."""
        expect_length("CHANNEL-NUMBER", value, 4)
        return cls(int.from_bytes(value[:2], "big"))


@dataclass(frozen=True, slots=True)
class RequestedTransport:
    """REQUESTED-TRANSPORT (RFC 8656 §18.7): an IP protocol number (17 for UDP)."""

    TYPE: ClassVar[int] = AttributeType.REQUESTED_TRANSPORT

    protocol: int = 17

    def encode(self, transaction_id: bytes) -> bytes:
        """The protocol number and three zero bytes."""
        check_uint("protocol", self.protocol, 8)
        return bytes([self.protocol, 0, 0, 0])

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> RequestedTransport:
        """The protocol in ``value`` (the reserved bytes are ignored)."""
        expect_length("REQUESTED-TRANSPORT", value, 4)
        return cls(value[0])


@dataclass(frozen=True, slots=True)
class EvenPort:
    """EVEN-PORT (RFC 8656 §18.6): ask for an even port, ``reserve`` the next one too."""

    TYPE: ClassVar[int] = AttributeType.EVEN_PORT

    reserve: bool = False

    def encode(self, transaction_id: bytes) -> bytes:
        """One byte: the R bit on top."""
        return b"\x80" if self.reserve else b"\0"

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> EvenPort:
        """The R bit of ``value``."""
        expect_length("EVEN-PORT", value, 1)
        return cls(bool(value[0] & 0x80))


@dataclass(frozen=True, slots=True)
class DontFragment(FlagAttribute):
    """DONT-FRAGMENT (RFC 8656 §18.8): set DF on relayed packets."""

    TYPE: ClassVar[int] = AttributeType.DONT_FRAGMENT


@dataclass(frozen=True, slots=True)
class Data:
    """DATA (RFC 8656 §18.4): application data relayed by TURN."""

    TYPE: ClassVar[int] = AttributeType.DATA

    value: bytes

    def encode(self, transaction_id: bytes) -> bytes:
        """The data as is."""
        return self.value

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> Data:
        """``value`` as is."""
        return cls(value)


@dataclass(frozen=True, slots=True)
class ReservationToken:
    """RESERVATION-TOKEN (RFC 8656 §18.9): 8 bytes naming a reserved relayed address."""

    TYPE: ClassVar[int] = AttributeType.RESERVATION_TOKEN

    value: bytes

    def encode(self, transaction_id: bytes) -> bytes:
        """The 8 bytes of the token."""
        if len(self.value) != 8:
            raise LocalProtocolError("a reservation token is 8 bytes")
        return self.value

    @classmethod
    def decode(cls, value: bytes, transaction_id: bytes) -> ReservationToken:
        """The token in ``value``."""
        expect_length("RESERVATION-TOKEN", value, 8)
        return cls(value)
