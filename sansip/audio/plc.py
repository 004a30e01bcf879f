"""Pitch-based packet loss concealment after ITU-T G.711 Appendix I.

For codecs without their own concealment (G.711, G.722, L16) a lost frame is
rebuilt from the audio just before it.  The Appendix's 8 kHz sample counts
become durations here, so any rate works:

- all output is delayed by :attr:`PacketLossConcealer.delay_samples`, a
  quarter of the longest pitch period (3.75 ms), for good and concealed
  audio alike.  This look-ahead lets a loss begin with an overlap-add
  instead of a step, as in the Appendix;
- the pitch period is found by normalised cross-correlation of the last
  15 ms against the audio 2.5-15 ms (400-67 Hz) earlier.  Among lags scoring
  within 10 % of the best, the shortest local maximum wins.  Above 16 kHz a
  coarse pass on every ``rate // 16000``-th sample and lag comes first, then
  a fine pass around its winner.  (The Appendix's own search, over 5-15 ms on
  20 ms and always taking the best score, scored lower in
  ``bench/bench_quality.py``);
- the last pitch period is replayed.  Its last quarter period has not been
  played yet, thanks to the delay.  It is overlap-added with the quarter
  period before the replayed one, so the real audio glides into the replay
  and each repetition joins the next smoothly;
- after 10 ms of loss two periods are replayed, after 20 ms three (each
  change cross-faded over a quarter period), which avoids the buzz of one
  period repeated too often;
- after 10 ms of loss the level falls by 20 % per 10 ms, reaching silence at
  60 ms;
- the first good frame after a loss is overlap-added with the continued
  concealment (at the level the loss ended with) over a quarter period plus
  4 ms per further 10 ms of loss, 10 ms at most;
- concealed audio joins the history like good audio, so a loss soon after
  another one continues from what was played.

Only audio passed through :meth:`PacketLossConcealer.good` and
:meth:`PacketLossConcealer.conceal` is delayed.  A caller that plays other
audio between them (a decoder's own concealment, comfort noise) should use
``delay_ms=0``.  Nothing is delayed then, and the start of a loss is joined
by pulling the first synthetic samples towards the last real one.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.frames import AudioFrame, as_frame
from sansip.errors import LocalProtocolError

__all__ = ["PacketLossConcealer", "detect_pitch"]

_MAX_PERIODS: Final = 3
#: Level lost per 10 ms once the first 10 ms of a loss are over.
_ATTENUATION: Final = 0.2
#: Floor of the per-sample power that normalises a correlation score (the
#: Appendix's 250 over 80 decimated samples), so near-silent candidates do
#: not win on a tiny denominator.
_MIN_POWER_PER_SAMPLE: Final = 250.0 / 80.0
#: How much longer the overlap at the end of a loss is per further 10 ms (s).
_OVERLAP_GROWTH_S: Final = 0.004
#: Above this rate the pitch search is coarse (at about this rate) then fine.
_FULL_SEARCH_RATE: Final = 16000
#: A shorter period whose score reaches this share of the best one is preferred.
_SUBMULTIPLE_SHARE: Final = 0.9


def _float(frame: ArrayLike) -> NDArray[np.float64]:
    array: NDArray[np.float64] = as_frame(frame).astype(np.float64)
    return array


def _to_int16(samples: NDArray[np.float64]) -> AudioFrame:
    clean = np.nan_to_num(samples, nan=0.0, posinf=32767.0, neginf=-32768.0)
    result: AudioFrame = np.clip(np.rint(clean), -32768, 32767).astype(np.int16)
    return result


def _scores(
    segment: NDArray[np.float64], lags: NDArray[np.intp], max_period: int, window: int, step: int
) -> NDArray[np.float64]:
    """Correlation of the last ``window`` samples of ``segment`` with the
    windows ``lags`` earlier, on every ``step``-th sample, each divided by
    the square root of the candidate's energy."""
    offsets = np.arange(0, window, step)
    target = segment[max_period:][offsets]
    candidates = segment[(max_period - lags)[:, None] + offsets[None, :]]
    products = candidates @ target
    energies = np.einsum("ij,ij->i", candidates, candidates)
    floor = _MIN_POWER_PER_SAMPLE * len(offsets)
    scores: NDArray[np.float64] = products / np.sqrt(np.maximum(energies, floor))
    return scores


