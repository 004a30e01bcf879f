"""Threaded driver for datagram machines (UDP over IPv4 or IPv6).

One *owner* thread holds the machine: it waits on the socket until the
machine's next deadline, feeds datagrams and fires timers through the shared
:class:`~sansip.io._pump.DatagramPump`, sends what comes out and runs the
commands other threads post with :meth:`ThreadingDatagramDriver.call`.
``on_activity`` callbacks run on a second, *dispatcher* thread, so user code
never runs while the owner is inside the machine; a callback that wants the
machine's events must ask for them through ``call()``:

>>> # driver = ThreadingDatagramDriver(endpoint, ("127.0.0.1", 5060),
>>> #     on_activity=lambda: driver.call(drain_events))
>>> # local = driver.start()
>>> # driver.call(lambda: endpoint.send_request(req, driver.pump.now())).result()
>>> # driver.close()
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import Final

from sansip.io._owner import OwnerThreadDriver
from sansip.io._pump import DatagramMachine, DatagramPump
from sansip.transport.types import Address, Datagram

__all__ = ["ThreadingDatagramDriver"]

log = logging.getLogger("sansip.io")

#: Datagrams read per wake-up before timers and commands get a turn.
_READ_BATCH: Final = 64
_MAX_DATAGRAM: Final = 65535


class ThreadingDatagramDriver(OwnerThreadDriver[DatagramMachine, DatagramPump]):
    """Runs one datagram machine on one UDP socket in its own owner thread.

    Only the owner thread touches the machine.  Other threads issue commands
    with :meth:`call`, which runs a callable on the owner thread and returns a
    :class:`concurrent.futures.Future`; afterwards the owner sends what the
    machine queued and re-arms its timer, so no separate ``wake`` is needed.

    ``on_activity`` is called after every datagram or timer, on the
    dispatcher thread, with no lock held.  Calls are coalesced (one call may
    cover several inputs) and must not touch the machine directly: use
    ``driver.call(...)`` to drain its events.  A callback that raises is
    logged and the dispatcher carries on.
    """

    def start(self) -> Address:
        """Bind the socket, start the threads; return the bound address."""
        assert self._owner is None, "start() once"
        sock = self._bind(socket.SOCK_DGRAM)
        if self.machine is not None:
            self._pump = self._new_pump(self.machine)
        return self._launch(sock, "udp")

    def _new_pump(self, machine: DatagramMachine) -> DatagramPump:
        return DatagramPump(machine, time.monotonic)

    def attach(
        self, machine: DatagramMachine, on_activity: Callable[[], None] | None = None
    ) -> None:
        """Run ``machine`` on the bound socket (for a machine that must know
        its address first: construct with ``None``, ``start()``, then
        ``attach``).  Returns once the owner thread has taken it over."""
        self._attach(machine, on_activity)

    # -- owner thread -------------------------------------------------------

    def _poll(self, selector: selectors.BaseSelector) -> bool:
        active = False
        for key, _ in selector.select(self._timeout()):
            if key.data == "wake":
                self._drain_wake()
            else:
                active |= self._receive()
        return active

    def _receive(self) -> bool:
        assert self._sock is not None
        got = False
        for _ in range(_READ_BATCH):
            try:
                data, addr = self._sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError:  # e.g. an ICMP error reported on Windows
                self.errors += 1
                continue
            if self._pump is None:
                continue  # nothing attached yet
            self._step(partial(self._pump.feed, data, (str(addr[0]), int(addr[1]))))
            got = True
        return got

    def _step(self, step: Callable[[], list[Datagram]]) -> None:
        """Run one pump step and send its output; a raising
        ``datagrams_to_send`` (which the pump does not guard) is a fault."""
        try:
            out = step()
        except Exception:
            self.pump.faults += 1
            log.exception("machine raised in datagrams_to_send (output lost)")
            return
        self._send(out)

    def _send(self, datagrams: list[Datagram]) -> None:
        assert self._sock is not None
        for data, addr in datagrams:
            try:
                self._sock.sendto(data, addr)
            except OSError:
                self.errors += 1
