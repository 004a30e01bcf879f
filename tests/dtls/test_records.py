"""The record layer, handshake framing and key schedule pieces."""

from __future__ import annotations

import hashlib

import pytest

from sansip.dtls.certificates import (
    certificate_fingerprint,
    fingerprints_match,
    generate_certificate,
    load_certificate,
)
from sansip.dtls.crypto import prf
from sansip.dtls.fragments import (
    FragmentFate,
    Reassembler,
    encode_handshake,
    parse_fragments,
    split_message,
)
from sansip.dtls.messages import ClientHello, DecodeError, decode_use_srtp, encode_use_srtp
from sansip.dtls.records import (
    MAX_SEQUENCE,
    RecordCipher,
    ReplayWindow,
    encode_record,
    parse_records,
)
from tests.dtls.helpers import ecdsa_certificate


def test_tls12_prf_sha256_vector() -> None:
    out = prf("sha256", bytes.fromhex("9bbe436ba940f017b17652849a71db35"), b"test label",
              bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"), 100)  # fmt: skip
    assert out.hex().startswith("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a")
    assert out.hex().endswith("a48082d122ee42c5a72e5a5110fff70187347b66")


def test_records_round_trip_with_48_bit_sequence_numbers() -> None:
    datagram = encode_record(22, 0, 5, b"abc") + encode_record(23, 1, MAX_SEQUENCE, b"")
    records, ok = parse_records(datagram)
    assert ok
    assert [(r.content_type, r.epoch, r.sequence, r.fragment) for r in records] == [
        (22, 0, 5, b"abc"),
        (23, 1, MAX_SEQUENCE, b""),
    ]


@pytest.mark.parametrize(
    "datagram",
    [
        b"\x16\xfe\xfd\x00",  # short header
        encode_record(22, 0, 1, b"abc")[:-1],  # short fragment
        b"\x16\x03\x03" + bytes(10),  # TLS, not DTLS
    ],
)
def test_malformed_records_are_reported(datagram: bytes) -> None:
    records, ok = parse_records(datagram)
    assert not ok and records == []


def test_replay_window() -> None:
    window = ReplayWindow(64)
    assert window.is_fresh(0)
    window.mark(0)
    assert not window.is_fresh(0)
    window.mark(100)
    assert window.is_fresh(99) and window.is_fresh(37)
    assert not window.is_fresh(36)  # left of the window
    window.mark(99)
    assert not window.is_fresh(99) and not window.is_fresh(100)
    window.mark(1000)
    assert not window.is_fresh(100) and window.is_fresh(999)


def test_record_cipher_authenticates_header_and_payload() -> None:
    sender = RecordCipher(bytes(16), bytes(4))
    receiver = RecordCipher(bytes(16), bytes(4))
    sealed = sender.seal(23, 1, 7, b"secret")
    good = parse_records(encode_record(23, 1, 7, sealed))[0][0]
    assert receiver.unseal(good) == b"secret"
    moved = parse_records(encode_record(23, 1, 8, sealed))[0][0]
    assert receiver.unseal(moved) is None
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert receiver.unseal(parse_records(encode_record(23, 1, 7, flipped))[0][0]) is None
    assert receiver.unseal(parse_records(encode_record(23, 1, 7, b"short"))[0][0]) is None


def test_split_and_reassemble_out_of_order_with_overlap() -> None:
    body = bytes(range(256)) * 3
    message = encode_handshake(11, 4, body)
    pieces = split_message(message, 100)
    assert len(pieces) == 8
    fragments = [f for p in pieces for f in parse_fragments(p)]
    reassembler = Reassembler()
    reassembler.next_seq = 4
    for fragment in reversed(fragments):
        assert reassembler.add(fragment, 0) is FragmentFate.ACCEPTED
        assert fragment is fragments[0] or reassembler.pop() is None
    # an overlapping duplicate before completion changes nothing
    reassembler.add(parse_fragments(split_message(message, 150)[1])[0], 0)
    whole = reassembler.pop()
    assert whole is not None and whole.body == body and whole.encoded == message
    assert reassembler.add(fragments[0], 0) is FragmentFate.OLD
    far = parse_fragments(encode_handshake(11, 40, b"x"))[0]
    assert reassembler.add(far, 0) is FragmentFate.DROPPED


def test_an_inconsistent_fragment_replaces_what_came_before() -> None:
    reassembler = Reassembler()
    genuine = [parse_fragments(p)[0] for p in split_message(encode_handshake(1, 0, bytes(50)), 20)]
    forged = parse_fragments(split_message(encode_handshake(1, 0, bytes(51)), 20)[1])[0]
    assert reassembler.add(genuine[0], 0) is FragmentFate.ACCEPTED
    assert reassembler.add(forged, 0) is FragmentFate.REPLACED
    assert reassembler.add(genuine[0], 1) is FragmentFate.REPLACED  # another epoch
    assert reassembler.add(genuine[0], 0) is FragmentFate.REPLACED
    for fragment in genuine[1:]:
        assert reassembler.add(fragment, 0) is FragmentFate.ACCEPTED
    message = reassembler.pop()
    assert message is not None and message.body == bytes(50)


def test_fragment_out_of_bounds_is_a_decode_error() -> None:
    bad = bytes([1, 0, 0, 10, 0, 0, 0, 0, 8, 0, 0, 4]) + bytes(4)
    with pytest.raises(DecodeError):
        parse_fragments(bad)


def test_client_hello_round_trip_and_use_srtp() -> None:
    hello = ClientHello(bytes(32), b"", b"c" * 20, (0xC02B,), b"\x00",
                        [(14, encode_use_srtp([1, 7], b"m"))])  # fmt: skip
    assert ClientHello.parse(hello.encode()) == hello
    assert decode_use_srtp(encode_use_srtp([1, 7], b"m")) == ([1, 7], b"m")
    with pytest.raises(DecodeError):
        decode_use_srtp(b"\x00\x00\x00")
    with pytest.raises(DecodeError):
        ClientHello.parse(hello.encode() + b"x")


def test_fingerprint_form_and_matching() -> None:
    certificate = ecdsa_certificate(1)
    digest = hashlib.sha256(certificate.der).hexdigest().upper()
    assert certificate.fingerprint == "sha-256 " + ":".join(
        digest[i : i + 2] for i in range(0, 64, 2)
    )
    assert fingerprints_match(certificate.der, certificate.fingerprint.lower())
    assert fingerprints_match(certificate.der, certificate_fingerprint(certificate.der, "sha-1"))
    assert not fingerprints_match(certificate.der, "md5 00")
    assert not fingerprints_match(certificate.der, ecdsa_certificate(2).fingerprint)


def test_generated_certificate_is_self_signed_p256_and_loads_back() -> None:
    import random

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    certificate = generate_certificate(random.Random(3), common_name="me")
    assert isinstance(certificate.private_key, ec.EllipticCurvePrivateKey)
    assert certificate.private_key.curve.name == "secp256r1"
    assert certificate.certificate.issuer == certificate.certificate.subject
    assert generate_certificate(random.Random(3), common_name="me").der == certificate.der
    pem = certificate.certificate.public_bytes(serialization.Encoding.PEM)
    key = certificate.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert load_certificate(pem, key).fingerprint == certificate.fingerprint


def test_reset_keeps_what_still_fits_the_window() -> None:
    reassembler = Reassembler(window=4)
    reassembler.next_seq = 1
    later = parse_fragments(encode_handshake(11, 2, b"cert"))[0]
    assert reassembler.add(later, 0) is FragmentFate.ACCEPTED
    reassembler.reset(0)
    assert reassembler.add(parse_fragments(encode_handshake(2, 0, b"hello"))[0], 0) is (
        FragmentFate.ACCEPTED
    )
    assert reassembler.pop() is not None
    assert reassembler.pop() is None  # seq 1 is missing
    reassembler.reset(2)
    message = reassembler.pop()
    assert message is not None and message.body == b"cert"
    reassembler.reset(100)
    assert reassembler.pop() is None


def test_every_signature_scheme_signs_and_verifies() -> None:
    from sansip.dtls.crypto import sign, signature_schemes_for, verify
    from sansip.dtls.suites import SignatureScheme
    from tests.dtls.helpers import rsa_certificate

    for certificate in (ecdsa_certificate(1), rsa_certificate()):
        key = certificate.private_key
        public = certificate.certificate.public_key()
        for scheme in signature_schemes_for(key):
            signature = sign(key, scheme, b"data")
            assert verify(public, scheme, signature, b"data")
            assert not verify(public, scheme, signature, b"other")
        assert not verify(public, 0x0201, b"sig", b"data")  # SHA-1 schemes are not accepted
    scheme = SignatureScheme.ECDSA_SECP256R1_SHA256
    ecdsa_signature = sign(ecdsa_certificate(1).private_key, scheme, b"data")
    assert not verify(rsa_certificate().certificate.public_key(), scheme, ecdsa_signature, b"data")
