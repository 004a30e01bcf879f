"""Voice activity detection on synthetic speech-like bursts in white and pink noise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.vad import MIN_LEVEL_DBOV, VoiceActivityDetector, level_dbov
from sansip.errors import LocalProtocolError
from tests.conftest import examples

RATES = (8000, 16000, 48000)
SPEECH_DBOV = -26.0


def speech_like(rate: int, count: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """A voiced burst: harmonics of a wavering pitch, shaped by two or three formants."""
    t = np.arange(count) / rate
    f0 = rng.uniform(100, 220) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    formants = (rng.uniform(400, 800), rng.uniform(1000, 1800), 2500.0)
    burst = np.zeros(count)
    for k in range(1, 40):
        frequency = k * float(np.mean(f0))
        if frequency > min(3800.0, 0.45 * rate):
            break
        gain = sum(np.exp(-(((frequency - f) / 200.0) ** 2)) for f in formants) + 0.05
        burst += gain * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    burst *= 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 2 * np.pi))
    edges = np.minimum(np.arange(count), count - 1 - np.arange(count)) / (0.02 * rate)
    return burst * np.minimum(1.0, edges)


def unit_noise(rate: int, count: int, kind: str, rng: np.random.Generator) -> NDArray[np.float64]:
    white = rng.standard_normal(count)
    if kind == "pink":
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(count, 1.0 / rate)
        freqs[0] = freqs[1]
        white = np.fft.irfft(spectrum / np.sqrt(freqs), count)
    result: NDArray[np.float64] = white / np.sqrt(np.mean(white**2))
    return result


def scene(
    rate: int, kind: str, snr_db: float, seed: int, seconds: float = 8.0
) -> tuple[NDArray[np.int16], NDArray[np.bool_]]:
    """Bursts of 0.3-0.9 s separated by 0.5-1 s of noise; returns samples and speech labels."""
    rng = np.random.default_rng(seed)
    total = round(rate * seconds)
    speech = np.zeros(total)
    label = np.zeros(total, bool)
    position = round(0.6 * rate)
    while position < total - rate:
        length = round(rng.uniform(0.3, 0.9) * rate)
        speech[position : position + length] = speech_like(rate, length, rng)
        label[position : position + length] = True
        position += length + round(rng.uniform(0.5, 1.0) * rate)
    target = 32768 * 10 ** (SPEECH_DBOV / 20)
    speech *= target / np.sqrt(np.mean(speech[label] ** 2))
    noise = unit_noise(rate, total, kind, rng) * target * 10 ** (-snr_db / 20)
    samples = np.clip(np.round(speech + noise), -32768, 32767).astype(np.int16)
    return samples, label


def decide(vad: VoiceActivityDetector, samples: NDArray[np.int16], frame: int) -> NDArray[np.bool_]:
    count = len(samples) // frame
    return np.array([vad.is_speech(samples[i * frame : (i + 1) * frame]) for i in range(count)])


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize(("snr_db", "min_detection"), [(20, 0.95), (10, 0.93), (5, 0.7)])
def test_detects_speech_in_noise(rate: int, kind: str, snr_db: float, min_detection: float) -> None:
    frame = rate // 50
    samples, label = scene(rate, kind, snr_db, seed=3)
    vad = VoiceActivityDetector(rate)
    decisions = decide(vad, samples, frame)
    speech = label[: len(decisions) * frame].reshape(-1, frame).mean(axis=1) > 0.5
    # Noise frames, leaving out the first 200 ms and the hangover after each burst.
    recent_speech = np.array([speech[max(0, i - 12) : i].any() for i in range(len(speech))])
    noise_only = ~speech & ~recent_speech
    noise_only[:10] = False
    assert decisions[speech].mean() >= min_detection
    assert decisions[noise_only].mean() <= 0.05
    noise_dbov = SPEECH_DBOV - snr_db
    # Pink noise wanders more (its lowest components are slow), so it is judged less tightly.
    assert vad.noise_level_dbov == pytest.approx(noise_dbov, abs=2.0 if kind == "white" else 4.5)


@pytest.mark.parametrize("rate", RATES)
def test_silence_and_faint_noise_are_not_speech(rate: int) -> None:
    frame = rate // 50
    vad = VoiceActivityDetector(rate)
    assert vad.noise_level_dbov == MIN_LEVEL_DBOV
    assert not decide(vad, np.zeros(frame * 50, np.int16), frame).any()
    assert vad.noise_level_dbov == MIN_LEVEL_DBOV
    faint = np.round(unit_noise(rate, frame * 100, "white", np.random.default_rng(1)) * 3)
    assert decide(vad, faint.astype(np.int16), frame).mean() <= 0.02


@pytest.mark.parametrize("rate", [8000, 48000])
def test_noise_alone_and_a_lasting_rise_of_noise(rate: int) -> None:
    frame = rate // 50
    rng = np.random.default_rng(11)
    noise = unit_noise(rate, rate * 12, "pink", rng) * 32768 * 10 ** (-50 / 20)
    noise[rate * 2 :] *= 10 ** (10 / 20)  # the room gets 10 dB louder and stays so
    decisions = decide(VoiceActivityDetector(rate), np.round(noise).astype(np.int16), frame)
    assert decisions[5:100].mean() <= 0.02
    assert decisions[-150:].mean() <= 0.1  # accepted as the new background


def test_hangover_holds_speech_after_a_burst() -> None:
    rate, frame = 16000, 320
    rng = np.random.default_rng(5)
    noise = unit_noise(rate, rate * 3, "white", rng) * 32768 * 10 ** (-50 / 20)
    signal = noise.copy()
    signal[rate : 2 * rate] += speech_like(rate, rate, rng) * 32768 * 10 ** (-26 / 20)
    samples = np.round(signal).astype(np.int16)
    held = decide(VoiceActivityDetector(rate, hangover_ms=200), samples, frame)
    none = decide(VoiceActivityDetector(rate, hangover_ms=0), samples, frame)
    end = 2 * rate // frame
    assert held[end : end + 9].all() and not held[end + 14 :].any()
    assert not none[end + 2 :].any()


def test_speech_from_the_first_frame_then_silence() -> None:
    rate, frame = 8000, 160
    rng = np.random.default_rng(9)
    noise = unit_noise(rate, rate * 4, "white", rng) * 32768 * 10 ** (-45 / 20)
    signal = noise.copy()
    signal[:rate] += speech_like(rate, rate, rng) * 32768 * 10 ** (-26 / 20)
    signal[2 * rate : 3 * rate] += speech_like(rate, rate, rng) * 32768 * 10 ** (-26 / 20)
    decisions = decide(VoiceActivityDetector(rate), np.round(signal).astype(np.int16), frame)
    assert decisions[65:100].mean() <= 0.05  # the first noise gap is learned...
    assert decisions[100:150].mean() >= 0.9  # ...and the next burst is found


def test_level_dbov_scale() -> None:
    square = np.tile(np.array([32767, -32768], np.int16), 100)
    assert level_dbov(square) == pytest.approx(0.0, abs=0.01)
    sine = np.round(32767 * np.sin(np.arange(8000) * 0.1)).astype(np.int16)
    assert level_dbov(sine) == pytest.approx(-3.01, abs=0.05)
    assert level_dbov(np.zeros(10, np.int16)) == MIN_LEVEL_DBOV
    assert level_dbov(np.zeros(0, np.int16)) == MIN_LEVEL_DBOV


def test_bad_arguments_raise() -> None:
    with pytest.raises(LocalProtocolError):
        VoiceActivityDetector(0)
    with pytest.raises(LocalProtocolError):
        VoiceActivityDetector(8000, hangover_ms=-1)
    with pytest.raises(LocalProtocolError):
        VoiceActivityDetector(8000).is_speech(np.zeros((2, 2), np.int16))


_frame = st.one_of(
    st.lists(st.integers(-32768, 32767), max_size=500).map(lambda xs: np.array(xs, np.int16)),
    st.sampled_from([32767, -32768, 0, 1000]).map(lambda v: np.full(160, v, np.int16)),
)


@settings(max_examples=examples(60))
@given(rate=st.sampled_from(RATES), frames=st.lists(_frame, min_size=1, max_size=20))
def test_any_frames_give_a_decision_and_a_finite_level(
    rate: int, frames: list[NDArray[np.int16]]
) -> None:
    vad = VoiceActivityDetector(rate)
    for frame in frames:
        assert isinstance(vad.is_speech(frame), bool)
        assert MIN_LEVEL_DBOV <= vad.noise_level_dbov <= 1.0
        assert MIN_LEVEL_DBOV <= vad.level_dbov <= 1.0
    vad.reset()
    assert vad.noise_level_dbov == MIN_LEVEL_DBOV and not vad.speech
