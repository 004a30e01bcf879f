"""SRTP/SRTCP: the RFC 3711, 6188 and 7714 vectors, round trips, tampering,
replay, rollover across sequence wraps, the SRTCP index and E-bit, and MKI."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.rtp import RtpReceived
from sansip.rtp.srtp import (
    AEAD_AES_128_GCM,
    AEAD_AES_256_GCM,
    AES_CM_128_HMAC_SHA1_32,
    AES_CM_128_HMAC_SHA1_80,
    DTLS_PROFILES,
    PROFILES,
    SrtpAuthenticationError,
    SrtpError,
    SrtpMalformedError,
    SrtpMkiError,
    SrtpProfile,
    SrtpReplayError,
    SrtpTransform,
)
from sansip.rtp.srtp_keys import (
    SessionKeys,
    aes_cm_keystream,
    derive_session_key,
    derive_session_keys,
    get_profile,
    split_dtls_keying_material,
)
from tests.rtp.helpers import A_ADDR, B_ADDR, drain, session

ALL = list(PROFILES.values())
IDS = [p.name for p in ALL]
SSRC = 0x12345678


@pytest.fixture(scope="module")
def vectors(conformance_data: Path) -> dict[str, Any]:
    """The three vector files, by stem."""
    directory = conformance_data / "srtp"
    if not directory.is_dir():
        pytest.skip(f"no srtp/ in {conformance_data}")
    return {p.stem: json.loads(p.read_text()) for p in directory.glob("*.json")}


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def rtp(seq: int, payload: bytes = b"\xab" * 160, ssrc: int = SSRC, first: int = 0x80) -> bytes:
    """A plain RTP packet (PT 0)."""
    header = bytes([first, 0]) + (seq & 0xFFFF).to_bytes(2) + b"\0\0\x03\x20" + ssrc.to_bytes(4)
    return header + payload


def rtcp(ssrc: int = SSRC, extra: bytes = b"") -> bytes:
    """A plain RTCP sender report with no report blocks, ``extra`` appended as another packet."""
    return b"\x80\xc8\x00\x06" + ssrc.to_bytes(4) + bytes(range(20)) + extra


def pair(
    profile: SrtpProfile, a_mki: bytes = b"", b_mki: bytes = b"", **options: Any
) -> tuple[SrtpTransform, SrtpTransform]:
    """Two ends keyed for each other; each sends its MKI and expects the other's."""
    rng = random.Random(profile.dtls_id)
    a_key = rng.randbytes(profile.master_length)
    b_key = rng.randbytes(profile.master_length)
    return (
        SrtpTransform(profile, a_key, b_key, mki=a_mki, remote_mki=b_mki, **options),
        SrtpTransform(profile, b_key, a_key, mki=b_mki, remote_mki=a_mki, **options),
    )


# ------------------------------------------------------------------ vectors


def test_rfc3711_b2_aes_cm_keystream(vectors: dict[str, Any]) -> None:
    case = vectors["rfc3711-appendix-b"]["B.2_aes_cm_keystream"]
    blocks = case["keystream_segment_length_blocks"]
    stream = aes_cm_keystream(h(case["session_key"]), h(case["offset"]), 16 * blocks)
    expected = case["keystream_blocks"]
    assert stream[:48] == h("".join(b["keystream"] for b in expected[:3]))
    assert stream[-48:] == h("".join(b["keystream"] for b in expected[3:]))


def test_rfc3711_b2_keystream_through_the_packet_path(vectors: dict[str, Any]) -> None:
    """The per-packet AES-CM (counter blocks through one ECB context) gives the same
    keystream: ROC, SEQ and SSRC 0, so the counter is the shifted session salt."""
    case = vectors["rfc3711-appendix-b"]["B.2_aes_cm_keystream"]
    salt = h(case["session_salt_shifted"])[:14]
    keys = SessionKeys(h(case["session_key"]), salt, bytes(20))
    transform = SrtpTransform.from_session_keys(AES_CM_128_HMAC_SHA1_80, (keys, keys), (keys, keys))
    wire = transform.protect_rtp(rtp(0, bytes(48), ssrc=0, first=0x80)[:12] + bytes(48))
    expected = case["keystream_blocks"]
    assert wire[12:60] == h("".join(b["keystream"] for b in expected[:3]))


