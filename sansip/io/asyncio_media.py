"""asyncio driver for media: RTP/RTCP sockets and the media clock.

:class:`AsyncioMediaPort` owns the RTP socket (an even port) and the RTCP
socket (the next port) of one call and feeds a
:class:`~sansip.media.MediaStream`; :class:`AsyncioMediaClock` ticks every
port attached to it once per 20 ms frame.  Ticks are scheduled on an
absolute grid (``start + n * 20 ms``), so timing errors do not accumulate;
when the loop falls behind, the missed ticks run at once (up to
:data:`MAX_CATCH_UP`), after which the grid is restarted.  The sockets
are plain non-blocking sockets watched with ``loop.add_reader`` (no asyncio
transport per socket): input only feeds the stream, and each tick sends
what its stream queued and services the stream's timers when due, so a
port costs one pass per tick and one read per packet.  Nothing here
decides anything about the media: the stream does.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Callable
from typing import Final, Protocol

from sansip.errors import LocalProtocolError
from sansip.io.asyncio import _grow_buffers
from sansip.media import FRAME_DURATION, MediaStream
from sansip.rtp import is_rtcp

__all__ = ["MAX_CATCH_UP", "RTP_PORTS", "AsyncioMediaClock", "AsyncioMediaPort", "Ticking"]

#: Ticks run back to back when the loop was late before the grid restarts.
MAX_CATCH_UP: Final = 5
#: Where RTP ports are looked for (even ports; RTCP on the next one).
RTP_PORTS: Final = (16384, 32766)
#: The largest datagram read.
_MAX_DATAGRAM: Final = 65536


class AsyncioMediaPort:
    """The sockets of one call's audio and the stream they feed.

    ``stream`` may be set later (the stream exists once SDP is negotiated);
    until then packets are counted and dropped.

    The sockets are non-blocking and watched with ``loop.add_reader``; each
    readable event reads one datagram into the stream.
    While the port is attached to an :class:`AsyncioMediaClock`, everything
    the stream has to send goes out once per tick (after the tick, with its
    timers serviced when due); a port on no clock sends after each input and
    arms its own timer at the stream's ``get_timer()``.  A datagram the
    kernel does not take (full buffer, unreachable) is dropped and counted
    in ``errors``.
    """

    def __init__(self, host: str, *, on_activity: Callable[[], None] | None = None) -> None:
        self.host = host
        self.stream: MediaStream | None = None
        self.on_activity = on_activity
        self.errors = 0
        self.dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._time: Callable[[], float] = self._now
        self._rtp: socket.socket | None = None
        self._rtcp: socket.socket | None = None
        self._clocked = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.port = 0

    async def open(self, port: int = 0, *, attempts: int = 50) -> int:
        """Bind RTP on ``port`` (even; 0: a free one from :data:`RTP_PORTS`)
        and RTCP on the next port; return the RTP port."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.host, 0, type=socket.SOCK_DGRAM)
        if not infos:
            raise LocalProtocolError(f"cannot resolve {self.host}")
        family, kind, proto, _, sockaddr = infos[0]
        candidates = [port] if port else [
            random.randrange(RTP_PORTS[0], RTP_PORTS[1], 2) for _ in range(attempts)
        ]  # fmt: skip

        def bind(number: int) -> socket.socket:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                sock.bind((sockaddr[0], number, *sockaddr[2:]))
            except OSError:
                sock.close()
                raise
            _grow_buffers(sock)
            return sock

        for candidate in candidates:
            try:
                rtp = bind(candidate)
            except OSError:
                continue
            try:
                rtcp = bind(candidate + 1)
            except OSError:
                rtp.close()
                continue
            self._loop, self._rtp, self._rtcp = loop, rtp, rtcp
            self._time = loop.time
            loop.add_reader(rtp.fileno(), self._read_ready, rtp, False)
            loop.add_reader(rtcp.fileno(), self._read_ready, rtcp, True)
            self.port = candidate
            return candidate
        raise LocalProtocolError(f"no free RTP/RTCP port pair on {self.host}")

    def close(self) -> None:
        """Close both sockets (send the stream's last packets first)."""
        self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        loop = self._loop
        for sock in (self._rtp, self._rtcp):
            if sock is None:
                continue
            if loop is not None:
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_reader(sock.fileno())
            sock.close()
        self._rtp = self._rtcp = None

    # -- pumping ------------------------------------------------------------------------
    def _now(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time()

    def _read_ready(self, sock: socket.socket, rtcp: bool) -> None:
        # One datagram per readable event: the selector is level-triggered, so
        # a socket with more queued is reported again on the next loop pass.
        # (Draining until EAGAIN would cost a failed recvfrom and an exception
        # per event, while a media socket gets one packet per frame.)
        try:
            data, addr = sock.recvfrom(_MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # e.g. an ICMP error queued on the socket
            self.errors += 1
            return
        stream = self.stream
        if stream is None:
            self.dropped += 1
            return
        if len(addr) != 2:  # IPv6: (host, port, flowinfo, scope_id)
            addr = (addr[0], addr[1])
        stream.receive_datagram(data, addr, self._time(), rtcp=rtcp)
        if not self._clocked:
            self.flush()
        if self.on_activity is not None:
            self.on_activity()

    def tick(self, now: float) -> None:
        """One media clock tick for this call: the stream's frame, its timers
        when due, then what it has to send."""
        stream = self.stream
        if stream is None:
            return
        stream.tick(now)
        current = self._time()
        deadline = stream.get_timer()
        fired = deadline is not None and deadline <= current
        if fired:
            stream.handle_timer(current)
        self._send(stream, current)
        if fired and self.on_activity is not None:
            self.on_activity()

    def flush(self) -> None:
        """Send what the stream has queued (and, on no clock, re-arm its timer)."""
        stream = self.stream
        if stream is None or self._rtp is None:
            return
        self._send(stream, self._now())
        if not self._clocked:
            self._arm(stream.get_timer())

    def _send(self, stream: MediaStream, now: float) -> None:
        out = stream.datagrams_to_send(now)
        rtp = self._rtp
        if not out or rtp is None:
            return
        rtcp = self._rtcp if not stream.media.rtcp_mux else None
        for data, dest in out:
            sock = rtcp if rtcp is not None and is_rtcp(data) else rtp
            try:
                sock.sendto(data, dest)
            except OSError:  # BlockingIOError too: media does not wait
                self.errors += 1

    def _set_clocked(self, clocked: bool) -> None:
        """Attached to a clock (its ticks service the timers) or not (own timer)."""
        self._clocked = clocked
        if clocked:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._timer_at = None
        else:
            self.flush()

    def _arm(self, at: float | None) -> None:
        if at == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at is not None:
            loop = self._loop or asyncio.get_running_loop()
            self._timer = loop.call_at(max(at, loop.time()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        stream = self.stream
        if stream is not None and not self._clocked:
            stream.handle_timer(self._now())
            self.flush()
            if self.on_activity is not None:
                self.on_activity()


class Ticking(Protocol):
    """Anything the media clock drives: a call's port, a local tone player."""

    def tick(self, now: float) -> None:
        """One 20 ms frame, due at ``now`` (a slot of the grid)."""


class AsyncioMediaClock:
    """Ticks every attached :class:`AsyncioMediaPort` once per frame."""

    def __init__(self, frame: float = FRAME_DURATION) -> None:
        self.frame = frame
        self.ports: list[Ticking] = []
        self.late_ticks = 0  # ticks that ran after their slot (catch-up)
        self.restarts = 0  # times the grid was restarted after a long stall
        self._handle: asyncio.TimerHandle | None = None
        self._start = 0.0
        self._n = 0

    def add(self, port: Ticking) -> None:
        """Start ticking ``port`` (the clock starts with its first port); its
        stream's timers are serviced by the ticks from now on."""
        self.ports.append(port)
        if isinstance(port, AsyncioMediaPort):
            port._set_clocked(True)
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._start, self._n = loop.time(), 0
            self._handle = loop.call_at(self._start, self._tick)

    def remove(self, port: Ticking) -> None:
        """Stop ticking ``port`` (its stream's timers go back to its own timer)."""
        with contextlib.suppress(ValueError):
            self.ports.remove(port)
            if isinstance(port, AsyncioMediaPort):
                port._set_clocked(False)
        if not self.ports and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        due = self._start + self._n * self.frame
        ran = 0
        while loop.time() >= due and ran < MAX_CATCH_UP:
            if ran:
                self.late_ticks += 1
            for port in list(self.ports):
                port.tick(due)
            self._n += 1
            ran += 1
            due = self._start + self._n * self.frame
        if loop.time() >= due:  # still behind after catching up: restart the grid
            self.restarts += 1
            self._start, self._n = loop.time(), 0
            due = self._start
        self._handle = loop.call_at(due, self._tick) if self.ports else None
