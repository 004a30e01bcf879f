"""RtpSession: sending, latching, SSRC collisions, media timeout, RTCP and two sessions."""

from __future__ import annotations

import itertools
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.rtp import (
    NAT_OPEN_PACKET,
    Bye,
    ByeReceived,
    Latched,
    MediaTimedOut,
    ReceiverReport,
    RemoteSourceChanged,
    RtcpReceived,
    RtpPacket,
    RtpReceived,
    SenderReport,
    SourceDescription,
    SsrcCollided,
    parse_comfort_noise,
    parse_rtcp,
    parse_rtp,
)
from tests.conftest import examples
from tests.rtp.helpers import A_ADDR, B_ADDR, Wire, drain, session

OTHER: tuple[str, int] = ("127.0.0.1", 60000)


def rtp(seq: int, ssrc: int = 0x5555, pt: int = 0, ts: int | None = None) -> bytes:
    return RtpPacket(pt, seq & 0xFFFF, 160 * seq if ts is None else ts, ssrc, bytes(160)).encode()


def test_send_payload_numbers_packets_and_advances_timestamps() -> None:
    s = session()
    s.send_payload(b"abc", 0, 0.0, marker=True)
    s.send_payload(b"def", 0, 0.02)
    s.send_payload(b"ghi", 0, 0.04, timestamp_advance=80)
    s.send_payload(b"jkl", 0, 0.05, timestamp=7)
    out = s.datagrams_to_send(0.05)
    assert [dst for _, dst in out] == [B_ADDR] * 4
    packets = [parse_rtp(data) for data, _ in out]
    first = packets[0]
    assert first.marker and not packets[1].marker
    assert first.ssrc == s.ssrc
    assert [p.sequence_number for p in packets] == [(first.sequence_number + i) & 0xFFFF
                                                   for i in range(4)]  # fmt: skip
    assert packets[1].timestamp == (first.timestamp + 160) & 0xFFFFFFFF
    assert packets[2].timestamp == (first.timestamp + 320) & 0xFFFFFFFF
    assert packets[3].timestamp == 7
    assert [p.payload for p in packets] == [b"abc", b"def", b"ghi", b"jkl"]
    stats = s.statistics(0.05)
    assert (stats.packets_sent, stats.bytes_sent) == (4, 12)


def test_equal_seeds_give_equal_sources_and_different_seeds_differ() -> None:
    assert session(seed=3).ssrc == session(seed=3).ssrc
    assert session(seed=3).ssrc != session(seed=4).ssrc


def test_nat_open_packets_and_comfort_noise() -> None:
    s = session(natopenpackets=3)
    assert s.datagrams_to_send(0.0) == [(NAT_OPEN_PACKET, B_ADDR)] * 3
    s.send_comfort_noise(60, 0.0, coefficients=b"\x10")
    (data, _), = s.datagrams_to_send(0.0)  # fmt: skip
    packet = parse_rtp(data)
    assert packet.payload_type == 13
    assert parse_comfort_noise(packet.payload).level == 60
    # Peers' CRLF keep-alives are absorbed, not rejected.
    s.receive_datagram(b"\r\n", OTHER, 0.1)
    assert s.keepalives_received == 1
    assert s.rejected == 0


def test_latches_on_the_first_negotiated_packet_only() -> None:
    s = session()
    s.receive_datagram(rtp(1, pt=99), OTHER, 0.0)  # not negotiated: no latch
    assert s.rejected == 1
    assert s.rtp_address == B_ADDR
    s.receive_datagram(rtp(1), A_ADDR, 0.02)
    events = drain(s)
    assert events[0] == Latched(A_ADDR, B_ADDR)
    assert RemoteSourceChanged(0x5555, None) in events
    assert any(isinstance(e, RtpReceived) for e in events)
    s.send_payload(b"x", 0, 0.03)
    assert s.datagrams_to_send(0.03)[0][1] == A_ADDR