def test_rfc3711_b3_key_derivation(vectors: dict[str, Any]) -> None:
    case = vectors["rfc3711-appendix-b"]["B.3_key_derivation"]
    key, salt = h(case["master_key"]), h(case["master_salt"])
    assert derive_session_key(key, salt, 0, 16) == h(case["cipher_key"]["value"])
    assert derive_session_key(key, salt, 2, 14) == h(case["cipher_salt"]["value"])
    auth = case["auth_key"]
    assert derive_session_key(key, salt, 1, auth["length_octets"]) == h(auth["value"])
    rtp_keys, _ = derive_session_keys(AES_CM_128_HMAC_SHA1_80, key, salt)
    assert rtp_keys == SessionKeys(
        h(case["cipher_key"]["value"]),
        h(case["cipher_salt"]["value"]),
        h(auth["hmac_sha1_key_first_20_octets"]),
    )


@pytest.mark.parametrize("section", ["7.1_aes_256_cm_keystream", "7.3_aes_192_cm_keystream"])
def test_rfc6188_keystreams(vectors: dict[str, Any], section: str) -> None:
    case = vectors["rfc6188"][section]
    stream = aes_cm_keystream(h(case["session_key"]), h(case["offset"]), 16 * 65282)
    if "keystream_blocks" in case:
        blocks = case["keystream_blocks"]
        first = h("".join(b["keystream"] for b in blocks[:3]))
        last = h("".join(b["keystream"] for b in blocks[3:]))
    else:
        first = h(case["keystream_first_3_blocks"])
        last = h(case["keystream_last_3_blocks_feff_ff00_ff01"])
    assert stream[:48] == first
    assert stream[16 * 0xFEFF : 16 * 0xFF02] == last


@pytest.mark.parametrize("section", ["7.2_aes_256_key_derivation", "7.4_aes_192_key_derivation"])
def test_rfc6188_key_derivation(vectors: dict[str, Any], section: str) -> None:
    case = vectors["rfc6188"][section]
    key, salt = h(case["master_key"]), h(case["master_salt"])
    assert derive_session_key(key, salt, 0, len(key)) == h(case["cipher_key"])
    assert derive_session_key(key, salt, 2, 14) == h(case["cipher_salt"])
    assert derive_session_key(key, salt, 1, 20) == h(case["auth_key_first_20_octets"])


def _gcm(vectors: dict[str, Any], profile: SrtpProfile, **options: Any) -> SrtpTransform:
    common = vectors["rfc7714"]["common"]
    size = 8 * profile.key_length
    keys = SessionKeys(h(common[f"session_key_{size}"]), h(common["session_salt"]), b"")
    return SrtpTransform.from_session_keys(profile, (keys, keys), (keys, keys), **options)


@pytest.mark.parametrize(
    ("profile", "section"),
    [(AEAD_AES_128_GCM, "16.1_aead_aes_128_gcm"), (AEAD_AES_256_GCM, "16.2_aead_aes_256_gcm")],
)
def test_rfc7714_srtp(vectors: dict[str, Any], profile: SrtpProfile, section: str) -> None:
    case = vectors["rfc7714"]["srtp"]
    plain, wire = h(case["rtp_packet"]), h(case[section]["encrypted_tagged_packet"])
    assert _gcm(vectors, profile).protect_rtp(plain) == wire
    receiver = _gcm(vectors, profile)
    assert receiver.unprotect_rtp(wire) == plain
    assert receiver.rollover_counter(int(case["ssrc"], 16), sent=False) == 0
    _every_flip_fails(_gcm(vectors, profile), wire, rtcp=False)


