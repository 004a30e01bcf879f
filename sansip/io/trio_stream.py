"""trio driver for stream machines: SIP over TCP and TLS.

The trio twin of :class:`~sansip.io.asyncio_stream.AsyncioStreamDriver`:
it listens, keeps one table of connections keyed by the peer address
(incoming ones by where they come from, outgoing ones by where they go),
feeds ``receive_data``/``connection_lost``, writes each ``(octets, addr)``
of ``datagrams_to_send`` on the connection to ``addr`` (opening one when
there is none, queueing the octets while it opens), closes what the machine
lists in ``connections_to_close`` and arms one timer.  A connection that
cannot be opened (refused, timed out, TLS verification failed) is reported
to the machine as ``connection_lost(addr, now)``.

Every connection runs in its own task of the driver's nursery; all of them
touch the machine only between awaits, so trio's single thread keeps it
consistent.  Two structured shapes, as for
:class:`~sansip.io.trio.TrioDatagramDriver`:

>>> # async with TrioStreamDriver(machine, ("127.0.0.1", 5060)) as driver:
>>> #     ...  # command the machine, then driver.wake()
>>> # async with trio.open_nursery() as nursery:
>>> #     local = await nursery.start(driver.run); ...; driver.close()
"""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Callable, Mapping
from typing import Final

import trio

from sansip.io._pump import StreamMachine, StreamPump
from sansip.io._trio_base import TrioDriver
from sansip.transport.types import Address, Datagram

__all__ = ["TrioStreamDriver"]

log = logging.getLogger("sansip.io")

_READ_SIZE: Final = 65536
#: How long a graceful close (TLS close_notify) may take before it is forced.
_CLOSE_GRACE: Final = 1.0


class _Connection:
    """One TCP or TLS connection, its write queue and its cancel scope."""

    def __init__(self, addr: Address) -> None:
        self.addr = addr
        self.send, self.queue = trio.open_memory_channel[bytes](math.inf)
        self.scope = trio.CancelScope()
        self.closing = False
        self.gone = False

    def write(self, data: bytes) -> None:
        """Queue octets (sent in order once the connection is open)."""
        if not self.closing:
            self.send.send_nowait(data)

    def close(self) -> None:
        """Send what is queued, then close (at once if still opening)."""
        self.closing = True
        self.send.close()


