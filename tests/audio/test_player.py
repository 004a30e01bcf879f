"""File playback into the call and the loudspeaker, ringback and ringtone sources."""

from __future__ import annotations

import os
import random
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from sansip.audio.analysis import dominant_frequency, rms_dbfs, tone_present
from sansip.audio.frames import CollectSink, FrameSink, FrameSource, SilenceSource
from sansip.audio.oggopus import OggOpusWriter, oggopus_unavailable_reason
from sansip.audio.player import (
    RINGTONE_FREQUENCIES,
    FilePlayer,
    LocalPlayback,
    MixedSource,
    Ringback,
    Ringtone,
    playback_format,
)
from sansip.audio.tones import ToneSource
from sansip.audio.wavfile import WavPlayer
from sansip.errors import LocalProtocolError
from sansip.io.file_writer import FileSink
from tests.conftest import examples

FILE_HZ = 1000.0
MIC_HZ = 400.0


def _need_ogg() -> None:
    reason = oggopus_unavailable_reason()
    if reason is None:
        return
    message = f"Ogg Opus playback needs libopus and libogg through pyogg: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _tone(rate: int, seconds: float, frequency: float = FILE_HZ) -> NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def _write_wav(path: Path, samples: NDArray[np.int16], rate: int, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(np.repeat(samples, channels).astype("<i2").tobytes())
    return path


def _write_ogg(path: Path, samples: NDArray[np.int16], rate: int) -> Path:
    with OggOpusWriter(FileSink(path), rate, random=random.Random(3)) as writer:
        writer.write(samples)
    return path


def _play_all(source: FilePlayer, limit: int = 1000) -> list[NDArray[np.int16]]:
    frames = []
    while not source.finished:
        frames.append(source.read())
        assert len(frames) < limit
    return frames


@pytest.fixture
def wav_file(tmp_path: Path) -> Path:
    """0.2 s of FILE_HZ at 8000 Hz, two channels."""
    return _write_wav(tmp_path / "tone.wav", _tone(8000, 0.2), 8000, channels=2)


