"""Automatic gain control: convergence, no clipping, no pumping in silence, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.agc import AutomaticGainControl
from sansip.audio.analysis import rms_dbfs
from sansip.errors import LocalProtocolError
from tests.audio.test_denoise import speech_like
from tests.conftest import examples

RATES = (8000, 16000, 48000)
#: Peak the limiter allows at its default -1 dBFS ceiling (plus rounding).
CEILING = 32767.0 * 10.0 ** (-1.0 / 20.0) + 1.0


def to_int16(signal: NDArray[np.float64]) -> NDArray[np.int16]:
    return np.clip(np.rint(signal), -32768, 32767).astype(np.int16)


def run(
    agc: AutomaticGainControl, samples: NDArray[np.int16], size: int
) -> tuple[NDArray[np.int16], list[float]]:
    """Process ``samples`` in frames of ``size``; output and the gain after each frame."""
    out = []
    gains = []
    for start in range(0, len(samples) - size + 1, size):
        out.append(agc.process(samples[start : start + size]))
        gains.append(agc.gain_db)
    return np.concatenate(out), gains


def active_level(
    samples: NDArray[np.int16], active: NDArray[np.bool_], rate: int, start: float, end: float
) -> float:
    window = slice(round(start * rate), round(end * rate))
    return rms_dbfs(samples[window][active[window]])


@pytest.mark.parametrize("rate", RATES)
def test_quiet_speech_converges_to_the_target_within_five_seconds(rate: int) -> None:
    clean, active = speech_like(rate, 6.0, -40.0, word_spread_db=0.0)
    agc = AutomaticGainControl(rate)
    out, gains = run(agc, to_int16(clean), rate // 50)
    assert gains[-1] > 15.0
    for second in (4.0, 5.0):
        level = active_level(out, active, rate, second, second + 1.0)
        assert abs(level - agc.target_dbfs) <= 3.0, (second, level)
    # Early on it was still quiet: the gain rises slowly.
    assert active_level(out, active, rate, 0.0, 1.0) < agc.target_dbfs - 6.0


@pytest.mark.parametrize("target", [-24.0, -12.0])
def test_the_target_is_a_parameter(target: float) -> None:
    clean, active = speech_like(16000, 6.0, -30.0, word_spread_db=0.0)
    out, _ = run(AutomaticGainControl(16000, target_dbfs=target), to_int16(clean), 320)
    assert abs(active_level(out, active, 16000, 4.0, 6.0) - target) <= 3.0


@pytest.mark.parametrize("rate", RATES)
def test_loud_speech_is_brought_down_without_clipping(rate: int) -> None:
    clean, active = speech_like(rate, 4.0, -3.0, word_spread_db=0.0)
    samples = to_int16(clean)
    assert np.max(np.abs(samples.astype(np.int32))) >= 32767  # the input itself clips
    agc = AutomaticGainControl(rate)
    out, gains = run(agc, samples, rate // 50)
    assert np.max(np.abs(out.astype(np.int32))) <= CEILING
    assert min(gains) < -10.0
    level = active_level(out, active, rate, 2.0, 4.0)
    assert abs(level - agc.target_dbfs) <= 3.0, level


@pytest.mark.parametrize("rate", RATES)
def test_a_loud_burst_after_quiet_speech_is_limited(rate: int) -> None:
    quiet, _ = speech_like(rate, 4.0, -40.0, word_spread_db=0.0)
    loud, _ = speech_like(rate, 0.5, -3.0, seed=9, word_spread_db=0.0)
    agc = AutomaticGainControl(rate)
    out, gains = run(agc, to_int16(np.concatenate((quiet, loud))), rate // 50)
    assert max(gains) > 15.0  # the quiet part had raised the gain a lot
    assert np.max(np.abs(out.astype(np.int32))) <= CEILING


@pytest.mark.parametrize("rate", RATES)
def test_silence_stays_silence(rate: int) -> None:
    agc = AutomaticGainControl(rate)
    out, gains = run(agc, np.zeros(3 * rate, dtype=np.int16), rate // 50)
    assert not out.any()
    assert set(gains) == {0.0}
    # Faint steady noise (no speech) is never boosted.
    noise = to_int16(np.random.default_rng(1).normal(0.0, 15.0, 5 * rate))
    out, gains = run(agc, noise, rate // 50)
    assert max(gains) <= 0.0
    assert rms_dbfs(out) <= rms_dbfs(noise) + 0.1


def test_the_gain_is_frozen_in_pauses() -> None:
    rate = 8000
    clean, _ = speech_like(rate, 3.0, -35.0, word_spread_db=0.0)
    noise = np.random.default_rng(2).normal(0.0, 3.0, 3 * rate)
    agc = AutomaticGainControl(rate)
    run(agc, to_int16(clean + noise), 160)
    raised = agc.gain_db
    assert raised > 5.0
    pause, pause_gains = run(agc, to_int16(noise), 160)
    assert set(pause_gains) == {raised}
    # The pause's noise comes out at exactly the frozen gain, nothing more.
    assert rms_dbfs(pause) <= rms_dbfs(noise) + raised + 0.5


def test_the_speech_hint_overrides_the_gate() -> None:
    rate = 16000
    loud, _ = speech_like(rate, 2.0, -3.0, word_spread_db=0.0)
    agc = AutomaticGainControl(rate)
    for start in range(0, len(loud) - 320 + 1, 320):
        out = agc.process(to_int16(loud[start : start + 320]), speech=False)
        assert np.max(np.abs(out.astype(np.int32))) <= CEILING  # the limiter still acts
    assert agc.gain_db == 0.0
    assert not agc.speech
    noise = to_int16(np.random.default_rng(3).normal(0.0, 30.0, rate))
    for start in range(0, rate, 320):
        agc.process(noise[start : start + 320], speech=True)
    assert agc.gain_db > 5.0
    assert agc.speech


def test_gains_stay_within_their_bounds() -> None:
    rate = 8000
    faint, _ = speech_like(rate, 8.0, -70.0, word_spread_db=0.0)
    agc = AutomaticGainControl(rate, max_gain_db=12.0, min_gain_db=-6.0, min_speech_dbfs=-90.0)
    _, gains = run(agc, to_int16(faint), 160)
    assert max(gains) == pytest.approx(12.0)
    loud, _ = speech_like(rate, 4.0, -1.0, word_spread_db=0.0)
    _, gains = run(agc, to_int16(loud), 160)
    assert min(gains) == pytest.approx(-6.0)


def learned(agc: AutomaticGainControl) -> tuple[float, float | None, float | None]:
    """What the AGC has learned: gain, speech level, noise floor."""
    return agc.gain_db, agc.level_dbfs, agc.noise_floor_dbfs


def test_reset_forgets_the_gain() -> None:
    rate = 8000
    clean, _ = speech_like(rate, 3.0, -40.0, word_spread_db=0.0)
    agc = AutomaticGainControl(rate)
    run(agc, to_int16(clean), 160)
    assert agc.gain_db > 0 and agc.level_dbfs is not None
    agc.reset()
    assert learned(agc) == (0.0, None, None)


@pytest.mark.parametrize(
    "options",
    [
        {"target_dbfs": 0.5},
        {"target_dbfs": -0.5, "limit_dbfs": -1.0},
        {"max_gain_db": -1.0},
        {"min_gain_db": 1.0},
        {"increase_db_per_s": 0.0},
        {"level_time": math.nan},
        {"knee_db": 0.0},
        {"lookahead": 0.5},
    ],
)
def test_bad_settings_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(LocalProtocolError):
        AutomaticGainControl(8000, **options)
    with pytest.raises(LocalProtocolError):
        AutomaticGainControl(0)


_special_frames = st.sampled_from(
    [
        np.full(160, 32767, dtype=np.int16),
        np.full(160, -32768, dtype=np.int16),
        np.tile(np.array([32767, -32768], dtype=np.int16), 80),
        np.zeros(160, dtype=np.int16),
        np.full(160, 50, dtype=np.int16),
        np.full(160, -3, dtype=np.int16),
    ]
)
_random_frames = st.lists(st.integers(-32768, 32767), min_size=0, max_size=400).map(
    lambda values: np.array(values, dtype=np.int16)
)


@settings(max_examples=examples(60))
@given(
    st.sampled_from(RATES),
    st.lists(
        st.tuples(st.one_of(_special_frames, _random_frames), st.sampled_from([None, True, False])),
        min_size=1,
        max_size=25,
    ),
    st.floats(0.0, 40.0),
)
def test_any_frames_give_bounded_unclipped_frames(
    rate: int, frames: list[tuple[NDArray[np.int16], bool | None]], max_gain: float
) -> None:
    agc = AutomaticGainControl(rate, max_gain_db=max_gain)
    for frame, speech in frames:
        out = agc.process(frame, speech=speech)
        assert out.dtype == np.int16
        assert len(out) == len(frame)
        assert np.max(np.abs(out.astype(np.int32)), initial=0) <= CEILING
        assert -20.0 <= agc.gain_db <= max_gain
        assert math.isfinite(agc.gain_db)
        if not frame.any():
            assert not out.any()
