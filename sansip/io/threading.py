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

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, Final, TypeVar

from sansip.io._pump import DatagramMachine, DatagramPump
from sansip.transport.types import Address, Datagram

__all__ = ["ThreadingDatagramDriver"]

log = logging.getLogger("sansip.io")

T = TypeVar("T")

#: Datagrams read per wake-up before timers and commands get a turn.
_READ_BATCH: Final = 64
_MAX_DATAGRAM: Final = 65535


class ThreadingDatagramDriver:
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

    def __init__(
        self,
        machine: DatagramMachine | None,
        local: Address,
        *,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        self.machine = machine
        self.local = local
        self.errors = 0
        self._on_activity = on_activity
        self._pump: DatagramPump | None = None
        self._sock: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._commands: queue.SimpleQueue[tuple[Callable[[], None], Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._activity: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._activity_pending = False
        self._lock = threading.Lock()  # guards _closed against concurrent call()/close()
        self._closed = False
        self._stop = threading.Event()
        self._owner: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None

    def start(self) -> Address:
        """Bind the socket, start the threads; return the bound address."""
        assert self._owner is None, "start() once"
        host, port = self.local
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind(sockaddr)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._sock = sock
        self.local = (str(sock.getsockname()[0]), int(sock.getsockname()[1]))
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        if self.machine is not None:
            self._pump = DatagramPump(self.machine, time.monotonic)
        name = f"sansip-udp-{self.local[1]}"
        self._owner = threading.Thread(target=self._run, name=name, daemon=True)
        self._dispatcher = threading.Thread(
            target=self._dispatch, name=f"{name}-dispatch", daemon=True
        )
        self._dispatcher.start()
        self._owner.start()
        return self.local

    @property
    def pump(self) -> DatagramPump:
        """Counters of what went through (received, sent, faults)."""
        assert self._pump is not None, "start() and attach a machine first"
        return self._pump

    @property
    def owner_ident(self) -> int | None:
        """The owner thread's ``threading.get_ident()``, once started."""
        return None if self._owner is None else self._owner.ident

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the owner thread; its result (or exception) arrives in
        the returned future.  Called on the owner thread itself, ``fn`` runs at
        once (so a nested call cannot deadlock).  Raises ``RuntimeError`` once
        the driver is closed."""
        fut: Future[T] = Future()
        if threading.current_thread() is self._owner:
            self._execute(fn, fut)
            return fut
        with self._lock:
            if self._closed or self._owner is None:
                raise RuntimeError("driver is not running (start() first, or closed)")
            self._commands.put((lambda: self._execute(fn, fut), fut))
        self._poke()
        return fut

    def wake(self) -> None:
        """Ask the owner to send what the machine has queued and re-arm its
        timer (only needed if the machine was changed outside :meth:`call`)."""
        self.call(lambda: None)

    def attach(
        self, machine: DatagramMachine, on_activity: Callable[[], None] | None = None
    ) -> None:
        """Run ``machine`` on the bound socket (for a machine that must know
        its address first: construct with ``None``, ``start()``, then
        ``attach``).  Returns once the owner thread has taken it over."""

        def swap() -> None:
            self.machine = machine
            self._pump = DatagramPump(machine, time.monotonic)
            if on_activity is not None:
                self._on_activity = on_activity

        self.call(swap).result()

    def close(self, timeout: float = 5.0) -> None:
        """Stop and join both threads (each wait bounded by ``timeout``) and
        close the socket.  Idempotent; commands still queued are cancelled."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._poke()
        current = threading.current_thread()
        if self._owner is not None and self._owner is not current:
            self._owner.join(timeout)
            if self._owner.is_alive():
                log.warning("owner thread %s did not stop in %.1fs", self._owner.name, timeout)
        self._activity.put(None)
        if self._dispatcher is not None and self._dispatcher is not current:
            self._dispatcher.join(timeout)
        self._cancel_pending()
        for sock in (self._sock, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()

    # -- owner thread -------------------------------------------------------

    def _run(self) -> None:
        assert self._sock is not None and self._wake_r is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ, "udp")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            try:
                self._loop(selector)
            except Exception:  # never expected: the loop guards every machine call
                log.exception("owner thread crashed")
        self._cancel_pending()

    def _loop(self, selector: selectors.BaseSelector) -> None:
        self._flush()
        while not self._stop.is_set():
            deadline = self._deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            active = False
            for key, _ in selector.select(timeout):
                if key.data == "wake":
                    self._drain_wake()
                else:
                    active |= self._receive()
            if self._stop.is_set():
                break
            self._run_commands()
            deadline = self._deadline()
            if deadline is not None and time.monotonic() >= deadline:
                self._step(partial(self.pump.fire, deadline))
                active = True
            if active:
                self._notify()

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

    def _run_commands(self) -> None:
        if self._commands.empty():
            return
        with contextlib.suppress(queue.Empty):
            while True:
                self._commands.get_nowait()[0]()  # runs _execute: never raises
        self._flush()  # always flush, even after a command that raised

    @staticmethod
    def _execute(fn: Callable[[], T], fut: Future[T]) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            result = fn()
        except BaseException as exc:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    def _deadline(self) -> float | None:
        if self._pump is None:
            return None
        try:
            return self._pump.deadline()
        except Exception:
            self._pump.faults += 1
            log.exception("machine raised in get_timer (no timer armed)")
            return None

    def _flush(self) -> None:
        if self._pump is not None:
            self._step(self._pump.flush)

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

    def _notify(self) -> None:
        callback = self._on_activity
        if callback is not None and not self._activity_pending:
            self._activity_pending = True
            self._activity.put(callback)

    def _drain_wake(self) -> None:
        assert self._wake_r is not None
        with contextlib.suppress(OSError):  # BlockingIOError: drained
            while self._wake_r.recv(4096):
                pass

    def _poke(self) -> None:
        if self._wake_w is not None:
            with contextlib.suppress(OSError):  # full of wake-ups already, or closed
                self._wake_w.send(b"\0")

    def _cancel_pending(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._commands.get_nowait()[1].cancel()

    # -- dispatcher thread --------------------------------------------------

    def _dispatch(self) -> None:
        while True:
            callback = self._activity.get()
            if callback is None:
                return
            self._activity_pending = False
            try:
                callback()
            except Exception:
                log.exception("on_activity callback raised")
