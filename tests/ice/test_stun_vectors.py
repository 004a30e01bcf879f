"""The RFC 5769 test vectors (conformance/data/stun-rfc5769): parse, verify, re-serialize."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sansip.ice import (
    IceControlled,
    MessageClass,
    Method,
    Nonce,
    Priority,
    Realm,
    Software,
    StunError,
    StunMessage,
    Username,
    XorMappedAddress,
    check_integrity,
    encode_message,
    long_term_key,
    parse_message,
    saslprep,
    short_term_key,
)

SHORT_TERM_PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt"
TID_1_TO_3 = bytes.fromhex("b7e7a701bc34d686fa87dfae")
USERNAME_2_4 = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"
PASSWORD_2_4 = "The\u00adM\u00aatr\u2168"


@pytest.fixture(scope="module")
def vectors(conformance_data: Path) -> Path:
    return conformance_data / "stun-rfc5769"


def _wire(vectors: Path, name: str) -> bytes:
    return (vectors / name).read_bytes()


def _long_term_key() -> bytes:
    return long_term_key(USERNAME_2_4, "example.org", PASSWORD_2_4, prepare=saslprep)


def test_the_hex_and_json_copies_hold_the_same_bytes(vectors: Path) -> None:
    listed: dict[str, Any] = json.loads((vectors / "vectors.json").read_text(encoding="utf-8"))
    assert len(listed["vectors"]) == 4
    for vector in listed["vectors"]:
        data = _wire(vectors, vector["file"])
        assert len(data) == vector["length"]
        assert data.hex() == vector["message_hex"]
        hex_file = (vectors / vector["file"].replace(".bin", ".hex")).read_text(encoding="ascii")
        assert bytes.fromhex("".join(hex_file.split())) == data
        assert parse_message(data).transaction_id.hex() == vector["transaction_id_hex"]


def test_2_1_sample_request(vectors: Path) -> None:
    data = _wire(vectors, "2.1-sample-request.bin")
    message = parse_message(data)
    assert (message.method, message.message_class) == (Method.BINDING, MessageClass.REQUEST)
    assert message.transaction_id == TID_1_TO_3
    assert message.attributes == (
        Software("STUN test client"),
        Priority(0x6E0001FF),
        IceControlled(0x932FF9B151263B36),
        Username("evtj:h6vY"),
    )
    assert message.fingerprint_ok is True
    key = short_term_key(SHORT_TERM_PASSWORD)
    assert check_integrity(message, key)
    assert not check_integrity(message, short_term_key("wrong"))
    # USERNAME is padded with three spaces: identical only with that padding.
    assert encode_message(message, key=key, fingerprint=True, padding=0x20) == data
    zero_padded = encode_message(message, key=key, fingerprint=True)
    assert zero_padded != data and parse_message(zero_padded) == message


@pytest.mark.parametrize(
    ("name", "host"),
    [
        ("2.2-sample-ipv4-response.bin", "192.0.2.1"),
        ("2.3-sample-ipv6-response.bin", "2001:db8:1234:5678:11:2233:4455:6677"),
    ],
)
def test_2_2_and_2_3_sample_responses(vectors: Path, name: str, host: str) -> None:
    data = _wire(vectors, name)
    message = parse_message(data)
    assert (message.method, message.message_class) == (Method.BINDING, MessageClass.SUCCESS)
    assert message.transaction_id == TID_1_TO_3
    assert message.attributes == (Software("test vector"), XorMappedAddress(host, 32853))
    assert message.fingerprint_ok is True
    key = short_term_key(SHORT_TERM_PASSWORD)
    assert check_integrity(message, key)
    assert encode_message(message, key=key, fingerprint=True, padding=0x20) == data


def test_2_4_sample_request_with_long_term_credentials(vectors: Path) -> None:
    data = _wire(vectors, "2.4-sample-request-long-term-auth.bin")
    message = parse_message(data)
    assert (message.method, message.message_class) == (Method.BINDING, MessageClass.REQUEST)
    assert message.transaction_id == bytes.fromhex("78ad3433c6ad72c029da412e")
    assert message.attributes == (
        Username(USERNAME_2_4),
        Nonce("f//499k954d6OL34oL9FSTvy64sA"),
        Realm("example.org"),
    )
    assert message.fingerprint_ok is None
    assert saslprep(PASSWORD_2_4) == "TheMatrIX"
    key = _long_term_key()
    assert key.hex() == "e8ca7ad59d5eb0518e312911d2dab2a9"
    assert check_integrity(message, key)
    # Zero padding, as RFC 8489 asks: byte-identical with the default encoder.
    assert encode_message(message, key=key) == data


def test_the_wrong_password_preparation_gives_another_key() -> None:
    """OpaqueString (RFC 8489) keeps what SASLprep (RFC 5389) maps away."""
    assert long_term_key(USERNAME_2_4, "example.org", PASSWORD_2_4) != _long_term_key()


@pytest.mark.parametrize(
    "name",
    [
        "2.1-sample-request.bin",
        "2.2-sample-ipv4-response.bin",
        "2.3-sample-ipv6-response.bin",
        "2.4-sample-request-long-term-auth.bin",
    ],
)
def test_flipping_any_covered_byte_breaks_integrity_or_parsing(vectors: Path, name: str) -> None:
    data = _wire(vectors, name)
    key = _long_term_key() if name.startswith("2.4") else short_term_key(SHORT_TERM_PASSWORD)
    covered = len(data) - (0 if name.startswith("2.4") else 8)  # FINGERPRINT is not covered
    for index in range(covered):
        for bit in (0x01, 0x80):
            mutated = bytearray(data)
            mutated[index] ^= bit
            try:
                message = parse_message(bytes(mutated))
            except StunError:  # a broken header or attribute: refused outright
                continue
            assert not (check_integrity(message, key) and message.fingerprint_ok is not False)


def test_a_built_message_equals_the_parsed_vector(vectors: Path) -> None:
    built = StunMessage(
        Method.BINDING,
        MessageClass.SUCCESS,
        TID_1_TO_3,
        (Software("test vector"), XorMappedAddress("192.0.2.1", 32853)),
    )
    key = short_term_key(SHORT_TERM_PASSWORD)
    wire = encode_message(built, key=key, fingerprint=True, padding=0x20)
    assert wire == _wire(vectors, "2.2-sample-ipv4-response.bin")
