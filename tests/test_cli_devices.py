"""``sansip call --devices`` talks through PortAudio: here the sound card is
ALSA's null device (an ``.asoundrc`` in a temporary HOME), so the call runs
with real PortAudio streams and the received tone reaches the recording."""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from tests.interop.peers import free_udp_port, sansip, start, stop, wait_listening

ASOUNDRC = "pcm.!default { type null }\npcm.nullsink { type null }\n"


def test_a_call_through_the_sound_card(tmp_path: Path) -> None:
    if ctypes.util.find_library("portaudio") is None:
        message = "libportaudio2 is not installed (apt-get install libportaudio2)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(ASOUNDRC)
    port = free_udp_port()
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1",
                          "--tone", "1000"), tmp_path / "answer.log")  # fmt: skip
    try:
        wait_listening(port, answer)
        done = subprocess.run(
            sansip("call", f"sip:bob@127.0.0.1:{port}", "--duration", "2", "--devices",
                   "-p", "audiodevicein=nullsink", "-p", "audiodeviceout=nullsink",
                   "--record-call", str(tmp_path / "call.wav"), "--stereo", "--json"),
            capture_output=True, timeout=40, check=False, env={**os.environ, "HOME": str(home)},
        )  # fmt: skip
        answer.wait(10)
    finally:
        stop(answer)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    record = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert record["rtp"]["sent"] > 50 and record["rtp"]["received"] > 50
    with wave.open(str(tmp_path / "call.wav")) as recording:
        frames = np.frombuffer(recording.readframes(recording.getnframes()), dtype=np.int16)
    received = frames.reshape(-1, 2)[8000:, 1]
    assert dominant_frequency(received, 16000) == pytest.approx(1000, abs=10)


def test_devices_lists_what_portaudio_sees(tmp_path: Path) -> None:
    if ctypes.util.find_library("portaudio") is None:
        message = "libportaudio2 is not installed (apt-get install libportaudio2)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(ASOUNDRC)
    done = subprocess.run(sansip("devices", "--json"), capture_output=True, timeout=30,
                          check=False, env={**os.environ, "HOME": str(home)})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    listing = json.loads(done.stdout)
    for kind in ("capture", "playback", "ringer"):
        assert "nullsink" in listing["devices"][kind]
        assert listing["default"][kind] in listing["devices"][kind]