def detect_pitch(
    history: NDArray[np.float64],
    min_period: int,
    max_period: int,
    window: int,
    *,
    decimation: int = 1,
) -> int:
    """The pitch period (samples) of the end of ``history``.

    The last ``window`` samples are correlated with the segments ``lag``
    samples earlier, each score divided by the square root of the segment's
    energy.  A coarse pass tries every ``decimation``-th lag on every
    ``decimation``-th sample (a tie goes to the shorter lag); a fine pass
    tries every lag within ``decimation - 1`` of the coarse winner on every
    sample.  Silence, or too short a history, gives ``max_period``.
    """
    if min_period < 1 or max_period < min_period or window < 1 or decimation < 1:
        raise LocalProtocolError("bad pitch search range")
    if len(history) < window + max_period:
        return max_period
    segment = history[-(window + max_period) :]
    target = segment[max_period:]
    if float(target @ target) <= 1e-9:
        return max_period
    coarse_lags = np.arange(max_period, min_period - 1, -decimation)
    coarse = _scores(segment, coarse_lags, max_period, window, decimation)
    if not np.all(np.isfinite(coarse)):
        return max_period
    best_score = float(np.max(coarse))
    if best_score <= 0.0:
        return max_period
    # The shortest lag scoring near the best, climbed to its local maximum:
    # a multiple of the period correlates almost as well as the period.
    index = int(np.argmax(coarse[::-1] >= _SUBMULTIPLE_SHARE * best_score))
    order = coarse[::-1]
    while index + 1 < len(order) and order[index + 1] > order[index]:
        index += 1
    best = int(coarse_lags[len(coarse) - 1 - index])
    longest = min(max_period, best + decimation - 1)
    shortest = max(min_period, best - decimation + 1)
    fine_lags = np.arange(longest, shortest - 1, -1)
    fine = _scores(segment, fine_lags, max_period, window, 1)
    return int(fine_lags[int(np.argmax(fine))])


