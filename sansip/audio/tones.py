"""Tone generators as frame sources: steady tones, cadences, DTMF digit strings.

Levels are in dBFS referenced to a full-scale sine (AES17): a sine at
``level_dbfs`` has a peak of ``32767 * 10 ** (level_dbfs / 20)`` and
:func:`sansip.audio.analysis.rms_dbfs` reads it back as ``level_dbfs``.  Each
component of a dual tone gets that level.  Phase is continuous across frames
(one accumulator per frequency), so frames join without clicks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sansip.audio.frames import DEFAULT_FRAME_DURATION, AudioFrame, frame_samples
from sansip.errors import LocalProtocolError

__all__ = [
    "BUSY",
    "DTMF_FREQUENCIES",
    "RINGBACK",
    "CadenceSource",
    "DtmfSource",
    "ToneSource",
    "busy_tone",
    "dbfs_to_peak",
    "ringback_tone",
]

#: ITU-T Q.23 keypad frequencies: digit -> (low group Hz, high group Hz).
DTMF_FREQUENCIES: Final[dict[str, tuple[float, float]]] = {
    digit: (low, high)
    for row, low in zip(("123A", "456B", "789C", "*0#D"), (697.0, 770.0, 852.0, 941.0), strict=True)
    for digit, high in zip(row, (1209.0, 1336.0, 1477.0, 1633.0), strict=True)
}


@dataclass(frozen=True, slots=True)
class CallProgressTone:
    """A call-progress tone: frequencies and an on/off cadence in seconds."""

    frequencies: tuple[float, ...]
    cadence: tuple[tuple[float, float], ...]


#: Ringback (alerting) tones by region.
RINGBACK: Final[dict[str, CallProgressTone]] = {
    "us": CallProgressTone((440.0, 480.0), ((2.0, 4.0),)),
    "eu": CallProgressTone((425.0,), ((1.0, 4.0),)),
    "uk": CallProgressTone((400.0, 450.0), ((0.4, 0.2), (0.4, 2.0))),
}
#: Busy tones by region.
BUSY: Final[dict[str, CallProgressTone]] = {
    "us": CallProgressTone((480.0, 620.0), ((0.5, 0.5),)),
    "eu": CallProgressTone((425.0,), ((0.5, 0.5),)),
    "uk": CallProgressTone((400.0,), ((0.375, 0.375),)),
}


def dbfs_to_peak(level_dbfs: float) -> float:
    """The peak amplitude of a sine at ``level_dbfs`` (0 dBFS is 32767)."""
    return 32767.0 * math.pow(10.0, level_dbfs / 20.0)


#: The longest exact period (samples) rendered from a precomputed table; a
#: tone whose period is longer (an irrational-looking frequency) is computed
#: frame by frame with phase accumulators instead.
_MAX_TABLE: Final = 96000


def _exact_period(frequencies: Sequence[float], rate: int) -> int | None:
    """Samples after which the sum of ``frequencies`` repeats exactly at ``rate``,
    or None when that is longer than :data:`_MAX_TABLE` (or not a simple fraction)."""
    period = 1
    for frequency in frequencies:
        fraction = Fraction(frequency).limit_denominator(1000)
        if float(fraction) != frequency:
            return None
        cycles_per_sample = fraction / rate
        period = math.lcm(period, cycles_per_sample.denominator)
        if period > _MAX_TABLE:
            return None
    return period


class _Oscillators:
    """Phase-continuous sum of sines, rendered a block at a time.

    When the sum repeats within :data:`_MAX_TABLE` samples (any integer
    frequency does within one second), one exact period is computed once and
    frames are cut from it; otherwise each block is computed with one phase
    accumulator per frequency.
    """

    def __init__(self, frequencies: Sequence[float], rate: int, level_dbfs: float) -> None:
        for frequency in frequencies:
            if not 0 < frequency < rate / 2:
                raise LocalProtocolError(f"{frequency} Hz is not below Nyquist at {rate} Hz")
        if level_dbfs > 0 or not math.isfinite(level_dbfs):
            raise LocalProtocolError(f"tone level must be <= 0 dBFS, not {level_dbfs}")
        self._steps = np.array([2 * math.pi * f / rate for f in frequencies])
        self._phases = np.zeros(len(self._steps))
        self._peak = dbfs_to_peak(level_dbfs)
        if len(self._steps) * self._peak > 32767:
            raise LocalProtocolError("the tones together would clip: lower the level")
        #: One exact period of the output (None: computed block by block).
        self.table: NDArray[np.float64] | None = None
        self._position = 0  # in the table
        period = _exact_period(frequencies, rate)
        if period is not None:
            self.table = self._exact_table(frequencies, rate, period)

    def _exact_table(
        self, frequencies: Sequence[float], rate: int, period: int
    ) -> NDArray[np.float64]:
        n = np.arange(period, dtype=np.int64)
        out = np.zeros(period)
        for frequency in frequencies:
            fraction = Fraction(frequency).limit_denominator(1000)
            modulus = fraction.denominator * rate
            # The phase in whole cycles, reduced exactly in integers first.
            cycles = (fraction.numerator * n) % modulus
            out += np.sin(2 * math.pi * cycles / modulus)
        return out * self._peak

    @property
    def position(self) -> int:
        """Where the next render starts in :attr:`table`."""
        return self._position

    def render(self, count: int) -> NDArray[np.float64]:
        """The next ``count`` samples (floats in the int16 range)."""
        if count <= 0:
            return np.zeros(max(count, 0))
        table = self.table
        if table is not None:
            period = len(table)
            start = self._position
            self._position = (start + count) % period
            if start + count <= period:
                return table[start : start + count].copy()
            return np.take(table, np.arange(start, start + count) % period)
        out = np.zeros(count)
        ramp = np.arange(count)
        for index, step in enumerate(self._steps):
            out += np.sin(self._phases[index] + step * ramp)
            self._phases[index] = (self._phases[index] + step * count) % (2 * math.pi)
        return out * self._peak

    def reset(self) -> None:
        """Start the next render at phase zero."""
        self._phases[:] = 0.0
        self._position = 0


def _to_int16(samples: NDArray[np.float64]) -> AudioFrame:
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


class ToneSource:
    """An endless steady tone: one or more frequencies summed, each at ``level_dbfs``."""

    def __init__(
        self,
        frequencies: float | Sequence[float],
        rate: int = 8000,
        *,
        level_dbfs: float = -10.0,
        frame_duration: float = DEFAULT_FRAME_DURATION,
    ) -> None:
        freqs = [float(frequencies)] if isinstance(frequencies, int | float) else list(frequencies)
        self.rate = rate
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self._oscillators = _Oscillators(freqs, rate, level_dbfs)
        # With an exact period: the int16 samples of one period followed by one
        # more frame, so that every frame is one slice.
        self._pcm: AudioFrame | None = None
        self._period = 0
        self._position = 0
        table = self._oscillators.table
        if table is not None:
            self._period = len(table)
            indexes = np.arange(self._period + self.samples_per_frame) % self._period
            self._pcm = _to_int16(table[indexes])

    def read(self, now: float | None = None) -> AudioFrame:
        """The next frame of the tone."""
        pcm = self._pcm
        if pcm is None:
            return _to_int16(self._oscillators.render(self.samples_per_frame))
        start = self._position
        count = self.samples_per_frame
        self._position = (start + count) % self._period
        return pcm[start : start + count].copy()


class CadenceSource:
    """A tone switched on and off by a repeating cadence of ``(on, off)`` seconds.

    With ``repeat=False`` the cadence plays once, then silence; ``finished``
    tells when it is over.
    """

    def __init__(
        self,
        frequencies: Sequence[float],
        cadence: Sequence[tuple[float, float]],
        rate: int = 8000,
        *,
        level_dbfs: float = -13.0,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        repeat: bool = True,
    ) -> None:
        if not cadence or any(on < 0 or off < 0 for on, off in cadence):
            raise LocalProtocolError("a cadence is a non-empty list of (on, off) >= 0 seconds")
        self.rate = rate
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self._oscillators = _Oscillators(frequencies, rate, level_dbfs)
        # Sample offsets where the tone switches: [on0, off0, on1, off1, ...] cumulated.
        edges = np.cumsum([round(seconds * rate) for pair in cadence for seconds in pair])
        self._edges = edges
        self._cycle = int(edges[-1])
        if self._cycle <= 0:
            raise LocalProtocolError("the cadence lasts no time at all")
        self._repeat = repeat
        self._position = 0  # samples rendered so far

    @property
    def finished(self) -> bool:
        """True once a non-repeating cadence has played out."""
        return not self._repeat and self._position >= self._cycle

    def read(self, now: float | None = None) -> AudioFrame:
        """The next frame: tone where the cadence is on, silence elsewhere."""
        count = self.samples_per_frame
        positions = self._position + np.arange(count)
        within = positions % self._cycle
        on = (np.searchsorted(self._edges, within, side="right") % 2) == 0
        if not self._repeat:
            on &= positions < self._cycle
        self._position += count
        return _to_int16(self._oscillators.render(count) * on)


def ringback_tone(
    region: str = "us", rate: int = 8000, *, level_dbfs: float = -13.0
) -> CadenceSource:
    """The ringback (alerting) tone of ``region`` (``us``, ``eu`` or ``uk``)."""
    tone = _lookup(RINGBACK, region)
    return CadenceSource(tone.frequencies, tone.cadence, rate, level_dbfs=level_dbfs)


def busy_tone(region: str = "us", rate: int = 8000, *, level_dbfs: float = -13.0) -> CadenceSource:
    """The busy tone of ``region`` (``us``, ``eu`` or ``uk``)."""
    tone = _lookup(BUSY, region)
    return CadenceSource(tone.frequencies, tone.cadence, rate, level_dbfs=level_dbfs)


def _lookup(table: dict[str, CallProgressTone], region: str) -> CallProgressTone:
    try:
        return table[region.lower()]
    except KeyError:
        raise LocalProtocolError(f"no tone for region {region!r}: {sorted(table)}") from None


class DtmfSource:
    """Plays a digit string as DTMF tones, then silence.

    Each digit (``0-9 * # A-D``) sounds for ``duration`` seconds followed by
    ``gap`` seconds of silence; a ``,`` is a pause of ``pause`` seconds.
    ``finished`` is True once everything has been played.
    """

    def __init__(
        self,
        digits: str,
        rate: int = 8000,
        *,
        duration: float = 0.1,
        gap: float = 0.05,
        pause: float = 0.5,
        level_dbfs: float = -10.0,
        frame_duration: float = DEFAULT_FRAME_DURATION,
    ) -> None:
        if duration <= 0 or gap < 0 or pause < 0:
            raise LocalProtocolError("DTMF duration must be > 0, gap and pause >= 0")
        self.rate = rate
        self.samples_per_frame = frame_samples(rate, frame_duration)
        # (first sample, last sample + 1, the digit's oscillators)
        self._segments: list[tuple[int, int, _Oscillators]] = []
        start = 0
        for digit in digits.upper():
            if digit == ",":
                start += round(pause * rate)
                continue
            if digit not in DTMF_FREQUENCIES:
                raise LocalProtocolError(f"{digit!r} is not a DTMF digit")
            length = round(duration * rate)
            oscillators = _Oscillators(DTMF_FREQUENCIES[digit], rate, level_dbfs)
            self._segments.append((start, start + length, oscillators))
            start += length + round(gap * rate)
        self._end = start
        self._position = 0

    @property
    def finished(self) -> bool:
        """True once the whole string has been played."""
        return self._position >= self._end

    def read(self, now: float | None = None) -> AudioFrame:
        """The next frame of the digit string (silence when done)."""
        count = self.samples_per_frame
        first, last = self._position, self._position + count
        out = np.zeros(count)
        for start, stop, oscillators in self._segments:
            if stop <= first or start >= last:
                continue
            lo, hi = max(start, first), min(stop, last)
            out[lo - first : hi - first] = oscillators.render(hi - lo)
        self._position = last
        return _to_int16(out)
