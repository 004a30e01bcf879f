"""The STUN codec: header bits, every attribute, integrity, fingerprint, errors."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.ice import (
    MAGIC_COOKIE,
    AlternateServer,
    ChannelNumber,
    Data,
    DontFragment,
    ErrorCode,
    EvenPort,
    IceControlled,
    IceControlling,
    Integrity,
    Lifetime,
    MappedAddress,
    MessageClass,
    Method,
    Nonce,
    PasswordAlgorithm,
    PasswordAlgorithmId,
    PasswordAlgorithms,
    Priority,
    Realm,
    RequestedTransport,
    ReservationToken,
    Software,
    StunAttribute,
    StunError,
    StunMessage,
    UnknownAttribute,
    UnknownAttributes,
    UseCandidate,
    Userhash,
    Username,
    XorMappedAddress,
    XorPeerAddress,
    XorRelayedAddress,
    check_integrity,
    encode_message,
    is_stun,
    long_term_key,
    opaque_string,
    parse_message,
    saslprep,
    short_term_key,
    stun_message_length,
    userhash,
)

TID = bytes(range(1, 13))
KEY = short_term_key("secret")


def message(*attributes: StunAttribute, cls: MessageClass = MessageClass.REQUEST) -> StunMessage:
    return StunMessage(Method.BINDING, cls, TID, attributes)


@pytest.mark.parametrize(
    ("method", "cls", "wire_type"),
    [
        (Method.BINDING, MessageClass.REQUEST, 0x0001),
        (Method.BINDING, MessageClass.INDICATION, 0x0011),
        (Method.BINDING, MessageClass.SUCCESS, 0x0101),
        (Method.BINDING, MessageClass.ERROR, 0x0111),
        (Method.ALLOCATE, MessageClass.REQUEST, 0x0003),
        (Method.ALLOCATE, MessageClass.ERROR, 0x0113),
        (Method.CHANNEL_BIND, MessageClass.SUCCESS, 0x0109),
        (Method.SEND, MessageClass.INDICATION, 0x0016),
        (Method.DATA, MessageClass.INDICATION, 0x0017),
        (0xFFF, MessageClass.ERROR, 0x3FFF),
        (0x0F0, MessageClass.REQUEST, 0x02E0),
    ],
)
def test_the_type_interleaves_method_and_class(
    method: int, cls: MessageClass, wire_type: int
) -> None:
    wire = encode_message(StunMessage(method, cls, TID))
    assert wire[:2] == wire_type.to_bytes(2, "big")
    assert wire[2:4] == b"\0\0" and wire[4:8] == MAGIC_COOKIE.to_bytes(4, "big")
    assert wire[8:] == TID
    parsed = parse_message(wire)
    assert (parsed.method, parsed.message_class) == (method, cls)


ALL_ATTRIBUTES: list[StunAttribute] = [
    MappedAddress("192.0.2.7", 1),
    MappedAddress("2001:db8::1", 65535),
    XorMappedAddress("10.0.0.1", 5060),
    XorMappedAddress("::1", 3478),
    AlternateServer("198.51.100.2", 3479),
    XorPeerAddress("203.0.113.9", 40000),
    XorRelayedAddress("2001:db8::2", 50000),
    Username("alice:bob"),
    Realm("example.org"),
    Nonce("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"),
    Software("sansip"),
    Priority(0x6E7F1EFF),
    IceControlled(2**64 - 1),
    IceControlling(1),
    Lifetime(600),
    ChannelNumber(0x4001),
    RequestedTransport(17),
    EvenPort(reserve=True),
    EvenPort(reserve=False),
    UseCandidate(),
    DontFragment(),
    Data(b"\x00\x01\x02"),
    ReservationToken(b"12345678"),
    Userhash(bytes(32)),
    ErrorCode(401, "Unauthorized"),
    UnknownAttributes((0x0031, 0x7FFF, 0x0001)),
    PasswordAlgorithm(PasswordAlgorithmId.SHA256),
    PasswordAlgorithm(7, b"abc"),
    PasswordAlgorithms(
        (PasswordAlgorithm(PasswordAlgorithmId.SHA256), PasswordAlgorithm(9, b"xyzzy"))
    ),
    UnknownAttribute(0x7F00, b"hello"),
    UnknownAttribute(0xC001, b""),
]


@pytest.mark.parametrize("attribute", ALL_ATTRIBUTES, ids=repr)
def test_every_attribute_round_trips_padded(attribute: StunAttribute) -> None:
    wire = encode_message(message(attribute))
    assert len(wire) % 4 == 0
    assert parse_message(wire).attributes == (attribute,)


def test_all_attributes_in_one_message_round_trip() -> None:
    built = message(*ALL_ATTRIBUTES)
    for integrity in Integrity:
        wire = encode_message(built, key=KEY, integrity=integrity, fingerprint=True)
        parsed = parse_message(wire)
        assert parsed == built
        assert check_integrity(parsed, KEY) and parsed.fingerprint_ok


def test_xor_mapped_address_bytes() -> None:
    """RFC 8489 §14.2: port xor 0x2112, IPv4 address xor the magic cookie."""
    value = XorMappedAddress("192.0.2.1", 32853).encode(TID)
    assert value == bytes.fromhex("0001a147e112a643")
    assert MappedAddress("192.0.2.1", 32853).encode(TID) == bytes.fromhex("00018055c0000201")


def test_error_code_and_unknown_required() -> None:
    wire = encode_message(message(ErrorCode(420, "Unknown Attribute"), cls=MessageClass.ERROR))
    assert wire[24:28] == bytes([0, 0, 4, 20])
    parsed = message(UnknownAttribute(0x0031, b""), UnknownAttribute(0x8031, b""), Username("a"))
    assert parsed.unknown_required == (0x0031,)
    assert parse_message(encode_message(parsed)).unknown_required == (0x0031,)


def test_get_returns_the_first_of_a_kind() -> None:
    parsed = parse_message(encode_message(message(Username("a"), Username("b"), Priority(5))))
    assert parsed.get(Username) == Username("a")
    assert parsed.get_all(Username) == [Username("a"), Username("b")]
    assert parsed.get(Realm) is None
    assert parsed.error_code is None


def test_integrity_variants_and_truncated_sha256() -> None:
    built = message(Username("u"))
    sha1 = parse_message(encode_message(built, key=KEY))
    assert check_integrity(sha1, KEY) and not sha1.has_sha256_integrity
    assert not check_integrity(sha1, KEY, sha256=True)
    both = parse_message(encode_message(built, key=KEY, integrity=Integrity.BOTH))
    assert check_integrity(both, KEY, sha256=True) and check_integrity(both, KEY, sha256=False)
    # A MESSAGE-INTEGRITY-SHA256 truncated to 16 bytes (RFC 8489 §14.6) still verifies.
    head = encode_message(built)
    prefix = head[:2] + (len(head) - 20 + 20).to_bytes(2, "big") + head[4:]
    mac = hmac.new(KEY, prefix, hashlib.sha256).digest()[:16]
    truncated = parse_message(prefix + struct.pack("!HH", 0x001C, 16) + mac)
    assert check_integrity(truncated, KEY)
    assert not check_integrity(truncated, short_term_key("other"))


def test_a_built_message_has_nothing_to_check() -> None:
    built = message(Username("u"))
    assert not check_integrity(built, KEY)
    assert not built.has_integrity and built.fingerprint_ok is None


def test_attributes_after_integrity_are_ignored() -> None:
    wire = encode_message(message(Username("u")), key=KEY)
    tail = struct.pack("!HH", 0x0024, 4) + b"\0\0\0\1"  # PRIORITY after MESSAGE-INTEGRITY
    length = len(wire) - 20 + len(tail)
    extended = wire[:2] + length.to_bytes(2, "big") + wire[4:] + tail
    parsed = parse_message(extended)
    assert parsed.attributes == (Username("u"),)
    assert check_integrity(parsed, KEY)


def test_a_bad_fingerprint_is_recorded() -> None:
    wire = bytearray(encode_message(message(Username("u")), fingerprint=True))
    wire[-1] ^= 1
    assert parse_message(bytes(wire)).fingerprint_ok is False


def test_userhash_and_sha256_keys() -> None:
    assert userhash("user", "realm") == hashlib.sha256(b"user:realm").digest()
    md5 = long_term_key("user", "realm", "pass")
    assert md5 == hashlib.md5(b"user:realm:pass").digest()
    sha = long_term_key("user", "realm", "pass", algorithm=PasswordAlgorithmId.SHA256)
    assert sha == hashlib.sha256(b"user:realm:pass").digest()
    with pytest.raises(LocalProtocolError):
        long_term_key("user", "realm", "pass", algorithm=99)
    assert short_term_key("p\u00a0w") == b"p w"  # a non-ASCII space becomes U+0020
    with pytest.raises(LocalProtocolError):
        short_term_key("bad\x07")


def test_is_stun_demultiplexes() -> None:
    wire = encode_message(message())
    assert is_stun(wire)
    assert not is_stun(wire[:19])
    assert not is_stun(b"\x80" + wire[1:])  # RTP
    assert not is_stun(b"\x16" + wire[1:])  # DTLS
    assert not is_stun(wire[:4] + b"\0\0\0\0" + wire[8:])  # RFC 3489, no cookie
    assert stun_message_length(wire + b"more") == 20
    assert stun_message_length(wire[:3]) is None


COOKIE = MAGIC_COOKIE.to_bytes(4, "big")


def raw(body: bytes, length: int | None = None, kind: bytes = b"\x00\x01") -> bytes:
    """A Binding request with ``body`` as its attributes and a header length."""
    size = len(body) if length is None else length
    return kind + size.to_bytes(2, "big") + COOKIE + TID + body


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(19),
        raw(b"", kind=b"\xc0\x01"),  # the top bits set
        b"\x00\x01\x00\x00\x00\x00\x00\x00" + TID,  # no cookie
        raw(b"", length=4),  # the length overruns
        raw(b"\0\0"),  # not 4-aligned
        raw(b"\x00\x06\x00\x05"),  # USERNAME overruns
        raw(b"\x00\x24\x00\x02\0\0\0\0"),  # PRIORITY of 2 bytes
        raw(b"\x00\x06\x00\x02\xff\xfe\0\0"),  # USERNAME not UTF-8
        raw(b"\x00\x20\x00\x08\x00\x03" + bytes(6)),  # address family 3
        raw(b"\x00\x20\x00\x04\x00\x01\x00\x00"),  # an IPv4 address of 0 bytes
        raw(b"\x00\x09\x00\x04\x00\x00\x02\x00"),  # error class 2
        raw(b"\x00\x09\x00\x04\x00\x00\x04\x64"),  # error number 100
        raw(b"\x00\x08\x00\x04\0\0\0\0"),  # MESSAGE-INTEGRITY of 4 bytes
        raw(b"\x00\x1c\x00\x0c" + bytes(12)),  # MESSAGE-INTEGRITY-SHA256 of 12 bytes
        raw(b"\x80\x28\x00\x02\0\0\0\0"),  # FINGERPRINT of 2 bytes
        raw(b"\x80\x28\x00\x04\0\0\0\0\x00\x25\x00\x00"),  # after FINGERPRINT
        raw(b"\x00\x0a\x00\x03\0\0\0\0"),  # UNKNOWN-ATTRIBUTES of odd length
        raw(b"\x00\x1d\x00\x04\x00\x01\x00\x08"),  # PASSWORD-ALGORITHM overruns
    ],
)
def test_malformed_messages_raise_stun_error(data: bytes) -> None:
    with pytest.raises(StunError) as caught:
        parse_message(data)
    assert isinstance(caught.value, RemoteProtocolError)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "built",
    [
        StunMessage(Method.BINDING, MessageClass.REQUEST),  # no transaction id
        StunMessage(0x1000, MessageClass.REQUEST, TID),
        message(XorMappedAddress("example.com", 1)),
        message(MappedAddress("10.0.0.1", 70000)),
        message(Priority(-1)),
        message(ErrorCode(200)),
        message(ReservationToken(b"short")),
        message(Userhash(b"short")),
        message(Username("x" * 514)),
        message(Data(bytes(70000))),
    ],
)
def test_what_cannot_be_encoded_raises_local_errors(built: StunMessage) -> None:
    with pytest.raises(LocalProtocolError):
        encode_message(built)


@pytest.mark.parametrize(
    ("text", "prepared"),
    [
        ("I\u00adX", "IX"),  # RFC 4013 §3: soft hyphen mapped to nothing
        ("user", "user"),
        ("\u00aa", "a"),  # NFKC
        ("\u2168", "IX"),
        ("a\u2003b", "a b"),  # a non-ASCII space
    ],
)
def test_saslprep_maps(text: str, prepared: str) -> None:
    assert saslprep(text) == prepared


@pytest.mark.parametrize("text", ["\x07", "a\u0627", "\u06271", "\ufffd\U000e0001"])
def test_saslprep_refuses(text: str) -> None:
    with pytest.raises(LocalProtocolError):
        saslprep(text)


def test_opaque_string_keeps_what_saslprep_maps() -> None:
    assert opaque_string("I\u00adX\u2168") == "I\u00adX\u2168"
    assert opaque_string("e\u0301") == "\u00e9"  # NFC
