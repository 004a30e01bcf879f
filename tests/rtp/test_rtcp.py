"""RTCP packets and compound packets (RFC 3550 §6, §A.2; RFC 5761 §4)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.rtp import (
    App,
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    encode_rtcp,
    is_rtcp,
    ntp_from_unix,
    ntp_middle,
    parse_rtcp,
)
from tests.conftest import examples

# An SR with one report block, written out field by field from RFC 3550 §6.4.1.
SR_WIRE = bytes(
    [
        0x81, 200, 0x00, 0x0C,  # V=2 P=0 RC=1, PT=SR, length 12 words (52 bytes total)
        0x11, 0x22, 0x33, 0x44,  # SSRC of sender
        0xE0, 0x00, 0x00, 0x01,  # NTP timestamp, most significant word
        0x80, 0x00, 0x00, 0x00,  # NTP timestamp, least significant word (0.5 s)
        0x00, 0x00, 0x03, 0x20,  # RTP timestamp 800
        0x00, 0x00, 0x00, 0x0A,  # sender's packet count 10
        0x00, 0x00, 0x06, 0x40,  # sender's octet count 1600
        0x55, 0x66, 0x77, 0x88,  # SSRC_1
        0x40, 0xFF, 0xFF, 0xFE,  # fraction lost 64/256, cumulative lost -2
        0x00, 0x01, 0x00, 0x05,  # extended highest sequence (1 cycle, seq 5)
        0x00, 0x00, 0x00, 0x20,  # interarrival jitter 32
        0x12, 0x34, 0x56, 0x78,  # LSR
        0x00, 0x01, 0x80, 0x00,  # DLSR 1.5 s
    ]
)  # fmt: skip
SDES_WIRE = bytes(
    [0x81, 202, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x01, 0x05]
) + b"a@b.c" + bytes([0x00])  # fmt: skip


def test_golden_sender_report() -> None:
    (sr,) = parse_rtcp(SR_WIRE)
    assert sr == SenderReport(
        ssrc=0x11223344,
        ntp_timestamp=0xE000000180000000,
        rtp_timestamp=800,
        packet_count=10,
        octet_count=1600,
        reports=(ReportBlock(0x55667788, 64, -2, 0x10005, 32, 0x12345678, 0x18000),),
    )
    assert encode_rtcp([sr]) == SR_WIRE


def test_golden_compound_sr_sdes() -> None:
    packets = parse_rtcp(SR_WIRE + SDES_WIRE)
    assert packets[1] == SourceDescription((SdesChunk(0x11223344, ((1, b"a@b.c"),)),))
    assert isinstance(packets[1], SourceDescription)
    assert packets[1].chunks[0].item(SdesItem.CNAME) == b"a@b.c"
    assert packets[1].chunks[0].item(SdesItem.NAME) is None
    assert encode_rtcp(packets) == SR_WIRE + SDES_WIRE


def test_golden_rr_bye_app() -> None:
    rr = bytes([0x80, 201, 0x00, 0x01, 0, 0, 0, 9])
    bye = bytes([0x81, 203, 0x00, 0x02, 0, 0, 0, 9, 0x02]) + b"ok" + b"\x00"
    app = bytes([0x83, 204, 0x00, 0x03, 0, 0, 0, 9]) + b"TEST" + b"\x01\x02\x03\x04"
    packets = parse_rtcp(rr + bye + app)
    assert packets == [ReceiverReport(9), Bye((9,), "ok"), App(3, 9, b"TEST", b"\x01\x02\x03\x04")]
    assert encode_rtcp(packets) == rr + bye + app


def test_padding_in_the_last_packet_and_unknown_types() -> None:
    rr = bytes([0x80, 201, 0x00, 0x01, 0, 0, 0, 9])
    fb = bytes([0xA1, 205, 0x00, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 4])
    assert parse_rtcp(rr + fb) == [ReceiverReport(9), UnknownRtcp(205, 1, bytes(range(1, 9)))]


@pytest.mark.parametrize(
    ("wire", "validate"),
    [
        (bytes([0x81, 202, 0, 1, 0, 0, 0, 1]), True),  # starts with SDES
        (bytes([0xA0, 201, 0, 1, 0, 0, 0, 1]), True),  # padding in the first packet
        (bytes([0x40, 201, 0, 1, 0, 0, 0, 1]), False),  # version 1
        (bytes([0x80, 201, 0, 2, 0, 0, 0, 1]), False),  # length past the datagram
        (bytes([0x80, 201, 0, 1, 0, 0, 0, 1, 0x80]), False),  # trailing byte
        (bytes([0x81, 201, 0, 1, 0, 0, 0, 1]), False),  # report block missing
        (bytes([0x81, 203, 0, 0]), False),  # BYE count with no SSRC
        (bytes([0x80, 201, 0, 1, 0, 0, 0, 1, 0x81, 202, 0, 1, 0, 0, 0, 1]), False),  # SDES no end
    ],
)
def test_invalid_compounds(wire: bytes, validate: bool) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_rtcp(wire, validate=validate)


def test_reduced_size_needs_validate_false() -> None:
    sdes = bytes([0x81, 202, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0])
    with pytest.raises(RemoteProtocolError):
        parse_rtcp(sdes)
    assert parse_rtcp(sdes, validate=False) == [SourceDescription((SdesChunk(1, ()),))]


def test_is_rtcp_uses_the_rfc5761_range() -> None:
    assert is_rtcp(bytes([0x80, 200]))
    assert is_rtcp(bytes([0x81, 223]))
    assert not is_rtcp(bytes([0x80, 0x80 | 63]))  # RTP PT 63 with marker: 191
    assert not is_rtcp(bytes([0x80, 224]))
    assert not is_rtcp(bytes([0x40, 200]))
    assert not is_rtcp(b"\x80")


def test_ntp_conversion() -> None:
    ntp = ntp_from_unix(1.5)
    assert ntp >> 32 == 2_208_988_801
    assert ntp & 0xFFFFFFFF == 0x80000000
    assert ntp_middle(ntp) == ((2_208_988_801 & 0xFFFF) << 16) | 0x8000


def test_builders_reject_bad_values() -> None:
    with pytest.raises(LocalProtocolError):
        encode_rtcp([App(0, 1, b"TOOLONG")])
    with pytest.raises(LocalProtocolError):
        encode_rtcp([Bye((1,), "x" * 300)])
    with pytest.raises(LocalProtocolError):
        encode_rtcp([ReceiverReport(1, (ReportBlock(2, 0, 1 << 24, 0, 0),))])
    with pytest.raises(LocalProtocolError):
        encode_rtcp([ReceiverReport(1 << 33)])


u32 = st.integers(0, 0xFFFFFFFF)
words = st.integers(0, 4).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))
blocks = st.builds(
    ReportBlock, u32, st.integers(0, 255), st.integers(-0x800000, 0x7FFFFF), u32, u32, u32, u32
)
block_lists = st.lists(blocks, max_size=3).map(tuple)
reports = st.one_of(
    st.builds(SenderReport, u32, st.integers(0, (1 << 64) - 1), u32, u32, u32, block_lists, words),
    st.builds(ReceiverReport, u32, block_lists, words),
)
others = st.one_of(
    st.builds(
        SourceDescription,
        st.lists(
            st.builds(
                SdesChunk,
                u32,
                st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=20)), max_size=3).map(
                    tuple
                ),
            ),
            max_size=3,
        ).map(tuple),
    ),
    st.builds(Bye, st.lists(u32, max_size=4).map(tuple), st.text(max_size=30)),
    st.builds(App, st.integers(0, 31), u32, st.binary(min_size=4, max_size=4), words),
    st.builds(UnknownRtcp, st.integers(205, 210), st.integers(0, 31), words),
)


@settings(max_examples=examples(300))
@given(reports, st.lists(others, max_size=4))
def test_compound_round_trip(first: RtcpPacket, rest: list[RtcpPacket]) -> None:
    packets = [first, *rest]
    assert parse_rtcp(encode_rtcp(packets)) == packets


@settings(max_examples=examples(500))
@given(st.one_of(st.binary(max_size=120), st.binary(max_size=40).map(lambda b: SR_WIRE + b)))
def test_parser_raises_only_remote_protocol_error(data: bytes) -> None:
    for validate in (True, False):
        with contextlib.suppress(RemoteProtocolError):
            parse_rtcp(data, validate=validate)
