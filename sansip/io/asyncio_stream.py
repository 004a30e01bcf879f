"""asyncio driver for stream machines: SIP over TCP and TLS.

A thin pump like :class:`~sansip.io.asyncio.AsyncioDatagramDriver`: it
listens, keeps one table of connections keyed by the peer address (incoming
ones by where they come from, outgoing ones by where they go), feeds
``receive_data``/``connection_lost``, writes each ``(octets, addr)`` of
``datagrams_to_send`` on the connection to ``addr`` (opening one when there
is none, queueing the octets while it opens), closes what the machine lists
in ``connections_to_close`` and arms one timer.  A connection that cannot be
opened (refused, timed out, TLS verification failed) is reported to the
machine as ``connection_lost(addr, now)``.  Every protocol decision stays in
the machine (:class:`~sansip.transaction.endpoint.Endpoint` in stream mode).

>>> # driver = AsyncioStreamDriver(machine, ("127.0.0.1", 5060))
>>> # await driver.start(); ...; driver.wake(); ...; await driver.close()
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Mapping

from sansip.io._asyncio_base import AsyncioDriver
from sansip.io._pump import StreamMachine, StreamPump
from sansip.transport.types import Address, Datagram

__all__ = ["AsyncioStreamDriver"]

log = logging.getLogger("sansip.io")


class _Connection(asyncio.Protocol):
    """One TCP or TLS connection; ``addr`` is None until an accepted one is made."""

    def __init__(self, driver: AsyncioStreamDriver, addr: Address | None) -> None:
        self._driver = driver
        self.addr = addr
        self.transport: asyncio.Transport | None = None
        self.pending: list[bytes] = []  # written while the connection opens
        self.close_when_open = False
        self.gone = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.addr is None:
            peer = transport.get_extra_info("peername")
            self.addr = (str(peer[0]), int(peer[1]))
            self._driver._accepted(self)
            return
        if self.close_when_open:
            transport.close()
            return
        for data in self.pending:
            transport.write(data)
        self.pending.clear()

    def write(self, data: bytes) -> None:
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is None:
            self.close_when_open = True
            self.pending.clear()
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._driver._received(self, data)

    def eof_received(self) -> bool | None:
        return None  # the peer is done: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._driver._lost(self)


class AsyncioStreamDriver(AsyncioDriver[StreamMachine, StreamPump]):
    """Runs one stream machine on a listening TCP (or TLS) socket and the
    connections it accepts or opens, in the running loop.

    ``tls_server`` makes the listening socket TLS; ``tls_client`` makes the
    connections this driver opens TLS (verify as it says: with
    ``ssl.create_default_context()`` the peer certificate and host name are
    checked).  The name checked (and sent as SNI) is the host of the
    address, or ``tls_hostnames[host]`` when given.  After calling a command
    on the machine from outside, call :meth:`wake`; ``on_activity`` is
    called after every input, for the owner to drain the machine's events.
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
        self._server: asyncio.Server | None = None
        self._connections: dict[Address, _Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _new_pump(self, machine: StreamMachine, clock: Callable[[], float]) -> StreamPump:
        return StreamPump(machine, clock)

    async def start(self) -> Address:
        """Listen; return the bound address (port 0 picks one)."""
        loop = self._begin()
        host, port = self.local
        self._server = await loop.create_server(
            lambda: _Connection(self, None), host, port, ssl=self._tls_server
        )
        return self._bound(self._server.sockets[0].getsockname())

    def attach(self, machine: StreamMachine, on_activity: Callable[[], None] | None = None) -> None:
        """Run ``machine`` on the bound socket (for a machine that must know
        its address first: start with ``None``, ``await start()``, then attach)."""
        self._attach(machine, on_activity)

    @property
    def connections(self) -> list[Address]:
        """The peers with a connection (open or opening)."""
        return list(self._connections)

    def wake(self) -> None:
        """Send what the machine has queued, close what it asks, re-arm its timer."""
        self._output(self.pump.flush())

    # -- from the connections ------------------------------------------------
    def _accepted(self, conn: _Connection) -> None:
        assert conn.addr is not None and conn.transport is not None
        if self._closed:
            conn.transport.close()
            return
        self._connections[conn.addr] = conn

    def _received(self, conn: _Connection, data: bytes) -> None:
        if self._pump is None or conn.addr is None or conn.gone or self._closed:
            return
        self._output(self._pump.feed(data, conn.addr))
        self._activity()

    def _lost(self, conn: _Connection) -> None:
        if conn.gone:
            return
        conn.gone = True
        addr = conn.addr
        if addr is None:
            return
        current = self._connections.get(addr)
        if current is conn:
            del self._connections[addr]
        elif current is not None:
            return  # a newer connection to the same peer took its place
        if self._pump is None or self._closed:
            return
        self._output(self._pump.lost(addr))
        self._activity()

    # -- to the connections --------------------------------------------------
    def _output(self, datagrams: list[Datagram]) -> None:
        self._send(datagrams)
        if self._pump is not None:
            for addr in self._pump.closing():
                conn = self._connections.get(addr)
                if conn is not None:
                    conn.close()  # connection_lost reports it to the machine
        self._arm()

    def _send(self, datagrams: list[Datagram]) -> None:
        if self._closed:
            return
        for data, addr in datagrams:
            conn = self._connections.get(addr)
            if conn is None or (conn.transport is not None and conn.transport.is_closing()):
                conn = self._open(addr)
            conn.write(data)

    def _open(self, addr: Address) -> _Connection:
        assert self._loop is not None
        conn = _Connection(self, addr)
        self._connections[addr] = conn
        task = self._loop.create_task(self._connect(conn, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return conn

    async def _connect(self, conn: _Connection, addr: Address) -> None:
        assert self._loop is not None
        host, port = addr
        tls = self._tls_client
        name = self._tls_hostnames.get(host, host) if tls is not None else None
        try:
            await asyncio.wait_for(
                self._loop.create_connection(
                    lambda: conn, host, port, ssl=tls, server_hostname=name
                ),
                self._connect_timeout,
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            self.errors += 1
            log.info("cannot connect to %s:%s: %s", host, port, exc)
            conn.pending.clear()
            self._lost(conn)

    async def close(self) -> None:
        """Stop the timer, stop listening and close every connection."""
        self._closed = True
        self._stop_timer()
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._connections.values()):
            conn.close()
        self._connections.clear()
        await asyncio.sleep(0)
