"""L16: uncompressed 16-bit linear PCM in network byte order (RFC 3551 section 4.5.11)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sansip.audio.codecs.base import Encoder, as_pcm_frame, check_ptime
from sansip.audio.codecs.concealment import ConcealingDecoder

__all__ = ["L16Decoder", "L16Encoder"]

_BIG_ENDIAN = np.dtype(">i2")


class L16Encoder(Encoder):
    """Big-endian 16-bit samples at ``sample_rate`` (the clock rate too)."""

    def __init__(self, *, sample_rate: int = 16000, ptime: int = 20) -> None:
        self.name = "L16"
        self.sample_rate = self.clock_rate = sample_rate
        self.channels = 1
        self.ptime = check_ptime(ptime)

    def encode(self, pcm: NDArray[np.int16]) -> bytes:
        """Two bytes per sample, most significant first."""
        return as_pcm_frame(pcm).astype(_BIG_ENDIAN).tobytes()

    def reset(self) -> None:
        """L16 has no state."""


class L16Decoder(ConcealingDecoder):
    """Big-endian 16-bit samples; an empty or odd-length payload is bad."""

    def __init__(self, *, sample_rate: int = 16000, ptime: int = 20) -> None:
        self.name = "L16"
        self.sample_rate = self.clock_rate = sample_rate
        self.channels = 1
        self.ptime = check_ptime(ptime)
        super().__init__()

    def _decode_payload(self, payload: bytes) -> NDArray[np.int16] | None:
        if not payload or len(payload) % 2:
            return None
        return np.frombuffer(payload, dtype=_BIG_ENDIAN).astype(np.int16)
