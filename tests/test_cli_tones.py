"""Local call-progress tones of the commands with ``--devices``: the
ringback of an outgoing call plays on the loudspeaker until the call is
answered or early media arrives; ``playing=1`` keeps it quiet.  A loopback
sound card stands in for PortAudio."""

from __future__ import annotations

import asyncio
import random

import pytest

from sansip.audio.analysis import tone_present
from sansip.cli.media import CallAudio, MediaOptions
from sansip.io.asyncio import AsyncioDatagramDriver
from sansip.io.audio_backends import LoopbackBackend
from sansip.io.audio_devices import PlaybackDevice


async def _ringback(playing: str) -> tuple[int, int, bool]:
    driver = AsyncioDatagramDriver(None, None)  # media only
    await driver.start()
    options = MediaOptions(devices=True, params=(("playing", playing),))
    card = LoopbackBackend()
    audio = CallAudio(options, "127.0.0.1", driver, random.Random(1), backend=card)
    await audio.open()
    speaker = audio._speaker
    assert isinstance(speaker, PlaybackDevice)
    audio.ringback(True)
    await asyncio.sleep(0.6)
    written = speaker.ring.samples_in
    heard = card.history(speaker.device.name)
    audio.ringback(False)  # answered, or early media came
    await asyncio.sleep(0.3)
    after = speaker.ring.samples_in
    audio.close(asyncio.get_running_loop().time())
    await driver.close()
    us_ringback = len(heard) > 0 and tone_present(heard, 16000, 440.0)
    return written, after - written, us_ringback


def test_ringback_plays_until_stopped() -> None:
    written, later, tone = asyncio.run(_ringback("2"))
    assert written >= 16000 * 0.4 and tone  # 440+480 Hz on the loudspeaker
    assert later == 0  # nothing more once stopped


@pytest.mark.parametrize("playing", ["0", "1"])
def test_playing_below_2_has_no_ringback(playing: str) -> None:
    written, _, _ = asyncio.run(_ringback(playing))
    assert written == 0
