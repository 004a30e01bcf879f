"""Frame queues between the media clock and Python code (bots, IVRs, tests).

Outbound (what the program says): :class:`OutboundFrameQueue` takes arrays of
any length through ``put``/``put_nowait`` and is drained by the media clock as
a frame source, one exact frame per read, silence when empty.  It is bounded
in samples; the oldest audio is dropped first and counted.

Inbound (what the program hears): the media clock writes decoded frames into
a sink; the program takes them out.

- :class:`AsyncFrameQueue` is an asyncio async iterator (``async for frame in
  queue``).  It is not thread-safe: ``write`` and ``close`` must run on the
  event loop's thread.  From another thread (the media clock's) use
  :meth:`AsyncFrameQueue.write_threadsafe`, which goes through
  ``loop.call_soon_threadsafe``.
- :class:`FrameQueue` is the synchronous variant (blocking ``get``, plain
  iteration), safe between threads.

Both inbound queues are bounded and drop the oldest frame when full
(``dropped`` counts them).
"""

from __future__ import annotations

import asyncio
import queue
from collections import deque
from collections.abc import Generator, Iterator
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from sansip.audio.frames import DEFAULT_FRAME_DURATION, AudioFrame, as_frame, frame_samples
from sansip.errors import LocalProtocolError

__all__ = ["AsyncFrameQueue", "FrameQueue", "OutboundFrameQueue"]


class _Done:
    """An awaitable that is already complete: ``put`` works with and without ``await``."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # makes this a generator


_DONE: Final = _Done()


class OutboundFrameQueue:
    """Audio for the media clock to send: put arrays in, read exact frames out.

    ``put``/``put_nowait`` accept int16-convertible one-dimensional arrays of
    any length and never block (``await queue.put(x)`` also works).  At most
    ``max_frames`` frames of audio are held; older samples are dropped first
    and counted in ``dropped_samples``.  ``put`` may be called from any thread
    while the media clock reads from its own (deque hand-off); the counters
    are exact when a single thread puts.
    """

    def __init__(
        self,
        rate: int = 8000,
        *,
        frame_duration: float = DEFAULT_FRAME_DURATION,
        max_frames: int = 50,
    ) -> None:
        if max_frames < 1:
            raise LocalProtocolError("max_frames must be at least 1")
        self.rate = rate
        self.samples_per_frame = frame_samples(rate, frame_duration)
        self.max_samples = max_frames * self.samples_per_frame
        self._chunks: deque[AudioFrame] = deque()
        self._queued = 0
        self.dropped_samples = 0
        self.frames_read = 0
        self.silent_reads = 0

    @property
    def queued_samples(self) -> int:
        """Samples waiting to be read."""
        return self._queued

    def put_nowait(self, samples: ArrayLike) -> None:
        """Queue ``samples`` (copied) behind what is already queued."""
        chunk = np.array(as_frame(samples), dtype=np.int16, copy=True)
        if len(chunk) > self.max_samples:
            self.dropped_samples += len(chunk) - self.max_samples
            chunk = chunk[len(chunk) - self.max_samples :]
        self._chunks.append(chunk)
        self._queued += len(chunk)
        while self._queued > self.max_samples and self._chunks:
            excess = self._queued - self.max_samples
            oldest = self._chunks[0]
            if len(oldest) <= excess:
                self._chunks.popleft()
                removed = len(oldest)
            else:
                self._chunks[0] = oldest[excess:]
                removed = excess
            self._queued -= removed
            self.dropped_samples += removed

    def put(self, samples: ArrayLike) -> _Done:
        """Queue ``samples``; the result may be awaited but need not be."""
        self.put_nowait(samples)
        return _DONE

    def clear(self) -> None:
        """Drop everything queued (not counted as dropped)."""
        self._chunks.clear()
        self._queued = 0

    def read(self, now: float | None = None) -> AudioFrame:
        """One frame: queued audio (zero-padded if short) or silence."""
        need = self.samples_per_frame
        frame = np.zeros(need, dtype=np.int16)
        if not self._chunks:
            self.silent_reads += 1
            return frame
        filled = 0
        while filled < need and self._chunks:
            chunk = self._chunks.popleft()
            take = min(need - filled, len(chunk))
            frame[filled : filled + take] = chunk[:take]
            if take < len(chunk):
                self._chunks.appendleft(chunk[take:])
            filled += take
            self._queued -= take
        self.frames_read += 1
        return frame


class AsyncFrameQueue:
    """Inbound frames as an asyncio async iterator (a frame sink).

    ``write`` and ``close`` must be called on the event loop's thread; other
    threads use :meth:`write_threadsafe` / :meth:`close_threadsafe`, which
    need the loop (given here or bound on first use from the loop).  After
    ``close`` the iterator yields what is left, then stops.
    """

    def __init__(self, max_frames: int = 50, *, loop: asyncio.AbstractEventLoop | None = None):
        if max_frames < 1:
            raise LocalProtocolError("max_frames must be at least 1")
        self._frames: deque[AudioFrame] = deque()
        self._max = max_frames
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.dropped = 0

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Set the loop the thread-safe methods hand frames to."""
        self._loop = loop

    def write(self, frame: AudioFrame) -> None:
        """Queue ``frame`` (on the loop thread); dropped silently once closed."""
        if self._closed:
            return
        if len(self._frames) >= self._max:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(frame)
        self._wake()

    def close(self) -> None:
        """End the stream (on the loop thread)."""
        self._closed = True
        self._wake()

    def write_threadsafe(self, frame: AudioFrame) -> None:
        """Queue ``frame`` from any thread, through the bound loop."""
        self._bound_loop().call_soon_threadsafe(self.write, frame)

    def close_threadsafe(self) -> None:
        """End the stream from any thread, through the bound loop."""
        self._bound_loop().call_soon_threadsafe(self.close)

    def _bound_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise LocalProtocolError("no event loop bound: pass loop= or call bind(loop)")
        return self._loop

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def get_nowait(self) -> AudioFrame | None:
        """The oldest queued frame, or None."""
        return self._frames.popleft() if self._frames else None

    async def get(self) -> AudioFrame | None:
        """Wait for the next frame; None once closed and drained."""
        while not self._frames:
            if self._closed:
                return None
            loop = asyncio.get_running_loop()
            if self._loop is None:
                self._loop = loop
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._frames.popleft()

    def __aiter__(self) -> AsyncFrameQueue:
        return self

    async def __anext__(self) -> AudioFrame:
        frame = await self.get()
        if frame is None:
            raise StopAsyncIteration
        return frame

    def __len__(self) -> int:
        return len(self._frames)


