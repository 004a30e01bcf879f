"""Echo canceller: convergence, double talk, path changes and robustness.

The echo paths are synthetic: an exponentially decaying random impulse
response (60 dB down at its end) behind a bulk delay, applied to speech-like
far-end signal (noise through an all-pole formant filter, with syllable-like
amplitude modulation and pauses) plus a little near-end noise.  ERLE is
10*log10(mic power / output power) over the stated span.  Run with ``-s`` to
see the measured figures.
"""

from __future__ import annotations

import functools
import math
import time
import timeit

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.aec import EchoCanceller, choose_block_samples
from sansip.errors import LocalProtocolError
from tests.conftest import examples

Signal = NDArray[np.float64]

FAR_LEVEL = 3000.0  # RMS of the far-end talker (int16 units, about -21 dBFS)
ECHO_GAIN = 0.25  # echo path gain: 12 dB echo return loss
NOISE_LEVEL = 5.0  # RMS of the near-end noise


def speech_like(rng: np.random.Generator, seconds: float, rate: int, level: float) -> Signal:
    """Noise through three formant resonances, cut into syllables and pauses."""
    count = int(seconds * rate)
    spectrum = np.fft.rfft(rng.standard_normal(count))
    z = np.exp(-2j * np.pi * np.fft.rfftfreq(count, 1.0 / rate) / rate)
    denominator = np.ones_like(z)
    for centre, bandwidth in ((500.0, 120.0), (1500.0, 200.0), (2500.0, 300.0)):
        radius = math.exp(-math.pi * bandwidth / rate)
        angle = 2.0 * math.pi * centre / rate
        denominator *= 1.0 - 2.0 * radius * math.cos(angle) * z + radius * radius * z * z
    voiced = np.fft.irfft(spectrum / np.abs(denominator), count)
    envelope = np.zeros(count)
    start = 0
    while start < count:
        syllable = int(rng.uniform(0.12, 0.3) * rate)
        pause = int(rng.uniform(0.03, 0.25) * rate)
        shape = np.sin(np.pi * np.arange(min(syllable, count - start)) / syllable) ** 0.7
        envelope[start : start + len(shape)] = shape * rng.uniform(0.4, 1.0)
        start += syllable + pause
    signal = voiced * envelope
    scaled: Signal = signal * level / math.sqrt(float(np.mean(signal**2)))
    return scaled


def echo_path(rng: np.random.Generator, rate: int, length_ms: float, delay_ms: float) -> Signal:
    """A random impulse response decaying by 60 dB over ``length_ms``, after a bulk delay."""
    taps = int(length_ms * rate / 1000)
    decay = np.exp(-np.arange(taps) * math.log(1000.0) / taps)
    response = np.concatenate(
        (np.zeros(int(delay_ms * rate / 1000)), rng.standard_normal(taps) * decay)
    )
    normalised: Signal = response * ECHO_GAIN / math.sqrt(float(np.sum(response**2)))
    return normalised


def convolve(signal: Signal, response: Signal) -> Signal:
    size = 1 << (len(signal) + len(response) - 2).bit_length()
    product = np.fft.rfft(signal, size) * np.fft.rfft(response, size)
    result: Signal = np.fft.irfft(product, size)[: len(signal)]
    return result


def to_int16(signal: Signal) -> NDArray[np.int16]:
    return np.clip(np.rint(signal), -32768, 32767).astype(np.int16)


def run(canceller: EchoCanceller, near: Signal, far: Signal) -> Signal:
    """Feed whole signals frame by frame; the output realigned to the input."""
    size = canceller.frame_samples
    near16, far16 = to_int16(near), to_int16(far)
    output = np.zeros(len(near))
    for start in range(0, len(near) - size + 1, size):
        stop = start + size
        frame = canceller.process(near16[start:stop], far16[start:stop])
        assert frame.dtype == np.int16
        assert frame.shape == (size,)
        output[start:stop] = frame
    lag = canceller.latency_samples
    aligned: Signal = np.concatenate((output[lag:], np.zeros(lag)))
    return aligned


def erle_db(mic: Signal, output: Signal, start_s: float, stop_s: float, rate: int) -> float:
    span = slice(int(start_s * rate), int(stop_s * rate))
    return 10.0 * math.log10(float(np.sum(mic[span] ** 2)) / float(np.sum(output[span] ** 2)))


