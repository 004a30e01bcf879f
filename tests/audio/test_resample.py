"""Sample-rate conversion: flat passband, no aliasing, exact streaming, stable on any input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.resample import QUALITIES, SUPPORTED_RATES, Resampler, resample
from sansip.errors import LocalProtocolError
from tests.conftest import examples

RATES = (8000, 16000, 32000, 44100, 48000)
PAIRS = [(a, b) for a in RATES for b in RATES if a != b]
DOWN_PAIRS = [(a, b) for a, b in PAIRS if b < a]


def tone(
    frequency: float, rate: int, seconds: float, amplitude: float = 20000.0
) -> NDArray[np.int16]:
    n = np.arange(round(rate * seconds))
    return np.rint(amplitude * np.sin(2 * np.pi * frequency * n / rate + 0.7)).astype(np.int16)


def amplitude_at(samples: NDArray[np.int16], frequency: float, rate: int) -> float:
    """Least-squares amplitude of a sine of ``frequency`` in ``samples``."""
    n = np.arange(len(samples))
    basis = np.stack(
        [np.cos(2 * np.pi * frequency * n / rate), np.sin(2 * np.pi * frequency * n / rate)], 1
    )
    coefficients = np.linalg.lstsq(basis, samples.astype(np.float64), rcond=None)[0]
    return float(np.hypot(*coefficients))


def steady(samples: NDArray[np.int16]) -> NDArray[np.int16]:
    """The middle part, away from the start-up and end transients."""
    edge = len(samples) // 5
    return samples[edge : len(samples) - edge]


def rms(samples: NDArray[np.int16]) -> float:
    return math.sqrt(float(np.mean(samples.astype(np.float64) ** 2)))


@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7, 0.8])
def test_passband_keeps_amplitude(in_rate: int, out_rate: int, fraction: float) -> None:
    frequency = fraction * min(in_rate, out_rate) / 2
    out = resample(tone(frequency, in_rate, 0.25), in_rate, out_rate)
    gain_db = 20 * math.log10(amplitude_at(steady(out), frequency, out_rate) / 20000.0)
    assert abs(gain_db) <= 0.5


ALIAS_CASES = [
    (a, b, fraction)
    for a, b in DOWN_PAIRS
    for fraction in (1.02, 1.2, 1.6, 2.5)
    if fraction * b < 0.95 * a
]


@pytest.mark.parametrize(("in_rate", "out_rate", "fraction"), ALIAS_CASES)
def test_tones_above_the_output_nyquist_do_not_alias(
    in_rate: int, out_rate: int, fraction: float
) -> None:
    frequency = fraction * out_rate / 2
    source = tone(frequency, in_rate, 0.25)
    out = steady(resample(source, in_rate, out_rate))
    attenuation_db = 20 * math.log10(rms(steady(source)) / max(rms(out), 1e-3))
    assert attenuation_db >= 60.0


@pytest.mark.parametrize(("in_rate", "out_rate"), [(a, b) for a, b in PAIRS if b > a])
def test_interpolation_leaves_no_images(in_rate: int, out_rate: int) -> None:
    frequency = 0.6 * in_rate / 2
    out = steady(resample(tone(frequency, in_rate, 0.25), in_rate, out_rate))
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64) * np.blackman(len(out))))
    bins = np.fft.rfftfreq(len(out), 1 / out_rate)
    wanted = float(np.max(spectrum[np.abs(bins - frequency) < 50]))
    images = float(np.max(spectrum[bins > in_rate / 2 + 50]))
    assert 20 * math.log10(wanted / images) >= 60.0


@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
def test_frame_by_frame_equals_one_shot(in_rate: int, out_rate: int) -> None:
    rng = np.random.default_rng(in_rate + out_rate)
    source = np.clip(rng.standard_normal(in_rate // 10) * 9000, -32768, 32767).astype(np.int16)
    converter = Resampler(in_rate, out_rate)
    pieces: list[NDArray[np.int16]] = []
    start = 0
    while start < len(source):
        size = int(rng.integers(0, in_rate // 40))
        pieces.append(converter.process(source[start : start + size]))
        start += size
    pieces.append(converter.flush())
    streamed = np.concatenate(pieces)
    whole = resample(source, in_rate, out_rate)
    assert len(whole) == -(-len(source) * out_rate // in_rate)
    assert len(streamed) == len(whole) + converter.delay
    difference = np.abs(streamed[converter.delay :].astype(np.int32) - whole)
    assert int(np.max(difference, initial=0)) <= 1


@pytest.mark.parametrize(("in_rate", "out_rate"), [(8000, 48000), (48000, 8000), (44100, 48000)])
def test_twenty_ms_frames_give_the_exact_ratio(in_rate: int, out_rate: int) -> None:
    converter = Resampler(in_rate, out_rate)
    frame = np.zeros(in_rate // 50, dtype=np.int16)
    sizes = [len(converter.process(frame)) for _ in range(50)]
    assert sizes == [out_rate // 50] * 50


def test_odd_frames_average_the_exact_ratio() -> None:
    converter = Resampler(44100, 8000)
    total_in = total_out = 0
    for size in [1, 7, 441, 13, 0, 999, 3] * 20:
        total_out += len(converter.process(np.ones(size, dtype=np.int16)))
        total_in += size
        assert total_out == -(-total_in * 8000 // 44100)


def test_round_trip_16k_8k_16k_keeps_a_1khz_tone() -> None:
    source = tone(1000.0, 16000, 1.0, amplitude=12345.0)
    down, up = Resampler(16000, 8000), Resampler(8000, 16000)
    out = np.concatenate(
        [up.process(down.process(source[i : i + 320])) for i in range(0, len(source), 320)]
    )
    lag = 2 * down.delay + up.delay  # in 16 kHz samples
    assert lag > 0
    aligned = out[lag:].astype(np.float64)
    reference = source[: len(aligned)].astype(np.float64)
    error = (aligned - reference)[400:]
    noise = max(float(np.mean(error**2)), 1e-12)
    snr_db = 10 * math.log10(float(np.mean(reference[400:] ** 2)) / noise)
    assert snr_db >= 40.0


def test_delay_matches_where_an_impulse_comes_out() -> None:
    for in_rate, out_rate in [(8000, 48000), (48000, 8000), (16000, 8000), (8000, 16000)]:
        converter = Resampler(in_rate, out_rate)
        impulse = np.zeros(in_rate // 10, dtype=np.int16)
        impulse[0] = 30000
        out = np.concatenate((converter.process(impulse), converter.flush()))
        assert int(np.argmax(np.abs(out))) == converter.delay
        assert converter.delay_seconds == pytest.approx(converter.delay / out_rate)


def test_same_rate_is_a_copy() -> None:
    converter = Resampler(16000, 16000)
    frame = tone(440.0, 16000, 0.02)
    assert np.array_equal(converter.process(frame), frame)
    assert converter.delay == 0 and len(converter.flush()) == 0


def test_flush_starts_a_new_stream() -> None:
    converter = Resampler(8000, 16000)
    source = tone(300.0, 8000, 0.05)
    first = np.concatenate((converter.process(source), converter.flush()))
    second = np.concatenate((converter.process(source), converter.flush()))
    assert np.array_equal(first, second)


def test_qualities_trade_length_for_sharpness() -> None:
    taps = [Resampler(48000, 8000, quality=name).taps_per_phase for name in QUALITIES]
    assert taps == sorted(taps)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        Resampler(8000, 11111)
    with pytest.raises(LocalProtocolError):
        Resampler(8000, 16000, quality="best")
    with pytest.raises(LocalProtocolError):
        Resampler(8000, 16000).process(np.zeros((2, 2), dtype=np.int16))


@settings(max_examples=examples(60))
@given(
    st.sampled_from(SUPPORTED_RATES),
    st.sampled_from(SUPPORTED_RATES),
    st.lists(
        st.one_of(
            st.lists(st.integers(-32768, 32767), max_size=300),
            st.sampled_from([[], [0], [32767], [-32768], [32767] * 200, [-32768, 32767] * 100]),
        ),
        max_size=6,
    ),
)
def test_any_frames_give_bounded_finite_output(
    in_rate: int, out_rate: int, frames: list[list[int]]
) -> None:
    converter = Resampler(in_rate, out_rate)
    total_in = total_out = 0
    for values in frames:
        out = converter.process(np.array(values, dtype=np.int16))
        assert out.dtype == np.int16 and out.ndim == 1
        total_in += len(values)
        total_out += len(out)
    assert total_out == -(-total_in * out_rate // in_rate)
    tail = converter.flush()
    assert tail.dtype == np.int16 and len(tail) == converter.delay


@settings(max_examples=examples(40))
@given(st.sampled_from(PAIRS), st.integers(-32768, 32767), st.integers(0, 2000))
def test_dc_passes_at_its_level(pair: tuple[int, int], level: int, length: int) -> None:
    in_rate, out_rate = pair
    out = resample(np.full(length + in_rate // 20, level, dtype=np.int16), in_rate, out_rate)
    settled = out[len(out) // 3 : 2 * len(out) // 3]
    assert np.all(np.abs(settled.astype(np.int32) - level) <= max(2, abs(level) // 2000))


def test_a_long_signal_at_once_equals_frames() -> None:
    rng = np.random.default_rng(9)
    source = np.clip(rng.standard_normal(48000 * 3) * 6000, -32768, 32767).astype(np.int16)
    whole = Resampler(48000, 44100).process(source)
    converter = Resampler(48000, 44100)
    framed = np.concatenate(
        [converter.process(source[i : i + 960]) for i in range(0, len(source), 960)]
    )
    assert len(whole) == len(framed) == 44100 * 3
    assert int(np.max(np.abs(whole.astype(np.int32) - framed))) <= 1
