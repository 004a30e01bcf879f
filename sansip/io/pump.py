"""What every event loop's driver shares: the sockets, and the one pump
that feeds them to the machines and sends what the machines return.

A :class:`Pump` runs a SIP machine — a datagram machine on its UDP socket,
or a stream machine on a listening socket and its connections
(:mod:`sansip.io.streams`) — and a :class:`~sansip.media.engine.MediaEngine`
on the sockets the engine asks for, on one clock with one deadline.  The
per-loop drivers only watch the sockets the pump hands them
(``watch(key, sock, read, write)`` / ``unwatch(key, sock)``), call
:meth:`Pump.ready` when one is ready, :meth:`Pump.fire` when
:meth:`Pump.deadline` passes, and run commands from other threads.  Every
call into a machine is guarded here: a machine that raises is logged and
counted in ``faults``, and the driver goes on.  Sending never waits: a
datagram the kernel refuses is dropped and counted in ``errors``.

Transport errors of the SIP UDP socket (RFC 3261 §18.4): where the system
has an error queue (Linux ``IP_RECVERR``, :mod:`sansip.io.errqueue`) an
ICMP host, network, port or protocol unreachable comes back with the
destination of the datagram that caused it, and a send the kernel refuses
with EHOSTUNREACH or ENETUNREACH names its own; the machine hears of each
with ``transport_error(dest, now)`` (when it has that method; counted in
``transport_errors``) and fails the transactions to ``dest`` at once.  The
queue is drained whenever the socket reports an error or readiness
without data, so an error alone never keeps the loop spinning.  Elsewhere
an ICMP error reaches an unconnected socket without its destination, if
at all: it is only counted, and the transactions wait for their timers.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
import select
import socket
import time
from collections.abc import Callable
from typing import Final, TypeVar, cast

from sansip.errors import LocalProtocolError
from sansip.io.errqueue import SEND_UNREACHABLE, enable_error_queue, read_error_queue
from sansip.io.machines import DatagramMachine, StreamMachine, TransportErrors
from sansip.io.streams import StreamConfig, StreamSockets, Unwatch, Watch
from sansip.media import MediaStream
from sansip.media.engine import EngineDatagram, MediaEngine, MediaPort, PortState
from sansip.transport.types import Address, Datagram

__all__ = ["SIP_SOCKET", "SOCKET_BUFFER", "Pump", "bind_udp"]

log = logging.getLogger("sansip.io")

#: The key of the SIP UDP socket (media sockets use the engine's positive
#: numbers, stream sockets negative ones below it).
SIP_SOCKET: Final = -1
#: The key of the epoll set holding every media socket (where the system has epoll).
MEDIA_POLL: Final = 0
#: Socket buffers asked for (the kernel caps them at net.core.[rw]mem_max):
#: a burst must not overflow the default ~200 kB while the loop is busy.
SOCKET_BUFFER: Final = 2 * 1024 * 1024
#: The largest datagram read.
MAX_DATAGRAM: Final = 65535
#: Datagrams read from the SIP socket per readiness (media sockets: one).
SIP_READ_BATCH: Final = 64
#: Times one flush tells a stream machine of lost connections and sends its answer.
_LOSS_ROUNDS: Final = 4

T = TypeVar("T")


def bind_udp(host: str, port: int, *, numeric: bool = False) -> socket.socket:
    """A non-blocking UDP socket bound to ``(host, port)``, with large buffers."""
    flags = socket.AI_PASSIVE | (socket.AI_NUMERICHOST if numeric else 0)
    family, kind, proto, _, sockaddr = socket.getaddrinfo(
        host, port, type=socket.SOCK_DGRAM, flags=flags
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        sock.bind(sockaddr)
    except OSError:
        sock.close()
        raise
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
    return sock


class Pump:
    """The sockets and machines of one driver (see the module docstring).

    ``clock`` is the loop's monotonic clock.  ``media`` is the engine to run
    (default: a new one with a system rng); its ``wall_clock_offset`` is set
    from ``time.time()`` here, the one wall-clock read of the media path.
    """

    def __init__(
        self, clock: Callable[[], float], watch: Watch, unwatch: Unwatch, *,
        media: MediaEngine | None = None,
    ) -> None:  # fmt: skip
        self.clock = clock
        self.machine: DatagramMachine | StreamMachine | None = None
        self.media = media if media is not None else MediaEngine(rng=secrets.SystemRandom())
        self.media.wall_clock_offset = time.time() - clock()
        self.streams: StreamSockets | None = None
        self._watch = watch
        self._unwatch = unwatch
        self._sockets: dict[int, socket.socket] = {}
        # Media sockets wait in one epoll set that the loop watches as one
        # descriptor: one readiness for all the datagrams of a tick, not one
        # loop callback per packet (elsewhere each socket is watched).
        self._media_poll = select.epoll() if hasattr(select, "epoll") else None
        self._media_keys: dict[int, int] = {}  # fd -> key, in the epoll set
        if self._media_poll is not None:
            watch(MEDIA_POLL, self._media_poll, True, False)
        self.received = 0
        self.sent = 0
        self.faults = 0
        #: Datagrams the kernel refused or reported errors for.
        self.errors = 0
        #: Destinations reported unreachable to the SIP machine.
        self.transport_errors = 0
        self._active = False  # the SIP machine took input since take_activity()
        self._recverr = False  # the SIP socket has an error queue
        self._errqueue_backlog = False  # the last drain stopped at its bound
        # Destinations found unreachable while sending, reported on the next
        # fire (due when noticed): never into a machine in the middle of a flush.
        self._unreachable: list[Address] = []
        self._unreachable_at: float | None = None

    def now(self) -> float:
        """The driver's monotonic clock."""
        return self.clock()

    # -- sockets ------------------------------------------------------------------
    def bind_sip(self, local: Address) -> Address:
        """Bind the SIP UDP socket; return the bound address (port 0 picks one)."""
        sock = bind_udp(*local)
        self._recverr = enable_error_queue(sock)
        self._sockets[SIP_SOCKET] = sock
        self._watch(SIP_SOCKET, sock, True, False)
        name = sock.getsockname()
        return (str(name[0]), int(name[1]))

    def listen(self, local: Address, config: StreamConfig) -> Address:
        """Listen for SIP over TCP or TLS; return the bound address."""
        self.streams = StreamSockets(config, self.clock, self._watch, self._unwatch,
                                     feed=self._feed_stream, lost=self._lost)  # fmt: skip
        return self.streams.listen(local)

    def attach(self, machine: DatagramMachine | StreamMachine) -> None:
        """Run ``machine`` on the SIP socket(s)."""
        self.machine = machine

    def close(self) -> None:
        """Close every socket."""
        if self.streams is not None:
            self.streams.close()
        for key, sock in list(self._sockets.items()):
            self._close_socket(key, sock)
        if self._media_poll is not None and not self._media_poll.closed:
            with contextlib.suppress(Exception):
                self._unwatch(MEDIA_POLL, self._media_poll)
            self._media_poll.close()

    def _watch_media(self, key: int, sock: socket.socket) -> None:
        if self._media_poll is None:
            self._watch(key, sock, True, False)
        else:
            self._media_keys[sock.fileno()] = key
            self._media_poll.register(sock.fileno(), select.EPOLLIN)

    def _close_socket(self, key: int, sock: socket.socket) -> None:
        self._sockets.pop(key, None)
        with contextlib.suppress(Exception):
            if key > MEDIA_POLL and self._media_poll is not None:
                self._media_keys.pop(sock.fileno(), None)
                self._media_poll.unregister(sock.fileno())
            else:
                self._unwatch(key, sock)
        sock.close()

    # -- media commands ---------------------------------------------------------------
    def open_media(self, host: str, port: int = 0, *, rtcp_mux: bool = False) -> MediaPort:
        """Bind a call's RTP/RTCP sockets now (the engine picks the port);
        raises :class:`~sansip.errors.LocalProtocolError` when none could be had."""
        media = self.media.open_ports(host, port, rtcp_mux=rtcp_mux)
        self.flush()
        if media.state is not PortState.OPEN:
            raise LocalProtocolError(media.reason or f"cannot open RTP ports on {host}")
        return media

    def start_media(self, port: MediaPort, stream: MediaStream) -> None:
        """Feed ``stream`` from ``port`` and tick it."""
        self.media.start(port, stream, self.clock())
        self.flush()

    def media_command(self, port: MediaPort, action: Callable[[MediaStream], T]) -> T:
        """Run ``action(stream)`` now and send what it queued."""
        try:
            return self.media.command(port, action, self.clock())
        finally:
            self.flush()

    def close_media(self, port: MediaPort) -> None:
        """Final RTCP BYE, then close the port's sockets."""
        self.media.close(port, self.clock())
        self.flush()

    # -- input ------------------------------------------------------------------
    def ready(self, key: int, readable: bool = True, writable: bool = False) -> bool:
        """Socket ``key`` is ready: read (and write) what it has; say whether
        the deadline may have moved (a SIP socket: the driver then re-arms and
        checks for activity).  Media input never moves it: it only feeds
        streams, whose output leaves on ticks."""
        if key == MEDIA_POLL and self._media_poll is not None:
            keys, now = self._media_keys, self.clock()  # one arrival time per pass
            for fd, _ in self._media_poll.poll(0):
                media_key = keys.get(fd)
                if media_key is not None:
                    self._read_datagrams(media_key, now)
            return False
        if key > SIP_SOCKET:
            self._read_datagrams(key, self.clock())
            return False
        if key == SIP_SOCKET:
            self._read_sip()
            if self._unreachable:
                self._report_unreachable(self.clock())
        elif self.streams is not None:
            self.streams.ready(key, readable, writable)
        if self._active:
            self.flush()
        return True

    def _read_datagrams(self, key: int, now: float) -> None:
        """Read one datagram of media socket ``key`` (the loop reports the
        socket again while more wait: one packet per frame is the norm)."""
        sock = self._sockets.get(key)
        if sock is None:
            return
        try:
            data, addr = sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # an ICMP error queued on the socket
            self.errors += 1
            return
        self.received += 1
        # IPv4 gives (host, port) already; IPv6 adds flow info and scope.
        address = addr if len(addr) == 2 else (addr[0], addr[1])
        try:
            self.media.receive_datagram(key, data, address, now)
        except Exception:
            self.faults += 1
            log.exception("machine raised on data from %s (ignored)", address)

    def _read_sip(self) -> None:
        """Read a batch of datagrams of the SIP socket, then its error queue
        when the socket reported an error or had nothing to read."""
        sock = self._sockets.get(SIP_SOCKET)
        if sock is None:
            return
        got, failed = 0, False
        for _ in range(SIP_READ_BATCH):
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # an ICMP error marked on the socket (the queue holds it)
                failed = True
                if not self._recverr:
                    self.errors += 1  # no queue: the error is all there is
                continue
            got += 1
            self.received += 1
            machine = self.machine
            if machine is None:
                continue
            now = self.clock()
            address = (str(addr[0]), int(addr[1]))
            self._active = True
            try:
                machine.receive_datagram(data, address, now)  # type: ignore[union-attr]
            except Exception:
                self.faults += 1
                log.exception("machine raised on data from %s (ignored)", address)
        if self._recverr and (failed or not got or self._errqueue_backlog):
            self._drain_errors(sock)

    def _drain_errors(self, sock: socket.socket) -> None:
        """Read the error queue of the SIP socket; note the destinations to fail."""
        errors, self._errqueue_backlog = read_error_queue(sock)
        for dest, fails in errors:
            self.errors += 1
            if fails:
                self._note_unreachable(dest)

    def _note_unreachable(self, dest: Address) -> None:
        if dest not in self._unreachable:
            self._unreachable.append(dest)
        if self._unreachable_at is None:
            self._unreachable_at = self.clock()

    def _report_unreachable(self, now: float) -> None:
        """Tell the SIP machine of the destinations found unreachable."""
        pending, self._unreachable, self._unreachable_at = self._unreachable, [], None
        machine = self.machine
        handler = cast("TransportErrors", machine) if hasattr(machine, "transport_error") else None
        for dest in pending:
            self.transport_errors += 1
            if handler is not None:
                self._active = True
                self._guard(functools.partial(handler.transport_error, dest, now))

    def _feed_stream(self, data: bytes, addr: Address) -> None:
        machine = self.machine
        if machine is not None:
            self.received += 1
            self._active = True
            now = self.clock()
            self._guard(lambda: machine.receive_data(data, addr, now))  # type: ignore[union-attr]

    def _lost(self, addr: Address) -> None:
        machine = self.machine
        if machine is not None:
            self._active = True
            now = self.clock()
            self._guard(lambda: machine.connection_lost(addr, now))  # type: ignore[union-attr]

    def fire(self, deadline: float) -> None:
        """The timer went off: never hand a machine a time before its deadline."""
        now = max(self.clock(), deadline)
        if self._unreachable:
            self._report_unreachable(now)
        machine = self.machine
        if machine is not None:
            timer = self._guarded(machine.get_timer)
            if timer is not None and timer <= now:
                self._active = True
                self._guard(lambda: machine.handle_timer(now))
        if self.streams is not None:
            self.streams.expire(now)
        self._guard(lambda: self.media.handle_timer(now))
        self.flush(now)

    def deadline(self) -> float | None:
        """When :meth:`fire` is next due."""
        due = [self._guarded(self.media.get_timer), self._unreachable_at]
        if self.machine is not None:
            due.append(self._guarded(self.machine.get_timer))
        if self.streams is not None:
            due.append(self.streams.deadline())
        return min((d for d in due if d is not None), default=None)

    def take_activity(self) -> bool:
        """Whether the SIP machine took input or fired, or the engine has
        events, since the last call (the driver then calls ``on_activity``)."""
        active, self._active = self._active, False
        return active or self.media.has_events

    # -- output ------------------------------------------------------------------
    def flush(self, now: float | None = None) -> None:
        """Bind the sockets the engine asks for, send what every machine has
        queued, then close the sockets the engine (or the SIP machine) is done with."""
        now = self.clock() if now is None else now
        try:
            self._media_output()
        except Exception:
            self.faults += 1
            log.exception("media engine raised in its output (output lost)")
        machine = self.machine
        if machine is None:
            return
        streams = self.streams
        if streams is None:
            self._send_sip(self._guarded(lambda: machine.datagrams_to_send(now)) or [])
            return
        for _ in range(_LOSS_ROUNDS):
            out = self._guarded(lambda: machine.datagrams_to_send(now))
            if out:
                streams.send(out)
            closing = self._guarded(machine.connections_to_close)  # type: ignore[union-attr]
            for request in closing or ():
                streams.close_connection(request.addr)
            if not streams.losses_pending:
                break
            streams.report_losses()  # after the output, never inside it

    def _media_output(self) -> None:
        media = self.media
        while requests := media.sockets_to_open():
            for request in requests:
                try:
                    sock = bind_udp(request.host, request.port, numeric=True)
                except OSError as exc:
                    media.socket_failed(request.socket_id, str(exc))
                    continue
                self._sockets[request.socket_id] = sock
                self._watch_media(request.socket_id, sock)
                media.socket_opened(request.socket_id, int(sock.getsockname()[1]))
        self._send_all(media.datagrams_to_send())  # before closing: a final BYE
        for key in media.sockets_to_close():
            done = self._sockets.get(key)
            if done is not None:
                self._close_socket(key, done)

    def _send_sip(self, out: list[Datagram]) -> None:
        sock = self._sockets.get(SIP_SOCKET)
        if sock is None:
            return
        for data, addr in out:
            try:
                sock.sendto(data, addr)
            except BlockingIOError:  # never wait
                self.errors += 1
                continue
            except OSError as exc:
                if not self._send_failed(sock, data, addr, exc):
                    continue
            self.sent += 1

    def _send_failed(self, sock: socket.socket, data: bytes, addr: Address, exc: OSError) -> bool:
        """A send on the SIP socket failed.  With an error queue the error may
        be the stale one of an earlier datagram (to anywhere): drain the
        queue and send once more.  An error naming ``addr`` unreachable
        fails its transactions; others are counted.  True if sent."""
        if self._recverr:
            self._drain_errors(sock)
            try:
                sock.sendto(data, addr)
                return True
            except OSError as again:
                exc = again
        self.errors += 1
        if exc.errno in SEND_UNREACHABLE:
            self._note_unreachable(addr)
        return False

    def _send_all(self, out: list[EngineDatagram]) -> None:
        sockets = self._sockets
        for key, data, addr in out:
            sock = sockets.get(key)
            if sock is None:
                continue
            try:
                sock.sendto(data, addr)
                self.sent += 1
            except OSError:  # BlockingIOError too: never wait
                self.errors += 1

    # -- guards --------------------------------------------------------------------
    def _guard(self, action: Callable[[], object]) -> None:
        self._guarded(action)

    def _guarded(self, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except Exception:
            self.faults += 1
            log.exception("machine raised (ignored)")
            return None
