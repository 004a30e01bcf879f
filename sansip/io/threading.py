"""Threaded driver: SIP over UDP and the media of every call on one thread.

One *owner* thread holds the :class:`~sansip.io.pump.Pump` (a SIP datagram
machine and the :class:`~sansip.media.engine.MediaEngine`): it waits on
every socket the pump watches until the pump's deadline, calls the pump
when one is readable or the deadline passed, and runs the commands other
threads post with :meth:`ThreadingDatagramDriver.call`.  ``on_activity``
callbacks run on a second, *dispatcher* thread, so user code never runs
while the owner is inside a machine; a callback that wants events must
ask for them through ``call()``:

>>> # driver = ThreadingDatagramDriver(endpoint, ("127.0.0.1", 5060),
>>> #     on_activity=lambda: driver.call(drain_events))
>>> # local = driver.start()
>>> # driver.call(lambda: endpoint.send_request(req, driver.pump.now())).result()
>>> # port = driver.open_media("127.0.0.1"); ...; driver.close()
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sansip.io._owner import OwnerThreadDriver
from sansip.io._pump import DatagramMachine
from sansip.io.pump import MediaCommands, Pump
from sansip.media.engine import MediaEngine
from sansip.transport.types import Address

__all__ = ["ThreadingDatagramDriver"]

T = TypeVar("T")


class ThreadingDatagramDriver(OwnerThreadDriver[DatagramMachine, Pump], MediaCommands):
    """Runs a datagram machine on one UDP socket (``local``; None: no SIP
    socket) and the media engine in one owner thread.

    Only the owner thread touches the machines.  Other threads issue
    commands with :meth:`call`, which runs a callable on the owner thread
    and returns a :class:`concurrent.futures.Future`; afterwards the owner
    sends what the machines queued and re-arms its timer.  The media
    commands (:meth:`open_media`, :meth:`start_media`, ...) do that and wait.

    ``on_activity`` is called after the machine took input or fired a
    timer, or when the media engine has events, on the dispatcher thread
    with no lock held.  Calls are coalesced and must not touch the machines
    directly.  A callback that raises is logged and the dispatcher goes on.
    """

    def __init__(
        self,
        machine: DatagramMachine | None,
        local: Address | None,
        *,
        on_activity: Callable[[], None] | None = None,
        media: MediaEngine | None = None,
    ) -> None:
        super().__init__(machine, local or ("", 0), on_activity=on_activity)
        self._sip = local is not None
        self._media_engine = media

    def start(self) -> Address:
        """Bind the SIP socket, start the threads; return the bound address."""
        assert self._owner is None, "start() once"
        self._selector = selectors.DefaultSelector()
        pump = self._pump = Pump(time.monotonic, self._watch, self._unwatch,
                                 media=self._media_engine)  # fmt: skip
        if self.machine is not None:
            pump.attach(self.machine)
        if self._sip:
            try:
                self.local = pump.bind_sip(self.local)
            except OSError:
                self._selector.close()
                raise
        return self._launch(None, "udp")

    def _new_pump(self, machine: DatagramMachine) -> Pump:
        self.pump.attach(machine)
        return self.pump

    def attach(
        self, machine: DatagramMachine, on_activity: Callable[[], None] | None = None
    ) -> None:
        """Run ``machine`` on the bound socket (for a machine that must know
        its address first: construct with ``None``, ``start()``, then
        ``attach``).  Returns once the owner thread has taken it over."""
        self._attach(machine, on_activity)

    def _on_owner(self, action: Callable[[], T]) -> T:
        return self.call(action).result()

    # -- owner thread -------------------------------------------------------

    def _watch(self, key: int, sock: socket.socket) -> None:
        assert self._selector is not None
        self._selector.register(sock, selectors.EVENT_READ, key)

    def _unwatch(self, key: int, sock: socket.socket) -> None:
        if self._selector is not None:
            self._selector.unregister(sock)

    def _poll(self, selector: selectors.BaseSelector) -> bool:
        for key, _ in selector.select(self._timeout()):
            if key.data == "wake":
                self._drain_wake()
            else:
                self.pump.readable(key.data)
        return self.pump.take_activity()

    def _due(self) -> bool:
        return super()._due() and self.pump.take_activity()

    def _step(self, step: Callable[[], Any]) -> None:
        step()  # the pump sends, and guards every machine call

    def _shutdown(self) -> None:
        self.pump.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop and join both threads (each wait bounded by ``timeout``) and
        close every socket.  Idempotent; commands still queued are cancelled."""
        super().close(timeout)
        if self._owner is None and self._pump is not None:
            self._pump.close()
