"""Audio over real loopback sockets with the asyncio media driver: two
calls' media exchange tones and DTMF with the media clock ticking in real
time."""

from __future__ import annotations

import asyncio
import random

import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.audio.frames import CollectSink
from sansip.audio.tones import ToneSource
from sansip.io.asyncio_media import AsyncioMediaClock, AsyncioMediaPort
from sansip.media import CallMedia
from sansip.rtp import DtmfReceived
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
