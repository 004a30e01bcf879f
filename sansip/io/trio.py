"""trio driver: SIP over UDP and the media of every call in trio tasks.

The :class:`~sansip.io.pump.Pump` holds the sockets and the machines (a SIP
datagram machine and the :class:`~sansip.media.engine.MediaEngine`); this
module gives each socket a task that waits until it is readable
(``trio.lowlevel.wait_readable``) and calls the pump, and one timer task
that sleeps until the pump's deadline.  Sending never waits (non-blocking
sockets), so commands need no ``await``.  Two shapes, both structured:

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
import socket
from collections.abc import Callable
from typing import TypeVar

import trio

from sansip.io._pump import DatagramMachine
from sansip.io._trio_base import HiddenNursery
from sansip.io.pump import SIP_SOCKET, MediaCommands, Pump
from sansip.media.engine import MediaEngine
from sansip.transport.types import Address

__all__ = ["TrioDatagramDriver"]

T = TypeVar("T")


class TrioDatagramDriver(HiddenNursery, MediaCommands):
    """Runs a datagram machine on one UDP socket (``local``; None: no SIP
    socket) and the media engine in trio tasks.

    After commanding the machine from another task, call :meth:`wake` so
    its output goes out and the timer is re-armed.  ``on_activity`` is
    called in the driver's tasks after the machine took input or fired a
    timer, or when the media engine has events; an exception it raises
    propagates to the nursery, as trio would have it.
    """

    def __init__(
        self,
        machine: DatagramMachine | None,
        local: Address | None,
        *,
        on_activity: Callable[[], None] | None = None,
        media: MediaEngine | None = None,
    ) -> None:
        self.machine = machine
        self.local: Address = local or ("", 0)
        self._sip = local is not None
        self.on_activity = on_activity
        self._media = media
        self._pump: Pump | None = None
        self._nursery: trio.Nursery | None = None
        self._unwatched: list[tuple[int, socket.socket]] = []
        self._rearmed = trio.Event()
        self._armed: float | None = None
        self._scope: trio.CancelScope | None = None
        self._closed = False
        self._stopped = trio.Event()

    async def __aenter__(self) -> TrioDatagramDriver:
        """Open a nursery, start :meth:`run` in it and wait until bound."""
        await self._enter()
        return self

    async def run(
        self, *, task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind the SIP socket, report the bound address through
        ``task_status`` (``await nursery.start(driver.run)`` returns it),
        then pump until :meth:`close` (or cancellation)."""
        assert self._pump is None, "run() once"
        await trio.lowlevel.checkpoint()
        pump = self._pump = Pump(trio.current_time, self._watch, self._unwatch, media=self._media)
        try:
            if self.machine is not None:
                pump.attach(self.machine)
            if self.local is not None:
                self.local = pump.bind_sip(self.local)
            with trio.CancelScope() as self._scope:
                if self._closed:
                    self._scope.cancel()
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    for key, sock in self._unwatched:
                        nursery.start_soon(self._reader, key, sock)
                    self._unwatched.clear()
                    nursery.start_soon(self._timer)
                    task_status.started(self.local)
                    self.wake()
        finally:
            self._nursery = None
            self._closed = True
            pump.close()
            self._stopped.set()

    def attach(
        self, machine: DatagramMachine, on_activity: Callable[[], None] | None = None
    ) -> None:
        """Run ``machine`` on the bound socket (for a machine that must know
        its address first: construct with ``None``, start, then ``attach``)."""
        self.machine = machine
        self.pump.attach(machine)
        if on_activity is not None:
            self.on_activity = on_activity
        self.wake()

    @property
    def pump(self) -> Pump:
        """The sockets, machines and counters (received, sent, faults, errors)."""
        assert self._pump is not None, "start the driver first"
        return self._pump

    @property
    def errors(self) -> int:
        """Datagrams the kernel refused or reported errors for."""
        return self.pump.errors

    def wake(self) -> None:
        """Send what the machines have queued and re-arm the timer."""
        if not self._closed:
            self.pump.flush()
            self._arm()

    def _on_owner(self, action: Callable[[], T]) -> T:
        try:
            return action()
        finally:
            self._arm()

    def close(self) -> None:
        """Ask the driver's tasks to stop and close the sockets.  Idempotent;
        returns at once (see :meth:`aclose` to also wait)."""
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()

    async def aclose(self) -> None:
        """Close and wait until the driver's tasks have let go of the sockets."""
        self.close()
        if self._pump is not None:
            await self._stopped.wait()

    # -- tasks ---------------------------------------------------------------------
    def _watch(self, key: int, sock: socket.socket) -> None:
        if self._nursery is None:
            self._unwatched.append((key, sock))
        else:
            self._nursery.start_soon(self._reader, key, sock)

    def _unwatch(self, key: int, sock: socket.socket) -> None:
        trio.lowlevel.notify_closing(sock)

    async def _reader(self, key: int, sock: socket.socket) -> None:
        pump = self.pump
        while not self._closed:
            try:
                await trio.lowlevel.wait_readable(sock)
            except (trio.ClosedResourceError, OSError):  # closed under us
                return
            if pump.readable(key) and key == SIP_SOCKET:
                self._arm()
                self._activity()

    async def _timer(self) -> None:
        while True:
            self._rearmed = trio.Event()
            at = self._armed
            with trio.move_on_at(math.inf if at is None else at):
                await self._rearmed.wait()
                continue
            self._armed = None
            self.pump.fire(at if at is not None else trio.current_time())
            self._arm()
            self._activity()

    def _arm(self) -> None:
        at = None if self._closed else self.pump.deadline()
        if at != self._armed:
            self._armed = at
            self._rearmed.set()

    def _activity(self) -> None:
        if self.pump.take_activity() and self.on_activity is not None:
            self.on_activity()
