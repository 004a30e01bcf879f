"""trio driver for media: RTP/RTCP sockets and the media clock.

The trio twin of :mod:`sansip.io.asyncio_media`.  A :class:`TrioMediaPort`
owns the RTP socket (an even port) and the RTCP socket (the next port) of
one call and feeds a :class:`~sansip.media.MediaStream`: one task per
socket waits with ``trio.lowlevel.wait_readable`` and a third fires the
stream's timer.  :class:`TrioMediaClock` ticks every attached port once per
frame with ``trio.sleep_until``-style deadlines on the absolute
:class:`~sansip.io.threading_media.TickGrid` of ``trio.current_time()``
(catching up, then restarting, like the asyncio clock).  Sending is
synchronous on the non-blocking sockets (a datagram the kernel refuses is
dropped and counted), so ticks, :meth:`TrioMediaPort.flush` and stream
commands need no ``await``:

>>> # async with TrioMediaClock() as clock, TrioMediaPort("127.0.0.1") as port:
>>> #     ...  # port.port is bound: offer it; once negotiated:
>>> #     port.stream = call_media.stream; clock.add(port)
>>> #     port.stream.send_dtmf("5", trio.current_time()); port.flush()
>>> #     clock.remove(port)
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import Callable
from typing import Final

import trio

from sansip.io._trio_base import HiddenNursery
from sansip.io.threading_media import TickGrid, bind_rtp_pair, send_stream_output
from sansip.media import FRAME_DURATION, MediaStream

__all__ = ["TrioMediaClock", "TrioMediaPort"]

log = logging.getLogger("sansip.io")

#: Datagrams read from one socket per wake-up before other tasks get a turn.
_READ_BATCH: Final = 64
_MAX_DATAGRAM: Final = 65535


class TrioMediaPort(HiddenNursery):
    """The sockets of one call's audio and the stream they feed.

    ``stream`` may be set later (the stream exists once SDP is negotiated);
    until then packets are counted in ``dropped``.  After a command on the
    stream, call :meth:`flush`.  ``on_activity`` runs in the port's task
    after datagrams or a timer (its exceptions propagate, as trio would have
    it); ``faults`` counts exceptions the stream raised (logged, the port
    carries on).
    """

    def __init__(self, host: str, *, on_activity: Callable[[], None] | None = None) -> None:
        self.host = host
        self.stream: MediaStream | None = None
        self.on_activity = on_activity
        self.port = 0
        self.errors = 0
        self.dropped = 0
        self.faults = 0
        self._rtp: socket.socket | None = None
        self._rtcp: socket.socket | None = None
        self._timer_at: float | None = None
        self._rearmed = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._closed = False

    async def open(self, port: int = 0, *, attempts: int = 50) -> int:
        """Bind RTP on ``port`` (even; 0: a free one from
        :data:`~sansip.io.asyncio_media.RTP_PORTS`) and RTCP on the next
        port; return the RTP port.  Packets are read once :meth:`run` runs."""
        assert self._rtp is None and not self._closed, "open() once"
        await trio.lowlevel.checkpoint()
        self._rtp, self._rtcp = bind_rtp_pair(self.host, port, attempts=attempts)
        self.port = int(self._rtp.getsockname()[1])
        return self.port

    async def __aenter__(self) -> TrioMediaPort:
        """Open (unless open already), then start :meth:`run` in a nursery
        of its own; leaving the block closes the port."""
        if self._rtp is None:
            await self.open()
        await self._enter()
        return self

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Receive on both sockets and fire the stream's timer until
        :meth:`close` (``await nursery.start(port.run)`` after :meth:`open`)."""
        assert self._rtp is not None and self._rtcp is not None, "open() first"
        assert self._scope is None, "run() once"
        with trio.CancelScope() as self._scope:
            if self._closed:
                self._scope.cancel()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._receive, self._rtp, False)
                nursery.start_soon(self._receive, self._rtcp, True)
                nursery.start_soon(self._timer)
                task_status.started()

    def close(self) -> None:
        """Send the stream's last packets, close both sockets and stop the
        port's tasks.  Idempotent; returns at once."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        for sock in (self._rtp, self._rtcp):
            if sock is not None:
                trio.lowlevel.notify_closing(sock)
                sock.close()
        self._rtp = self._rtcp = None
        if self._scope is not None:
            self._scope.cancel()

    # -- pumping ------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """One media clock tick for this call."""
        if self.stream is not None:
            self._guard(self.stream.tick, now)
            self.flush()

    def flush(self) -> None:
        """Send what the stream has queued and re-arm its timer."""
        stream = self.stream
        if stream is None or self._rtp is None:
            return
        try:
            self.errors += send_stream_output(stream, self._rtp, self._rtcp, trio.current_time())
            at = stream.get_timer()
        except Exception:
            self.faults += 1
            log.exception("media stream raised")
            at = None
        if at != self._timer_at:
            self._timer_at = at
            self._rearmed.set()

    def _guard(self, step: Callable[[float], None], now: float) -> None:
        try:
            step(now)
        except Exception:
            self.faults += 1
            log.exception("media stream raised")

    async def _receive(self, sock: socket.socket, rtcp: bool) -> None:
        while not self._closed:  # a task woken just before close() finds it closed
            try:
                await trio.lowlevel.wait_readable(sock)
            except (trio.ClosedResourceError, OSError):  # closed under us
                return
            got = False
            for _ in range(_READ_BATCH):
                try:
                    data, addr = sock.recvfrom(_MAX_DATAGRAM)
                except BlockingIOError:
                    break
                except OSError:  # e.g. an ICMP error reported on Windows
                    if sock.fileno() < 0:  # closed meanwhile
                        return
                    self.errors += 1
                    continue
                stream = self.stream
                if stream is None:
                    self.dropped += 1
                    continue
                address = (str(addr[0]), int(addr[1]))
                try:
                    stream.receive_datagram(data, address, trio.current_time(), rtcp=rtcp)
                except Exception:
                    self.faults += 1
                    log.exception("media stream raised")
                got = True
            if got:
                self.flush()
                if self.on_activity is not None:
                    self.on_activity()

    async def _timer(self) -> None:
        while True:
            self._rearmed = trio.Event()
            at = self._timer_at
            with trio.move_on_at(math.inf if at is None else at):
                await self._rearmed.wait()
                continue
            self._timer_at = None
            if self.stream is not None:
                self._guard(self.stream.handle_timer, trio.current_time())
                self.flush()
                if self.on_activity is not None:
                    self.on_activity()


class TrioMediaClock(HiddenNursery):
    """Ticks every attached :class:`TrioMediaPort` once per frame; run it
    with ``async with`` or ``await nursery.start(clock.run)``."""

    def __init__(self, frame: float = FRAME_DURATION) -> None:
        self.frame = frame
        self.grid = TickGrid(0.0, frame)
        self.ports: list[TrioMediaPort] = []
        self._changed = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._closed = False

    @property
    def late_ticks(self) -> int:
        """Ticks that ran after their slot (catching up)."""
        return self.grid.late_ticks

    @property
    def restarts(self) -> int:
        """Times the grid was restarted after a long stall."""
        return self.grid.restarts

    async def __aenter__(self) -> TrioMediaClock:
        """Start :meth:`run` in a nursery of its own; leaving the block stops it."""
        await self._enter()
        return self

    def add(self, port: TrioMediaPort) -> None:
        """Start ticking ``port`` (the grid starts with the first port)."""
        if not self.ports:
            self.grid.reset(trio.current_time())
            self._changed.set()
        if port not in self.ports:
            self.ports.append(port)

    def remove(self, port: TrioMediaPort) -> None:
        """Stop ticking ``port``."""
        if port in self.ports:
            self.ports.remove(port)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Tick the ports on the grid until :meth:`close` (or cancellation)."""
        assert self._scope is None, "run() once"
        with trio.CancelScope() as self._scope:
            if self._closed:
                self._scope.cancel()
            task_status.started()
            while True:
                self._changed = trio.Event()
                with trio.move_on_at(self.grid.next_due if self.ports else math.inf):
                    await self._changed.wait()
                    continue  # the grid (re)started: wait for its first slot
                for due in self.grid.due(trio.current_time()):
                    for port in list(self.ports):
                        port.tick(due)

    def close(self) -> None:
        """Stop ticking; returns at once."""
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()
