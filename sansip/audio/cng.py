"""Comfort noise (RFC 3389): analysis, generation and silence suppression.

The background noise is described as RFC 3389 §3 has it: a level in -dBov
(0-127) and the reflection coefficients of an all-pole (LPC) model of its
spectrum, one byte each.  This module only produces and consumes those plain
values (a :class:`NoiseDescription` is a ``(level, coefficients)`` pair, with
``payload()`` giving the CN payload bytes); the RTP side carries them.

Conventions:

- levels are dBov, ``10*log10(mean(x**2) / 32768**2)`` (a full-scale square
  wave is 0 dBov); the level byte is the negated, rounded value;
- the model is ``1 / A(z)`` with ``A(z) = 1 + a1 z^-1 + ... + aM z^-M``; the
  Levinson-Durbin reflection coefficients ``k`` satisfy ``a_m = k_m`` at
  step ``m`` (so noise with more low-frequency energy has ``k1 < 0``);
- each ``k`` is quantised linearly to a byte as ``round(128 k) + 127``
  (0-254, 127 meaning 0) and read back as ``(byte - 127) / 128``, so every
  decoded model is stable.

:class:`ComfortNoiseGenerator` plays out noise of a described level and shape
(shaped in the frequency domain, joined with power-complementary overlaps so
changes of level or shape are smooth); :class:`SilenceSuppressor` decides,
from voice activity decisions, whether a frame is sent as audio, as a CN
update, or not at all (the ``silencesuppress`` parameter).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.frames import AudioFrame, as_frame
from sansip.errors import LocalProtocolError

__all__ = [
    "DEFAULT_ORDER",
    "ComfortNoiseAnalyser",
    "ComfortNoiseGenerator",
    "NoiseDescription",
    "SilenceSuppressor",
    "SuppressorAction",
    "SuppressorDecision",
    "analyse_noise",
    "dequantise_reflection",
    "levinson_durbin",
    "quantise_reflection",
    "reflection_to_lpc",
]

#: Model order used when none is given (RFC 3389 leaves it to the encoder).
DEFAULT_ORDER: Final = 10
MAX_LEVEL: Final = 127
_FULL_SCALE_POWER: Final = 32768.0 * 32768.0
_MAX_REFLECTION: Final = 127.0 / 128.0


class NoiseDescription(NamedTuple):
    """An RFC 3389 noise description: ``level`` in -dBov (0-127) and quantised
    reflection ``coefficients`` (one byte each, possibly none)."""

    level: int
    coefficients: bytes = b""

    def payload(self) -> bytes:
        """The CN payload: the level byte, then the coefficient bytes."""
        if not 0 <= self.level <= MAX_LEVEL:
            raise LocalProtocolError(f"noise level must be 0-127 (-dBov), not {self.level}")
        return bytes((self.level,)) + self.coefficients

    @classmethod
    def from_payload(cls, payload: bytes) -> NoiseDescription:
        """Read a CN payload (the reserved top bit of the level is ignored)."""
        if not payload:
            raise LocalProtocolError("a comfort noise payload holds at least the level")
        return cls(payload[0] & 0x7F, bytes(payload[1:]))


# -- LPC ----------------------------------------------------------------------


def levinson_durbin(
    autocorrelation: ArrayLike, order: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Solve the normal equations for an all-pole model of ``order``.

    Returns ``(a, k, error)``: the predictor polynomial ``a`` (``a[0] == 1``),
    the ``order`` reflection coefficients ``k`` (each within ±127/128) and the
    final prediction error power.  A zero or degenerate autocorrelation gives
    a flat model (all ``k`` zero).
    """
    r = np.asarray(autocorrelation, dtype=np.float64)
    if order < 0 or len(r) < order + 1:
        raise LocalProtocolError(f"need {order + 1} autocorrelation lags, got {len(r)}")
    a = np.zeros(order + 1)
    a[0] = 1.0
    k = np.zeros(order)
    error = float(r[0])
    if not math.isfinite(error) or error <= 0.0 or not np.all(np.isfinite(r[: order + 1])):
        return a, k, max(0.0, error) if math.isfinite(error) else 0.0
    for m in range(1, order + 1):
        accumulated = float(r[m] + np.dot(a[1:m], r[m - 1 : 0 : -1]))
        reflection = float(np.clip(-accumulated / error, -_MAX_REFLECTION, _MAX_REFLECTION))
        a[1:m] = a[1:m] + reflection * a[m - 1 : 0 : -1]
        a[m] = reflection
        k[m - 1] = reflection
        error *= 1.0 - reflection * reflection
        if error <= 1e-12 * float(r[0]):
            break
    return a, k, error


