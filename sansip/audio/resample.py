"""Sample-rate conversion: a streaming polyphase FIR resampler.

The converter interpolates by ``L`` and decimates by ``M`` (``out/in = L/M``
in lowest terms, e.g. 6/1 for 8 kHz -> 48 kHz, 160/147 for 44.1 kHz ->
48 kHz) without ever building the ``L`` times faster signal: one lowpass
prototype at the common rate ``L * in_rate`` is split into ``L`` phases of
``K`` taps, and each output sample is the dot product of one phase with the
last ``K`` input samples.

The prototype is a windowed sinc (Kaiser window) whose passband ends at a
fraction of the *lower* Nyquist frequency and whose stopband starts at that
Nyquist frequency, so nothing above the output Nyquist folds back when
decimating and no spectral images survive when interpolating.  Its length is
chosen so that the group delay is a whole number of output samples
(:attr:`Resampler.delay`).

Streaming: input history and position are carried between calls, so feeding
a signal frame by frame gives the same samples as feeding it at once.  After
``n`` input samples :meth:`Resampler.process` has returned exactly
``ceil(n * out_rate / in_rate)`` samples in total (the output/input ratio is
exact on average, frame sizes may differ by one); the output lags the input
by ``delay`` samples, and :meth:`Resampler.flush` returns those last
``delay`` samples.  :func:`resample` is the one-shot form with the delay
removed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import NDArray

from sansip.errors import LocalProtocolError

__all__ = ["QUALITIES", "SUPPORTED_RATES", "Resampler", "resample"]

#: Sample rates the converter takes in and gives out (any pair).
SUPPORTED_RATES: Final = (8000, 12000, 16000, 24000, 32000, 44100, 48000)
_CHUNK: Final = 4096  # input samples converted at a time
_GATHER_FLOATS: Final = 8192  # floats in one block of gathered windows


@dataclass(frozen=True, slots=True)
class FilterQuality:
    """Lowpass specification, in fractions of the lower of the two Nyquist frequencies."""

    passband: float
    stopband: float
    attenuation_db: float


#: ``quality`` presets: ``voip`` keeps 0-0.85 of the lower Nyquist flat and
#: attenuates from that Nyquist up by 80 dB; ``fast`` is shorter, ``high`` sharper.
QUALITIES: Final[dict[str, FilterQuality]] = {
    "fast": FilterQuality(passband=0.75, stopband=1.0, attenuation_db=60.0),
    "voip": FilterQuality(passband=0.85, stopband=1.0, attenuation_db=80.0),
    "high": FilterQuality(passband=0.90, stopband=1.0, attenuation_db=100.0),
}


@dataclass(frozen=True, slots=True)
class _Design:
    """A prototype filter split into phases, with what the converter needs to run it."""

    up: int  # L
    down: int  # M
    taps: int  # K, per phase
    delay: int  # group delay in output samples
    phases: NDArray[np.float64]  # (L, K): phase p, taps in ascending input time


def _kaiser_beta(attenuation_db: float) -> float:
    """Kaiser's empirical beta for a stopband attenuation (dB)."""
    if attenuation_db > 50.0:
        return 0.1102 * (attenuation_db - 8.7)
    if attenuation_db >= 21.0:
        excess = attenuation_db - 21.0
        return 0.5842 * math.pow(excess, 0.4) + 0.07886 * excess
    return 0.0


