"""Every stream of every call on one media clock, sans-IO.

:class:`MediaEngine` owns the RTP/RTCP sockets of the calls (as socket
numbers: it asks for sockets and says which to close), the streams fed
by them, the 20 ms grid that ticks them and every per-stream timer.  It
has the shape of every machine here, with a socket number on each
datagram:

- input: :meth:`~MediaEngine.receive_datagram` ``(socket_id, data, addr, now)``,
  :meth:`~MediaEngine.handle_timer` and the commands (:meth:`~MediaEngine.open_ports`,
  :meth:`~MediaEngine.start`, :meth:`~MediaEngine.command`, :meth:`~MediaEngine.close`);
- output: :meth:`~MediaEngine.sockets_to_open` (answered with
  :meth:`~MediaEngine.socket_opened` or :meth:`~MediaEngine.socket_failed`),
  :meth:`~MediaEngine.sockets_to_close`, :meth:`~MediaEngine.datagrams_to_send`
  ``[(socket_id, data, addr)]``, :meth:`~MediaEngine.next_event` and
  :meth:`~MediaEngine.get_timer`.

The engine decides everything a driver used to: which port to try (even
ports from :data:`RTP_PORTS`, RTCP on the next one, chosen with the rng it is
given), when ticks run (an absolute grid ``start + n * frame``: missed ticks
run at once up to :data:`MAX_CATCH_UP`, then the grid restarts), which
socket a packet leaves on (RTCP on the RTCP socket unless rtcp-mux), and
what a failure means: a stream that raises is closed with a
:class:`StreamFailed` event and its sockets released, the others go on.
The PCMU and PCMA streams of a tick are encoded and decoded all at once
(:class:`~sansip.media.batch.CodecBatch`).

    engine = MediaEngine(rng=random.Random(7))
    port = engine.open_ports("127.0.0.1")           # the driver binds the sockets
    ...                                             # offer port.rtp_port, negotiate
    engine.start(port, call_media.stream, now)      # ticks from the next slot
    engine.close(port, now)                         # final RTCP BYE, sockets closed
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final, Protocol, TypeAlias, TypeVar

from sansip.errors import LocalProtocolError
from sansip.media.batch import CodecBatch
from sansip.media.stream import FRAME_DURATION, MediaEvent, MediaStream
from sansip.rtp import RandomSource
from sansip.rtp.types import Address, Datagram

__all__ = [
    "MAX_CATCH_UP",
    "RTP_PORTS",
    "EngineDatagram",
    "MediaEngine",
    "MediaEngineEvent",
    "MediaPort",
    "PortState",
    "PortsFailed",
    "PortsOpened",
    "SocketRequest",
    "StreamFailed",
    "StreamReported",
    "TickGrid",
    "Ticker",
]

#: Ticks run back to back when the clock was late, before the grid restarts.
MAX_CATCH_UP: Final = 5
#: Where RTP ports are looked for (even ports; RTCP on the next one).
RTP_PORTS: Final = (16384, 32766)
#: Port pairs tried before :meth:`MediaEngine.open_ports` gives up.
BIND_ATTEMPTS: Final = 50
#: Events kept for the layer above before the oldest stream reports are dropped.
MAX_EVENTS: Final = 4096
#: DTLS records kept per port for a stream not started yet (a flight or two).
EARLY_RECORDS: Final = 8

#: ``(socket_id, data, destination)``: one datagram to send from one socket.
EngineDatagram: TypeAlias = tuple[int, bytes, Address]

T = TypeVar("T")


class Ticker(Protocol):
    """Anything else the media clock drives (a local ringback player)."""

    def tick(self, now: float) -> None:
        """One frame, due at ``now`` (a slot of the grid)."""


class TickGrid:
    """The media clock's schedule: tick ``n`` is due at ``start + n * frame``,
    so timing errors never accumulate.

    :meth:`due` returns the ticks to run at ``now``: the missed ones run at
    once (up to :data:`MAX_CATCH_UP`, all but the first counted in
    ``late_ticks``); still behind after that, the grid restarts at ``now``
    (counted in ``restarts``).
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


