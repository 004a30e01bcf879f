"""Threaded driver for stream machines: SIP over TCP and TLS.

The threaded twin of :class:`~sansip.io.asyncio_stream.AsyncioStreamDriver`.
One *owner* thread holds the machine and every socket: a selector waits on
the listening socket, the connections and a wake-up pipe until the
machine's next deadline.  Connections open with a non-blocking ``connect``
and, for TLS, a non-blocking handshake (``do_handshake`` retried on
``SSLWantRead``/``SSLWantWrite``).  The table of connections, the feeding
of ``receive_data``/``connection_lost``, the queueing of writes while a
connection opens and the closing of ``connections_to_close`` follow the
asyncio driver.  Commands from other threads go through :meth:`call`;
``on_activity`` runs on a *dispatcher* thread (see
:class:`~sansip.io.threading.ThreadingDatagramDriver`):

>>> # driver = ThreadingStreamDriver(endpoint, ("127.0.0.1", 5060),
>>> #     on_activity=lambda: driver.call(drain_events))
>>> # local = driver.start(); ...; driver.close()
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Final

from sansip.io._owner import OwnerThreadDriver
from sansip.io._pump import StreamMachine, StreamPump
from sansip.transport.types import Address, Datagram

__all__ = ["ThreadingStreamDriver"]

log = logging.getLogger("sansip.io")

_READ_SIZE: Final = 65536
#: Reads from one connection per wake-up before timers and commands get a turn.
_READ_BATCH: Final = 16
_READ: Final = selectors.EVENT_READ
_WRITE: Final = selectors.EVENT_WRITE


class _Connection:
    """One non-blocking TCP or TLS socket and what is waiting to be written.

    ``state`` is ``"connecting"``, ``"handshake"`` or ``"open"``; ``listed``
    says whether the connection is (or was) in the driver's table, so that
    only those are reported to the machine when they go.
    """

    def __init__(
        self, sock: socket.socket, addr: Address, state: str, deadline: float | None
    ) -> None:
        self.sock = sock
        self.addr = addr
        self.state = state
        self.deadline = deadline  # to be open by (connect and handshake)
        self.failure = "timed out"  # why, if it is not open by then
        self.out = bytearray()
        self.want = _WRITE  # what the handshake waits for
        self.closing = False
        self.listed = False
        self.gone = False


class ThreadingStreamDriver(OwnerThreadDriver[StreamMachine, StreamPump]):
    """Runs one stream machine on a listening TCP (or TLS) socket and the
    connections it accepts or opens, in its own owner thread.

    ``tls_server`` makes the listening socket TLS; ``tls_client`` makes the
    connections this driver opens TLS (with ``ssl.create_default_context()``
    the peer certificate and host name are verified).  The name checked (and
    sent as SNI) is the host of the address, or ``tls_hostnames[host]``.
    :meth:`call`, :meth:`wake`, :meth:`close`, ``owner_ident`` and the
    dispatcher for ``on_activity`` are those of the datagram driver.
    """

    def __init__(
        self,
        machine: StreamMachine | None,
        local: Address,
        *,
        tls_server: ssl.SSLContext | None = None,
        tls_client: ssl.SSLContext | None = None,
        tls_hostnames: Mapping[str, str] | None = None,
        connect_timeout: float = 10.0,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(machine, local, on_activity=on_activity)
        self._pump = None if machine is None else self._new_pump(machine)
        self._tls_server = tls_server
        self._tls_client = tls_client
        self._tls_hostnames = dict(tls_hostnames or {})
        self._connect_timeout = connect_timeout
        self._connections: dict[Address, _Connection] = {}
        self._live: set[_Connection] = set()  # every socket not closed yet, listed or not
        self._lost: list[Address] = []  # reported to the machine from the loop
        self._unread: set[_Connection] = set()  # read a full batch: read again soon
        self._active = False

    def start(self) -> Address:
        """Listen, start the threads; return the bound address."""
        assert self._owner is None, "start() once"
        return self._launch(self._bind(socket.SOCK_STREAM), "tcp")

    def _new_pump(self, machine: StreamMachine) -> StreamPump:
        return StreamPump(machine, time.monotonic)

    @property
    def connections(self) -> list[Address]:
        """The peers with a connection (open or opening); a snapshot taken
        on the owner thread."""
        if self._owner is None or self._closed:
            return []
        return self.call(lambda: list(self._connections)).result()

    def attach(self, machine: StreamMachine, on_activity: Callable[[], None] | None = None) -> None:
        """Run ``machine`` on the listening socket (construct with ``None``,
        ``start()``, then ``attach``); returns once the owner has taken it."""
        self._attach(machine, on_activity)

    # -- owner thread: the loop ---------------------------------------------------

    def _poll(self, selector: selectors.BaseSelector) -> bool:
        timeout = self._timeout(*(c.deadline for c in self._live))
        self._active = False
        unread, self._unread = self._unread, set()
        for conn in unread:
            if not conn.gone:
                self._read(conn)
        for key, mask in selector.select(0.0 if self._unread else timeout):
            if key.data == "wake":
                self._drain_wake()
            elif key.data == "sock":
                self._accept()
            elif not key.data.gone:
                self._ready(key.data, mask)
        return self._active

    def _due(self) -> bool:
        now = time.monotonic()
        for conn in [c for c in self._live if c.deadline is not None and now >= c.deadline]:
            self._fail(conn, conn.failure)
        self._active |= super()._due()
        while self._lost and self._pump is not None:
            self._step(partial(self._pump.lost, self._lost.pop(0)))
            self._active = True
        return self._active

    def _shutdown(self) -> None:
        for conn in self._live:
            conn.gone = True
            conn.sock.close()
        self._connections.clear()
        self._live.clear()

    def _step(self, step: Callable[[], list[Datagram]]) -> None:
        """One pump step; write its output and close what the machine asks."""
        try:
            out = step()
            closing = self.pump.closing()
        except Exception:
            self.pump.faults += 1
            log.exception("machine raised in datagrams_to_send (output lost)")
            return
        self._send(out)
        for addr in closing:
            if (conn := self._connections.get(addr)) is not None:
                self._close(conn)

    # -- owner thread: connections --------------------------------------------------

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                sock, peer = self._sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # e.g. out of file descriptors
                self.errors += 1
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            addr = (str(peer[0]), int(peer[1]))
            if self._tls_server is None:
                self._add(_Connection(sock, addr, "open", None), listed=True)
                continue
            try:
                tls = self._tls_server.wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False
                )
            except (OSError, ValueError) as exc:
                log.info("TLS with %s:%s failed: %s", *addr, exc)
                sock.close()
                continue
            conn = _Connection(tls, addr, "handshake", time.monotonic() + self._connect_timeout)
            self._add(conn, listed=False)
            self._handshake(conn)

    def _add(self, conn: _Connection, *, listed: bool) -> None:
        assert self._selector is not None
        if listed:
            conn.listed = True
            self._connections[conn.addr] = conn
        self._live.add(conn)
        self._selector.register(conn.sock, self._interest(conn), conn)

    def _open(self, addr: Address) -> _Connection:
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        conn = _Connection(sock, addr, "connecting", time.monotonic() + self._connect_timeout)
        self._add(conn, listed=True)
        try:
            code = sock.connect_ex(addr)
        except OSError as exc:  # e.g. not an IP address
            code, conn.failure = -1, str(exc)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            conn.deadline = 0.0  # fail in the loop, not inside the step that sent
            conn.failure = errno.errorcode.get(code, conn.failure)
        return conn

    def _ready(self, conn: _Connection, mask: int) -> None:
        if conn.state == "connecting":
            code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._fail(conn, errno.errorcode.get(code, str(code)))
            elif self._tls_client is None:
                self._opened(conn)
            else:
                host = conn.addr[0]
                name = self._tls_hostnames.get(host, host)
                try:
                    conn.sock = self._tls_client.wrap_socket(
                        conn.sock, server_hostname=name, do_handshake_on_connect=False
                    )
                except (OSError, ValueError) as exc:
                    self._fail(conn, str(exc))
                    return
                conn.state = "handshake"
                self._handshake(conn)
        elif conn.state == "handshake":
            self._handshake(conn)
        else:
            if mask & _WRITE:
                self._write(conn)
            if mask & _READ and not conn.gone:
                self._read(conn)

    def _handshake(self, conn: _Connection) -> None:
        assert isinstance(conn.sock, ssl.SSLSocket)
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            conn.want = _READ
        except ssl.SSLWantWriteError:
            conn.want = _WRITE
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            self._fail(conn, str(exc))
            return
        else:
            self._opened(conn)
            return
        self._watch(conn)

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
            if self._pump is not None and not conn.closing:
                self._step(partial(self._pump.feed, data, conn.addr))
                self._active = True
        self._unread.add(conn)  # more may be waiting (TLS: decrypted, unseen by select)

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

    def _send(self, datagrams: list[Datagram]) -> None:
        if self._stop.is_set():
            return
        for data, addr in datagrams:
            conn = self._connections.get(addr)
            if conn is None or conn.closing:
                conn = self._open(addr)
            if not conn.gone:
                conn.out += data
                self._write(conn)

    def _close(self, conn: _Connection) -> None:
        conn.closing = True
        if conn.state == "open":
            self._write(conn)  # drops it once the queue is written

    def _interest(self, conn: _Connection) -> int:
        if conn.state == "connecting":
            return _WRITE
        if conn.state == "handshake":
            return conn.want
        return _READ | _WRITE if conn.out else _READ

    def _watch(self, conn: _Connection) -> None:
        if not conn.gone and self._selector is not None:
            self._selector.modify(conn.sock, self._interest(conn), conn)

    def _fail(self, conn: _Connection, reason: str) -> None:
        """A connection could not be opened (refused, timed out, TLS failed)."""
        log.info("cannot connect with %s:%s: %s", *conn.addr, reason)
        if conn.listed:
            self.errors += 1  # one this driver opened (accepted ones are only logged)
        conn.out.clear()
        self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        """Close the socket; report a listed connection to the machine."""
        if conn.gone:
            return
        conn.gone = True
        assert self._selector is not None
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()
        self._live.discard(conn)
        if not conn.listed:
            return
        current = self._connections.get(conn.addr)
        if current is conn:
            del self._connections[conn.addr]
        elif current is not None:
            return  # a newer connection to the same peer took its place
        if not self._stop.is_set():
            self._lost.append(conn.addr)  # reported by the loop, never from inside a step
