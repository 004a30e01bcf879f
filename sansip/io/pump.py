"""What every event loop's driver shares: the UDP sockets, and the one pump
that feeds them to the machines and sends what the machines return.

A :class:`Pump` runs a SIP datagram machine (the UA core, a registrar) on
its own socket and a :class:`~sansip.media.engine.MediaEngine` on the
sockets the engine asks for, on one clock with one deadline.  The
per-loop drivers (:mod:`sansip.io.asyncio`, :mod:`sansip.io.trio`,
:mod:`sansip.io.threading`) only watch the sockets the pump hands them
(``watch``/``unwatch``), call :meth:`Pump.readable` when one is ready,
:meth:`Pump.fire` when :meth:`Pump.deadline` passes, and run commands
from other threads.  Every call into a machine is guarded here: a machine
that raises is logged and counted in ``faults``, and the driver goes on.
Sending never waits: a datagram the kernel refuses is dropped and counted
in ``errors``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Final, TypeVar

from sansip.errors import LocalProtocolError
from sansip.io._pump import DatagramMachine
from sansip.media import MediaStream
from sansip.media.engine import MediaEngine, MediaPort, PortState
from sansip.transport.types import Address, Datagram

__all__ = ["SIP_SOCKET", "SOCKET_BUFFER", "MediaCommands", "Pump", "bind_udp"]

log = logging.getLogger("sansip.io")

#: The key of the SIP socket (media sockets use the engine's positive numbers).
SIP_SOCKET: Final = -1
#: Socket buffers asked for (the kernel caps them at net.core.[rw]mem_max):
#: a burst must not overflow the default ~200 kB while the loop is busy.
SOCKET_BUFFER: Final = 2 * 1024 * 1024
#: The largest datagram read.
MAX_DATAGRAM: Final = 65535

Watch = Callable[[int, socket.socket], None]
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

    ``clock`` is the loop's monotonic clock; ``watch(key, sock)`` /
    ``unwatch(key, sock)`` start and stop the loop watching a socket for
    input (it then calls :meth:`readable` with the key).  ``media`` is the
    engine to run (default: a new one with a system rng); its
    ``wall_clock_offset`` is set from ``time.time()`` here.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        watch: Watch,
        unwatch: Watch,
        *,
        media: MediaEngine | None = None,
    ) -> None:
        self.clock = clock
        self.machine: DatagramMachine | None = None
        self.media = media if media is not None else MediaEngine(rng=secrets.SystemRandom())
        self.media.wall_clock_offset = time.time() - clock()
        self._watch = watch
        self._unwatch = unwatch
        self._sockets: dict[int, socket.socket] = {}
        self.received = 0
        self.sent = 0
        self.faults = 0
        #: Datagrams the kernel refused or reported errors for.
        self.errors = 0
        #: Whether the SIP machine took input since :meth:`take_activity`.
        self._active = False

    # -- sockets ------------------------------------------------------------------
    def bind_sip(self, local: Address) -> Address:
        """Bind the SIP socket; return the bound address (port 0 picks one)."""
        sock = bind_udp(*local)
        self._sockets[SIP_SOCKET] = sock
        self._watch(SIP_SOCKET, sock)
        name = sock.getsockname()
        return (str(name[0]), int(name[1]))

    def now(self) -> float:
        """The driver's monotonic clock."""
        return self.clock()

    def attach(self, machine: DatagramMachine) -> None:
        """Run ``machine`` on the SIP socket."""
        self.machine = machine

    def close(self) -> None:
        """Close every socket."""
        for key, sock in list(self._sockets.items()):
            self._close_socket(key, sock)

    def _close_socket(self, key: int, sock: socket.socket) -> None:
        self._sockets.pop(key, None)
        with contextlib.suppress(ValueError, RuntimeError, KeyError, OSError):
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
    def readable(self, key: int, limit: int = 64) -> bool:
        """Read up to ``limit`` datagrams from socket ``key`` into its machine
        (then send what the SIP machine has to say); say whether anything was
        read.  Media input needs no re-arming: it never moves the deadline."""
        sock = self._sockets.get(key)
        if sock is None:
            return False
        got = False
        for _ in range(limit):
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # an ICMP error queued on the socket
                self.errors += 1
                continue
            got = True
            self.received += 1
            self._feed(key, data, (str(addr[0]), int(addr[1])))
        if got and key == SIP_SOCKET:
            self.flush()  # media input only feeds streams: their output leaves on ticks
        return got

    def _feed(self, key: int, data: bytes, addr: Address) -> None:
        now = self.clock()
        try:
            if key == SIP_SOCKET:
                if self.machine is not None:
                    self._active = True
                    self.machine.receive_datagram(data, addr, now)
            else:
                self.media.receive_datagram(key, data, addr, now)
        except Exception:
            self.faults += 1
            log.exception("machine raised on data from %s (ignored)", addr)

    def fire(self, deadline: float) -> None:
        """The timer went off: never hand a machine a time before its deadline."""
        now = max(self.clock(), deadline)
        machine = self.machine
        if machine is not None:
            timer = self._guarded(machine.get_timer)
            if timer is not None and timer <= now:
                self._active = True
                self._guard(lambda: machine.handle_timer(now))
        self._guard(lambda: self.media.handle_timer(now))
        self.flush(now)

    def deadline(self) -> float | None:
        """When :meth:`fire` is next due."""
        due = self._guarded(self.media.get_timer)
        if self.machine is not None:
            sip = self._guarded(self.machine.get_timer)
            if sip is not None and (due is None or sip < due):
                due = sip
        return due

    def take_activity(self) -> bool:
        """Whether the SIP machine took input or the engine has events since
        the last call (the driver then calls its ``on_activity``)."""
        active, self._active = self._active, False
        return active or self.media.has_events

    # -- output ------------------------------------------------------------------
    def flush(self, now: float | None = None) -> None:
        """Bind the sockets the engine asks for, send what every machine has
        queued, then close the sockets the engine is done with."""
        now = self.clock() if now is None else now
        media = self.media
        try:
            while requests := media.sockets_to_open():
                for request in requests:
                    try:
                        sock = bind_udp(request.host, request.port, numeric=True)
                    except OSError as exc:
                        media.socket_failed(request.socket_id, str(exc))
                        continue
                    self._sockets[request.socket_id] = sock
                    self._watch(request.socket_id, sock)
                    media.socket_opened(request.socket_id, int(sock.getsockname()[1]))
            self._send_all(media.datagrams_to_send())  # before closing: a final BYE
            for key in media.sockets_to_close():
                done = self._sockets.get(key)
                if done is not None:
                    self._close_socket(key, done)
        except Exception:
            self.faults += 1
            log.exception("media engine raised in its output (output lost)")
        if self.machine is not None:
            out = self._guarded(lambda: self._sip_output(now))
            if out:
                self._send_sip(out)

    def _sip_output(self, now: float) -> list[Datagram]:
        assert self.machine is not None
        return self.machine.datagrams_to_send(now)

    def _send_sip(self, out: list[Datagram]) -> None:
        sock = self._sockets.get(SIP_SOCKET)
        if sock is None:
            return
        for data, addr in out:
            try:
                sock.sendto(data, addr)
                self.sent += 1
            except OSError:  # BlockingIOError too: never wait
                self.errors += 1

    def _send_all(self, out: list[tuple[int, bytes, Address]]) -> None:
        sockets = self._sockets
        for key, data, addr in out:
            sock = sockets.get(key)
            if sock is None:
                continue
            try:
                sock.sendto(data, addr)
                self.sent += 1
            except OSError:
                self.errors += 1

    # -- guards --------------------------------------------------------------------
    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            self.faults += 1
            log.exception("machine raised (ignored)")

    def _guarded(self, action: Callable[[], T | None]) -> T | None:
        try:
            return action()
        except Exception:
            self.faults += 1
            log.exception("machine raised (ignored)")
            return None