class PacketLossConcealer:
    """Conceals lost frames of one decoded stream by pitch-period replay.

    Feed every good decoded frame through :meth:`good` and call
    :meth:`conceal` for each lost one; each returns as many samples as it
    was given (or asked for).  Output runs :attr:`delay_samples` behind the
    input, for good and concealed audio alike.  Works at any rate (8000,
    16000 and 48000 Hz in the pipeline) and any frame length; output is
    int16, never NaN, never louder than the loudest recent audio.
    """

    def __init__(
        self,
        rate: int,
        frame_samples: int | None = None,
        *,
        min_pitch_ms: float = 2.5,
        max_pitch_ms: float = 15.0,
        delay_ms: float | None = None,
    ) -> None:
        if rate <= 0:
            raise LocalProtocolError(f"bad sample rate {rate!r}")
        if not 0 < min_pitch_ms <= max_pitch_ms:
            raise LocalProtocolError("pitch range must satisfy 0 < min <= max")
        if delay_ms is not None and not 0 <= delay_ms <= max_pitch_ms:
            raise LocalProtocolError(f"bad look-ahead delay {delay_ms!r} ms")
        self.rate = rate
        self.frame_samples = frame_samples if frame_samples is not None else round(rate * 0.020)
        if self.frame_samples <= 0:
            raise LocalProtocolError(f"bad frame length {frame_samples!r}")
        self.min_period = max(1, round(rate * min_pitch_ms / 1000))
        self.max_period = max(self.min_period, round(rate * max_pitch_ms / 1000))
        #: Samples by which all output lags the input (the Appendix's look-ahead).
        self.delay_samples = (
            self.max_period // 4 if delay_ms is None else round(rate * delay_ms / 1000)
        )
        self._window = self.max_period
        self._decimation = max(1, rate // _FULL_SEARCH_RATE)
        self._ten_ms = max(1, round(rate * 0.010))
        self._growth = round(rate * _OVERLAP_GROWTH_S)
        self._history_len = max(
            self._window + self.max_period,
            _MAX_PERIODS * self.max_period + self.max_period // 4 + 1,
            self.delay_samples + 1,
        )
        # Everything given or synthesised, newest last; its last delay_samples
        # samples are not played yet.
        self._history: NDArray[np.float64] = np.zeros(self._history_len)
        self.concealed_frames = 0
        self.pitch_period = self.max_period
        self._reset_loss()

    def _reset_loss(self) -> None:
        self._lost = 0  # samples concealed in the current loss (0: not in a loss)
        self._in_loss = False
        self._periods = 1
        self._overlap = 1
        self._source: NDArray[np.float64] = np.zeros(0)  # the history when the loss began
        self._buffer: NDArray[np.float64] = np.zeros(1)
        self._position = 0
        self._offset = 0.0  # without look-ahead: the step the replay starts with
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
        """Forget the history (including the delayed samples) and any loss in progress."""
        self._history = np.zeros(self._history_len)
        self.concealed_frames = 0
        self._reset_loss()

    # -- the delayed timeline ------------------------------------------------

    def _advance(self, samples: NDArray[np.float64]) -> AudioFrame:
        """Append ``samples`` to the history; return as many samples to play."""
        delay = self.delay_samples
        if delay == 0:
            played = samples
        else:
            played = np.concatenate((self._history[-delay:], samples))[: len(samples)]
        if len(samples) >= self._history_len:
            self._history = samples[-self._history_len :].copy()
        else:
            self._history = np.concatenate((self._history[len(samples) :], samples))
        return _to_int16(played)

    # -- good frames ---------------------------------------------------------

    def good(self, frame: ArrayLike) -> AudioFrame:
        """Take a good decoded frame; return the same number of samples to play.

        Right after a loss the start of the frame is overlap-added with the
        continued concealment, so the return to real audio has no click.
        """
        samples = _float(frame)
        if self._in_loss:
            tens = math.ceil(self._lost / self._ten_ms)
            length = min(
                len(samples),
                self._overlap + max(0, tens - 1) * self._growth,
                self._ten_ms,
            )
            if length > 0:
                gain = max(0.0, 1.0 - _ATTENUATION * max(0, tens - 1))
                synthetic = np.clip(self._replay(length), -self._peak, self._peak)
                rise = np.arange(1, length + 1) / length
                samples[:length] = synthetic * (1.0 - rise) * gain + samples[:length] * rise
            self._reset_loss()
        return self._advance(samples)

    # -- lost frames ---------------------------------------------------------

    def conceal(self, samples: int | None = None) -> AudioFrame:
        """``samples`` (default one frame) samples to play in place of lost audio."""
        count = self.frame_samples if samples is None else samples
        if count < 0:
            raise LocalProtocolError(f"cannot conceal {count} samples")
        if not self._in_loss:
            self._start_loss()
        self.concealed_frames += 1
        return self._advance(self._synthesise(count))

    def _start_loss(self) -> None:
        self._reset_loss()
        self._in_loss = True
        self._source = self._history.copy()
        self.pitch_period = detect_pitch(
            self._source,
            self.min_period,
            self.max_period,
            self._window,
            decimation=self._decimation,
        )
        self._overlap = max(1, self.pitch_period // 4)
        self._peak = float(np.max(np.abs(self._source)))
        self._buffer = self._period_buffer(1)
        if self.delay_samples >= self._overlap:
            # The last quarter period is still unplayed: it becomes the blend
            # into the period before it, which the replay continues.
            self._history[-self._overlap :] = self._buffer[-self._overlap :]
        else:
            self._offset = float(self._source[-1] - self._buffer[-1])

    def _period_buffer(self, periods: int) -> NDArray[np.float64]:
        """The last ``periods`` pitch periods, their end blended into what preceded them."""
        length = periods * self.pitch_period
        overlap = self._overlap
        buffer = self._source[-length:].copy()
        before = self._source[-length - overlap : -length]
        rise = np.arange(1, overlap + 1) / overlap
        buffer[-overlap:] = buffer[-overlap:] * (1.0 - rise) + before * rise
        return buffer

    def _synthesise(self, count: int) -> NDArray[np.float64]:
        """The next ``count`` concealment samples (gain applied), advancing the state."""
        fade_end = round(self._ten_ms * (1.0 + 1.0 / _ATTENUATION))
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
        gain = np.clip(1.0 - _ATTENUATION * (elapsed - self._ten_ms) / self._ten_ms, 0.0, 1.0)
        peak = self._peak
        result: NDArray[np.float64] = np.clip(out, -peak, peak) * gain
        return result

    def _replay(self, count: int) -> NDArray[np.float64]:
        """``count`` raw samples of the period buffer, with pending blends applied."""
        indices = (self._position + np.arange(count)) % len(self._buffer)
        self._position = (self._position + count) % len(self._buffer)
        raw = self._buffer[indices]
        overlap = self._overlap
        if self._offset != 0.0 and self._offset_done < overlap:
            steps = np.arange(self._offset_done, self._offset_done + count)
            raw += self._offset * np.clip(1.0 - steps / overlap, 0.0, 1.0)
            self._offset_done += count
        if self._crossfade_done < len(self._crossfade):
            used = min(count, len(self._crossfade) - self._crossfade_done)
            old = self._crossfade[self._crossfade_done : self._crossfade_done + used]
            steps = np.arange(self._crossfade_done + 1, self._crossfade_done + used + 1)
            rise = steps / len(self._crossfade)
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
