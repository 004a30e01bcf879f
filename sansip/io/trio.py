"""trio driver: SIP (UDP, TCP or TLS) and the media of every call in trio tasks.

The shared :class:`~sansip.io.driver.Driver` and its
:class:`~sansip.io.pump.Pump` hold the sockets and the machines; this module
gives each watched socket a task that waits until it is readable or
writable (``trio.lowlevel.wait_readable``/``wait_writable``), and one timer
task that sleeps until the pump's deadline.  Sending never waits
(non-blocking sockets), so commands need no ``await``.  Two shapes, both
structured:

>>> # async with TrioDatagramDriver(machine, ("127.0.0.1", 5060)) as driver:
>>> #     ...  # driver.local is bound; command the machine, then driver.wake()
>>> # (leaving the block closes the driver and waits for its tasks)
>>>
>>> # async with trio.open_nursery() as nursery:       # your own nursery
>>> #     local = await nursery.start(driver.run)
>>> #     ...; driver.close()
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, TypeVar

import trio

from sansip.io.driver import Driver, StreamDriving
from sansip.io.streams import Pollable
from sansip.transport.types import Address

__all__ = ["TrioDatagramDriver", "TrioDriver", "TrioStreamDriver"]

T = TypeVar("T")


class _Watched:
    """What one socket's two tasks wait for; ``changed`` wakes them to look again."""

    def __init__(self, sock: Pollable) -> None:
        self.sock = sock
        self.wanted = {"read": False, "write": False}
        self.changed = {"read": trio.Event(), "write": trio.Event()}

    def set(self, direction: str, wanted: bool) -> None:
        if self.wanted[direction] != wanted:
            self.wanted[direction] = wanted
            self.changed[direction].set()


class TrioDriver(Driver):
    """The driver (see :class:`~sansip.io.driver.Driver`) in trio tasks; SIP
    over UDP unless made with ``stream=``.  ``on_activity`` runs in the
    driver's tasks; an exception it raises propagates to the nursery, as
    trio would have it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._nursery: trio.Nursery | None = None
        self._watched: dict[int, _Watched] = {}
        self._timer_changed = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._stopped = trio.Event()
        self._stack: AsyncExitStack | None = None
        self._token: trio.lowlevel.TrioToken | None = None

    async def run(
        self, *, task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind the SIP socket (or listen), report the bound address through
        ``task_status`` (``await nursery.start(driver.run)`` returns it), then
        pump until :meth:`close` (or cancellation)."""
        assert self._scope is None, "run() once"
        await trio.lowlevel.checkpoint()
        try:
            with trio.CancelScope() as self._scope:
                if self._closed:
                    self._scope.cancel()
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self._token = trio.lowlevel.current_trio_token()
                    self._open_pump(trio.current_time)  # its sockets' tasks start here
                    nursery.start_soon(self._timer)
                    task_status.started(self.local)
                    self.wake()
        finally:
            self._nursery = None
            self._closed = True
            if self._pump is not None:
                self._pump.close()
            self._stopped.set()

    async def __aenter__(self) -> TrioDriver:
        """Open a nursery, start :meth:`run` in it and wait until bound."""
        async with AsyncExitStack() as stack:
            nursery = await stack.enter_async_context(trio.open_nursery())
            await nursery.start(self.run)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:  # fmt: skip
        """Close, and wait for the tasks.  An exception from the body is
        re-raised as it is (not wrapped by the hidden nursery); ``Cancelled``
        goes to the nursery so trio can route it to its cancel scope."""
        self.close()
        stack, self._stack = self._stack, None
        assert stack is not None
        if exc is None or isinstance(exc, trio.Cancelled):
            return bool(await stack.__aexit__(exc_type, exc, tb))
        await stack.__aexit__(None, None, None)
        return False

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` in the driver's trio run from another thread, then
        :meth:`wake`; its result (or exception) arrives in the returned future."""
        assert self._token is not None, "run() first"
        fut: Future[T] = Future()
        self._token.run_sync_soon(self._command, fn, fut)
        return fut

    def close(self) -> None:
        """Ask the driver's tasks to stop and close the sockets.  Idempotent;
        returns at once (see :meth:`aclose` to also wait)."""
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()

    async def aclose(self) -> None:
        """Close and wait until the driver's tasks have let go of the sockets."""
        self.close()
        if self._scope is not None:
            await self._stopped.wait()

    # -- loop hooks ----------------------------------------------------------------------
    def _watch(self, key: int, sock: Pollable, read: bool, write: bool) -> None:
        watched = self._watched.get(key)
        if watched is None or watched.sock is not sock:
            watched = self._watched[key] = _Watched(sock)
            if self._nursery is not None:
                self._start_tasks(key, watched)
        watched.set("read", read)
        watched.set("write", write)

    def _unwatch(self, key: int, sock: Pollable) -> None:
        watched = self._watched.pop(key, None)
        if watched is not None:
            trio.lowlevel.notify_closing(watched.sock)
            for event in watched.changed.values():
                event.set()

    def _set_timer(self, deadline: float | None) -> None:
        self._timer_changed.set()

    # -- tasks -----------------------------------------------------------------------
    def _start_tasks(self, key: int, watched: _Watched) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(self._serve, key, watched, "read")
        self._nursery.start_soon(self._serve, key, watched, "write")

    async def _serve(self, key: int, watched: _Watched, direction: str) -> None:
        """Wait until the socket is ready in ``direction`` while that is
        wanted, and report it; end when the socket is unwatched."""
        wait = trio.lowlevel.wait_readable if direction == "read" else trio.lowlevel.wait_writable
        reading = direction == "read"
        while self._watched.get(key) is watched:
            if not watched.wanted[direction]:
                watched.changed[direction] = trio.Event()
                await watched.changed[direction].wait()
                continue
            try:
                await wait(watched.sock)
            except (trio.ClosedResourceError, OSError):  # closed under us
                return
            if self._watched.get(key) is watched:
                self._ready(key, reading, not reading)

    async def _timer(self) -> None:
        while True:
            self._timer_changed = trio.Event()
            at = self._armed
            with trio.move_on_at(math.inf if at is None else at):
                await self._timer_changed.wait()
                continue
            if at is not None:
                self._fire(at)


#: SIP over UDP (and media) in trio tasks.
TrioDatagramDriver = TrioDriver


class TrioStreamDriver(StreamDriving, TrioDriver):
    """SIP over TCP or TLS (and media) in trio tasks (see
    :class:`~sansip.io.driver.StreamDriving` for the TLS arguments)."""