_CLOSED: Final = object()


class FrameQueue:
    """Inbound frames for synchronous code (a frame sink), safe between threads.

    ``get(timeout)`` blocks; iteration yields frames until :meth:`close`.
    """

    def __init__(self, max_frames: int = 50) -> None:
        if max_frames < 1:
            raise LocalProtocolError("max_frames must be at least 1")
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_frames + 1)
        self._max = max_frames
        self._closed = False
        self.dropped = 0

    def write(self, frame: AudioFrame) -> None:
        """Queue ``frame``, dropping the oldest when full; ignored once closed."""
        if self._closed:
            return
        while self._queue.qsize() >= self._max:
            try:
                self._queue.get_nowait()
            except queue.Empty:  # pragma: no cover - a reader raced us
                break
            self.dropped += 1
        self._queue.put_nowait(frame)

    def close(self) -> None:
        """End the stream: readers get what is queued, then the end."""
        if not self._closed:
            self._closed = True
            self._queue.put(_CLOSED)

    def get(self, timeout: float | None = None) -> AudioFrame | None:
        """The next frame; None on timeout or once closed and drained."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _CLOSED:
            self._queue.put(_CLOSED)  # keep the end visible to other readers
            return None
        assert isinstance(item, np.ndarray)
        return item

    def __iter__(self) -> Iterator[AudioFrame]:
        while True:
            frame = self.get()
            if frame is None:
                return
            yield frame