def reflection_to_lpc(reflection: ArrayLike) -> NDArray[np.float64]:
    """The predictor polynomial ``[1, a1, ..., aM]`` of reflection coefficients (step-up)."""
    k = np.asarray(reflection, dtype=np.float64)
    a = np.zeros(len(k) + 1)
    a[0] = 1.0
    for m, value in enumerate(k, start=1):
        a[1:m] = a[1:m] + value * a[m - 1 : 0 : -1]
        a[m] = value
    return a


def quantise_reflection(reflection: ArrayLike) -> bytes:
    """Reflection coefficients as RFC 3389 bytes (``round(128 k) + 127``, 0-254)."""
    k = np.nan_to_num(np.asarray(reflection, dtype=np.float64))
    quantised = np.clip(np.rint(k * 128.0) + 127.0, 0, 254).astype(np.uint8)
    return quantised.tobytes()


def dequantise_reflection(coefficients: bytes) -> NDArray[np.float64]:
    """Reflection coefficients from RFC 3389 bytes (each within ±127/128)."""
    raw = np.frombuffer(coefficients, dtype=np.uint8).astype(np.float64)
    decoded: NDArray[np.float64] = np.clip((raw - 127.0) / 128.0, -_MAX_REFLECTION, _MAX_REFLECTION)
    return decoded


def _level_byte(power: float) -> int:
    if not math.isfinite(power) or power <= 0.0:
        return MAX_LEVEL
    dbov = 10.0 * math.log10(power / _FULL_SCALE_POWER)
    return int(np.clip(round(-dbov), 0, MAX_LEVEL))


def _autocorrelation(samples: NDArray[np.float64], order: int) -> NDArray[np.float64]:
    """Autocorrelation (per sample) of the Hann-windowed block, lags 0..order."""
    windowed = samples * np.hanning(len(samples)) if len(samples) > 2 else samples
    lags = min(order, len(windowed) - 1)
    r = np.zeros(order + 1)
    for lag in range(lags + 1):
        r[lag] = float(np.dot(windowed[: len(windowed) - lag], windowed[lag:]))
    result: NDArray[np.float64] = r / max(1, len(samples))
    return result


def _describe(power: float, r: NDArray[np.float64], order: int) -> NoiseDescription:
    if order == 0:
        return NoiseDescription(_level_byte(power))
    conditioned = r.copy()
    conditioned[0] *= 1.0001  # white-noise correction keeps the solution well-posed
    _, k, _ = levinson_durbin(conditioned, order)
    return NoiseDescription(_level_byte(power), quantise_reflection(k))


def analyse_noise(samples: ArrayLike, order: int = DEFAULT_ORDER) -> NoiseDescription:
    """The RFC 3389 description (level and ``order`` coefficients) of a noise block."""
    if not 0 <= order <= 255:
        raise LocalProtocolError(f"bad model order {order}")
    block: NDArray[np.float64] = as_frame(samples).astype(np.float64)
    power = float(np.mean(block * block)) if block.size else 0.0
    return _describe(power, _autocorrelation(block, order), order)


