"""The threaded media driver: two calls' media exchange tones and DTMF over
loopback with the media thread ticking in real time; the tick grid (sans-IO)
catches up and restarts as specified; every stream call runs on the media
thread."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.audio.analysis import dominant_frequency
from sansip.audio.frames import AudioFrame, CollectSink
from sansip.audio.tones import ToneSource
from sansip.errors import LocalProtocolError
from sansip.io.asyncio_media import MAX_CATCH_UP
from sansip.io.threading_media import (
    ThreadingMediaClock,
    ThreadingMediaPort,
    TickGrid,
    bind_rtp_pair,
)
from sansip.media import CallMedia, MediaStream
from sansip.rtp import DtmfReceived
from sansip.sdp import codec_preferences
from tests.conftest import examples

RATE = 16000


class ThreadSink(CollectSink):
    """Collects frames and the threads that wrote them."""

    def __init__(self) -> None:
        super().__init__(max_frames=1000)
        self.threads: set[int] = set()

    def write(self, frame: AudioFrame) -> None:
        self.threads.add(threading.get_ident())
        super().write(frame)


class FailingSource(ToneSource):
    """A tone source that raises on one read."""

    def __init__(self, hz: float, rate: int, fail_at: int) -> None:
        super().__init__(hz, rate)
        self.reads = 0
        self.fail_at = fail_at

    def read(self, now: float | None = None) -> AudioFrame:
        self.reads += 1
        if self.reads == self.fail_at:
            raise RuntimeError("source broke")
        return super().read(now)


def negotiate_pair(
    numbers: list[int],
    codec: str,
    sources: Sequence[ToneSource],
    sinks: Sequence[CollectSink],
    now: float,
) -> list[CallMedia]:
    """Two calls' media on 127.0.0.1 ``numbers``, offer and answer done."""
    media = [
        CallMedia(
            "127.0.0.1",
            numbers[i],
            codec_preferences(codec=codec),
            rng=random.Random(i),
            source=sources[i],
            sink=sinks[i],
            sample_rate=RATE,
        )
        for i in range(2)
    ]
    answer = media[1].answer(media[0].offer(), now)
    media[0].receive_answer(answer, now)
    return media


