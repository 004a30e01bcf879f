"""The owner-thread machinery shared by the threaded drivers.

:class:`OwnerThreadDriver` holds what :class:`~sansip.io.threading.ThreadingDatagramDriver`
and :class:`~sansip.io.threading_stream.ThreadingStreamDriver` have in common:
the owner and dispatcher threads, the command queue behind ``call()``, the
socketpair that wakes the owner, ``close()`` and the pump's timer and
flush.  A subclass binds its socket (:meth:`_bind`), hands it to
:meth:`_launch`, and supplies the pump (``_new_pump``), one wait for input (``_poll``) and what
one pump step does with its output (``_step``); ``_due`` and ``_shutdown``
are optional hooks of the owner loop.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from sansip.transport.types import Address

__all__ = ["OwnerThreadDriver"]

log = logging.getLogger("sansip.io")

T = TypeVar("T")
#: The machine type a driver runs.
M = TypeVar("M")
#: The pump type that feeds it.
P = TypeVar("P", bound="Pumped")


class Pumped(Protocol):
    """What the owner loop needs of a pump: its deadline and fault counter."""

    faults: int

    def deadline(self) -> float | None:
        """When the pump next needs firing."""

    def fire(self, deadline: float) -> Any:
        """The deadline passed: fire what is due."""

    def flush(self) -> Any:
        """Output what the machines queued."""


class OwnerThreadDriver(ABC, Generic[M, P]):
    """One socket, one owner thread that alone touches the machine, and one
    dispatcher thread for ``on_activity`` (see the subclasses)."""

    def __init__(
        self,
        machine: M | None,
        local: Address,
        *,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        self.machine = machine
        self.local = local
        self.errors = 0
        self._on_activity = on_activity
        self._pump: P | None = None
        self._sock: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
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

    @abstractmethod
    def _new_pump(self, machine: M) -> P:
        """A pump for ``machine`` on the driver's clock."""

    @abstractmethod
    def _poll(self, selector: selectors.BaseSelector) -> bool:
        """Wait for input until the next deadline and take it; say whether
        the machine was fed.  Keys with data ``"wake"`` go to :meth:`_drain_wake`."""

    @abstractmethod
    def _step(self, step: Callable[[], Any]) -> None:
        """Run one pump step and deal with its output."""

    def _bind(self, socktype: int) -> socket.socket:
        """A non-blocking socket bound to ``local`` (a stream one listens)."""
        host, port = self.local
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host, port, type=socktype, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, socktype)
        try:
            if socktype == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            if socktype == socket.SOCK_STREAM:
                sock.listen()
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    def _launch(self, sock: socket.socket | None, kind: str) -> Address:
        """Take the bound socket, if any (selected with data ``"sock"``),
        start both threads; return the bound address."""
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
        if sock is not None:
            self._sock = sock
            self.local = (str(sock.getsockname()[0]), int(sock.getsockname()[1]))
            self._selector.register(sock, selectors.EVENT_READ, "sock")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        name = f"sansip-{kind}-{self.local[1]}"
        self._owner = threading.Thread(target=self._run, name=name, daemon=True)
        self._dispatcher = threading.Thread(
            target=self._dispatch, name=f"{name}-dispatch", daemon=True
        )
        self._dispatcher.start()
        self._owner.start()
        return self.local

    @property
    def pump(self) -> P:
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

    def _attach(self, machine: M, on_activity: Callable[[], None] | None) -> None:
        def swap() -> None:
            self.machine = machine
            self._pump = self._new_pump(machine)
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
        selector = self._selector
        assert selector is not None
        try:
            self._loop(selector)
        except Exception:  # never expected: the loop guards every machine call
            log.exception("owner thread crashed")
        self._shutdown()
        selector.close()
        self._cancel_pending()

    def _loop(self, selector: selectors.BaseSelector) -> None:
        self._flush()
        while not self._stop.is_set():
            active = self._poll(selector)
            if self._stop.is_set():
                break
            self._run_commands()
            active |= self._due()
            if active:
                self._notify()

    def _shutdown(self) -> None:
        """Close what the owner opened, as it stops (on the owner thread)."""

    def _timeout(self, *deadlines: float | None) -> float | None:
        """How long to wait: until the machine's timer or the soonest of ``deadlines``."""
        due = [d for d in (*deadlines, self._deadline()) if d is not None]
        return None if not due else max(0.0, min(due) - time.monotonic())

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

    def _due(self) -> bool:
        """Fire the machine's timer if it is due; say whether it was."""
        deadline = self._deadline()
        if deadline is not None and time.monotonic() >= deadline:
            self._step(partial(self.pump.fire, deadline))
            return True
        return False

    def _flush(self) -> None:
        if self._pump is not None:
            self._step(self._pump.flush)

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
