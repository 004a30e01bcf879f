"""trio driver for datagram machines (UDP over IPv4 or IPv6).

Two shapes, both structured:

>>> # async with TrioDatagramDriver(machine, ("127.0.0.1", 5060)) as driver:
>>> #     ...  # driver.local is bound; command the machine, then driver.wake()
>>> # (leaving the block closes the driver and waits for its task)
>>>
>>> # async with trio.open_nursery() as nursery:       # your own nursery
>>> #     local = await nursery.start(driver.run)
>>> #     ...; driver.close()
"""

from __future__ import annotations

import math
from collections.abc import Callable

import trio

from sansip.io._pump import DatagramMachine, DatagramPump
from sansip.io._trio_base import TrioDriver
from sansip.transport.types import Address, Datagram

__all__ = ["TrioDatagramDriver"]

_MAX_DATAGRAM = 65535


class TrioDatagramDriver(TrioDriver[DatagramMachine, DatagramPump]):
    """Runs one datagram machine on one UDP socket in one trio task.

    The task receives with a deadline (``trio.move_on_at``) taken from the
    machine's timer on trio's clock (``trio.current_time``), feeds datagrams
    and fires timers through :class:`~sansip.io._pump.DatagramPump`, and sends
    what comes out.  After calling a command on the machine from another
    task, call :meth:`wake` so its output goes out and its timer is re-armed.
    ``on_activity`` is called in the driver's task after every input, for the
    owner to drain the machine's events; an exception it raises propagates
    to the nursery, as trio would have it.
    """

    def __init__(
        self,
        machine: DatagramMachine | None,
        local: Address,
        *,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(machine, local, on_activity=on_activity)
        self._sock: trio.socket.SocketType | None = None
        self._run_scope: trio.CancelScope | None = None
        self._recv_scope: trio.CancelScope | None = None
        self._wake_pending = False

    def _new_pump(self, machine: DatagramMachine, clock: Callable[[], float]) -> DatagramPump:
        return DatagramPump(machine, clock)

    async def __aenter__(self) -> TrioDatagramDriver:
        """Open a nursery, start :meth:`run` in it and wait until bound."""
        await self._enter()
        return self

    async def run(
        self, *, task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind the socket, report the bound address through ``task_status``
        (``await nursery.start(driver.run)`` returns it), then pump until
        :meth:`close` (or cancellation)."""
        assert self._run_scope is None, "run() once"
        try:
            with await self._bind(trio.socket.SOCK_DGRAM) as sock:
                self._sock = sock
                self._pump_machine()
                with trio.CancelScope() as self._run_scope:
                    if self._closed:
                        self._run_scope.cancel()
                    task_status.started(self.local)
                    await self._send(self._pump.flush() if self._pump else [])
                    await self._loop(sock)
        finally:
            self._sock = None
            self._closed = True
            self._stopped.set()

    async def _loop(self, sock: trio.socket.SocketType) -> None:
        while True:
            got: tuple[bytes, Address] | None = None
            deadline = self._deadline()
            with trio.move_on_at(math.inf if deadline is None else deadline) as scope:
                self._recv_scope = scope
                try:
                    data, addr = await sock.recvfrom(_MAX_DATAGRAM)
                    got = (data, (str(addr[0]), int(addr[1])))
                except OSError:  # e.g. an ICMP error reported on Windows
                    self.errors += 1
            self._recv_scope = None
            active = False
            if got is not None and self._pump is not None:
                await self._send(self._pump.feed(*got))
                active = True
            deadline = self._deadline()
            if deadline is not None and trio.current_time() >= deadline:
                await self._send(self.pump.fire(deadline))
                active = True
            if active:
                self._activity()
            if self._wake_pending:
                self._wake_pending = False
                await self._send(self.pump.flush() if self._pump else [])

    def attach(
        self, machine: DatagramMachine, on_activity: Callable[[], None] | None = None
    ) -> None:
        """Run ``machine`` on the bound socket (for a machine that must know
        its address first: construct with ``None``, start, then ``attach``)."""
        assert self._sock is not None, "start the driver first"
        self._attach(machine, on_activity)

    def wake(self) -> None:
        """Have the driver's task send what the machine has queued and re-arm
        its timer (interrupts the current receive; cheap to call often)."""
        self._wake_pending = True
        if self._recv_scope is not None:
            self._recv_scope.cancel()

    def close(self) -> None:
        """Ask the driver's task to stop and close the socket.  Idempotent;
        returns at once (see :meth:`aclose` to also wait)."""
        self._closed = True
        if self._run_scope is not None:
            self._run_scope.cancel()

    async def aclose(self) -> None:
        """Close and wait until the driver's task has let go of the socket."""
        self.close()
        if self._run_scope is not None:
            await self._stopped.wait()

    def _deadline(self) -> float | None:
        return None if self._pump is None else self._pump.deadline()

    async def _send(self, datagrams: list[Datagram]) -> None:
        sock = self._sock
        if sock is None:
            return
        for data, addr in datagrams:
            try:
                await sock.sendto(data, addr)
            except OSError:
                self.errors += 1
