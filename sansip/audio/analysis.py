"""Signal checks for demos and interop tests: frequency, level, tones, DTMF digits.

Levels are dBFS referenced to a full-scale sine (AES17), matching
:mod:`sansip.audio.tones`: a sine at ``level_dbfs`` reads ``level_dbfs``.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.tones import DTMF_FREQUENCIES
from sansip.errors import LocalProtocolError

__all__ = ["detect_dtmf", "dominant_frequency", "goertzel_power", "rms_dbfs", "tone_present"]

_FULL_SCALE_SINE_RMS: Final = 32767.0 / math.sqrt(2.0)
_LOW_GROUP: Final = (697.0, 770.0, 852.0, 941.0)
_HIGH_GROUP: Final = (1209.0, 1336.0, 1477.0, 1633.0)
_KEYPAD: Final = {freqs: digit for digit, freqs in DTMF_FREQUENCIES.items()}


def _as_float(samples: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(samples, dtype=np.float64)
    if array.ndim != 1:
        raise LocalProtocolError(f"expected one-dimensional samples, not shape {array.shape}")
    return array


def rms_dbfs(samples: ArrayLike) -> float:
    """RMS level in dBFS (a full-scale sine is 0 dBFS); ``-inf`` for digital silence."""
    array = _as_float(samples)
    if array.size == 0:
        return -math.inf
    rms = math.sqrt(float(np.mean(array * array)))
    return 20.0 * math.log10(rms / _FULL_SCALE_SINE_RMS) if rms > 0 else -math.inf


def _spectrum(array: NDArray[np.float64]) -> NDArray[np.float64]:
    """Power spectrum of the Hann-windowed, DC-free signal."""
    centred = array - np.mean(array)
    spectrum = np.fft.rfft(centred * np.hanning(len(centred)))
    power: NDArray[np.float64] = np.abs(spectrum) ** 2
    return power


def dominant_frequency(samples: ArrayLike, rate: int) -> float:
    """The frequency (Hz) of the strongest spectral peak, 0.0 for silence.

    Hann window, then Gaussian (log-parabolic) interpolation of the peak bin,
    so the estimate is far finer than one FFT bin.
    """
    array = _as_float(samples)
    if array.size < 4:
        return 0.0
    power = _spectrum(array)
    power[0] = 0.0
    peak = int(np.argmax(power))
    if power[peak] <= 0.0:
        return 0.0
    offset = 0.0
    if 0 < peak < len(power) - 1 and power[peak - 1] > 0 and power[peak + 1] > 0:
        left, centre, right = (math.log(float(p)) for p in power[peak - 1 : peak + 2])
        denominator = left - 2 * centre + right
        if denominator < 0:
            offset = 0.5 * (left - right) / denominator
    return (peak + offset) * rate / len(array)


def tone_present(
    samples: ArrayLike,
    rate: int,
    frequency: float,
    tolerance: float = 10.0,
    *,
    min_fraction: float = 0.2,
    min_level_dbfs: float = -60.0,
) -> bool:
    """Whether a tone near ``frequency`` (within ``tolerance`` Hz) is present.

    True when the energy in that band (widened by the window's main lobe)
    is at least ``min_fraction`` of all the energy, and the signal is above
    ``min_level_dbfs``.  For a dual tone each component holds about half.
    """
    array = _as_float(samples)
    if array.size < 4 or rms_dbfs(array) < min_level_dbfs:
        return False
    power = _spectrum(array)
    power[0] = 0.0
    total = float(np.sum(power))
    if total <= 0.0:
        return False
    bin_width = rate / len(array)
    bins = np.arange(len(power)) * bin_width
    band = np.abs(bins - frequency) <= tolerance + 2 * bin_width
    return float(np.sum(power[band])) >= min_fraction * total


def goertzel_power(blocks: ArrayLike, rate: int, frequencies: ArrayLike) -> NDArray[np.float64]:
    """Energy of each block at each frequency (Goertzel), scaled like ``sum(x**2)``.

    ``blocks`` is one block or a 2-D array of equal blocks (one per row); the
    result has one row per block and one column per frequency.  A pure sine
    at a probed frequency gives about its own energy.  The recursion runs
    over samples, vectorised across blocks and frequencies.
    """
    data = np.atleast_2d(np.asarray(blocks, dtype=np.float64))
    freqs = np.atleast_1d(np.asarray(frequencies, dtype=np.float64))
    count, length = data.shape
    coefficient = 2.0 * np.cos(2.0 * np.pi * freqs / rate)
    s1 = np.zeros((count, len(freqs)))
    s2 = np.zeros((count, len(freqs)))
    for column in data.T:
        s1, s2 = column[:, None] + coefficient * s1 - s2, s1
    power: NDArray[np.float64] = (s1 * s1 + s2 * s2 - coefficient * s1 * s2) * (
        2.0 / max(length, 1)
    )
    return power


def _block_digit(
    block: NDArray[np.float64],
    low: NDArray[np.float64],
    high: NDArray[np.float64],
    min_level_dbfs: float,
    max_twist_db: float,
) -> str | None:
    """The digit one block holds (given its group powers), or None."""
    energy = float(np.dot(block, block))
    if energy <= 0.0 or rms_dbfs(block) < min_level_dbfs:
        return None
    low_index, high_index = int(np.argmax(low)), int(np.argmax(high))
    low_peak, high_peak = float(low[low_index]), float(high[high_index])
    if low_peak <= 0.0 or high_peak <= 0.0:
        return None
    if abs(10.0 * math.log10(high_peak / low_peak)) > max_twist_db:
        return None
    # Each peak must stand clear of the other tones of its group (>= 6 dB)...
    for peak, group in ((low_peak, low), (high_peak, high)):
        if float(np.sort(group)[-2]) * 4.0 > peak:
            return None
    # ...and the two tones must carry most of the block's energy (not speech).
    if low_peak + high_peak < 0.6 * energy:
        return None
    return _KEYPAD[(_LOW_GROUP[low_index], _HIGH_GROUP[high_index])]


def detect_dtmf(
    samples: ArrayLike,
    rate: int,
    *,
    block_duration: float = 0.020,
    min_blocks: int = 2,
    min_level_dbfs: float = -40.0,
    max_twist_db: float = 8.0,
) -> str:
    """The DTMF digits in ``samples``, in order.

    The signal is cut into ``block_duration`` blocks; Goertzel filters at the
    eight Q.23 frequencies pick one low and one high tone per block, which
    must be within ``max_twist_db`` of each other, clear of their neighbours
    and hold most of the energy.  A digit counts once it is seen in
    ``min_blocks`` consecutive blocks (40 ms by default); the same digit again
    needs at least one block without it in between.
    """
    array = _as_float(samples)
    size = round(rate * block_duration)
    if size <= 0 or rate <= 0:
        raise LocalProtocolError(f"bad rate {rate!r} or block duration {block_duration!r}")
    count = len(array) // size
    blocks = array[: count * size].reshape(count, size)
    powers = goertzel_power(blocks, rate, _LOW_GROUP + _HIGH_GROUP)
    digits: list[str] = []
    current: str | None = None
    run = 0
    for block, power in zip(blocks, powers, strict=True):
        digit = _block_digit(block, power[:4], power[4:], min_level_dbfs, max_twist_db)
        if digit is not None and digit == current:
            run += 1
        else:
            current, run = digit, 1 if digit is not None else 0
        if current is not None and run == min_blocks:
            digits.append(current)
    return "".join(digits)
