"""asyncio driver: SIP over UDP and the media of every call in the running loop.

One :class:`~sansip.io.pump.Pump` holds the sockets and the machines (a SIP
datagram machine and the :class:`~sansip.media.engine.MediaEngine`); this
module only watches the sockets (``loop.add_reader``), calls the pump when
one is readable, arms one ``loop.call_at`` timer at the pump's deadline and
takes commands from other threads (:meth:`AsyncioDatagramDriver.call`)::

    driver = AsyncioDatagramDriver(ua, ("127.0.0.1", 5060), on_activity=drain)
    await driver.start()
    port = driver.open_media("127.0.0.1")       # RTP/RTCP sockets for a call
    ...                                         # ua.call(...); driver.wake()
    driver.start_media(port, call_media.stream)  # once negotiated: ticks every 20 ms
    await driver.close()
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from sansip.io._pump import DatagramMachine
from sansip.io.pump import SIP_SOCKET, MediaCommands, Pump
from sansip.media.engine import MediaEngine
from sansip.transport.types import Address

__all__ = ["AsyncioDatagramDriver"]

T = TypeVar("T")


class AsyncioDatagramDriver(MediaCommands):
    """Runs a datagram machine on one UDP socket (``local``; None: no SIP
    socket) and the media engine, in the running loop.

    After commanding the machine from outside (sending a request, answering
    a call), call :meth:`wake` so its output goes out and the timer is
    re-armed.  ``on_activity`` is called after the machine took input or
    fired a timer, and when the media engine has events, for the owner to
    drain their events.
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump: Pump | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._closed = False

    async def start(self) -> Address:
        """Bind the SIP socket; return the bound address (port 0 picks one)."""
        loop = self._loop = asyncio.get_running_loop()
        pump = self._pump = Pump(loop.time, self._watch, self._unwatch, media=self._media)
        if self.machine is not None:
            pump.attach(self.machine)
        if self._sip:
            self.local = pump.bind_sip(self.local)
        self.wake()
        return self.local

    def attach(
        self, machine: DatagramMachine, on_activity: Callable[[], None] | None = None
    ) -> None:
        """Run ``machine`` on the bound socket (for a machine that must know
        its address first: start with ``None``, ``await start()``, then attach)."""
        self.machine = machine
        self.pump.attach(machine)
        if on_activity is not None:
            self.on_activity = on_activity
        self.wake()

    @property
    def pump(self) -> Pump:
        """The sockets, machines and counters (received, sent, faults, errors)."""
        assert self._pump is not None, "start() first"
        return self._pump

    @property
    def errors(self) -> int:
        """Datagrams the kernel refused or reported errors for."""
        return self.pump.errors

    def now(self) -> float:
        """The loop's clock, as the machines see it."""
        return self.pump.clock()

    def wake(self) -> None:
        """Send what the machines have queued and re-arm the timer."""
        if not self._closed:
            self.pump.flush()
            self._arm()

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` in the loop from any thread, then :meth:`wake`; its
        result (or exception) arrives in the returned future."""
        assert self._loop is not None, "start() first"
        fut: Future[T] = Future()

        def run() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)
            self.wake()

        self._loop.call_soon_threadsafe(run)
        return fut

    def _on_owner(self, action: Callable[[], T]) -> T:
        try:
            return action()
        finally:
            self._arm()

    # -- the loop ----------------------------------------------------------------------
    def _watch(self, key: int, sock: socket.socket) -> None:
        assert self._loop is not None
        self._loop.add_reader(sock.fileno(), self._readable, key)

    def _unwatch(self, key: int, sock: socket.socket) -> None:
        if self._loop is not None:
            self._loop.remove_reader(sock.fileno())

    def _readable(self, key: int) -> None:
        # One datagram per event on a media socket: the selector is
        # level-triggered (more queued is reported on the next pass), and a
        # stream gets one packet per frame, so draining until EAGAIN would
        # cost a failed recvfrom per event.
        pump = self.pump
        if key != SIP_SOCKET:
            pump.readable(key, 1)
        elif pump.readable(key):
            self._arm()
            self._activity()

    def _fire(self) -> None:
        deadline = self._timer_at
        self._timer = self._timer_at = None
        if deadline is None or self._closed:
            return
        self.pump.fire(deadline)
        self._arm()
        self._activity()

    def _arm(self) -> None:
        deadline = None if self._closed else self.pump.deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_at(deadline, self._fire)

    def _activity(self) -> None:
        if self.pump.take_activity() and self.on_activity is not None:
            self.on_activity()

    async def close(self) -> None:
        """Stop the timer and close every socket."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        if self._pump is not None:
            self._pump.close()
        await asyncio.sleep(0)