@pytest.mark.parametrize(
    ("profile", "section", "encrypted"),
    [
        (AEAD_AES_128_GCM, "17.1_aead_aes_128_gcm_encrypt", True),
        (AEAD_AES_256_GCM, "17.2_aead_aes_256_gcm_encrypt", True),
        (AEAD_AES_128_GCM, "17.3_aead_aes_128_gcm_auth_only", False),
        (AEAD_AES_256_GCM, "17.4_aead_aes_256_gcm_auth_only", False),
    ],
)
def test_rfc7714_srtcp(
    vectors: dict[str, Any], profile: SrtpProfile, section: str, encrypted: bool
) -> None:
    case = vectors["rfc7714"]["srtcp"]
    plain, wire = h(case["rtcp_packet"]), h(case[section])
    sender = _gcm(vectors, profile, encrypt_rtcp=encrypted)
    index = int(case["srtcp_index"], 16)
    for _ in range(index):  # the vectors' SRTCP index is 0x5d4: send that many first
        sender.protect_rtcp(plain)
    assert sender.protect_rtcp(plain) == wire
    assert _gcm(vectors, profile).unprotect_rtcp(wire) == plain
    _every_flip_fails(_gcm(vectors, profile), wire, rtcp=True)


# ------------------------------------------------------------- round trips


def _every_flip_fails(receiver: SrtpTransform, wire: bytes, *, rtcp: bool, skip: int = 0) -> None:
    """Each single-bit change of ``wire`` (but the last ``skip`` bytes) is dropped, and
    the intact packet still passes afterwards."""
    unprotect = receiver.unprotect_rtcp if rtcp else receiver.unprotect_rtp
    for bit in range(8 * (len(wire) - skip)):
        damaged = bytearray(wire)
        damaged[bit >> 3] ^= 0x80 >> (bit & 7)
        with pytest.raises(SrtpError):
            unprotect(bytes(damaged))
    assert receiver.dropped_total == 8 * (len(wire) - skip)
    unprotect(wire)


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_rtp_round_trip_and_tag_length(profile: SrtpProfile) -> None:
    a, b = pair(profile)
    for plain in (
        rtp(1),
        rtp(2, b""),
        rtp(3, b"x"),
        rtp(4, bytes(range(256)) * 8),  # beyond the cached counter layouts
        bytes([0x92, 0x80, 0, 5]) + bytes(8) + bytes(8) + b"\xbe\xde\x00\x01abcd" + b"pay",
        bytes([0xA0, 0, 0, 6]) + bytes(8) + b"payload\x00\x00\x03",  # padding
    ):
        wire = a.protect_rtp(plain)
        assert len(wire) == len(plain) + profile.rtp_tag_length
        assert b.unprotect_rtp(wire) == plain
    assert b.dropped_total == 0


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_rtcp_round_trip_both_e_bits(profile: SrtpProfile) -> None:
    a, b = pair(profile)
    plain = rtcp(extra=b"\x81\xcb\x00\x01" + SSRC.to_bytes(4))
    wire = a.protect_rtcp(plain)
    assert len(wire) == len(plain) + 4 + profile.rtcp_tag_length
    assert wire[:8] == plain[:8] and wire[8 : len(plain)] != plain[8:]
    trailer = len(plain) if profile.aead else len(wire) - profile.rtcp_tag_length - 4
    trailer += profile.rtcp_tag_length if profile.aead else 0
    assert wire[trailer : trailer + 4] == b"\x80\x00\x00\x00"  # E=1, index 0
    assert b.unprotect_rtcp(wire) == plain
    a.encrypt_rtcp = False
    clear = a.protect_rtcp(plain)
    assert clear[: len(plain)] == plain
    at = len(plain) + profile.rtcp_tag_length if profile.aead else len(plain)
    assert clear[at : at + 4] == b"\x00\x00\x00\x01"  # E=0, index 1
    assert b.unprotect_rtcp(clear) == plain


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_every_authenticated_bit_counts(profile: SrtpProfile) -> None:
    a, _ = pair(profile)
    _every_flip_fails(pair(profile)[1], a.protect_rtp(rtp(7, b"hello world")), rtcp=False)
    _every_flip_fails(pair(profile)[1], a.protect_rtcp(rtcp()), rtcp=True)
    a.encrypt_rtcp = False
    _every_flip_fails(pair(profile)[1], a.protect_rtcp(rtcp()), rtcp=True)


