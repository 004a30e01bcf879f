"""A bot talks and listens through Python frame queues: its call's audio
comes out as an async iterator of numpy frames and what it puts in the
outbound queue is what the other side hears (asyncio media driver, real
loopback sockets)."""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.audio.frames import CollectSink
from sansip.audio.tones import ToneSource
from sansip.io.asyncio import AsyncioDatagramDriver
from sansip.io.queues import AsyncFrameQueue, OutboundFrameQueue
from sansip.media import CallMedia
from sansip.sdp import codec_preferences

RATE = 16000


async def _conversation() -> tuple[float, float]:
    driver = AsyncioDatagramDriver(None, None)  # media only
    await driver.start()
    ports = [driver.open_media("127.0.0.1"), driver.open_media("127.0.0.1")]
    numbers = [port.rtp_port for port in ports]
    inbound = AsyncFrameQueue(max_frames=500)
    outbound = OutboundFrameQueue(RATE, max_frames=500)
    heard_by_peer = CollectSink(max_frames=500)
    prefs = codec_preferences(codec="G722")
    bot = CallMedia("127.0.0.1", numbers[0], prefs, rng=random.Random(1), source=outbound,
                    sink=inbound, sample_rate=RATE)  # fmt: skip
    tone = ToneSource(800.0, RATE)
    peer = CallMedia("127.0.0.1", numbers[1], prefs, rng=random.Random(2), source=tone,
                     sink=heard_by_peer, sample_rate=RATE)  # fmt: skip
    loop = asyncio.get_running_loop()
    bot.receive_answer(peer.answer(bot.offer(), loop.time()), loop.time())
    for port, media in zip(ports, (bot, peer), strict=True):
        assert media.stream is not None
        driver.start_media(port, media.stream)
    # The bot listens for a second, then answers with a tone an octave up.
    listened: list[np.ndarray] = []
    async for frame in inbound:
        listened.append(frame)
        if len(listened) >= 50:
            break
    heard = np.concatenate(listened[-25:])
    pitch = dominant_frequency(heard, RATE)
    t = np.arange(RATE) / RATE
    outbound.put_nowait((8000 * np.sin(2 * np.pi * 2 * pitch * t)).astype(np.int16))
    await asyncio.sleep(1.0)
    for port in ports:
        driver.close_media(port)
    await driver.close()
    return pitch, dominant_frequency(heard_by_peer.samples()[-RATE // 2 :], RATE)


def test_a_bot_hears_the_peer_and_answers_through_queues() -> None:
    bot_heard, peer_heard = asyncio.run(_conversation())
    assert bot_heard == pytest.approx(800.0, abs=15)
    assert peer_heard == pytest.approx(1600.0, abs=20)