class MediaCommands(ABC):
    """The media commands every driver offers, run where its pump lives
    (:meth:`_on_owner`: in the loop, or on the owner thread)."""

    @property
    @abstractmethod
    def pump(self) -> Pump:
        """The driver's pump."""

    @abstractmethod
    def _on_owner(self, action: Callable[[], T]) -> T:
        """Run ``action`` where the pump lives, then re-arm the timer."""

    @property
    def media(self) -> MediaEngine:
        """The media engine (ports, streams, the 20 ms clock)."""
        return self.pump.media

    def open_media(self, host: str, port: int = 0, *, rtcp_mux: bool = False) -> MediaPort:
        """Bind a call's RTP/RTCP sockets (see :meth:`Pump.open_media`)."""
        return self._on_owner(lambda: self.pump.open_media(host, port, rtcp_mux=rtcp_mux))

    def start_media(self, port: MediaPort, stream: MediaStream) -> None:
        """Feed ``stream`` from ``port`` and tick it every frame."""
        self._on_owner(lambda: self.pump.start_media(port, stream))

    def media_command(self, port: MediaPort, action: Callable[[MediaStream], T]) -> T:
        """Run ``action(stream)`` now and send what it queued."""
        return self._on_owner(lambda: self.pump.media_command(port, action))

    def close_media(self, port: MediaPort) -> None:
        """Final RTCP BYE, then close the port's sockets."""
        self._on_owner(lambda: self.pump.close_media(port))
