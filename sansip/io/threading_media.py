"""Threaded driver for media: RTP/RTCP sockets and the media clock.

The threaded twin of :mod:`sansip.io.asyncio_media`.  A
:class:`ThreadingMediaClock` runs one *media thread* that alone touches
the streams: a selector waits on every port's sockets and a wake-up socket
until the next tick or stream timer, feeds datagrams, ticks the attached
ports on an absolute grid (:class:`TickGrid`) and fires stream timers.
Other threads reach a stream only through :meth:`ThreadingMediaPort.call`;
``on_activity`` callbacks run on a *dispatcher* thread and must do the same:

>>> # with ThreadingMediaClock() as clock:
>>> #     port = ThreadingMediaPort("127.0.0.1", clock)
>>> #     rtp_port = port.open()                # put it in the SDP offer
>>> #     port.stream = call_media.stream        # once negotiated
>>> #     clock.add(port)
>>> #     port.call(lambda s: s.send_dtmf("5", clock.now())).result()
>>> #     clock.remove(port); port.close()
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from types import TracebackType
from typing import Any, Final, TypeVar

from sansip.errors import LocalProtocolError
from sansip.io.asyncio import _grow_buffers
from sansip.io.asyncio_media import MAX_CATCH_UP, RTP_PORTS
from sansip.media import FRAME_DURATION, MediaStream
from sansip.rtp import is_rtcp

__all__ = [
    "ThreadingMediaClock",
    "ThreadingMediaPort",
    "TickGrid",
    "bind_rtp_pair",
    "send_stream_output",
]

log = logging.getLogger("sansip.io")

T = TypeVar("T")
#: Datagrams read from one socket per wake-up before ticks and commands get a turn.
_READ_BATCH: Final = 64
_MAX_DATAGRAM: Final = 65535


class TickGrid:
    """The media clock's schedule, sans-IO: tick ``n`` is due at
    ``start + n * frame``, so timing errors never accumulate.

    :meth:`due` returns the ticks to run at ``now``: the missed ones run at
    once (up to :data:`MAX_CATCH_UP`, all but the first counted in
    ``late_ticks``); still behind after that, the grid restarts at ``now``.
    """

    def __init__(self, start: float = 0.0, frame: float = FRAME_DURATION) -> None:
        self.frame = frame
        self.late_ticks = 0
        self.restarts = 0
        self._start, self._n = start, 0

    def reset(self, start: float) -> None:
        """Start the grid again at ``start`` (counters are kept)."""
        self._start, self._n = start, 0

    @property
    def next_due(self) -> float:
        """When the next tick is due."""
        return self._start + self._n * self.frame

    def due(self, now: float) -> list[float]:
        """The ticks to run at ``now`` (their slot times), oldest first."""
        ticks: list[float] = []
        while now >= self.next_due and len(ticks) < MAX_CATCH_UP:
            ticks.append(self.next_due)
            self._n += 1
        self.late_ticks += max(0, len(ticks) - 1)
        if now >= self.next_due:  # still behind after catching up: restart the grid
            self.restarts += 1
            self.reset(now)
        return ticks


def _bind_udp(host: str, port: int) -> socket.socket:
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(sockaddr)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    _grow_buffers(sock)
    return sock


def bind_rtp_pair(
    host: str, port: int = 0, *, attempts: int = 50
) -> tuple[socket.socket, socket.socket]:
    """Two non-blocking UDP sockets on ``host``: RTP on ``port`` (even; 0: a
    free one from :data:`RTP_PORTS`) and RTCP on the next port."""
    candidates = [port] if port else [
        random.randrange(RTP_PORTS[0], RTP_PORTS[1], 2) for _ in range(attempts)
    ]  # fmt: skip
    for candidate in candidates:
        try:
            rtp = _bind_udp(host, candidate)
        except OSError:
            continue
        try:
            return rtp, _bind_udp(host, candidate + 1)
        except OSError:
            rtp.close()
    raise LocalProtocolError(f"no free RTP/RTCP port pair on {host}")


def send_stream_output(
    stream: MediaStream, rtp: socket.socket, rtcp: socket.socket | None, now: float
) -> int:
    """Send what ``stream`` has queued (RTCP on ``rtcp`` unless muxed); a
    datagram the socket refuses is dropped.  Returns how many were."""
    failed = 0
    mux = stream.media.rtcp_mux
    for data, dest in stream.datagrams_to_send(now):
        sock = rtcp if rtcp is not None and not mux and is_rtcp(data) else rtp
        try:
            sock.sendto(data, dest)
        except OSError:
            failed += 1
    return failed


class ThreadingMediaPort:
    """The sockets of one call's audio and the stream they feed, run by the
    media thread of ``clock`` (started before :meth:`open`).

    ``stream`` may be set later (once SDP is negotiated); until then packets
    are counted in ``dropped``.  ``on_activity`` is called on the clock's
    dispatcher thread after datagrams or a stream timer (coalesced); it must
    reach the stream through :meth:`call`.  ``faults`` counts exceptions the
    stream raised on the media thread (logged, the thread carries on).
    """

    def __init__(
        self,
        host: str,
        clock: ThreadingMediaClock,
        *,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        self.host = host
        self.clock = clock
        self.on_activity = on_activity
        self.port = 0
        self.errors = 0
        self.dropped = 0
        self.faults = 0
        self._stream: MediaStream | None = None
        self._rtp: socket.socket | None = None
        self._rtcp: socket.socket | None = None
        self._timer_at: float | None = None
        self._activity_pending = False

    @property
    def stream(self) -> MediaStream | None:
        """The stream fed (touch it only through :meth:`call`).  Setting it
        hands it to the media thread and returns once that has taken it."""
        return self._stream

    @stream.setter
    def stream(self, stream: MediaStream | None) -> None:
        def take() -> None:
            self._stream, self._timer_at = stream, None
            self._flush()

        self.clock.call(take).result()

    def open(self, port: int = 0, *, attempts: int = 50) -> int:
        """Bind RTP on ``port`` (even; 0: a free one from :data:`RTP_PORTS`)
        and RTCP on the next port; return the RTP port."""
        assert self._rtp is None, "open() once"
        rtp, rtcp = bind_rtp_pair(self.host, port, attempts=attempts)
        try:
            self.clock.call(lambda: self.clock._register(self, rtp, rtcp)).result()
        except BaseException:
            rtp.close()
            rtcp.close()
            raise
        self.port = int(rtp.getsockname()[1])
        return self.port

    def call(self, fn: Callable[[MediaStream], T]) -> Future[T]:
        """Run ``fn(stream)`` on the media thread, then send what the stream
        queued; its result (or exception, ``LocalProtocolError`` when no
        stream is set) arrives in the returned future."""

        def run() -> T:
            stream = self._stream
            if stream is None:
                raise LocalProtocolError("no stream on this media port")
            try:
                return fn(stream)
            finally:
                self._flush()

        return self.clock.call(run)

    def close(self) -> None:
        """Send the stream's last packets, stop ticking and close both
        sockets (idempotent; the clock closes what is left when it stops)."""
        with contextlib.suppress(RuntimeError, CancelledError):  # the clock stopped first
            self.clock.call(self._close).result()

    # -- media thread -------------------------------------------------------------------
    def _close(self) -> None:
        self._flush()
        self.clock._forget(self)

    def _receive(self, rtcp: bool) -> bool:
        sock = self._rtcp if rtcp else self._rtp
        fed = False
        for _ in range(_READ_BATCH):
            if sock is None:
                break
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError:  # e.g. an ICMP error reported on Windows
                self.errors += 1
                continue
            if self._stream is None:
                self.dropped += 1
                continue
            now = time.monotonic()
            self._stream.receive_datagram(data, (str(addr[0]), int(addr[1])), now, rtcp=rtcp)
            fed = True
        self._flush()
        return fed

    def _tick(self, now: float) -> None:
        if self._stream is not None:
            self._stream.tick(now)
            self._flush()

    def _fire(self, now: float) -> bool:
        self._timer_at = None
        if self._stream is not None:
            self._stream.handle_timer(now)
        self._flush()
        return True

    def _flush(self) -> None:
        stream = self._stream
        if stream is None or self._rtp is None:
            return
        self.errors += send_stream_output(stream, self._rtp, self._rtcp, time.monotonic())
        self._timer_at = stream.get_timer()


class ThreadingMediaClock:
    """The media thread: ticks every attached :class:`ThreadingMediaPort`
    once per ``frame`` on an absolute :class:`TickGrid` of
    ``time.monotonic()`` (sleeping in the selector until the next slot),
    receives on every open port and fires the streams' timers.

    ``start()`` it (or use ``with``) before opening ports; :meth:`close`
    stops both threads and closes the sockets of ports still open.
    """

    def __init__(self, frame: float = FRAME_DURATION) -> None:
        self.frame = frame
        self.grid = TickGrid(0.0, frame)
        self.ports: list[ThreadingMediaPort] = []  # ticked, in order
        self._open: list[ThreadingMediaPort] = []  # with sockets in the selector
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._activity: queue.SimpleQueue[ThreadingMediaPort | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _closed against concurrent call()/close()
        self._closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sansip-media", daemon=True)
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="sansip-media-dispatch", daemon=True
        )

    @property
    def late_ticks(self) -> int:
        """Ticks that ran after their slot (catching up)."""
        return self.grid.late_ticks

    @property
    def restarts(self) -> int:
        """Times the grid was restarted after a long stall."""
        return self.grid.restarts

    @property
    def thread_ident(self) -> int | None:
        """The media thread's ``threading.get_ident()``, once started."""
        return self._thread.ident

    @staticmethod
    def now() -> float:
        """The clock's time (``time.monotonic()``), for stream commands."""
        return time.monotonic()

    def start(self) -> None:
        """Start the media and dispatcher threads (once)."""
        self._dispatcher.start()
        self._thread.start()

    def __enter__(self) -> ThreadingMediaClock:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the media thread (at once when called there); its
        result arrives in the future.  ``RuntimeError`` when not running."""
        fut: Future[T] = Future()
        if threading.current_thread() is self._thread:
            _execute(fn, fut)
            return fut
        with self._lock:
            if self._closed or not self._thread.is_alive():
                raise RuntimeError("media clock is not running (start() first, or closed)")
            self._commands.put((fn, fut))
        with contextlib.suppress(OSError):  # full of wake-ups already
            self._wake_w.send(b"\0")
        return fut

    def add(self, port: ThreadingMediaPort) -> None:
        """Start ticking ``port`` (the grid starts with the first port)."""

        def add() -> None:
            if not self.ports:
                self.grid.reset(time.monotonic())
            if port not in self.ports:
                self.ports.append(port)

        self.call(add).result()

    def remove(self, port: ThreadingMediaPort) -> None:
        """Stop ticking ``port``."""
        self.call(lambda: self.ports.remove(port) if port in self.ports else None).result()

    def close(self, timeout: float = 5.0) -> None:
        """Stop and join both threads, close the wake-up socket and the
        sockets of ports still open.  Idempotent; queued commands are cancelled."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        current = threading.current_thread()
        if self._thread.ident is None:  # never started
            self._shutdown()
        elif self._thread is not current:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("media thread did not stop in %.1fs", timeout)
        self._activity.put(None)
        if self._dispatcher.is_alive() and self._dispatcher is not current:
            self._dispatcher.join(timeout)
        self._cancel_pending()
        self._wake_r.close()
        self._wake_w.close()

    # -- media thread -------------------------------------------------------------------
    def _register(self, port: ThreadingMediaPort, rtp: socket.socket, rtcp: socket.socket) -> None:
        port._rtp, port._rtcp = rtp, rtcp
        self._selector.register(rtp, selectors.EVENT_READ, (port, False))
        self._selector.register(rtcp, selectors.EVENT_READ, (port, True))
        self._open.append(port)

    def _forget(self, port: ThreadingMediaPort) -> None:
        if port in self.ports:
            self.ports.remove(port)
        if port in self._open:
            self._open.remove(port)
        for sock in (port._rtp, port._rtcp):
            if sock is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
                sock.close()
        port._rtp = port._rtcp = None
        port._timer_at = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(self._timeout()):
                    if key.data is None:
                        with contextlib.suppress(OSError):  # drained
                            while self._wake_r.recv(4096):
                                pass
                    else:
                        port, rtcp = key.data
                        self._guard(port, port._receive, rtcp)
                if self._stop.is_set():
                    break
                self._run_commands()
                self._run_due()
        except Exception:  # never expected: every stream call is guarded
            log.exception("media thread crashed")
        self._shutdown()

    def _shutdown(self) -> None:
        for port in list(self._open):
            self._forget(port)
        self._selector.close()
        self._cancel_pending()

    def _timeout(self) -> float | None:
        due = [p._timer_at for p in self._open if p._timer_at is not None]
        if self.ports:
            due.append(self.grid.next_due)
        return None if not due else max(0.0, min(due) - time.monotonic())

    def _run_commands(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                fn, fut = self._commands.get_nowait()
                _execute(fn, fut)

    def _run_due(self) -> None:
        if self.ports:
            for due in self.grid.due(time.monotonic()):
                for port in list(self.ports):
                    self._guard(port, port._tick, due)
        now = time.monotonic()
        for port in list(self._open):
            if port._timer_at is not None and now >= port._timer_at:
                self._guard(port, port._fire, now)

    def _guard(self, port: ThreadingMediaPort, step: Callable[[T], bool | None], arg: T) -> None:
        """Run one step of ``port`` (receive, tick or timer), keeping the
        thread alive if the stream raises; a step that fed the stream
        (returned true) is reported to ``on_activity``."""
        try:
            fed = step(arg)
        except Exception:
            port.faults += 1
            log.exception("media stream raised")
            fed = True  # what came before the fault may have produced events
        if fed and port.on_activity is not None and not port._activity_pending:
            port._activity_pending = True
            self._activity.put(port)

    def _cancel_pending(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._commands.get_nowait()[1].cancel()

    # -- dispatcher thread --------------------------------------------------------------
    def _dispatch(self) -> None:
        while (port := self._activity.get()) is not None:
            port._activity_pending = False
            callback = port.on_activity
            try:
                if callback is not None:
                    callback()
            except Exception:
                log.exception("on_activity callback raised")


def _execute(fn: Callable[[], T], fut: Future[T]) -> None:
    if not fut.set_running_or_notify_cancel():
        return
    try:
        result = fn()
    except BaseException as exc:
        fut.set_exception(exc)
    else:
        fut.set_result(result)
