"""Signal analysis helpers: they must tell real tones from noise and silence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.analysis import (
    detect_dtmf,
    dominant_frequency,
    goertzel_power,
    rms_dbfs,
    tone_present,
)
from sansip.audio.tones import DTMF_FREQUENCIES
from tests.conftest import examples


def sine(
    frequency: float, rate: int, seconds: float, amplitude: float = 10_000.0
) -> NDArray[np.float64]:
    n = np.arange(round(rate * seconds))
    wave: NDArray[np.float64] = amplitude * np.sin(2 * np.pi * frequency * n / rate + 0.3)
    return wave


@settings(max_examples=examples(50))
@given(st.floats(100.0, 3800.0), st.sampled_from([8000, 16000, 48000]))
def test_dominant_frequency_interpolates_between_bins(frequency: float, rate: int) -> None:
    estimate = dominant_frequency(sine(frequency, rate, 0.1), rate)
    assert estimate == pytest.approx(frequency, abs=2.0)  # bins are 10 Hz apart


def test_dominant_frequency_of_silence_is_zero() -> None:
    assert dominant_frequency(np.zeros(800), 8000) == 0.0


def test_rms_dbfs_references_a_full_scale_sine() -> None:
    assert rms_dbfs(sine(1000, 8000, 1.0, 32767)) == pytest.approx(0.0, abs=0.01)
    assert rms_dbfs(sine(1000, 8000, 1.0, 32767 / 10)) == pytest.approx(-20.0, abs=0.01)
    assert rms_dbfs(np.zeros(10)) == -math.inf


def test_tone_present_against_noise_and_other_tones() -> None:
    rate = 8000
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 3000, rate)
    assert not tone_present(noise, rate, 1000.0)
    assert tone_present(sine(1000, rate, 1.0) + rng.normal(0, 500, rate), rate, 1000.0)
    assert not tone_present(sine(1100, rate, 1.0), rate, 1000.0)
    assert tone_present(sine(1005, rate, 1.0), rate, 1000.0, tolerance=10.0)
    assert not tone_present(sine(1000, rate, 1.0, amplitude=0.5), rate, 1000.0)


def test_goertzel_gives_the_energy_of_a_matching_sine() -> None:
    block = sine(770.0, 8000, 0.02)
    energy = float(np.dot(block, block))
    powers = goertzel_power(block, 8000, [697.0, 770.0, 1209.0])[0]
    assert powers[1] == pytest.approx(energy, rel=0.05)
    assert powers[0] < 0.2 * energy and powers[2] < 0.01 * energy


def dtmf(digit: str, rate: int, seconds: float, low_gain: float = 1.0) -> NDArray[np.float64]:
    low, high = DTMF_FREQUENCIES[digit]
    return sine(low, rate, seconds, 6000 * low_gain) + sine(high, rate, seconds, 6000)


def test_detect_dtmf_duration_gap_and_twist_rules() -> None:
    rate = 8000
    gap = np.zeros(round(0.05 * rate))
    seven = dtmf("7", rate, 0.1)
    assert detect_dtmf(np.concatenate([seven, gap, seven]), rate) == "77"
    # Too short: one 20 ms block is not a digit.
    assert detect_dtmf(np.concatenate([gap, dtmf("3", rate, 0.02), gap]), rate) == ""
    # Without a gap the same digit is one key press.
    assert detect_dtmf(dtmf("5", rate, 0.3), rate) == "5"
    # 12 dB of twist is rejected, 3 dB accepted.
    assert detect_dtmf(dtmf("1", rate, 0.2, low_gain=0.25), rate) == ""
    assert detect_dtmf(dtmf("1", rate, 0.2, low_gain=0.7), rate) == "1"


def test_detect_dtmf_ignores_single_tones_speechlike_noise_and_silence() -> None:
    rate = 8000
    rng = np.random.default_rng(4)
    assert detect_dtmf(sine(697, rate, 0.5), rate) == ""
    assert detect_dtmf(rng.normal(0, 4000, rate), rate) == ""
    assert detect_dtmf(np.zeros(rate), rate) == ""
    # A digit buried in loud noise is not reported; in mild noise it is.
    assert detect_dtmf(dtmf("8", rate, 0.2) + rng.normal(0, 8000, 1600), rate) == ""
    assert detect_dtmf(dtmf("8", rate, 0.2) + rng.normal(0, 300, 1600), rate) == "8"


@settings(max_examples=examples(50))
@given(st.lists(st.integers(-32768, 32767), max_size=2000), st.sampled_from([8000, 16000]))
def test_helpers_never_crash_on_arbitrary_samples(values: list[int], rate: int) -> None:
    samples = np.array(values, dtype=np.int16)
    detect_dtmf(samples, rate)
    dominant_frequency(samples, rate)
    tone_present(samples, rate, 1000.0)
    rms_dbfs(samples)
