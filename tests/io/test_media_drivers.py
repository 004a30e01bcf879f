"""The media engine on real loopback sockets in each driver (asyncio, trio,
threads): calls exchange tones and DTMF with the clock ticking in real
time, a stream that raises is closed while the other calls of the same
clock keep playing, RTP and RTCP leave on their own sockets, refused
datagrams are counted, and RTCP sender reports carry wall-clock time."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.audio.frames import AudioFrame, CollectSink
from sansip.audio.tones import ToneSource
from sansip.errors import LocalProtocolError
from sansip.media.engine import PortState, StreamFailed, StreamReported
from sansip.rtp import Bye, DtmfReceived, SenderReport, is_rtcp, parse_rtcp, parse_rtp
from sansip.rtp.rtcp import ntp_from_unix
from tests.io.media_harness import LOOPS, RATE, Harness, negotiate, run


class BrokenSink(CollectSink):
    """Collects frames, then raises from the ``fail_at``-th write on (a full
    disk under a recorder), and notes the threads that wrote."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__(max_frames=2000)
        self.fail_at = fail_at
        self.writes = 0
        self.threads: set[int] = set()

    def write(self, frame: AudioFrame) -> None:
        self.writes += 1
        self.threads.add(threading.get_ident())
        if self.fail_at is not None and self.writes >= self.fail_at:
            raise OSError(28, "No space left on device")
        super().write(frame)


def _received(h: Harness, media: list, index: int) -> int:  # type: ignore[type-arg]
    stream = media[index].stream
    return int(h.on_owner(lambda: stream.statistics(h.now()).rtp.packets_received))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("loop", LOOPS)
