"""In-band DTMF: a streaming detector to ITU-T Q.24 tolerances, and a test-tone generator.

The detector slides a 20 ms Hann window along the signal in 2.5 ms hops and,
at every hop, takes the single-bin DFT (what a Goertzel filter computes) at
the eight Q.23 frequencies and at their second harmonics; all sixteen bins of
all the hops a frame completes are one matrix product.  For each hop it then
picks the strongest row and column tone and measures

- their true frequencies, from the phase advance of each bin between hops
  (averaged over 10 ms), so that a tone 1.5 % off its nominal frequency is
  accepted and one 3.5 % off is rejected (the limit is ``max_deviation``);
- their amplitudes (corrected for the window's response at that offset), so
  each must be above ``min_level_dbfs`` and the twist within limits: the low
  (row) tone at most ``max_normal_twist_db`` above the high one, the high
  tone at most ``max_reverse_twist_db`` above the low one;
- how much of the window's energy (DC removed) the two tones hold:
  everything else counts as noise and must be ``min_snr_db`` below them;
- the second harmonic of each tone, after removing what the two tones
  themselves leak into those bins: voice is rich in harmonics, a DTMF
  generator is not, so a harmonic within ``max_harmonic_db`` of its
  fundamental marks speech.

A hop passing every check is *strong*.  A digit starts on a strong hop; it
lasts while hops keep the same row and column, within the frequency limit,
at no less than half the digit's peak amplitude (those hops are *on*),
bridging interruptions of up to ``max_interruption``.  Because the window is
symmetric, the on hops are those whose centre lies inside the tone, so their
span measures the tone's duration to one hop.  A digit is reported
(:class:`DtmfDigitDetected`) once that span reaches ``min_duration`` (less
one hop) and at least three hops were strong, and again when it ends
(:class:`DtmfDigitEnded`, with its duration).  A long tone is one digit; a
pause longer than ``max_interruption`` separates two.

With the defaults: tones of 40 ms or more are detected, tones under 33 ms
never are; each tone must be at or above -36 dBFS (about -33 dBm0 in G.711
terms, where 0 dBm0 is -3.14 dBFS), so -26 dBm0 (-29 dBFS) per tone is
detected with 7 dB to spare; pauses of 20 ms or more separate digits.
Times are seconds from the first sample fed: nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Final, TypeAlias

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from sansip.audio.frames import AudioFrame
from sansip.audio.tones import DTMF_FREQUENCIES, dbfs_to_peak
from sansip.errors import LocalProtocolError

__all__ = [
    "DtmfDetector",
    "DtmfDigitDetected",
    "DtmfDigitEnded",
    "DtmfEvent",
    "detect_digits",
    "dtmf_tone",
]

_ROWS: Final = (697.0, 770.0, 852.0, 941.0)
_COLUMNS: Final = (1209.0, 1336.0, 1477.0, 1633.0)
_FUNDAMENTALS: Final = np.array(_ROWS + _COLUMNS)
_PROBES: Final = np.concatenate((_FUNDAMENTALS, 2.0 * _FUNDAMENTALS))
_DIGITS: Final = {
    (_ROWS.index(low), _COLUMNS.index(high)): digit
    for digit, (low, high) in DTMF_FREQUENCIES.items()
}
_WINDOW: Final = 0.020  # seconds
_HOP: Final = 0.0025  # seconds
_SMOOTHING: Final = 4  # hop-to-hop phase steps averaged for a frequency
_MIN_STRONG: Final = 3  # strong hops a digit needs


@dataclass(frozen=True, slots=True)
class DtmfDigitDetected:
    """A DTMF digit has sounded for the minimum duration (it may still be going on)."""

    digit: str
    start: float  # seconds from the first sample fed


@dataclass(frozen=True, slots=True)
class DtmfDigitEnded:
    """A detected digit's tone stopped after ``duration`` seconds."""

    digit: str
    start: float
    duration: float


DtmfEvent: TypeAlias = DtmfDigitDetected | DtmfDigitEnded


@dataclass(slots=True)
class _Hops:
    """What the analysis found at a run of hops (one entry per hop)."""

    digit: list[str]
    near: NDArray[np.bool_]  # both tones within the frequency limit
    strong: NDArray[np.bool_]  # every check passed
    low: NDArray[np.float64]  # row tone amplitude
    high: NDArray[np.float64]  # column tone amplitude


@dataclass(slots=True)
class _Tone:
    """The digit being heard."""

    digit: str
    first_strong: int  # hop index
    first_on: int
    last_on: int
    peak_low: float
    peak_high: float
    strong: int = 1
    misses: int = 0
    reported: bool = False


