"""Waveform-repeat concealment for the codecs without their own (G.711, G.722, L16).

A lost frame is filled by repeating the most recent good audio, faded out over
a few consecutive losses so that a long gap decays to silence instead of
buzzing.  Better concealment belongs in the jitter buffer's PLC stage.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sansip.audio.codecs.base import Decoder
from sansip.errors import LocalProtocolError

__all__ = ["ConcealingDecoder", "RepeatFadeConcealer"]


class RepeatFadeConcealer:
    """Remembers the last good audio and repeats it, fading, for lost frames.

    ``fade_ms`` is how long repeated audio takes to fade from full level to
    silence; ``history_ms`` how much recent audio is kept to repeat.
    """

    def __init__(self, sample_rate: int, *, fade_ms: int = 60, history_ms: int = 20) -> None:
        self._history_len = max(1, sample_rate * history_ms // 1000)
        self._fade_len = max(1, sample_rate * fade_ms // 1000)
        # The gain of each sample of the fade, 1 down towards 0.
        self._fade = 1.0 - np.arange(self._fade_len) / self._fade_len
        self._history: NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._position = 0  # where repetition continues inside the history
        self._faded = 0  # samples concealed since the last good frame

    def remember(self, frame: NDArray[np.int16]) -> None:
        """Record a good frame (resets the fade).

        A frame at least as long as the history is kept by reference, not
        copied: frames are not modified once decoded.
        """
        size = self._history_len
        if len(frame) == size:
            self._history = frame
        elif len(frame) > size:
            self._history = frame[-size:]
        else:
            joined = np.concatenate((self._history, frame))
            self._history = joined[-size:]
        self._position = 0
        self._faded = 0

    def conceal(self, samples: int) -> NDArray[np.int16]:
        """``samples`` samples of faded repetition (silence once fully faded)."""
        if samples < 0:
            raise LocalProtocolError(f"cannot conceal {samples} samples")
        if len(self._history) == 0 or self._faded >= self._fade_len:
            self._faded += samples
            return np.zeros(samples, dtype=np.int16)
        history = self._history
        period = len(history)
        position = self._position
        if position:
            history = np.concatenate((history[position:], history[:position]))
        # The history over and over (one frame of lost audio: the history once).
        repeated = history if samples == period else np.resize(history, samples)
        self._position = (position + samples) % period
        faded = self._faded
        gain = self._fade[faded : faded + samples]
        if len(gain) < samples:  # fully faded within this frame: zeros after
            gain = np.concatenate((gain, np.zeros(samples - len(gain))))
        self._faded = faded + samples
        return np.rint(repeated * gain).astype(np.int16)

    def reset(self) -> None:
        """Forget the remembered audio."""
        self._history = np.zeros(0, dtype=np.int16)
        self._position = 0
        self._faded = 0


class ConcealingDecoder(Decoder):
    """A decoder whose losses and bad payloads are covered by a RepeatFadeConcealer.

    Subclasses set the codec attributes, call ``super().__init__()`` and
    implement ``_decode_payload`` (None for a malformed payload) and
    ``_reset_state``.
    """

    def __init__(self) -> None:
        self.bad_payloads = 0
        self.concealed_frames = 0
        self._concealer = RepeatFadeConcealer(self.sample_rate)

    def _decode_payload(self, payload: bytes) -> NDArray[np.int16] | None:
        raise NotImplementedError

    def _reset_state(self) -> None:
        """Reset the codec's own state (nothing by default)."""

    def decode(self, payload: bytes) -> NDArray[np.int16]:
        """The PCM carried by ``payload``, or a concealed frame if it is malformed."""
        frame = self._decode_payload(payload)
        if frame is None:
            self.bad_payloads += 1
            return self.conceal(self.frame_samples)
        self._concealer.remember(frame)
        return frame

    def remember(self, frame: NDArray[np.int16]) -> None:
        """Take ``frame``, decoded elsewhere (several payloads at once), as
        the last good audio, as :meth:`decode` would have."""
        self._concealer.remember(frame)

    def conceal(self, samples: int) -> NDArray[np.int16]:
        """``samples`` samples of faded repetition of the last good audio."""
        self.concealed_frames += 1
        return self._concealer.conceal(samples)

    def reset(self) -> None:
        """Forget the codec state, the remembered audio and the counters."""
        self._reset_state()
        self._concealer.reset()
        self.bad_payloads = 0
        self.concealed_frames = 0
