"""Frame queues between the media clock and program code."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from numpy.typing import NDArray

from sansip.audio.frames import FrameSink, FrameSource
from sansip.errors import LocalProtocolError
from sansip.io.queues import AsyncFrameQueue, FrameQueue, OutboundFrameQueue


def ramp(start: int, count: int) -> NDArray[np.int16]:
    return np.arange(start, start + count, dtype=np.int16)


def test_outbound_reframes_any_length_and_pads_with_silence() -> None:
    out = OutboundFrameQueue(8000)
    assert isinstance(out, FrameSource)
    out.put(ramp(0, 100))
    out.put_nowait(ramp(100, 300))
    first, second, third = out.read(), out.read(), out.read()
    assert first.tolist() == list(range(160))
    assert second.tolist() == list(range(160, 320))
    assert third.tolist() == list(range(320, 400)) + [0] * 80
    assert not np.any(out.read())
    assert (out.frames_read, out.silent_reads, out.queued_samples) == (3, 1, 0)


def test_outbound_is_bounded_and_drops_the_oldest() -> None:
    out = OutboundFrameQueue(8000, max_frames=2)
    for i in range(5):
        out.put(np.full(160, i, dtype=np.int16))
    assert out.dropped_samples == 3 * 160
    assert [int(out.read()[0]) for _ in range(2)] == [3, 4]
    out.put(ramp(0, 1000))  # a single chunk bigger than the bound keeps its end
    assert out.read().tolist() == list(range(680, 840))


def test_outbound_put_can_be_awaited_and_floats_are_converted() -> None:
    out = OutboundFrameQueue(16000)

    async def talk() -> None:
        await out.put(np.full(320, 0.6))

    asyncio.run(talk())
    assert out.read().tolist() == [1] * 320
    with pytest.raises(LocalProtocolError):
        out.put(np.zeros((2, 2)))


def test_async_queue_iterates_frames_until_closed() -> None:
    async def main() -> list[int]:
        inbound = AsyncFrameQueue()
        assert isinstance(inbound, FrameSink)

        async def media() -> None:
            for i in range(5):
                inbound.write(np.full(160, i, dtype=np.int16))
                await asyncio.sleep(0)
            inbound.close()

        task = asyncio.create_task(media())
        got = [int(frame[0]) async for frame in inbound]
        await task
        return got

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


def test_async_queue_fed_from_another_thread() -> None:
    async def main() -> tuple[list[int], int]:
        inbound = AsyncFrameQueue(max_frames=100, loop=asyncio.get_running_loop())

        def media_thread() -> None:
            for i in range(30):
                inbound.write_threadsafe(np.full(160, i, dtype=np.int16))
            inbound.close_threadsafe()

        worker = threading.Thread(target=media_thread)
        worker.start()
        got = [int(frame[0]) async for frame in inbound]
        worker.join()
        return got, inbound.dropped

    got, dropped = asyncio.run(main())
    assert got == list(range(30)) and dropped == 0


def test_async_queue_drops_oldest_when_full_and_needs_a_loop_for_threads() -> None:
    inbound = AsyncFrameQueue(max_frames=3)
    for i in range(5):
        inbound.write(np.full(4, i, dtype=np.int16))
    assert inbound.dropped == 2 and len(inbound) == 3
    frame = inbound.get_nowait()
    assert frame is not None and int(frame[0]) == 2
    with pytest.raises(LocalProtocolError):
        inbound.write_threadsafe(np.zeros(4, dtype=np.int16))


def test_sync_queue_between_threads() -> None:
    inbound = FrameQueue(max_frames=1000)

    def media_thread() -> None:
        for i in range(50):
            inbound.write(np.full(160, i, dtype=np.int16))
        inbound.close()

    worker = threading.Thread(target=media_thread)
    worker.start()
    got = [int(frame[0]) for frame in inbound]
    worker.join()
    assert got == list(range(50))
    assert inbound.get(timeout=0.01) is None  # closed stays closed


def test_sync_queue_bound_and_timeout() -> None:
    inbound = FrameQueue(max_frames=2)
    assert inbound.get(timeout=0.001) is None
    for i in range(4):
        inbound.write(np.full(2, i, dtype=np.int16))
    assert inbound.dropped == 2
    frames = [inbound.get(timeout=0.001) for _ in range(2)]
    assert [int(f[0]) for f in frames if f is not None] == [2, 3]


def test_silence_null_echo_and_collect_endpoints() -> None:
    from sansip.audio.frames import CollectSink, EchoLoop, NullSink, SilenceSource

    silence = SilenceSource(16000)
    assert silence.read().tolist() == [0] * 320
    null = NullSink()
    null.write(ramp(0, 160))
    assert (null.frames, null.samples) == (1, 160)

    echo = EchoLoop(8000, delay_frames=2, max_backlog=3)
    assert isinstance(echo, FrameSource) and isinstance(echo, FrameSink)
    out = []
    for i in range(6):
        echo.write(np.full(160, i + 1, dtype=np.int16))
        out.append(int(echo.read()[0]))
    assert out == [0, 0, 1, 2, 3, 4]
    for i in range(10):  # nobody reads: the backlog is bounded
        echo.write(np.full(160, i, dtype=np.int16))
    assert len(echo) == 5 and echo.dropped == 7

    collect = CollectSink(max_frames=3)
    frame = ramp(0, 160)
    for _ in range(5):
        collect.write(frame)
    frame[:] = 0  # the sink kept copies
    assert len(collect) == 3 and collect.written == 5 and collect.dropped == 2
    assert collect.samples().tolist() == list(range(160)) * 3