def _geometric(angle: NDArray[np.float64], size: int) -> NDArray[np.complex128]:
    """``sum(exp(1j * angle * m) for m in range(size))``, elementwise."""
    half = np.sin(angle / 2)
    small = np.abs(half) < 1e-9
    ratio = np.sin(size * angle / 2) / np.where(small, 1.0, half)
    result: NDArray[np.complex128] = np.exp(0.5j * angle * (size - 1)) * np.where(
        small, float(size), ratio
    )
    return result


class DtmfDetector:
    """Streaming in-band DTMF detector (see the module docstring for the method).

    Feed frames of any length at ``rate`` Hz to :meth:`process`, which
    returns the events they complete; call :meth:`finish` at the end of the
    stream to close a digit still sounding.
    """

    def __init__(
        self,
        rate: int,
        *,
        min_level_dbfs: float = -36.0,
        max_normal_twist_db: float = 8.0,
        max_reverse_twist_db: float = 4.0,
        max_deviation: float = 0.025,
        min_snr_db: float = 8.0,
        max_harmonic_db: float = -15.0,
        min_duration: float = 0.040,
        max_interruption: float = 0.015,
    ) -> None:
        if not 8000 <= rate <= 192000:
            raise LocalProtocolError(f"DTMF detection needs a rate of 8000 Hz or more, not {rate}")
        if min_duration <= 0 or max_interruption < 0 or not 0 < max_deviation < 0.05:
            raise LocalProtocolError("bad DTMF duration, interruption or deviation limit")
        self.rate = rate
        self._size = round(rate * _WINDOW)
        self._hop = round(rate * _HOP)
        self._min_amplitude = dbfs_to_peak(min_level_dbfs)
        self._normal_twist = max_normal_twist_db
        self._reverse_twist = max_reverse_twist_db
        self._max_deviation = max_deviation
        self._min_snr = 10.0 ** (min_snr_db / 10.0)
        self._max_harmonic = 10.0 ** (max_harmonic_db / 20.0)
        self._min_span = max(1, round(min_duration / _HOP) - 1)  # hops, one spare
        self._max_misses = round(max_interruption / _HOP)
        n = np.arange(self._size)
        self._taps = np.hanning(self._size + 2)[1:-1]  # no zero end points
        self._weights_sum = float(np.sum(self._taps))
        self._squares = self._taps**2
        self._squares_sum = float(np.sum(self._squares))
        self._basis = self._taps[:, None] * np.exp(-2j * np.pi * np.outer(n, _PROBES) / rate)
        # Bin value of hop k+1 times conj(hop k), rotated back by one hop's phase.
        self._rotation = np.exp(-2j * np.pi * _FUNDAMENTALS * self._hop / rate)
        self._pending = np.zeros(self._size // 2)  # centres the first window on sample 0
        self._previous: NDArray[np.complex128] = np.zeros(
            (_SMOOTHING, len(_FUNDAMENTALS)), dtype=np.complex128
        )
        self._next_hop = 0
        self._tone: _Tone | None = None
        # Recent hops (index, digit, near, low, high): a tone's onset is found
        # looking back from its first strong hop.
        self._recent: deque[tuple[int, str, bool, float, float]] = deque(
            maxlen=self._size // self._hop + 4
        )

    @property
    def hop_seconds(self) -> float:
        """Time resolution of starts and durations."""
        return self._hop / self.rate

    def process(self, frame: ArrayLike) -> list[DtmfEvent]:
        """Analyse one frame; returns the digit events it completes."""
        samples = np.asarray(frame, dtype=np.float64)
        if samples.ndim != 1:
            raise LocalProtocolError(f"a frame is one-dimensional, not of shape {samples.shape}")
        self._pending = np.concatenate((self._pending, samples))
        count = (len(self._pending) - self._size) // self._hop + 1
        if count <= 0:
            return []
        windows = sliding_window_view(self._pending, self._size)[:: self._hop][:count]
        hops = self._analyse(windows)
        self._pending = self._pending[count * self._hop :]
        events: list[DtmfEvent] = []
        for offset in range(count):
            self._step(self._next_hop + offset, hops, offset, events)
        self._next_hop += count
        return events

    def finish(self) -> list[DtmfEvent]:
        """End of stream: analyse what is buffered and close a digit still sounding."""
        events = self.process(np.zeros(self._size // 2 + self._hop))
        if self._tone is not None:
            self._close(events)
        return events

    # -- analysis ------------------------------------------------------------

    def _response(self, offset_hz: NDArray[np.float64]) -> NDArray[np.complex128]:
        """The window's (complex) response to a tone ``offset_hz`` from a bin.

        The Hann taps are ``0.5 - 0.5 cos(b (m + 1))`` with ``b = 2 pi / (N + 1)``,
        so the response is three shifted geometric sums, each in closed form.
        """
        theta = 2 * np.pi * offset_hz / self.rate
        size = self._size
        step = 2 * np.pi / (size + 1)
        response: NDArray[np.complex128] = (
            0.5 * _geometric(theta, size)
            - 0.25 * np.exp(1j * step) * _geometric(theta + step, size)
            - 0.25 * np.exp(-1j * step) * _geometric(theta - step, size)
        )
        return response

    def _analyse(self, windows: NDArray[np.float64]) -> _Hops:
        bins = windows @ self._basis  # (hops, 16)
        count = len(bins)
        fundamentals = bins[:, :8]
        history = np.concatenate((self._previous, fundamentals)).astype(np.complex128)
        self._previous = history[-_SMOOTHING:]
        steps = history[1:] * np.conj(history[:-1]) * self._rotation
        running = np.cumsum(np.vstack((np.zeros((1, 8)), steps)), axis=0)
        smoothed = running[_SMOOTHING:] - running[:-_SMOOTHING]  # (hops, 8)
        magnitudes = np.abs(fundamentals)
        rows = np.argmax(magnitudes[:, :4], axis=1)
        columns = 4 + np.argmax(magnitudes[:, 4:], axis=1)
        chosen = np.stack((rows, columns), axis=1)  # (hops, 2)
        index = np.arange(count)[:, None]
        hz_per_radian = self.rate / (2 * np.pi * self._hop)
        offsets = np.angle(smoothed[index, chosen]) * hz_per_radian  # (hops, 2)
        near = np.all(np.abs(offsets) <= self._max_deviation * _FUNDAMENTALS[chosen], axis=1)
        tone_bins = fundamentals[index, chosen]
        gains = self._response(np.clip(offsets, -100.0, 100.0))
        amplitudes = 2.0 * np.abs(tone_bins) / np.maximum(np.abs(gains), 1e-3 * self._weights_sum)
        low, high = amplitudes[:, 0], amplitudes[:, 1]
        # Level and twist.
        loud = (low >= self._min_amplitude) & (high >= self._min_amplitude)
        twist_db = 20.0 * np.log10(np.maximum(low, 1e-9) / np.maximum(high, 1e-9))
        twist_ok = (twist_db <= self._normal_twist) & (-twist_db <= self._reverse_twist)
        # Signal to noise: the tones' share of the window's energy, DC removed.
        weighted = windows @ self._squares
        dc = (windows @ self._taps) / self._weights_sum
        energy = (windows**2) @ self._squares - 2 * dc * weighted + dc**2 * self._squares_sum
        tones = (low**2 + high**2) / 2.0 * self._squares_sum
        clean = tones >= self._min_snr * np.maximum(energy - tones, 0.0)
        # Second harmonics, less what the two tones leak into their bins.
        actual = _FUNDAMENTALS[chosen] + offsets  # (hops, 2)
        harmonic_ok = np.ones(count, dtype=np.bool_)
        for side in (0, 1):
            probe = 2.0 * _FUNDAMENTALS[chosen[:, side]]
            residue = bins[np.arange(count), 8 + chosen[:, side]]
            for source in (0, 1):
                leak = self._response(actual[:, source] - probe) / gains[:, source]
                residue = residue - tone_bins[:, source] * leak
            harmonic = 2.0 * np.abs(residue) / self._weights_sum
            harmonic_ok &= harmonic <= self._max_harmonic * amplitudes[:, side]
        strong = near & loud & twist_ok & clean & harmonic_ok
        digits = [_DIGITS[(int(r), int(c) - 4)] for r, c in zip(rows, columns, strict=True)]
        return _Hops(digits, near, strong, low, high)

    # -- decision ------------------------------------------------------------

    def _step(self, hop: int, hops: _Hops, i: int, events: list[DtmfEvent]) -> None:
        """Advance the digit state machine by one hop."""
        tone = self._tone
        digit, strong = hops.digit[i], bool(hops.strong[i])
        low, high = float(hops.low[i]), float(hops.high[i])
        self._recent.append((hop, digit, bool(hops.near[i]), low, high))
        if tone is not None and strong and digit != tone.digit:
            self._close(events)
            tone = None
        if tone is None:
            if strong:
                self._tone = _Tone(digit, hop, hop, hop, low, high)
                self._find_onset(self._tone)
            return
        on = (
            digit == tone.digit
            and bool(hops.near[i])
            and low >= 0.5 * tone.peak_low
            and high >= 0.5 * tone.peak_high
        )
        if strong:
            tone.strong += 1
            if low > tone.peak_low or high > tone.peak_high:
                tone.peak_low, tone.peak_high = max(tone.peak_low, low), max(tone.peak_high, high)
                if not tone.reported:
                    self._find_onset(tone)
        if on:
            tone.last_on, tone.misses = hop, 0
        else:
            tone.misses += 1
            if tone.misses > self._max_misses:
                self._close(events)
                return
        if not tone.reported and tone.strong >= _MIN_STRONG and self._span(tone) >= self._min_span:
            tone.reported = True
            events.append(DtmfDigitDetected(tone.digit, self._start(tone)))

    def _find_onset(self, tone: _Tone) -> None:
        """Move ``first_on`` back over the on hops just before the first strong one."""
        tone.first_on = tone.first_strong
        for hop, digit, near, low, high in reversed(self._recent):
            if hop >= tone.first_strong:
                continue
            if not (
                digit == tone.digit
                and near
                and low >= 0.5 * tone.peak_low
                and high >= 0.5 * tone.peak_high
                and hop == tone.first_on - 1
            ):
                break
            tone.first_on = hop

    def _span(self, tone: _Tone) -> int:
        return tone.last_on - tone.first_on + 1

    def _start(self, tone: _Tone) -> float:
        return (tone.first_on - 0.5) * self._hop / self.rate

    def _close(self, events: list[DtmfEvent]) -> None:
        tone = self._tone
        self._tone = None
        if tone is not None and tone.reported:
            duration = self._span(tone) * self._hop / self.rate
            events.append(DtmfDigitEnded(tone.digit, self._start(tone), duration))


def detect_digits(samples: ArrayLike, rate: int, **limits: float) -> str:
    """The DTMF digits in a whole signal, in order (``limits`` as for :class:`DtmfDetector`)."""
    detector = DtmfDetector(rate, **limits)
    events = detector.process(samples) + detector.finish()
    return "".join(event.digit for event in events if isinstance(event, DtmfDigitDetected))


def dtmf_tone(
    digit: str,
    rate: int,
    duration: float,
    level_dbfs: float = -10.0,
    twist_db: float = 0.0,
    *,
    deviation: float = 0.0,
) -> AudioFrame:
    """One DTMF digit's dual tone, ``duration`` seconds long.

    ``level_dbfs`` is the level of the louder tone; ``twist_db`` is the low
    (row) tone's level minus the high (column) tone's: positive is normal
    twist, negative reverse twist.  ``deviation`` shifts both frequencies by
    that fraction (0.015 is 1.5 % high), for testing detectors.  For a plain
    digit string with pauses, :class:`sansip.audio.tones.DtmfSource` plays
    frames.
    """
    key = digit.upper()
    if key not in DTMF_FREQUENCIES:
        raise LocalProtocolError(f"{digit!r} is not a DTMF digit")
    if duration < 0 or not math.isfinite(duration) or not -0.2 < deviation < 0.2:
        raise LocalProtocolError("bad DTMF duration or deviation")
    if level_dbfs > 0 or not math.isfinite(level_dbfs) or not math.isfinite(twist_db):
        raise LocalProtocolError(f"bad DTMF level {level_dbfs} dBFS or twist {twist_db} dB")
    low_hz, high_hz = (f * (1.0 + deviation) for f in DTMF_FREQUENCIES[key])
    if high_hz >= rate / 2:
        raise LocalProtocolError(f"DTMF tones do not fit below Nyquist at {rate} Hz")
    low_level = level_dbfs - max(-twist_db, 0.0)
    high_level = level_dbfs - max(twist_db, 0.0)
    low_peak, high_peak = dbfs_to_peak(low_level), dbfs_to_peak(high_level)
    if low_peak + high_peak > 32767.0:
        raise LocalProtocolError("the two tones together would clip: lower the level")
    t = np.arange(round(duration * rate)) / rate
    wave = low_peak * np.sin(2 * np.pi * low_hz * t) + high_peak * np.sin(2 * np.pi * high_hz * t)
    return np.clip(np.rint(wave), -32768, 32767).astype(np.int16)
