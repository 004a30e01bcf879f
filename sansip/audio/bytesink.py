"""Where encoded audio files go: the byte sink the recorders write to.

The audio package encodes (WAV headers and samples, Ogg pages of Opus
packets) but never opens a file: a recorder is given a :class:`ByteSink`.
The io layer provides sinks backed by files (written on a writer thread, so
a slow disk never holds up the media clock); :class:`MemorySink` keeps the
bytes in memory.

A sink may refuse bytes: :meth:`ByteSink.write` returns False when it
dropped them (its queue is full, or it failed).  Once it failed for good
(a write raised, for instance a full disk), :attr:`ByteSink.error` says
why, and the recorder using it stops.
"""

from __future__ import annotations

from typing import Protocol

from sansip.errors import LocalProtocolError

__all__ = ["ByteSink", "MemorySink"]


class ByteSink(Protocol):
    """Appends bytes to a file-like destination, and rewrites a header in place."""

    @property
    def error(self) -> str | None:
        """Why writing failed (the sink takes nothing more), or None while it works."""

    def write(self, data: bytes) -> bool:
        """Append ``data``; False when it was dropped (full or failed), never blocks."""

    def patch(self, offset: int, data: bytes) -> None:
        """Overwrite bytes already appended at ``offset`` (for instance a
        header's sizes).  A sink may apply only the last patch given for an
        offset, after the appends that came before it."""

    def close(self) -> None:
        """Finish: what was accepted is written, then the destination is closed."""


class MemorySink:
    """A :class:`ByteSink` that keeps the bytes in memory (:meth:`getvalue`)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.closed = False

    @property
    def error(self) -> str | None:
        """Always None: memory does not fail."""
        return None

    def write(self, data: bytes) -> bool:
        """Append ``data`` (raises LocalProtocolError once closed)."""
        if self.closed:
            raise LocalProtocolError("the sink is closed")
        self._buffer += data
        return True

    def patch(self, offset: int, data: bytes) -> None:
        """Overwrite ``len(data)`` bytes at ``offset``, inside what was written."""
        if offset < 0 or offset + len(data) > len(self._buffer):
            raise LocalProtocolError(f"cannot patch {len(data)} bytes at {offset}")
        self._buffer[offset : offset + len(data)] = data

    def close(self) -> None:
        """Mark the sink closed (idempotent); the bytes stay readable."""
        self.closed = True

    def getvalue(self) -> bytes:
        """Everything written so far."""
        return bytes(self._buffer)
