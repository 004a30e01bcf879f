"""Audio over real loopback sockets with the asyncio media driver: two
calls' media exchange tones and DTMF with the media clock ticking in real
time."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator

import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.audio.frames import CollectSink
from sansip.audio.tones import ToneSource
from sansip.io.asyncio_media import AsyncioMediaClock, AsyncioMediaPort
from sansip.media import CallMedia
from sansip.rtp import Bye, DtmfReceived, RtpPacket, is_rtcp, parse_rtcp, parse_rtp
from sansip.sdp import codec_preferences


async def _exchange(codec: str) -> None:
    clock = AsyncioMediaClock()
    rate = 16000
    digits: list[str] = []
    ports = [AsyncioMediaPort("127.0.0.1"), AsyncioMediaPort("127.0.0.1")]
    numbers = [await p.open() for p in ports]
    assert all(n % 2 == 0 for n in numbers)
    sinks = [CollectSink(max_frames=1000), CollectSink(max_frames=1000)]
    media = [
        CallMedia(
            "127.0.0.1",
            numbers[i],
            codec_preferences(codec=codec),
            rng=random.Random(i),
            source=ToneSource(hz, rate),
            sink=sinks[i],
            sample_rate=rate,
        )
        for i, hz in enumerate((600.0, 1400.0))
    ]
    loop = asyncio.get_running_loop()
    answer = media[1].answer(media[0].offer(), loop.time())
    media[0].receive_answer(answer, loop.time())

    def collect() -> None:
        stream = media[1].stream
        while stream is not None and (event := stream.next_event()) is not None:
            if isinstance(event, DtmfReceived):
                digits.append(event.digit)

    for port, m in zip(ports, media, strict=True):
        port.stream = m.stream
        clock.add(port)
    ports[1].on_activity = collect
    await asyncio.sleep(0.6)
    assert media[0].stream is not None
    media[0].stream.send_dtmf("5#", loop.time())
    ports[0].flush()
    await asyncio.sleep(1.0)
    for port in ports:
        clock.remove(port)
        port.close()
    heard_by_alice, heard_by_bob = (s.samples()[-rate // 2 :] for s in sinks)
    assert dominant_frequency(heard_by_alice, rate) == pytest.approx(1400.0, abs=20)
    assert dominant_frequency(heard_by_bob, rate) == pytest.approx(600.0, abs=20)
    assert "".join(digits) == "5#"
    stats = media[1].stream.statistics(loop.time())  # type: ignore[union-attr]
    assert stats.rtp.packets_received > 40


@pytest.mark.parametrize("codec", ["PCMU", "G722"])
def test_two_streams_talk_over_loopback(codec: str) -> None:
    asyncio.run(_exchange(codec))


def _raw_pair() -> tuple[socket.socket, socket.socket, int]:
    """Two plain UDP sockets on an even port and the next one (a fake peer)."""
    rng = random.Random()
    for _ in range(100):
        number = rng.randrange(40000, 60000, 2)
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
            sock.settimeout(2.0)
        return rtp, rtcp, number
    raise RuntimeError("no free port pair")


@contextlib.asynccontextmanager
async def _port_and_peer() -> AsyncIterator[
    tuple[AsyncioMediaPort, int, socket.socket, socket.socket, int]
]:
    """A media port on loopback and a raw RTP/RTCP socket pair standing for the peer."""
    port = AsyncioMediaPort("127.0.0.1")
    number = await port.open()
    peer_rtp, peer_rtcp, peer_number = _raw_pair()
    try:
        yield port, number, peer_rtp, peer_rtcp, peer_number
    finally:
        port.close()
        peer_rtp.close()
        peer_rtcp.close()


def _media(port: int, seed: int, sink: CollectSink | None = None) -> CallMedia:
    return CallMedia("127.0.0.1", port, codec_preferences(codec="PCMU"), rng=random.Random(seed),
                     source=ToneSource(500.0, 8000), sink=sink or CollectSink())  # fmt: skip


async def _rtp_and_rtcp_go_to_their_own_sockets() -> None:
    loop = asyncio.get_running_loop()
    clock = AsyncioMediaClock()
    async with _port_and_peer() as (port, number, peer_rtp, peer_rtcp, peer_number):
        ours, theirs = _media(number, 1), _media(peer_number, 2)
        ours.receive_answer(theirs.answer(ours.offer(), loop.time()), loop.time())
        stream = ours.stream
        assert stream is not None and not stream.media.rtcp_mux
        port.stream = stream
        clock.add(port)
        await asyncio.sleep(0.1)
        clock.remove(port)
        packets = [await loop.run_in_executor(None, peer_rtp.recv, 2048) for _ in range(3)]
        assert all(not is_rtcp(p) and parse_rtp(p).payload_type == 0 for p in packets)
        stream.close(loop.time())  # a final report with BYE, sent by the next flush
        port.flush()
        report = await loop.run_in_executor(None, peer_rtcp.recv, 2048)
        assert is_rtcp(report)
        assert any(isinstance(p, Bye) for p in parse_rtcp(report))


def test_rtp_and_rtcp_go_to_their_own_sockets() -> None:
    asyncio.run(_rtp_and_rtcp_go_to_their_own_sockets())


async def _a_port_on_no_clock_receives_and_runs_its_own_timer() -> None:
    loop = asyncio.get_running_loop()
    async with _port_and_peer() as (port, number, peer_rtp, peer_rtcp, peer_number):
        ours, theirs = _media(number, 3), _media(peer_number, 4)
        ours.receive_answer(theirs.answer(ours.offer(), loop.time()), loop.time())
        stream = ours.stream
        assert stream is not None
        activity: list[int] = []
        port.on_activity = lambda: activity.append(1)
        port.stream = stream
        port.flush()  # no clock: the port arms the stream's timer itself
        ssrc = 0x1234
        for seq in range(5):
            packet = RtpPacket(0, seq, 160 * seq, ssrc, bytes(160)).encode()
            peer_rtp.sendto(packet, ("127.0.0.1", number))
        deadline = stream.get_timer()
        assert deadline is not None
        # The first RTCP report is due within a few seconds (RFC 3550 §6.3).
        while stream.statistics(loop.time()).rtp.rtcp_sent == 0:
            await asyncio.sleep(0.05)
            assert loop.time() < deadline + 1.0
        stats = stream.statistics(loop.time()).rtp
        assert stats.packets_received == 5
        assert stats.remote_ssrc == ssrc
        assert len(activity) >= 5
        report = await loop.run_in_executor(None, peer_rtcp.recv, 2048)
        assert is_rtcp(report)


def test_a_port_on_no_clock_receives_and_runs_its_own_timer() -> None:
    asyncio.run(_a_port_on_no_clock_receives_and_runs_its_own_timer())


async def _clocked_ports_send_dtmf_at_the_packet_pace() -> None:
    """The clock services the stream's timers: every RFC 4733 packet of a
    digit goes out, one per tick, with the event's timestamp."""
    loop = asyncio.get_running_loop()
    clock = AsyncioMediaClock()
    async with _port_and_peer() as (port, number, peer_rtp, _peer_rtcp, peer_number):
        ours, theirs = _media(number, 5), _media(peer_number, 6)
        ours.receive_answer(theirs.answer(ours.offer(), loop.time()), loop.time())
        stream = ours.stream
        assert stream is not None and stream.dtmf_supported
        dtmf_pt = stream.media.telephone_event_pt
        port.stream = stream
        clock.add(port)
        await asyncio.sleep(0.1)
        stream.send_dtmf("7", loop.time(), duration_ms=100)
        port.flush()
        await asyncio.sleep(0.4)
        clock.remove(port)
        peer_rtp.setblocking(False)
        events = []
        with contextlib.suppress(BlockingIOError):
            while True:
                packet = parse_rtp(peer_rtp.recv(2048))
                if packet.payload_type == dtmf_pt:
                    events.append(packet)
        # 100 ms at 20 ms per packet: the start, updates, then three end packets.
        assert len(events) >= 7
        assert len({p.timestamp for p in events}) == 1
        assert events[0].marker and events[-1].payload[1] & 0x80
        assert not port.errors


def test_clocked_ports_send_dtmf_at_the_packet_pace() -> None:
    asyncio.run(_clocked_ports_send_dtmf_at_the_packet_pace())


async def _a_closed_peer_is_counted_not_raised() -> None:
    loop = asyncio.get_running_loop()
    async with _port_and_peer() as (port, number, peer_rtp, peer_rtcp, peer_number):
        peer_rtp.close()
        peer_rtcp.close()
        ours, theirs = _media(number, 7), _media(peer_number, 8)
        ours.receive_answer(theirs.answer(ours.offer(), loop.time()), loop.time())
        port.stream = ours.stream
        for k in range(5):
            port.tick(loop.time() + 0.02 * k)  # sendto to a closed port: no exception
            await asyncio.sleep(0.001)
        assert port.stream is not None
        assert port.stream.statistics(loop.time()).rtp.packets_sent == 5


def test_a_closed_peer_is_counted_not_raised() -> None:
    asyncio.run(_a_closed_peer_is_counted_not_raised())
