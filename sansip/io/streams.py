"""SIP over TCP and TLS for every event loop: a listening socket and the
connections a stream machine talks over, on plain non-blocking sockets.

:class:`StreamSockets` keeps one table of connections keyed by the peer
address (incoming ones by where they come from, outgoing ones by where they
go), feeds ``receive_data``/``connection_lost`` to the machine, writes each
``(octets, addr)`` of its output on the connection to ``addr`` (opening one
when there is none, queueing the octets while it opens) and closes what the
machine lists in ``connections_to_close``.  Connections open with a
non-blocking ``connect`` and, for TLS, a non-blocking handshake; one that
cannot be opened in ``connect_timeout`` (refused, timed out, TLS
verification failed) is reported as ``connection_lost``.  Losses are
reported from :meth:`StreamSockets.ready` and :meth:`StreamSockets.expire`,
never from inside a step that sent.  The loop only says when a socket is ready
(:meth:`StreamSockets.ready`); which readiness to wait for is told through
``watch(key, sock, read, write)``.  Every protocol decision stays in the
machine.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from sansip.transport.certnames import certificate_names, sip_domain_matches
from sansip.transport.types import Address, Datagram

__all__ = ["LISTEN_KEY", "Pollable", "StreamConfig", "StreamSockets"]

log = logging.getLogger("sansip.io")

#: The key of the listening socket (connections get smaller numbers).
LISTEN_KEY: Final = -2
_READ_SIZE: Final = 65536
#: Reads from one connection per readiness before others get a turn.
_READ_BATCH: Final = 16


class Pollable(Protocol):
    """What a loop can wait on: a socket, or an epoll object."""

    def fileno(self) -> int:
        """The file descriptor."""
        ...


#: ``watch(key, sock, read, write)``: wait for that readiness of ``sock``.
Watch = Callable[[int, Pollable, bool, bool], None]
Unwatch = Callable[[int, Pollable], None]


@dataclass(frozen=True)
class StreamConfig:
    """TLS and timeouts of a stream driver: ``tls_server`` makes the
    listening socket TLS; ``tls_client`` makes the connections the driver
    opens TLS (verify as it says; the name checked and sent as SNI is the
    host of the address, or ``tls_hostnames[host]``; names learnt later,
    from a resolution, are added to that dict)."""

    tls_server: ssl.SSLContext | None = None
    tls_client: ssl.SSLContext | None = None
    tls_hostnames: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = 10.0
    #: Check the server's certificate the SIP way (RFC 5922: sip URIs, then
    #: DNS names, exact, no wildcards) against the name of the connection,
    #: with ``tls_client`` verifying the chain only (``check_hostname`` off).
    check_sip_domain: bool = False


class _Connection:
    """One non-blocking TCP or TLS socket and what waits to be written.

    ``state`` is ``"connecting"``, ``"handshake"`` or ``"open"``; ``listed``
    says whether the connection is (or was) in the table, so that only
    those are reported to the machine when they go."""

    def __init__(self, key: int, sock: socket.socket, addr: Address, state: str,
                 deadline: float | None) -> None:  # fmt: skip
        self.key = key
        self.sock = sock
        self.addr = addr
        self.state = state
        self.deadline = deadline  # to be open by (connect and handshake)
        self.failure = "timed out"  # why, if it is not open by then
        self.out = bytearray()
        self.want_write = False  # what the handshake waits for
        self.closing = False
        self.listed = False
        self.gone = False
        self.unread = False  # a full batch was read: more may wait (TLS buffers)


class StreamSockets:
    """The listening socket and connections of one stream machine (see the
    module docstring); ``clock`` is the loop's, ``feed``/``lost`` hand input
    to the machine through the pump's guard."""

    def __init__(
        self,
        config: StreamConfig,
        clock: Callable[[], float],
        watch: Watch,
        unwatch: Unwatch,
        *,
        feed: Callable[[bytes, Address], None],
        lost: Callable[[Address], None],
    ) -> None:
        self.config = config
        self._clock = clock
        self._watch_socket = watch
        self._unwatch_socket = unwatch
        self._feed = feed
        self._report_lost = lost
        self._listener: socket.socket | None = None
        self._connections: dict[Address, _Connection] = {}
        self._live: dict[int, _Connection] = {}  # every socket not closed yet, by key
        self._lost: list[Address] = []
        self._next_key = LISTEN_KEY - 1
        self.closed = False
        #: Connections this side opened that failed, and accept failures.
        self.errors = 0

    @property
    def connections(self) -> list[Address]:
        """The peers with a connection (open or opening)."""
        return list(self._connections)

    def listen(self, local: Address) -> Address:
        """Listen on ``local``; return the bound address (port 0 picks one)."""
        host, port = local
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            sock.listen()
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._listener = sock
        self._watch_socket(LISTEN_KEY, sock, True, False)
        name = sock.getsockname()
        return (str(name[0]), int(name[1]))

    # -- from the loop ---------------------------------------------------------------
    def ready(self, key: int, readable: bool, writable: bool) -> None:
        """Socket ``key`` is ready for what was asked; connections lost on
        the way are reported to the machine here."""
        conn = self._live.get(key)
        if key == LISTEN_KEY:
            self._accept()
        elif conn is None or conn.gone:
            return
        elif conn.state == "connecting":
            self._connected(conn)
        elif conn.state == "handshake":
            self._handshake(conn)
        else:
            if writable:
                self._write(conn)
            if readable and not conn.gone:
                self._read(conn)
        self.report_losses()

    def deadline(self) -> float | None:
        """When :meth:`expire` is next due (now, when losses wait to be reported)."""
        if self._lost or any(c.unread for c in self._live.values()):
            return self._clock()
        due = [c.deadline for c in self._live.values() if c.deadline is not None]
        return min(due) if due else None

    def expire(self, now: float) -> None:
        """Fail connections not open in time, read what TLS buffered, report losses."""
        for conn in list(self._live.values()):
            if conn.deadline is not None and now >= conn.deadline:
                self._fail(conn, conn.failure)
            elif conn.unread and not conn.gone:
                conn.unread = False
                self._read(conn)
        self.report_losses()

    @property
    def losses_pending(self) -> bool:
        """Whether connections went that the machine was not told of yet."""
        return bool(self._lost)

    def report_losses(self) -> None:
        """Tell the machine of the connections that went."""
        while self._lost:
            self._report_lost(self._lost.pop(0))

    # -- from the machine ------------------------------------------------------------
    def send(self, datagrams: list[Datagram]) -> None:
        """Write each ``(octets, addr)`` on the connection to ``addr``."""
        if self.closed:
            return
        for data, addr in datagrams:
            conn = self._connections.get(addr)
            if conn is None or conn.closing:
                conn = self._open(addr)
            if not conn.gone:
                conn.out += data
                self._write(conn)

    def close_connection(self, addr: Address) -> None:
        """Close the connection with ``addr`` once what is queued is written."""
        conn = self._connections.get(addr)
        if conn is not None:
            conn.closing = True
            if conn.state == "open":
                self._write(conn)  # drops it once the queue is written

    def close(self) -> None:
        """Close the listening socket and every connection (no losses reported)."""
        self.closed = True
        for conn in list(self._live.values()):
            conn.listed = False
            self._drop(conn)
        self._connections.clear()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._unwatch_socket(LISTEN_KEY, self._listener)
            self._listener.close()
            self._listener = None

    # -- connections -----------------------------------------------------------------
    def _accept(self) -> None:
        if self._listener is None:
            return
        while True:
            try:
                sock, peer = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # e.g. out of file descriptors
                self.errors += 1
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            addr = (str(peer[0]), int(peer[1]))
            tls = self.config.tls_server
            if tls is None:
                self._add(sock, addr, "open", None, listed=True)
                continue
            try:
                wrapped = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError) as exc:
                log.info("TLS with %s:%s failed: %s", *addr, exc)
                sock.close()
                continue
            timeout = self._clock() + self.config.connect_timeout
            self._handshake(self._add(wrapped, addr, "handshake", timeout, listed=False))

    def _add(self, sock: socket.socket, addr: Address, state: str, deadline: float | None,
             *, listed: bool) -> _Connection:  # fmt: skip
        conn = _Connection(self._next_key, sock, addr, state, deadline)
        self._next_key -= 1
        if listed:
            conn.listed = True
            self._connections[addr] = conn
        self._live[conn.key] = conn
        self._watch(conn)
        return conn

    def _open(self, addr: Address) -> _Connection:
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        timeout = self._clock() + self.config.connect_timeout
        conn = self._add(sock, addr, "connecting", timeout, listed=True)
        try:
            code = sock.connect_ex(addr)
        except OSError as exc:  # e.g. not an IP address
            code, conn.failure = -1, str(exc)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            conn.deadline = 0.0  # fail from expire(), not inside the step that sent
            conn.failure = errno.errorcode.get(code, conn.failure)
        return conn

    def _connected(self, conn: _Connection) -> None:
        code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._fail(conn, errno.errorcode.get(code, str(code)))
            return
        try:
            conn.sock.getpeername()
        except OSError:
            return  # not connected yet (a spurious readiness)
        tls = self.config.tls_client
        if tls is None:
            self._opened(conn)
            return
        host = conn.addr[0]
        self._unwatch_socket(conn.key, conn.sock)  # the TLS socket takes its descriptor over
        try:
            sock = tls.wrap_socket(conn.sock, server_hostname=self.config.tls_hostnames.get(
                host, host), do_handshake_on_connect=False)  # fmt: skip
        except (OSError, ValueError) as exc:
            self._fail(conn, str(exc))
            return
        conn.sock, conn.state = sock, "handshake"
        self._handshake(conn)

    def _handshake(self, conn: _Connection) -> None:
        assert isinstance(conn.sock, ssl.SSLSocket)
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            conn.want_write = False
        except ssl.SSLWantWriteError:
            conn.want_write = True
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            self._fail(conn, str(exc))
            return
        else:
            problem = self._sip_domain_problem(conn) if conn.listed else None
            if problem is not None:
                self._fail(conn, problem)
                return
            self._opened(conn)
            return
        self._watch(conn)

    def _sip_domain_problem(self, conn: _Connection) -> str | None:
        """Why the server's certificate does not speak for the domain we
        connected to (RFC 5922 §7), or None."""
        if not self.config.check_sip_domain:
            return None
        assert isinstance(conn.sock, ssl.SSLSocket)
        host = conn.addr[0]
        domain = self.config.tls_hostnames.get(host, host)
        der = conn.sock.getpeercert(binary_form=True)
        names = certificate_names(der) if der else ()
        if sip_domain_matches(names, domain):
            return None
        return f"the certificate names {', '.join(names) or 'nothing'}, not {domain} (RFC 5922)"

    def _opened(self, conn: _Connection) -> None:
        conn.state, conn.deadline = "open", None
        if not conn.listed:  # an accepted TLS connection: now the machine may see it
            conn.listed = True
            self._connections[conn.addr] = conn
        if conn.closing:
            conn.out.clear()  # closed while it opened: drop what was queued
            self._drop(conn)
        else:
            self._write(conn)

    def _read(self, conn: _Connection) -> None:
        for _ in range(_READ_BATCH):
            if conn.gone:
                return
            try:
                data = conn.sock.recv(_READ_SIZE)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except OSError as exc:
                log.info("connection with %s:%s broke: %s", *conn.addr, exc)
                self._drop(conn)
                return
            if not data:
                self._drop(conn)  # the peer is done: close our side too
                return
            if not conn.closing:
                self._feed(data, conn.addr)
        conn.unread = True  # more may be waiting (TLS: decrypted, unseen by the loop)

    def _write(self, conn: _Connection) -> None:
        while conn.out and conn.state == "open":
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except OSError as exc:
                log.info("cannot write to %s:%s: %s", *conn.addr, exc)
                self._drop(conn)
                return
            del conn.out[:sent]
        if conn.closing and not conn.out and conn.state == "open":
            self._drop(conn)  # closed on request, after what was queued
        else:
            self._watch(conn)

    def _watch(self, conn: _Connection) -> None:
        if conn.gone:
            return
        if conn.state == "connecting":
            read, write = False, True
        elif conn.state == "handshake":
            read, write = not conn.want_write, conn.want_write
        else:
            read, write = True, bool(conn.out)
        self._watch_socket(conn.key, conn.sock, read, write)

    def _fail(self, conn: _Connection, reason: str) -> None:
        """A connection could not be opened (refused, timed out, TLS failed)."""
        log.info("cannot connect with %s:%s: %s", *conn.addr, reason)
        if conn.listed:
            self.errors += 1  # one this side opened (accepted ones are only logged)
        conn.out.clear()
        self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        """Close the socket; a listed connection's loss is reported later
        (by :meth:`ready` or :meth:`expire`)."""
        if conn.gone:
            return
        conn.gone = True
        with contextlib.suppress(Exception):
            self._unwatch_socket(conn.key, conn.sock)
        conn.sock.close()
        self._live.pop(conn.key, None)
        if not conn.listed:
            return
        current = self._connections.get(conn.addr)
        if current is conn:
            del self._connections[conn.addr]
        elif current is not None:
            return  # a newer connection to the same peer took its place
        if not self.closed:
            self._lost.append(conn.addr)
