"""WAV files: a player (a frame source, on stdlib ``wave``), and a writer and
recorder (a frame sink) that encode into a byte sink.

The player reads integer PCM (8, 16, 24 or 32 bit) with any number of
channels (averaged to mono) at any rate, and converts to the pipeline rate
with a streaming resampler: a windowed-sinc low-pass when the rate goes down,
then linear interpolation at exact rational positions.  It is simple and
correct, not high-fidelity; a proper polyphase resampler can replace it.

:class:`WavWriter` encodes 16-bit PCM with one or more channels into a
:class:`~sansip.audio.bytesink.ByteSink`, byte for byte what stdlib ``wave``
writes: the 44-byte header goes first, each block of samples is appended and
the two sizes in the header are patched after it, so the file is valid
whenever the sink has caught up.  :class:`WavRecorder` is the mono frame sink
on top of it, optionally bounded in duration or bytes (frames beyond the
bound are dropped and ``full`` turns True).
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sansip.audio.bytesink import ByteSink
from sansip.audio.closing import Closable
from sansip.audio.frames import DEFAULT_FRAME_DURATION, AudioFrame, frame_samples, silence
from sansip.errors import LocalProtocolError, SansipError

__all__ = ["LinearResampler", "WavFileError", "WavPlayer", "WavRecorder", "WavWriter"]

_HEADER_BYTES: Final = 44
_READ_BLOCK: Final = 4096  # input frames read from the file at a time


class WavFileError(SansipError):
    """The file is not a WAV file this module can play."""


class LinearResampler:
    """Streaming sample-rate converter: anti-alias low-pass, then linear interpolation.

    Feed blocks with :meth:`process`; call :meth:`flush` at the end of the
    stream to get the samples held back by the filter.  Output sample ``k``
    sits exactly at input position ``k * in_rate / out_rate`` (integer
    arithmetic, no drift).
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise LocalProtocolError(f"rates must be positive, not {in_rate}, {out_rate}")
        divisor = math.gcd(in_rate, out_rate)
        self._step = in_rate // divisor  # input position advances step/denominator per output
        self._denominator = out_rate // divisor
        self._taps = self._design_lowpass(in_rate, out_rate)
        self._pending_delay = (len(self._taps) - 1) // 2  # filter delay still to discard
        self._history = np.zeros(len(self._taps) - 1)
        self._buffer = np.zeros(0)  # filtered input not consumed yet
        self._position = 0  # next output position, in 1/denominator input samples

    @staticmethod
    def _design_lowpass(in_rate: int, out_rate: int) -> NDArray[np.float64]:
        if out_rate >= in_rate:
            return np.ones(1)
        # Cut-off in cycles per input sample, below the new Nyquist; about 20
        # cycles of the cut-off under a Blackman window give a transition band
        # narrow enough that the stop band begins near the new Nyquist.
        cutoff = 0.44 * out_rate / in_rate
        half = math.ceil(10.0 / cutoff)
        n = np.arange(-half, half + 1)
        taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(len(n))
        normalized: NDArray[np.float64] = taps / np.sum(taps)
        return normalized

    def process(self, samples: NDArray[np.float64]) -> NDArray[np.float64]:
        """Convert one block; returns whatever output it completes."""
        if len(self._taps) > 1:
            joined = np.concatenate((self._history, samples))
            filtered = np.convolve(joined, self._taps, mode="valid")
            self._history = joined[len(joined) - len(self._history) :]
        else:
            filtered = samples
        if self._pending_delay:
            skip = min(self._pending_delay, len(filtered))
            filtered = filtered[skip:]
            self._pending_delay -= skip
        self._buffer = np.concatenate((self._buffer, filtered))
        return self._interpolate()

    def flush(self) -> NDArray[np.float64]:
        """The output still held in the filter (call once, at the end)."""
        tail = (len(self._taps) - 1) // 2 + 1
        return self.process(np.zeros(tail))

    def _interpolate(self) -> NDArray[np.float64]:
        available = len(self._buffer) - 1  # the last sample is needed as a right neighbour
        if available <= 0:
            return np.zeros(0)
        # Output positions p = position + k*step must satisfy p/denominator < available.
        limit = available * self._denominator
        count = max(0, -(-(limit - self._position) // self._step))
        positions = self._position + self._step * np.arange(count, dtype=np.int64)
        index = positions // self._denominator
        fraction = (positions % self._denominator) / self._denominator
        out = self._buffer[index] * (1.0 - fraction) + self._buffer[index + 1] * fraction
        self._position += self._step * count
        # The next position may lie beyond the buffer: keep the excess for later.
        consumed = min(self._position // self._denominator, len(self._buffer))
        self._buffer = self._buffer[consumed:]
        self._position -= consumed * self._denominator
        result: NDArray[np.float64] = out
        return result


def _decode_pcm(data: bytes, width: int, channels: int) -> NDArray[np.float64]:
    """Interleaved PCM bytes as mono floats in the int16 range."""
    if width == 1:
        values = np.frombuffer(data, dtype=np.uint8).astype(np.float64) - 128.0
        values *= 256.0
    elif width == 2:
        values = np.frombuffer(data, dtype="<i2").astype(np.float64)
    elif width == 3:
        raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        joined = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        values = np.where(joined >= 1 << 23, joined - (1 << 24), joined) / 256.0
    else:
        values = np.frombuffer(data, dtype="<i4").astype(np.float64) / 65536.0
    if channels > 1:
        values = values[: len(values) - len(values) % channels]
        values = values.reshape(-1, channels).mean(axis=1)
    return values


class WavPlayer(Closable):
    """Plays a WAV file as frames at the pipeline ``rate`` (a frame source).

    At the end of the file ``finished`` turns True and reads return silence,
    unless ``loop`` is set, in which case playback starts over.  Use as a
    context manager or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path,
        rate: int = 8000,
        *,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        loop: bool = False,
    ) -> None:
        self.rate = rate
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self.loop = loop
        try:
            self._wave = wave.open(str(path), "rb")  # noqa: SIM115 - closed in close()
        except (wave.Error, EOFError) as error:
            raise WavFileError(f"{path}: {error}") from error
        width, channels = self._wave.getsampwidth(), self._wave.getnchannels()
        if width not in (1, 2, 3, 4) or channels < 1:
            self._wave.close()
            raise WavFileError(f"{path}: unsupported {width * 8}-bit, {channels}-channel PCM")
        self.file_rate = self._wave.getframerate()
        self.duration = self._wave.getnframes() / self.file_rate if self.file_rate else 0.0
        self._resampler = LinearResampler(self.file_rate, rate)
        self._pending = np.zeros(0)
        self._eof = False
        self._closed = False
        self._played_any = False

    @property
    def finished(self) -> bool:
        """True once the whole file has been played (never with ``loop``)."""
        return self._eof and len(self._pending) == 0

    def read(self, now: float | None = None) -> AudioFrame:
        """The next frame of the file (zero-padded at the end, then silence)."""
        need = self.samples_per_frame
        while len(self._pending) < need and not self._eof and not self._closed:
            self._fill()
        if len(self._pending) == 0:
            return silence(need)
        chunk, self._pending = self._pending[:need], self._pending[need:]
        frame = np.zeros(need)
        frame[: len(chunk)] = chunk
        out: AudioFrame = np.clip(np.rint(frame), -32768, 32767).astype(np.int16)
        return out

    def _fill(self) -> None:
        data = self._wave.readframes(_READ_BLOCK)
        if data:
            self._played_any = True
            samples = _decode_pcm(data, self._wave.getsampwidth(), self._wave.getnchannels())
            self._pending = np.concatenate((self._pending, self._resampler.process(samples)))
        elif self.loop and self._played_any:
            self._wave.rewind()
        else:
            self._pending = np.concatenate((self._pending, self._resampler.flush()))
            self._eof = True

    def close(self) -> None:
        """Close the file; further reads return silence."""
        if not self._closed:
            self._closed = True
            self._eof = True
            self._pending = np.zeros(0)
            self._wave.close()


class WavWriter:
    """Encodes 16-bit PCM WAV into ``sink`` (see the module docstring).

    :meth:`write` takes a block of shape (samples,) for one channel or
    (samples, channels); it returns False when the sink dropped the block,
    which then does not count in the header.  :meth:`close` closes the sink.
    """

    def __init__(self, sink: ByteSink, rate: int, channels: int = 1) -> None:
        if rate <= 0:
            raise LocalProtocolError(f"rate must be positive, not {rate!r}")
        if channels < 1:
            raise LocalProtocolError(f"channels must be at least 1, not {channels!r}")
        self.rate = rate
        self.channels = channels
        self.data_bytes = 0  # of samples the sink accepted
        self._sink = sink
        block = 2 * channels
        header = struct.pack(
            "<4sI4s4sIHHIIHH4sI", b"RIFF", 36, b"WAVE", b"fmt ", 16, 1, channels, rate,
            rate * block, block, 16, b"data", 0,
        )  # fmt: skip
        sink.write(header)

    def write(self, block: ArrayLike) -> bool:
        """Append ``block`` (int16 samples, channels interleaved by row)."""
        samples = np.asarray(block)
        if samples.ndim > 2 or (samples.ndim == 2 and samples.shape[1] != self.channels):
            raise LocalProtocolError(
                f"a block for {self.channels} channel(s) cannot have shape {samples.shape}"
            )
        if samples.ndim == 1 and self.channels != 1:
            raise LocalProtocolError(f"a one-dimensional block for {self.channels} channels")
        data = np.ascontiguousarray(samples, dtype="<i2").tobytes()
        if not data:
            return True
        if not self._sink.write(data):
            return False
        self.data_bytes += len(data)
        self._sink.patch(4, struct.pack("<I", 36 + self.data_bytes))
        self._sink.patch(40, struct.pack("<I", self.data_bytes))
        return True

    def close(self) -> None:
        """Close the sink (the header is already up to date)."""
        self._sink.close()


class WavRecorder(Closable):
    """Records frames as a 16-bit mono WAV file at ``rate`` into ``sink`` (a frame sink).

    ``max_duration`` (seconds) and ``max_bytes`` (file size) bound the file:
    what would exceed them is dropped, ``full`` turns True and
    ``dropped_samples`` counts the loss.  Use as a context manager or call
    :meth:`close`; the header is correct after every write.
    """

    def __init__(
        self,
        sink: ByteSink,
        rate: int = 8000,
        *,
        max_duration: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        if rate <= 0:
            raise LocalProtocolError(f"rate must be positive, not {rate!r}")
        limits = []
        if max_duration is not None:
            limits.append(max(0, math.floor(max_duration * rate)))
        if max_bytes is not None:
            limits.append(max(0, (max_bytes - _HEADER_BYTES) // 2))
        self.rate = rate
        self.max_samples: int | None = min(limits) if limits else None
        self.samples_written = 0
        self.dropped_samples = 0
        self._closed = False
        self._wav = WavWriter(sink, rate)

    @property
    def full(self) -> bool:
        """True once the size or duration bound has been reached."""
        return self.max_samples is not None and self.samples_written >= self.max_samples

    @property
    def duration(self) -> float:
        """Seconds recorded so far."""
        return self.samples_written / self.rate

    def write(self, frame: AudioFrame) -> None:
        """Append ``frame`` (int16 mono samples) to the file."""
        if self._closed:
            raise LocalProtocolError("the recorder is closed")
        samples = np.asarray(frame, dtype=np.int16).reshape(-1)
        if self.max_samples is not None:
            room = max(0, self.max_samples - self.samples_written)
            self.dropped_samples += max(0, len(samples) - room)
            samples = samples[:room]
        if len(samples):
            if self._wav.write(samples):
                self.samples_written += len(samples)
            else:
                self.dropped_samples += len(samples)

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if not self._closed:
            self._closed = True
            self._wav.close()