def test_a_stray_packet_does_not_hijack_the_stream() -> None:
    s = session()
    for i in range(10):
        s.receive_datagram(rtp(i), A_ADDR, i * 0.02)
    drain(s)
    s.receive_datagram(rtp(500, ssrc=0x6666), OTHER, 0.21)
    # The real flow keeps going; the stranger keeps interleaving: still no switch.
    for i in range(10, 30):
        s.receive_datagram(rtp(i), A_ADDR, i * 0.02)
        s.receive_datagram(rtp(500 + i, ssrc=0x6666), OTHER, i * 0.02 + 0.001)
    assert s.rtp_address == A_ADDR
    assert not any(isinstance(e, Latched) for e in drain(s))
    assert s.rejected == 21


def test_a_sustained_new_flow_relatches() -> None:
    s = session(relatch_packets=5)
    for i in range(10):
        s.receive_datagram(rtp(i), A_ADDR, i * 0.02)
    drain(s)
    for i in range(5):
        s.receive_datagram(rtp(900 + i, ssrc=0x7777), OTHER, 0.3 + i * 0.02)
    events = drain(s)
    assert events[0] == Latched(OTHER, A_ADDR)
    assert RemoteSourceChanged(0x7777, 0x5555) in events
    assert s.rtp_address == OTHER


def test_same_ssrc_from_a_new_port_relatches_only_after_silence() -> None:
    s = session(relatch_packets=3, relatch_silence=1.0)
    for i in range(10):
        s.receive_datagram(rtp(i), A_ADDR, i * 0.02)
    for i in range(10, 14):  # NAT rebinding, but the old port was heard just now
        s.receive_datagram(rtp(i), OTHER, 0.2 + i * 0.001)
    assert s.rtp_address == A_ADDR
    for i in range(14, 17):  # a second later the old port is silent
        s.receive_datagram(rtp(i), OTHER, 1.5 + i * 0.02)
    assert s.rtp_address == OTHER


def test_without_symmetric_rtp_we_keep_sending_to_the_sdp_address() -> None:
    s = session(symmetric_rtp=False)
    s.receive_datagram(rtp(1), OTHER, 0.0)
    assert s.rtp_address == B_ADDR
    assert any(isinstance(e, RtpReceived) for e in drain(s))


def test_ssrc_collision_sends_bye_and_picks_a_new_ssrc() -> None:
    s = session()
    old = s.ssrc
    s.receive_datagram(rtp(1, ssrc=old), OTHER, 1.0)
    (event,) = drain(s)
    assert isinstance(event, SsrcCollided)
    assert (event.old, event.addr) == (old, OTHER)
    assert s.ssrc == event.new != old
    (data, dst), = s.datagrams_to_send(1.0)  # fmt: skip
    assert dst == (B_ADDR[0], B_ADDR[1] + 1)
    packets = parse_rtcp(data)
    assert isinstance(packets[0], ReceiverReport) and packets[0].ssrc == old
    assert packets[-1] == Bye((old,), "SSRC collision")
    s.send_payload(b"x", 0, 1.1)
    assert parse_rtp(s.datagrams_to_send(1.1)[0][0]).ssrc == event.new
    # The same address again with our new SSRC is a loop: counted, no second change.
    s.receive_datagram(rtp(2, ssrc=event.new), OTHER, 1.2)
    assert drain(s) == []
    assert s.ssrc == event.new
    assert s.rejected == 1


def test_media_timeout_is_half_before_first_media_then_full() -> None:
    s = session(mediatimeout=10.0)
    assert s.get_timer() == pytest.approx(min(5.0, s.get_timer() or 0.0))
    s.handle_timer(4.9)
    assert not any(isinstance(e, MediaTimedOut) for e in drain(s))
    s.handle_timer(5.0)
    assert MediaTimedOut(5.0) in drain(s)
    s.handle_timer(6.0)  # reported once
    assert not any(isinstance(e, MediaTimedOut) for e in drain(s))
    s.receive_datagram(rtp(1), A_ADDR, 7.0)
    s.handle_timer(16.9)
    assert not any(isinstance(e, MediaTimedOut) for e in drain(s))
    s.handle_timer(17.0)
    assert MediaTimedOut(10.0) in drain(s)


