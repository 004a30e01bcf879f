"""sansip's SRTP against libsrtp (through pylibsrtp): what one side protects, the
other unprotects, for every profile both implement, RTP and RTCP, on random
packets (random headers with CSRCs and extensions, random sizes, several
sources, sequence numbers across a wrap)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from sansip.rtp.srtp import PROFILES, SrtpError, SrtpProfile, SrtpTransform

pylibsrtp = pytest.importorskip("pylibsrtp")
Policy = pylibsrtp.Policy

LIBSRTP_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    "AEAD_AES_128_GCM": Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    "AEAD_AES_256_GCM": Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}
ALL = [PROFILES[name] for name in LIBSRTP_PROFILES]
IDS = list(LIBSRTP_PROFILES)
MAX_PLAIN = 1300  # pylibsrtp works in a 1500-byte buffer, trailer room included


def _sessions(profile: SrtpProfile, seed: int) -> tuple[SrtpTransform, Any, Any]:
    """sansip keyed with (ours, theirs), and libsrtp's outbound and inbound sessions
    keyed the other way round."""
    rng = random.Random(seed)
    ours, theirs = rng.randbytes(profile.master_length), rng.randbytes(profile.master_length)
    srtp_profile = LIBSRTP_PROFILES[profile.name]
    outbound = pylibsrtp.Session(Policy(theirs, Policy.SSRC_ANY_OUTBOUND, 0, srtp_profile))
    inbound = pylibsrtp.Session(Policy(ours, Policy.SSRC_ANY_INBOUND, 0, srtp_profile))
    return SrtpTransform(profile, ours, theirs), outbound, inbound


def _rtp_stream(rng: random.Random, count: int, ssrcs: int = 3) -> Iterator[bytes]:
    """``count`` random RTP packets from ``ssrcs`` sources, each source's sequence
    numbers starting near the wrap and going up (with small local reordering)."""
    sequences = {rng.getrandbits(32): rng.randrange(65400, 65536) for _ in range(ssrcs)}
    for n in range(count):
        ssrc = list(sequences)[n % ssrcs]
        seq = sequences[ssrc]
        sequences[ssrc] = seq + 1
        csrcs = rng.choice((0, 0, 0, 1, 4, 15))
        extension = rng.random() < 0.3
        first = 0x80 | csrcs | (0x10 if extension else 0)
        header = bytes([first, rng.getrandbits(8)]) + (seq & 0xFFFF).to_bytes(2)
        header += rng.randbytes(4) + ssrc.to_bytes(4) + rng.randbytes(4 * csrcs)
        if extension:
            words = rng.randrange(0, 4)
            header += b"\xbe\xde" + words.to_bytes(2) + rng.randbytes(4 * words)
        size = rng.choice((0, 1, 15, 16, 17, 160, 320, rng.randrange(0, MAX_PLAIN - len(header))))
        yield header + rng.randbytes(size)


def _rtcp_stream(rng: random.Random, count: int) -> Iterator[bytes]:
    """``count`` random RTCP-shaped packets from two sources."""
    ssrcs = [rng.getrandbits(32) for _ in range(2)]
    for n in range(count):
        first = bytes([0x80 | rng.getrandbits(5), rng.choice((200, 201, 202, 203, 204))])
        body = rng.randbytes(rng.choice((0, 4, 20, 24, rng.randrange(0, 1000))))
        yield first + rng.randbytes(2) + ssrcs[n % 2].to_bytes(4) + body


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_rtp_sansip_to_libsrtp(profile: SrtpProfile) -> None:
    ours, _, inbound = _sessions(profile, 1)
    for plain in _rtp_stream(random.Random(2), 600):
        assert inbound.unprotect(ours.protect_rtp(plain)) == plain


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_rtp_libsrtp_to_sansip(profile: SrtpProfile) -> None:
    ours, outbound, _ = _sessions(profile, 3)
    for plain in _rtp_stream(random.Random(4), 600):
        assert ours.unprotect_rtp(outbound.protect(plain)) == plain
    assert ours.dropped_total == 0


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_rtp_reordered_across_the_wrap_from_libsrtp(profile: SrtpProfile) -> None:
    ours, outbound, _ = _sessions(profile, 5)
    rng = random.Random(6)
    plains = list(_rtp_stream(rng, 240, ssrcs=1))
    wires = [outbound.protect(p) for p in plains]
    order = list(range(len(wires)))
    for at in range(0, len(order) - 8, 8):  # shuffle within runs of 8 packets
        chunk = order[at : at + 8]
        rng.shuffle(chunk)
        order[at : at + 8] = chunk
    assert [ours.unprotect_rtp(wires[i]) for i in order] == [plains[i] for i in order]
    with pytest.raises(SrtpError):
        ours.unprotect_rtp(wires[order[-1]])


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_rtcp_sansip_to_libsrtp(profile: SrtpProfile) -> None:
    ours, _, inbound = _sessions(profile, 7)
    for n, plain in enumerate(_rtcp_stream(random.Random(8), 300)):
        # libsrtp takes authentication-only SRTCP (E=0) under AES-GCM; under AES-CM
        # its policy wants confidentiality and it refuses E=0 ("unable to perform
        # desired validation"), so only GCM gets some.
        ours.encrypt_rtcp = n % 5 != 0 or not profile.aead
        assert inbound.unprotect_rtcp(ours.protect_rtcp(plain)) == plain


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_rtcp_libsrtp_to_sansip(profile: SrtpProfile) -> None:
    ours, outbound, _ = _sessions(profile, 9)
    for plain in _rtcp_stream(random.Random(10), 300):
        assert ours.unprotect_rtcp(outbound.protect_rtcp(plain)) == plain
    assert ours.dropped_total == 0


@pytest.mark.parametrize("profile", ALL, ids=IDS)
def test_libsrtp_refuses_what_sansip_damaged(profile: SrtpProfile) -> None:
    ours, _, inbound = _sessions(profile, 11)
    rng = random.Random(12)
    for plain in _rtp_stream(rng, 50):
        wire = bytearray(ours.protect_rtp(plain))
        wire[rng.randrange(len(wire))] ^= 1 << rng.randrange(8)
        with pytest.raises(pylibsrtp.Error):
            inbound.unprotect(bytes(wire))
