"""asyncio driver for media: RTP/RTCP sockets and the media clock.

:class:`AsyncioMediaPort` owns the RTP socket (an even port) and the RTCP
socket (the next port) of one call and feeds a
:class:`~sansip.media.MediaStream`; :class:`AsyncioMediaClock` ticks every
port attached to it once per 20 ms frame.  Ticks are scheduled on an
absolute grid (``start + n * 20 ms``), so timing errors do not accumulate;
when the loop falls behind, the missed ticks run at once (up to
:data:`MAX_CATCH_UP`), after which the grid is restarted.  Nothing here
decides anything about the media: the stream does.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any, Final

from sansip.errors import LocalProtocolError
from sansip.io.asyncio import _grow_buffers
from sansip.media import FRAME_DURATION, MediaStream
from sansip.rtp import is_rtcp
from sansip.transport.types import Address

__all__ = ["MAX_CATCH_UP", "RTP_PORTS", "AsyncioMediaClock", "AsyncioMediaPort"]

#: Ticks run back to back when the loop was late before the grid restarts.
MAX_CATCH_UP: Final = 5
#: Where RTP ports are looked for (even ports; RTCP on the next one).
RTP_PORTS: Final = (16384, 32766)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, port: AsyncioMediaPort, rtcp: bool) -> None:
        self._port, self._rtcp = port, rtcp

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._port._received(data, (str(addr[0]), int(addr[1])), self._rtcp)

    def error_received(self, exc: Exception) -> None:
        self._port.errors += 1


class AsyncioMediaPort:
    """The sockets of one call's audio and the stream they feed.

    ``stream`` may be set later (the stream exists once SDP is negotiated);
    until then packets are counted and dropped.
    """

    def __init__(self, host: str, *, on_activity: Callable[[], None] | None = None) -> None:
        self.host = host
        self.stream: MediaStream | None = None
        self.on_activity = on_activity
        self.errors = 0
        self.dropped = 0
        self._rtp: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.port = 0

    async def open(self, port: int = 0, *, attempts: int = 50) -> int:
        """Bind RTP on ``port`` (even; 0: a free one from :data:`RTP_PORTS`)
        and RTCP on the next port; return the RTP port."""
        loop = asyncio.get_running_loop()
        candidates = [port] if port else [
            random.randrange(RTP_PORTS[0], RTP_PORTS[1], 2) for _ in range(attempts)
        ]  # fmt: skip
        for candidate in candidates:
            try:
                rtp, _ = await loop.create_datagram_endpoint(
                    lambda: _Protocol(self, False), local_addr=(self.host, candidate)
                )
            except OSError:
                continue
            try:
                rtcp, _ = await loop.create_datagram_endpoint(
                    lambda: _Protocol(self, True), local_addr=(self.host, candidate + 1)
                )
            except OSError:
                rtp.close()
                continue
            self._rtp, self._rtcp = rtp, rtcp
            for transport in (rtp, rtcp):
                _grow_buffers(transport.get_extra_info("socket"))
            self.port = candidate
            return candidate
        raise LocalProtocolError(f"no free RTP/RTCP port pair on {self.host}")

    def close(self) -> None:
        """Close both sockets (send the stream's last packets first)."""
        self.flush()
        if self._timer is not None:
            self._timer.cancel()
        for transport in (self._rtp, self._rtcp):
            if transport is not None:
                transport.close()
        self._rtp = self._rtcp = None

    # -- pumping ------------------------------------------------------------------------
    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _received(self, data: bytes, addr: Address, rtcp: bool) -> None:
        stream = self.stream
        if stream is None:
            self.dropped += 1
            return
        stream.receive_datagram(data, addr, self._now(), rtcp=rtcp)
        self.flush()
        if self.on_activity is not None:
            self.on_activity()

    def tick(self, now: float) -> None:
        """One media clock tick for this call."""
        stream = self.stream
        if stream is not None:
            stream.tick(now)
            self.flush()

    def flush(self) -> None:
        """Send what the stream has queued and re-arm its timer."""
        stream = self.stream
        if stream is None or self._rtp is None:
            return
        now = self._now()
        mux = stream.media.rtcp_mux
        for data, dest in stream.datagrams_to_send(now):
            transport = self._rtcp if not mux and is_rtcp(data) else self._rtp
            if transport is None:
                continue
            try:
                transport.sendto(data, dest)
            except OSError:
                self.errors += 1
        self._arm(stream.get_timer())

    def _arm(self, at: float | None) -> None:
        if at == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(max(at, loop.time()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        stream = self.stream
        if stream is not None:
            stream.handle_timer(self._now())
            self.flush()
            if self.on_activity is not None:
                self.on_activity()


class AsyncioMediaClock:
    """Ticks every attached :class:`AsyncioMediaPort` once per frame."""

    def __init__(self, frame: float = FRAME_DURATION) -> None:
        self.frame = frame
        self.ports: list[AsyncioMediaPort] = []
        self.late_ticks = 0  # ticks that ran after their slot (catch-up)
        self.restarts = 0  # times the grid was restarted after a long stall
        self._handle: asyncio.TimerHandle | None = None
        self._start = 0.0
        self._n = 0

    def add(self, port: AsyncioMediaPort) -> None:
        """Start ticking ``port`` (the clock starts with its first port)."""
        self.ports.append(port)
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._start, self._n = loop.time(), 0
            self._handle = loop.call_at(self._start, self._tick)

    def remove(self, port: AsyncioMediaPort) -> None:
        """Stop ticking ``port``."""
        with contextlib.suppress(ValueError):
            self.ports.remove(port)
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
