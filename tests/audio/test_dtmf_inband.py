"""In-band DTMF: every digit at every rate, Q.24 tolerances, no talk-off, robust in noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.analysis import rms_dbfs
from sansip.audio.dtmf_inband import (
    DtmfDetector,
    DtmfDigitDetected,
    DtmfDigitEnded,
    DtmfEvent,
    detect_digits,
    dtmf_tone,
)
from sansip.audio.tones import DTMF_FREQUENCIES, DtmfSource
from sansip.errors import LocalProtocolError
from tests.conftest import examples

ALL_DIGITS = "0123456789*#ABCD"
RATES = (8000, 16000, 48000)


def pause(rate: int, seconds: float) -> NDArray[np.int16]:
    return np.zeros(round(rate * seconds), dtype=np.int16)


def sequence(digits: str, rate: int, on: float = 0.06, off: float = 0.05) -> NDArray[np.int16]:
    parts = [pause(rate, 0.03)]
    for digit in digits:
        parts += [dtmf_tone(digit, rate, on, -10.0), pause(rate, off)]
    return np.concatenate(parts)


def stream(samples: NDArray[np.int16], rate: int, frame: float = 0.02) -> list[DtmfEvent]:
    detector = DtmfDetector(rate)
    size = round(rate * frame)
    events: list[DtmfEvent] = []
    for start in range(0, len(samples), size):
        events += detector.process(samples[start : start + size])
    return events + detector.finish()


def two_tones(
    rate: int, seconds: float, low: float, high: float, *, low_db: float, high_db: float
) -> NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    wave = 32767 * (
        10 ** (low_db / 20) * np.sin(2 * np.pi * low * t)
        + 10 ** (high_db / 20) * np.sin(2 * np.pi * high * t + 1.0)
    )
    return np.rint(wave).astype(np.int16)


# -- generation --------------------------------------------------------------


def test_tone_levels_and_twist() -> None:
    low_hz, high_hz = DTMF_FREQUENCIES["5"]
    for twist in (-4.0, 0.0, 6.0):
        wave = dtmf_tone("5", 8000, 0.5, -12.0, twist).astype(np.float64)
        n = np.arange(len(wave))
        levels = []
        for frequency in (low_hz, high_hz):
            basis = np.exp(-2j * np.pi * frequency * n / 8000)
            levels.append(20 * math.log10(2 * abs(np.dot(wave, basis)) / len(wave) / 32767))
        assert max(levels) == pytest.approx(-12.0, abs=0.05)
        assert levels[0] - levels[1] == pytest.approx(twist, abs=0.05)


def test_tone_deviation_shifts_both_frequencies() -> None:
    from sansip.audio.analysis import dominant_frequency

    wave = dtmf_tone("1", 8000, 1.0, -10.0, 6.0, deviation=0.02)
    assert dominant_frequency(wave, 8000) == pytest.approx(697 * 1.02, abs=1.0)


@pytest.mark.parametrize(
    ("digit", "duration", "level"),
    [("X", 0.1, -10.0), ("1", 0.1, 1.0), ("1", 0.1, -1.0), ("1", -0.1, -10.0)],
)
def test_tone_refuses_bad_arguments(digit: str, duration: float, level: float) -> None:
    with pytest.raises(LocalProtocolError):  # -1 dBFS: the two tones together clip
        dtmf_tone(digit, 8000, duration, level)


# -- detection ---------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_every_digit_at_every_rate(rate: int) -> None:
    assert detect_digits(sequence(ALL_DIGITS, rate), rate) == ALL_DIGITS


@pytest.mark.parametrize("rate", RATES)
def test_tones_source_digits_are_detected_frame_by_frame(rate: int) -> None:
    source = DtmfSource("159#,*0D", rate, duration=0.05, gap=0.045, level_dbfs=-20.0)
    detector = DtmfDetector(rate)
    events: list[DtmfEvent] = []
    while not source.finished:
        events += detector.process(source.read())
    events += detector.finish()
    detected = [e for e in events if isinstance(e, DtmfDigitDetected)]
    ended = [e for e in events if isinstance(e, DtmfDigitEnded)]
    assert "".join(e.digit for e in detected) == "159#*0D"
    assert [e.digit for e in ended] == [e.digit for e in detected]
    for event in ended:
        assert event.duration == pytest.approx(0.05, abs=0.003)
    # 50 ms tone + 45 ms gap each; the comma adds a 0.5 s pause.
    expected_starts = [0.0, 0.095, 0.19, 0.285, 0.88, 0.975, 1.07]
    assert [e.start for e in ended] == pytest.approx(expected_starts, abs=0.003)


def test_frames_of_any_size_give_the_same_events() -> None:
    signal = sequence("2580", 16000, on=0.045, off=0.04)
    whole = stream(signal, 16000, frame=10.0)
    assert whole == stream(signal, 16000, frame=0.02)
    assert whole == stream(signal, 16000, frame=0.0001)  # 1 or 2 samples at a time
    assert whole == stream(signal, 16000, frame=0.0371)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("deviation", [-0.015, 0.015])
def test_off_frequency_within_1_5_percent_is_accepted(rate: int, deviation: float) -> None:
    for digit in ALL_DIGITS:
        tone = dtmf_tone(digit, rate, 0.08, -10.0, deviation=deviation)
        assert detect_digits(tone, rate) == digit


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("deviation", [-0.035, 0.035, -0.05])
def test_off_frequency_by_3_5_percent_is_rejected(rate: int, deviation: float) -> None:
    for digit in ALL_DIGITS:
        assert detect_digits(dtmf_tone(digit, rate, 0.08, -10.0, deviation=deviation), rate) == ""


@pytest.mark.parametrize(("low_shift", "high_shift"), [(0.035, 0.0), (0.0, -0.035)])
def test_one_tone_off_frequency_is_enough_to_reject(low_shift: float, high_shift: float) -> None:
    low, high = DTMF_FREQUENCIES["8"]
    signal = two_tones(
        8000, 0.1, low * (1 + low_shift), high * (1 + high_shift), low_db=-10, high_db=-10
    )
    assert detect_digits(signal, 8000) == ""
    assert detect_digits(two_tones(8000, 0.1, low, high, low_db=-10, high_db=-10), 8000) == "8"


@pytest.mark.parametrize("rate", RATES)
def test_twist_within_limits_is_accepted(rate: int) -> None:
    for twist in (-3.5, -2.0, 4.0, 7.5):
        assert detect_digits(dtmf_tone("9", rate, 0.08, -8.0, twist), rate) == "9"


@pytest.mark.parametrize("rate", RATES)
def test_twist_beyond_limits_is_rejected(rate: int) -> None:
    for twist in (-5.0, -8.0, 9.0, 12.0):
        assert detect_digits(dtmf_tone("9", rate, 0.08, -8.0, twist), rate) == ""


@pytest.mark.parametrize("rate", RATES)
def test_30_ms_tones_are_rejected_45_ms_accepted(rate: int) -> None:
    for lead in (0.0, 0.0011, 0.0023, 0.01):
        short = np.concatenate((pause(rate, lead), dtmf_tone("3", rate, 0.030), pause(rate, 0.1)))
        good = np.concatenate((pause(rate, lead), dtmf_tone("3", rate, 0.045), pause(rate, 0.1)))
        assert detect_digits(short, rate) == ""
        assert detect_digits(good, rate) == "3"


def test_durations_are_measured_to_a_hop() -> None:
    for seconds in (0.045, 0.07, 0.2, 1.3):
        events = stream(np.concatenate((dtmf_tone("A", 8000, seconds), pause(8000, 0.1))), 8000)
        ended = [e for e in events if isinstance(e, DtmfDigitEnded)]
        assert len(ended) == 1
        assert ended[0].duration == pytest.approx(seconds, abs=0.0026)


def test_a_long_tone_is_one_digit() -> None:
    events = stream(dtmf_tone("7", 8000, 5.0), 8000)
    assert [type(e) for e in events] == [DtmfDigitDetected, DtmfDigitEnded]
    ended = events[1]
    assert isinstance(ended, DtmfDigitEnded)
    assert ended.digit == "7" and ended.duration == pytest.approx(5.0, abs=0.003)


def test_a_long_tone_in_noise_with_a_short_dropout_is_one_digit() -> None:
    rng = np.random.default_rng(5)
    tone = dtmf_tone("7", 8000, 2.0, -10.0).astype(np.float64)
    tone[8000 : 8000 + 80] = 0.0  # a 10 ms interruption
    noisy = tone + rng.normal(0.0, 200.0, len(tone))
    assert detect_digits(np.rint(noisy).astype(np.int16), 8000) == "7"


@pytest.mark.parametrize("rate", RATES)
def test_40_ms_pauses_separate_repeated_digits(rate: int) -> None:
    assert detect_digits(sequence("5555", rate, on=0.045, off=0.040), rate) == "5555"


@pytest.mark.parametrize("rate", RATES)
def test_levels_down_to_the_floor(rate: int) -> None:
    for level in (-3.5 - 6.0, -29.0, -34.0):  # -26 dBm0 is about -29 dBFS per tone
        assert detect_digits(dtmf_tone("4", rate, 0.08, level), rate) == "4"
    for level in (-40.0, -50.0):
        assert detect_digits(dtmf_tone("4", rate, 0.08, level), rate) == ""
    assert detect_digits(dtmf_tone("4", rate, 0.08, -40.0), rate, min_level_dbfs=-45.0) == "4"


@pytest.mark.parametrize("rate", [8000, 16000])
def test_digits_in_noise_at_15_db_snr(rate: int) -> None:
    rng = np.random.default_rng(rate)
    digits = "".join(rng.choice(list(ALL_DIGITS), 24))
    clean = sequence(digits, rate, on=0.05, off=0.05).astype(np.float64)
    tone_power = 2 * (dbfs_peak(-10.0) ** 2) / 2
    noise = rng.normal(0.0, math.sqrt(tone_power / 10 ** (15 / 10)), len(clean))
    noisy = np.clip(np.rint(clean + noise), -32768, 32767).astype(np.int16)
    assert detect_digits(noisy, rate) == digits


def dbfs_peak(level: float) -> float:
    return 32767 * 10 ** (level / 20)


# -- talk-off ----------------------------------------------------------------


def synthetic_talk(rate: int, seconds: float, seed: int) -> NDArray[np.int16]:
    """Voiced sweeps (harmonics under moving formants), fricative noise and pauses."""
    rng = np.random.default_rng(seed)
    count = round(rate * seconds)
    t = np.arange(count) / rate
    # Pitch wanders 70-400 Hz with glides; syllables at 3-6 Hz.
    knots = np.linspace(0, seconds, int(seconds * 8) + 2)
    pitch = np.interp(t, knots, rng.uniform(70, 400, len(knots)))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    formants = [
        np.interp(t, knots, rng.uniform(lo, hi, len(knots)))
        for lo, hi in ((250, 900), (800, 2300), (2000, 3200))
    ]
    voiced = np.zeros(count)
    for k in range(1, 60):
        frequency = k * pitch
        gain = sum(
            1.0 / (1.0 + ((frequency - f) / (60 + 0.1 * f)) ** 2) for f in formants
        ) / math.sqrt(k)
        gain = np.where(frequency < 0.45 * rate, gain, 0.0)
        voiced += gain * np.sin(k * phase)
    syllables = np.clip(np.sin(2 * np.pi * np.cumsum(rng.uniform(3, 6, count)) / rate), 0, 1)
    unvoiced = np.convolve(rng.normal(0, 1, count), np.ones(3) / 3, mode="same")
    voicing = np.interp(t, knots, rng.uniform(0, 1, len(knots))) > 0.3
    speech = np.where(voicing, voiced, 0.6 * unvoiced) * syllables
    pauses = np.interp(t, knots, rng.uniform(0, 1, len(knots))) > 0.15
    speech *= pauses
    speech *= 10 ** (-12 / 20) * 32767 / max(float(np.max(np.abs(speech))), 1e-9)
    talk: NDArray[np.int16] = np.rint(speech).astype(np.int16)
    return talk


@pytest.mark.parametrize(("rate", "seed"), [(8000, 1), (16000, 2)])
def test_thirty_seconds_of_synthetic_talk_give_no_digit(rate: int, seed: int) -> None:
    talk = synthetic_talk(rate, 30.0, seed)
    assert rms_dbfs(talk) > -40.0
    assert stream(talk, rate) == []


def test_noise_and_single_tones_give_no_digit() -> None:
    rng = np.random.default_rng(3)
    white = np.clip(rng.normal(0, 6000, 8000 * 5), -32768, 32767).astype(np.int16)
    brown = np.cumsum(rng.normal(0, 300, 8000 * 5))
    brown = np.rint(20000 * (brown - brown.mean()) / np.max(np.abs(brown))).astype(np.int16)
    signals = [white, brown]
    for frequency in DTMF_FREQUENCIES["1"] + DTMF_FREQUENCIES["D"]:
        n = np.arange(8000)
        signals.append(np.rint(10000 * np.sin(2 * np.pi * frequency * n / 8000)).astype(np.int16))
    for signal in signals:
        assert detect_digits(signal, 8000) == ""


def test_a_tone_with_a_strong_second_harmonic_is_speech() -> None:
    low, high = DTMF_FREQUENCIES["6"]
    t = np.arange(800) / 8000
    pure = 8000 * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))
    assert detect_digits(np.rint(pure).astype(np.int16), 8000) == "6"
    voiced = pure + 4000 * np.sin(2 * np.pi * 2 * low * t)
    assert detect_digits(np.rint(voiced).astype(np.int16), 8000) == ""


def test_detector_refuses_bad_settings() -> None:
    with pytest.raises(LocalProtocolError):
        DtmfDetector(4000)
    with pytest.raises(LocalProtocolError):
        DtmfDetector(8000, max_deviation=0.2)
    with pytest.raises(LocalProtocolError):
        DtmfDetector(8000).process(np.zeros((3, 3), dtype=np.int16))


@settings(max_examples=examples(40))
@given(
    st.sampled_from(RATES),
    st.lists(
        st.one_of(
            st.lists(st.integers(-32768, 32767), max_size=400),
            st.sampled_from([[], [0], [32767] * 300, [-32768, 32767] * 200]),
        ),
        max_size=8,
    ),
)
def test_random_frames_never_crash_and_events_pair_up(rate: int, frames: list[list[int]]) -> None:
    detector = DtmfDetector(rate)
    events: list[DtmfEvent] = []
    for values in frames:
        events += detector.process(np.array(values, dtype=np.int16))
    events += detector.finish()
    detected = [e for e in events if isinstance(e, DtmfDigitDetected)]
    ended = [e for e in events if isinstance(e, DtmfDigitEnded)]
    assert [(e.digit, e.start) for e in detected] == [(e.digit, e.start) for e in ended]
    assert all(math.isfinite(e.duration) and e.duration >= 0.035 for e in ended)


@settings(max_examples=examples(30))
@given(
    digit=st.sampled_from(list(ALL_DIGITS)),
    rate=st.sampled_from(RATES),
    seconds=st.floats(0.045, 0.3),
    level=st.floats(-27.0, -7.0),  # the louder tone; the other is up to 7 dB lower
    twist=st.floats(-3.0, 7.0),
    deviation=st.floats(-0.014, 0.014),
)
def test_any_digit_within_tolerances_is_detected_once(
    *, digit: str, rate: int, seconds: float, level: float, twist: float, deviation: float
) -> None:
    tone = dtmf_tone(digit, rate, seconds, level, twist, deviation=deviation)
    events = stream(np.concatenate((pause(rate, 0.013), tone, pause(rate, 0.05))), rate)
    assert [(type(e), e.digit) for e in events] == [
        (DtmfDigitDetected, digit),
        (DtmfDigitEnded, digit),
    ]