def test_the_32_bit_profile_keeps_an_80_bit_srtcp_tag() -> None:
    profile = AES_CM_128_HMAC_SHA1_32
    assert (profile.rtp_tag_length, profile.rtcp_tag_length) == (4, 10)
    a, _ = pair(profile)
    assert len(a.protect_rtp(rtp(1))) == 172 + 4
    assert len(a.protect_rtcp(rtcp())) == 28 + 4 + 10


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_wrong_keys_fail_authentication(profile: SrtpProfile) -> None:
    a, _ = pair(profile)
    stranger = SrtpTransform(profile, bytes(profile.master_length), bytes(profile.master_length))
    with pytest.raises(SrtpAuthenticationError):
        stranger.unprotect_rtp(a.protect_rtp(rtp(1)))
    with pytest.raises(SrtpAuthenticationError):
        stranger.unprotect_rtcp(a.protect_rtcp(rtcp()))
    assert stranger.dropped == {"malformed": 0, "mki": 0, "authentication": 2, "replay": 0}


@pytest.mark.parametrize("profile", [AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32])
def test_the_aes_ecb_fallback_gives_the_same_packets(profile: SrtpProfile) -> None:
    """Without ``reset_nonce`` (cryptography before 43) AES-CM runs on one ECB context."""
    a, b = pair(profile)
    old, _ = pair(profile)
    for keys in (old._rtp_tx_keys, old._rtcp_tx_keys):
        keys.ctr = None
    for size in (0, 1, 15, 16, 17, 160, 2047, 2048, 2049, 5000):
        payload = random.Random(size).randbytes(size)
        assert old.protect_rtp(rtp(size, payload)) == a.protect_rtp(rtp(size, payload))
        assert old.protect_rtcp(rtcp(extra=payload)) == a.protect_rtcp(rtcp(extra=payload))
    assert b.unprotect_rtp(old.protect_rtp(rtp(9999))) == rtp(9999)


# ------------------------------------------------------------------ replay


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_replays_are_dropped_and_the_window_slides(profile: SrtpProfile) -> None:
    a, b = pair(profile, replay_window=64)
    wires = [a.protect_rtp(rtp(seq)) for seq in range(200)]
    b.unprotect_rtp(wires[100])
    with pytest.raises(SrtpReplayError):
        b.unprotect_rtp(wires[100])
    b.unprotect_rtp(wires[37])  # late but inside the window: 100 - 37 < 64
    with pytest.raises(SrtpReplayError, match="replayed"):
        b.unprotect_rtp(wires[37])
    with pytest.raises(SrtpReplayError, match="older"):
        b.unprotect_rtp(wires[36])
    b.unprotect_rtp(wires[199])
    with pytest.raises(SrtpReplayError, match="older"):
        b.unprotect_rtp(wires[120])
    b.unprotect_rtp(wires[150])
    assert b.dropped["replay"] == 4
    assert b.dropped_total == 4


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_srtcp_replays_are_dropped(profile: SrtpProfile) -> None:
    a, b = pair(profile)
    wires = [a.protect_rtcp(rtcp()) for _ in range(300)]
    b.unprotect_rtcp(wires[5])
    with pytest.raises(SrtpReplayError):
        b.unprotect_rtcp(wires[5])
    b.unprotect_rtcp(wires[4])
    b.unprotect_rtcp(wires[299])
    with pytest.raises(SrtpReplayError, match="older"):
        b.unprotect_rtcp(wires[171])  # 299 - 171 = 128: just out of the default window
    b.unprotect_rtcp(wires[172])
    assert b.dropped["replay"] == 2


def test_a_failed_packet_does_not_advance_the_window() -> None:
    a, b = pair(AES_CM_128_HMAC_SHA1_80)
    b.unprotect_rtp(a.protect_rtp(rtp(10)))
    forged = bytearray(a.protect_rtp(rtp(5000)))
    forged[-1] ^= 1
    with pytest.raises(SrtpAuthenticationError):
        b.unprotect_rtp(bytes(forged))
    b.unprotect_rtp(a.protect_rtp(rtp(11)))
    assert b.rollover_counter(SSRC, sent=False) == 0


