"""The trio media driver: two calls' media exchange tones and DTMF over
loopback with the media clock ticking in real time, and the clock's grid
checked exactly on trio's mock clock."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from sansip.audio.analysis import dominant_frequency
from sansip.audio.frames import CollectSink
from sansip.audio.tones import ToneSource
from sansip.io.asyncio_media import MAX_CATCH_UP
from sansip.io.trio_media import TrioMediaClock, TrioMediaPort
from sansip.rtp import DtmfReceived
from tests.io.test_threading_media import RATE, FailingSource, negotiate_pair


@pytest.mark.timeout(30)
def test_two_streams_talk_over_loopback() -> None:
    digits: list[str] = []
    sinks = [CollectSink(max_frames=1000), CollectSink(max_frames=1000)]

    async def scenario() -> tuple[TrioMediaPort, TrioMediaPort, int]:
        async with (
            TrioMediaClock() as clock,
            TrioMediaPort("127.0.0.1") as alice,
            TrioMediaPort("127.0.0.1") as bob,
        ):
            ports = [alice, bob]
            assert all(p.port % 2 == 0 for p in ports)
            sources = [FailingSource(600.0, RATE, fail_at=10), ToneSource(1400.0, RATE)]
            media = negotiate_pair([alice.port, bob.port], "PCMU", sources, sinks,
                                   trio.current_time())  # fmt: skip

            def collect() -> None:
                stream = bob.stream
                while stream is not None and (event := stream.next_event()) is not None:
                    if isinstance(event, DtmfReceived):
                        digits.append(event.digit)

            bob.on_activity = collect
            for port, m in zip(ports, media, strict=True):
                port.stream = m.stream
                clock.add(port)
            await trio.sleep(0.6)
            assert alice.stream is not None and bob.stream is not None
            alice.stream.send_dtmf("5#", trio.current_time())
            alice.flush()
            await trio.sleep(1.0)
            for port in ports:
                clock.remove(port)
            received = bob.stream.statistics(trio.current_time()).rtp.packets_received
        return alice, bob, received

    alice, bob, received = trio.run(scenario)
    heard_by_alice, heard_by_bob = (s.samples()[-RATE // 2 :] for s in sinks)
    assert dominant_frequency(heard_by_alice, RATE) == pytest.approx(1400.0, abs=20)
    assert dominant_frequency(heard_by_bob, RATE) == pytest.approx(600.0, abs=20)
    assert "".join(digits) == "5#"
    assert received > 40
    # The source that raised once cost one tick, not the clock.
    assert (alice.faults, bob.faults) == (1, 0)


class RecordingPort(TrioMediaPort):
    """A port that only records its ticks (slot, trio time when run)."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1")
        self.ticks: list[tuple[float, float]] = []

    def tick(self, now: float) -> None:
        self.ticks.append((now, trio.current_time()))


def test_ticks_land_exactly_on_the_grid_catch_up_and_restart() -> None:
    mock = trio.testing.MockClock(autojump_threshold=0)
    port = RecordingPort()
    clock = TrioMediaClock()
    times: list[float] = []

    async def scenario() -> None:
        async with clock:
            times.append(trio.current_time())
            clock.add(port)
            await trio.sleep_until(times[0] + 0.99)  # slots 0..49 on time
            mock.jump(0.055)  # the loop stalls past slots 50..52
            await trio.testing.wait_all_tasks_blocked()
            mock.jump(0.5)  # a long stall: slots 53..57, then a new grid
            times.append(trio.current_time())
            await trio.testing.wait_all_tasks_blocked()
            await trio.sleep_until(times[1] + 0.03)
            clock.remove(port)
            count = len(port.ticks)
            await trio.sleep(0.2)
            assert len(port.ticks) == count  # removed: no more ticks

    trio.run(scenario, clock=mock)
    start, restart = times
    slots = [slot for slot, _ in port.ticks]
    assert all(ran >= slot for slot, ran in port.ticks)
    assert slots[:58] == [start + n * 0.020 for n in range(58)]
    assert slots[58:] == [restart, restart + 0.020]
    assert clock.restarts == 1
    assert clock.late_ticks == 2 + (MAX_CATCH_UP - 1)


@pytest.mark.timeout(30)
def test_run_in_own_nursery_drops_packets_without_stream_and_closes() -> None:
    async def scenario() -> TrioMediaPort:
        port = TrioMediaPort("127.0.0.1")
        number = await port.open()
        async with trio.open_nursery() as nursery:
            await nursery.start(port.run)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(b"\x80" + bytes(20), ("127.0.0.1", number))
                sender.sendto(b"\x81\xc9\x00\x01" + bytes(4), ("127.0.0.1", number + 1))
            with trio.fail_after(10):
                while port.dropped < 2:
                    await trio.sleep(0.01)
            port.close()
            port.close()  # idempotent
        return port

    port = trio.run(scenario)
    assert port.dropped == 2 and port.errors == 0
