"""Acoustic echo cancellation: a partitioned-block frequency-domain adaptive filter.

:class:`EchoCanceller` removes from the microphone signal (``near``) the echo
of what the loudspeaker played (``far``).  It works block by block on frames
of the pipeline and has four parts:

* **Adaptive filter.**  A partitioned-block frequency-domain NLMS filter
  (overlap-save, the "multi-delay filter"): the echo tail is split into
  ``partitions`` partitions of one block each; every block costs one FFT of
  the far end, one of the error and one batched FFT pair for the gradient
  constraint.  The step is normalised per frequency bin by the far-end power
  seen by the whole filter, so coloured (speech-like) input converges about
  as fast as white noise.
* **Two filters.**  A *background* filter adapts on every block; the
  *foreground* filter produces the output and is only replaced by the
  background when the background's error has been clearly smaller.  A
  background that diverged (missed double talk) is reset from the
  foreground, so near-end speech can never wreck the output filter, while an
  echo path change is followed as soon as the background has relearnt it.
* **Double-talk detector.**  Geigel's test (a near-end peak above
  ``dtd_threshold`` times the far-end peak over the echo tail) with a
  hangover; while it holds, the background filter is frozen.  The test
  assumes an echo return loss of at least ``-20*log10(dtd_threshold)`` dB
  (6 dB by default), as usual for handsets and speakerphones.  A second,
  residual test (the output filter's error far above what its measured
  misalignment and the noise floor explain) catches quieter near-end
  speech; it only stops the suppressor's statistics from learning, since
  it also fires after an echo path change, which must be relearnt.
* **Residual echo suppressor.**  A per-bin gain computed from the estimated
  residual echo (the echo estimate scaled by the filter's measured per-bin
  misalignment, with a decaying tail) against the error power, never below
  ``suppressor_floor_db`` so near-end speech survives.  It runs on windowed
  (square-root Hann) half-overlapping blocks, which delays the output by
  ``latency_samples`` (one block) when it is enabled.

Block and FFT sizes for 20 ms frames and the default 128 ms tail:

=========  ===========  ==============  ========  ==========
rate (Hz)  frame        block           FFT size  partitions
=========  ===========  ==============  ========  ==========
8000       160          80 (10 ms)      160       13
16000      320          160 (10 ms)     320       13
48000      960          480 (10 ms)     960       13
=========  ===========  ==============  ========  ==========

The block is the largest divisor of the frame that is at most 10 ms long
(the whole frame if no divisor of at least 4 ms exists); the FFT is twice
the block.  ``far`` and ``near`` are time-aligned frames: the sample played
at the instant the matching near sample was captured.  A known extra delay
in the echo path (sound card buffers, acoustic distance) is given as
``delay_ms`` and the far end is delayed by it before it reaches the filter,
so the tail only needs to cover the reverberation.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.frames import AudioFrame
from sansip.errors import LocalProtocolError

__all__ = ["MAX_TAIL_MS", "EchoCanceller", "choose_block_samples"]

#: The longest echo tail the canceller models, in milliseconds.
MAX_TAIL_MS: Final = 256.0
_MIN_TAIL_MS: Final = 8.0
_MAX_DELAY_MS: Final = 1000.0

_Floats = NDArray[np.float64]
_Complex = NDArray[np.complex128]

#: A far-end block quieter than this (mean square, int16 units; about
#: -60 dBFS) is "silent": the filter does not adapt on it.
_FAR_ACTIVE_POWER: Final = 33.0**2
#: Regularisation of the per-bin normalisation (mean square, int16 units).
_REGULARISATION_POWER: Final = 4.0**2
#: Smoothing time constants (seconds).
_FILTER_COMPARE_TIME: Final = 0.15
_MISALIGNMENT_TIME: Final = 1.0
_ERLE_TIME: Final = 1.0
_SPECTRUM_TIME: Final = 0.02
#: Foreground/background decisions (ratios of smoothed error energies).
_COPY_RATIO: Final = 0.7
_RESET_RATIO: Final = 4.0
#: Limits of the per-bin misalignment (residual echo / echo estimate power).
_MIN_MISALIGNMENT: Final = 1e-4
#: The residual double-talk test fires when the error energy exceeds this
#: many times what misalignment and noise explain.
_RESIDUAL_DTD_RATIO: Final = 8.0
#: How fast noise floor trackers may rise (dB per second).
_NOISE_FLOOR_RISE_DB_PER_S: Final = 3.0
#: Decay of the residual echo estimate per second (dB).
_RESIDUAL_DECAY_DB_PER_S: Final = 60.0 / 0.15


def choose_block_samples(rate: int, frame_samples: int) -> int:
    """The filter block for frames of ``frame_samples`` at ``rate`` Hz.

    The largest divisor of the frame that is at most 10 ms long, or the
    whole frame when no divisor between 4 ms and 10 ms exists.
    """
    longest = max(1, rate // 100)
    shortest = max(1, rate // 250)
    for block in range(min(longest, frame_samples), shortest - 1, -1):
        if frame_samples % block == 0:
            return block
    return frame_samples


def _time_constant_factor(seconds: float, block_seconds: float) -> float:
    """The one-pole smoothing factor for a ``seconds`` time constant."""
    return math.exp(-block_seconds / seconds)


class EchoCanceller:
    """Removes the echo of ``far`` from ``near``, one frame at a time.

    ``rate`` is the sample rate (8000, 16000 or 48000 Hz work well; any rate
    of at least 4000 Hz is accepted) and ``frame_samples`` the length of every
    frame given to :meth:`process`.  ``tail_ms`` is the echo tail the filter
    models (at most 256 ms), ``delay_ms`` a bulk delay applied to the far end
    first.  ``step_size`` is the normalised NLMS step (0 < step <= 1).
    ``dtd_threshold`` is the Geigel ratio above which near-end speech is
    assumed, held for ``dtd_hangover_ms``.  ``suppress`` enables the
    residual echo suppressor, ``suppressor_floor_db`` (< 0) is its deepest
    attenuation and ``suppressor_overdrive`` (>= 1) how aggressively it
    treats the estimated residual.  ``block_samples`` overrides the block
    size; it must divide ``frame_samples``.
    """

    def __init__(
        self,
        rate: int,
        frame_samples: int,
        *,
        tail_ms: float = 128.0,
        delay_ms: float = 0.0,
        step_size: float = 0.5,
        dtd_threshold: float = 0.5,
        dtd_hangover_ms: float = 60.0,
        suppress: bool = True,
        suppressor_floor_db: float = -25.0,
        suppressor_overdrive: float = 2.0,
        block_samples: int | None = None,
    ) -> None:
        if rate < 4000 or frame_samples < 1:
            raise LocalProtocolError(f"bad rate {rate!r} or frame length {frame_samples!r}")
        if not _MIN_TAIL_MS <= tail_ms <= MAX_TAIL_MS:
            raise LocalProtocolError(f"tail_ms must be in [{_MIN_TAIL_MS}, {MAX_TAIL_MS}]")
        if not 0.0 <= delay_ms <= _MAX_DELAY_MS:
            raise LocalProtocolError(f"delay_ms must be in [0, {_MAX_DELAY_MS}]")
        if not 0.0 < step_size <= 1.0:
            raise LocalProtocolError("step_size must be in (0, 1]")
        if not 0.0 < dtd_threshold <= 1.0 or dtd_hangover_ms < 0.0:
            raise LocalProtocolError("dtd_threshold must be in (0, 1], dtd_hangover_ms >= 0")
        if suppressor_floor_db >= 0.0 or suppressor_overdrive < 1.0:
            raise LocalProtocolError("suppressor_floor_db must be < 0, suppressor_overdrive >= 1")
        block = (
            choose_block_samples(rate, frame_samples) if block_samples is None else block_samples
        )
        if block < 1 or frame_samples % block != 0:
            raise LocalProtocolError(f"block of {block} samples does not divide {frame_samples}")
        self.rate = rate
        self.frame_samples = frame_samples
        self.block_samples = block
        self.fft_size = 2 * block
        self.tail_ms = float(tail_ms)
        self.partitions = max(1, math.ceil(tail_ms * rate / 1000.0 / block))
        self.delay_samples = round(delay_ms * rate / 1000.0)
        self.step_size = step_size
        self.dtd_threshold = dtd_threshold
        self.suppress = suppress
        self.suppressor_floor = 10.0 ** (suppressor_floor_db / 20.0)
        self.suppressor_overdrive = suppressor_overdrive
        block_seconds = block / rate
        self._hangover_blocks = math.ceil(dtd_hangover_ms / 1000.0 / block_seconds)
        self._compare_factor = _time_constant_factor(_FILTER_COMPARE_TIME, block_seconds)
        self._misalignment_factor = _time_constant_factor(_MISALIGNMENT_TIME, block_seconds)
        self._erle_factor = _time_constant_factor(_ERLE_TIME, block_seconds)
        self._spectrum_factor = _time_constant_factor(_SPECTRUM_TIME, block_seconds)
        self._floor_rise = 10.0 ** (_NOISE_FLOOR_RISE_DB_PER_S * block_seconds / 10.0)
        self._residual_decay = 10.0 ** (-_RESIDUAL_DECAY_DB_PER_S * block_seconds / 10.0)
        self._regularisation = self.partitions * self.fft_size * _REGULARISATION_POWER
        # sqrt of a periodic Hann window: its square overlap-adds to one at 50 %.
        phase = np.arange(self.fft_size) * (2.0 * math.pi / self.fft_size)
        self._window: _Floats = np.sqrt(0.5 - 0.5 * np.cos(phase))
        self.reset()

    # -- public -----------------------------------------------------------------

    @property
    def latency_samples(self) -> int:
        """How many samples the output lags the input (the suppressor's block)."""
        return self.block_samples if self.suppress else 0

    @property
    def erle_db(self) -> float:
        """Running echo return loss enhancement of the output (dB, about 1 s memory).

        Measured only on blocks with far-end signal and no double talk;
        0.0 until there has been any.
        """
        return self._ratio_db(self._erle_near, self._erle_output)

    @property
    def filter_erle_db(self) -> float:
        """Running ERLE of the adaptive filter alone (before the suppressor), in dB."""
        return self._ratio_db(self._erle_near, self._erle_error)

    @property
    def double_talk(self) -> bool:
        """Whether near-end speech is currently held to be present (either test)."""
        return self._geigel_hold > 0 or self._residual_hold > 0

    def reset(self) -> None:
        """Forget everything learnt: filters, delay line, statistics."""
        shape = (self.partitions, self.block_samples + 1)
        bins = self.block_samples + 1
        self._far_delay: _Floats = np.zeros(self.delay_samples)
        self._far_previous: _Floats = np.zeros(self.block_samples)
        self._far_spectra: _Complex = np.zeros(shape, dtype=np.complex128)
        self._far_peaks: _Floats = np.zeros(self.partitions)
        # _weights[0] is the foreground (output) filter, _weights[1] the background.
        self._weights: _Complex = np.zeros((2, *shape), dtype=np.complex128)
        self._foreground_energy = 0.0
        self._background_energy = 0.0
        self._geigel_hold = 0
        self._residual_hold = 0
        self._error_floor = 0.0
        self._leak_error = 0.0
        self._leak_echo_energy = 0.0
        self._error_previous: _Floats = np.zeros(self.block_samples)
        self._echo_previous: _Floats = np.zeros(self.block_samples)
        self._overlap: _Floats = np.zeros(self.block_samples)
        self._error_psd: _Floats = np.zeros(bins)
        self._echo_psd: _Floats = np.zeros(bins)
        self._noise_psd: _Floats = np.zeros(bins)
        self._residual_psd: _Floats = np.zeros(bins)
        self._leak_residual: _Floats = np.zeros(bins)
        self._leak_echo: _Floats = np.zeros(bins)
        self._erle_near = 0.0
        self._erle_error = 0.0
        self._erle_output = 0.0
        #: Blocks processed, blocks held as double talk, filter copies and resets.
        self.blocks = 0
        self.double_talk_blocks = 0
        self.filter_copies = 0
        self.filter_resets = 0

    def process(self, near: ArrayLike, far: ArrayLike) -> AudioFrame:
        """The echo-cancelled microphone frame for one ``near``/``far`` frame pair."""
        near_samples = self._as_samples(near, "near")
        far_samples = self._as_samples(far, "far")
        if self.delay_samples:
            joined = np.concatenate((self._far_delay, far_samples))
            far_samples = joined[: self.frame_samples]
            self._far_delay = joined[self.frame_samples :]
        output = np.empty(self.frame_samples)
        size = self.block_samples
        for start in range(0, self.frame_samples, size):
            stop = start + size
            output[start:stop] = self._process_block(
                near_samples[start:stop], far_samples[start:stop]
            )
        clipped: AudioFrame = np.clip(np.rint(output), -32768, 32767).astype(np.int16)
        return clipped

    # -- one block --------------------------------------------------------------

    def _process_block(self, near: _Floats, far: _Floats) -> _Floats:
        self.blocks += 1
        far_window = np.concatenate((self._far_previous, far))
        self._far_previous = far
        self._far_spectra[1:] = self._far_spectra[:-1]
        self._far_spectra[0] = np.fft.rfft(far_window)
        self._far_peaks[1:] = self._far_peaks[:-1]
        self._far_peaks[0] = float(np.max(np.abs(far)))
        far_active = float(np.mean(far_window * far_window)) > _FAR_ACTIVE_POWER

        outputs = np.fft.irfft(
            np.sum(self._weights * self._far_spectra, axis=1), n=self.fft_size, axis=1
        )
        echo = outputs[0, self.block_samples :]
        error = near - echo
        background_error = near - outputs[1, self.block_samples :]
        if not np.all(np.isfinite(background_error)):
            self._weights[1] = self._weights[0]
            background_error = error
        if far_active:
            self._detect_double_talk(near, error, echo)
        else:
            self._release_double_talk()
        if far_active and self._geigel_hold == 0:
            self._adapt(background_error)
        if far_active:
            self._compare_filters(float(np.dot(error, error)), background_error)

        output = self._suppress(error, echo, far_active) if self.suppress else error
        if far_active and not self.double_talk:
            factor = self._erle_factor
            self._erle_near = factor * self._erle_near + float(np.dot(near, near))
            self._erle_error = factor * self._erle_error + float(np.dot(error, error))
            self._erle_output = factor * self._erle_output + float(np.dot(output, output))
        return output

    def _detect_double_talk(self, near: _Floats, error: _Floats, echo: _Floats) -> None:
        """Run both near-end tests on a block with far-end signal.

        Geigel: a near peak above ``dtd_threshold`` times the far peak over
        the tail.  Residual: the output filter's error far above what its
        measured misalignment and the noise floor explain.  Geigel freezes
        adaptation; either one stops the suppressor and ERLE statistics from
        learning.  (The residual test alone must not freeze adaptation: after
        an echo path change it fires until the filter has relearnt the path.)
        """
        far_peak = float(np.max(self._far_peaks))
        near_peak = float(np.max(np.abs(near)))
        if near_peak > self.dtd_threshold * far_peak:
            self._geigel_hold = self._hangover_blocks + 1
        elif self._geigel_hold > 0:
            self._geigel_hold -= 1
        error_energy = float(np.dot(error, error))
        echo_energy = float(np.dot(echo, echo))
        self._error_floor = min(error_energy, max(self._error_floor, 1.0) * self._floor_rise)
        misalignment = (self._leak_error + 1.0) / (self._leak_echo_energy + 1.0)
        expected = min(misalignment, 1.0) * echo_energy + self._error_floor
        if error_energy > _RESIDUAL_DTD_RATIO * expected + self.block_samples:
            self._residual_hold = self._hangover_blocks + 1
        elif self._residual_hold > 0:
            self._residual_hold -= 1
        if self.double_talk:
            self.double_talk_blocks += 1
        else:
            slow = self._misalignment_factor
            residual = max(error_energy - self._error_floor, 0.0)
            self._leak_error = slow * self._leak_error + (1.0 - slow) * residual
            self._leak_echo_energy = slow * self._leak_echo_energy + (1.0 - slow) * echo_energy

    def _release_double_talk(self) -> None:
        self._geigel_hold = max(0, self._geigel_hold - 1)
        self._residual_hold = max(0, self._residual_hold - 1)

    def _adapt(self, error: _Floats) -> None:
        """One constrained NLMS step of the background filter."""
        size = self.block_samples
        error_spectrum = np.fft.rfft(np.concatenate((np.zeros(size), error)))
        spectra = self._far_spectra
        power = np.sum(spectra.real**2 + spectra.imag**2, axis=0) + self._regularisation
        gradient = np.fft.irfft(np.conj(spectra) * (error_spectrum / power), n=self.fft_size)
        self._weights[1] += self.step_size * np.fft.rfft(
            gradient[:, :size], n=self.fft_size, axis=1
        )

    def _compare_filters(self, foreground_energy: float, background_error: _Floats) -> None:
        """Promote a clearly better background filter; reset a diverged one."""
        factor = self._compare_factor
        background_energy = float(np.dot(background_error, background_error))
        self._foreground_energy = factor * self._foreground_energy + foreground_energy
        self._background_energy = factor * self._background_energy + background_energy
        if self._background_energy < _COPY_RATIO * self._foreground_energy:
            self._weights[0] = self._weights[1]
            self._foreground_energy = self._background_energy
            self.filter_copies += 1
        elif self._background_energy > _RESET_RATIO * self._foreground_energy:
            self._weights[1] = self._weights[0]
            self._background_energy = self._foreground_energy
            self.filter_resets += 1

    # -- residual echo suppressor ------------------------------------------------

    def _suppress(self, error: _Floats, echo: _Floats, far_active: bool) -> _Floats:
        window = self._window
        windowed = np.stack(
            (
                np.concatenate((self._error_previous, error)),
                np.concatenate((self._echo_previous, echo)),
            )
        )
        error_spectrum, echo_spectrum = np.fft.rfft(windowed * window, axis=1)
        self._error_previous = error
        self._echo_previous = echo
        error_power = error_spectrum.real**2 + error_spectrum.imag**2
        echo_power = echo_spectrum.real**2 + echo_spectrum.imag**2
        smooth = self._spectrum_factor
        self._error_psd = smooth * self._error_psd + (1.0 - smooth) * error_power
        self._echo_psd = smooth * self._echo_psd + (1.0 - smooth) * echo_power
        # Noise floor of the error: follows falls at once, rises slowly.
        self._noise_psd = np.minimum(
            self._error_psd, np.maximum(self._noise_psd, 1.0) * self._floor_rise
        )
        if far_active and not self.double_talk:
            slow = self._misalignment_factor
            residual = np.maximum(self._error_psd - self._noise_psd, 0.0)
            self._leak_residual = slow * self._leak_residual + (1.0 - slow) * residual
            self._leak_echo = slow * self._leak_echo + (1.0 - slow) * self._echo_psd
        misalignment = np.clip(
            (self._leak_residual + 1.0) / (self._leak_echo + 1.0), _MIN_MISALIGNMENT, 1.0
        )
        self._residual_psd = np.maximum(
            misalignment * self._echo_psd, self._residual_decay * self._residual_psd
        )
        gain = 1.0 - self.suppressor_overdrive * self._residual_psd / (self._error_psd + 1.0)
        gain = np.clip(gain, self.suppressor_floor, 1.0)
        frame = np.fft.irfft(error_spectrum * gain, n=self.fft_size) * window
        size = self.block_samples
        output: _Floats = self._overlap + frame[:size]
        self._overlap = frame[size:]
        return output

    # -- helpers ------------------------------------------------------------------

    def _as_samples(self, frame: ArrayLike, name: str) -> _Floats:
        array = np.asarray(frame)
        if array.shape != (self.frame_samples,):
            raise LocalProtocolError(
                f"{name} frame must hold {self.frame_samples} samples, not shape {array.shape}"
            )
        if array.dtype.kind not in "iuf":
            raise LocalProtocolError(f"{name} frame holds numbers, not {array.dtype}")
        samples: _Floats = np.nan_to_num(
            array.astype(np.float64), nan=0.0, posinf=32767.0, neginf=-32768.0
        )
        clipped: _Floats = np.clip(samples, -32768.0, 32767.0)
        return clipped

    @staticmethod
    def _ratio_db(reference: float, measured: float) -> float:
        if reference <= 0.0:
            return 0.0
        return 10.0 * math.log10((reference + 1e-9) / (measured + 1e-9))