# ---------------------------------------------------------------- rollover


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_the_rollover_counter_follows_a_sequence_wrap(profile: SrtpProfile) -> None:
    a, b = pair(profile)
    plains = [rtp(seq, bytes([seq & 0xFF]) * 20) for seq in range(65530, 65550)]
    wires = [a.protect_rtp(p) for p in plains]
    assert a.rollover_counter(SSRC) == 1
    assert [b.unprotect_rtp(w) for w in wires] == plains
    assert b.rollover_counter(SSRC, sent=False) == 1
    assert a.rollover_counter(0xDEAD) is None


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_reordering_across_the_wrap(profile: SrtpProfile) -> None:
    a, b = pair(profile)
    plains = [rtp(seq) for seq in range(65530, 65550)]
    wires = [a.protect_rtp(p) for p in plains]
    order = [0, 1, 2, 6, 3, 5, 4, 9, 7, 8, 12, 10, 11, 19, 13, 18, 14, 17, 15, 16]
    assert [b.unprotect_rtp(wires[i]) for i in order] == [plains[i] for i in order]
    late = [a.protect_rtp(p) for p in (rtp(65535 + 60), rtp(65535 + 61))]
    b.unprotect_rtp(late[1])
    b.unprotect_rtp(late[0])
    assert b.rollover_counter(SSRC, sent=False) == 1
    with pytest.raises(SrtpReplayError):
        b.unprotect_rtp(wires[5])  # seq 65535 of ROC 0, seen already


def test_a_late_packet_from_before_the_wrap_uses_the_previous_roc() -> None:
    a, b = pair(AES_CM_128_HMAC_SHA1_80)
    wires = [a.protect_rtp(rtp(seq)) for seq in (65534, 65535, 0, 1, 2)]
    b.unprotect_rtp(wires[0])
    b.unprotect_rtp(wires[2])
    b.unprotect_rtp(wires[4])
    assert b.unprotect_rtp(wires[1]) == rtp(65535)  # ROC 0 again: authenticates
    assert b.unprotect_rtp(wires[3]) == rtp(1)
    assert b.rollover_counter(SSRC, sent=False) == 1


def test_many_wraps_in_order() -> None:
    a, b = pair(AEAD_AES_128_GCM)
    for seq in range(0, 4 * 65536 + 1000, 1000):
        plain = rtp(seq)
        assert b.unprotect_rtp(a.protect_rtp(plain)) == plain
    assert a.rollover_counter(SSRC) == b.rollover_counter(SSRC, sent=False) == 4


def test_streams_are_per_ssrc() -> None:
    a, b = pair(AES_CM_128_HMAC_SHA1_80)
    one, two = a.protect_rtp(rtp(5, ssrc=1)), a.protect_rtp(rtp(5, ssrc=2))
    assert one[12:] != two[12:]
    assert b.unprotect_rtp(one) == rtp(5, ssrc=1)
    assert b.unprotect_rtp(two) == rtp(5, ssrc=2)
    first, second = a.protect_rtcp(rtcp(1)), a.protect_rtcp(rtcp(2))
    assert first[-14:-10] == second[-14:-10] == b"\x80\x00\x00\x00"  # one index per SSRC
    assert b.unprotect_rtcp(second) == rtcp(2)
    assert b.unprotect_rtcp(first) == rtcp(1)


# ----------------------------------------------------------- SRTCP index


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_the_srtcp_index_counts_up_with_the_e_bit(profile: SrtpProfile) -> None:
    a, b = pair(profile)
    tag = 0 if profile.aead else profile.rtcp_tag_length
    words = []
    for n in range(5):
        a.encrypt_rtcp = n != 3
        wire = a.protect_rtcp(rtcp())
        words.append(int.from_bytes(wire[len(wire) - tag - 4 : len(wire) - tag]))
        assert b.unprotect_rtcp(wire) == rtcp()
    assert words == [0x80000000, 0x80000001, 0x80000002, 3, 0x80000004]


