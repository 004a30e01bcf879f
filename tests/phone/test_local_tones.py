"""Local call-progress tones of a phone on the sound card
(``AudioPlan(devices=True)``): the ringback of an outgoing call plays on
the loudspeaker until the call is answered or early media arrives;
``playing=1`` keeps it quiet.  A loopback sound card stands in for
PortAudio; the media engine of an asyncio driver ticks the tone."""

from __future__ import annotations

import asyncio

import pytest

from sansip.audio.analysis import tone_present
from sansip.io.asyncio import AsyncioDatagramDriver
from sansip.io.audio_backends import LoopbackBackend
from sansip.io.audio_devices import PlaybackDevice
from sansip.phone.audio import AudioPlan, PlannedAudio
from sansip.phone.config import parameters_of
from sansip.phone.events import OUTGOING
from sansip.phone.line import PhoneCall


async def _ringback(playing: str) -> tuple[int, int, bool]:
    driver = AsyncioDatagramDriver(None, None)  # media only
    await driver.start()
    card = LoopbackBackend()
    planned = PlannedAudio(AudioPlan(devices=True, backend=card),
                           parameters_of({"playing": playing}), 16000)  # fmt: skip
    call = PhoneCall(1, OUTGOING, "bob", "", now=driver.now())
    _, speaker = planned.open(call)
    assert isinstance(speaker, PlaybackDevice)
    planned.changed(call, "ringing", driver.media, driver.now())
    driver.wake()
    await asyncio.sleep(0.6)
    written = speaker.ring.samples_in
    heard = card.history(speaker.device.name)
    planned.changed(call, "connected", driver.media, driver.now())  # answered
    await asyncio.sleep(0.3)
    after = speaker.ring.samples_in
    planned.changed(call, "ended", driver.media, driver.now())
    await driver.close()
    us_ringback = len(heard) > 0 and tone_present(heard, 16000, 440.0)
    return written, after - written, us_ringback


def test_ringback_plays_until_answered() -> None:
    written, later, tone = asyncio.run(_ringback("2"))
    assert written >= 16000 * 0.4 and tone  # 440+480 Hz on the loudspeaker
    assert later == 0  # nothing more once answered


@pytest.mark.parametrize("playing", ["0", "1"])
def test_playing_below_2_has_no_ringback(playing: str) -> None:
    written, _, _ = asyncio.run(_ringback(playing))
    assert written == 0