class PortState(Enum):
    """Where a :class:`MediaPort` is in its life."""

    OPENING = "opening"  # sockets asked for
    OPEN = "open"  # bound; a stream may be started
    RUNNING = "running"  # a stream is ticking
    FAILED = "failed"  # no sockets could be had, or the stream raised
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SocketRequest:
    """The engine wants a UDP socket bound to ``(host, port)`` under ``socket_id``."""

    socket_id: int
    host: str
    port: int


class MediaPort:
    """One call's RTP and RTCP sockets and the stream they feed (the engine
    owns it; read its fields, command it through the engine)."""

    def __init__(self, number: int, host: str, rtcp_mux: bool) -> None:
        self.number = number
        self.host = host
        self.rtcp_mux = rtcp_mux
        #: The RTP port once open (RTCP is the next one unless ``rtcp_mux``).
        self.rtp_port = 0
        self.state = PortState.OPENING
        self.stream: MediaStream | None = None
        #: Why the port failed or closed.
        self.reason = ""
        #: Datagrams that came before a stream was started.
        self.dropped = 0
        #: DTLS records that came before the stream, kept for it (a peer's
        #: ClientHello may outrun its SDP answer: RFC 8842 §5).
        self.early: list[tuple[bytes, Address]] = []
        self._rtp_id: int | None = None
        self._rtcp_id: int | None = None
        self._wanted = 0  # the port asked for (0: any)
        self._attempts = 0

    @property
    def sockets(self) -> tuple[int, ...]:
        """The socket numbers bound (or being bound) for this port."""
        return tuple(s for s in (self._rtp_id, self._rtcp_id) if s is not None)

    def __repr__(self) -> str:
        return f"<MediaPort {self.number} {self.host}:{self.rtp_port} {self.state.value}>"


@dataclass(frozen=True, slots=True)
class PortsOpened:
    """The sockets of ``port`` are bound: ``port.rtp_port`` can be offered."""

    port: MediaPort


@dataclass(frozen=True, slots=True)
class PortsFailed:
    """No socket pair could be bound for ``port``."""

    port: MediaPort
    reason: str