def correlation(a: Signal, b: Signal, start_s: float, stop_s: float, rate: int) -> float:
    span = slice(int(start_s * rate), int(stop_s * rate))
    return float(np.corrcoef(a[span], b[span])[0, 1])


def echo_scene(
    seed: int, rate: int, seconds: float, length_ms: float, bulk_ms: float
) -> tuple[Signal, Signal, np.random.Generator]:
    """(far, mic) where mic = far through the echo path + near-end noise."""
    rng = np.random.default_rng(seed)
    far = speech_like(rng, seconds, rate, FAR_LEVEL)
    mic = convolve(far, echo_path(rng, rate, length_ms, bulk_ms))
    return far, mic + rng.standard_normal(len(far)) * NOISE_LEVEL, rng


# -- convergence ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "length_ms", "bulk_ms", "delay_ms", "tail_ms"),
    [
        (1, 150.0, 30.0, 25.0, 192.0),  # long room, delay configured, longer tail
        (2, 50.0, 20.0, 0.0, 128.0),  # short path, bulk delay inside the default tail
        (3, 100.0, 40.0, 32.0, 128.0),
    ],
)
def test_erle_after_convergence_at_8k(
    seed: int, length_ms: float, bulk_ms: float, delay_ms: float, tail_ms: float
) -> None:
    rate, seconds = 8000, 12.0
    far, mic, _ = echo_scene(seed, rate, seconds, length_ms, bulk_ms)
    figures = {}
    for suppress in (True, False):
        canceller = EchoCanceller(rate, 160, tail_ms=tail_ms, delay_ms=delay_ms, suppress=suppress)
        output = run(canceller, mic, far)
        figures[suppress] = erle_db(mic, output, seconds - 5.0, seconds, rate)
        assert canceller.erle_db > 20.0  # the running figure agrees it converged
    print(f"\n8 kHz seed {seed}: ERLE {figures[True]:.1f} dB, filter only {figures[False]:.1f} dB")
    assert figures[True] >= 25.0
    assert figures[False] >= 20.0
    assert figures[True] > figures[False]  # the suppressor adds to the filter


