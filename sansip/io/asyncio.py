"""asyncio driver: SIP (UDP, TCP or TLS) and the media of every call in the
running loop.

The shared :class:`~sansip.io.driver.Driver` and its
:class:`~sansip.io.pump.Pump` hold the sockets and the machines; this module
only watches the sockets (``loop.add_reader``/``add_writer``), arms one
``loop.call_at`` timer and takes commands from other threads
(:meth:`AsyncioDriver.call`)::

    driver = AsyncioDatagramDriver(ua, ("127.0.0.1", 5060), on_activity=drain)
    await driver.start()
    port = driver.open_media("127.0.0.1")        # RTP/RTCP sockets for a call
    ...                                          # ua.call(...); driver.wake()
    driver.start_media(port, call_media.stream)  # once negotiated: ticks every 20 ms
    await driver.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sansip.io.driver import Driver, StreamDriving
from sansip.io.streams import Pollable
from sansip.transport.types import Address

__all__ = ["AsyncioDatagramDriver", "AsyncioDriver", "AsyncioStreamDriver"]

T = TypeVar("T")


class AsyncioDriver(Driver):
    """The driver (see :class:`~sansip.io.driver.Driver`) in the running
    asyncio loop; SIP over UDP unless made with ``stream=``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._watched: dict[int, tuple[int, bool, bool]] = {}  # key -> (fd, read, write)

    async def start(self) -> Address:
        """Bind the SIP socket (or listen); return the bound address (port 0 picks one)."""
        self._loop = asyncio.get_running_loop()
        self._open_pump(self._loop.time)
        self.wake()
        return self.local

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` in the loop from any thread, then :meth:`wake`; its
        result (or exception) arrives in the returned future."""
        assert self._loop is not None, "start() first"
        fut: Future[T] = Future()
        self._loop.call_soon_threadsafe(self._command, fn, fut)
        return fut

    async def close(self) -> None:
        """Stop the timer and close every socket."""
        self._closed = True
        self._set_timer(None)
        if self._pump is not None:
            self._pump.close()
        await asyncio.sleep(0)

    # -- loop hooks --------------------------------------------------------------------
    def _watch(self, key: int, sock: Pollable, read: bool, write: bool) -> None:
        loop = self._loop
        assert loop is not None
        fd, reading, writing = self._watched.get(key, (sock.fileno(), False, False))
        if read != reading:
            (loop.add_reader(fd, self._ready, key, True, False) if read
             else loop.remove_reader(fd))  # fmt: skip
        if write != writing:
            (loop.add_writer(fd, self._ready, key, False, True) if write
             else loop.remove_writer(fd))  # fmt: skip
        self._watched[key] = (fd, read, write)

    def _unwatch(self, key: int, sock: Pollable) -> None:
        if key in self._watched:
            self._watch(key, sock, False, False)
            del self._watched[key]

    def _set_timer(self, deadline: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_at(deadline, self._fire, deadline)


#: SIP over UDP (and media) in the running loop.
AsyncioDatagramDriver = AsyncioDriver


class AsyncioStreamDriver(StreamDriving, AsyncioDriver):
    """SIP over TCP or TLS (and media) in the running loop (see
    :class:`~sansip.io.driver.StreamDriving` for the TLS arguments)."""
