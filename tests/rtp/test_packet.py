"""RTP packet codec (RFC 3550 §5.1) and RFC 8285 header extension elements."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.rtp import (
    ComfortNoise,
    RtpHeaderExtension,
    RtpPacket,
    build_extension_elements,
    encode_rtp,
    parse_comfort_noise,
    parse_extension_elements,
    parse_rtp,
)
from sansip.rtp.packet import plain_rtp_header
from tests.conftest import examples

# V=2 P=0 X=0 CC=0 | M=1 PT=0 | seq 0x1234 | ts 0xDEADBEEF | ssrc 0x01020304 | 4 payload bytes
GOLDEN = (
    bytes([0x80, 0x80, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04])
    + b"\xff\xfe\xfd\xfc"
)


def test_golden_fixed_header() -> None:
    packet = parse_rtp(GOLDEN)
    assert packet == RtpPacket(0, 0x1234, 0xDEADBEEF, 0x01020304, b"\xff\xfe\xfd\xfc", True)
    assert packet.encode() == GOLDEN


def test_golden_csrcs_extension_and_padding() -> None:
    wire = (
        bytes([0xB2, 0x08])  # V=2 P=1 X=1 CC=2 | M=0 PT=8
        + struct.pack("!HII", 7, 160, 0xAABBCCDD)
        + struct.pack("!II", 11, 22)  # CSRC list
        + struct.pack("!HH", 0xBEDE, 1)  # extension header: profile, one word
        + bytes([0x10, 0x55, 0x00, 0x00])  # id 1, len 1, value 0x55, padding
        + b"pay"
        + b"\x00\x00\x03"  # three padding bytes, the count last
    )
    packet = parse_rtp(wire)
    assert packet.payload_type == 8
    assert not packet.marker
    assert packet.csrcs == (11, 22)
    assert packet.extension == RtpHeaderExtension(0xBEDE, b"\x10\x55\x00\x00")
    assert packet.payload == b"pay"
    assert packet.padding == 3
    assert packet.encode() == wire
    assert parse_extension_elements(packet.extension) == [(1, b"\x55")]


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (b"\x80\x00\x00", "short"),
        (b"\x40" + bytes(11), "version 1"),
        (b"\x81" + bytes(11), "CSRC past end"),
        (b"\x90" + bytes(11) + b"\xbe\xde", "extension header truncated"),
        (b"\x90" + bytes(11) + b"\xbe\xde\x00\x02" + bytes(4), "extension data truncated"),
        (b"\xa0" + bytes(11) + b"\x00", "padding count zero"),
        (b"\xa0" + bytes(11) + b"\x05", "padding longer than the payload"),
    ],
)
def test_malformed_packets_raise_remote_protocol_error(wire: bytes, why: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_rtp(wire)


def test_encode_rejects_out_of_range_fields() -> None:
    with pytest.raises(LocalProtocolError):
        encode_rtp(RtpPacket(128, 0, 0, 0, b""))
    with pytest.raises(LocalProtocolError):
        encode_rtp(RtpPacket(0, 70000, 0, 0, b""))
    with pytest.raises(LocalProtocolError):
        encode_rtp(RtpPacket(0, 0, 0, 0, b"", extension=RtpHeaderExtension(1, b"abc")))


def test_one_and_two_byte_elements() -> None:
    one = build_extension_elements([(1, b"a"), (14, bytes(16))])
    assert one.profile == 0xBEDE
    assert one.data[:2] == bytes([0x10, ord("a")])
    assert len(one.data) % 4 == 0
    assert parse_extension_elements(one) == [(1, b"a"), (14, bytes(16))]
    two = build_extension_elements([(200, b""), (3, b"xyz")], two_byte=True)
    assert two.profile == 0x1000
    assert two.data[:5] == bytes([200, 0, 3, 3]) + b"x"
    assert parse_extension_elements(two) == [(200, b""), (3, b"xyz")]
    with pytest.raises(LocalProtocolError):
        build_extension_elements([(15, b"a")])
    with pytest.raises(RemoteProtocolError):
        parse_extension_elements(RtpHeaderExtension(0x1234, b""))
    with pytest.raises(RemoteProtocolError):
        parse_extension_elements(RtpHeaderExtension(0xBEDE, b"\x13\x00"))
    # Id 15 stops processing (RFC 8285 §4.2).
    assert parse_extension_elements(RtpHeaderExtension(0xBEDE, b"\x10\x01\xf0\x00")) == [
        (1, b"\x01")
    ]


def test_comfort_noise_payload() -> None:
    assert ComfortNoise(64, b"\x01\x02").encode() == b"\x40\x01\x02"
    assert parse_comfort_noise(b"\x2a") == ComfortNoise(42, b"")
    for bad in (b"", b"\x80"):
        with pytest.raises(RemoteProtocolError):
            parse_comfort_noise(bad)
    with pytest.raises(LocalProtocolError):
        ComfortNoise(128).encode()


u32 = st.integers(0, 0xFFFFFFFF)
extensions = st.one_of(
    st.none(),
    st.builds(
        RtpHeaderExtension,
        st.integers(0, 0xFFFF),
        st.integers(0, 8).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
    ),
)
packets = st.builds(
    RtpPacket,
    st.integers(0, 127),
    st.integers(0, 0xFFFF),
    u32,
    u32,
    st.binary(max_size=64),
    st.booleans(),
    st.lists(u32, max_size=15).map(tuple),
    extensions,
    st.integers(0, 255),
)


@settings(max_examples=examples(300))
@given(packets)
def test_rtp_round_trip(packet: RtpPacket) -> None:
    assert parse_rtp(encode_rtp(packet)) == packet


@settings(max_examples=examples(500))
@given(st.binary(max_size=80))
def test_parser_raises_only_remote_protocol_error(data: bytes) -> None:
    try:
        packet = parse_rtp(data)
    except RemoteProtocolError:
        return
    assert parse_rtp(packet.encode()) == packet


@settings(max_examples=examples(200))
@given(
    st.lists(st.tuples(st.integers(1, 14), st.binary(min_size=1, max_size=16)), max_size=6),
    st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=20)), max_size=6),
)
def test_extension_elements_round_trip(
    one: list[tuple[int, bytes]], two: list[tuple[int, bytes]]
) -> None:
    assert parse_extension_elements(build_extension_elements(one)) == one
    assert parse_extension_elements(build_extension_elements(two, two_byte=True)) == two


@settings(max_examples=examples(300))
@given(st.integers(0, 0xFFFF), st.binary(max_size=40))
def test_extension_element_parser_raises_only_remote_protocol_error(
    profile: int, data: bytes
) -> None:
    with contextlib.suppress(RemoteProtocolError):
        parse_extension_elements(RtpHeaderExtension(profile, data))


_HEADER_FIELDS = st.tuples(
    st.integers(0, 127), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF), st.booleans(),
)  # fmt: skip


@settings(max_examples=examples(200))
@given(_HEADER_FIELDS, st.binary(max_size=64))
def test_plain_header_matches_the_general_encoder(
    fields: tuple[int, int, int, int, bool], payload: bytes
) -> None:
    pt, seq, ts, ssrc, marker = fields
    packet = RtpPacket(pt, seq, ts, ssrc, payload, marker)
    wire = plain_rtp_header(pt, seq, ts, ssrc, marker) + payload
    assert wire == encode_rtp(packet)
    parsed = parse_rtp(wire)
    assert parsed == packet
    assert type(parsed) is RtpPacket and parsed.extension is None and parsed.csrcs == ()