@pytest.mark.parametrize(("rate", "seconds"), [(16000, 8.0), (48000, 5.0)])
def test_erle_after_convergence_at_wideband_rates(rate: int, seconds: float) -> None:
    far, mic, _ = echo_scene(4, rate, seconds, 120.0, 20.0)
    canceller = EchoCanceller(rate, rate // 50, delay_ms=16.0)
    output = run(canceller, mic, far)
    figure = erle_db(mic, output, seconds - 2.5, seconds, rate)
    filter_only = canceller.filter_erle_db
    print(f"\n{rate} Hz: ERLE {figure:.1f} dB, running filter-only {filter_only:.1f} dB")
    assert figure >= 25.0


def test_bulk_delay_beyond_the_tail_needs_delay_ms() -> None:
    rate, seconds = 8000, 10.0
    far, mic, _ = echo_scene(5, rate, seconds, 60.0, 200.0)
    unaware = run(EchoCanceller(rate, 160, suppress=False), mic, far)
    aware = run(EchoCanceller(rate, 160, delay_ms=190.0), mic, far)
    assert erle_db(mic, unaware, 5.0, seconds, rate) < 10.0
    assert erle_db(mic, aware, 5.0, seconds, rate) >= 25.0


# -- double talk and path changes --------------------------------------------------

DOUBLE_TALK = ((5.0, 7.5), (9.0, 11.0))


@pytest.mark.parametrize(("seed", "near_level"), [(6, 1500.0), (7, 1000.0)])
def test_double_talk_keeps_near_end_speech(seed: int, near_level: float) -> None:
    rate, seconds = 8000, 12.5
    far, mic, rng = echo_scene(seed, rate, seconds, 100.0, 30.0)
    talk = speech_like(rng, seconds, rate, near_level)
    mask = np.zeros(len(far))
    for start, stop in DOUBLE_TALK:
        mask[int(start * rate) : int(stop * rate)] = 1.0
    talk *= mask
    canceller = EchoCanceller(rate, 160, delay_ms=25.0)
    output = run(canceller, mic + talk, far)
    for start, stop in DOUBLE_TALK:
        kept = correlation(output, talk, start, stop, rate)
        print(f"\ndouble talk {start}-{stop} s: correlation with near-end speech {kept:.3f}")
        assert kept >= 0.9
    assert canceller.double_talk_blocks > 0
    # Between and after the talk spurts the echo is still cancelled: no divergence.
    assert erle_db(mic, output, 7.7, 9.0, rate) >= 25.0
    assert erle_db(mic, output, 11.2, seconds, rate) >= 25.0


def test_echo_path_change_reconverges() -> None:
    rate, seconds, switch = 8000, 14.0, 7.0
    rng = np.random.default_rng(8)
    far = speech_like(rng, seconds, rate, FAR_LEVEL)
    first = convolve(far, echo_path(rng, rate, 100.0, 40.0))
    second = convolve(far, echo_path(rng, rate, 80.0, 30.0))
    cut = int(switch * rate)
    mic = np.concatenate((first[:cut], second[cut:])) + rng.standard_normal(len(far)) * NOISE_LEVEL
    canceller = EchoCanceller(rate, 160, delay_ms=20.0)
    output = run(canceller, mic, far)
    before = erle_db(mic, output, switch - 3.0, switch, rate)
    just_after = erle_db(mic, output, switch, switch + 0.5, rate)
    settled = erle_db(mic, output, seconds - 4.0, seconds, rate)
    print(
        f"\npath change: {before:.1f} dB before, {just_after:.1f} just after, {settled:.1f} settled"
    )
    assert before >= 25.0
    assert just_after < 15.0  # the change really broke the old estimate
    assert settled >= 25.0


# -- transparency ----------------------------------------------------------------


def test_silent_far_end_passes_near_end_through() -> None:
    rate = 8000
    rng = np.random.default_rng(9)
    talk = speech_like(rng, 3.0, rate, 2000.0) + rng.standard_normal(3 * rate) * NOISE_LEVEL
    output = run(EchoCanceller(rate, 160), talk, np.zeros(len(talk)))
    body = slice(0, len(talk) - 160)
    assert np.max(np.abs(output[body] - np.rint(talk[body]))) <= 1.0


def test_near_end_passes_after_the_far_end_goes_quiet() -> None:
    rate, seconds = 8000, 7.0
    far, mic, rng = echo_scene(10, rate, seconds, 80.0, 20.0)
    far[4 * rate :] = 0.0
    mic = convolve(far, echo_path(np.random.default_rng(10), rate, 80.0, 20.0))
    talk = np.zeros(len(far))
    talk[4 * rate :] = speech_like(rng, seconds - 4.0, rate, 1500.0)
    output = run(EchoCanceller(rate, 160, delay_ms=16.0), mic + talk, far)
    assert correlation(output, talk, 4.5, seconds - 0.1, rate) >= 0.999


# -- configuration and state ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "block", "fft", "partitions"),
    [(8000, 80, 160, 13), (16000, 160, 320, 13), (48000, 480, 960, 13)],
)
def test_documented_block_and_fft_sizes(rate: int, block: int, fft: int, partitions: int) -> None:
    canceller = EchoCanceller(rate, rate // 50)
    assert (canceller.block_samples, canceller.fft_size) == (block, fft)
    assert canceller.partitions == partitions
    assert EchoCanceller(rate, rate // 50, tail_ms=256).partitions == 26  # ceil(256 / 10)
    assert canceller.latency_samples == block
    assert EchoCanceller(rate, rate // 50, suppress=False).latency_samples == 0


def test_block_choice() -> None:
    assert choose_block_samples(8000, 160) == 80
    assert choose_block_samples(8000, 240) == 80  # 30 ms frames
    assert choose_block_samples(16000, 160) == 160  # 10 ms frames
    assert choose_block_samples(8000, 157) == 157  # no usable divisor: whole frame


@pytest.mark.parametrize(
    "arguments",
    [
        {"rate": 1000},
        {"frame_samples": 0},
        {"tail_ms": 300.0},
        {"tail_ms": 1.0},
        {"delay_ms": -1.0},
        {"step_size": 0.0},
        {"step_size": 1.5},
        {"dtd_threshold": 0.0},
        {"suppressor_floor_db": 3.0},
        {"suppressor_overdrive": 0.5},
        {"block_samples": 70},
    ],
)
def test_bad_configuration_is_refused(arguments: dict[str, float]) -> None:
    settings_ = {"rate": 8000, "frame_samples": 160, **arguments}
    with pytest.raises(LocalProtocolError):
        EchoCanceller(**settings_)  # type: ignore[arg-type]


def test_wrong_frames_are_refused() -> None:
    canceller = EchoCanceller(8000, 160)
    frame = np.zeros(160, dtype=np.int16)
    with pytest.raises(LocalProtocolError):
        canceller.process(np.zeros(80, dtype=np.int16), frame)
    with pytest.raises(LocalProtocolError):
        canceller.process(frame, np.zeros((2, 80), dtype=np.int16))
    with pytest.raises(LocalProtocolError):
        canceller.process(frame, np.array(["x"] * 160))


def test_reset_forgets_everything() -> None:
    far, mic, _ = echo_scene(11, 8000, 2.0, 50.0, 10.0)
    fresh = run(EchoCanceller(8000, 160, delay_ms=5.0), mic, far)
    used = EchoCanceller(8000, 160, delay_ms=5.0)
    run(used, mic[::-1].copy(), far * 0.5)
    used.reset()
    assert used.blocks == 0
    np.testing.assert_array_equal(run(used, mic, far), fresh)


# -- properties: any input gives bounded, finite output --------------------------------

RATES = (8000, 16000, 48000)


def frame_kinds(samples: int) -> st.SearchStrategy[NDArray[np.int16]]:
    full = np.where(np.arange(samples) % 2 == 0, 32767, -32768).astype(np.int16)
    fixed = st.sampled_from([np.zeros(samples, np.int16), np.full(samples, 32767, np.int16), full])
    constant = st.integers(-32768, 32767).map(lambda v: np.full(samples, v, dtype=np.int16))
    noise = st.integers(0, 2**32 - 1).map(
        lambda seed: np.random.default_rng(seed).integers(-32768, 32768, samples).astype(np.int16)
    )
    return st.one_of(fixed, constant, noise)


@st.composite
def frame_runs(draw: st.DrawFn) -> tuple[int, list[tuple[NDArray[np.int16], NDArray[np.int16]]]]:
    rate = draw(st.sampled_from(RATES))
    kinds = frame_kinds(rate // 50)
    pairs = draw(st.lists(st.tuples(kinds, kinds), min_size=1, max_size=8))
    return rate, pairs


@settings(max_examples=examples(40))
@given(frame_runs())
def test_any_input_gives_bounded_finite_output(
    case: tuple[int, list[tuple[NDArray[np.int16], NDArray[np.int16]]]],
) -> None:
    rate, pairs = case
    canceller = EchoCanceller(rate, rate // 50)
    for near, far in pairs:
        output = canceller.process(near, far)
        assert output.dtype == np.int16
        assert output.shape == near.shape
    assert math.isfinite(canceller.erle_db)
    assert math.isfinite(canceller.filter_erle_db)


def test_full_scale_abuse_then_recovery() -> None:
    """Seconds of full-scale garbage on both sides, then a normal echo still converges."""
    rate = 8000
    rng = np.random.default_rng(12)
    garbage = rng.integers(-32768, 32768, (2, 3 * rate)).astype(np.float64)
    far, mic, _ = echo_scene(12, rate, 8.0, 60.0, 10.0)
    canceller = EchoCanceller(rate, 160)
    abused = run(canceller, garbage[0], garbage[1])
    assert np.all(np.abs(abused) <= 32768)
    output = run(canceller, mic, far)
    assert erle_db(mic, output, 4.0, 8.0, rate) >= 25.0


def test_float_frames_with_nan_are_tolerated() -> None:
    canceller = EchoCanceller(8000, 160)
    near = np.full(160, np.nan)
    far = np.full(160, np.inf)
    output = canceller.process(near, far)
    assert output.dtype == np.int16
    assert np.all(np.isfinite(canceller.process(np.zeros(160), np.zeros(160))))


# -- cost (reported, never asserted) ---------------------------------------------------


def test_report_cost_per_frame() -> None:
    for rate in RATES:
        rng = np.random.default_rng(13)
        canceller = EchoCanceller(rate, rate // 50)
        near = to_int16(rng.standard_normal(rate // 50) * 1000)
        far = to_int16(rng.standard_normal(rate // 50) * 3000)
        runs = 50
        call = functools.partial(canceller.process, near, far)
        seconds = min(timeit.repeat(call, number=runs, repeat=3, timer=time.process_time))
        print(f"\n{rate} Hz: {seconds / runs * 1e6:.0f} µs per 20 ms frame")
