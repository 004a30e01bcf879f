"""Noise suppression (``denoise``): a Wiener-style spectral gain over a tracked noise floor.

:class:`NoiseSuppressor` cuts the signal into 20 ms blocks overlapping by
half (a 10 ms hop), weights each with a square-root Hann window, and per
FFT bin

* tracks the noise power by *minimum statistics*: the smoothed periodogram's
  minimum over about 1.5 s (eight sub-windows, so the estimate follows a
  rising noise floor within that time), scaled up by a bias factor, since a
  minimum sits below the mean;
* estimates the a-priori SNR *decision-directed* (mostly the previous
  block's cleaned power, a little of this block's excess power), which
  smooths the gains over time and keeps musical noise down;
* applies the Wiener gain ``snr / (1 + snr)``, never below the gain floor
  of ``-level`` dB.

The blocks are windowed again and overlap-added (square-root Hann twice at
50 % overlap sums to one, so with unit gains the input comes out intact).
Frames of any length go in and the same length comes out; input is
buffered internally, and the output lags the input by :attr:`delay_samples`
(one hop, 10 ms, when the first frame is a whole number of hops, as 20 ms
frames are; otherwise one sample less than two hops, and it grows only if
later frames are so irregular that output would run short).  Digital
silence in gives digital silence out.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.frames import AudioFrame, as_frame
from sansip.errors import LocalProtocolError

__all__ = ["DEFAULT_SUPPRESSION_DB", "NoiseSuppressor"]

#: Default ``level``: at most this many dB of attenuation in any bin.
DEFAULT_SUPPRESSION_DB: Final = 20.0
#: Sub-windows of the minimum search and their length in seconds.
_MIN_WINDOWS: Final = 8
_MIN_WINDOW_SECONDS: Final = 0.19
#: Noise power estimate over the minimum of the smoothed periodogram.  The
#: mean is about 2.7 times the minimum for these settings; a smaller factor
#: subtracts a little less noise and distorts speech less.
_MIN_BIAS: Final = 2.0
#: Time constant of the periodogram smoothing the minimum search runs on.
_POWER_TIME: Final = 0.04
#: Weight of the previous block's cleaned power in the a-priori SNR.
_DECISION_DIRECTED: Final = 0.92
#: No bin's noise power is taken as smaller than this (int16 units squared).
_TINY_POWER: Final = 1e-6


class NoiseSuppressor:
    """Streaming spectral noise suppression; ``process(frame)`` keeps the frame size.

    ``level`` is the largest attenuation in dB any frequency gets (the gain
    floor is ``-level`` dB; 0 passes the signal through, only delayed);
    ``window`` is the analysis block length in seconds (20 ms).
    """

    def __init__(
        self,
        rate: int,
        *,
        level: float = DEFAULT_SUPPRESSION_DB,
        window: float = 0.020,
    ) -> None:
        if rate <= 0:
            raise LocalProtocolError(f"bad sample rate {rate!r}")
        if not (math.isfinite(level) and 0.0 <= level <= 60.0):
            raise LocalProtocolError(f"suppression level must be 0-60 dB, not {level!r}")
        size = 2 * round(window * rate / 2)
        if not (math.isfinite(window) and window > 0 and size >= 8):
            raise LocalProtocolError(f"bad analysis window {window!r} s at {rate} Hz")
        self.rate = rate
        self.level = float(level)
        self.block_size = size
        self.hop = size // 2
        index = np.arange(size, dtype=np.float64)
        self._window: NDArray[np.float64] = np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * index / size))
        self._floor = 10.0 ** (-self.level / 20.0)
        hop_seconds = self.hop / rate
        self._power_weight = math.exp(-hop_seconds / _POWER_TIME)
        self._min_window_blocks = max(1, round(_MIN_WINDOW_SECONDS / hop_seconds))
        self.reset()

    def reset(self) -> None:
        """Forget the noise estimate and the buffered signal (the delay starts afresh)."""
        bins = self.hop + 1
        self._analysis = np.zeros(self.block_size)
        self._overlap = np.zeros(self.hop)
        self._pending = np.zeros(0)
        self._ready = np.zeros(0)
        self._padding: int | None = None
        self._smoothed: NDArray[np.float64] | None = None
        self._current_min = np.full(bins, np.inf)
        self._window_mins = np.full((_MIN_WINDOWS, bins), np.inf)
        self._blocks_in_window = 0
        self._noise = np.zeros(bins)
        self._clean_power = np.zeros(bins)

    @property
    def delay_samples(self) -> int:
        """How many samples the output lags the input (known after the first frame)."""
        return self.hop + (self._padding or 0)

    @property
    def noise_power(self) -> NDArray[np.float64]:
        """The current noise power estimate per FFT bin (a copy)."""
        return self._noise.copy()

    def process(self, frame: ArrayLike) -> AudioFrame:
        """The frame ``delay_samples`` ago, noise-suppressed (same length as ``frame``)."""
        samples = as_frame(frame)
        count = samples.size
        if self._padding is None:
            self._padding = 0 if count % self.hop == 0 else self.hop - 1
            self._ready = np.zeros(self._padding)
        pending = np.concatenate((self._pending, samples.astype(np.float64)))
        blocks = pending.size // self.hop
        hop = self.hop
        outputs = [self._ready]
        outputs += [self._process_hop(pending[i * hop : (i + 1) * hop]) for i in range(blocks)]
        self._pending = pending[blocks * hop :]
        ready = np.concatenate(outputs)
        if ready.size < count:  # irregular frame sizes: delay grows by the shortfall
            shortfall = count - ready.size
            self._padding += shortfall
            ready = np.concatenate((np.zeros(shortfall), ready))
        self._ready = ready[count:]
        out: AudioFrame = np.clip(np.rint(ready[:count]), -32768, 32767).astype(np.int16)
        return out

    def _process_hop(self, chunk: NDArray[np.float64]) -> NDArray[np.float64]:
        hop = self.hop
        self._analysis = np.concatenate((self._analysis[hop:], chunk))
        if not self._analysis.any() and not self._overlap.any():
            self._track_noise(np.zeros(hop + 1))
            self._clean_power[:] = 0.0
            return np.zeros(hop)
        spectrum = np.fft.rfft(self._analysis * self._window)
        power = spectrum.real**2 + spectrum.imag**2
        self._track_noise(power)
        gains = self._gains(power)
        block = np.fft.irfft(spectrum * gains, self.block_size) * self._window
        out = self._overlap + block[:hop]
        self._overlap = block[hop:]
        return out

    def _track_noise(self, power: NDArray[np.float64]) -> None:
        if self._smoothed is None:
            self._smoothed = power.copy()
        else:
            weight = self._power_weight
            self._smoothed = weight * self._smoothed + (1.0 - weight) * power
        np.minimum(self._current_min, self._smoothed, out=self._current_min)
        self._blocks_in_window += 1
        if self._blocks_in_window >= self._min_window_blocks:
            self._window_mins = np.roll(self._window_mins, 1, axis=0)
            self._window_mins[0] = self._current_min
            self._current_min = self._smoothed.copy()
            self._blocks_in_window = 0
        minimum = np.minimum(self._window_mins.min(axis=0), self._current_min)
        self._noise = _MIN_BIAS * minimum

    def _gains(self, power: NDArray[np.float64]) -> NDArray[np.float64]:
        noise = np.maximum(self._noise, _TINY_POWER)
        posterior = power / noise
        prior = _DECISION_DIRECTED * self._clean_power / noise + (
            1.0 - _DECISION_DIRECTED
        ) * np.maximum(posterior - 1.0, 0.0)
        gains = np.maximum(prior / (1.0 + prior), self._floor)
        self._clean_power = gains * gains * power
        result: NDArray[np.float64] = gains
        return result