def test_the_srtcp_index_is_31_bits() -> None:
    a, b = pair(AES_CM_128_HMAC_SHA1_80)
    first = a.protect_rtcp(rtcp())
    b.unprotect_rtcp(first)
    a._rtcp_tx[SSRC] = 0x7FFFFFFF  # jump to the last index (the receiver's window follows)
    wire = a.protect_rtcp(rtcp())
    assert wire[-14:-10] == b"\xff\xff\xff\xff"
    assert b.unprotect_rtcp(wire) == rtcp()
    with pytest.raises(SrtpReplayError, match="older"):
        b.unprotect_rtcp(first)
    with pytest.raises(LocalProtocolError, match="rekeyed"):
        a.protect_rtcp(rtcp())


# --------------------------------------------------------------------- MKI


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_mki_is_sent_and_checked(profile: SrtpProfile) -> None:
    a, b = pair(profile, a_mki=b"\x00\x01\x02", b_mki=b"\x07")
    rtp_wire = b.protect_rtp(rtp(1))  # b sends MKI 07 (a expects it)
    rtcp_wire = b.protect_rtcp(rtcp())
    assert len(rtp_wire) == 172 + 1 + profile.rtp_tag_length
    if profile.aead:
        assert rtp_wire.endswith(b"\x07") and rtcp_wire.endswith(b"\x07")
    else:
        assert rtp_wire[-profile.rtp_tag_length - 1] == 7
        assert rtcp_wire[-profile.rtcp_tag_length - 1] == 7
    assert a.unprotect_rtp(rtp_wire) == rtp(1)
    assert a.unprotect_rtcp(rtcp_wire) == rtcp()
    assert b.unprotect_rtp(a.protect_rtp(rtp(2))) == rtp(2)
    for wire, unprotect, tag in (
        (b.protect_rtp(rtp(3)), a.unprotect_rtp, profile.rtp_tag_length),
        (b.protect_rtcp(rtcp()), a.unprotect_rtcp, profile.rtcp_tag_length),
    ):
        at = len(wire) - 1 if profile.aead else len(wire) - tag - 1
        forged = wire[:at] + b"\x08" + wire[at + 1 :]
        with pytest.raises(SrtpMkiError):
            unprotect(forged)
        unprotect(wire)
    assert a.dropped["mki"] == 2
    unkeyed = pair(profile)[1]
    with pytest.raises(SrtpError):
        unkeyed.unprotect_rtp(rtp_wire)


# --------------------------------------------------------------- malformed


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_malformed_packets_are_counted(profile: SrtpProfile) -> None:
    _, b = pair(profile)
    overrun = b"\x90" + bytes(13) + b"\x00\x10" + bytes(40)  # extension past the end
    for data in (b"", b"\x80", bytes(11), b"\x40" + bytes(40), b"\x8f" + bytes(40), overrun):
        with pytest.raises(SrtpMalformedError):
            b.unprotect_rtp(data)
    for data in (b"", bytes(8), b"\xc0" + bytes(40)):
        with pytest.raises(SrtpMalformedError):
            b.unprotect_rtcp(data)
    assert b.dropped["malformed"] == 9
    assert issubclass(SrtpMalformedError, RemoteProtocolError)


def test_protect_refuses_what_is_not_rtp() -> None:
    a, _ = pair(AES_CM_128_HMAC_SHA1_80)
    for data in (b"", bytes(12), b"\x8f" + bytes(20), b"\x90" + bytes(13)):
        with pytest.raises(LocalProtocolError):
            a.protect_rtp(data)
    with pytest.raises(LocalProtocolError):
        a.protect_rtcp(bytes(8))


# ----------------------------------------------------------------- profiles


