"""The G.711 work of one media clock tick, done for every stream at once.

:class:`~sansip.media.engine.MediaEngine` ticks all its streams on one
clock, so the frames its PCMU and PCMA streams encode in a tick, and the
payloads they decode, can go through one table lookup per law and
direction (:func:`~sansip.audio.codecs.g711.encode_frames`,
:func:`~sansip.audio.codecs.g711.decode_payloads`) instead of a few numpy
calls per stream.  A stream ticked with a :class:`CodecBatch` leaves these
to it; :meth:`CodecBatch.run` then hands each stream its payload (which
it sends) and its frame (which it plays), and each finishes its tick as
:meth:`~sansip.media.stream.MediaStream.tick` would have.  Other codecs,
and whatever is not one plain payload (empty, malformed), are done by the
stream at once, as without a batch.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import NDArray

from sansip.audio.codecs.g711 import decode_payloads, encode_frames

if TYPE_CHECKING:
    from sansip.media.stream import MediaStream

__all__ = ["CodecBatch"]

_law = attrgetter("_law")

T = TypeVar("T")
R = TypeVar("R")


class CodecBatch:
    """Frames to encode and payloads to decode, gathered from the streams of
    one tick (see the module docstring)."""

    def __init__(self) -> None:
        self._encoding: list[MediaStream] = []
        self._frames: list[NDArray[np.int16]] = []
        self._decoding: list[MediaStream] = []
        self._payloads: list[bytes] = []

    def __bool__(self) -> bool:
        """Whether anything waits for :meth:`run`."""
        return bool(self._encoding or self._decoding)

    def encode(self, stream: MediaStream, frame: NDArray[np.int16]) -> None:
        """``stream`` sends ``frame`` (1-D ``int16``, one packet) encoded."""
        self._encoding.append(stream)
        self._frames.append(frame)

    def decode(self, stream: MediaStream, payload: bytes) -> None:
        """``stream`` plays ``payload`` (not empty) decoded."""
        self._decoding.append(stream)
        self._payloads.append(payload)

    def discard(self, stream: MediaStream) -> None:
        """Forget what ``stream`` left here (it failed)."""
        if any(s is stream for s in self._encoding):
            kept = [
                (s, f) for s, f in zip(self._encoding, self._frames, strict=True) if s is not stream
            ]
            self._encoding, self._frames = [s for s, _ in kept], [f for _, f in kept]
        if any(s is stream for s in self._decoding):
            left = [
                (s, p)
                for s, p in zip(self._decoding, self._payloads, strict=True)
                if s is not stream
            ]
            self._decoding, self._payloads = [s for s, _ in left], [p for _, p in left]

    def run(self, now: float) -> list[tuple[MediaStream, Exception]]:
        """Encode and decode everything, then let each stream send, play and
        finish its tick of ``now``; returns the streams that raised doing so
        (their tick is lost, the others go on) and what they raised."""
        encoding, frames, self._encoding, self._frames = self._encoding, self._frames, [], []
        decoding, payloads, self._decoding, self._payloads = (
            self._decoding, self._payloads, [], []
        )  # fmt: skip
        failed: list[tuple[MediaStream, Exception]] = []
        if encoding:
            for stream, payload in zip(encoding, _by_law(encoding, frames, encode_frames),
                                       strict=True):  # fmt: skip
                try:
                    stream._send_encoded(payload, len(payload), now)
                except Exception as exc:
                    failed.append((stream, exc))
        if decoding:
            for stream, frame in zip(decoding, _by_law(decoding, payloads, decode_payloads),
                                     strict=True):  # fmt: skip
                if failed and any(stream is s for s, _ in failed):
                    continue
                try:
                    stream._batch_decoded(frame, now)
                except Exception as exc:
                    failed.append((stream, exc))
        return failed


def _by_law(
    streams: list[MediaStream], items: list[T], work: Callable[[str, list[T]], list[R]]
) -> list[R]:
    """``work(law, items)`` for the items of each law, results in stream order."""
    laws = set(map(_law, streams))
    if len(laws) == 1:
        (law,) = laws
        assert law is not None
        return work(law, items)
    results: list[R] = []
    indexes: list[int] = []
    for law in laws:
        assert law is not None
        mine = [i for i, stream in enumerate(streams) if stream._law == law]
        results += work(law, [items[i] for i in mine])
        indexes += mine
    return [result for _, result in sorted(zip(indexes, results, strict=True), key=_first)]


def _first(pair: tuple[int, object]) -> int:
    return pair[0]
