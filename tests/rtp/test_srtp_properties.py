"""SRTP properties: any RTP/RTCP packet round-trips under every profile, and
``unprotect_*`` raises nothing but SrtpError (a RemoteProtocolError) on random
bytes or on damaged packets; a damaged packet never passes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import RemoteProtocolError
from sansip.rtp.srtp import PROFILES, SrtpError, SrtpProfile, SrtpTransform
from tests.conftest import examples

ROUND_TRIP = settings(max_examples=examples(200), deadline=None)
FUZZ = settings(max_examples=examples(400), deadline=None)

profiles = st.sampled_from(list(PROFILES.values()))
mkis = st.sampled_from([b"", b"\x01", b"\x00\x00\x00\x07"])


def _pair(
    profile: SrtpProfile, mki: bytes = b"", window: int = 128
) -> tuple[SrtpTransform, SrtpTransform]:
    key_a = bytes(range(profile.master_length))
    key_b = bytes(range(1, profile.master_length + 1))
    return (
        SrtpTransform(profile, key_a, key_b, mki=mki, replay_window=window),
        SrtpTransform(profile, key_b, key_a, remote_mki=mki, replay_window=window),
    )


@st.composite
def rtp_packets(draw: st.DrawFn) -> bytes:
    """Plain RTP: any CSRC count, optional extension and padding, any payload."""
    csrcs = draw(st.integers(0, 15))
    extension = draw(st.none() | st.binary(max_size=12).map(lambda b: b + bytes(-len(b) % 4)))
    padding = draw(st.booleans())
    first = 0x80 | csrcs | (0x10 if extension is not None else 0) | (0x20 if padding else 0)
    header = bytes([first, draw(st.integers(0, 255))]) + draw(st.binary(min_size=10, max_size=10))
    header += draw(st.binary(min_size=4 * csrcs, max_size=4 * csrcs))
    if extension is not None:
        header += b"\xbe\xde" + (len(extension) // 4).to_bytes(2) + extension
    return header + draw(st.binary(max_size=400))


@st.composite
def rtcp_packets(draw: st.DrawFn) -> bytes:
    """Plain RTCP: a version-2 first octet and SSRC, then anything."""
    first = 0x80 | draw(st.integers(0, 63))
    return bytes([first]) + draw(st.binary(min_size=7, max_size=7)) + draw(st.binary(max_size=300))


@ROUND_TRIP
@given(profiles, mkis, st.lists(rtp_packets(), min_size=1, max_size=6))
def test_rtp_round_trip(profile: SrtpProfile, mki: bytes, plains: list[bytes]) -> None:
    """In order, every packet passes but those the window must refuse (the sequence
    numbers are random, so an index can repeat or fall behind the window)."""
    a, b = _pair(profile, mki)
    for plain in plains:
        try:
            assert b.unprotect_rtp(a.protect_rtp(plain)) == plain
        except SrtpError as exc:
            assert exc.kind == "replay"
    assert b.dropped_total == b.dropped["replay"]


@ROUND_TRIP
@given(profiles, mkis, st.lists(rtcp_packets(), min_size=1, max_size=6), st.booleans())
def test_rtcp_round_trip(
    profile: SrtpProfile, mki: bytes, plains: list[bytes], encrypt: bool
) -> None:
    a, b = _pair(profile, mki)
    a.encrypt_rtcp = encrypt
    for plain in plains:
        assert b.unprotect_rtcp(a.protect_rtcp(plain)) == plain
    assert b.dropped_total == 0


@ROUND_TRIP
@given(profiles, st.integers(0, 0xFFFF), st.lists(st.integers(-40, 40), min_size=1, max_size=40))
def test_sequence_walks_round_trip(profile: SrtpProfile, start: int, steps: list[int]) -> None:
    """Sequence numbers that jump back and forth after ``start`` (across a wrap
    too): within the window each distinct packet passes once, repeats are replays.
    (The walk never goes below the first packet's index: with ROC 0 there is no
    earlier rollover counter to give such a packet.)"""
    a, b = _pair(profile, window=2048)
    seen: set[int] = set()
    position = start + 1700
    for step in steps:
        position += step
        header = b"\x80\x00" + (position & 0xFFFF).to_bytes(2) + bytes(8)
        plain = header + position.to_bytes(4, signed=True)
        wire = a.protect_rtp(plain)
        if position in seen:
            try:
                b.unprotect_rtp(wire)
            except SrtpError as exc:
                assert exc.kind == "replay"
            else:
                raise AssertionError("a replay passed")
        else:
            assert b.unprotect_rtp(wire) == plain
            seen.add(position)


def _only_srtp_errors(transform: SrtpTransform, data: bytes, rtcp: bool) -> bytes | None:
    try:
        return transform.unprotect_rtcp(data) if rtcp else transform.unprotect_rtp(data)
    except SrtpError as exc:
        assert isinstance(exc, RemoteProtocolError)
        assert exc.kind in transform.dropped
        return None


@FUZZ
@given(profiles, mkis, st.booleans(), st.lists(st.binary(max_size=200), max_size=8))
def test_random_bytes_only_raise_srtp_errors(
    profile: SrtpProfile, mki: bytes, rtcp: bool, packets: list[bytes]
) -> None:
    _, b = _pair(profile, mki)
    for data in packets:
        assert _only_srtp_errors(b, data, rtcp) is None
    assert b.dropped_total == len(packets)


@FUZZ
@given(
    profiles,
    mkis,
    st.booleans(),
    rtp_packets(),
    st.lists(
        st.tuples(st.integers(0, 600), st.binary(max_size=4), st.integers(0, 4)),
        min_size=1,
        max_size=4,
    ),
)
def test_damaged_packets_never_pass(
    profile: SrtpProfile,
    mki: bytes,
    rtcp: bool,
    plain: bytes,
    edits: list[tuple[int, bytes, int]],
) -> None:
    """Overwrite, insert or cut bytes anywhere: unless the bytes came out the same,
    the packet is dropped with an SrtpError."""
    a, b = _pair(profile, mki)
    wire = a.protect_rtcp(plain) if rtcp else a.protect_rtp(plain)
    damaged = wire
    for at, junk, cut in edits:
        at = min(at, len(damaged))
        damaged = damaged[:at] + junk + damaged[at + cut :]
    result = _only_srtp_errors(b, damaged, rtcp)
    if damaged != wire:
        assert result is None
    else:
        assert result == plain
