"""G.711 μ-law (PCMU) and A-law (PCMA), table driven over whole frames.

Decoding maps each byte through a 256-entry table of the G.711 reconstruction
levels.  Encoding maps each int16 sample through a 65536-entry table built
once: a sample takes the code whose reconstruction level is nearest, the
decision points being the midpoints between adjacent levels, measured on the
14-bit (μ-law) or 13-bit-in-14 (A-law) magnitude scale.  The encoder looks
samples up by their 16 bits read as unsigned (a view of the frame, no
copy), in the same table rotated by half its length.

:func:`encode_frames` and :func:`decode_payloads` do the same for many
frames at once (the frames of every stream of one media clock tick): one
table lookup over all of them instead of one per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sansip.audio.codecs.base import Encoder, as_pcm_frame, check_ptime
from sansip.audio.codecs.concealment import ConcealingDecoder

__all__ = [
    "ALAW_DECODE",
    "ALAW_ENCODE",
    "ULAW_DECODE",
    "ULAW_ENCODE",
    "G711Decoder",
    "G711Encoder",
    "decode_payloads",
    "encode_frames",
]


def _ulaw_level(code: int) -> int:
    inverted = ~code & 0xFF
    magnitude = (((inverted & 0x0F) << 3) + 0x84) << ((inverted & 0x70) >> 4)
    return 0x84 - magnitude if inverted & 0x80 else magnitude - 0x84


def _alaw_level(code: int) -> int:
    toggled = code ^ 0x55
    segment = (toggled & 0x70) >> 4
    magnitude = (toggled & 0x0F) << 4
    magnitude = magnitude + 8 if segment == 0 else (magnitude + 0x108) << (segment - 1)
    return magnitude if toggled & 0x80 else -magnitude


def _encode_table(levels: NDArray[np.int16], positive_zero: int) -> NDArray[np.uint8]:
    """The int16 -> code table for a law whose smallest positive code is ``positive_zero``.

    Codes ``positive_zero ^ i`` (i = 0..127) are the positive levels in rising
    order and ``positive_zero ^ 0x80 ^ i`` their negative mirrors.
    """
    steps = np.arange(128)
    rising = levels[positive_zero ^ steps].astype(np.int64)
    # decision points between level i and i+1, on the 14-bit magnitude scale
    decisions = (rising[:-1] + rising[1:] + 4) >> 3
    offset = np.arange(16384) - 8192  # 14-bit signed index of each sample
    magnitude = np.minimum(np.abs(offset), 8191)
    step = np.searchsorted(decisions, magnitude, side="right")
    codes = np.where(offset < 0, positive_zero ^ 0x80 ^ step, positive_zero ^ step)
    codes[0] = codes[1]
    by_sample = (np.arange(65536) >> 2).astype(np.int64)
    return codes[by_sample].astype(np.uint8)


ULAW_DECODE: NDArray[np.int16] = np.array([_ulaw_level(c) for c in range(256)], dtype=np.int16)
ALAW_DECODE: NDArray[np.int16] = np.array([_alaw_level(c) for c in range(256)], dtype=np.int16)
#: Indexed by ``sample + 32768``.
ULAW_ENCODE: NDArray[np.uint8] = _encode_table(ULAW_DECODE, 0xFF)
ALAW_ENCODE: NDArray[np.uint8] = _encode_table(ALAW_DECODE, 0xD5)

_TABLES = {"PCMU": (ULAW_ENCODE, ULAW_DECODE), "PCMA": (ALAW_ENCODE, ALAW_DECODE)}
#: The encode tables indexed by a sample's bits as uint16 (``sample & 0xFFFF``).
_BY_BITS = {name: np.roll(encode, -32768) for name, (encode, _) in _TABLES.items()}
_INT16: Final = np.dtype(np.int16)
_UINT16: Final = np.dtype(np.uint16)
_UINT8: Final = np.dtype(np.uint8)
_frombuffer = np.frombuffer


class G711Encoder(Encoder):
    """PCMU or PCMA encoder: one byte per 8 kHz sample."""

    def __init__(self, name: str, *, ptime: int = 20) -> None:
        self.name = name.upper()
        self._table = _TABLES[self.name][0]
        self._by_bits = _BY_BITS[self.name]
        self.sample_rate = self.clock_rate = 8000
        self.channels = 1
        self.ptime = check_ptime(ptime)

    def encode(self, pcm: NDArray[np.int16]) -> bytes:
        """One code byte per sample."""
        if type(pcm) is not np.ndarray or pcm.dtype is not _INT16 or pcm.ndim != 1:
            pcm = as_pcm_frame(pcm)
        return self._by_bits.take(pcm.view(_UINT16)).tobytes()

    def reset(self) -> None:
        """G.711 has no state."""


class G711Decoder(ConcealingDecoder):
    """PCMU or PCMA decoder; every byte string is a valid payload except the empty one."""

    def __init__(self, name: str, *, ptime: int = 20) -> None:
        self.name = name.upper()
        self._table = _TABLES[self.name][1]
        self.sample_rate = self.clock_rate = 8000
        self.channels = 1
        self.ptime = check_ptime(ptime)
        super().__init__()

    def decode(self, payload: bytes) -> NDArray[np.int16]:
        """The 16-bit samples of one payload (an empty one is concealed)."""
        if not payload:
            return super().decode(payload)
        frame: NDArray[np.int16] = self._table.take(_frombuffer(payload, _UINT8))
        self._concealer.remember(frame)
        return frame

    def _decode_payload(self, payload: bytes) -> NDArray[np.int16] | None:
        if not payload:
            return None
        return self._table.take(_frombuffer(payload, _UINT8))


def encode_frames(name: str, frames: Sequence[NDArray[np.int16]]) -> list[bytes]:
    """The ``name`` (PCMU or PCMA) payload of each frame (1-D ``int16``
    arrays, any lengths), encoded by one table lookup over all of them:
    the same bytes as :meth:`G711Encoder.encode` of each."""
    count = len(frames)
    if count == 1:
        return [_BY_BITS[name].take(frames[0].view(_UINT16)).tobytes()]
    codes = _BY_BITS[name].take(np.concatenate(frames).view(_UINT16)).tobytes()
    sizes = list(map(len, frames))
    size = sizes[0]
    if sizes.count(size) == count:
        return [codes[start : start + size] for start in range(0, len(codes), size)]
    ends = list(accumulate(sizes))
    return [codes[start:end] for start, end in zip([0, *ends], ends, strict=False)]


def decode_payloads(name: str, payloads: Sequence[bytes]) -> list[NDArray[np.int16]]:
    """The samples of each ``name`` (PCMU or PCMA) payload, decoded by one
    table lookup over all of them: the frames are views of one array (do
    not write to them).  Decoders keep no state but their concealment
    history: give each frame to its decoder's :meth:`G711Decoder.remember`."""
    pcm: NDArray[np.int16] = _TABLES[name][1].take(_frombuffer(b"".join(payloads), _UINT8))
    count = len(payloads)
    sizes = list(map(len, payloads))
    size = sizes[0]
    if sizes.count(size) == count:
        return list(pcm.reshape(count, size))
    ends = list(accumulate(sizes))
    return [pcm[start:end] for start, end in zip([0, *ends], ends, strict=False)]