@lru_cache(maxsize=64)
def _design(in_rate: int, out_rate: int, quality: str) -> _Design:
    """The polyphase filter for converting ``in_rate`` to ``out_rate`` (cached, read-only)."""
    spec = QUALITIES[quality]
    common = math.gcd(in_rate, out_rate)
    up, down = out_rate // common, in_rate // common
    high_rate = up * in_rate  # the rate the prototype runs at
    nyquist = min(in_rate, out_rate) / 2.0
    f_pass, f_stop = spec.passband * nyquist, spec.stopband * nyquist
    cutoff = (f_pass + f_stop) / 2.0
    width = 2.0 * math.pi * (f_stop - f_pass) / high_rate  # rad/sample at the high rate
    wanted = math.ceil((spec.attenuation_db - 7.95) / (2.285 * width)) + 1
    # Length 2*M*D + 1 puts the centre tap on an output sample: delay D exactly.
    delay = max(1, math.ceil((wanted - 1) / (2 * down)))
    length = 2 * down * delay + 1
    centre = np.arange(length) - (length - 1) / 2.0
    prototype = np.sinc(2.0 * cutoff / high_rate * centre) * np.kaiser(
        length, _kaiser_beta(spec.attenuation_db)
    )
    prototype *= up / np.sum(prototype)  # unity gain after zero-stuffing by L
    taps = math.ceil(length / up)
    padded = np.zeros(taps * up)
    padded[:length] = prototype
    # padded[p + L*t] weighs input sample (base - t) for phase p; store t reversed
    # so a phase lines up with a window of inputs in ascending time.
    phases = np.ascontiguousarray(padded.reshape(taps, up).T[:, ::-1])
    phases.setflags(write=False)
    return _Design(up=up, down=down, taps=taps, delay=delay, phases=phases)


def _to_int16(samples: NDArray[np.float64]) -> NDArray[np.int16]:
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


def _windows(buffer: NDArray[np.float64], taps: int) -> NDArray[np.float64]:
    """Read-only view whose row ``r`` is ``buffer[r : r + taps]`` (cheaper to
    build than ``sliding_window_view``, which matters for 20 ms frames)."""
    stride = buffer.strides[0]
    shape = (len(buffer) - taps + 1, taps)
    view: NDArray[np.float64] = as_strided(buffer, shape, (stride, stride), writeable=False)
    return view


def _check_rate(rate: int) -> None:
    if rate not in SUPPORTED_RATES:
        raise LocalProtocolError(f"sample rate {rate!r} is not one of {SUPPORTED_RATES}")