@dataclass(frozen=True, slots=True)
class StreamReported:
    """The stream of ``port`` reported ``event`` (DTMF, media timeout, ...)."""

    port: MediaPort
    event: MediaEvent


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The stream of ``port`` raised: it was closed, its sockets released."""

    port: MediaPort
    reason: str


MediaEngineEvent: TypeAlias = PortsOpened | PortsFailed | StreamReported | StreamFailed


class MediaEngine:
    """The streams of all calls, their sockets and the media clock (see the
    module docstring).  ``wall_clock_offset`` (wall time minus the ``now``
    the engine is given) dates RTCP sender reports; the driver passes it."""

    def __init__(
        self,
        *,
        rng: RandomSource,
        frame: float = FRAME_DURATION,
        port_range: tuple[int, int] = RTP_PORTS,
        bind_attempts: int = BIND_ATTEMPTS,
        wall_clock_offset: float = 0.0,
    ) -> None:
        if port_range[0] < 1 or port_range[1] > 65534 or port_range[0] >= port_range[1]:
            raise LocalProtocolError(f"bad RTP port range {port_range}")
        self._rng = rng
        self.grid = TickGrid(0.0, frame)
        self.port_range = port_range
        self.bind_attempts = bind_attempts
        self.wall_clock_offset = wall_clock_offset
        #: Exceptions streams raised (each closed its stream).
        self.faults = 0
        #: Datagrams for sockets the engine no longer knows.
        self.stray = 0
        #: Stream reports dropped because nobody read :meth:`next_event`.
        self.events_dropped = 0
        self._ports: dict[int, MediaPort] = {}
        self._sockets: dict[int, tuple[MediaPort, bool]] = {}  # id -> (port, is RTCP)
        self._running: list[MediaPort] = []
        self._tickers: list[Ticker] = []
        self._requests: list[SocketRequest] = []
        self._closing: list[int] = []
        self._outbox: list[EngineDatagram] = []
        self._events: deque[MediaEngineEvent] = deque()
        self._batch = CodecBatch()  # the G.711 work of a tick, for all streams at once
        self._next_port = 1
        self._next_socket = 1

    # -- ports and sockets -----------------------------------------------------------
    def open_ports(self, host: str, port: int = 0, *, rtcp_mux: bool = False) -> MediaPort:
        """Ask for an RTP socket on ``host`` (``port``, even; 0: one of the
        range) and an RTCP socket on the next port (none with ``rtcp_mux``).
        The driver binds them through :meth:`sockets_to_open`; the port is
        ``OPEN`` (with a :class:`PortsOpened` event) or ``FAILED`` after that."""
        if port and (port % 2 or not 0 < port < 65535):
            raise LocalProtocolError(f"RTP port must be even and below 65535, not {port}")
        media = MediaPort(self._next_port, host, rtcp_mux)
        self._next_port += 1
        media._wanted = port
        self._ports[media.number] = media
        self._try_next(media)
        return media

    def sockets_to_open(self) -> list[SocketRequest]:
        """Drain the sockets to bind; answer each with :meth:`socket_opened`
        or :meth:`socket_failed` (which may ask for more)."""
        out, self._requests = self._requests, []
        return out

    def socket_opened(self, socket_id: int, port: int) -> None:
        """The socket ``socket_id`` is bound on ``port``."""
        entry = self._sockets.get(socket_id)
        if entry is None:
            self._closing.append(socket_id)  # the port closed meanwhile
            return
        media, rtcp = entry
        if rtcp or media.rtcp_mux:
            media.state = PortState.OPEN
            self._events.append(PortsOpened(media))
            return
        media.rtp_port = port
        rtcp_id = self._new_socket(media, True)
        self._requests.append(SocketRequest(rtcp_id, media.host, port + 1))

    def socket_failed(self, socket_id: int, reason: str) -> None:
        """The socket ``socket_id`` could not be bound (``reason``: why)."""
        entry = self._sockets.pop(socket_id, None)
        if entry is None:
            return
        media, _ = entry
        media._rtp_id = None if media._rtp_id == socket_id else media._rtp_id
        media._rtcp_id = None if media._rtcp_id == socket_id else media._rtcp_id
        self._release(media)  # the other half of the pair, if bound
        media.reason = reason
        self._try_next(media)

    def sockets_to_close(self) -> list[int]:
        """Drain the sockets the engine is done with."""
        out, self._closing = self._closing, []
        return out

    # -- streams ------------------------------------------------------------------
    def start(self, port: MediaPort, stream: MediaStream, now: float) -> None:
        """Feed ``stream`` from ``port`` and tick it from the next slot of the
        grid (the grid starts at ``now`` with the first stream or ticker)."""
        if port.state is not PortState.OPEN:
            raise LocalProtocolError(f"cannot start a stream on a port that is {port.state.value}")
        stream.settings = replace(stream.settings, wall_clock_offset=self.wall_clock_offset)
        self._wake_grid(now)
        port.stream = stream
        port.state = PortState.RUNNING
        self._running.append(port)
        early, port.early = port.early, []
        for data, addr in early:  # what came before, in order
            try:
                stream.receive_datagram(data, addr, now)
            except Exception as exc:
                self._fail(port, f"receive raised {exc!r}")
                return

    def command(self, port: MediaPort, action: Callable[[MediaStream], T], now: float) -> T:
        """Run ``action(stream)`` (send DTMF, change what is played, ...) and
        collect what the stream wants sent.  An exception from ``action``
        propagates; the stream goes on."""
        stream = port.stream
        if stream is None or port.state is not PortState.RUNNING:
            raise LocalProtocolError(f"no running stream on {port!r}")
        try:
            return action(stream)
        finally:
            self._collect(port, stream, now)

    def close(self, port: MediaPort, now: float) -> None:
        """End ``port``: the stream's final RTCP (with BYE) goes out, the
        sockets are closed.  Idempotent."""
        if port.state in (PortState.CLOSED, PortState.FAILED):
            return
        stream = port.stream
        if stream is not None and port.state is PortState.RUNNING:
            try:
                stream.close(now)
                self._collect(port, stream, now)
            except Exception as exc:
                self._fail(port, f"closing raised {exc!r}")
                return
        self._retire(port, PortState.CLOSED, "closed")

    def add_ticker(self, ticker: Ticker, now: float) -> None:
        """Tick ``ticker`` with the streams (a local tone player)."""
        if ticker not in self._tickers:
            self._wake_grid(now)
            self._tickers.append(ticker)

    def remove_ticker(self, ticker: Ticker) -> None:
        """Stop ticking ``ticker``."""
        if ticker in self._tickers:
            self._tickers.remove(ticker)

    @property
    def ports(self) -> list[MediaPort]:
        """The ports not closed yet."""
        return list(self._ports.values())

    @property
    def late_ticks(self) -> int:
        """Ticks that ran after their slot (catching up)."""
        return self.grid.late_ticks

    @property
    def restarts(self) -> int:
        """Times the grid was restarted after a long stall."""
        return self.grid.restarts

    # -- the machine shape ----------------------------------------------------------
    def receive_datagram(self, socket_id: int, data: bytes, addr: Address, now: float) -> None:
        """One datagram arrived on ``socket_id`` from ``addr``; never raises
        (a stream that does is closed with :class:`StreamFailed`)."""
        entry = self._sockets.get(socket_id)
        if entry is None:
            self.stray += 1
            return
        port, rtcp = entry
        stream = port.stream
        if stream is None:
            if not rtcp and data and 20 <= data[0] <= 63 and len(port.early) < EARLY_RECORDS:
                port.early.append((data, addr))  # DTLS (RFC 7983): for the stream to come
            else:
                port.dropped += 1
            return
        try:
            stream.receive_datagram(data, addr, now, rtcp=rtcp)
        except Exception as exc:
            self._fail(port, f"receive raised {exc!r}")

    def datagrams_to_send(self) -> list[EngineDatagram]:
        """Drain the outbox: ``(socket_id, data, destination)``."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> MediaEngineEvent | None:
        """The next event, or None."""
        return self._events.popleft() if self._events else None

    @property
    def has_events(self) -> bool:
        """Whether :meth:`next_event` has something to return."""
        return bool(self._events)

    def get_timer(self) -> float | None:
        """The next tick's slot while anything is ticking (each tick also
        services the streams' own timers: RTCP, DTMF, media timeout)."""
        return self.grid.next_due if self._running or self._tickers else None

    def handle_timer(self, now: float) -> None:
        """Run the ticks due at ``now``, then every stream's due timers; collect output."""
        if not (self._running or self._tickers) or now < self.grid.next_due:
            return
        batch = self._batch
        for due in self.grid.due(now):
            for port in list(self._running):
                stream = port.stream
                assert stream is not None
                try:
                    stream.tick(due, batch)
                except Exception as exc:
                    batch.discard(stream)
                    self._fail(port, f"tick raised {exc!r}")
            if batch:  # the G.711 streams' encoding and decoding, at once
                for stream, error in batch.run(due):
                    failed = next(p for p in self._running if p.stream is stream)
                    self._fail(failed, f"tick raised {error!r}")
            for ticker in list(self._tickers):
                try:
                    ticker.tick(due)
                except Exception:
                    self.faults += 1
                    self._tickers.remove(ticker)
        for port in list(self._running):
            stream = port.stream
            assert stream is not None
            try:
                out = stream.service(now)
                if out:
                    self._route(port, out)
                while (event := stream.next_event()) is not None:
                    self._report(StreamReported(port, event))
            except Exception as exc:
                self._fail(port, f"timer raised {exc!r}")

    # -- internals ------------------------------------------------------------------
    def _wake_grid(self, now: float) -> None:
        if not (self._running or self._tickers):
            self.grid.reset(now)

    def _collect(self, port: MediaPort, stream: MediaStream, now: float) -> None:
        """Move the stream's output to the outbox and its events to the engine's queue."""
        out = stream.datagrams_to_send(now)
        if out:
            self._route(port, out)
        while (event := stream.next_event()) is not None:
            self._report(StreamReported(port, event))

    def _route(self, port: MediaPort, out: list[Datagram]) -> None:
        """Into the outbox: each datagram on the port's RTP socket, RTCP (and
        DTLS records for the peer's RTCP port, RFC 5764 §4.2) on its RTCP one."""
        rtp = port._rtp_id
        rtcp = port._rtcp_id
        assert rtp is not None
        append = self._outbox.append
        if rtcp is None:
            for data, dest in out:
                append((rtp, data, dest))
            return
        stream = port.stream
        for data, dest in out:  # RTCP: what is_rtcp() tells, inline
            rtcp_packet = len(data) > 1 and 192 <= data[1] <= 223 and data[0] >> 6 == 2
            if rtcp_packet or (data and 20 <= data[0] <= 63 and stream is not None
                               and dest == stream.rtcp_peer):  # fmt: skip
                append((rtcp, data, dest))
            else:
                append((rtp, data, dest))

    def _report(self, event: MediaEngineEvent) -> None:
        if len(self._events) >= MAX_EVENTS:
            for index, queued in enumerate(self._events):
                if isinstance(queued, StreamReported):
                    del self._events[index]
                    self.events_dropped += 1
                    break
        self._events.append(event)

    def _fail(self, port: MediaPort, reason: str) -> None:
        self.faults += 1
        self._retire(port, PortState.FAILED, reason)
        self._report(StreamFailed(port, reason))

    def _retire(self, port: MediaPort, state: PortState, reason: str) -> None:
        if port in self._running:
            self._running.remove(port)
        self._release(port)
        port.state, port.reason = state, reason
        self._ports.pop(port.number, None)

    def _release(self, port: MediaPort) -> None:
        for socket_id in port.sockets:
            self._sockets.pop(socket_id, None)
            self._closing.append(socket_id)
        port._rtp_id = port._rtcp_id = None

    def _new_socket(self, port: MediaPort, rtcp: bool) -> int:
        socket_id = self._next_socket
        self._next_socket += 1
        self._sockets[socket_id] = (port, rtcp)
        if rtcp:
            port._rtcp_id = socket_id
        else:
            port._rtp_id = socket_id
        return socket_id

    def _random_port(self) -> int:
        """An even port of the range, uniformly (rejection sampling on getrandbits)."""
        low, high = self.port_range
        low += low % 2
        count = (high - low) // 2 + 1
        bits = count.bit_length()
        while (index := self._rng.getrandbits(bits)) >= count:
            pass
        return low + 2 * index

    def _try_next(self, port: MediaPort) -> None:
        """Ask for the next candidate pair, or give up."""
        limit = 1 if port._wanted else self.bind_attempts
        if port._attempts >= limit:
            port.state = PortState.FAILED
            reason = port.reason or "no attempt"
            port.reason = f"no free RTP/RTCP port pair on {port.host}: {reason}"
            self._ports.pop(port.number, None)
            self._report(PortsFailed(port, port.reason))
            return
        port._attempts += 1
        number = port._wanted or self._random_port()
        socket_id = self._new_socket(port, False)
        self._requests.append(SocketRequest(socket_id, port.host, number))