# --------------------------------------------------------------------------- FilePlayer


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_file_player_plays_a_wav_file_at_the_pipeline_rate(wav_file: Path, rate: int) -> None:
    with FilePlayer(wav_file, rate) as player:
        assert player.format == "wav" and not player.finished
        frames = _play_all(player)
        assert _state(player.finished)
        assert len(frames) == 10  # 0.2 s in 20 ms frames
        assert all(len(frame) == rate // 50 for frame in frames)
        samples = np.concatenate(frames)
        assert dominant_frequency(samples[: rate // 10], rate) == pytest.approx(FILE_HZ, abs=2)
        assert not player.read().any()


def test_file_player_loops(wav_file: Path) -> None:
    with FilePlayer(wav_file, 8000, loop=True) as player:
        frames = [player.read() for _ in range(35)]
        assert not player.finished
    assert all(rms_dbfs(frame) > -20 for frame in frames[1:-1])
    assert _state(player.finished)  # closed
    assert not player.read().any()


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_file_player_plays_an_ogg_opus_file(tmp_path: Path, rate: int) -> None:
    _need_ogg()
    path = _write_ogg(tmp_path / "tone.opus", _tone(16000, 0.4), 16000)
    with FilePlayer(path, rate) as player:
        assert player.format == "ogg"
        frames = _play_all(player)
    assert len(frames) == 20
    samples = np.concatenate(frames)[rate // 10 :]
    assert dominant_frequency(samples, rate) == pytest.approx(FILE_HZ, abs=3)


def test_format_from_content_when_the_extension_says_nothing(
    tmp_path: Path, wav_file: Path
) -> None:
    odd = tmp_path / "tone.snd"
    odd.write_bytes(wav_file.read_bytes())
    assert playback_format(odd) == "wav"
    with FilePlayer(odd, 8000) as player:
        assert len(_play_all(player)) == 10
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(LocalProtocolError):
        FilePlayer(junk, 8000)
    with pytest.raises(LocalProtocolError):
        playback_format(tmp_path / "missing.bin")


# --------------------------------------------------------------------------- MixedSource


def _mixed_run(
    wav_file: Path, *, replace: bool, ticks: int = 20
) -> tuple[MixedSource, list[NDArray[np.int16]], list[int]]:
    ended: list[int] = []
    mixed = MixedSource(ToneSource(MIC_HZ, 8000))
    player = FilePlayer(wav_file, 8000)
    mixed.play(player, replace=replace, on_finished=lambda: ended.append(len(frames)))
    frames: list[NDArray[np.int16]] = []
    frames.extend(mixed.read(0.0) for _ in range(ticks))
    assert player.finished  # closed by the mixer at the end
    return mixed, frames, ended


def test_mixed_source_mixes_the_file_then_returns_to_the_microphone(wav_file: Path) -> None:
    mixed, frames, ended = _mixed_run(wav_file, replace=False)
    assert ended == [9] and mixed.completed == 1 and not mixed.playing
    during = np.concatenate(frames[1:9])
    assert tone_present(during, 8000, MIC_HZ, min_fraction=0.3)
    assert tone_present(during, 8000, FILE_HZ, min_fraction=0.3)
    reference = ToneSource(MIC_HZ, 8000)
    expected = [reference.read() for _ in range(20)]
    for frame, mic in zip(frames[10:], expected[10:], strict=True):
        assert np.array_equal(frame, mic)  # the microphone alone, not one sample lost


def test_mixed_source_replace_sends_the_file_alone(wav_file: Path) -> None:
    _mixed, frames, ended = _mixed_run(wav_file, replace=True)
    assert ended == [9]
    reference = WavPlayer(wav_file, 8000)
    for frame in frames[:10]:
        assert np.array_equal(frame, reference.read())
    # The microphone was read all along: it resumes where it would be anyway.
    mic = ToneSource(MIC_HZ, 8000)
    expected = [mic.read() for _ in range(20)]
    assert all(np.array_equal(a, b) for a, b in zip(frames[10:], expected[10:], strict=True))


def test_mixed_source_stop_and_replacing_a_playing_file(wav_file: Path, tmp_path: Path) -> None:
    mixed = MixedSource(SilenceSource(8000))
    first = FilePlayer(wav_file, 8000, loop=True)
    mixed.play(first)
    assert mixed.read().any()
    assert mixed.playing
    second = FilePlayer(_write_wav(tmp_path / "b.wav", _tone(8000, 1.0, 700.0), 8000), 8000)
    called: list[bool] = []
    mixed.play(second, gain=0.5, on_finished=lambda: called.append(True))
    assert first.finished  # the first was stopped and closed
    frame = mixed.read()
    assert dominant_frequency(frame, 8000) == pytest.approx(700.0, abs=15)
    assert 1500 < np.abs(frame).max() < 4200  # half of the file's 8000 peak
    mixed.stop()
    mixed.stop()
    assert second.finished and not _state(mixed.playing)
    assert called == [] and mixed.completed == 0
    assert not mixed.read().any()
    with pytest.raises(LocalProtocolError):
        mixed.play(ToneSource(500.0, 8000), gain=-1.0)


def test_endless_sources_play_until_stopped() -> None:
    mixed = MixedSource(SilenceSource(16000))
    mixed.play(ToneSource(500.0, 16000))
    frames = [mixed.read() for _ in range(100)]
    assert mixed.playing and all(rms_dbfs(frame) > -15 for frame in frames)


# --------------------------------------------------------------------------- LocalPlayback


def test_local_playback_mixes_into_what_is_heard(wav_file: Path) -> None:
    speaker = CollectSink()
    local = LocalPlayback(speaker)
    sink: FrameSink = local
    heard = ToneSource(MIC_HZ, 8000)
    local.play(FilePlayer(wav_file, 8000))
    assert _state(local.playing)
    written = []
    for _ in range(15):
        written.append(heard.read())
        sink.write(written[-1])
    assert not _state(local.playing) and local.completed == 1
    out = speaker.frames
    during = np.concatenate(out[1:9])
    assert tone_present(during, 8000, FILE_HZ, min_fraction=0.3)
    assert tone_present(during, 8000, MIC_HZ, min_fraction=0.3)
    assert all(np.array_equal(a, b) for a, b in zip(out[10:], written[10:], strict=True))


# --------------------------------------------------------------------------- ringback, ringtone


def _on(frames: list[NDArray[np.int16]]) -> list[bool]:
    return [bool(np.abs(frame).max() > 100) for frame in frames]


def test_ringback_follows_the_cadence_and_stops() -> None:
    ringback = Ringback(8000, region="us")  # 2 s on, 4 s off
    source: FrameSource = ringback
    frames = [source.read() for _ in range(320)]
    assert _on(frames) == [True] * 100 + [False] * 200 + [True] * 20
    burst = np.concatenate(frames[:100])
    assert tone_present(burst, 8000, 440.0, min_fraction=0.4)
    assert tone_present(burst, 8000, 480.0, min_fraction=0.4)
    assert ringback.active and not ringback.finished
    ringback.stop()  # early media
    assert _state(ringback.finished) and not _state(ringback.active)
    assert not any(_on([ringback.read() for _ in range(100)]))
    ringback.start()
    assert all(_on([ringback.read() for _ in range(10)]))


def test_uk_ringback_has_a_double_ring() -> None:
    ringback = Ringback(16000, region="UK")  # 0.4 on 0.2 off 0.4 on 2.0 off
    pattern = _on([ringback.read() for _ in range(150)])
    assert pattern == ([True] * 20 + [False] * 10 + [True] * 20 + [False] * 100) * 1


def test_ringback_file_loops_until_stopped(wav_file: Path) -> None:
    ringback = Ringback(8000, file=wav_file)
    frames = [ringback.read() for _ in range(40)]
    assert sum(_on(frames)) >= 36  # looped: only frame-edge padding may be quiet
    assert dominant_frequency(np.concatenate(frames[:5]), 8000) == pytest.approx(FILE_HZ, abs=3)
    ringback.close()
    assert not ringback.read().any()


def test_early_media_stops_local_ringback() -> None:
    speaker = CollectSink()
    local = LocalPlayback(speaker)
    ringback = Ringback(8000)
    local.play(ringback, replace=True)
    for _ in range(5):
        local.write(np.zeros(160, dtype=np.int16))
    assert all(_on(speaker.frames))
    ringback.stop()  # the early media stream starts
    early_media = ToneSource(MIC_HZ, 8000)
    for _ in range(5):
        frame = early_media.read()
        local.write(frame)
        assert np.array_equal(speaker.frames[-1], frame)
    assert not local.playing and local.completed == 1


def test_ringtone_warbles_in_bursts() -> None:
    ringtone = Ringtone(16000, region="eu")  # 1 s on, 4 s off
    frames = [ringtone.read() for _ in range(260)]
    assert _on(frames) == [True] * 50 + [False] * 200 + [True] * 10
    burst = np.concatenate(frames[:50])
    low, high = RINGTONE_FREQUENCIES
    assert tone_present(burst, 16000, low, tolerance=30, min_fraction=0.3)
    assert tone_present(burst, 16000, high, tolerance=30, min_fraction=0.3)
    assert rms_dbfs(burst) == pytest.approx(-10.0, abs=1.0)
    ringtone.stop()
    assert ringtone.finished and not ringtone.read().any()


def test_ringtone_file_and_bad_regions(wav_file: Path) -> None:
    ringtone = Ringtone(48000, file=wav_file)
    frame = ringtone.read()
    assert len(frame) == 960 and dominant_frequency(frame, 48000) == pytest.approx(FILE_HZ, abs=30)
    ringtone.stop()
    with pytest.raises(LocalProtocolError):
        Ringtone(8000, region="mars")
    with pytest.raises(LocalProtocolError):
        Ringback(8000, region="mars")


# --------------------------------------------------------------------------- properties

_frames = arrays(np.int16, st.integers(0, 480), elements=st.integers(-32768, 32767))


def _state(value: bool) -> bool:
    """``value`` read afresh (a property may change between two reads)."""
    return value


class _Frames:
    """A source giving the frames it was made with, then finished."""

    def __init__(self, frames: list[NDArray[np.int16]]) -> None:
        self._frames = list(frames)

    @property
    def finished(self) -> bool:
        return not self._frames

    def read(self, now: float | None = None) -> NDArray[np.int16]:
        return self._frames.pop(0) if self._frames else np.zeros(160, dtype=np.int16)


@settings(max_examples=examples(80))
@given(
    base=st.lists(_frames, min_size=1, max_size=12),
    played=st.lists(_frames, max_size=12),
    replace=st.booleans(),
    gain=st.floats(0.0, 64.0),
)
def test_any_frames_mix_without_wrapping(
    base: list[NDArray[np.int16]],
    played: list[NDArray[np.int16]],
    replace: bool,
    gain: float,
) -> None:
    sink = CollectSink()
    local = LocalPlayback(sink)
    local.play(_Frames(played), replace=replace, gain=gain)
    for index, frame in enumerate(base):
        local.write(frame)
        out = sink.frames[-1]
        assert out.dtype == np.int16 and len(out) == len(frame)
        if index < len(played) and not replace:
            overlay = np.zeros(len(frame))
            overlay[: min(len(frame), len(played[index]))] = played[index][: len(frame)]
            total = frame + overlay * gain
            # Soft clipping bends, it never flips the sign of a loud sum.
            assert np.all(out[total > 1] >= 0) and np.all(out[total < -1] <= 0)
    assert local.playing == (len(played) > len(base))