class ComfortNoiseAnalyser:
    """Follows the background noise frame by frame for CN updates.

    Level and autocorrelation are averaged over the frames given to
    :meth:`update` with a time constant of ``smoothing_ms``; the first frame
    after construction or :meth:`reset` is taken as it is.
    """

    def __init__(
        self, rate: int, order: int = DEFAULT_ORDER, *, smoothing_ms: float = 100.0
    ) -> None:
        if rate <= 0 or not 0 <= order <= 255 or smoothing_ms <= 0:
            raise LocalProtocolError("bad rate, model order or smoothing")
        self.rate = rate
        self.order = order
        self._smoothing = rate * smoothing_ms / 1000.0
        self.reset()

    def reset(self) -> None:
        """Forget what was learned."""
        self._power = 0.0
        self._r = np.zeros(self.order + 1)
        self._fresh = True

    def update(self, frame: ArrayLike) -> None:
        """Take one frame of background noise."""
        block: NDArray[np.float64] = as_frame(frame).astype(np.float64)
        if block.size == 0:
            return
        power = float(np.mean(block * block))
        r = _autocorrelation(block, self.order)
        weight = 1.0 if self._fresh else 1.0 - math.exp(-len(block) / self._smoothing)
        self._power += weight * (power - self._power)
        self._r += weight * (r - self._r)
        self._fresh = False

    def description(self) -> NoiseDescription:
        """The current noise description (level 127 and a flat shape before any frame)."""
        return _describe(self._power, self._r, self.order)


# -- generation ---------------------------------------------------------------


