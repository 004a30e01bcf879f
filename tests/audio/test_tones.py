"""Tone sources: frequencies, levels, phase continuity, cadences and DTMF strings."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from sansip.audio.analysis import detect_dtmf, dominant_frequency, rms_dbfs, tone_present
from sansip.audio.frames import FrameSource
from sansip.audio.tones import (
    DTMF_FREQUENCIES,
    CadenceSource,
    DtmfSource,
    ToneSource,
    busy_tone,
    ringback_tone,
)
from sansip.errors import LocalProtocolError


def collect(source: FrameSource, seconds: float, rate: int) -> NDArray[np.int16]:
    frames = [source.read() for _ in range(round(seconds * 50))]
    assert all(f.dtype == np.int16 and len(f) == rate // 50 for f in frames)
    return np.concatenate(frames)


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
@pytest.mark.parametrize("frequency", [300.0, 1000.0, 3100.0])
def test_single_tone_frequency_and_level(rate: int, frequency: float) -> None:
    samples = collect(ToneSource(frequency, rate, level_dbfs=-12.0), 0.5, rate)
    assert dominant_frequency(samples, rate) == pytest.approx(frequency, abs=1.0)
    assert rms_dbfs(samples) == pytest.approx(-12.0, abs=0.1)


def test_phase_is_continuous_across_frames() -> None:
    rate = 8000
    samples = collect(ToneSource(1000.0, rate, level_dbfs=0.0), 0.2, rate).astype(float)
    expected = 32767 * np.sin(2 * np.pi * 1000 * np.arange(len(samples)) / rate)
    assert np.max(np.abs(samples - expected)) <= 1.0


def test_dual_tone_has_both_components() -> None:
    rate = 16000
    samples = collect(ToneSource([350.0, 440.0], rate, level_dbfs=-15.0), 0.5, rate)
    assert tone_present(samples, rate, 350.0) and tone_present(samples, rate, 440.0)
    assert not tone_present(samples, rate, 1000.0)
    assert rms_dbfs(samples) == pytest.approx(-12.0, abs=0.1)  # two tones: +3 dB


def test_us_ringback_cadence_two_seconds_on_four_off() -> None:
    rate = 8000
    samples = collect(ringback_tone("us", rate), 12.0, rate)
    second = rate
    for start in (0, 6):
        on = samples[start * second : (start + 2) * second]
        off = samples[(start + 2) * second : (start + 6) * second]
        assert tone_present(on, rate, 440.0) and tone_present(on, rate, 480.0)
        assert not np.any(off)
        assert np.all(np.abs(on[10:-10]).max() > 0)


def test_eu_ringback_and_busy_tones() -> None:
    rate = 8000
    ring = collect(ringback_tone("eu", rate), 5.0, rate)
    assert dominant_frequency(ring[:rate], rate) == pytest.approx(425.0, abs=1.0)
    assert not np.any(ring[rate : 5 * rate])
    busy = collect(busy_tone("eu", rate), 2.0, rate)
    on = [bool(np.any(busy[i * 4000 : (i + 1) * 4000])) for i in range(4)]
    assert on == [True, False, True, False]
    us_busy = collect(busy_tone("us", rate), 0.5, rate)
    assert tone_present(us_busy, rate, 480.0) and tone_present(us_busy, rate, 620.0)
    with pytest.raises(LocalProtocolError):
        ringback_tone("xx")


def test_non_repeating_cadence_finishes() -> None:
    source = CadenceSource([400.0], [(0.1, 0.1)], 8000, repeat=False)
    samples = collect(source, 0.4, 8000)
    assert source.finished
    assert np.any(samples[:800]) and not np.any(samples[800:])


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_dtmf_string_is_detected_back(rate: int) -> None:
    source = DtmfSource("1234#", rate)
    samples = collect(source, 1.0, rate)
    assert source.finished
    assert detect_dtmf(samples, rate) == "1234#"


def test_every_digit_and_repeated_digits() -> None:
    digits = "".join(DTMF_FREQUENCIES) + "5,55"
    source = DtmfSource(digits, 8000, duration=0.06, gap=0.05, pause=0.2)
    samples = collect(source, 3.0, 8000)
    assert detect_dtmf(samples, 8000) == digits.replace(",", "")


def test_dtmf_digit_frequencies_follow_q23() -> None:
    samples = collect(DtmfSource("9", 8000, duration=0.5), 0.4, 8000)
    assert tone_present(samples, 8000, 852.0) and tone_present(samples, 8000, 1477.0)
    assert DTMF_FREQUENCIES["0"] == (941.0, 1336.0)


def test_bad_arguments() -> None:
    with pytest.raises(LocalProtocolError):
        DtmfSource("12x")
    with pytest.raises(LocalProtocolError):
        ToneSource(5000.0, 8000)  # above Nyquist
    with pytest.raises(LocalProtocolError):
        ToneSource([1000.0, 1200.0], level_dbfs=0.0)  # would clip


@pytest.mark.parametrize(
    ("frequency", "rate"),
    [(1234.0, 8000), (440.5, 8000), (997.0, 48000), (440.123, 8000), (1000.0 / 3.0, 16000)],
)
def test_phase_continuity_for_any_period(frequency: float, rate: int) -> None:
    """Whether the tone repeats within a table (integer or simple fractional
    frequencies) or not (computed frame by frame), the frames join into one
    continuous sine, also across the end of the table."""
    samples = collect(ToneSource(frequency, rate, level_dbfs=0.0), 2.5, rate).astype(float)
    expected = 32767 * np.sin(2 * np.pi * frequency * np.arange(len(samples)) / rate)
    assert np.max(np.abs(samples - expected)) <= 1.0


def test_frames_are_independent_copies() -> None:
    source = ToneSource(400.0, 8000)
    first = source.read()
    reference = first.copy()
    first[:] = 0  # a consumer scribbling on its frame
    for _ in range(60):
        frame = source.read()
    assert np.any(frame) and not np.shares_memory(frame, first)
    again = ToneSource(400.0, 8000).read()
    assert np.array_equal(again, reference)


def test_dual_tone_matches_the_sum_of_sines() -> None:
    rate = 8000
    samples = collect(ToneSource([697.0, 1209.0], rate, level_dbfs=-7.0), 1.5, rate)
    n = np.arange(len(samples))
    peak = 32767 * 10 ** (-7.0 / 20)
    expected = peak * (np.sin(2 * np.pi * 697 * n / rate) + np.sin(2 * np.pi * 1209 * n / rate))
    assert np.max(np.abs(samples - expected)) <= 1.0