def test_two_calls_talk_and_a_failing_stream_leaves_the_other_playing(loop: str) -> None:
    """Two call pairs on one clock; the sink of one leg raises after 25
    frames: that leg is closed with StreamFailed, its sockets released, and
    the other pair goes on hearing its tones and DTMF."""
    sinks = [BrokenSink(), BrokenSink(), BrokenSink(fail_at=25), BrokenSink()]

    async def scenario(h: Harness) -> dict[str, object]:
        ports = [h.driver.open_media("127.0.0.1") for _ in range(4)]
        assert all(p.rtp_port % 2 == 0 and p.state is PortState.OPEN for p in ports)
        sources = [ToneSource(hz, RATE) for hz in (600.0, 1400.0, 800.0, 1000.0)]
        now = h.now()
        media = negotiate([ports[0].rtp_port, ports[1].rtp_port], "PCMU", sources[:2], sinks[:2],
                          now) + negotiate([ports[2].rtp_port, ports[3].rtp_port], "PCMU",
                                           sources[2:], sinks[2:], now, seed=2)  # fmt: skip
        for port, m in zip(ports, media, strict=True):
            h.driver.start_media(port, m.stream)
        await h.sleep(0.8)
        h.driver.media_command(ports[0], lambda s: s.send_dtmf("5#", h.now()))
        before = _received(h, media, 1)
        await h.sleep(1.0)
        after = _received(h, media, 1)
        events = h.events()
        states = [p.state for p in ports]
        for port in ports:
            h.driver.close_media(port)
        return {"events": events, "states": states, "before": before, "after": after,
                "failed": ports[2], "faults": h.driver.media.faults}  # fmt: skip

    result = run(loop, scenario)
    events = result["events"]
    assert isinstance(events, list)
    failures = [e for e in events if isinstance(e, StreamFailed)]
    assert [e.port for e in failures] == [result["failed"]]
    assert "No space left" in failures[0].reason
    assert result["states"] == [PortState.RUNNING, PortState.RUNNING, PortState.FAILED,
                                PortState.RUNNING]  # fmt: skip
    assert result["faults"] == 1
    digits = "".join(e.event.digit for e in events if isinstance(e, StreamReported)
                     and isinstance(e.event, DtmfReceived))  # fmt: skip
    assert digits == "5#"
    # The pair untouched by the failure kept receiving after it (~50 packets/s).
    assert isinstance(result["after"], int) and isinstance(result["before"], int)
    assert result["after"] - result["before"] > 15
    heard_by_alice, heard_by_bob = (s.samples()[-RATE // 2 :] for s in sinks[:2])
    assert dominant_frequency(heard_by_alice, RATE) == pytest.approx(1400.0, abs=20)
    assert dominant_frequency(heard_by_bob, RATE) == pytest.approx(600.0, abs=20)
    # One thread (the loop's, or the owner thread) ran every stream.
    assert len(sinks[0].threads | sinks[1].threads) == 1


def _peer_pair() -> tuple[socket.socket, socket.socket, int]:
    """Two plain UDP sockets on an even port and the next one (a fake peer)."""
    for number in range(40000, 60000, 2):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtp.bind(("127.0.0.1", number))
            rtcp.bind(("127.0.0.1", number + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            continue
        for sock in (rtp, rtcp):
            sock.setblocking(False)
        return rtp, rtcp, number
    raise RuntimeError("no free port pair")


def _drain(sock: socket.socket) -> list[bytes]:
    out = []
    with contextlib.suppress(BlockingIOError):
        while True:
            out.append(sock.recv(2048))
    return out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("loop", LOOPS)
def test_rtp_rtcp_dtmf_pace_and_wall_clock_reports(loop: str) -> None:
    """RTP on the RTP socket, RTCP (SR with wall-clock NTP time, then BYE)
    on the RTCP socket; every RFC 4733 packet of a digit, one per tick."""
    peer_rtp, peer_rtcp, peer_number = _peer_pair()

    async def scenario(h: Harness) -> tuple[list[bytes], list[bytes], int | None, float]:
        port = h.driver.open_media("127.0.0.1")
        ours, _theirs = negotiate([port.rtp_port, peer_number], "PCMU",
                                  [ToneSource(500.0, RATE)] * 2, [CollectSink()] * 2, h.now())
        stream = ours.stream
        assert stream is not None and not stream.media.rtcp_mux
        dtmf_pt = stream.media.telephone_event_pt
        h.driver.start_media(port, stream)
        await h.sleep(0.1)
        h.driver.media_command(port, lambda s: s.send_dtmf("7", h.now(), duration_ms=100))
        await h.sleep(0.4)
        # The first RTCP report is due within a few seconds (RFC 3550 §6.3).
        await h.wait_for(lambda: bool(h.on_owner(
            lambda: stream.statistics(h.now()).rtp.rtcp_sent)))  # fmt: skip
        wall = time.time()
        h.driver.close_media(port)
        await h.sleep(0.05)
        return _drain(peer_rtp), _drain(peer_rtcp), dtmf_pt, wall

    try:
        rtp, rtcp, dtmf_pt, wall = run(loop, scenario)
    finally:
        peer_rtp.close()
        peer_rtcp.close()
    assert rtp and not any(is_rtcp(p) for p in rtp)
    events = [packet for packet in map(parse_rtp, rtp) if packet.payload_type == dtmf_pt]
    # 100 ms at 20 ms per packet: the start, updates, then three end packets.
    assert len(events) >= 7
    assert len({p.timestamp for p in events}) == 1
    assert events[0].marker and events[-1].payload[1] & 0x80
    reports = [p for packet in rtcp for p in parse_rtcp(packet)]
    assert any(isinstance(p, Bye) for p in reports)
    senders = [p for p in reports if isinstance(p, SenderReport)]
    assert senders
    # NTP time of the report: within a few seconds of the wall clock (not monotonic time).
    ntp_seconds = (senders[0].ntp_timestamp >> 32) + (senders[0].ntp_timestamp & 0xFFFFFFFF) / 2**32
    assert abs(ntp_seconds - ntp_from_unix(wall) / 2**32) < 10


@pytest.mark.timeout(60)
@pytest.mark.parametrize("loop", LOOPS)
def test_refused_datagrams_are_counted_and_early_ones_dropped(loop: str) -> None:
    """Sending to a closed port never raises (the error is counted at most);
    datagrams before a stream is started are dropped and counted; a taken
    explicit port is refused with LocalProtocolError."""
    peer_rtp, peer_rtcp, peer_number = _peer_pair()
    peer_rtp.close()
    peer_rtcp.close()

    async def scenario(h: Harness) -> tuple[int, int, int]:
        port = h.driver.open_media("127.0.0.1")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"\x80" + bytes(20), ("127.0.0.1", port.rtp_port))
            sender.sendto(b"\x81\xc9\x00\x01" + bytes(4), ("127.0.0.1", port.rtp_port + 1))
        await h.wait_for(lambda: port.dropped == 2)
        with pytest.raises(LocalProtocolError):
            h.driver.open_media("127.0.0.1", port.rtp_port)
        ours, _ = negotiate([port.rtp_port, peer_number], "PCMU", [ToneSource(500.0, RATE)] * 2,
                            [CollectSink()] * 2, h.now())  # fmt: skip
        assert ours.stream is not None
        h.driver.start_media(port, ours.stream)
        await h.sleep(0.3)
        sent = int(h.on_owner(lambda: ours.stream.statistics(h.now()).rtp.packets_sent))  # type: ignore[union-attr]
        h.driver.close_media(port)
        return port.dropped, sent, h.driver.pump.faults

    dropped, sent, faults = run(loop, scenario)
    assert dropped == 2 and sent >= 5 and faults == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("loop", LOOPS)
def test_commands_from_other_threads_run_where_the_pump_lives(loop: str) -> None:
    """``call()`` from a foreign thread runs on the loop's thread (the owner
    thread for threads) and its result or exception comes back in a future."""

    async def scenario(h: Harness) -> tuple[list[object], int]:
        results: list[object] = []

        def worker() -> None:
            driver = h.driver
            assert hasattr(driver, "call")
            results.append(driver.call(lambda: (threading.get_ident(), 7 * 6)).result(timeout=5))
            failing = driver.call(lambda: 1 / 0)
            results.append(type(failing.exception(timeout=5)))

        thread = threading.Thread(target=worker)
        thread.start()
        await h.wait_for(lambda: len(results) == 2)
        thread.join(5)
        owner = getattr(h.driver, "owner_ident", None) or threading.get_ident()
        return results, owner

    results, owner = run(loop, scenario)
    assert results == [(owner, 42), ZeroDivisionError]
