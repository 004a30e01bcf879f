"""Frame sources and sinks: the two shapes every audio endpoint takes.

A frame is a one-dimensional numpy ``int16`` array of mono samples, 20 ms by
default, at the pipeline sample rate (8000, 16000 or 48000 Hz).  The media
clock *reads* one frame per tick from a :class:`FrameSource` and *writes*
decoded frames to a :class:`FrameSink`; ``now`` (monotonic seconds) is passed
in when the caller has it, nothing here reads a clock.

This module holds the protocols and the trivial endpoints: silence, a null
sink, an echo loop and a bounded in-memory collector.
"""

from __future__ import annotations

from collections import deque
from typing import Final, Protocol, TypeAlias, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.errors import LocalProtocolError

__all__ = [
    "DEFAULT_FRAME_DURATION",
    "PIPELINE_RATES",
    "AudioFrame",
    "CollectSink",
    "EchoLoop",
    "FrameSink",
    "FrameSource",
    "NullSink",
    "SilenceSource",
    "as_frame",
    "frame_samples",
    "silence",
]

AudioFrame: TypeAlias = NDArray[np.int16]

#: The sample rates the pipeline runs at.
PIPELINE_RATES: Final = (8000, 16000, 48000)
DEFAULT_FRAME_DURATION: Final = 0.020


@runtime_checkable
class FrameSource(Protocol):
    """Something the media clock reads one frame from per tick."""

    def read(self, now: float | None = None) -> AudioFrame:
        """The next frame (silence when there is nothing to play)."""
        ...


@runtime_checkable
class FrameSink(Protocol):
    """Something the media clock writes frames to."""

    def write(self, frame: AudioFrame) -> None:
        """Take one frame."""
        ...


def frame_samples(rate: int, frame_duration: float = DEFAULT_FRAME_DURATION) -> int:
    """Samples in one frame of ``frame_duration`` seconds at ``rate`` Hz."""
    if rate <= 0 or frame_duration <= 0:
        raise LocalProtocolError(f"bad rate {rate!r} or frame duration {frame_duration!r}")
    samples = round(rate * frame_duration)
    if samples <= 0:
        raise LocalProtocolError(f"a {frame_duration} s frame at {rate} Hz has no samples")
    return samples


def silence(samples: int) -> AudioFrame:
    """A new frame of ``samples`` zero samples."""
    return np.zeros(samples, dtype=np.int16)


def as_frame(samples: ArrayLike) -> AudioFrame:
    """``samples`` as a one-dimensional int16 array (copied when converted).

    Floats are taken as already scaled to the int16 range and are clipped.
    """
    array = np.asarray(samples)
    if array.ndim != 1:
        raise LocalProtocolError(f"a frame is one-dimensional, not of shape {array.shape}")
    if array.dtype == np.int16:
        return array
    if array.dtype.kind not in "iuf":
        raise LocalProtocolError(f"frames hold numbers, not {array.dtype}")
    converted: AudioFrame = np.clip(np.rint(array), -32768, 32767).astype(np.int16)
    return converted


class SilenceSource:
    """An endless source of silent frames."""

    def __init__(self, rate: int = 8000, frame_duration: float = DEFAULT_FRAME_DURATION) -> None:
        self.rate = rate
        self.samples_per_frame = frame_samples(rate, frame_duration)

    def read(self, now: float | None = None) -> AudioFrame:
        """One frame of silence."""
        return silence(self.samples_per_frame)


class NullSink:
    """A sink that discards what it is given, counting frames and samples."""

    def __init__(self) -> None:
        self.frames = 0
        self.samples = 0

    def write(self, frame: AudioFrame) -> None:
        """Count and forget ``frame``."""
        self.frames += 1
        self.samples += len(frame)


class EchoLoop:
    """A sink that is also a source: frames written come back ``delay_frames`` reads later.

    Before anything was written (or when the writer falls behind) reads return
    silence.  At most ``delay_frames + max_backlog`` frames are held; beyond
    that the oldest are dropped and counted in ``dropped``.
    """

    def __init__(
        self,
        rate: int = 8000,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        *,
        delay_frames: int = 0,
        max_backlog: int = 50,
    ) -> None:
        if delay_frames < 0 or max_backlog < 1:
            raise LocalProtocolError("delay_frames must be >= 0 and max_backlog >= 1")
        self.rate = rate
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self._limit = delay_frames + max_backlog
        self._frames: deque[AudioFrame] = deque(
            silence(self.samples_per_frame) for _ in range(delay_frames)
        )
        self.dropped = 0

    def write(self, frame: AudioFrame) -> None:
        """Queue a copy of ``frame`` to be read back."""
        if len(self._frames) >= self._limit:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(np.array(frame, dtype=np.int16, copy=True))

    def read(self, now: float | None = None) -> AudioFrame:
        """The frame written ``delay_frames`` frames ago, or silence."""
        if self._frames:
            return self._frames.popleft()
        return silence(self.samples_per_frame)

    def __len__(self) -> int:
        return len(self._frames)


class CollectSink:
    """A sink that keeps the most recent ``max_frames`` frames in memory.

    For tests and demos: ``samples()`` joins what is kept; ``written`` counts
    every frame ever written and ``dropped`` those no longer kept.
    """

    def __init__(self, max_frames: int = 3000) -> None:
        if max_frames < 1:
            raise LocalProtocolError("max_frames must be at least 1")
        self._frames: deque[AudioFrame] = deque(maxlen=max_frames)
        self.written = 0

    @property
    def dropped(self) -> int:
        """Frames written but no longer kept."""
        return self.written - len(self._frames)

    @property
    def frames(self) -> list[AudioFrame]:
        """The kept frames, oldest first."""
        return list(self._frames)

    def write(self, frame: AudioFrame) -> None:
        """Keep a copy of ``frame``."""
        self._frames.append(np.array(frame, dtype=np.int16, copy=True))
        self.written += 1

    def samples(self) -> AudioFrame:
        """All kept samples in one array."""
        if not self._frames:
            return silence(0)
        return np.concatenate(list(self._frames))

    def clear(self) -> None:
        """Forget the kept frames and start counting afresh."""
        self.written = 0
        self._frames.clear()

    def __len__(self) -> int:
        return len(self._frames)
