"""Audio devices on the null, WAV file and loopback backends (no sound card, no PortAudio)."""

from __future__ import annotations

import subprocess
import sys
import threading
import types
import wave
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.analysis import dominant_frequency
from sansip.audio.frames import FrameSink, FrameSource
from sansip.audio.tones import CadenceSource, ToneSource
from sansip.errors import LocalProtocolError
from sansip.io import portaudio
from sansip.io.audio_devices import (
    AudioBackendUnavailable,
    AudioDevice,
    AudioDevices,
    CaptureDevice,
    DeviceInfo,
    DeviceKind,
    DeviceNotFound,
    LoopbackBackend,
    NullBackend,
    PlaybackDevice,
    SampleRing,
    WavFileBackend,
    apply_volume,
    find_device,
    volume_gain,
)
from tests.conftest import REPO, examples

RATES = (8000, 16000, 48000)


def tone(
    frequency: float, rate: int, seconds: float, amplitude: float = 8000.0
) -> NDArray[np.int16]:
    n = np.arange(round(rate * seconds))
    return np.rint(amplitude * np.sin(2 * np.pi * frequency * n / rate)).astype(np.int16)


def write_wav(path: Path, samples: NDArray[np.int16], rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def read_wav(path: Path) -> tuple[NDArray[np.int16], int]:
    with wave.open(str(path), "rb") as source:
        data = source.readframes(source.getnframes())
        return np.frombuffer(data, dtype="<i2").astype(np.int16), source.getframerate()


def device_name(endpoint: AudioDevice) -> str | None:
    device = endpoint.device
    return device.name if device is not None else None


# -- the ring buffer -------------------------------------------------------------------------


def test_ring_is_fifo_across_wraparound() -> None:
    ring = SampleRing(10)
    ring.write(np.arange(7, dtype=np.int16))
    assert ring.read(5).tolist() == [0, 1, 2, 3, 4]
    ring.write(np.arange(7, 13, dtype=np.int16))  # wraps around the end
    assert ring.read(8).tolist() == [5, 6, 7, 8, 9, 10, 11, 12]
    assert ring.underruns == ring.overruns == 0


def test_ring_overrun_drops_oldest_and_underrun_gives_silence() -> None:
    ring = SampleRing(4)
    ring.write(np.array([1, 2, 3], dtype=np.int16))
    ring.write(np.array([4, 5, 6], dtype=np.int16))
    assert (ring.overruns, ring.overrun_samples) == (1, 2)
    assert ring.read(6).tolist() == [3, 4, 5, 6, 0, 0]
    assert (ring.underruns, ring.underrun_samples) == (1, 2)
    ring.write(np.arange(1, 10, dtype=np.int16))  # larger than the whole ring
    assert ring.read(4).tolist() == [6, 7, 8, 9]
    assert ring.overrun_samples == 2 + 5


def test_ring_prefill_waits_then_restarts_after_underrun() -> None:
    ring = SampleRing(8, prefill=4)
    ring.write(np.array([1, 2], dtype=np.int16))
    assert ring.read(2).tolist() == [0, 0]  # priming: nothing consumed, no underrun
    assert len(ring) == 2 and ring.underruns == 0
    ring.write(np.array([3, 4], dtype=np.int16))
    assert ring.read(3).tolist() == [1, 2, 3]
    assert ring.read(3).tolist() == [4, 0, 0]
    assert ring.underruns == 1
    ring.write(np.array([5], dtype=np.int16))
    assert ring.read(1).tolist() == [0]  # primes again after the underrun


def test_ring_refill_pulls_until_enough() -> None:
    ring = SampleRing(10)
    counter = iter(range(100))
    ring.refill = lambda: np.array([next(counter)] * 3, dtype=np.int16)
    assert ring.read(4).tolist() == [0, 0, 0, 1]
    assert ring.read(2).tolist() == [1, 1]
    assert ring.underruns == 0
    # A read larger than the ring stops refilling once the ring is full.
    assert len(ring.read(25)) == 25 and ring.underrun_samples == 25 - 10
    ring.refill = lambda: np.zeros(0, dtype=np.int16)  # an exhausted source
    assert not ring.read(3).any()


@hsettings(max_examples=examples(60))
@given(
    capacity=st.integers(1, 40),
    operations=st.lists(
        st.tuples(st.booleans(), st.integers(0, 60)),
        max_size=40,
    ),
)
def test_ring_matches_a_bounded_deque(capacity: int, operations: list[tuple[bool, int]]) -> None:
    ring = SampleRing(capacity)
    model: deque[int] = deque(maxlen=capacity)
    value = 0
    for is_write, size in operations:
        if is_write:
            data = (np.arange(value, value + size) % 30000).astype(np.int16)
            value += size
            ring.write(data)
            model.extend(int(x) for x in data)
        else:
            expected = [model.popleft() for _ in range(min(size, len(model)))]
            expected += [0] * (size - len(expected))
            assert ring.read(size).tolist() == expected
        assert len(ring) == len(model)
    assert ring.samples_in - ring.overrun_samples - ring.samples_out == len(ring)


def test_ring_between_threads_loses_nothing_it_does_not_count() -> None:
    ring = SampleRing(160 * 4)
    total = 160 * 200  # values stay below 32768: each sample is its own position
    received: list[NDArray[np.int16]] = []

    def consume() -> None:
        while sum(len(r) for r in received) + ring.overrun_samples < total:
            received.append(ring.take(160))

    reader = threading.Thread(target=consume)
    reader.start()
    for start in range(0, total, 160):
        ring.write(np.arange(start, start + 160).astype(np.int16))
    reader.join(timeout=30)
    assert not reader.is_alive()
    got = np.concatenate(received).astype(np.int64)
    assert len(got) + ring.overrun_samples == total
    assert np.all(np.diff(got) > 0)  # in order, nothing twice


# -- volume ----------------------------------------------------------------------------------


def test_volume_gain_and_saturation() -> None:
    frame = np.array([0, 1000, -1000, 20000, -20000, 32767, -32768], dtype=np.int16)
    assert apply_volume(frame, 50).tolist() == frame.tolist()
    assert not apply_volume(frame, 0).any()
    assert apply_volume(frame, 100).tolist() == [0, 2000, -2000, 32767, -32768, 32767, -32768]
    assert apply_volume(frame, 25).tolist() == [0, 500, -500, 10000, -10000, 16384, -16384]
    assert volume_gain(75) == 1.5
    for bad in (-1, 101, 50.5, True, "50"):
        with pytest.raises(LocalProtocolError):
            volume_gain(bad)  # type: ignore[arg-type]


@hsettings(max_examples=examples(100))
@given(
    samples=st.lists(st.integers(-32768, 32767), max_size=400),
    percent=st.integers(0, 100),
)
def test_volume_is_bounded_and_scales(samples: list[int], percent: int) -> None:
    frame = np.array(samples, dtype=np.int16)
    out = apply_volume(frame, percent)
    assert out.dtype == np.int16 and len(out) == len(frame)
    expected = np.clip(np.rint(frame.astype(np.float64) * percent / 50), -32768, 32767)
    assert np.array_equal(out, expected.astype(np.int16))
    assert out is not frame


# -- device names ----------------------------------------------------------------------------

LISTED = [
    DeviceInfo("Built-in Microphone", 0, 2, 0),
    DeviceInfo("Built-in Output", 1, 0, 2),
    DeviceInfo("USB Headset: Audio (hw:2,0) with a long name", 2, 1, 2),
    DeviceInfo("default", 3, 32, 32),
]


def test_find_device_exact_then_default_then_prefix_then_substring() -> None:
    play = DeviceKind.PLAYBACK
    assert find_device(LISTED, "default", play).key == 3
    assert find_device(LISTED, "Default", play, LISTED[1]).key == 1
    assert find_device(LISTED, "", DeviceKind.CAPTURE).key == 0  # no default: the first
    assert find_device(LISTED, "usb headset: audio (hw:2,0) wi", play).key == 2  # truncated
    assert find_device(LISTED, "OUTPUT", play).key == 1
    assert find_device(LISTED, "built-in", DeviceKind.CAPTURE).key == 0
    assert find_device(LISTED, "built-in", DeviceKind.RINGER).key == 1


def test_find_device_unknown_or_wrong_kind_names_the_choices() -> None:
    with pytest.raises(DeviceNotFound, match="Built-in Output"):
        find_device(LISTED, "Speakers", DeviceKind.PLAYBACK)
    with pytest.raises(DeviceNotFound):
        find_device(LISTED, "Built-in Microphone", DeviceKind.PLAYBACK)
    with pytest.raises(DeviceNotFound):
        find_device([], "Default", DeviceKind.CAPTURE)
    assert issubclass(DeviceNotFound, LocalProtocolError)


def test_manager_lists_and_selects_devices() -> None:
    backend = LoopbackBackend(("Speakers", "Headset", "Ringer"))
    devices = AudioDevices(backend, audiodeviceout="head")
    assert devices.device_names(DeviceKind.CAPTURE) == ["Speakers", "Headset", "Ringer"]
    assert devices.device_list(1) == "Speakers\r\nHeadset\r\nRinger"
    assert devices.get_device(DeviceKind.PLAYBACK) == "Headset"
    assert devices.get_device(DeviceKind.RINGER) == "Speakers"  # Default: the first
    assert devices.set_device(2, "ringer").name == "Ringer"
    assert devices.selected_name(DeviceKind.RINGER) == "ringer"
    with pytest.raises(DeviceNotFound):
        devices.set_device(DeviceKind.CAPTURE, "Bluetooth")
    assert devices.selected_name(DeviceKind.CAPTURE) == "Default"
    bad = AudioDevices(backend, audiodevicein="nothing")
    with pytest.raises(DeviceNotFound):
        bad.open_capture()
    with pytest.raises(LocalProtocolError):
        AudioDevices(backend, volumering=120)


# -- frames through the backends -------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_null_backend_gives_silence_and_discards(rate: int) -> None:
    backend = NullBackend()
    devices = AudioDevices(backend, rate=rate)
    capture, playback = devices.open_capture(), devices.open_playback()
    assert isinstance(capture, FrameSource) and isinstance(playback, FrameSink)
    source = ToneSource(700, rate)
    for _ in range(10):
        frame = capture.read()
        assert len(frame) == rate // 50 and frame.dtype == np.int16 and not frame.any()
        playback.write(source.read())
    assert backend.discarded["Null"] == 10 * rate // 50
    assert capture.ring.underruns == playback.ring.underruns == 0
    devices.close()


@pytest.mark.parametrize("rate", RATES)
def test_loopback_returns_what_was_played(rate: int) -> None:
    devices = AudioDevices(LoopbackBackend(), rate=rate)
    capture, playback = devices.open_capture(), devices.open_playback()
    source = ToneSource(1000, rate)
    written, heard = [], []
    for _ in range(20):
        heard.append(capture.read())
        frame = source.read()
        written.append(frame)
        playback.write(frame)
    # The first read found nothing (silence); each later one the frame played before it.
    assert not heard[0].any()
    assert np.array_equal(np.concatenate(heard[1:]), np.concatenate(written[:-1]))
    assert capture.ring.overruns == 0


def test_volumes_apply_to_capture_and_playback() -> None:
    backend = LoopbackBackend()
    devices = AudioDevices(backend, volumeout=100, volumein=25)
    capture, playback = devices.open_capture(), devices.open_playback()
    frame = tone(500, 8000, 0.02, amplitude=20000)
    playback.write(frame)
    doubled = np.clip(frame.astype(np.int32) * 2, -32768, 32767)
    assert np.array_equal(backend.history("Loopback"), doubled)
    assert np.array_equal(capture.read(), np.rint(doubled / 2).astype(np.int16))
    devices.set_volume(DeviceKind.CAPTURE, 0)
    devices.set_volume(DeviceKind.PLAYBACK, 50)
    assert capture.volume == 0 and devices.get_volume(0) == 0
    playback.write(frame)
    assert not capture.read().any()
    assert np.array_equal(backend.history("Loopback")[-len(frame) :], frame)
    with pytest.raises(LocalProtocolError):
        devices.set_volume(DeviceKind.PLAYBACK, 200)
    with pytest.raises(LocalProtocolError):
        capture.volume = -5


def test_wav_backend_captures_the_file_and_records_playback(tmp_path: Path) -> None:
    speech = tone(440, 16000, 0.5)
    write_wav(tmp_path / "in.wav", speech, 16000)
    backend = WavFileBackend({"File mic": tmp_path / "in.wav"}, {"File out": tmp_path / "out.wav"})
    devices = AudioDevices(backend, rate=16000)
    capture, playback = devices.open_capture(), devices.open_playback()
    frames = [capture.read() for _ in range(30)]
    for frame in frames:
        playback.write(frame)
    devices.close()
    captured = np.concatenate(frames)
    assert np.array_equal(captured[: len(speech)], speech)
    assert not captured[len(speech) :].any()  # after the end of the file: silence
    recorded, rate = read_wav(tmp_path / "out.wav")
    assert rate == 16000 and np.array_equal(recorded, captured)


def test_wav_capture_converts_rate_and_loops(tmp_path: Path) -> None:
    write_wav(tmp_path / "tone.wav", tone(600, 48000, 0.1), 48000)
    backend = WavFileBackend({"tone": tmp_path / "tone.wav"}, loop=True)
    capture = AudioDevices(backend, rate=8000).open_capture()
    samples = np.concatenate([capture.read() for _ in range(25)])  # 5 loops of 0.1 s
    assert abs(dominant_frequency(samples[-1600:], 8000) - 600) < 10
    with pytest.raises(LocalProtocolError):
        AudioDevices(backend, rate=16000).open_capture()  # the file is open at 8 kHz


# -- switching devices during a call ---------------------------------------------------------


def test_playback_switch_keeps_every_frame_flowing() -> None:
    backend = LoopbackBackend(("A", "B"))
    devices = AudioDevices(backend, audiodeviceout="A")
    playback = devices.open_playback()
    source = ToneSource(800, 8000)
    written = []
    for index in range(40):
        if index == 15:
            devices.set_device(DeviceKind.PLAYBACK, "B")
        frame = source.read()
        written.append(frame)
        playback.write(frame)
    assert playback.device is not None and playback.device.name == "B"
    assert playback.switches == 1
    assert backend.played == {"A": 15 * 160, "B": 25 * 160}
    joined = np.concatenate((backend.history("A"), backend.history("B")))
    assert np.array_equal(joined, np.concatenate(written))


def test_capture_switch_keeps_buffered_audio_and_changes_source(tmp_path: Path) -> None:
    write_wav(tmp_path / "low.wav", tone(300, 8000, 1.0), 8000)
    write_wav(tmp_path / "high.wav", tone(1200, 8000, 1.0), 8000)
    backend = WavFileBackend({"Low mic": tmp_path / "low.wav", "High mic": tmp_path / "high.wav"})
    devices = AudioDevices(backend, audiodevicein="low")
    capture = devices.open_capture()
    capture.ring.write(tone(2000, 8000, 0.01))  # audio still buffered at the switch
    before = [capture.read() for _ in range(10)]
    devices.set_device(DeviceKind.CAPTURE, "HIGH")
    after = [capture.read() for _ in range(10)]
    assert all(len(frame) == 160 for frame in before + after)
    assert capture.ring.underruns == 0
    assert len(capture.ring) == 80  # the buffered audio survived the switch
    assert abs(dominant_frequency(np.concatenate(before[2:]), 8000) - 300) < 10
    assert abs(dominant_frequency(np.concatenate(after[2:]), 8000) - 1200) < 10
    assert devices.get_device(DeviceKind.CAPTURE) == "High mic"


def test_failed_switch_reopens_the_previous_device() -> None:
    backend = NullBackend(("One", "Two"))
    playback = PlaybackDevice(backend, backend.devices()[0])
    capture_only = DeviceInfo("Mic only", "Mic only", 1, 0)
    with pytest.raises(DeviceNotFound):
        playback.switch(capture_only)
    assert playback.device is not None and playback.device.name == "One"
    playback.write(np.ones(160, dtype=np.int16))
    assert backend.discarded["One"] == 160
    assert playback.switches == 0


def test_stalled_device_never_blocks_and_counts_losses() -> None:
    class StalledStream:
        def __init__(self, device: DeviceInfo) -> None:
            self.device = device

        def pump(self, samples: int) -> None:
            """A real device that stopped calling back."""

        def close(self) -> None:
            """Nothing to stop."""

    class StalledBackend(NullBackend):
        def open_capture(self, device, ring, *, rate, samples_per_frame):  # type: ignore[no-untyped-def]
            return StalledStream(device)

        def open_playback(self, device, ring, *, rate, samples_per_frame):  # type: ignore[no-untyped-def]
            return StalledStream(device)

    devices = AudioDevices(StalledBackend(), buffer_frames=5)
    capture, playback = devices.open_capture(), devices.open_playback()
    for _ in range(12):
        playback.write(np.full(160, 100, dtype=np.int16))
        assert not capture.read().any()
    assert playback.ring.overrun_samples == 7 * 160 and len(playback.ring) == 5 * 160
    # Never primed: silence counted as priming, not as an underrun.
    assert capture.ring.underrun_samples == 0 and capture.ring.priming_samples == 12 * 160


def test_closed_endpoints_are_silent_and_refuse_switching() -> None:
    backend = LoopbackBackend()
    devices = AudioDevices(backend)
    capture, playback = devices.open_capture(), devices.open_playback()
    devices.close()
    playback.write(np.ones(160, dtype=np.int16))
    assert playback.dropped_frames == 1 and backend.played["Loopback"] == 0
    assert not capture.read().any() and capture.device is None
    with pytest.raises(LocalProtocolError):
        capture.switch(backend.devices()[0])
    assert isinstance(capture, CaptureDevice)


# -- the ringer ------------------------------------------------------------------------------


def test_ring_plays_on_its_own_device() -> None:
    backend = LoopbackBackend(("Speakers", "Bell"))
    devices = AudioDevices(
        backend, audiodeviceout="Speakers", audiodevicering="Bell", volumering=100
    )
    playback = devices.open_playback()
    ring = devices.ring_player(CadenceSource([440], [(1.0, 0.0)], 8000, level_dbfs=-20))
    assert (ring.ringing, device_name(ring)) == (False, None)
    ring.start()
    assert (ring.ringing, device_name(ring)) == (True, "Bell")
    call = ToneSource(1500, 8000)
    for _ in range(25):
        playback.write(call.read())
        ring.tick()
    ring.stop()
    for _ in range(5):
        ring.tick()
    bell, speakers = backend.history("Bell"), backend.history("Speakers")
    assert len(bell) == 25 * 160 and len(speakers) == 25 * 160
    assert abs(dominant_frequency(bell[320:], 8000) - 440) < 5
    assert abs(dominant_frequency(speakers, 8000) - 1500) < 5
    # volumering 100 doubles the -20 dBFS tone.
    assert 2 * 3276 * 0.95 < np.abs(bell[320:]).max() < 2 * 3277 * 1.05
    assert ring.frames_played >= 25


def test_ringer_change_waits_for_the_next_ring() -> None:
    backend = LoopbackBackend(("Speakers", "Bell"))
    devices = AudioDevices(backend)
    ring = devices.ring_player(ToneSource(440, 8000))
    ring.start()
    devices.set_device(DeviceKind.RINGER, "Bell")
    ring.tick()
    assert ring.device is not None and ring.device.name == "Speakers"
    ring.stop()
    ring.start()
    ring.tick()
    assert ring.device is not None and ring.device.name == "Bell"
    devices.set_volume(DeviceKind.RINGER, 0)
    assert ring.volume == 0
    devices.close()
    assert not ring.ringing


# -- PortAudio loading -----------------------------------------------------------------------


def test_missing_portaudio_library_names_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> types.ModuleType:
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(portaudio, "importlib", types.SimpleNamespace(import_module=missing))
    backend = portaudio.SoundDeviceBackend()
    with pytest.raises(AudioBackendUnavailable) as caught:
        AudioDevices(backend).device_names(DeviceKind.PLAYBACK)
    assert "libportaudio2" in str(caught.value) and "sounddevice" in str(caught.value)


def test_sounddevice_is_imported_only_when_a_device_is_used() -> None:
    script = (
        "import sys\n"
        "from sansip.io.audio_devices import AudioDevices, NullBackend\n"
        "AudioDevices()\n"
        "AudioDevices(NullBackend()).open_capture().read()\n"
        "print('sounddevice' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