@pytest.mark.timeout(30)
def test_two_streams_talk_over_loopback() -> None:
    digits: list[str] = []
    with ThreadingMediaClock() as clock:
        ports = [ThreadingMediaPort("127.0.0.1", clock) for _ in range(2)]
        numbers = [p.open() for p in ports]
        assert all(n % 2 == 0 for n in numbers)
        sinks = [ThreadSink(), ThreadSink()]
        sources = [FailingSource(600.0, RATE, fail_at=10), ToneSource(1400.0, RATE)]
        media = negotiate_pair(numbers, "PCMU", sources, sinks, clock.now())

        def collect(stream: MediaStream) -> None:
            while (event := stream.next_event()) is not None:
                if isinstance(event, DtmfReceived):
                    digits.append(event.digit)

        def on_activity() -> None:  # on the dispatcher thread
            with contextlib.suppress(RuntimeError):  # the clock closed meanwhile
                ports[1].call(collect)

        ports[1].on_activity = on_activity
        for port, m in zip(ports, media, strict=True):
            port.stream = m.stream
            clock.add(port)
        time.sleep(0.6)
        ports[0].call(lambda s: s.send_dtmf("5#", clock.now())).result()
        time.sleep(1.0)
        for port in ports:
            clock.remove(port)
        stats = ports[1].call(lambda s: s.statistics(clock.now())).result()
        ports[1].call(collect).result()
        for port in ports:
            port.close()
        media_thread = clock.thread_ident
    heard_by_alice, heard_by_bob = (s.samples()[-RATE // 2 :] for s in sinks)
    assert dominant_frequency(heard_by_alice, RATE) == pytest.approx(1400.0, abs=20)
    assert dominant_frequency(heard_by_bob, RATE) == pytest.approx(600.0, abs=20)
    assert "".join(digits) == "5#"
    assert stats.rtp.packets_received > 40
    assert sinks[0].threads == sinks[1].threads == {media_thread}
    # The source that raised once cost one tick, not the media thread.
    assert (ports[0].faults, ports[1].faults) == (1, 0)


@pytest.mark.timeout(30)
def test_ticks_land_exactly_on_the_grid_and_never_early() -> None:
    ticks: list[tuple[float, float]] = []  # (slot, when it ran)
    enough = threading.Event()

    class RecordingPort(ThreadingMediaPort):
        def _tick(self, now: float) -> None:
            ticks.append((now, time.monotonic()))
            if len(ticks) >= 40:
                enough.set()

    with ThreadingMediaClock() as clock:
        port = RecordingPort("127.0.0.1", clock)
        clock.add(port)
        assert enough.wait(20)
        clock.remove(port)
        count = len(ticks)
        time.sleep(0.1)
        assert len(ticks) == count  # removed: no more ticks
        restarts = clock.restarts
    slots = [slot for slot, _ in ticks]
    assert all(ran >= slot for slot, ran in ticks)
    # Runs of slots are start + n * 20 ms exactly; a new run only on a restart.
    starts = [0]
    for i in range(1, len(slots)):
        if slots[i] != slots[starts[-1]] + (i - starts[-1]) * 0.020:
            starts.append(i)
    assert len(starts) == restarts + 1
    assert len(slots) >= 40


def test_the_grid_catches_up_then_restarts() -> None:
    grid = TickGrid(100.0, 0.020)
    assert grid.due(99.999) == []
    assert grid.due(100.0) == [100.0]
    assert grid.due(100.019) == []
    assert grid.due(100.065) == [100.0 + 1 * 0.020, 100.0 + 2 * 0.020, 100.0 + 3 * 0.020]
    assert (grid.late_ticks, grid.restarts) == (2, 0)
    assert grid.next_due == 100.0 + 4 * 0.020
    late = grid.due(101.0)  # a long stall: MAX_CATCH_UP ticks, then a new grid
    assert late == [100.0 + n * 0.020 for n in range(4, 4 + MAX_CATCH_UP)]
    assert (grid.late_ticks, grid.restarts) == (2 + MAX_CATCH_UP - 1, 1)
    assert grid.next_due == 101.0
    assert grid.due(101.0) == [101.0]
    assert grid.due(101.02) == [101.0 + 0.020]


@settings(max_examples=examples(200))
@given(
    start=st.floats(0, 1e6, allow_nan=False),
    steps=st.lists(st.floats(0, 0.3, allow_nan=False), max_size=60),
)
def test_grid_ticks_are_in_order_never_early_and_bounded(start: float, steps: list[float]) -> None:
    grid = TickGrid(start, 0.020)
    now, last = start, None
    for step in steps:
        now += step
        before, restarts = grid.next_due, grid.restarts
        ticks = grid.due(now)
        assert len(ticks) <= MAX_CATCH_UP
        assert all(t <= now for t in ticks)
        assert ticks == sorted(ticks) and (last is None or not ticks or ticks[0] > last)
        if ticks:
            assert ticks[0] == before  # no slot skipped within a grid
            last = ticks[-1]
        assert grid.next_due > now or grid.restarts == restarts + 1
        assert grid.restarts in (restarts, restarts + 1)


@pytest.mark.timeout(30)
def test_port_without_stream_drops_packets_and_refuses_calls() -> None:
    with ThreadingMediaClock() as clock:
        port = ThreadingMediaPort("127.0.0.1", clock)
        number = port.open()
        rtp, rtcp = bind_rtp_pair("127.0.0.1")
        try:
            rtp.sendto(b"\x80" + bytes(20), ("127.0.0.1", number))
            rtcp.sendto(b"\x81\xc9\x00\x01" + bytes(4), ("127.0.0.1", number + 1))
            deadline = time.monotonic() + 10
            while port.dropped < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            rtp.close()
            rtcp.close()
        assert port.dropped == 2
        with pytest.raises(LocalProtocolError):
            port.call(lambda s: s.codec).result()
        port.close()
        port.close()  # idempotent
    with pytest.raises(RuntimeError):
        port.call(lambda s: s.codec)
    port.close()  # after the clock stopped: nothing to do


def test_an_explicit_port_pair_is_used_and_a_taken_one_is_refused() -> None:
    rtp, rtcp = bind_rtp_pair("127.0.0.1")
    try:
        number = rtp.getsockname()[1]
        assert rtcp.getsockname()[1] == number + 1
        with pytest.raises(LocalProtocolError):
            bind_rtp_pair("127.0.0.1", number)
    finally:
        rtp.close()
        rtcp.close()
