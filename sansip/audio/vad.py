"""Voice activity detection: band energies against an adaptive noise floor, with hangover.

Each frame's power spectrum is summed into bands spaced logarithmically over
the speech range (100 Hz to 4 kHz, or less below 8 kHz sampling).  A noise
spectrum is learned from the frames judged silent (quickly when the level
drops, slowly when it rises, and creeping upwards even during speech so that
a lasting rise of the background is eventually accepted as noise).  A frame
is speech when the mean per-band signal-to-noise ratio (each band's excess
over its noise, clipped at 0 dB) passes a threshold, or when the whole frame
stands far above the noise; the decision is then held for a hangover so that
word endings and short pauses are not clipped.

Levels are in dBov: ``10*log10(mean(x**2) / 32768**2)``, so a full-scale
square wave is 0 dBov and a full-scale sine about -3 dBov (RFC 3389 uses the
same scale for comfort noise).
"""

from __future__ import annotations

import math
from typing import Final, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.frames import as_frame
from sansip.errors import LocalProtocolError

__all__ = ["MIN_LEVEL_DBOV", "VoiceActivityDetector", "level_dbov"]

#: The quietest level reported (RFC 3389 levels go down to -127 dBov).
MIN_LEVEL_DBOV: Final = -127.0
_FULL_SCALE_POWER: Final = 32768.0 * 32768.0
_FLOOR_POWER: Final = _FULL_SCALE_POWER * 10.0 ** (MIN_LEVEL_DBOV / 10.0)
_BANDS: Final = 12
_LOW_HZ: Final = 100.0
_HIGH_HZ: Final = 4000.0
_BandMap: TypeAlias = tuple[NDArray[np.intp], NDArray[np.bool_], NDArray[np.bool_]]


def level_dbov(samples: ArrayLike) -> float:
    """The RMS level of ``samples`` in dBov, never below -127 (also for silence)."""
    array = np.asarray(samples, dtype=np.float64)
    if array.size == 0:
        return MIN_LEVEL_DBOV
    power = float(np.mean(array * array))
    return _power_to_dbov(power)


def _power_to_dbov(power: float) -> float:
    if not math.isfinite(power) or power <= _FLOOR_POWER:
        return MIN_LEVEL_DBOV
    return max(MIN_LEVEL_DBOV, 10.0 * math.log10(power / _FULL_SCALE_POWER))


