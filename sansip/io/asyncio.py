"""asyncio driver for datagram machines (UDP over IPv4 or IPv6).

>>> # driver = AsyncioDatagramDriver(machine, ("127.0.0.1", 5060))
>>> # await driver.start(); ...; driver.wake(); ...; await driver.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any, Final

from sansip.io._asyncio_base import AsyncioDriver
from sansip.io._pump import DatagramMachine, DatagramPump
from sansip.transport.types import Address, Datagram

__all__ = ["AsyncioDatagramDriver"]


#: Socket buffers asked for (the kernel caps them at net.core.[rw]mem_max):
#: a SIP burst must not overflow the default ~200 kB while the loop is busy.
SOCKET_BUFFER: Final = 2 * 1024 * 1024


def _grow_buffers(sock: socket.socket | None) -> None:
    if sock is None:
        return
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, driver: AsyncioDatagramDriver) -> None:
        self._driver = driver

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._driver._received(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        self._driver.errors += 1


class AsyncioDatagramDriver(AsyncioDriver[DatagramMachine, DatagramPump]):
    """Runs one datagram machine on one UDP socket in the running loop.

    After calling a command on the machine from outside (sending a request,
    answering a call), call :meth:`wake` so its output goes out and its timer
    is re-armed.  ``on_activity`` is called after every input, for the owner
    to drain the machine's events.
    """

    def __init__(
        self,
        machine: DatagramMachine | None,
        local: Address,
        *,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(machine, local, on_activity=on_activity)
        self._transport: asyncio.DatagramTransport | None = None

    def _new_pump(self, machine: DatagramMachine, clock: Callable[[], float]) -> DatagramPump:
        return DatagramPump(machine, clock)

    async def start(self) -> Address:
        """Bind the socket; return the bound address (port 0 picks one)."""
        loop = self._begin()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=self.local
        )
        self._transport = transport
        _grow_buffers(transport.get_extra_info("socket"))
        return self._bound(transport.get_extra_info("sockname"))

    def attach(
        self, machine: DatagramMachine, on_activity: Callable[[], None] | None = None
    ) -> None:
        """Run ``machine`` on the bound socket (for a machine that must know
        its address first: ``driver = AsyncioDatagramDriver(None, (host, 0))``,
        ``await driver.start()``, then ``attach``)."""
        self._attach(machine, on_activity)

    def wake(self) -> None:
        """Send what the machine has queued and re-arm its timer."""
        self._output(self.pump.flush())

    def _received(self, data: bytes, addr: Address) -> None:
        if self._pump is None:
            return  # nothing attached yet
        self._output(self._pump.feed(data, addr))
        self._activity()

    def _output(self, datagrams: list[Datagram]) -> None:
        if self._transport is not None:
            for data, addr in datagrams:
                self._transport.sendto(data, addr)
        self._arm()

    async def close(self) -> None:
        """Stop the timer and close the socket."""
        self._stop_timer()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        await asyncio.sleep(0)
