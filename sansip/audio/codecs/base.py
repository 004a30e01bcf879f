"""What every audio codec looks like: an encoder and a decoder of mono int16 frames.

A frame is a one-dimensional ``numpy.int16`` array of ``sample_rate * ptime / 1000``
samples.  ``sample_rate`` is the rate of the PCM the codec consumes and produces;
``clock_rate`` is the rate of the RTP timestamp, which differs for G.722
(16 kHz audio, 8 kHz clock, RFC 3551 section 4.5.2) and Opus (any PCM rate,
48 kHz clock, RFC 7587).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import NDArray

from sansip.errors import LocalProtocolError

__all__ = ["Codec", "Decoder", "Encoder", "as_pcm_frame", "check_ptime"]


class Codec(ABC):
    """The attributes an encoder and a decoder share."""

    #: The encoding name as written in an SDP ``a=rtpmap`` line ("PCMU", "opus", ...).
    name: str
    #: Samples per second of the PCM frames.
    sample_rate: int
    #: Ticks per second of the RTP timestamp.
    clock_rate: int
    #: Channels of the PCM frames (always 1: sansip's audio path is mono).
    channels: int
    #: Milliseconds of audio in one frame.
    ptime: int

    @property
    def frame_samples(self) -> int:
        """The number of PCM samples in one frame of ``ptime`` milliseconds."""
        return self.sample_rate * self.ptime // 1000

    def timestamp_increment(self, samples: int) -> int:
        """How far the RTP timestamp advances for ``samples`` PCM samples."""
        return samples * self.clock_rate // self.sample_rate


class Encoder(Codec):
    """Turns PCM frames into RTP payloads."""

    @abstractmethod
    def encode(self, pcm: NDArray[np.int16]) -> bytes:
        """The payload for one frame; raises LocalProtocolError on a malformed frame."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all state, as if newly created."""


class Decoder(Codec):
    """Turns RTP payloads back into PCM frames; a bad payload never raises.

    A payload that cannot be decoded yields a concealed frame and is counted in
    ``bad_payloads``; every concealed frame (lost or bad) is counted in
    ``concealed_frames``.
    """

    bad_payloads: int
    concealed_frames: int

    @abstractmethod
    def decode(self, payload: bytes) -> NDArray[np.int16]:
        """The PCM carried by one payload (a concealed frame if it is malformed)."""

    @abstractmethod
    def conceal(self, samples: int) -> NDArray[np.int16]:
        """``samples`` samples standing in for one lost frame."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all state (the counters included), as if newly created."""


def as_pcm_frame(pcm: NDArray[np.int16]) -> NDArray[np.int16]:
    """``pcm`` checked to be a one-dimensional int16 array, made contiguous."""
    array = np.asarray(pcm)
    if array.dtype != np.int16 or array.ndim != 1:
        raise LocalProtocolError(
            f"a PCM frame is a 1-D int16 array, not {array.ndim}-D {array.dtype}"
        )
    return np.ascontiguousarray(array)


def check_ptime(ptime: int) -> int:
    """``ptime`` checked to be a usable packet duration in milliseconds."""
    if not 1 <= ptime <= 120:
        raise LocalProtocolError(f"ptime must be 1..120 ms, not {ptime}")
    return ptime