def test_media_timeout_pauses_on_hold() -> None:
    s = session(mediatimeout=10.0)
    s.receive_datagram(rtp(1), A_ADDR, 0.0)
    s.set_receiving(False, 1.0)
    s.handle_timer(50.0)
    assert not any(isinstance(e, MediaTimedOut) for e in drain(s))
    s.set_receiving(True, 60.0)
    s.handle_timer(69.0)
    assert not any(isinstance(e, MediaTimedOut) for e in drain(s))
    s.handle_timer(70.0)
    assert any(isinstance(e, MediaTimedOut) for e in drain(s))


def test_bye_closes_the_session() -> None:
    s = session()
    s.send_payload(b"x", 0, 0.0)
    s.datagrams_to_send(0.0)
    s.bye(1.0, "done")
    (data, _), = s.datagrams_to_send(1.0)  # fmt: skip
    packets = parse_rtcp(data)
    assert isinstance(packets[0], SenderReport)
    assert isinstance(packets[1], SourceDescription)
    assert packets[2] == Bye((s.ssrc,), "done")
    assert s.closed and s.get_timer() is None
    with pytest.raises(LocalProtocolError):
        s.send_payload(b"x", 0, 1.1)
    s.bye(1.2)
    assert s.datagrams_to_send(1.2) == []


