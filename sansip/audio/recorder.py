"""Call recording to WAV or Ogg Opus files: one direction, or both directions of a call.

:class:`FileRecorder` is a frame sink writing one or two channels to a file
whose format comes from its extension: ``.wav`` (16-bit PCM through
:class:`~sansip.audio.wavfile.WavWriter`, header valid after every write) or
``.ogg`` / ``.opus`` (Ogg Opus through
:class:`~sansip.audio.oggopus.OggOpusWriter`, whose PCM rate must be one of
8000, 12000, 16000, 24000 or 48000 Hz).  The recorders encode in order, as
frames come, but never touch the file: the bytes go to the
:class:`~sansip.audio.bytesink.ByteSink` they are given (the io layer's
file writer does the writing on its own thread; its ``open_recorder`` and
``open_call_recorder`` make recorders writing to a path).  When the sink
fails (a full disk), the recording stops: ``failure`` says why, later
frames are dropped and counted in ``dropped_samples``, and nothing is
raised to the media path.

:class:`CallRecorder` records both directions: the media path calls
:meth:`~CallRecorder.sent` with each frame it sends and
:meth:`~CallRecorder.received` with each frame it plays, once per 20 ms tick
each, in either order.  In ``"mixed"`` mode the two are summed into one mono
channel and softly clipped (:func:`~sansip.audio.mixer.soft_clip`); in
``"stereo"`` mode the left channel is what was sent and the right what was
received.

Pairing rule
------------
Each direction has a small queue.  Whenever both queues hold a frame, the
oldest frame of each is written together (the shorter padded with silence).
A direction that did not deliver in some tick is noticed when the other one
runs ahead: once a direction holds more than ``max_lag`` frames (default 1,
i.e. it is more than one tick ahead), its oldest frame is written with
silence for the missing direction.  When every tick delivers both frames the
pairing is exact whatever the order; after a missed frame the two directions
may stay up to ``max_lag`` frames (20 ms) apart until the queues next drain.
A driver that knows where its ticks end calls :meth:`~CallRecorder.end_tick`
after both directions delivered: any unpaired frame is then written at once
with silence for the other side, so pairing stays exact through gaps.
:meth:`~CallRecorder.close` writes whatever is still queued the same way
before finishing the file.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Final, Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.bytesink import ByteSink
from sansip.audio.closing import Closable
from sansip.audio.frames import AudioFrame
from sansip.audio.mixer import soft_clip
from sansip.audio.oggopus import OggOpusWriter, RandomSource
from sansip.audio.wavfile import WavWriter
from sansip.errors import LocalProtocolError

__all__ = [
    "RECORDING_FORMATS",
    "CallRecorder",
    "FileRecorder",
    "RecordingMode",
    "recording_format",
]

RecordingMode = Literal["mixed", "stereo"]

#: File extensions (lower case) and the format each selects.
RECORDING_FORMATS: Final[dict[str, str]] = {".wav": "wav", ".ogg": "ogg", ".opus": "ogg"}


def recording_format(path: str | Path) -> str:
    """``"wav"`` or ``"ogg"``, from the extension of ``path``."""
    suffix = Path(path).suffix.lower()
    try:
        return RECORDING_FORMATS[suffix]
    except KeyError:
        raise LocalProtocolError(
            f"{path}: cannot tell the recording format from {suffix or 'no extension'!r}; "
            f"use one of {sorted(RECORDING_FORMATS)}"
        ) from None


class _BlockWriter(Protocol):
    def write_block(self, block: NDArray[np.int16]) -> bool: ...

    def close(self) -> None: ...

    def abandon(self) -> None: ...


class _WavBlocks:
    """16-bit PCM WAV with one or two interleaved channels."""

    def __init__(self, sink: ByteSink, rate: int, channels: int) -> None:
        self._wav = WavWriter(sink, rate, channels)

    def write_block(self, block: NDArray[np.int16]) -> bool:
        """False when the sink dropped the block (it is then not in the file)."""
        return self._wav.write(block)

    def close(self) -> None:
        self._wav.close()

    def abandon(self) -> None:
        """Nothing to free."""


class _OggBlocks:
    """Ogg Opus with one or two channels."""

    def __init__(
        self,
        sink: ByteSink,
        rate: int,
        channels: int,
        bitrate: int | None,
        random: RandomSource | None,
    ) -> None:
        self._writer = OggOpusWriter(sink, rate, channels=channels, bitrate=bitrate, random=random)

    def write_block(self, block: NDArray[np.int16]) -> bool:
        """Always True: a page the sink drops is lost as a whole, later."""
        self._writer.write(block)
        return True

    def close(self) -> None:
        self._writer.close()

    def abandon(self) -> None:
        self._writer.abandon()


def _as_samples(frame: ArrayLike) -> AudioFrame:
    """``frame`` as one-dimensional int16 samples (floats rounded and clipped, NaN as 0)."""
    array = np.asarray(frame)
    if array.dtype == np.int16:
        return array.reshape(-1)
    if array.dtype.kind not in "iuf":
        raise LocalProtocolError(f"frames hold numbers, not {array.dtype}")
    values = np.nan_to_num(array.astype(np.float64).reshape(-1), nan=0.0)
    converted: AudioFrame = np.clip(np.rint(values), -32768, 32767).astype(np.int16)
    return converted


class FileRecorder(Closable):
    """Records frames as a WAV or Ogg Opus file chosen by extension (a frame sink).

    The bytes go to ``sink``; ``path`` gives the format (its extension) and
    names the recording in reports.  ``channels`` is 1 or 2; :meth:`write`
    takes a mono frame (written to every channel), :meth:`write_channels` a
    block of shape (samples, channels).  ``max_duration`` (seconds) bounds
    the recording: samples beyond it are dropped, and ``full`` turns True.
    ``dropped_samples`` counts those, and the samples a busy sink refused
    (WAV; an Ogg sink drops whole pages) or that came after a failure.  ``bitrate`` and ``random``
    (for the stream serial number, required for Ogg Opus) apply to Ogg Opus
    only.  Once the sink fails, ``failure`` says why and the recording stops
    (see the module docstring).  Use as a context manager or call
    :meth:`close`, which closes the sink.
    """

    def __init__(
        self,
        path: str | Path,
        rate: int,
        *,
        sink: ByteSink,
        channels: int = 1,
        max_duration: float | None = None,
        bitrate: int | None = None,
        random: RandomSource | None = None,
    ) -> None:
        if rate <= 0:
            raise LocalProtocolError(f"rate must be positive, not {rate!r}")
        if channels not in (1, 2):
            raise LocalProtocolError(f"channels must be 1 or 2, not {channels!r}")
        if max_duration is not None and not max_duration >= 0:
            raise LocalProtocolError(f"max_duration must be >= 0 seconds, not {max_duration!r}")
        self.path = Path(path)
        self.format = recording_format(path)
        self.rate = rate
        self.channels = channels
        self.max_samples: int | None = (
            None if max_duration is None or math.isinf(max_duration)
            else math.floor(max_duration * rate)
        )  # fmt: skip
        self.samples_written = 0  # per channel, taken by the encoder and the sink
        self.dropped_samples = 0
        self.sink = sink
        self._closed = False
        self._stopped = False  # the sink failed: nothing more is encoded
        self._writer: _BlockWriter
        if self.format == "wav":
            self._writer = _WavBlocks(sink, rate, channels)
        else:
            self._writer = _OggBlocks(sink, rate, channels, bitrate, random)

    @property
    def duration(self) -> float:
        """Seconds recorded so far."""
        return self.samples_written / self.rate

    @property
    def full(self) -> bool:
        """True once ``max_duration`` has been reached."""
        return self.max_samples is not None and self.samples_written >= self.max_samples

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def failure(self) -> str | None:
        """Why the recording stopped early (writing the file failed), else None."""
        return self.sink.error

    def write(self, frame: AudioFrame) -> None:
        """Append a mono ``frame``, to every channel."""
        samples = _as_samples(frame)
        self._append(np.repeat(samples.reshape(-1, 1), self.channels, axis=1))

    def write_channels(self, block: ArrayLike) -> None:
        """Append ``block`` of shape (samples, channels)."""
        array = np.asarray(block)
        if array.ndim != 2 or array.shape[1] != self.channels:
            raise LocalProtocolError(
                f"a block for {self.channels} channel(s) cannot have shape {array.shape}"
            )
        samples = _as_samples(array).reshape(-1, self.channels)
        self._append(samples)

    def _append(self, block: NDArray[np.int16]) -> None:
        if self._closed:
            raise LocalProtocolError("the recorder is closed")
        if self._stopped or self.sink.error is not None:
            self._stop()
            self.dropped_samples += len(block)
            return
        if self.max_samples is not None:
            room = max(0, self.max_samples - self.samples_written)
            self.dropped_samples += max(0, len(block) - room)
            block = block[:room]
        if len(block):
            if self._writer.write_block(block):
                self.samples_written += len(block)
            else:
                self.dropped_samples += len(block)

    def _stop(self) -> None:
        """The sink failed: free the encoder, encode nothing more."""
        if not self._stopped:
            self._stopped = True
            self._writer.abandon()

    def close(self) -> None:
        """Finish the file and close the sink (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._stopped or self.sink.error is not None:
            self._stop()
            self.sink.close()
        else:
            self._writer.close()


class _DirectionSink:
    """One direction of a :class:`CallRecorder` as a frame sink."""

    def __init__(self, recorder: CallRecorder, *, sent: bool) -> None:
        self._recorder = recorder
        self._sent = sent

    def write(self, frame: AudioFrame) -> None:
        """Hand ``frame`` to the recorder as this direction's next frame."""
        if self._sent:
            self._recorder.sent(frame)
        else:
            self._recorder.received(frame)


class CallRecorder(Closable):
    """Records both directions of a call to one file (see the module's pairing rule).

    ``mode`` is ``"mixed"`` (one channel: sent plus received, softly clipped)
    or ``"stereo"`` (left: sent, right: received).  The format comes from the
    extension of ``path`` (``.wav``, ``.ogg``, ``.opus``).  ``max_duration``
    bounds the recording in seconds; ``max_lag`` is how many frames one
    direction may run ahead of the other before the other counts as missing.
    ``missing_frames`` counts the frames written as silence because a
    direction did not deliver.  ``sent_sink`` and ``received_sink`` are frame
    sinks for the two directions.  The bytes go to ``sink`` (``path`` gives
    the format and names the recording); ``failure`` tells when writing them
    failed and the recording stopped.
    """

    def __init__(
        self,
        path: str | Path,
        rate: int,
        *,
        sink: ByteSink,
        mode: RecordingMode = "mixed",
        max_duration: float | None = None,
        max_lag: int = 1,
        bitrate: int | None = None,
        random: RandomSource | None = None,
    ) -> None:
        if mode not in ("mixed", "stereo"):
            raise LocalProtocolError(f"mode must be 'mixed' or 'stereo', not {mode!r}")
        if max_lag < 1:
            raise LocalProtocolError(f"max_lag must be at least 1 frame, not {max_lag!r}")
        self.mode: RecordingMode = mode
        self.max_lag = max_lag
        self._file = FileRecorder(
            path,
            rate,
            sink=sink,
            channels=1 if mode == "mixed" else 2,
            max_duration=max_duration,
            bitrate=bitrate,
            random=random,
        )
        self._sent: deque[AudioFrame] = deque()
        self._received: deque[AudioFrame] = deque()
        self.missing_frames = 0
        self.sent_sink = _DirectionSink(self, sent=True)
        self.received_sink = _DirectionSink(self, sent=False)

    @property
    def rate(self) -> int:
        """The sample rate of the recording."""
        return self._file.rate

    @property
    def path(self) -> Path:
        """The file being written."""
        return self._file.path

    @property
    def format(self) -> str:
        """``"wav"`` or ``"ogg"``."""
        return self._file.format

    @property
    def duration(self) -> float:
        """Seconds written to the file so far (queued frames not included)."""
        return self._file.duration

    @property
    def full(self) -> bool:
        """True once ``max_duration`` has been reached; further frames are dropped."""
        return self._file.full

    @property
    def dropped_samples(self) -> int:
        """Samples (per channel) dropped because of ``max_duration``."""
        return self._file.dropped_samples

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._file.closed

    @property
    def failure(self) -> str | None:
        """Why the recording stopped early (writing the file failed), else None."""
        return self._file.failure

    def sent(self, frame: AudioFrame) -> None:
        """Take the frame sent to the peer in this tick."""
        self._take(self._sent, frame)

    def received(self, frame: AudioFrame) -> None:
        """Take the frame received from the peer (what is heard) in this tick."""
        self._take(self._received, frame)

    def _take(self, queue: deque[AudioFrame], frame: AudioFrame) -> None:
        if self._file.closed:
            raise LocalProtocolError("the call recorder is closed")
        queue.append(np.array(_as_samples(frame), dtype=np.int16, copy=True))
        while self._sent and self._received:
            self._write(self._sent.popleft(), self._received.popleft())
        while len(queue) > self.max_lag:
            self._write_unpaired(queue)

    def end_tick(self) -> None:
        """Write every frame still unpaired, with silence for the direction that is missing."""
        while self._sent:
            self._write_unpaired(self._sent)
        while self._received:
            self._write_unpaired(self._received)

    def _write_unpaired(self, queue: deque[AudioFrame]) -> None:
        frame = queue.popleft()
        self.missing_frames += 1
        empty = np.zeros(len(frame), dtype=np.int16)
        if queue is self._sent:
            self._write(frame, empty)
        else:
            self._write(empty, frame)

    def _write(self, sent: AudioFrame, received: AudioFrame) -> None:
        length = max(len(sent), len(received))
        if length == 0:
            return
        if self.mode == "mixed":
            total = np.zeros(length)
            total[: len(sent)] += sent
            total[: len(received)] += received
            self._file.write(soft_clip(total))
            return
        block = np.zeros((length, 2), dtype=np.int16)
        block[: len(sent), 0] = sent
        block[: len(received), 1] = received
        self._file.write_channels(block)

    def close(self) -> None:
        """Write what is still queued and finish the file (idempotent)."""
        if self._file.closed:
            return
        try:
            self.end_tick()
        finally:
            self._file.close()
