"""One harness for the media tests of the three drivers: the same scenario
(an ``async def`` taking a :class:`Harness`) runs on asyncio, on trio and on
the threaded driver (driven from an asyncio test body that only sleeps)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import trio

from sansip.audio.frames import FrameSink, FrameSource
from sansip.io.asyncio import AsyncioDatagramDriver
from sansip.io.driver import Driver
from sansip.io.threading import ThreadingDatagramDriver
from sansip.io.trio import TrioDatagramDriver
from sansip.media import CallMedia
from sansip.media.engine import MediaEngineEvent
from sansip.sdp import codec_preferences

RATE = 16000
LOOPS = ("asyncio", "trio", "threading")
T = TypeVar("T")


class Harness:
    """A started media-only driver of one loop and the loop's sleep and clock."""

    def __init__(self, loop: str, driver: Driver, sleep: Callable[[float], Awaitable[Any]],
                 now: Callable[[], float]) -> None:  # fmt: skip
        self.loop = loop
        self.driver = driver
        self.sleep = sleep
        self.now = now

    def on_owner(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` where the driver's machines live."""
        return self.driver._on_owner(fn)

    def events(self) -> list[MediaEngineEvent]:
        """Drain the engine's events."""

        def drain() -> list[MediaEngineEvent]:
            out = []
            while (event := self.driver.media.next_event()) is not None:
                out.append(event)
            return out

        return self.on_owner(drain)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Sleep until ``predicate()`` holds (``AssertionError`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            await self.sleep(0.01)


def run(loop: str, scenario: Callable[[Harness], Awaitable[T]]) -> T:
    """Run ``scenario`` with a media-only driver on ``loop``."""
    if loop == "asyncio":

        async def main_asyncio() -> T:
            driver = AsyncioDatagramDriver(None, None)
            await driver.start()
            try:
                return await scenario(Harness(loop, driver, asyncio.sleep, driver.now))
            finally:
                await driver.close()

        return asyncio.run(main_asyncio())
    if loop == "trio":

        async def main_trio() -> T:
            async with TrioDatagramDriver(None, None) as driver:
                return await scenario(Harness(loop, driver, trio.sleep, trio.current_time))

        return trio.run(main_trio)
    threaded = ThreadingDatagramDriver(None, None)
    threaded.start()
    try:
        harness = Harness(loop, threaded, asyncio.sleep, time.monotonic)
        return asyncio.run(_awaited(scenario(harness)))
    finally:
        threaded.close()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def negotiate(
    numbers: Sequence[int],
    codec: str,
    sources: Sequence[FrameSource],
    sinks: Sequence[FrameSink],
    now: float,
    *,
    seed: int = 0,
) -> list[CallMedia]:
    """Two calls' media on 127.0.0.1 ``numbers``, offer and answer done."""
    media = [
        CallMedia("127.0.0.1", numbers[i], codec_preferences(codec=codec),
                  rng=random.Random(seed + i), source=sources[i], sink=sinks[i], sample_rate=RATE)
        for i in range(2)
    ]  # fmt: skip
    media[0].receive_answer(media[1].answer(media[0].offer(), now), now)
    return media
