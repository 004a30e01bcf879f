"""Call recording: both directions to WAV and Ogg Opus, mixed or stereo, paired per tick."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from sansip.audio.analysis import dominant_frequency, tone_present
from sansip.audio.bytesink import MemorySink
from sansip.audio.frames import FrameSink, frame_samples
from sansip.audio.oggopus import OggOpusReader, oggopus_unavailable_reason
from sansip.audio.recorder import CallRecorder, FileRecorder, recording_format
from sansip.audio.tones import ToneSource
from sansip.errors import LocalProtocolError
from sansip.io.file_writer import FileSink, open_call_recorder, open_recorder
from tests.conftest import examples

SENT_HZ = 600.0
RECEIVED_HZ = 1000.0


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _need_ogg() -> None:
    reason = oggopus_unavailable_reason()
    if reason is not None:
        _missing(f"Ogg Opus recording needs libopus and libogg through pyogg: {reason}")


def _recorder(path: Path, rate: int, **options: Any) -> CallRecorder:
    """A call recorder writing ``path`` at once (the threaded writer has its own tests)."""
    options.setdefault("random", random.Random(0))  # the Ogg serial number
    return CallRecorder(path, rate, sink=FileSink(path), **options)


def _read_wav(path: Path) -> tuple[int, int, NDArray[np.int16]]:
    """(rate, channels, samples of shape (n, channels))."""
    with wave.open(str(path), "rb") as file:
        assert file.getsampwidth() == 2
        channels = file.getnchannels()
        data = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
        return file.getframerate(), channels, data.reshape(-1, channels).astype(np.int16)


def _read_ogg(path: Path, rate: int) -> NDArray[np.int16]:
    """Both channels (a mono file twice) as (n, 2)."""
    frames = []
    with OggOpusReader(path, rate) as reader:
        while not reader.finished:
            frames.append(np.stack(reader.read_stereo(), axis=1))
            assert len(frames) < 100_000
    return np.concatenate(frames)


def _record_call(
    recorder: CallRecorder, rate: int, seconds: float, *, received_first: bool = False
) -> None:
    sent, received = ToneSource(SENT_HZ, rate), ToneSource(RECEIVED_HZ, rate)
    for _tick in range(round(seconds / 0.02)):
        if received_first:
            recorder.received(received.read())
            recorder.sent(sent.read())
        else:
            recorder.sent(sent.read())
            recorder.received(received.read())


def _probe(path: Path) -> dict[str, object]:
    tool = shutil.which("ffprobe")
    if tool is None:
        _missing("ffprobe not found on PATH")
    assert tool is not None
    result = subprocess.run(
        [tool, "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert result.stderr == ""
    streams = json.loads(result.stdout)["streams"]
    assert len(streams) == 1
    stream: dict[str, object] = streams[0]
    return stream


# --------------------------------------------------------------------------- WAV


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_wav_mixed_holds_both_directions_in_one_channel(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "call.wav"
    with _recorder(path, rate, mode="mixed") as recorder:
        _record_call(recorder, rate, 1.0)
    assert recorder.duration == pytest.approx(1.0)
    file_rate, channels, samples = _read_wav(path)
    assert (file_rate, channels, len(samples)) == (rate, 1, rate)
    mono = samples[:, 0]
    assert tone_present(mono, rate, SENT_HZ, min_fraction=0.4)
    assert tone_present(mono, rate, RECEIVED_HZ, min_fraction=0.4)


@pytest.mark.parametrize("received_first", [False, True])
def test_wav_stereo_puts_sent_left_and_received_right(tmp_path: Path, received_first: bool) -> None:
    rate = 16000
    path = tmp_path / "call.WAV"
    with _recorder(path, rate, mode="stereo") as recorder:
        _record_call(recorder, rate, 0.5, received_first=received_first)
    _rate, channels, samples = _read_wav(path)
    assert channels == 2 and len(samples) == rate // 2
    left, right = samples[:, 0], samples[:, 1]
    assert dominant_frequency(left, rate) == pytest.approx(SENT_HZ, abs=2)
    assert dominant_frequency(right, rate) == pytest.approx(RECEIVED_HZ, abs=2)
    assert not tone_present(left, rate, RECEIVED_HZ, min_fraction=0.01)
    assert not tone_present(right, rate, SENT_HZ, min_fraction=0.01)
    # Exactly the frames given, in order: the tones regenerated match sample for sample.
    sent, received = ToneSource(SENT_HZ, rate), ToneSource(RECEIVED_HZ, rate)
    expected_left = np.concatenate([sent.read() for _ in range(25)])
    expected_right = np.concatenate([received.read() for _ in range(25)])
    assert np.array_equal(left, expected_left) and np.array_equal(right, expected_right)
    assert recorder.missing_frames == 0


def _marker(value: int, rate: int = 8000) -> NDArray[np.int16]:
    return np.full(frame_samples(rate), value, dtype=np.int16)


def _frame_values(samples: NDArray[np.int16], rate: int = 8000) -> list[tuple[int, int]]:
    size = frame_samples(rate)
    return [(int(samples[i, 0]), int(samples[i, 1])) for i in range(0, len(samples), size)]


def test_pairing_writes_silence_for_a_direction_that_missed_a_tick(tmp_path: Path) -> None:
    path = tmp_path / "pairs.wav"
    with _recorder(path, 8000, mode="stereo") as recorder:
        for tick in range(1, 6):
            recorder.sent(_marker(tick))
            if tick != 3:  # the received direction delivers nothing in tick 3
                recorder.received(_marker(100 + tick))
    assert recorder.missing_frames == 1
    values = _frame_values(_read_wav(path)[2])
    assert values == [(1, 101), (2, 102), (3, 0), (4, 104), (5, 105)]


def test_end_tick_keeps_pairing_exact_through_gaps_in_either_order(tmp_path: Path) -> None:
    path = tmp_path / "ticks.wav"
    with _recorder(path, 8000, mode="stereo") as recorder:
        for tick in range(1, 7):
            calls = [(recorder.received, 100 + tick), (recorder.sent, tick)]
            if tick % 2:
                calls.reverse()
            for deliver, value in calls:
                if (tick, value >= 100) not in ((2, True), (4, False)):
                    deliver(_marker(value))
            recorder.end_tick()
    values = _frame_values(_read_wav(path)[2])
    assert values == [(1, 101), (2, 0), (3, 103), (0, 104), (5, 105), (6, 106)]
    assert recorder.missing_frames == 2


def test_a_direction_far_ahead_is_written_alone_and_close_flushes_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ahead.wav"
    recorder = _recorder(path, 8000, mode="stereo", max_lag=2)
    for tick in range(1, 5):
        recorder.received(_marker(tick))
    assert recorder.duration == pytest.approx(0.04)  # two written, two still queued
    recorder.close()
    recorder.close()
    assert _frame_values(_read_wav(path)[2]) == [(0, 1), (0, 2), (0, 3), (0, 4)]
    with pytest.raises(LocalProtocolError):
        recorder.sent(_marker(1))


def test_frames_of_different_lengths_are_padded(tmp_path: Path) -> None:
    path = tmp_path / "lengths.wav"
    with _recorder(path, 8000, mode="stereo") as recorder:
        recorder.sent(np.full(100, 7, dtype=np.int16))
        recorder.received(np.full(160, 9, dtype=np.int16))
    samples = _read_wav(path)[2]
    assert len(samples) == 160
    assert np.all(samples[:100, 0] == 7) and np.all(samples[100:, 0] == 0)
    assert np.all(samples[:, 1] == 9)


def test_mixed_mode_soft_clips_instead_of_wrapping(tmp_path: Path) -> None:
    path = tmp_path / "loud.wav"
    with _recorder(path, 8000) as recorder:
        for _ in range(3):
            recorder.sent(np.full(160, 30000, dtype=np.int16))
            recorder.received(np.full(160, 30000, dtype=np.int16))
            recorder.sent(np.full(160, -32768, dtype=np.int16))
            recorder.received(np.full(160, -32768, dtype=np.int16))
    mono = _read_wav(path)[2][:, 0].reshape(-1, 160)
    assert np.all(mono[0::2] > 30000) and np.all(mono[1::2] < -30000)


@pytest.mark.parametrize("mode", ["mixed", "stereo"])
def test_max_duration_bounds_the_wav_recording(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "bounded.wav"
    with _recorder(path, 8000, mode=mode, max_duration=0.25) as recorder:
        _record_call(recorder, 8000, 1.0)
        assert recorder.full
    assert recorder.duration == pytest.approx(0.25)
    assert recorder.dropped_samples == 8000 - 2000
    assert len(_read_wav(path)[2]) == 2000


def test_misuse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LocalProtocolError):
        open_call_recorder(tmp_path / "call.mp3", 8000)
    with pytest.raises(LocalProtocolError):
        open_call_recorder(tmp_path / "call.wav", 8000, mode="quad")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        open_call_recorder(tmp_path / "call.wav", 8000, max_lag=0)
    with pytest.raises(LocalProtocolError):
        FileRecorder(tmp_path / "call.wav", 8000, sink=MemorySink(), channels=3)
    with pytest.raises(LocalProtocolError):
        FileRecorder(tmp_path / "call.wav", 0, sink=MemorySink())
    with FileRecorder(tmp_path / "call.wav", 8000, sink=MemorySink()) as recorder:
        with pytest.raises(LocalProtocolError):
            recorder.write_channels(np.zeros((10, 2), dtype=np.int16))
        with pytest.raises(LocalProtocolError):
            recorder.write(np.array(["a"]))
    assert recording_format("x.OPUS") == "ogg" and recording_format("y.wav") == "wav"


def test_directions_as_sinks(tmp_path: Path) -> None:
    path = tmp_path / "sinks.wav"
    with _recorder(path, 8000, mode="stereo") as recorder:
        sinks: tuple[FrameSink, FrameSink] = (recorder.sent_sink, recorder.received_sink)
        sinks[1].write(_marker(5))
        sinks[0].write(_marker(4))
    assert _frame_values(_read_wav(path)[2]) == [(4, 5)]


def test_open_recorder_wav_records_mono(tmp_path: Path) -> None:
    path = tmp_path / "received.wav"
    tone = ToneSource(RECEIVED_HZ, 16000)
    sink: FrameSink = open_recorder(path, 16000)
    for _ in range(10):
        sink.write(tone.read())
    assert isinstance(sink, FileRecorder)
    sink.close()
    rate, channels, samples = _read_wav(path)
    assert (rate, channels, len(samples)) == (16000, 1, 3200)
    assert dominant_frequency(samples[:, 0], rate) == pytest.approx(RECEIVED_HZ, abs=2)


# --------------------------------------------------------------------------- Ogg Opus


def _tail(samples: NDArray[np.int16], rate: int) -> NDArray[np.int16]:
    """Without the first 100 ms, where the codec settles."""
    return samples[rate // 10 :]


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_ogg_mixed_holds_both_directions(tmp_path: Path, rate: int) -> None:
    _need_ogg()
    path = tmp_path / "call.ogg"
    with _recorder(path, rate, random=random.Random(1)) as recorder:
        _record_call(recorder, rate, 1.0)
    decoded = _read_ogg(path, rate)
    assert len(decoded) == rate
    mono = _tail(decoded[:, 0], rate)
    assert tone_present(mono, rate, SENT_HZ, min_fraction=0.3)
    assert tone_present(mono, rate, RECEIVED_HZ, min_fraction=0.3)
    if shutil.which("ffprobe") or os.environ.get("CI") == "true":
        info = _probe(path)
        assert info["codec_name"] == "opus" and info["channels"] == 1


def test_ogg_stereo_puts_sent_left_and_received_right(tmp_path: Path) -> None:
    _need_ogg()
    rate = 16000
    path = tmp_path / "call.opus"
    with _recorder(path, rate, mode="stereo", bitrate=64000) as recorder:
        _record_call(recorder, rate, 1.0)
    decoded = _read_ogg(path, rate)
    left, right = _tail(decoded[:, 0], rate), _tail(decoded[:, 1], rate)
    assert dominant_frequency(left, rate) == pytest.approx(SENT_HZ, abs=3)
    assert dominant_frequency(right, rate) == pytest.approx(RECEIVED_HZ, abs=3)
    assert tone_present(left, rate, SENT_HZ, min_fraction=0.9)
    assert tone_present(right, rate, RECEIVED_HZ, min_fraction=0.9)
    if shutil.which("ffprobe") or os.environ.get("CI") == "true":
        info = _probe(path)
        assert info["codec_name"] == "opus" and info["channels"] == 2


def test_ogg_max_duration_and_ffmpeg_decodes_it(tmp_path: Path) -> None:
    _need_ogg()
    path = tmp_path / "bounded.ogg"
    with _recorder(path, 16000, mode="stereo", max_duration=0.5) as recorder:
        _record_call(recorder, 16000, 1.0)
    assert recorder.full and recorder.duration == pytest.approx(0.5)
    assert len(_read_ogg(path, 16000)) == 8000
    tool = shutil.which("ffmpeg")
    if tool is None:
        _missing("ffmpeg not found on PATH")
    assert tool is not None
    result = subprocess.run(
        [tool, "-hide_banner", "-v", "error", "-nostdin", "-i", str(path),
         "-f", "s16le", "-ac", "2", "-ar", "16000", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert result.stderr == b""
    assert abs(len(result.stdout) // 4 - 8000) <= 16000 * 0.03


def test_open_recorder_ogg_is_a_playable_mono_file(tmp_path: Path) -> None:
    _need_ogg()
    path = tmp_path / "out.ogg"
    tone = ToneSource(RECEIVED_HZ, 16000)
    with open_recorder(path, 16000, random=random.Random(5)) as sink:
        for _ in range(25):
            sink.write(tone.read())
    decoded = _read_ogg(path, 16000)
    assert len(decoded) == 8000
    assert dominant_frequency(_tail(decoded[:, 0], 16000), 16000) == pytest.approx(
        RECEIVED_HZ, abs=3
    )
    if shutil.which("ffprobe") or os.environ.get("CI") == "true":
        assert _probe(path)["channels"] == 1


# --------------------------------------------------------------------------- properties

_frames = arrays(np.int16, st.integers(0, 400), elements=st.integers(-32768, 32767))
_steps = st.lists(st.tuples(st.booleans(), _frames, st.booleans()), max_size=30)


@settings(max_examples=examples(60))
@given(
    steps=_steps,
    mode=st.sampled_from(["mixed", "stereo"]),
    limit=st.none() | st.floats(0, 0.5),
)
def test_any_frames_in_any_order_never_crash_and_stay_bounded(
    steps: list[tuple[bool, NDArray[np.int16], bool]], mode: str, limit: float | None
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "random.wav"
        recorder = _recorder(path, 8000, mode=mode, max_duration=limit)
        for is_sent, frame, end_tick in steps:
            (recorder.sent if is_sent else recorder.received)(frame)
            if end_tick:
                recorder.end_tick()
        recorder.close()
        _rate, channels, samples = _read_wav(path)
        given_samples = sum(len(frame) for _s, frame, _e in steps)
        assert channels == (1 if mode == "mixed" else 2)
        assert len(samples) == round(recorder.duration * 8000) <= given_samples
        if limit is not None:
            assert len(samples) <= limit * 8000
        if mode == "stereo":
            # Every sample given is in the file on its own channel, nothing invented.
            sent = sum(int(np.abs(f.astype(np.int64)).sum()) for s, f, _e in steps if s)
            assert int(np.abs(samples[:, 0].astype(np.int64)).sum()) <= sent
            if limit is None:
                assert int(np.abs(samples[:, 0].astype(np.int64)).sum()) == sent
