"""play() sends a file into a call (the peer hears it) and voicerecord()
records both directions of a call to a file (read back by frequency)."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.phone.aio import AsyncPhone
from tests.phone.conftest import RATE, tone


def _wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())


async def _scenario(server: str, tmp: Path) -> tuple[float, float, float]:
    prompt = tmp / "prompt.wav"
    _wav(prompt, tone(900.0, 1.0))
    recording = tmp / "call.wav"
    async with (
        AsyncPhone(serveraddress=server, username="alice", password="alice-secret") as alice,
        AsyncPhone(serveraddress=server, username="bob", password="bob-secret",
                   autoaccept=1) as bob,
    ):  # fmt: skip
        await alice.register()
        await bob.register()
        call = await alice.call("bob")
        answered = await bob.incoming(timeout=5)
        await call.connected(timeout=5)
        alice.voicerecord(True, str(recording), stereo=True)
        alice.play(True, str(prompt), looping=True)
        answered.audio_out.put_nowait(tone(1500.0, 3.0))
        frames = []
        async for frame in answered.audio_in():
            frames.append(frame)
            if len(frames) >= 60:
                break
        heard = dominant_frequency(np.concatenate(frames[-25:]), RATE)
        alice.play(False)
        alice.voicerecord(False)
        call.hangup()
        await call.ended(timeout=5)
    with wave.open(str(recording), "rb") as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    sent = dominant_frequency(data[RATE // 2 :, 0], RATE)
    received = dominant_frequency(data[RATE // 2 :, 1], RATE)
    return heard, sent, received


@pytest.mark.timeout(60)
def test_a_file_is_played_to_the_peer_and_the_call_recorded(registrar: str,
                                                            tmp_path: Path) -> None:  # fmt: skip
    heard, sent, received = asyncio.run(_scenario(registrar, tmp_path))
    assert heard == pytest.approx(900.0, abs=20)  # bob hears alice's file
    assert sent == pytest.approx(900.0, abs=20)  # the recording: what alice sent (left)
    assert received == pytest.approx(1500.0, abs=20)  # and what she heard (right)
