"""Automatic gain control (``agc``): bring speech to a steady level without clipping.

:class:`AutomaticGainControl` works on frames of any length at any rate
(8000, 16000 and 48000 Hz in the pipeline).  Per frame it

1. decides whether the frame holds speech: an energy gate (the frame level
   must stand ``gate_db`` above a tracked noise floor and above
   ``min_speech_dbfs``; anything louder than the target always counts), or
   the caller's ``speech`` hint when one is given;
2. on speech only, updates a long-term speech level (power averaged with a
   ``level_time`` time constant) and moves the gain towards
   ``target_dbfs - level``: up slowly (``increase_db_per_s``), down fast
   (``decrease_db_per_s``), within ``min_gain_db``..``max_gain_db``.  In
   silence the gain is frozen, so background noise is not pumped up;
3. applies the gain, ramping from the previous frame's gain across the
   frame, then a peak limiter: a soft-knee curve (``knee_db`` wide, ending
   at ``limit_dbfs``) whose gain reductions are spread over a short
   look-ahead inside the frame and released at ``limiter_release_db_per_s``.
   Output never exceeds ``limit_dbfs`` peak, so it never clips.

Levels are dBFS referenced to a full-scale sine, like
:mod:`sansip.audio.analysis`.  No delay is added.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from sansip.audio.frames import AudioFrame, as_frame
from sansip.errors import LocalProtocolError

__all__ = ["AutomaticGainControl"]

_FULL_SCALE: Final = 32767.0
_SINE_POWER: Final = _FULL_SCALE * _FULL_SCALE / 2.0
#: Levels are never reported below this (digital silence).
_LEVEL_FLOOR_DB: Final = -120.0


def _frame_level_db(samples: NDArray[np.float64]) -> float:
    """Mean power of ``samples`` in dBFS (sine-referenced), floored at -120."""
    if samples.size == 0:
        return _LEVEL_FLOOR_DB
    power = float(np.dot(samples, samples)) / samples.size
    if power <= 0.0:
        return _LEVEL_FLOOR_DB
    return max(10.0 * math.log10(power / _SINE_POWER), _LEVEL_FLOOR_DB)


class AutomaticGainControl:
    """Speech-gated automatic gain control with a look-ahead soft-knee limiter.

    ``process(frame, speech=None)`` returns a new int16 frame of the same
    length.  ``speech`` overrides the internal activity gate when given
    (e.g. from a voice activity detector).
    """

    def __init__(
        self,
        rate: int,
        *,
        target_dbfs: float = -18.0,
        max_gain_db: float = 30.0,
        min_gain_db: float = -20.0,
        increase_db_per_s: float = 10.0,
        decrease_db_per_s: float = 40.0,
        level_time: float = 0.4,
        gate_db: float = 9.0,
        min_speech_dbfs: float = -60.0,
        noise_rise_db_per_s: float = 3.0,
        limit_dbfs: float = -1.0,
        knee_db: float = 6.0,
        lookahead: float = 0.0015,
        limiter_release_db_per_s: float = 200.0,
    ) -> None:
        values = (target_dbfs, max_gain_db, min_gain_db, limit_dbfs, min_speech_dbfs)
        if rate <= 0:
            raise LocalProtocolError(f"bad sample rate {rate!r}")
        if not all(math.isfinite(value) for value in values):
            raise LocalProtocolError("AGC levels and gains must be finite")
        if not min_gain_db <= 0.0 <= max_gain_db:
            raise LocalProtocolError("AGC needs min_gain_db <= 0 <= max_gain_db")
        if not limit_dbfs <= 0.0 or not target_dbfs < limit_dbfs:
            raise LocalProtocolError("AGC needs target_dbfs < limit_dbfs <= 0")
        rates = (increase_db_per_s, decrease_db_per_s, level_time, noise_rise_db_per_s)
        if not all(math.isfinite(value) and value > 0 for value in rates):
            raise LocalProtocolError("AGC rates and times must be positive")
        if not (0.0 < knee_db <= 24.0 and 0.0 <= lookahead <= 0.01 and gate_db >= 0):
            raise LocalProtocolError("bad AGC knee, look-ahead or gate")
        if not limiter_release_db_per_s > 0:
            raise LocalProtocolError("limiter release must be positive")
        self.rate = rate
        self.target_dbfs = float(target_dbfs)
        self.max_gain_db = float(max_gain_db)
        self.min_gain_db = float(min_gain_db)
        self.increase_db_per_s = float(increase_db_per_s)
        self.decrease_db_per_s = float(decrease_db_per_s)
        self.level_time = float(level_time)
        self.gate_db = float(gate_db)
        self.min_speech_dbfs = float(min_speech_dbfs)
        self.noise_rise_db_per_s = float(noise_rise_db_per_s)
        self.limit_dbfs = float(limit_dbfs)
        self.knee_db = float(knee_db)
        self._lookahead = max(1, round(lookahead * rate))
        self._release_per_sample = float(limiter_release_db_per_s) / rate
        self.reset()

    def reset(self) -> None:
        """Forget everything learned: unity gain, no level, no noise floor."""
        self._gain_db = 0.0
        self._level_power: float | None = None
        self._noise_floor_db: float | None = None
        self._speech = False
        self._limiter_history = np.ones(self._lookahead - 1)
        self._limiter_db = 0.0

    @property
    def gain_db(self) -> float:
        """The slow (AGC) gain in dB, without the limiter."""
        return self._gain_db

    @property
    def level_dbfs(self) -> float | None:
        """The long-term speech level estimate of the input, None before any speech."""
        if self._level_power is None:
            return None
        return max(10.0 * math.log10(max(self._level_power, 1e-30) / _SINE_POWER), -120.0)

    @property
    def noise_floor_dbfs(self) -> float | None:
        """The tracked noise floor of the input, None before the first frame."""
        return self._noise_floor_db

    @property
    def speech(self) -> bool:
        """Whether the last frame counted as speech."""
        return self._speech

    def process(self, frame: ArrayLike, speech: bool | None = None) -> AudioFrame:
        """``frame`` with the gain applied and limited (a new int16 frame)."""
        samples = as_frame(frame).astype(np.float64)
        count = samples.size
        if count == 0:
            return np.zeros(0, dtype=np.int16)
        seconds = count / self.rate
        level_db = _frame_level_db(samples)
        self._track_noise(level_db, seconds)
        if speech is None:
            speech = self._gate(level_db)
        self._speech = bool(speech)
        previous_gain_db = self._gain_db
        if self._speech:
            self._update_gain(level_db, seconds)
        start = 10.0 ** (previous_gain_db / 20.0)
        end = 10.0 ** (self._gain_db / 20.0)
        if start == end:
            boosted = samples * end
        else:
            ramp = np.linspace(start, end, count + 1)[1:]
            boosted = samples * ramp
        limited = boosted * self._limiter_gains(boosted)
        out: AudioFrame = np.clip(np.rint(limited), -32768, 32767).astype(np.int16)
        return out

    # -- level, gate and gain --------------------------------------------------------

    def _track_noise(self, level_db: float, seconds: float) -> None:
        floor = self._noise_floor_db
        if floor is None or level_db <= floor:
            self._noise_floor_db = level_db
        else:
            self._noise_floor_db = min(floor + self.noise_rise_db_per_s * seconds, level_db)

    def _gate(self, level_db: float) -> bool:
        if level_db > self.target_dbfs:
            return True
        floor = self._noise_floor_db if self._noise_floor_db is not None else level_db
        return level_db > self.min_speech_dbfs and level_db > floor + self.gate_db

    def _update_gain(self, level_db: float, seconds: float) -> None:
        power = _SINE_POWER * 10.0 ** (level_db / 10.0)
        if self._level_power is None:
            self._level_power = power
        else:
            weight = 1.0 - math.exp(-seconds / self.level_time)
            self._level_power += weight * (power - self._level_power)
        estimate = self.level_dbfs
        assert estimate is not None
        wanted = min(max(self.target_dbfs - estimate, self.min_gain_db), self.max_gain_db)
        step = wanted - self._gain_db
        if step > 0:
            step = min(step, self.increase_db_per_s * seconds)
        else:
            step = max(step, -self.decrease_db_per_s * seconds)
        self._gain_db += step

    # -- limiter -----------------------------------------------------------------------

    def _limiter_gains(self, boosted: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per-sample limiter gains (<= 1) keeping ``boosted`` under ``limit_dbfs`` peak."""
        knee, limit = self.knee_db, self.limit_dbfs
        peak_db = 20.0 * np.log10(np.maximum(np.abs(boosted), 1e-3) / _FULL_SCALE)
        over = peak_db - (limit - knee / 2.0)
        reduction_db = np.where(
            over <= 0.0,
            0.0,
            np.where(over < knee, -(over * over) / (2.0 * knee), limit - peak_db),
        )
        needed = 10.0 ** (reduction_db / 20.0)
        span = self._lookahead
        extended = np.concatenate((self._limiter_history, needed))
        if span > 1:
            self._limiter_history = extended[-(span - 1) :]
            padded = np.concatenate((extended, np.ones(span - 1)))
            ahead_min = sliding_window_view(padded, span).min(axis=1)
            smoothed = np.convolve(ahead_min, np.full(span, 1.0 / span), mode="valid")
            smoothed = np.minimum(smoothed, needed)
        else:
            smoothed = needed
        smoothed_db = 20.0 * np.log10(np.maximum(smoothed, 1e-12))
        steps = self._release_per_sample * np.arange(smoothed_db.size, dtype=np.float64)
        start = self._limiter_db + self._release_per_sample
        released = np.minimum.accumulate(np.concatenate(([start], smoothed_db - steps)))[1:]
        gains_db = np.minimum(released + steps, 0.0)
        self._limiter_db = float(gains_db[-1])
        gains: NDArray[np.float64] = 10.0 ** (gains_db / 20.0)
        return gains
