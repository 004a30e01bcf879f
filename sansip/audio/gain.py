"""Volume and mute: the percent scale of ``volumein``/``volumeout``/``volumering``.

Volume percentages map to a linear gain by :func:`volume_gain`:

* ``0`` % mutes (gain 0);
* ``50`` % leaves the signal unchanged (gain 1, 0 dB);
* from 50 % down to 1 % the gain falls linearly in decibels, 0.8 dB per
  percent, so 1 % is -39.2 dB;
* from 50 % up to 100 % it rises linearly in decibels, 0.24 dB per percent,
  so 100 % is +12 dB (a gain of about 3.98).

Percentages outside 0-100 are clamped.  :func:`apply_gain` scales one frame
and saturates to int16.  :class:`VolumeControl` does the same while ramping
from the old gain to the new one across a frame, so a volume change never
clicks.  :class:`MuteSwitch` mutes the capture (microphone) and playback
(speaker) sides separately with the direction codes of ``mute(state,
direction)``: ``0`` both, ``1`` speaker side, ``2`` microphone.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.frames import AudioFrame, as_frame
from sansip.errors import LocalProtocolError

__all__ = [
    "MAX_VOLUME_GAIN_DB",
    "MIN_VOLUME_GAIN_DB",
    "MuteDirection",
    "MuteSwitch",
    "VolumeControl",
    "apply_gain",
    "db_to_gain",
    "default_mute_direction",
    "gain_to_db",
    "volume_gain",
]

#: Gain at 100 % volume, in dB.
MAX_VOLUME_GAIN_DB: Final = 12.0
#: Gain at 1 % volume, in dB (0 % is a full mute).
MIN_VOLUME_GAIN_DB: Final = -39.2
_UNITY_PERCENT: Final = 50.0


def db_to_gain(db: float) -> float:
    """The linear amplitude gain of ``db`` decibels (``-inf`` gives 0)."""
    if math.isnan(db) or db == math.inf:
        raise LocalProtocolError(f"bad gain {db!r} dB")
    return 0.0 if db == -math.inf else 10.0 ** (db / 20.0)


def gain_to_db(gain: float) -> float:
    """The decibels of the linear amplitude ``gain`` (0 gives ``-inf``)."""
    if not math.isfinite(gain) or gain < 0:
        raise LocalProtocolError(f"bad gain {gain!r}")
    return -math.inf if gain == 0 else 20.0 * math.log10(gain)


def volume_gain(percent: float) -> float:
    """The linear gain of a volume of ``percent`` (0 mute, 50 unity, 100 = +12 dB).

    Values outside 0-100 are clamped; NaN raises :class:`LocalProtocolError`.
    """
    if math.isnan(percent):
        raise LocalProtocolError("volume percent is NaN")
    percent = min(max(float(percent), 0.0), 100.0)
    if percent == 0.0:
        return 0.0
    if percent <= _UNITY_PERCENT:
        fraction = (_UNITY_PERCENT - percent) / (_UNITY_PERCENT - 1.0)
        return db_to_gain(fraction * MIN_VOLUME_GAIN_DB)
    fraction = (percent - _UNITY_PERCENT) / (100.0 - _UNITY_PERCENT)
    return db_to_gain(fraction * MAX_VOLUME_GAIN_DB)


def _check_gain(gain: float) -> float:
    if not math.isfinite(gain) or gain < 0:
        raise LocalProtocolError(f"gain must be finite and >= 0, not {gain!r}")
    return float(gain)


def _saturate(samples: NDArray[np.float64]) -> AudioFrame:
    frame: AudioFrame = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
    return frame


def apply_gain(frame: ArrayLike, gain: float) -> AudioFrame:
    """A new frame: ``frame`` times the linear ``gain``, rounded and saturated to int16."""
    samples = as_frame(frame)
    gain = _check_gain(gain)
    if gain == 1.0:
        return np.array(samples, dtype=np.int16, copy=True)
    return _saturate(samples.astype(np.float64) * gain)


class _GainRamp:
    """A gain that moves to a new value linearly over one frame."""

    __slots__ = ("current", "target")

    def __init__(self, gain: float) -> None:
        self.current = gain
        self.target = gain

    def process(self, frame: ArrayLike) -> AudioFrame:
        samples = as_frame(frame)
        start, end = self.current, self.target
        self.current = end
        if start == end:
            if end == 1.0:
                return np.array(samples, dtype=np.int16, copy=True)
            return _saturate(samples.astype(np.float64) * end)
        count = len(samples)
        if count == 0:
            return np.array(samples, dtype=np.int16, copy=True)
        ramp = start + (end - start) * (np.arange(1, count + 1, dtype=np.float64) / count)
        return _saturate(samples.astype(np.float64) * ramp)


class VolumeControl:
    """A volume in percent applied to frames, ramping smoothly when it changes.

    ``process(frame)`` returns a new frame; after a change of ``percent``
    the next frame moves linearly from the old gain to the new one.
    """

    def __init__(self, percent: float = _UNITY_PERCENT) -> None:
        self._ramp = _GainRamp(volume_gain(percent))
        self._percent = min(max(float(percent), 0.0), 100.0)

    @property
    def percent(self) -> float:
        """The volume in percent (clamped to 0-100; 50 leaves the level unchanged)."""
        return self._percent

    @percent.setter
    def percent(self, percent: float) -> None:
        gain = volume_gain(percent)
        self._percent = min(max(float(percent), 0.0), 100.0)
        self._ramp.target = gain

    @property
    def gain(self) -> float:
        """The linear gain the volume asks for."""
        return self._ramp.target

    def process(self, frame: ArrayLike) -> AudioFrame:
        """``frame`` at this volume (a new int16 frame, saturated)."""
        return self._ramp.process(frame)


class MuteDirection(IntEnum):
    """Which side ``mute(state, direction)`` acts on."""

    BOTH = 0
    #: The speaker side: what the remote party sends us.
    SPEAKER = 1
    #: The microphone side: what we send.
    MICROPHONE = 2


def default_mute_direction(defmute: int) -> MuteDirection | None:
    """The direction the ``defmute`` setting selects, or None when muting is disabled.

    ``0``, ``3`` and ``4`` mean both, ``1`` the speaker side, ``2`` the
    microphone, ``5`` disables muting; other values raise.
    """
    table = {
        0: MuteDirection.BOTH,
        1: MuteDirection.SPEAKER,
        2: MuteDirection.MICROPHONE,
        3: MuteDirection.BOTH,
        4: MuteDirection.BOTH,
    }
    if defmute == 5:
        return None
    try:
        return table[defmute]
    except KeyError:
        raise LocalProtocolError(f"defmute must be 0-5, not {defmute!r}") from None


class MuteSwitch:
    """Separate mutes for the microphone (capture) and speaker (playback) sides.

    Muting or unmuting fades over the next frame of that side instead of
    cutting, so it does not click; a muted side then gives digital silence.
    """

    def __init__(self) -> None:
        self._capture = _GainRamp(1.0)
        self._playback = _GainRamp(1.0)

    def mute(self, state: bool, direction: int = MuteDirection.BOTH) -> None:
        """Mute (``state`` true) or unmute the side(s) ``direction`` names."""
        try:
            side = MuteDirection(direction)
        except ValueError:
            raise LocalProtocolError(
                f"mute direction must be 0, 1 or 2, not {direction!r}"
            ) from None
        gain = 0.0 if state else 1.0
        if side in (MuteDirection.BOTH, MuteDirection.MICROPHONE):
            self._capture.target = gain
        if side in (MuteDirection.BOTH, MuteDirection.SPEAKER):
            self._playback.target = gain

    @property
    def capture_muted(self) -> bool:
        """Whether the microphone side is muted."""
        return self._capture.target == 0.0

    @property
    def playback_muted(self) -> bool:
        """Whether the speaker side is muted."""
        return self._playback.target == 0.0

    @property
    def muted(self) -> bool:
        """Whether either side is muted."""
        return self.capture_muted or self.playback_muted

    def process_capture(self, frame: ArrayLike) -> AudioFrame:
        """A microphone frame after the capture mute (a new frame)."""
        return self._capture.process(frame)

    def process_playback(self, frame: ArrayLike) -> AudioFrame:
        """A speaker frame after the playback mute (a new frame)."""
        return self._playback.process(frame)