class TrioStreamDriver(TrioDriver[StreamMachine, StreamPump]):
    """Runs one stream machine on a listening TCP (or TLS) socket and the
    connections it accepts or opens, in one trio nursery.

    ``tls_server`` makes the listening socket TLS; ``tls_client`` makes the
    connections this driver opens TLS (with ``ssl.create_default_context()``
    the peer certificate and host name are verified).  The name checked (and
    sent as SNI) is the host of the address, or ``tls_hostnames[host]``.
    After calling a command on the machine from another task, call
    :meth:`wake`; ``on_activity`` is called after every input, for the owner
    to drain the machine's events (an exception it raises propagates to the
    nursery, as trio would have it).
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
        self._tls_server = tls_server
        self._tls_client = tls_client
        self._tls_hostnames = dict(tls_hostnames or {})
        self._connect_timeout = connect_timeout
        self._connections: dict[Address, _Connection] = {}
        self._nursery: trio.Nursery | None = None
        self._timer_scope: trio.CancelScope | None = None
        self._timer_at: float | None = None

    def _new_pump(self, machine: StreamMachine, clock: Callable[[], float]) -> StreamPump:
        return StreamPump(machine, clock)

    async def __aenter__(self) -> TrioStreamDriver:
        """Open a nursery, start :meth:`run` in it and wait until listening."""
        await self._enter()
        return self

    async def run(
        self, *, task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen, report the bound address through ``task_status``, then
        serve until :meth:`close` (or cancellation)."""
        assert self._nursery is None, "run() once"
        try:
            sock = await self._bind(trio.socket.SOCK_STREAM)
            async with trio.SocketListener(sock) as listener:
                self._pump_machine()
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    if self._closed:
                        nursery.cancel_scope.cancel()
                    task_status.started(self.local)
                    nursery.start_soon(self._accept, listener)
                    nursery.start_soon(self._timer)
                    if self._pump is not None:
                        self.wake()
        finally:
            self._closed = True
            self._connections.clear()
            self._stopped.set()

    def attach(self, machine: StreamMachine, on_activity: Callable[[], None] | None = None) -> None:
        """Run ``machine`` on the listening socket (for a machine that must
        know its address first: construct with ``None``, start, then attach)."""
        assert self._nursery is not None, "start the driver first"
        self._attach(machine, on_activity)

    @property
    def connections(self) -> list[Address]:
        """The peers with a connection (open or opening)."""
        return list(self._connections)

    def wake(self) -> None:
        """Queue what the machine has to send, close what it asks, re-arm its
        timer.  Synchronous: call it from any task of the same trio run."""
        self._output(self.pump.flush())

    def close(self) -> None:
        """Stop listening and drop every connection and the timer.
        Idempotent; returns at once (see :meth:`aclose` to also wait)."""
        self._closed = True
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def aclose(self) -> None:
        """Close and wait until the driver's tasks have let go of the sockets."""
        self.close()
        if self._nursery is not None:
            await self._stopped.wait()

    # -- connections ------------------------------------------------------------
    async def _accept(self, listener: trio.SocketListener) -> None:
        assert self._nursery is not None
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # e.g. out of file descriptors
                self.errors += 1
                log.warning("accept failed: %s", exc)
                await trio.sleep(0.1)
                continue
            peer = stream.socket.getpeername()
            self._nursery.start_soon(self._accepted, stream, (str(peer[0]), int(peer[1])))

    async def _accepted(self, raw: trio.SocketStream, addr: Address) -> None:
        stream: trio.abc.Stream = raw
        if self._tls_server is not None:
            stream = trio.SSLStream(raw, self._tls_server, server_side=True)
            if not await self._handshake(stream, addr):
                return
        conn = _Connection(addr)
        self._connections[addr] = conn
        await self._serve(conn, stream)

    def _open(self, addr: Address) -> _Connection:
        assert self._nursery is not None
        conn = _Connection(addr)
        self._connections[addr] = conn
        self._nursery.start_soon(self._connect, conn)
        return conn

    async def _connect(self, conn: _Connection) -> None:
        host, port = conn.addr
        raw: trio.SocketStream | None = None
        with trio.move_on_after(self._connect_timeout):
            try:
                raw = await trio.open_tcp_stream(host, port)
            except OSError as exc:
                log.info("cannot connect to %s:%s: %s", host, port, exc)
        stream: trio.abc.Stream | None = raw
        if raw is not None and self._tls_client is not None:
            name = self._tls_hostnames.get(host, host)
            stream = trio.SSLStream(raw, self._tls_client, server_hostname=name)
            if not await self._handshake(stream, conn.addr):
                stream = None
        if stream is None:
            self.errors += 1
            self._lost(conn)
            return
        await self._serve(conn, stream)

    async def _handshake(self, stream: trio.SSLStream[trio.SocketStream], addr: Address) -> bool:
        with trio.move_on_after(self._connect_timeout):
            try:
                await stream.do_handshake()
                return True
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                cause = exc.__cause__ or exc
                log.info("TLS handshake with %s:%s failed: %s", *addr, cause)
        await trio.aclose_forcefully(stream)
        return False

    async def _serve(self, conn: _Connection, stream: trio.abc.Stream) -> None:
        """Read and write until either side closes or breaks."""
        graceful = False
        try:
            if conn.closing:
                return  # closed while it opened: drop what was queued
            with conn.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write, conn, stream)
                    await self._read(conn, stream)
                    nursery.cancel_scope.cancel()
            graceful = not self._closed and conn.closing
        finally:
            if graceful:  # closed on request, after what was queued: TLS close_notify
                with trio.CancelScope(shield=True), trio.move_on_after(_CLOSE_GRACE):
                    await stream.aclose()
            await trio.aclose_forcefully(stream)
            self._lost(conn)

    async def _read(self, conn: _Connection, stream: trio.abc.Stream) -> None:
        while True:
            try:
                data = await stream.receive_some(_READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                log.info("connection with %s:%s broke: %s", *conn.addr, exc.__cause__ or exc)
                return
            if not data:
                return  # the peer is done: close our side too
            if self._pump is None or conn.gone or self._closed:
                continue
            self._output(self._pump.feed(bytes(data), conn.addr))
            self._activity()

    async def _write(self, conn: _Connection, stream: trio.abc.Stream) -> None:
        try:
            async for data in conn.queue:
                await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.info("cannot write to %s:%s: %s", *conn.addr, exc.__cause__ or exc)
        conn.scope.cancel()

    def _lost(self, conn: _Connection) -> None:
        if conn.gone:
            return
        conn.gone = True
        conn.send.close()
        current = self._connections.get(conn.addr)
        if current is conn:
            del self._connections[conn.addr]
        elif current is not None:
            return  # a newer connection to the same peer took its place
        if self._pump is None or self._closed:
            return
        self._output(self._pump.lost(conn.addr))
        self._activity()

    # -- output and time ---------------------------------------------------------
    def _output(self, datagrams: list[Datagram]) -> None:
        if not self._closed:
            for data, addr in datagrams:
                conn = self._connections.get(addr)
                if conn is None or conn.closing:
                    conn = self._open(addr)
                conn.write(data)
        if self._pump is not None:
            for addr in self._pump.closing():
                if (conn := self._connections.get(addr)) is not None:
                    conn.close()  # _lost reports it to the machine
        self._arm()

    async def _timer(self) -> None:
        while True:
            deadline = self._timer_at
            with trio.move_on_at(math.inf if deadline is None else deadline) as scope:
                self._timer_scope = scope
                await trio.sleep_forever()
            self._timer_scope = None
            due = deadline is not None and trio.current_time() >= deadline
            if deadline is not None and due and deadline == self._timer_at:
                self._timer_at = None
                self._output(self.pump.fire(deadline))
                self._activity()

    def _arm(self) -> None:
        deadline = None if self._closed or self._pump is None else self._pump.deadline()
        if deadline == self._timer_at:
            return
        self._timer_at = deadline
        if self._timer_scope is not None:
            self._timer_scope.cancel()  # the timer task re-reads the deadline