class VoiceActivityDetector:
    """Decides frame by frame whether a stream carries speech.

    ``threshold_db`` is the mean band SNR (dB) a frame needs to count as
    speech; ``loud_db`` the whole-frame SNR that counts as speech on its own;
    frames below ``min_speech_dbov`` are never speech; ``hangover_ms`` is how
    long a decision for speech is held after the last speech frame, once
    speech lasted ``min_burst_ms`` (a lone noisy frame gets no hangover).  For the
    first ``learning_ms`` of quiet input the noise spectrum is averaged and
    only frames far above it (``loud_db``) count as speech.
    """

    def __init__(
        self,
        rate: int,
        *,
        threshold_db: float = 4.0,
        loud_db: float = 12.0,
        min_speech_dbov: float = -65.0,
        hangover_ms: float = 200.0,
        min_burst_ms: float = 40.0,
        noise_attack_ms: float = 200.0,
        noise_creep_db_per_s: float = 2.0,
        learning_ms: float = 100.0,
    ) -> None:
        if rate <= 0:
            raise LocalProtocolError(f"bad sample rate {rate!r}")
        if hangover_ms < 0 or noise_attack_ms <= 0 or noise_creep_db_per_s < 0 or learning_ms < 0:
            raise LocalProtocolError("hangover, attack and creep must not be negative")
        self.rate = rate
        self.threshold_db = threshold_db
        self.loud_db = loud_db
        self.min_speech_dbov = min_speech_dbov
        self._hangover_samples = round(rate * hangover_ms / 1000)
        self._min_burst_samples = round(rate * min_burst_ms / 1000)
        self._learning_samples = round(rate * learning_ms / 1000)
        self._attack_samples = max(1.0, rate * noise_attack_ms / 1000)
        self._creep_db_per_sample = noise_creep_db_per_s / rate
        self._band_maps: dict[int, _BandMap] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the noise estimate and the hangover."""
        self._noise_bands: NDArray[np.float64] | None = None
        self._noise_power = _FLOOR_POWER
        self._hangover_left = 0
        self._active_run = 0  # samples in the current run of active frames
        self._learned = 0
        self.level_dbov = MIN_LEVEL_DBOV
        self.speech = False
        self.frames = 0
        self.speech_frames = 0

    @property
    def noise_level_dbov(self) -> float:
        """The estimated background noise level in dBov (-127 before any frame)."""
        return _power_to_dbov(self._noise_power)

    def _band_map(self, length: int) -> _BandMap:
        """Each FFT bin's band, which bins fall in a band, and which bands hold bins."""
        cached = self._band_maps.get(length)
        if cached is not None:
            return cached
        high = min(_HIGH_HZ, 0.48 * self.rate)
        edges = np.geomspace(_LOW_HZ, max(high, _LOW_HZ * 1.5), _BANDS + 1)
        freqs = np.fft.rfftfreq(length, 1.0 / self.rate)
        bands = np.searchsorted(edges, freqs, side="right") - 1
        inside = (bands >= 0) & (bands < _BANDS)
        clipped = np.clip(bands, 0, _BANDS - 1).astype(np.intp)
        present = np.bincount(clipped[inside], minlength=_BANDS) > 0
        result = (clipped, inside, present)
        self._band_maps[length] = result
        return result

    def _band_powers(self, samples: NDArray[np.float64]) -> NDArray[np.float64]:
        bands, inside, _ = self._band_map(len(samples))
        spectrum = np.fft.rfft((samples - np.mean(samples)) * np.hanning(len(samples)))
        power = (spectrum.real**2 + spectrum.imag**2) / max(1, len(samples))
        sums = np.bincount(bands[inside], weights=power[inside], minlength=_BANDS)
        return sums.astype(np.float64)

    def is_speech(self, frame: ArrayLike) -> bool:
        """Whether ``frame`` (any length, int16 samples) is speech; updates the estimates."""
        samples: NDArray[np.float64] = as_frame(frame).astype(np.float64)
        if samples.size < 4:
            return self.speech
        self.frames += 1
        power = float(np.mean(samples * samples))
        self.level_dbov = _power_to_dbov(power)
        bands = np.maximum(self._band_powers(samples), _FLOOR_POWER)
        if self._noise_bands is None:
            self._noise_bands = bands.copy()
            self._noise_power = max(power, _FLOOR_POWER)
        noise = self._noise_bands
        present = self._band_map(len(samples))[2]
        band_snr = 10.0 * np.log10(bands[present] / noise[present])
        spectral_snr = float(np.mean(np.clip(band_snr, 0.0, 40.0))) if band_snr.size else 0.0
        total_snr = 10.0 * math.log10(max(power, _FLOOR_POWER) / self._noise_power)
        learning = self._learned < self._learning_samples
        active = self.level_dbov >= self.min_speech_dbov and (
            (spectral_snr >= self.threshold_db and not learning) or total_snr >= self.loud_db
        )
        if learning and not active:
            self._learned += len(samples)
            share = min(1.0, len(samples) / self._learned)
            noise += share * (bands - noise)
            self._noise_power += share * (max(power, _FLOOR_POWER) - self._noise_power)
        else:
            self._update_noise(bands, power, len(samples), active)
        if active:
            self._active_run += len(samples)
            if self._active_run >= self._min_burst_samples:
                self._hangover_left = self._hangover_samples
            self.speech = True
        elif self._hangover_left > 0:
            self._active_run = 0
            self._hangover_left = max(0, self._hangover_left - len(samples))
            self.speech = True
        else:
            self._active_run = 0
            self.speech = False
        if self.speech:
            self.speech_frames += 1
        return self.speech

    def _update_noise(
        self, bands: NDArray[np.float64], power: float, length: int, active: bool
    ) -> None:
        noise = self._noise_bands
        assert noise is not None
        follow = 1.0 - math.exp(-length / self._attack_samples)
        fast = 1.0 - math.exp(-4.0 * length / self._attack_samples)
        power = max(power, _FLOOR_POWER)
        if not active:
            rate = np.where(bands < noise, fast, follow)
            noise += rate * (bands - noise)
            total_rate = fast if power < self._noise_power else follow
            self._noise_power += total_rate * (power - self._noise_power)
        else:
            creep = 10.0 ** (self._creep_db_per_sample * length / 10.0)
            np.minimum(noise * creep, np.maximum(bands, noise), out=noise)
            self._noise_power = min(self._noise_power * creep, max(power, self._noise_power))
        np.maximum(noise, _FLOOR_POWER, out=noise)
        self._noise_power = max(self._noise_power, _FLOOR_POWER)
