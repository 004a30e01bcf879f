"""Files written off the media clock: byte sinks backed by files, and the
recorders that write to them.

The audio package encodes recordings but never touches a file: it hands its
bytes to a :class:`~sansip.audio.bytesink.ByteSink`.  Here are the two sinks
backed by a file:

- :class:`FileWriter` writes on its own thread.  :meth:`~FileWriter.write`
  only queues the bytes (a bounded queue: when it is full the bytes are
  dropped and counted in ``dropped_writes`` / ``dropped_bytes``, the caller
  never waits), so a slow or stalled disk never delays the media clock's
  tick.  Header patches are kept apart, the last one per offset, and applied
  after the appends queued before them.  When a write fails (``OSError``,
  e.g. a full disk), the thread stops, the file is closed and ``error`` says
  why; later writes are refused.  :meth:`~FileWriter.close` waits (up to
  ``close_timeout``) until the queue is written and the file closed.
- :class:`FileSink` writes at once, on the caller's thread (for tools and
  drivers that are not on the media clock).

:func:`open_recorder` and :func:`open_call_recorder` make the recorders of
:mod:`sansip.audio.recorder` writing to a path through a :class:`FileWriter`
(and an Ogg serial number from :class:`secrets.SystemRandom` unless a
random source is given).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections import deque
from pathlib import Path
from typing import BinaryIO, Final

from sansip.audio.bytesink import ByteSink
from sansip.audio.oggopus import RandomSource
from sansip.audio.recorder import CallRecorder, FileRecorder, RecordingMode, recording_format
from sansip.errors import LocalProtocolError

__all__ = [
    "DEFAULT_MAX_QUEUED",
    "FileSink",
    "FileWriter",
    "open_call_recorder",
    "open_recorder",
]

#: Writes a :class:`FileWriter` holds before it drops (5 s of 20 ms frames).
DEFAULT_MAX_QUEUED: Final = 250


def _reason(error: Exception) -> str:
    strerror = error.strerror if isinstance(error, OSError) else None
    return strerror or str(error) or type(error).__name__


def _patch(file: BinaryIO, patches: dict[int, bytes]) -> None:
    """Overwrite ``patches`` (offset -> bytes) and go back to the end."""
    end = file.tell()
    for offset, data in patches.items():
        file.seek(offset)
        file.write(data)
    file.seek(end)


class FileWriter:
    """A :class:`~sansip.audio.bytesink.ByteSink` writing ``path`` on a thread of its own.

    See the module docstring.  The file is created (truncated) at once, so a
    path that cannot be opened raises ``OSError`` here; ``max_queued`` bounds
    the writes waiting for the thread.  ``file``, an open binary file, is
    written instead of opening ``path`` (which then only names it); it must
    be seekable for patches.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_queued: int = DEFAULT_MAX_QUEUED,
        close_timeout: float = 5.0,
        file: BinaryIO | None = None,
    ) -> None:
        if max_queued < 1:
            raise LocalProtocolError(f"max_queued must be at least 1, not {max_queued!r}")
        self.path = Path(path)
        self.max_queued = max_queued
        self.close_timeout = close_timeout
        self.dropped_writes = 0
        self.dropped_bytes = 0
        self.written_bytes = 0  # appended to the file by the thread
        self._file: BinaryIO = self.path.open("wb") if file is None else file
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[bytes] = deque()
        self._patches: dict[int, bytes] = {}
        self._closing = False
        self._error: str | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"sansip file writer {self.path.name}", daemon=True
        )
        self._thread.start()

    @property
    def error(self) -> str | None:
        """Why writing failed (the file is closed and takes nothing more), else None."""
        return self._error

    @property
    def queued(self) -> int:
        """Writes waiting for the thread."""
        return len(self._queue)

    @property
    def finished(self) -> bool:
        """True once the thread is done: the file closed (after :meth:`close` or a failure)."""
        return not self._thread.is_alive()

    def write(self, data: bytes) -> bool:
        """Queue ``data`` for the file; False when it was dropped (queue full,
        failed or closing).  Never waits for the disk."""
        with self._lock:
            if self._error is not None or self._closing:
                return False
            if len(self._queue) >= self.max_queued:
                self.dropped_writes += 1
                self.dropped_bytes += len(data)
                return False
            self._queue.append(bytes(data))
            self._wake.notify()
        return True

    def patch(self, offset: int, data: bytes) -> None:
        """Overwrite the bytes at ``offset`` once the appends queued so far are written."""
        with self._lock:
            if self._error is None and not self._closing:
                self._patches[offset] = bytes(data)
                self._wake.notify()

    def close(self) -> None:
        """Write what is queued, close the file; waits up to ``close_timeout``
        seconds for the thread (idempotent)."""
        with self._lock:
            self._closing = True
            self._wake.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(self.close_timeout)

    def _run(self) -> None:
        file = self._file
        while True:
            with self._lock:
                while not self._queue and not self._patches and not self._closing:
                    self._wake.wait()
                chunks, self._queue = self._queue, deque()
                patches, self._patches = self._patches, {}
                closing = self._closing
            try:
                for chunk in chunks:
                    file.write(chunk)
                    self.written_bytes += len(chunk)
                if patches:
                    _patch(file, patches)
                file.flush()
                if closing:
                    file.close()
                    return
            except Exception as error:  # OSError mostly; the thread must not die unheard
                self._fail(_reason(error))
                return

    def _fail(self, reason: str) -> None:
        with self._lock:
            self._error = reason
            self._queue.clear()
            self._patches.clear()
        with contextlib.suppress(OSError):  # its buffer cannot be written either
            self._file.close()


