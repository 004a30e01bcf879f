"""Hypothesis properties of the STUN codec: round trips, and no crash on any input."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.ice import (
    ATTRIBUTE_CLASSES,
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
    Nonce,
    PasswordAlgorithm,
    PasswordAlgorithms,
    Priority,
    Realm,
    RequestedTransport,
    ReservationToken,
    Software,
    StunAttribute,
    StunClient,
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
    answer_binding,
    check_integrity,
    encode_message,
    parse_message,
    short_term_key,
)
from tests.conftest import examples

HOSTS = st.ip_addresses().map(str)
PORTS = st.integers(0, 65535)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
KNOWN_TYPES = set(ATTRIBUTE_CLASSES) | {0x0008, 0x001C, 0x8028}

addresses = st.one_of(
    *(
        st.builds(cls, HOSTS, PORTS)
        for cls in (MappedAddress, XorMappedAddress, AlternateServer, XorPeerAddress)
    ),
    st.builds(XorRelayedAddress, HOSTS, PORTS),
)
texts = st.one_of(
    st.builds(Username, TEXT),
    st.builds(Realm, TEXT),
    st.builds(Nonce, TEXT),
    st.builds(Software, TEXT),
)
numbers = st.one_of(
    st.builds(Priority, st.integers(0, 2**32 - 1)),
    st.builds(Lifetime, st.integers(0, 2**32 - 1)),
    st.builds(IceControlled, st.integers(0, 2**64 - 1)),
    st.builds(IceControlling, st.integers(0, 2**64 - 1)),
    st.builds(ChannelNumber, st.integers(0, 2**16 - 1)),
    st.builds(RequestedTransport, st.integers(0, 255)),
    st.builds(EvenPort, st.booleans()),
    st.just(UseCandidate()),
    st.just(DontFragment()),
)
password_algorithms = st.builds(
    PasswordAlgorithm, st.integers(0, 2**16 - 1), st.binary(max_size=12)
)
opaque = st.one_of(
    st.builds(Data, st.binary(max_size=64)),
    st.builds(ReservationToken, st.binary(min_size=8, max_size=8)),
    st.builds(Userhash, st.binary(min_size=32, max_size=32)),
    st.builds(ErrorCode, st.integers(300, 699), TEXT),
    st.builds(UnknownAttributes, st.lists(st.integers(0, 2**16 - 1), max_size=6).map(tuple)),
    password_algorithms,
    st.builds(PasswordAlgorithms, st.lists(password_algorithms, max_size=3).map(tuple)),
    st.builds(
        UnknownAttribute,
        st.integers(0, 2**16 - 1).filter(lambda t: t not in KNOWN_TYPES),
        st.binary(max_size=24),
    ),
)
attributes: st.SearchStrategy[StunAttribute] = st.one_of(addresses, texts, numbers, opaque)
messages = st.builds(
    StunMessage,
    st.integers(0, 0xFFF),
    st.sampled_from(MessageClass),
    st.binary(min_size=12, max_size=12),
    st.lists(attributes, max_size=8).map(tuple),
)
protection = st.tuples(
    st.none() | st.binary(min_size=1, max_size=32),
    st.sampled_from(Integrity),
    st.booleans(),
    st.sampled_from([0, 0x20, 0xFF]),
)


@settings(max_examples=examples(300))
@given(messages, protection)
def test_any_message_round_trips(
    message: StunMessage, protect: tuple[bytes | None, Integrity, bool, int]
) -> None:
    key, integrity, fingerprint, padding = protect
    wire = encode_message(
        message, key=key, integrity=integrity, fingerprint=fingerprint, padding=padding
    )
    parsed = parse_message(wire)
    assert parsed == message
    assert parsed.fingerprint_ok is (True if fingerprint else None)
    if key is not None:
        assert check_integrity(parsed, key)
        assert not check_integrity(parsed, key + b"x")
    if padding == 0:
        assert encode_message(parsed, key=key, integrity=integrity, fingerprint=fingerprint) == wire


def _survives(data: bytes) -> None:
    """Parsing ``data`` gives a message or StunError; nothing downstream raises."""
    try:
        parsed = parse_message(data)
    except StunError as exc:
        assert exc.status == 400
    else:
        check_integrity(parsed, b"key")
        _ = parsed.unknown_required, parsed.fingerprint_ok, parsed.error_code
    answer_binding(data, ("192.0.2.1", 1), key_for=lambda user: b"key")
    client = StunClient(rng=random.Random(0))
    client.receive_datagram(data, ("192.0.2.1", 1), 0.0)


@settings(max_examples=examples(500))
@given(st.binary(max_size=128))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    _survives(data)


@settings(max_examples=examples(500))
@given(st.binary(max_size=96), st.integers(0, 0x3FFF), st.binary(min_size=12, max_size=12))
def test_random_bodies_behind_a_valid_header_never_raise_anything_else(
    body: bytes, kind: int, tid: bytes
) -> None:
    body += bytes(-len(body) % 4)
    header = kind.to_bytes(2, "big") + len(body).to_bytes(2, "big")
    _survives(header + MAGIC_COOKIE.to_bytes(4, "big") + tid + body)


@settings(max_examples=examples(300))
@given(
    messages,
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.booleans(),
)
def test_mutated_messages_never_raise_anything_else(
    message: StunMessage, fingerprint: bool, edits: list[tuple[int, int]], fix_length: bool
) -> None:
    wire = bytearray(encode_message(message, key=b"key", fingerprint=fingerprint))
    for position, value in edits:
        wire[position % len(wire)] = value
    if fix_length:  # keep the header consistent so the attributes get parsed
        wire[2:4] = (len(wire) - 20).to_bytes(2, "big")
    _survives(bytes(wire))
    _survives(bytes(wire[: edits[0][0] % len(wire)]))


@settings(max_examples=examples(100))
@given(messages)
def test_integrity_fails_on_any_flipped_covered_byte(message: StunMessage) -> None:
    key = short_term_key("pass")
    wire = encode_message(message, key=key)
    position = len(wire) // 2
    mutated = bytearray(wire)
    mutated[position] ^= 0x01
    try:
        parsed = parse_message(bytes(mutated))
    except StunError:
        return
    assert not check_integrity(parsed, key)
