"""RFC 3389 comfort noise: LPC analysis, quantisation, generation and silence suppression."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.cng import (
    ComfortNoiseAnalyser,
    ComfortNoiseGenerator,
    NoiseDescription,
    SilenceSuppressor,
    SuppressorAction,
    analyse_noise,
    dequantise_reflection,
    levinson_durbin,
    quantise_reflection,
    reflection_to_lpc,
)
from sansip.audio.vad import VoiceActivityDetector, level_dbov
from sansip.errors import LocalProtocolError
from sansip.rtp.comfort_noise import ComfortNoise, parse_comfort_noise
from tests.conftest import examples

RATES = (8000, 16000, 48000)
AUDIO, CN, NOTHING = (
    SuppressorAction.AUDIO,
    SuppressorAction.COMFORT_NOISE,
    SuppressorAction.NOTHING,
)


def coloured_noise(
    rate: int, seconds: float, pole: float, dbov: float, seed: int = 5
) -> NDArray[np.int16]:
    """First-order filtered white noise (pole > 0: low-pass, < 0: high-pass) at ``dbov``."""
    white = np.random.default_rng(seed).standard_normal(round(rate * seconds))
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(len(white))
    shaped = np.fft.irfft(spectrum / np.abs(1 - pole * np.exp(-2j * np.pi * freqs)), len(white))
    shaped *= 32768 * 10 ** (dbov / 20) / np.sqrt(np.mean(shaped**2))
    return np.round(shaped).astype(np.int16)


def low_high_ratio_db(samples: NDArray[np.int16], rate: int) -> float:
    """Mean power in the lowest eighth of the band over that in the top half, in dB."""
    power = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    low = power[(freqs > 50) & (freqs < rate / 16)].mean()
    high = power[(freqs > rate / 4) & (freqs < 0.45 * rate)].mean()
    return float(10 * np.log10(low / high))


def play(generator: ComfortNoiseGenerator, frames: int) -> NDArray[np.int16]:
    return np.concatenate([generator.generate() for _ in range(frames)])


def test_levinson_durbin_solves_a_first_order_model() -> None:
    rho = 0.8
    a, k, error = levinson_durbin(rho ** np.arange(5), 4)
    assert k == pytest.approx([-rho, 0, 0, 0], abs=1e-12)
    assert a == pytest.approx([1, -rho, 0, 0, 0], abs=1e-12)
    assert error == pytest.approx(1 - rho**2)
    assert reflection_to_lpc(k) == pytest.approx(a)


def test_levinson_durbin_degenerate_input_is_flat() -> None:
    a, k, error = levinson_durbin(np.zeros(11), 10)
    assert not np.any(k) and a[0] == 1 and error == 0
    with pytest.raises(LocalProtocolError):
        levinson_durbin([1.0, 0.5], 4)


def test_quantisation_matches_the_byte_scale() -> None:
    assert quantise_reflection([0.0, -1.0, 1.0, 0.5]) == bytes((127, 0, 254, 191))
    assert dequantise_reflection(bytes((127, 0, 254, 255))) == pytest.approx(
        [0.0, -127 / 128, 127 / 128, 127 / 128]
    )


@settings(max_examples=examples(100))
@given(st.binary(max_size=16))
def test_quantised_coefficients_round_trip_and_stay_stable(coefficients: bytes) -> None:
    k = dequantise_reflection(coefficients)
    assert np.all(np.abs(k) < 1.0)
    assert quantise_reflection(k) == bytes(min(b, 254) for b in coefficients)
    a = reflection_to_lpc(k)
    assert np.all(np.abs(np.roots(a)) < 1.0) if len(a) > 1 else True


@settings(max_examples=examples(100))
@given(st.integers(0, 127), st.binary(max_size=12))
def test_payload_is_the_rtp_comfort_noise_format(level: int, coefficients: bytes) -> None:
    description = NoiseDescription(level, coefficients)
    payload = description.payload()
    assert payload == ComfortNoise(*description).encode()
    assert NoiseDescription(*parse_comfort_noise(payload)) == description
    assert NoiseDescription.from_payload(payload) == description


def test_bad_payloads_and_levels_raise() -> None:
    with pytest.raises(LocalProtocolError):
        NoiseDescription(128).payload()
    with pytest.raises(LocalProtocolError):
        NoiseDescription.from_payload(b"")
    with pytest.raises(LocalProtocolError):
        ComfortNoiseGenerator(8000).update(-1)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("level", [20, 45, 70])
@pytest.mark.parametrize("coefficients", [b"", quantise_reflection([-0.9, 0.3, -0.1])])
def test_generated_level_matches_the_description(
    rate: int, level: int, coefficients: bytes
) -> None:
    generator = ComfortNoiseGenerator(rate)
    generator.update(level, coefficients)
    noise = play(generator, 100)
    assert level_dbov(noise[rate // 50 :]) == pytest.approx(-level, abs=1.0)


@pytest.mark.parametrize("rate", RATES)
def test_spectral_tilt_follows_the_coefficients(rate: int) -> None:
    ratios = {}
    for pole in (0.9, -0.7):
        source = coloured_noise(rate, 2.0, pole, -40.0)
        description = analyse_noise(source)
        generator = ComfortNoiseGenerator(rate)
        generator.update(*description)
        noise = play(generator, 100)
        ratios[pole] = low_high_ratio_db(noise, rate)
        assert ratios[pole] == pytest.approx(low_high_ratio_db(source, rate), abs=3.0)
    # Low-pass noise in: more low-frequency energy out; high-pass in: less.
    assert ratios[0.9] > 5.0
    assert ratios[-0.7] < 0.0
    assert ratios[0.9] - ratios[-0.7] > 10.0


@pytest.mark.parametrize("rate", RATES)
def test_analysis_generation_round_trip(rate: int) -> None:
    description = analyse_noise(coloured_noise(rate, 1.0, 0.8, -50.0))
    assert description.level == 50 and len(description.coefficients) == 10
    generator = ComfortNoiseGenerator(rate)
    generator.update(*description)
    again = analyse_noise(play(generator, 100))
    assert abs(again.level - description.level) <= 1
    original = dequantise_reflection(description.coefficients)
    regenerated = dequantise_reflection(again.coefficients)
    assert regenerated[:2] == pytest.approx(original[:2], abs=0.05)


def test_silence_analyses_to_the_lowest_level_and_a_flat_model() -> None:
    assert analyse_noise(np.zeros(160, np.int16)) == NoiseDescription(127, bytes([127] * 10))
    assert analyse_noise(np.zeros(160, np.int16), order=0) == NoiseDescription(127)
    assert ComfortNoiseAnalyser(8000).description().level == 127
    assert not np.any(ComfortNoiseGenerator(8000).generate())  # nothing described yet


def test_level_changes_fade_over_one_frame() -> None:
    generator = ComfortNoiseGenerator(8000)
    generator.update(60)
    play(generator, 5)
    generator.update(30)
    first, second = generator.generate(), generator.generate()
    assert -60.0 < level_dbov(first) < -31.0
    assert level_dbov(second) == pytest.approx(-30.0, abs=1.5)
    # The start is smooth too: a new generator fades in from silence.
    fresh = ComfortNoiseGenerator(8000)
    fresh.update(20)
    start = fresh.generate()
    assert level_dbov(start[:20]) < level_dbov(start[-20:]) - 10.0


def test_output_does_not_depend_on_how_it_is_asked_for() -> None:
    one, other = (ComfortNoiseGenerator(8000, rng=np.random.default_rng(1)) for _ in range(2))
    one.update(40, b"\x10\x80")
    other.update(40, b"\x10\x80")
    whole = np.concatenate([one.generate(320) for _ in range(3)])
    pieces = np.concatenate([other.generate(n) for n in (100, 7, 500, 0, 353)])
    assert np.array_equal(whole, pieces)


@settings(max_examples=examples(60))
@given(
    rate=st.sampled_from(RATES),
    level=st.integers(0, 127),
    coefficients=st.binary(max_size=12),
    sizes=st.lists(st.integers(0, 2000), max_size=4),
)
def test_any_description_generates_bounded_int16(
    rate: int, level: int, coefficients: bytes, sizes: list[int]
) -> None:
    generator = ComfortNoiseGenerator(rate)
    generator.update(level, coefficients)
    for size in sizes:
        out = generator.generate(size)
        assert out.dtype == np.int16 and len(out) == size


@settings(max_examples=examples(60))
@given(st.lists(st.integers(-32768, 32767), max_size=400), st.integers(0, 16))
def test_analysis_of_any_samples_is_a_valid_payload(samples: list[int], order: int) -> None:
    description = analyse_noise(np.array(samples, np.int16), order)
    assert 0 <= description.level <= 127 and len(description.coefficients) == order
    assert all(b <= 254 for b in description.coefficients)
    ComfortNoise(*description).encode()


def _decisions(
    suppressor: SilenceSuppressor, pattern: list[bool], noise: NDArray[np.int16]
) -> list[SuppressorAction]:
    return [
        suppressor.decide(noise[i * 160 : (i + 1) * 160], speech).action
        for i, speech in enumerate(pattern)
    ]


def test_suppressor_on_a_talk_silence_talk_pattern() -> None:
    noise = coloured_noise(8000, 4.0, 0.5, -50.0)
    pattern = [True] * 10 + [False] * 120 + [True] * 5 + [False] * 3
    suppressor = SilenceSuppressor(8000, 1, update_interval_ms=1000)
    actions = _decisions(suppressor, pattern, noise)
    # Talk: audio; silence: one update at once, then one a second (50 frames); talk again.
    assert actions[:10] == [AUDIO] * 10
    silence = actions[10:130]
    assert [i for i, action in enumerate(silence) if action is CN] == [0, 50, 100]
    assert silence.count(NOTHING) == 117
    assert actions[130:135] == [AUDIO] * 5
    assert actions[135:] == [CN, NOTHING, NOTHING]
    assert suppressor.updates_sent == 4 and suppressor.suppressed_frames == 119


def test_suppressor_sends_an_update_when_the_level_moves() -> None:
    quiet = coloured_noise(8000, 1.0, 0.5, -60.0)
    loud = coloured_noise(8000, 1.0, 0.5, -40.0, seed=6)
    suppressor = SilenceSuppressor(8000, 1, update_interval_ms=5000, level_change_db=2.0)
    first = _decisions(suppressor, [False] * 20, quiet)
    assert first == [CN] + [NOTHING] * 19
    decision = None
    for i in range(20):
        decision = suppressor.decide(loud[i * 160 : (i + 1) * 160], False)
        if decision.action is CN:
            break
    assert decision is not None and decision.action is CN and decision.noise is not None
    assert decision.noise.level < 60


@pytest.mark.parametrize(
    ("mode", "low_bandwidth", "suppressing"),
    [(0, False, False), (0, True, False), (1, False, True), (-1, False, False), (-1, True, True)],
)
def test_silencesuppress_parameter(mode: int, low_bandwidth: bool, suppressing: bool) -> None:
    suppressor = SilenceSuppressor(8000, mode, low_bandwidth=low_bandwidth)
    actions = _decisions(suppressor, [True, False, False, False], np.zeros(640, np.int16))
    assert actions == ([AUDIO, CN, NOTHING, NOTHING] if suppressing else [AUDIO] * 4)
    with pytest.raises(LocalProtocolError):
        SilenceSuppressor(8000, 2)


def test_vad_and_suppressor_together() -> None:
    rate, frame = 8000, 160
    noise = coloured_noise(rate, 3.0, 0.5, -55.0).astype(np.float64)
    t = np.arange(rate) / rate
    noise[rate : 2 * rate] += 3000 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    samples = np.round(noise).astype(np.int16)
    vad, suppressor = VoiceActivityDetector(rate), SilenceSuppressor(rate, 1)
    actions = [
        suppressor.decide(chunk, vad.is_speech(chunk)) for chunk in samples.reshape(-1, frame)
    ]
    sent = [d.action for d in actions]
    assert sent[55:95].count(AUDIO) == 40  # the talk is sent
    assert sent[10:45].count(NOTHING) >= 33  # the silence before it is not
    updates = [d.noise for d in actions[100:] if d.action is CN]
    assert updates and updates[0] is not None and abs(updates[0].level - 55) <= 2