class FileSink:
    """A :class:`~sansip.audio.bytesink.ByteSink` writing ``path`` at once, on
    the caller's thread (a failed write sets ``error`` instead of raising)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: BinaryIO = self.path.open("wb")
        self._error: str | None = None
        self.closed = False

    @property
    def error(self) -> str | None:
        """Why writing failed (the file is closed), else None."""
        return self._error

    def write(self, data: bytes) -> bool:
        """Append ``data``; False once writing failed or the sink is closed."""
        if self._error is not None or self.closed:
            return False
        try:
            self._file.write(data)
        except OSError as error:
            self._fail(_reason(error))
            return False
        return True

    def patch(self, offset: int, data: bytes) -> None:
        """Overwrite the bytes at ``offset`` now."""
        if self._error is not None or self.closed:
            return
        try:
            _patch(self._file, {offset: data})
        except OSError as error:
            self._fail(_reason(error))

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self._error is None:
            try:
                self._file.close()
            except OSError as error:
                self._fail(_reason(error))

    def _fail(self, reason: str) -> None:
        self._error = reason
        with contextlib.suppress(OSError):
            self._file.close()


def _open_sink(path: str | Path, max_queued: int) -> FileWriter:
    recording_format(path)  # refuse an unknown extension before creating the file
    return FileWriter(path, max_queued=max_queued)


def _discard(sink: ByteSink, path: str | Path) -> None:
    """A recorder could not be made: close its sink and remove the empty file."""
    sink.close()
    Path(path).unlink(missing_ok=True)


def open_recorder(
    path: str | Path,
    rate: int,
    *,
    channels: int = 1,
    max_duration: float | None = None,
    bitrate: int | None = None,
    random: RandomSource | None = None,
    max_queued: int = DEFAULT_MAX_QUEUED,
) -> FileRecorder:
    """A frame sink recording mono frames to ``path`` (WAV or Ogg Opus by
    extension), written by a :class:`FileWriter`.

    With ``channels=2`` every frame goes to both channels.  The recorder's
    ``sink`` is the writer (its drop counters, its ``error``).
    """
    sink = _open_sink(path, max_queued)
    try:
        return FileRecorder(path, rate, sink=sink, channels=channels, max_duration=max_duration,
                            bitrate=bitrate, random=random or secrets.SystemRandom())  # fmt: skip
    except BaseException:
        _discard(sink, path)
        raise


def open_call_recorder(
    path: str | Path,
    rate: int,
    *,
    mode: RecordingMode = "mixed",
    max_duration: float | None = None,
    max_lag: int = 1,
    bitrate: int | None = None,
    random: RandomSource | None = None,
    max_queued: int = DEFAULT_MAX_QUEUED,
) -> CallRecorder:
    """A :class:`~sansip.audio.recorder.CallRecorder` of both directions of a
    call to ``path``, written by a :class:`FileWriter`."""
    sink = _open_sink(path, max_queued)
    try:
        return CallRecorder(path, rate, sink=sink, mode=mode, max_duration=max_duration,
                            max_lag=max_lag, bitrate=bitrate,
                            random=random or secrets.SystemRandom())  # fmt: skip
    except BaseException:
        _discard(sink, path)
        raise