class Xor:
    """A toy transform standing in for SRTP: flips every byte after the header."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def _flip(self, packet: bytes, keep: int) -> bytes:
        if self.fail:
            raise RemoteProtocolError("authentication failed")
        return packet[:keep] + bytes(b ^ 0xFF for b in packet[keep:])

    def protect_rtp(self, packet: bytes) -> bytes:
        return self._flip(packet, 12)

    unprotect_rtp = protect_rtp

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._flip(packet, 8)

    unprotect_rtcp = protect_rtcp


def test_the_transform_hook_wraps_rtp_and_rtcp() -> None:
    a, b = session(seed=1, remote=B_ADDR), session(seed=2, remote=A_ADDR)
    a.set_transform(Xor())
    b.set_transform(Xor())
    a.send_payload(b"\x01\x02", 0, 0.0)
    (wire, _), = a.datagrams_to_send(0.0)  # fmt: skip
    assert wire.endswith(b"\xfe\xfd")
    b.receive_datagram(wire, A_ADDR, 0.01)
    received = [e for e in drain(b) if isinstance(e, RtpReceived)]
    assert received[0].packet.payload == b"\x01\x02"
    b.set_transform(Xor(fail=True))
    b.receive_datagram(wire, A_ADDR, 0.02)
    assert b.rejected == 1
    assert b.last_rejection == "authentication failed"


def test_two_sessions_exchange_media_and_reports_and_measure_rtt() -> None:
    a = session(seed=1, remote=B_ADDR, wall_clock_offset=1_700_000_000.0)
    b = session(seed=2, remote=A_ADDR, wall_clock_offset=1_700_000_123.25)
    wire = Wire(a, b, delay=0.05)
    wire.run(until=20.0)
    for node, peer in ((a, b), (b, a)):
        events = drain(node)
        media = [e for e in events if isinstance(e, RtpReceived)]
        rtcp = [e for e in events if isinstance(e, RtcpReceived)]
        assert len(media) >= 990
        assert all(e.packet.ssrc == peer.ssrc for e in media)
        assert rtcp and isinstance(rtcp[0].packets[0], SenderReport)
        stats = node.statistics(20.0)
        assert stats.rtt == pytest.approx(0.1, abs=3 / 65536)
        assert stats.packets_lost == 0
        assert stats.remote_ssrc == peer.ssrc
        assert stats.jitter == pytest.approx(0.0, abs=1e-3)
        assert stats.mos is not None and stats.mos > 4.3
        assert stats.rtcp_sent >= 3 and stats.rtcp_received >= 3


def test_two_sessions_with_rtcp_mux_and_loss() -> None:
    a = session(seed=5, remote=B_ADDR, rtcp_mux=True)
    b = session(seed=6, remote=A_ADDR, rtcp_mux=True)
    counter = iter(range(10**9))

    def drop(data: bytes, src: tuple[str, int]) -> bool:
        # Every 10th RTP packet from a is lost; RTCP always gets through.
        return src == A_ADDR and data[1] == 0 and next(counter) % 10 == 5

    wire = Wire(a, b, delay=0.02, drop=drop)
    wire.run(until=12.0)
    drain(a)
    drain(b)
    received = b.statistics(12.0)
    assert received.loss == pytest.approx(0.1, abs=0.01)
    assert received.packets_lost > 0
    seen_by_sender = a.statistics(12.0)
    assert seen_by_sender.remote_fraction_lost == pytest.approx(0.1, abs=0.02)
    assert seen_by_sender.remote_packets_lost is not None
    assert seen_by_sender.remote_packets_lost > 0
    assert received.mos is not None
    assert received.mos < a.statistics(12.0).mos  # type: ignore[operator]
    assert a.rtcp_address == B_ADDR


def test_bye_reaches_the_peer() -> None:
    a, b = session(seed=1, remote=B_ADDR), session(seed=2, remote=A_ADDR)
    wire = Wire(a, b, delay=0.01)
    wire.run(until=0.5)
    a.bye(0.5, "bye now")
    wire.flush(0.5)
    wire.deliver(0.6)
    assert ByeReceived((a.ssrc,), "bye now") in drain(b)


def test_rtcp_reports_follow_the_randomised_interval() -> None:
    s = session(seed=9)
    first = s.get_timer()
    assert first is not None
    compensation = 2.718281828459045 - 1.5
    assert 2.5 * 0.5 / compensation <= first <= 2.5 * 1.5 / compensation
    now, sent, times = 0.0, 0, []
    while now < 300.0:
        timer = s.get_timer()
        assert timer is not None and timer > now
        now = timer
        s.handle_timer(now)
        for data, _ in s.datagrams_to_send(now):
            packets = parse_rtcp(data)
            assert isinstance(packets[0], ReceiverReport)  # we never sent media
            sent += 1
            times.append(now)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 5 * 0.5 / compensation - 1e-9
    assert max(gaps) <= 5 * 1.5 / compensation + 1e-9
    # Reconsideration stretches the randomised interval; the e - 3/2 compensation
    # brings the mean back to the 5 s minimum.
    assert 4.5 < sum(gaps) / len(gaps) < 5.5
    assert sent == len(times) > 50


def test_sender_report_only_while_sending() -> None:
    s = session(seed=4)
    kinds: list[type] = []
    now = 0.0
    while len(kinds) < 6:
        now = s.get_timer() or 0.0
        if len(kinds) < 2:
            s.send_payload(b"x", 0, now - 0.1)
        s.handle_timer(now)
        for data, dst in s.datagrams_to_send(now):
            if dst == s.rtcp_address:
                kinds.append(type(parse_rtcp(data)[0]))
    # SR while we sent since the second previous report (RFC 3550 §6.4), then RR.
    assert kinds == [SenderReport] * 3 + [ReceiverReport] * 3


@settings(max_examples=examples(400))
@given(st.binary(max_size=100), st.booleans(), st.booleans())
def test_any_bytes_never_raise(data: bytes, rtcp: bool, mux: bool) -> None:
    s = session(rtcp_mux=mux, payload_types=frozenset(range(128)))
    s.receive_datagram(data, OTHER, 1.0, rtcp=rtcp)
    # A valid prefix with random content must not break it either.
    s.receive_datagram(struct.pack("!BBHII", 0x80, 0, 1, 2, 3) + data, OTHER, 1.1)
    s.receive_datagram(bytes([0x80, 201, 0, 1]) + data, OTHER, 1.2, rtcp=True)
    s.handle_timer(2.0)
    drain(s)


@settings(max_examples=examples(100))
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 3), st.booleans()), max_size=60))
def test_random_packet_streams_never_raise(items: list[tuple[int, int, bool]]) -> None:
    s = session(payload_types=frozenset({0, 101}))
    rng = random.Random(0)
    for i, (seq, ssrc, dtmf) in enumerate(items):
        pt = 101 if dtmf else 0
        payload = bytes([rng.randrange(20), rng.randrange(256), 0, rng.randrange(256)])
        data = RtpPacket(pt, seq, rng.getrandbits(32), ssrc, payload).encode()
        s.receive_datagram(data, (OTHER[0], OTHER[1] + ssrc), i * 0.02)
        s.handle_timer(i * 0.02)
    drain(s)
    s.statistics(10.0)


def test_statistics_stay_cumulative_after_the_peer_says_bye() -> None:
    a, b = session(1, remote=B_ADDR), session(2, remote=A_ADDR)
    wire = Wire(a, b, delay=0.01)
    wire.run(1.0)
    wire.deliver(1.05)  # what is still on the way
    before = b.statistics(1.05).packets_received
    assert before >= 40
    a.bye(1.05)
    wire.flush(1.05)
    wire.deliver(1.1)
    after = b.statistics(1.1)
    assert after.packets_received == before and after.bytes_received == before * 160


def test_a_media_handler_takes_the_packets_instead_of_events() -> None:
    b = session(seed=2, remote=A_ADDR, dtmf_payload_type=101)
    handled: list[tuple[int, int, int, bytes, bool, float]] = []
    b.media_handler = lambda *fields: handled.append(fields)
    for seq in range(1, 6):
        b.receive_datagram(rtp(seq), A_ADDR, 0.02 * seq)
    b.receive_datagram(rtp(3), A_ADDR, 0.2)  # a duplicate is not handed on
    b.receive_datagram(rtp(7, pt=8), A_ADDR, 0.21)  # nor a payload type not negotiated
    events = drain(b)
    assert not any(isinstance(e, RtpReceived) for e in events)
    assert any(isinstance(e, Latched) for e in events)
    assert any(isinstance(e, RemoteSourceChanged) for e in events)
    # (payload type, sequence number, timestamp, payload, marker, arrival)
    assert handled == [(0, s, 160 * s, bytes(160), False, 0.02 * s) for s in range(1, 6)]
    # Telephone events still come as events, never through the handler.
    event = struct.pack("!BBH", 5, 0x80 | 10, 800)
    b.receive_datagram(RtpPacket(101, 6, 160 * 6, 0x5555, event, True).encode(), A_ADDR, 0.3)
    assert len(handled) == 5
    stats = b.statistics(0.3)
    assert stats.packets_received == 6 and stats.duplicates == 1 and b.rejected == 1


def test_the_timer_is_the_earliest_deadline() -> None:
    report_due = session(seed=3, dtmf_payload_type=101).get_timer()
    assert report_due is not None and report_due > 0.3  # the first RTCP report
    s = session(seed=3, dtmf_payload_type=101, mediatimeout=0.2)
    assert s.get_timer() == pytest.approx(0.1)  # half the media timeout before any media
    s.receive_datagram(rtp(1), A_ADDR, 0.05)
    assert s.get_timer() == pytest.approx(0.25)  # the full timeout after the last packet
    s.send_dtmf("1", 0.06)
    assert s.get_timer() == pytest.approx(0.08)  # the next telephone-event packet
    s.set_receiving(False, 0.06)  # hold: no media timeout
    s.handle_timer(0.08)
    assert s.get_timer() == pytest.approx(0.10)
    s.bye(0.09)
    assert s.get_timer() is None


def test_a_lone_rtcp_bye_is_taken_not_rejected() -> None:
    from sansip.rtp import Bye, ByeReceived, encode_rtcp

    s = session(1, remote=B_ADDR)
    s.receive_datagram(encode_rtcp([Bye((0x1234,), "bye")]), (B_ADDR[0], B_ADDR[1] + 1), 1.0,
                       rtcp=True)  # fmt: skip
    assert s.rejected == 0
    assert ByeReceived((0x1234,), "bye") in drain(s)


def test_has_events_tells_whether_next_event_has_one() -> None:
    s = session()
    pending = [s.has_events, s.next_event() is None]
    peer = RtpPacket(0, 100, 1000, 0x1234, b"\x00" * 160)
    s.receive_datagram(peer.encode(), B_ADDR, 0.0)
    pending.append(s.has_events)  # latched, a new source and the packet
    events = drain(s)
    pending.append(s.has_events)
    assert events
    assert pending == [False, True, True, False]