class ComfortNoiseGenerator:
    """Plays out comfort noise of a described level and spectral shape.

    Noise is made in blocks of two hops: white Gaussian noise is shaped in
    the frequency domain by ``1/|A|`` of the (dequantised) model, scaled to
    the level, and consecutive blocks are overlap-added with sine/cosine
    windows (their squares sum to one), so the level stays steady and a new
    description fades in over one hop.  ``rng`` supplies the noise (a seeded
    numpy Generator by default, so output is reproducible).
    """

    def __init__(
        self,
        rate: int,
        frame_samples: int | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        if rate <= 0:
            raise LocalProtocolError(f"bad sample rate {rate!r}")
        self.rate = rate
        self.hop = frame_samples if frame_samples is not None else round(rate * 0.020)
        if self.hop <= 0:
            raise LocalProtocolError(f"bad frame length {frame_samples!r}")
        self._rng = rng if rng is not None else np.random.default_rng(3389)
        phase = (np.arange(self.hop) + 0.5) / self.hop * (math.pi / 2.0)
        self._rise: NDArray[np.float64] = np.sin(phase)
        self._fall: NDArray[np.float64] = np.cos(phase)
        self.description = NoiseDescription(MAX_LEVEL)
        self._shape: NDArray[np.float64] = self._spectral_shape(b"")
        self.reset()

    def reset(self) -> None:
        """Drop the pending overlap and buffered samples (the description is kept)."""
        self._tail: NDArray[np.float64] = np.zeros(self.hop)
        self._pending: NDArray[np.float64] = np.zeros(0)

    def update(self, level: int, coefficients: bytes = b"") -> None:
        """Set the noise to play: ``level`` in -dBov (0-127) and reflection bytes."""
        if not 0 <= level <= MAX_LEVEL:
            raise LocalProtocolError(f"noise level must be 0-127 (-dBov), not {level}")
        self.description = NoiseDescription(level, bytes(coefficients))
        self._shape = self._spectral_shape(self.description.coefficients)

    def _spectral_shape(self, coefficients: bytes) -> NDArray[np.float64]:
        """``|1/A|`` on the block's FFT bins, normalised to unit mean power."""
        size = 2 * self.hop
        a = reflection_to_lpc(dequantise_reflection(coefficients))
        response = np.abs(np.fft.rfft(a, n=size)) if len(a) <= size else np.ones(size // 2 + 1)
        shape = 1.0 / np.maximum(response, 1e-6)
        weights = np.full(len(shape), 2.0)
        weights[0] = 1.0
        if size % 2 == 0:
            weights[-1] = 1.0
        mean_power = float(np.sum(weights * shape * shape)) / size
        result: NDArray[np.float64] = shape / math.sqrt(mean_power)
        return result

    def _block(self) -> NDArray[np.float64]:
        size = 2 * self.hop
        power = _FULL_SCALE_POWER * 10.0 ** (-self.description.level / 10.0)
        white = np.fft.rfft(self._rng.standard_normal(size))
        block: NDArray[np.float64] = np.fft.irfft(white * self._shape, n=size)
        return block * math.sqrt(power)

    def _next_hop(self) -> NDArray[np.float64]:
        block = self._block()
        out: NDArray[np.float64] = self._tail * self._fall + block[: self.hop] * self._rise
        self._tail = block[self.hop :]
        return out

    def generate(self, samples: int | None = None) -> AudioFrame:
        """The next ``samples`` (default one frame) samples of comfort noise."""
        count = self.hop if samples is None else samples
        if count < 0:
            raise LocalProtocolError(f"cannot generate {count} samples")
        parts = [self._pending]
        available = len(self._pending)
        while available < count:
            hop = self._next_hop()
            parts.append(hop)
            available += len(hop)
        joined = np.concatenate(parts)
        self._pending = joined[count:]
        out: AudioFrame = np.clip(np.rint(joined[:count]), -32768, 32767).astype(np.int16)
        return out


# -- silence suppression ------------------------------------------------------


class SuppressorAction(enum.Enum):
    """What to send for one captured frame."""

    AUDIO = "audio"
    COMFORT_NOISE = "comfort-noise"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class SuppressorDecision:
    """The action for one frame; ``noise`` is set for a CN update."""

    action: SuppressorAction
    noise: NoiseDescription | None = None


class SilenceSuppressor:
    """Decides per captured frame: send audio, a comfort noise update, or nothing.

    ``silencesuppress`` is the parameter: 0 off (every frame is audio), 1 on,
    -1 auto (on only when ``low_bandwidth``).  When on, speech frames are
    sent as audio; silent frames feed a :class:`ComfortNoiseAnalyser` and
    yield a CN update at the start of each silence, again every
    ``update_interval_ms`` and whenever the level moves by more than
    ``level_change_db`` from the last update; otherwise nothing is sent.
    Time is counted in samples, nothing reads a clock.
    """

    def __init__(
        self,
        rate: int,
        silencesuppress: int = 1,
        *,
        low_bandwidth: bool = False,
        order: int = DEFAULT_ORDER,
        update_interval_ms: float = 1000.0,
        level_change_db: float = 2.0,
    ) -> None:
        if silencesuppress not in (-1, 0, 1):
            raise LocalProtocolError(f"silencesuppress must be -1, 0 or 1, not {silencesuppress}")
        if update_interval_ms <= 0 or level_change_db < 0:
            raise LocalProtocolError("bad update interval or level change")
        self.rate = rate
        self.enabled = silencesuppress == 1 or (silencesuppress == -1 and low_bandwidth)
        self.analyser = ComfortNoiseAnalyser(rate, order)
        self._interval = rate * update_interval_ms / 1000.0
        self._level_change = level_change_db
        self._in_silence = False
        self._since_update = 0
        self._last_level = MAX_LEVEL
        self.suppressed_frames = 0
        self.updates_sent = 0

    def decide(self, frame: ArrayLike, speech: bool) -> SuppressorDecision:
        """The action for ``frame`` given the voice activity decision ``speech``."""
        if not self.enabled:
            return SuppressorDecision(SuppressorAction.AUDIO)
        block = as_frame(frame)
        if speech:
            self._in_silence = False
            return SuppressorDecision(SuppressorAction.AUDIO)
        self.analyser.update(block)
        description = self.analyser.description()
        self._since_update += len(block)
        due = (
            not self._in_silence
            or self._since_update >= self._interval
            or abs(description.level - self._last_level) > self._level_change
        )
        self._in_silence = True
        if due:
            self._since_update = 0
            self._last_level = description.level
            self.updates_sent += 1
            return SuppressorDecision(SuppressorAction.COMFORT_NOISE, description)
        self.suppressed_frames += 1
        return SuppressorDecision(SuppressorAction.NOTHING)
