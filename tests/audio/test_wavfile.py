"""WAV player and recorder: round trips, resampling, downmix, loop and bounds."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from sansip.audio.analysis import detect_dtmf, dominant_frequency, rms_dbfs, tone_present
from sansip.audio.tones import DtmfSource, ToneSource
from sansip.audio.wavfile import LinearResampler, WavFileError, WavPlayer, WavRecorder
from sansip.io.file_writer import FileSink


def write_wav(
    path: Path, samples: NDArray[np.int16], rate: int, width: int = 2, channels: int = 1
) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        if width == 1:
            data = (np.asarray(samples, dtype=np.int32) // 256 + 128).astype(np.uint8).tobytes()
        else:
            data = np.asarray(samples, dtype="<i2").tobytes()
        out.writeframes(data)


def tone(
    frequency: float, rate: int, seconds: float, amplitude: float = 8000.0
) -> NDArray[np.int16]:
    n = np.arange(round(rate * seconds))
    return np.rint(amplitude * np.sin(2 * np.pi * frequency * n / rate)).astype(np.int16)


def play_all(player: WavPlayer, limit: int = 10_000) -> NDArray[np.int16]:
    frames: list[NDArray[np.int16]] = []
    while not player.finished and len(frames) < limit:
        frames.append(player.read())
    return np.concatenate(frames) if frames else np.zeros(0, np.int16)


def test_record_then_play_round_trip_is_exact_at_the_same_rate(tmp_path: Path) -> None:
    path = tmp_path / "dtmf.wav"
    source = DtmfSource("1234#", 8000)
    with WavRecorder(FileSink(path), 8000) as recorder:
        while not source.finished:
            recorder.write(source.read())
    written = recorder.samples_written
    with wave.open(str(path), "rb") as check:
        assert (check.getnchannels(), check.getsampwidth(), check.getframerate()) == (1, 2, 8000)
        assert check.getnframes() == written
        raw = np.frombuffer(check.readframes(written), dtype="<i2")
    with WavPlayer(path, 8000) as player:
        played = play_all(player)
    assert np.array_equal(played[:written], raw)
    assert not np.any(played[written:])  # the last frame is zero-padded
    assert detect_dtmf(played, 8000) == "1234#"
    assert player.read().tolist() == [0] * 160  # silence after the end


@pytest.mark.parametrize(
    ("file_rate", "rate"), [(44_100, 16_000), (48_000, 8_000), (8_000, 48_000)]
)
def test_resampling_keeps_the_tone_and_the_duration(
    tmp_path: Path, file_rate: int, rate: int
) -> None:
    path = tmp_path / "tone.wav"
    write_wav(path, tone(1000.0, file_rate, 1.0), file_rate)
    with WavPlayer(path, rate) as player:
        assert player.file_rate == file_rate and player.duration == pytest.approx(1.0)
        played = play_all(player)
    assert len(played) == pytest.approx(rate, abs=rate // 50)
    assert dominant_frequency(played, rate) == pytest.approx(1000.0, abs=1.0)
    assert tone_present(played, rate, 1000.0)
    middle = played[rate // 10 : -rate // 10]
    # Linear interpolation loses a little level when it upsamples (0.45 dB at 1/8 of the rate).
    assert rms_dbfs(middle) == pytest.approx(rms_dbfs(tone(1000.0, rate, 1.0)), abs=0.6)


def test_downsampling_suppresses_what_the_new_rate_cannot_carry(tmp_path: Path) -> None:
    # 6 kHz cannot exist at 8 kHz; a naive decimation would alias it to 2 kHz.
    path = tmp_path / "high.wav"
    write_wav(path, tone(6000.0, 44_100, 1.0), 44_100)
    with WavPlayer(path, 8000) as player:
        played = play_all(player)
    assert rms_dbfs(played) < rms_dbfs(tone(6000.0, 44_100, 1.0)) - 40


def test_resampled_dtmf_from_44k1_is_still_detected(tmp_path: Path) -> None:
    source = DtmfSource("1234#", 44_100, frame_duration=0.02)
    samples = np.concatenate([source.read() for _ in range(60)])
    path = tmp_path / "dtmf44.wav"
    write_wav(path, samples, 44_100)
    with WavPlayer(path, 16_000) as player:
        assert detect_dtmf(play_all(player), 16_000) == "1234#"


def test_stereo_is_downmixed_and_8_bit_is_scaled(tmp_path: Path) -> None:
    left, right = tone(500.0, 8000, 0.5), tone(500.0, 8000, 0.5)
    stereo = np.column_stack([left, right]).reshape(-1)
    write_wav(tmp_path / "stereo.wav", stereo, 8000, channels=2)
    with WavPlayer(tmp_path / "stereo.wav", 8000) as player:
        assert np.array_equal(play_all(player)[:4000], left)
    write_wav(tmp_path / "u8.wav", left, 8000, width=1)
    with WavPlayer(tmp_path / "u8.wav", 8000) as player:
        played = play_all(player)[:4000].astype(int)
    assert np.max(np.abs(played - left.astype(int))) <= 256


def test_loop_restarts_and_never_finishes(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    samples = tone(400.0, 8000, 0.1)
    write_wav(path, samples, 8000)
    with WavPlayer(path, 8000, loop=True) as player:
        played = np.concatenate([player.read() for _ in range(20)])
        assert not player.finished
    assert np.array_equal(played[:800], samples)
    assert np.array_equal(played[800:1600], samples)
    assert np.array_equal(played[-800:], samples)


def test_recorder_bounds_duration_and_size(tmp_path: Path) -> None:
    source = ToneSource(1000.0, 8000)
    with WavRecorder(FileSink(tmp_path / "a.wav"), 8000, max_duration=0.05) as recorder:
        for _ in range(10):
            recorder.write(source.read())
    assert recorder.full and recorder.samples_written == 400 and recorder.dropped_samples == 1200
    with WavRecorder(FileSink(tmp_path / "b.wav"), 8000, max_bytes=44 + 1000) as bounded:
        for _ in range(10):
            bounded.write(source.read())
    assert (tmp_path / "b.wav").stat().st_size <= 44 + 1000
    with wave.open(str(tmp_path / "a.wav"), "rb") as check:
        assert check.getnframes() == 400


def test_bad_files_raise_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "not.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00junk")
    with pytest.raises(WavFileError):
        WavPlayer(path)


def test_resampler_streaming_equals_one_block() -> None:
    signal = tone(700.0, 44_100, 0.5).astype(float)
    whole = LinearResampler(44_100, 16_000)
    expected = np.concatenate([whole.process(signal), whole.flush()])
    pieces = LinearResampler(44_100, 16_000)
    parts = [pieces.process(signal[i : i + 333]) for i in range(0, len(signal), 333)]
    got = np.concatenate([*parts, pieces.flush()])
    assert np.allclose(got, expected)
    assert len(got) == pytest.approx(8000, abs=2)
