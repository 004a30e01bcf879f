"""Pitch-based packet loss concealment on synthetic voiced speech."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.codecs.concealment import RepeatFadeConcealer
from sansip.audio.plc import PacketLossConcealer, detect_pitch
from sansip.errors import LocalProtocolError
from tests.conftest import examples

RATES = (8000, 16000, 48000)
# A concealer: (lost, good frame or None, frame length) -> played frame.
Concealer = Callable[[NDArray[np.int16] | None, int], NDArray[np.int16]]


def voiced(
    rate: int, seconds: float, *, top_hz: float = 3600.0, peak: float = 12000.0
) -> NDArray[np.int16]:
    """Harmonic series with a slowly gliding pitch (110-170 Hz) and a syllabic envelope."""
    t = np.arange(round(rate * seconds)) / rate
    f0 = 140.0 + 30.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    signal = np.zeros_like(t)
    for k in range(1, 40):
        signal += (k * f0 < min(top_hz, 0.45 * rate)) * np.sin(k * phase + 0.3 * k) / k
    signal *= 0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t)
    result: NDArray[np.int16] = np.round(signal / np.max(np.abs(signal)) * peak).astype(np.int16)
    return result


def run(
    signal: NDArray[np.int16], frame: int, lost: set[int], conceal: Concealer
) -> NDArray[np.int16]:
    """Play ``signal`` frame by frame through ``conceal``, dropping the frames in ``lost``."""
    count = len(signal) // frame
    out = [
        conceal(None if i in lost else signal[i * frame : (i + 1) * frame], frame)
        for i in range(count)
    ]
    return np.concatenate(out)


def pitch_concealer(rate: int, frame: int, delay_ms: float | None = None) -> Concealer:
    plc = PacketLossConcealer(rate, frame, delay_ms=delay_ms)
    return lambda good, n: plc.conceal(n) if good is None else plc.good(good)


def lookahead_concealer(rate: int, frame: int) -> Concealer:
    """The pitch concealer without its look-ahead delay."""
    return pitch_concealer(rate, frame, delay_ms=0.0)


def advanced(out: NDArray[np.int16], delay: int) -> NDArray[np.int16]:
    """``out`` moved ``delay`` samples earlier (zeros at the end)."""
    return np.concatenate((out[delay:], np.zeros(delay, np.int16)))


def repeat_fade_concealer(rate: int, frame: int) -> Concealer:
    plc = RepeatFadeConcealer(rate)

    def conceal(good: NDArray[np.int16] | None, n: int) -> NDArray[np.int16]:
        if good is None:
            return plc.conceal(n)
        plc.remember(good)
        return good

    return conceal


def silence_concealer(rate: int, frame: int) -> Concealer:
    return lambda good, n: np.zeros(n, np.int16) if good is None else good


def snr_db(reference: NDArray[np.int16], test: NDArray[np.int16], mask: NDArray[np.bool_]) -> float:
    ref = reference.astype(np.float64)[mask]
    err = test.astype(np.float64)[mask] - ref
    return float(10 * np.log10(np.sum(ref * ref) / max(np.sum(err * err), 1e-9)))


@pytest.mark.parametrize("rate", RATES)
def test_pitch_concealment_beats_silence_and_repeat_fade(rate: int) -> None:
    frame = rate // 50
    signal = voiced(rate, 4.0)
    rng = np.random.default_rng(7)
    lost = {i for i in range(5, 195) if rng.random() < 0.12}
    mask = np.zeros(len(signal), bool)
    for i in lost:
        mask[i * frame : (i + 2) * frame] = True  # the lost frame and the recovery frame
    mask[-frame:] = False  # the delayed output's last samples are cut off
    delay = PacketLossConcealer(rate, frame).delay_samples
    scores = {
        make.__name__: snr_db(signal, run(signal, frame, lost, make(rate, frame)), mask)
        for make in (lookahead_concealer, repeat_fade_concealer, silence_concealer)
    }
    delayed = run(signal, frame, lost, pitch_concealer(rate, frame))
    scores["pitch_concealer"] = snr_db(signal, advanced(delayed, delay), mask)
    for name in ("pitch_concealer", "lookahead_concealer"):
        assert scores[name] > scores["silence_concealer"] + 3.0, scores
        assert scores[name] > scores["repeat_fade_concealer"] + 3.0, scores


@pytest.mark.parametrize("delay_ms", [None, 0.0])
@pytest.mark.parametrize("rate", RATES)
def test_no_discontinuity_at_loss_boundaries(rate: int, delay_ms: float | None) -> None:
    frame = rate // 50
    signal = voiced(rate, 2.0, top_hz=1200.0)
    lost = {10, 11, 20, 30, 31, 32, 50, 51, 52, 53, 54, 55, 70, 80}
    out = run(signal, frame, lost, pitch_concealer(rate, frame, delay_ms))
    # The delayed output starts from silence: so does the reference.
    original_jump = np.max(np.abs(np.diff(signal.astype(np.float64), prepend=0.0)))
    jump = np.max(np.abs(np.diff(out.astype(np.float64))))
    assert jump <= 1.3 * original_jump
    # The repeat-and-fade concealer does click on the same pattern: the check can fail.
    rough = run(signal, frame, lost, repeat_fade_concealer(rate, frame))
    assert np.max(np.abs(np.diff(rough.astype(np.float64)))) > 1.3 * original_jump


@pytest.mark.parametrize("rate", RATES)
def test_detects_the_pitch_of_a_harmonic_signal(rate: int) -> None:
    for f0 in (90.0, 150.0, 250.0):
        t = np.arange(round(rate * 0.05)) / rate
        history = sum(np.sin(2 * np.pi * k * f0 * t + k) / k for k in range(1, 8))
        for decimation in (1, max(1, rate // 8000)):
            period = detect_pitch(
                np.asarray(history, np.float64),
                round(rate * 0.0025),
                round(rate * 0.015),
                rate // 66,
                decimation=decimation,
            )
            assert period == pytest.approx(rate / f0, rel=0.02)


@pytest.mark.parametrize("rate", RATES)
def test_long_loss_fades_to_silence_and_recovers_smoothly(rate: int) -> None:
    frame = rate // 50
    ms = rate // 1000
    signal = voiced(rate, 0.5)
    plc = PacketLossConcealer(rate, frame)
    delay = plc.delay_samples
    assert delay == round(0.00375 * rate)
    for i in range(10):
        plc.good(signal[i * frame : (i + 1) * frame])
    played = np.concatenate([plc.conceal() for _ in range(5)]).astype(np.float64)
    concealed = played[delay:]  # what was still delayed at the loss is played first
    level = [np.sqrt(np.mean(concealed[i * 10 * ms : (i + 1) * 10 * ms] ** 2)) for i in range(6)]
    reference = np.sqrt(np.mean(signal[9 * frame : 10 * frame].astype(np.float64) ** 2))
    assert level[0] > 0.5 * reference  # the first 10 ms are not attenuated
    assert level[1] > level[3] > level[5]
    assert not np.any(concealed[60 * ms :])  # silent from 60 ms on
    assert plc.concealing and plc.lost_samples == 5 * frame
    back = plc.good(signal[15 * frame : 16 * frame])
    assert not np.any(back[:delay])  # the end of the silent concealment
    assert abs(int(back[delay])) < 0.1 * np.max(np.abs(signal))  # fades in from silence
    ola = 10 * ms
    assert np.array_equal(back[delay + ola :], signal[15 * frame + ola : 16 * frame - delay])
    assert not plc.concealing


@pytest.mark.parametrize("rate", RATES)
def test_loss_starts_with_an_overlap_add_of_the_delayed_samples(rate: int) -> None:
    frame = rate // 50
    signal = voiced(rate, 0.5, top_hz=1200.0)
    plc = PacketLossConcealer(rate, frame)
    delay = plc.delay_samples
    out = [plc.good(signal[i * frame : (i + 1) * frame]) for i in range(10)]
    joined = np.concatenate(out)
    assert np.array_equal(joined[delay:], signal[: 10 * frame - delay])  # good: only delayed
    concealed = plc.conceal()
    overlap = plc.pitch_period // 4
    held = signal[10 * frame - delay : 10 * frame]
    # The delayed samples are played, their last quarter period blended away
    # from the real audio towards the replayed period.
    assert np.array_equal(concealed[: delay - overlap], held[: delay - overlap])
    assert not np.array_equal(concealed[delay - overlap : delay], held[-overlap:])
    join = np.concatenate((joined[-frame:], concealed)).astype(np.float64)
    assert np.max(np.abs(np.diff(join))) <= 1.3 * np.max(np.abs(np.diff(signal.astype(float))))


@pytest.mark.parametrize("delay_ms", [None, 0.0, 5.0])
def test_good_frames_pass_delayed_and_nothing_to_conceal_is_silence(
    delay_ms: float | None,
) -> None:
    plc = PacketLossConcealer(8000, delay_ms=delay_ms)
    delay = plc.delay_samples
    assert delay == {None: 30, 0.0: 0, 5.0: 40}[delay_ms]
    assert not np.any(plc.conceal())
    assert len(plc.conceal(0)) == 0
    plc.reset()
    signal = voiced(8000, 0.2)
    sizes = [160, 7, 500, 1, 160, 333]  # any length, shorter or longer than the delay
    edges = np.cumsum([0, *sizes])
    played = np.concatenate([plc.good(signal[a:b]) for a, b in itertools.pairwise(edges)])
    assert len(played) == edges[-1]
    expected = np.concatenate((np.zeros(delay, np.int16), signal[: edges[-1] - delay]))
    assert np.array_equal(played, expected)
    assert len(plc.conceal()) == 160 and len(plc.conceal(77)) == 77
    assert plc.concealed_frames == 2


def test_bad_arguments_raise() -> None:
    with pytest.raises(LocalProtocolError):
        PacketLossConcealer(0)
    with pytest.raises(LocalProtocolError):
        PacketLossConcealer(8000, 0)
    with pytest.raises(LocalProtocolError):
        PacketLossConcealer(8000, min_pitch_ms=20.0, max_pitch_ms=10.0)
    with pytest.raises(LocalProtocolError):
        PacketLossConcealer(8000).conceal(-1)
    with pytest.raises(LocalProtocolError):
        PacketLossConcealer(8000, delay_ms=-1.0)
    with pytest.raises(LocalProtocolError):
        detect_pitch(np.zeros(400), 20, 120, 120, decimation=0)
    with pytest.raises(LocalProtocolError):
        PacketLossConcealer(8000).good(np.zeros((2, 80), np.int16))


_sample = st.integers(-32768, 32767)
_step = st.one_of(
    st.lists(_sample, min_size=0, max_size=400).map(lambda xs: np.array(xs, np.int16)),
    st.sampled_from(("silence", "full", "dc")),
    st.integers(0, 500),  # a loss of that many samples
)


@settings(max_examples=examples(60))
@given(
    rate=st.sampled_from(RATES),
    delay_ms=st.sampled_from((None, 0.0, 1.0)),
    steps=st.lists(_step, min_size=1, max_size=25),
)
def test_never_crashes_and_stays_bounded(
    rate: int, delay_ms: float | None, steps: list[object]
) -> None:
    plc = PacketLossConcealer(rate, delay_ms=delay_ms)
    peak = 0
    for step in steps:
        if isinstance(step, int):
            out = plc.conceal(step)
            assert len(out) == step
        else:
            if isinstance(step, str):
                value = {"silence": 0, "full": 32767, "dc": -12000}[step]
                frame = np.full(rate // 100, value, np.int16)
                if step == "full":
                    frame[::2] = -32768
            else:
                assert isinstance(step, np.ndarray)
                frame = step
            peak = max(peak, int(np.max(np.abs(frame.astype(np.int32)), initial=0)))
            out = plc.good(frame)
            assert len(out) == len(frame)
        assert out.dtype == np.int16
        assert int(np.max(np.abs(out.astype(np.int32)), initial=0)) <= peak
