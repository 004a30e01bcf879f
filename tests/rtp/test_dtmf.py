"""RFC 4733 telephone events: payload codec, the sending sequence, receive de-duplication."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.rtp import (
    DtmfPayload,
    DtmfReceived,
    DtmfReceiver,
    RtpPacket,
    dtmf_event_code,
    parse_dtmf,
    parse_rtp,
)
from tests.conftest import examples
from tests.rtp.helpers import A_ADDR, B_ADDR, drain, session


def test_payload_layout() -> None:
    # event 5, E=1, R=0, volume 10, duration 800
    assert DtmfPayload(5, True, 10, 800).encode() == bytes([5, 0x8A, 0x03, 0x20])
    assert parse_dtmf(bytes([11, 0x0A, 0x00, 0xA0, 99])) == DtmfPayload(11, False, 10, 160)
    with pytest.raises(RemoteProtocolError):
        parse_dtmf(b"\x01\x02\x03")
    with pytest.raises(LocalProtocolError):
        DtmfPayload(1, False, 64, 0).encode()


def test_digit_codes() -> None:
    assert [dtmf_event_code(d) for d in "09*#AdF"[:6]] == [0, 9, 10, 11, 12, 15]
    assert dtmf_event_code("!") == dtmf_event_code("flash") == 16
    with pytest.raises(LocalProtocolError):
        dtmf_event_code("E")


@settings(max_examples=examples(200))
@given(st.integers(0, 255), st.booleans(), st.integers(0, 63), st.integers(0, 0xFFFF))
def test_payload_round_trip(event: int, end: bool, volume: int, duration: int) -> None:
    block = DtmfPayload(event, end, volume, duration)
    assert parse_dtmf(block.encode()) == block


def expected_packet(
    seq: int, ts: int, ssrc: int, *, marker: bool, end: bool, duration: int
) -> bytes:
    """The exact bytes RFC 4733 asks for: digit 5, volume 10, PT 101."""
    header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 101, seq, ts, ssrc)
    return header + struct.pack("!BBH", 5, (0x80 if end else 0) | 10, duration)


def test_send_sequence_is_paced_and_exact() -> None:
    s = session()
    s.send_payload(bytes(160), 0, 0.0)
    audio = parse_rtp(s.datagrams_to_send(0.0)[0][0])
    s.send_dtmf("5", 0.02, duration_ms=50, volume=10)
    sent = s.datagrams_to_send(0.02)
    assert len(sent) == 1
    assert s.get_timer() == pytest.approx(0.04)
    times = [0.02]
    while len(sent) < 5:
        now = s.get_timer()
        assert now is not None
        s.handle_timer(now)
        out = s.datagrams_to_send(now)
        assert len(out) == 1
        sent += out
        times.append(now)
    assert times == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.10])
    assert not s.dtmf_active
    seq0 = (audio.sequence_number + 1) & 0xFFFF
    ts = (audio.timestamp + 160) & 0xFFFFFFFF
    plan = [(True, False, 160), (False, False, 320), (False, True, 400), (False, True, 400),
            (False, True, 400)]  # fmt: skip
    expected = [
        (expected_packet((seq0 + i) & 0xFFFF, ts, s.ssrc, marker=m, end=e, duration=d), B_ADDR)
        for i, (m, e, d) in enumerate(plan)
    ]
    assert sent == expected
    # Audio after the event continues after its duration.
    s.send_payload(bytes(160), 0, 0.12)
    assert parse_rtp(s.datagrams_to_send(0.12)[0][0]).timestamp == (ts + 400) & 0xFFFFFFFF


def test_queued_digits_follow_each_other_with_a_gap() -> None:
    s = session(dtmf_gap=0.04)
    s.send_dtmf("12", 0.0, duration_ms=40)
    starts: list[tuple[float, int]] = []
    now = 0.0
    while True:
        for data, _ in s.datagrams_to_send(now):
            packet = parse_rtp(data)
            if packet.marker:
                starts.append((now, packet.payload[0]))
        timer = s.get_timer()
        if not s.dtmf_active or timer is None:
            break
        now = timer
        s.handle_timer(now)
    # 40 ms = 2 updates, so 4 packets at 0, 20, 40, 60 ms; next start 60 + 20 + 40 ms.
    assert starts == [(0.0, 1), (pytest.approx(0.12), 2)]


def dtmf_rtp(
    seq: int, ts: int, event: int, end: bool, duration: int, *, marker: bool = False
) -> bytes:
    payload = DtmfPayload(event, end, 7, duration).encode()
    return RtpPacket(101, seq, ts, 0x4242, payload, marker).encode()


def test_receive_reports_each_event_once_despite_three_end_packets() -> None:
    s = session(payload_types=frozenset({0}))
    s.receive_datagram(dtmf_rtp(1, 1000, 3, False, 160, marker=True), A_ADDR, 0.0)
    s.receive_datagram(dtmf_rtp(2, 1000, 3, False, 320), A_ADDR, 0.02)
    for i in range(3):
        s.receive_datagram(dtmf_rtp(3 + i, 1000, 3, True, 800), A_ADDR, 0.04 + 0.02 * i)
    s.receive_datagram(dtmf_rtp(5, 1000, 3, True, 800), A_ADDR, 0.09)  # duplicate on the wire
    digits = [e for e in drain(s) if isinstance(e, DtmfReceived)]
    assert digits == [DtmfReceived("3", 0.1, 7)]


def test_receiver_end_without_start_and_lost_ends() -> None:
    r = DtmfReceiver(8000, end_timeout=0.5)
    # An event whose start was lost: only end packets.
    payload = DtmfPayload(11, True, 5, 1600).encode()
    assert r.receive(1, 500, payload, 0.0) == [DtmfReceived("#", 0.2, 5)]
    assert r.receive(1, 500, payload, 0.02) == []
    # An event whose end packets were all lost: reported by timeout.
    r.receive(1, 9000, DtmfPayload(16, False, 5, 160).encode(), 1.0)
    r.receive(1, 9000, DtmfPayload(16, False, 5, 320).encode(), 1.02)
    assert r.deadline() == pytest.approx(1.52)
    assert r.expire(1.5) == []
    assert r.expire(1.52) == [DtmfReceived("!", 0.04, 5)]
    assert r.deadline() is None
    # A new event while one is ongoing reports the old one first.
    r.receive(1, 20000, DtmfPayload(1, False, 5, 160).encode(), 2.0)
    out = r.receive(1, 21000, DtmfPayload(2, True, 5, 480).encode(), 2.1)
    assert out == [DtmfReceived("1", 0.02, 5), DtmfReceived("2", 0.06, 5)]
    # Late retransmissions of reported events are ignored; codes above 16 too.
    assert r.receive(1, 20000, DtmfPayload(1, True, 5, 800).encode(), 2.2) == []
    assert r.receive(1, 30000, DtmfPayload(40, True, 5, 800).encode(), 2.3) == []


def test_session_reports_lost_ends_by_timer() -> None:
    s = session(dtmf_end_timeout=0.3)
    s.receive_datagram(dtmf_rtp(1, 1000, 9, False, 160, marker=True), A_ADDR, 0.0)
    assert s.get_timer() == pytest.approx(0.3)
    s.handle_timer(0.3)
    assert [e for e in drain(s) if isinstance(e, DtmfReceived)] == [DtmfReceived("9", 0.02, 7)]


def test_two_sessions_send_and_receive_a_digit_string() -> None:
    a, b = session(seed=1, remote=B_ADDR), session(seed=2, remote=A_ADDR)
    a.send_dtmf("1A#", 0.0, duration_ms=80)
    now = 0.0
    while a.dtmf_active:
        for data, _ in a.datagrams_to_send(now):
            b.receive_datagram(data, A_ADDR, now + 0.01)
            b.receive_datagram(data, A_ADDR, now + 0.011)  # every packet duplicated
        now = a.get_timer() or now
        a.handle_timer(now)
    for data, _ in a.datagrams_to_send(now):
        b.receive_datagram(data, A_ADDR, now + 0.01)
    digits = [e for e in drain(b) if isinstance(e, DtmfReceived)]
    assert digits == [DtmfReceived(d, 0.08, 10) for d in "1A#"]
