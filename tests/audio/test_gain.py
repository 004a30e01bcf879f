"""Volume and mute helpers: the percent scale, saturation, ramps and mute directions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sansip.audio.gain import (
    MAX_VOLUME_GAIN_DB,
    MIN_VOLUME_GAIN_DB,
    MuteDirection,
    MuteSwitch,
    VolumeControl,
    apply_gain,
    db_to_gain,
    default_mute_direction,
    gain_to_db,
    volume_gain,
)
from sansip.errors import LocalProtocolError
from tests.conftest import examples

_frames = st.lists(st.integers(-32768, 32767), max_size=300).map(
    lambda values: np.array(values, dtype=np.int16)
)


def test_the_volume_scale_has_its_fixed_points() -> None:
    assert volume_gain(0) == 0.0
    assert volume_gain(50) == 1.0
    assert gain_to_db(volume_gain(100)) == pytest.approx(MAX_VOLUME_GAIN_DB)
    assert gain_to_db(volume_gain(1)) == pytest.approx(MIN_VOLUME_GAIN_DB)
    assert gain_to_db(volume_gain(75)) == pytest.approx(MAX_VOLUME_GAIN_DB / 2)
    assert gain_to_db(volume_gain(25)) == pytest.approx(-0.8 * 25)


def test_out_of_range_volumes_are_clamped_and_nan_refused() -> None:
    assert volume_gain(-5) == 0.0
    assert volume_gain(250) == volume_gain(100)
    with pytest.raises(LocalProtocolError):
        volume_gain(math.nan)


@settings(max_examples=examples(100))
@given(st.floats(0.0, 100.0), st.floats(0.0, 100.0))
def test_louder_percent_never_means_less_gain(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert volume_gain(low) <= volume_gain(high)
    assert 0.0 <= volume_gain(high) <= db_to_gain(MAX_VOLUME_GAIN_DB) + 1e-12


@settings(max_examples=examples(100))
@given(st.floats(-100.0, 40.0))
def test_decibels_round_trip(db: float) -> None:
    assert gain_to_db(db_to_gain(db)) == pytest.approx(db, abs=1e-9)


def test_decibel_conversions_refuse_nonsense() -> None:
    assert db_to_gain(-math.inf) == 0.0
    assert gain_to_db(0.0) == -math.inf
    for bad in (math.nan, math.inf):
        with pytest.raises(LocalProtocolError):
            db_to_gain(bad)
    for bad_gain in (-0.5, math.nan, math.inf):
        with pytest.raises(LocalProtocolError):
            gain_to_db(bad_gain)


def test_apply_gain_saturates_instead_of_wrapping() -> None:
    frame = np.array([32767, -32768, 20000, -20000, 1, 0], dtype=np.int16)
    out = apply_gain(frame, 4.0)
    assert out.tolist() == [32767, -32768, 32767, -32768, 4, 0]
    assert apply_gain(frame, 0.5).tolist() == [16384, -16384, 10000, -10000, 0, 0]
    assert not apply_gain(frame, 0.0).any()


def test_unity_gain_gives_an_equal_copy() -> None:
    frame = np.array([1, -2, 3], dtype=np.int16)
    out = apply_gain(frame, 1.0)
    assert out.tolist() == frame.tolist()
    out[0] = 99
    assert frame[0] == 1


@pytest.mark.parametrize("gain", [-1.0, math.nan, math.inf])
def test_apply_gain_refuses_bad_gains(gain: float) -> None:
    with pytest.raises(LocalProtocolError):
        apply_gain(np.zeros(4, dtype=np.int16), gain)


@settings(max_examples=examples(100))
@given(_frames, st.floats(0.0, 100.0))
def test_apply_gain_is_the_rounded_saturated_product(frame: NDArray[np.int16], gain: float) -> None:
    out = apply_gain(frame, gain)
    assert out.dtype == np.int16 and len(out) == len(frame)
    expected = np.clip(np.rint(frame.astype(np.float64) * gain), -32768, 32767)
    assert out.tolist() == expected.astype(np.int64).tolist()


def test_volume_control_ramps_to_a_new_volume_over_one_frame() -> None:
    control = VolumeControl()
    frame = np.full(160, 10000, dtype=np.int16)
    assert control.process(frame).tolist() == frame.tolist()
    control.percent = 0
    ramp = control.process(frame).astype(np.int64)
    assert ramp[0] > 9000 and ramp[-1] == 0
    assert np.all(np.diff(ramp) <= 0)
    assert not control.process(frame).any()
    control.percent = 100
    ramp = control.process(frame).astype(np.int64)
    assert ramp[0] < 1000 and ramp[-1] == 32767
    assert control.process(frame).tolist() == apply_gain(frame, volume_gain(100)).tolist()
    assert control.percent == 100 and control.gain == volume_gain(100)


def test_volume_control_starts_at_its_volume_without_a_ramp() -> None:
    frame = np.full(80, 1000, dtype=np.int16)
    assert VolumeControl(75).process(frame).tolist() == apply_gain(frame, volume_gain(75)).tolist()
    assert VolumeControl(150).percent == 100


@settings(max_examples=examples(60))
@given(st.lists(st.tuples(st.floats(0.0, 100.0), _frames), max_size=10))
def test_volume_control_output_is_bounded_and_sized(
    steps: list[tuple[float, NDArray[np.int16]]],
) -> None:
    control = VolumeControl()
    for percent, frame in steps:
        control.percent = percent
        out = control.process(frame)
        assert out.dtype == np.int16 and len(out) == len(frame)


def sides(switch: MuteSwitch) -> tuple[bool, bool, bool]:
    """(capture muted, playback muted, either muted)."""
    return switch.capture_muted, switch.playback_muted, switch.muted


def test_mute_directions_act_on_their_own_side() -> None:
    frame = np.full(160, 5000, dtype=np.int16)
    switch = MuteSwitch()
    assert sides(switch) == (False, False, False)
    switch.mute(True, MuteDirection.MICROPHONE)
    assert sides(switch) == (True, False, True)
    assert switch.process_capture(frame)[-1] == 0  # fades out over one frame
    assert not switch.process_capture(frame).any()
    assert switch.process_playback(frame).tolist() == frame.tolist()
    switch.mute(True, 1)
    assert sides(switch) == (True, True, True)
    switch.process_playback(frame)
    assert not switch.process_playback(frame).any()
    switch.mute(False, 0)
    assert sides(switch) == (False, False, False)
    faded_in = switch.process_capture(frame).astype(np.int64)
    assert faded_in[0] < 100 and faded_in[-1] == 5000
    assert switch.process_capture(frame).tolist() == frame.tolist()
    switch.mute(True, MuteDirection.SPEAKER)
    assert sides(switch) == (False, True, True)
    switch.mute(True)
    assert sides(switch) == (True, True, True)


def test_bad_mute_direction_is_refused() -> None:
    with pytest.raises(LocalProtocolError):
        MuteSwitch().mute(True, 3)


def test_defmute_maps_to_a_direction() -> None:
    assert [default_mute_direction(value) for value in range(6)] == [
        MuteDirection.BOTH,
        MuteDirection.SPEAKER,
        MuteDirection.MICROPHONE,
        MuteDirection.BOTH,
        MuteDirection.BOTH,
        None,
    ]
    with pytest.raises(LocalProtocolError):
        default_mute_direction(6)
