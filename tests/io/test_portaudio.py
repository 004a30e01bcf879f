"""PortAudio itself, driven through ALSA's null device (no sound card needed).

PortAudio reads the ALSA configuration when it is loaded, so each check runs
in a subprocess whose ``HOME`` holds an ``.asoundrc`` defining the null PCMs
``default`` and ``nullsink``.  The subprocess opens real PortAudio streams
through :class:`~sansip.io.audio_devices.SoundDeviceBackend`, plays and
captures about half a second, and prints what it counted as JSON.  Only
counts are checked, never timings.

Without the PortAudio library (Debian package libportaudio2) the tests are
skipped with a message, except in CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

ASOUNDRC = "pcm.!default { type null }\npcm.nullsink { type null }\n"

# Runs in the subprocess: real streams on the ALSA null devices.
DRIVER = r"""
import json, sys, time
from sansip.audio.tones import CadenceSource, ToneSource
from sansip.io.audio_devices import AudioDevices, DeviceKind, SoundDeviceBackend

rate, device_rate = int(sys.argv[1]), int(sys.argv[2]) or None
devices = AudioDevices(
    SoundDeviceBackend(device_rate=device_rate),
    rate=rate,
    audiodevicein="nullsink",
    audiodeviceout="nullsink",
    audiodevicering="default",
    prefill_frames=2,
)
result = {"names": {kind.name: devices.device_names(kind) for kind in DeviceKind}}
capture, playback = devices.open_capture(), devices.open_playback()
tone = ToneSource(440, rate)
frame_lengths = set()

def run(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        frame_lengths.add(len(capture.read()))
        playback.write(tone.read())
        time.sleep(0.02)

run(0.25)
played_before_switch = playback.ring.samples_out
devices.set_device(DeviceKind.PLAYBACK, "default")
devices.set_device(DeviceKind.CAPTURE, "Default")
run(0.25)
ring = devices.ring_player(CadenceSource([440, 480], [(0.1, 0.1)], rate))
ring.start()
ringer = ring.device.name
time.sleep(0.2)
ring.stop()
streams = [capture.stream, playback.stream]
result.update(
    frame_lengths=sorted(frame_lengths),
    captured=capture.ring.samples_in,
    played_before_switch=played_before_switch,
    played=playback.ring.samples_out,
    switches=[capture.switches, playback.switches],
    devices=[capture.device.name, playback.device.name],
    ringer=ringer,
    ring_frames=ring.frames_played,
    callback_errors=sum(stream.callback_errors for stream in streams),
    callbacks=[stream.callbacks for stream in streams],
    device_rates=[stream.device_rate for stream in streams],
)
devices.close()
print(json.dumps(result))
"""


def _portaudio_missing() -> str | None:
    probe = subprocess.run(
        [sys.executable, "-c", "import sounddevice"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0:
        return None
    return (
        "PortAudio is not usable (install libportaudio2 and sounddevice): "
        + (probe.stderr.strip().splitlines() or ["?"])[-1]
    )


@pytest.fixture(scope="module")
def null_alsa_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME whose .asoundrc makes ALSA's default and nullsink PCMs null devices."""
    reason = _portaudio_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("alsa-home")
    (home / ".asoundrc").write_text(ASOUNDRC, encoding="utf-8")
    return home


def _drive(home: Path, rate: int, device_rate: int = 0) -> dict[str, Any]:
    env = dict(os.environ, HOME=str(home), PYTHONPATH=str(REPO))
    env.pop("ALSA_CONFIG_PATH", None)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(rate), str(device_rate)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(("rate", "device_rate"), [(8000, 0), (16000, 48000)])
def test_streams_on_alsa_null_devices(null_alsa_home: Path, rate: int, device_rate: int) -> None:
    result = _drive(null_alsa_home, rate, device_rate)
    names = result["names"]
    for kind in ("CAPTURE", "PLAYBACK", "RINGER"):
        assert {"default", "nullsink"} <= set(names[kind])
    assert result["frame_lengths"] == [rate // 50]
    # Audio moved through PortAudio's callbacks in both directions and on the ringer.
    assert result["captured"] > 0
    assert result["played_before_switch"] > 0
    assert result["played"] > result["played_before_switch"]
    assert result["ring_frames"] > 0
    assert all(count > 0 for count in result["callbacks"])
    assert result["callback_errors"] == 0
    # The devices were switched during the run and the streams kept going.
    assert result["switches"] == [1, 1]
    assert result["devices"] == ["default", "default"]
    assert result["ringer"] == "default"
    assert result["device_rates"] == [device_rate or rate] * 2


def test_missing_sounddevice_names_the_packages(tmp_path: Path) -> None:
    # A module that cannot be imported stands in for a missing binding.
    script = (
        "import sys; sys.modules['sounddevice'] = None\n"
        "from sansip.io.audio_devices import AudioDevices, AudioBackendUnavailable\n"
        "try:\n"
        "    AudioDevices().device_names(0)\n"
        "except AudioBackendUnavailable as error:\n"
        "    print(error)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "libportaudio2" in done.stdout
    assert "pip install sounddevice" in done.stdout
