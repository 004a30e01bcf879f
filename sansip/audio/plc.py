"""Pitch-based packet loss concealment, in the manner of ITU-T G.711 Appendix I.

For codecs without their own concealment (G.711, G.722, L16) a lost frame is
rebuilt from the audio just before it:

- the pitch period of the recent history is found by normalised
  autocorrelation over periods of 2.5-15 ms (400-67 Hz);
- the last pitch period is replayed; its end is overlap-added with the
  quarter period before it, so each repetition joins the next smoothly, and
  the very first synthetic samples are pulled towards the last real one, so
  the start of the loss has no step either;
- a loss longer than 10 ms replays two periods, longer than 20 ms three
  (each change cross-faded over a quarter period), which avoids the buzz of
  one period repeated too often;
- after 10 ms of loss the level falls by 20 % per 10 ms, reaching silence at
  60 ms;
- the first good frame after a loss is cross-faded from the continued
  synthetic signal over a quarter period plus 4 ms per extra 10 ms of loss
  (10 ms at most).

Unlike the Appendix, no look-ahead delay is added: good frames are returned
at once (only the recovery blend changes them).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from sansip.audio.frames import AudioFrame, as_frame
from sansip.errors import LocalProtocolError

__all__ = ["PacketLossConcealer", "detect_pitch"]

_MAX_PERIODS: Final = 3
#: A shorter period whose score reaches this share of the best one is preferred
#: (a multiple of the true period correlates almost as well as the period itself).
_SUBMULTIPLE_SHARE: Final = 0.9


def _float(frame: ArrayLike) -> NDArray[np.float64]:
    array: NDArray[np.float64] = as_frame(frame).astype(np.float64)
    return array


def _to_int16(samples: NDArray[np.float64]) -> AudioFrame:
    clean = np.nan_to_num(samples, nan=0.0, posinf=32767.0, neginf=-32768.0)
    result: AudioFrame = np.clip(np.rint(clean), -32768, 32767).astype(np.int16)
    return result


def detect_pitch(
    history: NDArray[np.float64], min_period: int, max_period: int, window: int
) -> int:
    """The pitch period (samples) of the end of ``history`` by normalised autocorrelation.

    The last ``window`` samples are correlated with the segments ``lag``
    samples earlier for every lag in ``[min_period, max_period]``; each score
    is normalised by both energies.  Among lags scoring within 10 % of the
    best, the shortest local maximum wins (so a multiple of the period is not
    mistaken for it).  Silence, or too short a history, gives ``max_period``.
    """
    if min_period < 1 or max_period < min_period or window < 1:
        raise LocalProtocolError("bad pitch search range")
    if len(history) < window + max_period:
        return max_period
    target = history[-window:]
    target_energy = float(target @ target)
    if target_energy <= 1e-9:
        return max_period
    windows = sliding_window_view(history[-(window + max_period) :], window)
    lags = np.arange(min_period, max_period + 1)
    segments = windows[max_period - lags]
    products = segments @ target
    energies = np.einsum("ij,ij->i", segments, segments)
    scores = products / np.sqrt(energies * target_energy + 1e-9)
    best = float(np.max(scores))
    if not math.isfinite(best) or best <= 0.0:
        return max_period
    index = int(np.argmax(scores >= _SUBMULTIPLE_SHARE * best))
    while index + 1 < len(scores) and scores[index + 1] > scores[index]:
        index += 1
    return int(lags[index])


class PacketLossConcealer:
    """Conceals lost frames of one decoded stream by pitch-period replay.

    Feed every good decoded frame through :meth:`good` (it returns the frame
    to play, blended with the concealment right after a loss) and call
    :meth:`conceal` for each lost one.  Works at any rate (8000, 16000 and
    48000 Hz in the pipeline) and any frame length; output is int16, never
    NaN, never louder than the loudest recent audio.
    """

    def __init__(
        self,
        rate: int,
        frame_samples: int | None = None,
        *,
        min_pitch_ms: float = 2.5,
        max_pitch_ms: float = 15.0,
    ) -> None:
        if rate <= 0:
            raise LocalProtocolError(f"bad sample rate {rate!r}")
        if not 0 < min_pitch_ms <= max_pitch_ms:
            raise LocalProtocolError("pitch range must satisfy 0 < min <= max")
        self.rate = rate
        self.frame_samples = frame_samples if frame_samples is not None else round(rate * 0.020)
        if self.frame_samples <= 0:
            raise LocalProtocolError(f"bad frame length {frame_samples!r}")
        self.min_period = max(1, round(rate * min_pitch_ms / 1000))
        self.max_period = max(self.min_period, round(rate * max_pitch_ms / 1000))
        self._window = self.max_period
        self._ten_ms = max(1, round(rate * 0.010))
        self._history_len = _MAX_PERIODS * self.max_period + self.max_period // 4 + 1
        self._history: NDArray[np.float64] = np.zeros(self._history_len)
        self.concealed_frames = 0
        self.pitch_period = self.max_period
        self._reset_loss()

    def _reset_loss(self) -> None:
        self._lost = 0  # samples concealed in the current loss (0: not in a loss)
        self._in_loss = False
        self._periods = 1
        self._overlap = 1
        self._buffer: NDArray[np.float64] = np.zeros(1)
        self._position = 0
        self._offset = 0.0  # step between the last real sample and the synthetic start
        self._offset_done = 0
        self._crossfade: NDArray[np.float64] = np.zeros(0)  # old stream when periods change
        self._crossfade_done = 0
        self._peak = 0.0  # concealment never exceeds the loudest remembered sample

    @property
    def concealing(self) -> bool:
        """Whether the last call was a concealment (a loss is in progress)."""
        return self._in_loss

    @property
    def lost_samples(self) -> int:
        """Samples concealed in the loss in progress (0 when none)."""
        return self._lost

    def reset(self) -> None:
        """Forget the history and any loss in progress."""
        self._history = np.zeros(self._history_len)
        self.concealed_frames = 0
        self._reset_loss()

    # -- good frames ---------------------------------------------------------

    def good(self, frame: ArrayLike) -> AudioFrame:
        """Take a good decoded frame; return it as it should be played.

        Right after a loss the start of the frame is cross-faded from the
        continued concealment, so the return to real audio has no click.
        """
        samples = _float(frame)
        if self._in_loss:
            extra = max(0, math.ceil(self._lost / self._ten_ms) - 1)
            length = min(
                len(samples),
                self._overlap + extra * round(0.4 * self._ten_ms),
                self._ten_ms,
            )
            if length > 0:
                synthetic = self._synthesise(length)
                rise = np.arange(1, length + 1) / (length + 1)
                samples[:length] = synthetic * (1.0 - rise) + samples[:length] * rise
            self._reset_loss()
        played = _to_int16(samples)
        self._remember(played.astype(np.float64))
        return played

    def _remember(self, samples: NDArray[np.float64]) -> None:
        if len(samples) >= self._history_len:
            self._history = samples[-self._history_len :].copy()
        else:
            self._history = np.concatenate((self._history[len(samples) :], samples))

    # -- lost frames ---------------------------------------------------------

    def conceal(self, samples: int | None = None) -> AudioFrame:
        """``samples`` (default one frame) samples to play in place of lost audio."""
        count = self.frame_samples if samples is None else samples
        if count < 0:
            raise LocalProtocolError(f"cannot conceal {count} samples")
        if not self._in_loss:
            self._start_loss()
        self.concealed_frames += 1
        return _to_int16(self._synthesise(count))

    def _start_loss(self) -> None:
        self._reset_loss()
        self._in_loss = True
        self.pitch_period = detect_pitch(
            self._history, self.min_period, self.max_period, self._window
        )
        self._overlap = max(1, self.pitch_period // 4)
        self._peak = float(np.max(np.abs(self._history)))
        self._buffer = self._period_buffer(1)
        self._offset = float(self._history[-1] - self._buffer[-1])
        self._offset_done = 0

    def _period_buffer(self, periods: int) -> NDArray[np.float64]:
        """The last ``periods`` pitch periods, their end blended into what preceded them."""
        length = periods * self.pitch_period
        overlap = self._overlap
        buffer = self._history[-length:].copy()
        before = self._history[-length - overlap : -length]
        rise = np.arange(1, overlap + 1) / (overlap + 1)
        buffer[-overlap:] = buffer[-overlap:] * (1.0 - rise) + before * rise
        return buffer

    def _synthesise(self, count: int) -> NDArray[np.float64]:
        """The next ``count`` concealment samples (gain applied), advancing the state."""
        fade_end = 6 * self._ten_ms
        out = np.zeros(count)
        if self._lost >= fade_end:
            self._lost += count
            return out
        done = 0
        while done < count:
            switch_at = self._periods * self._ten_ms if self._periods < _MAX_PERIODS else None
            if switch_at is not None and self._lost >= switch_at:
                self._add_period()
                continue
            chunk = count - done
            if switch_at is not None:
                chunk = min(chunk, switch_at - self._lost)
            out[done : done + chunk] = self._replay(chunk)
            done += chunk
            self._lost += chunk
        elapsed = self._lost - count + np.arange(count)
        gain = np.clip(1.0 - 0.2 * (elapsed - self._ten_ms) / self._ten_ms, 0.0, 1.0)
        peak = self._peak
        result: NDArray[np.float64] = np.clip(out, -peak, peak) * gain
        return result

    def _replay(self, count: int) -> NDArray[np.float64]:
        """``count`` raw samples of the period buffer, with pending blends applied."""
        indices = (self._position + np.arange(count)) % len(self._buffer)
        self._position = (self._position + count) % len(self._buffer)
        raw = self._buffer[indices]
        overlap = self._overlap
        if self._offset_done < overlap:
            steps = np.arange(self._offset_done, self._offset_done + count)
            raw += self._offset * np.clip(1.0 - steps / overlap, 0.0, 1.0)
            self._offset_done += count
        if self._crossfade_done < len(self._crossfade):
            used = min(count, len(self._crossfade) - self._crossfade_done)
            old = self._crossfade[self._crossfade_done : self._crossfade_done + used]
            steps = np.arange(self._crossfade_done + 1, self._crossfade_done + used + 1)
            rise = steps / (len(self._crossfade) + 1)
            raw[:used] = old * (1.0 - rise) + raw[:used] * rise
            self._crossfade_done += used
        return raw

    def _add_period(self) -> None:
        """Replay one more (older) period from here on, cross-fading into it."""
        overlap = self._overlap
        old = self._replay(overlap)
        self._position = (self._position - overlap) % len(self._buffer)
        self._periods += 1
        phase = self._position % self.pitch_period
        self._buffer = self._period_buffer(self._periods)
        self._position = phase
        self._crossfade = old
        self._crossfade_done = 0