class Resampler:
    """Streaming sample-rate converter from ``in_rate`` to ``out_rate`` Hz.

    ``quality`` is one of :data:`QUALITIES` (``"voip"`` by default).  Feed
    int16 frames of any length to :meth:`process`; call :meth:`flush` at the
    end of the stream to get the samples still inside the filter.  The output
    lags the input by :attr:`delay` output samples.
    """

    def __init__(self, in_rate: int, out_rate: int, *, quality: str = "voip") -> None:
        _check_rate(in_rate)
        _check_rate(out_rate)
        if quality not in QUALITIES:
            raise LocalProtocolError(f"quality {quality!r} is not one of {sorted(QUALITIES)}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.quality = quality
        self._passthrough = in_rate == out_rate
        self._design = _design(in_rate, out_rate, quality)
        self._history = np.zeros(self._design.taps - 1)
        self._inputs = 0  # input samples taken (modulo whole periods of M)
        self._outputs = 0  # output samples given (modulo whole periods of L)

    @property
    def delay(self) -> int:
        """Group delay in output samples: input at time t comes out at t + delay/out_rate."""
        return 0 if self._passthrough else self._design.delay

    @property
    def delay_seconds(self) -> float:
        """Group delay in seconds."""
        return self.delay / self.out_rate

    @property
    def taps_per_phase(self) -> int:
        """Filter taps each output sample costs."""
        return 1 if self._passthrough else self._design.taps

    def process(self, frame: NDArray[np.int16]) -> NDArray[np.int16]:
        """Convert one frame; returns the output samples it completes (may be empty)."""
        samples = np.asarray(frame)
        if samples.ndim != 1:
            raise LocalProtocolError(f"a frame is one-dimensional, not of shape {samples.shape}")
        if self._passthrough:
            return _to_int16(samples.astype(np.float64))
        design = self._design
        pieces: list[NDArray[np.float64]] = []
        # Long inputs go in chunks, to bound the memory the gathered windows take.
        for start in range(0, max(len(samples), 1), _CHUNK):
            chunk = samples[start : start + _CHUNK].astype(np.float64)
            first = self._outputs
            self._inputs += len(chunk)
            stop = -(-self._inputs * design.up // design.down)  # ceil(n * L / M)
            pieces.append(self._run(chunk, first, stop))
            self._outputs = stop
            self._normalise()
        return _to_int16(np.concatenate(pieces))

    def flush(self) -> NDArray[np.int16]:
        """The last :attr:`delay` samples (the filter's content), then start afresh."""
        if self._passthrough:
            return np.zeros(0, dtype=np.int16)
        design = self._design
        first, stop = self._outputs, self._outputs + design.delay
        needed = max((stop - 1) * design.down // design.up + 1 - self._inputs, 0)
        self._inputs += needed
        out = self._run(np.zeros(needed), first, stop)
        self.reset()
        return _to_int16(out)

    def reset(self) -> None:
        """Forget the stream: the next frame starts a new one."""
        self._history = np.zeros(self._design.taps - 1)
        self._inputs = 0
        self._outputs = 0

    def _run(self, new: NDArray[np.float64], first: int, stop: int) -> NDArray[np.float64]:
        """Outputs ``first`` .. ``stop - 1`` given ``new`` inputs; keeps the history."""
        design = self._design
        up, down, taps = design.up, design.down, design.taps
        window_start = self._inputs - len(new) - (taps - 1)  # input index of buffer[0]
        buffer = np.concatenate((self._history, new)) if len(new) else self._history
        if taps > 1:
            self._history = buffer[len(buffer) - (taps - 1) :].copy()
        count = stop - first
        if count <= 0:
            return np.zeros(0)
        windows = _windows(buffer, taps)  # row r: inputs window_start + r ...
        if down == 1 and first % up == 0 and count % up == 0:
            # Interpolation by L: every input yields L outputs, one per phase.
            row = first // up - window_start - (taps - 1)
            block = windows[row : row + count // up]
            result: NDArray[np.float64] = (block @ design.phases.T).reshape(-1)
            return result
        if up == 1:
            # Decimation by M: output m reads the window ending at input m * M.
            row = first * down - window_start - (taps - 1)
            block = windows[row : row + (count - 1) * down + 1 : down]
            decimated: NDArray[np.float64] = block @ design.phases[0]
            return decimated
        positions = np.arange(first, stop, dtype=np.int64) * down
        bases, phase = np.divmod(positions, up)
        rows = bases - window_start - (taps - 1)
        general = np.empty(count)
        # Gather in blocks small enough for the allocator to reuse (no page faults).
        per_block = max(1, _GATHER_FLOATS // taps)
        for start in range(0, count, per_block):
            part = slice(start, start + per_block)
            general[part] = np.einsum(
                "ij,ij->i", windows[rows[part]], design.phases[phase[part]], optimize=False
            )
        return general

    def _normalise(self) -> None:
        """Drop whole periods from the counters (phases repeat every L outputs / M inputs)."""
        periods = min(self._outputs // self._design.up, self._inputs // self._design.down)
        self._outputs -= periods * self._design.up
        self._inputs -= periods * self._design.down


def resample(samples: NDArray[np.int16], in_rate: int, out_rate: int) -> NDArray[np.int16]:
    """``samples`` converted from ``in_rate`` to ``out_rate`` at ``voip`` quality.

    The result is time-aligned with the input (the filter delay is removed)
    and has ``ceil(len(samples) * out_rate / in_rate)`` samples; it equals
    the output of a :class:`Resampler` fed the same samples in frames, from
    ``delay`` on.
    """
    converter = Resampler(in_rate, out_rate)
    streamed = np.concatenate((converter.process(samples), converter.flush()))
    return streamed[converter.delay :]
