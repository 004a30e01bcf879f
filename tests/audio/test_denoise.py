"""Noise suppression: measured SNR gains on speech-like signals, exact pass-through, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.analysis import rms_dbfs
from sansip.audio.denoise import NoiseSuppressor
from sansip.errors import LocalProtocolError
from tests.conftest import examples

Signal = NDArray[np.float64]
RATES = (8000, 16000, 48000)
_SINE_RMS = 32767.0 / math.sqrt(2.0)
#: Formants (Hz) of a few vowels; each word glides from one to another.
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480))


def speech_like(
    rate: int, seconds: float, level_dbfs: float, *, seed: int = 3, word_spread_db: float = 6.0
) -> tuple[Signal, NDArray[np.bool_]]:
    """A voiced, speech-like signal and the mask of its active (loud enough) samples.

    Words of 0.25-0.7 s with pauses of 0.1-0.35 s; each word has its own
    level (within +-``word_spread_db``), a 4 Hz syllable rhythm and a
    vowel glide.  The voice is a harmonic series on a wandering pitch
    (about 140 Hz), shaped by three formants, up to 3.4 kHz.  The level of
    the active samples is ``level_dbfs`` (sine-referenced).
    """
    rng = np.random.default_rng(seed)
    count = round(rate * seconds)
    t = np.arange(count) / rate
    pitch = 140.0 + 25.0 * np.sin(2 * np.pi * 0.7 * t) + 8.0 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    envelope = np.zeros(count)
    formants = np.tile(np.array(_VOWELS[0], dtype=np.float64)[:, None], (1, count))
    start = 0
    while start < count:
        length = min(int(rng.uniform(0.25, 0.7) * rate), count - start)
        pause = int(rng.uniform(0.1, 0.35) * rate)
        n = np.arange(length)
        word = 10.0 ** (rng.uniform(-word_spread_db, word_spread_db) / 20.0)
        edges = np.minimum(1.0, np.minimum(n, length - n) / (0.02 * rate))
        envelope[start : start + length] = (
            word * edges * (0.1 + 0.9 * np.sin(np.pi * 4 * n / rate) ** 2)
        )
        first, last = rng.choice(len(_VOWELS), 2)
        glide = n / max(length, 1)
        formants[:, start : start + length] = np.outer(_VOWELS[first], 1 - glide) + np.outer(
            _VOWELS[last], glide
        )
        start += length + pause
    top = min(3400.0, 0.45 * rate)
    voice = np.zeros(count)
    for k in range(1, int(top // 110) + 1):
        frequency = k * pitch
        amplitude = 0.01 + sum(
            gain / (1.0 + ((frequency - formants[i]) / (60.0 + 0.05 * formants[i])) ** 2)
            for i, gain in enumerate((1.0, 0.3, 0.1))
        )
        voice += np.where(frequency < top, amplitude * np.sin(k * phase + k), 0.0)
    signal = voice * envelope
    active = envelope > 0.3 * np.max(envelope)
    signal *= (
        _SINE_RMS * 10.0 ** (level_dbfs / 20.0) / math.sqrt(float(np.mean(signal[active] ** 2)))
    )
    return signal, active


def pink_noise(count: int, rate: int, rng: np.random.Generator) -> Signal:
    """Unit-power noise falling 3 dB per octave from 50 Hz up (nothing below 50 Hz)."""
    spectrum = np.fft.rfft(rng.standard_normal(count))
    frequencies = np.fft.rfftfreq(count, 1.0 / rate)
    shaped = np.where(frequencies >= 50.0, spectrum / np.sqrt(np.maximum(frequencies, 50.0)), 0)
    noise = np.fft.irfft(shaped, count)
    result: Signal = noise / np.std(noise)
    return result


def segmental_snr(clean: Signal, estimate: Signal, rate: int) -> float:
    """Mean SNR (dB, each clamped to -10..35) of the 20 ms segments holding speech.

    A segment holds speech when its clean energy is within 30 dB of the
    loudest segment's; pauses are left out.
    """
    size = rate // 50
    count = len(clean) // size
    segments = clean[: count * size].reshape(count, size)
    errors = (estimate[: count * size] - clean[: count * size]).reshape(count, size)
    energy = np.sum(segments**2, axis=1)
    speech = energy >= 1e-3 * np.max(energy)
    ratio = energy[speech] / np.maximum(np.sum(errors[speech] ** 2, axis=1), 1e-9)
    return float(np.mean(np.clip(10.0 * np.log10(ratio), -10.0, 35.0)))


def frames_of(samples: NDArray[np.int16], size: int) -> list[NDArray[np.int16]]:
    return [samples[i : i + size] for i in range(0, len(samples) - size + 1, size)]


def suppress(samples: NDArray[np.int16], rate: int, **options: float) -> tuple[Signal, int]:
    """Run ``samples`` through a suppressor in 20 ms frames; output and delay."""
    suppressor = NoiseSuppressor(rate, **options)
    out = [suppressor.process(frame) for frame in frames_of(samples, rate // 50)]
    return np.concatenate(out).astype(np.float64), suppressor.delay_samples


def to_int16(signal: Signal) -> NDArray[np.int16]:
    return np.clip(np.rint(signal), -32768, 32767).astype(np.int16)


def noisy_speech(rate: int, snr_db: float, kind: str) -> tuple[Signal, Signal, NDArray[np.bool_]]:
    clean, active = speech_like(rate, 6.0, -20.0)
    rng = np.random.default_rng(5)
    noise = (
        rng.standard_normal(len(clean)) if kind == "white" else pink_noise(len(clean), rate, rng)
    )
    noise *= math.sqrt(float(np.mean(clean[active] ** 2)) / 10.0 ** (snr_db / 10.0))
    return clean, noise, active


#: Segmental SNR gain required at 10 dB input SNR (measured: white +5.2, +6.7,
#: +9.1 dB and pink +4.8, +5.1, +5.5 dB at 8, 16 and 48 kHz).  Narrowband is
#: lower: 20 ms blocks at 8 kHz cannot resolve the pitch harmonics (an oracle
#: Wiener gain with the true spectra reaches only about +7.4 dB there), and
#: pink noise sits where the speech energy is.
_REQUIRED_GAIN_AT_10_DB = {
    (8000, "white"): 4.5,
    (16000, "white"): 6.0,
    (48000, "white"): 6.0,
    (8000, "pink"): 4.0,
    (16000, "pink"): 4.0,
    (48000, "pink"): 4.0,
}


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("rate", RATES)
def test_segmental_snr_improves_in_stationary_noise(rate: int, kind: str) -> None:
    skip = 2 * rate  # the noise estimate settles in the first 1.5 s
    for snr_db, least_gain in (
        (0.0, 3.0),
        (10.0, _REQUIRED_GAIN_AT_10_DB[rate, kind]),
        (20.0, 1.5),
    ):
        clean, noise, active = noisy_speech(rate, snr_db, kind)
        noisy = to_int16(clean + noise)
        out, delay = suppress(noisy, rate)
        aligned = out[delay:]
        length = len(aligned)
        before = segmental_snr(clean[skip:length], noisy[skip:length].astype(np.float64), rate)
        after = segmental_snr(clean[skip:length], aligned[skip:], rate)
        assert after - before >= least_gain, (snr_db, before, after)
        # Speech keeps its energy: within 1.5 dB of the clean speech (2.5 dB at 0 dB SNR).
        mask = active[skip:length]
        kept = rms_dbfs(aligned[skip:][mask]) - rms_dbfs(clean[skip:length][mask])
        assert abs(kept) <= (2.5 if snr_db == 0.0 else 1.5), (snr_db, kept)


@pytest.mark.parametrize("rate", RATES)
def test_stationary_noise_alone_is_attenuated_but_not_below_the_floor(rate: int) -> None:
    rng = np.random.default_rng(2)
    noise = to_int16(300.0 * rng.standard_normal(4 * rate))
    for level in (10.0, 20.0):
        out, _ = suppress(noise, rate, level=level)
        reduction = rms_dbfs(noise[2 * rate :]) - rms_dbfs(out[2 * rate :])
        assert level / 2 <= reduction <= level + 1.0, (level, reduction)


@pytest.mark.parametrize("frame_ms", [20, 10, 30, 7])
@pytest.mark.parametrize("rate", RATES)
def test_level_zero_passes_the_signal_through_delayed(rate: int, frame_ms: int) -> None:
    clean, _ = speech_like(rate, 1.0, -10.0)
    samples = to_int16(clean)
    suppressor = NoiseSuppressor(rate, level=0.0)
    size = rate * frame_ms // 1000
    out = np.concatenate([suppressor.process(frame) for frame in frames_of(samples, size)])
    delay = suppressor.delay_samples
    assert delay == (rate // 100 if size % (rate // 100) == 0 else 2 * (rate // 100) - 1)
    expected = samples[: len(out) - delay].astype(np.int32)
    assert np.max(np.abs(out[delay:].astype(np.int32) - expected)) <= 1
    assert not out[:delay].any()


@pytest.mark.parametrize("rate", RATES)
def test_silence_in_gives_silence_out(rate: int) -> None:
    suppressor = NoiseSuppressor(rate)
    for _ in range(20):
        assert not suppressor.process(np.zeros(rate // 50, dtype=np.int16)).any()
    # After noise, silence comes back out once the delay has passed.
    rng = np.random.default_rng(1)
    for _ in range(50):
        suppressor.process(to_int16(2000.0 * rng.standard_normal(rate // 50)))
    tail = [suppressor.process(np.zeros(rate // 50, dtype=np.int16)) for _ in range(5)]
    assert not np.concatenate(tail[1:]).any()


def test_output_frame_size_follows_the_input() -> None:
    suppressor = NoiseSuppressor(16000)
    for size in (320, 160, 1, 0, 999, 320, 17):
        frame = np.full(size, 1000, dtype=np.int16)
        assert len(suppressor.process(frame)) == size


def test_bad_settings_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        NoiseSuppressor(0)
    with pytest.raises(LocalProtocolError):
        NoiseSuppressor(8000, level=-1.0)
    with pytest.raises(LocalProtocolError):
        NoiseSuppressor(8000, level=math.nan)
    with pytest.raises(LocalProtocolError):
        NoiseSuppressor(8000, window=0.0001)


def test_reset_restarts_the_noise_estimate() -> None:
    suppressor = NoiseSuppressor(8000)
    rng = np.random.default_rng(4)
    for _ in range(30):
        suppressor.process(to_int16(1000.0 * rng.standard_normal(160)))
    assert suppressor.noise_power.max() > 0
    suppressor.reset()
    assert suppressor.noise_power.max() == 0


_special_frames = st.sampled_from(
    [
        np.full(160, 32767, dtype=np.int16),
        np.full(160, -32768, dtype=np.int16),
        np.tile(np.array([32767, -32768], dtype=np.int16), 80),
        np.zeros(160, dtype=np.int16),
        np.full(160, 1234, dtype=np.int16),
    ]
)
_random_frames = st.lists(st.integers(-32768, 32767), min_size=0, max_size=400).map(
    lambda values: np.array(values, dtype=np.int16)
)


@settings(max_examples=examples(40))
@given(
    st.sampled_from(RATES),
    st.lists(st.one_of(_special_frames, _random_frames), min_size=1, max_size=12),
    st.floats(0.0, 40.0),
)
def test_any_frames_give_same_sized_bounded_frames(
    rate: int, frames: list[NDArray[np.int16]], level: float
) -> None:
    suppressor = NoiseSuppressor(rate, level=level)
    energy_in = 0.0
    energy_out = 0.0
    for frame in frames:
        out = suppressor.process(frame)
        assert out.dtype == np.int16
        assert len(out) == len(frame)
        energy_in += float(np.sum(frame.astype(np.float64) ** 2))
        energy_out += float(np.sum(out.astype(np.float64) ** 2))
    # Gains never exceed one: the output has no more energy than went in
    # (allowing for the overlap of blocks and rounding).
    assert energy_out <= 2.0 * energy_in + 4.0 * sum(len(frame) for frame in frames)


@settings(max_examples=examples(30))
@given(st.sampled_from(RATES), st.integers(1, 400), st.lists(st.integers(0, 700), max_size=10))
def test_pass_through_holds_for_irregular_frame_sizes(
    rate: int, first: int, sizes: list[int]
) -> None:
    hop = rate // 100
    first = first if first % hop else first + 1
    rng = np.random.default_rng(first)
    suppressor = NoiseSuppressor(rate, level=0.0)
    chunks = [to_int16(5000.0 * rng.standard_normal(size)) for size in (first, *sizes)]
    out = np.concatenate([suppressor.process(chunk) for chunk in chunks]).astype(np.int32)
    samples = np.concatenate(chunks).astype(np.int32)
    delay = suppressor.delay_samples
    assert delay == 2 * hop - 1
    if len(out) > delay:
        assert np.max(np.abs(out[delay:] - samples[: len(out) - delay])) <= 1