def test_profile_table() -> None:
    assert {p.dtls_id: p.name for p in DTLS_PROFILES.values()} == {
        0x0001: "AES_CM_128_HMAC_SHA1_80",
        0x0002: "AES_CM_128_HMAC_SHA1_32",
        0x0007: "AEAD_AES_128_GCM",
        0x0008: "AEAD_AES_256_GCM",
    }
    assert get_profile("aes_cm_128_hmac_sha1_80") is AES_CM_128_HMAC_SHA1_80
    assert get_profile("SRTP_AEAD_AES_256_GCM") is AEAD_AES_256_GCM
    assert get_profile(7) is AEAD_AES_128_GCM
    assert get_profile(AEAD_AES_128_GCM) is AEAD_AES_128_GCM
    assert [p.master_length for p in ALL] == [30, 30, 28, 44]
    for bad in ("F8_128_HMAC_SHA1_80", 0x0005):
        with pytest.raises(LocalProtocolError):
            get_profile(bad)


def test_bad_keys_and_options_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        SrtpTransform(AES_CM_128_HMAC_SHA1_80, bytes(30), bytes(29))
    with pytest.raises(LocalProtocolError):
        SrtpTransform(AES_CM_128_HMAC_SHA1_80, bytes(30), bytes(30), replay_window=0)
    with pytest.raises(LocalProtocolError):
        SrtpTransform(AES_CM_128_HMAC_SHA1_80, bytes(30), bytes(30), replay_window=1 << 20)
    with pytest.raises(LocalProtocolError):
        derive_session_key(bytes(15), bytes(14), 0, 16)
    keys = SessionKeys(bytes(16), bytes(12), b"")
    with pytest.raises(LocalProtocolError):
        SrtpTransform.from_session_keys(AES_CM_128_HMAC_SHA1_80, (keys, keys), (keys, keys))


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_dtls_keying_material(profile: SrtpProfile) -> None:
    material = bytes(range(2 * profile.master_length))
    client_local, client_remote = split_dtls_keying_material(profile, material, client=True)
    k = profile.key_length
    assert client_local == material[:k] + material[2 * k : 2 * k + profile.salt_length]
    assert split_dtls_keying_material(profile, material, client=False) == (
        client_remote,
        client_local,
    )
    client = SrtpTransform.from_dtls(profile.dtls_id, material, client=True)
    server = SrtpTransform.from_dtls(profile.dtls_id, material, client=False)
    assert server.unprotect_rtp(client.protect_rtp(rtp(9))) == rtp(9)
    assert client.unprotect_rtcp(server.protect_rtcp(rtcp())) == rtcp()
    with pytest.raises(LocalProtocolError):
        split_dtls_keying_material(profile, material[:-1], client=True)


# ------------------------------------------------------------ in a session


def test_sessions_talk_through_srtp_and_count_forgeries() -> None:
    a, b = session(seed=1, remote=B_ADDR), session(seed=2, remote=A_ADDR)
    key_a, key_b = bytes(range(30)), bytes(range(30, 60))
    a.set_transform(SrtpTransform("AES_CM_128_HMAC_SHA1_80", key_a, key_b))
    b_srtp = SrtpTransform("AES_CM_128_HMAC_SHA1_80", key_b, key_a)
    b.set_transform(b_srtp)
    a.send_payload(b"\x01\x02", 0, 0.0)
    (wire, _), = a.datagrams_to_send(0.0)  # fmt: skip
    assert b"\x01\x02" not in wire[12:]
    b.receive_datagram(wire, A_ADDR, 0.01)
    received = [e for e in drain(b) if isinstance(e, RtpReceived)]
    assert received[0].packet.payload == b"\x01\x02"
    b.receive_datagram(wire, A_ADDR, 0.02)  # a replay
    a.send_payload(b"\x03\x04", 0, 0.02)
    (second, _), = a.datagrams_to_send(0.02)  # fmt: skip
    b.receive_datagram(second[:-1] + bytes([second[-1] ^ 1]), A_ADDR, 0.03)
    b.receive_datagram(b"\x80" + bytes(5), A_ADDR, 0.04)
    assert b.rejected == 3
    assert b_srtp.dropped == {"malformed": 1, "mki": 0, "authentication": 1, "replay": 1}
    assert b.last_rejection == "SRTP packet too short or not version 2"
