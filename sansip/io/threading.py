"""Threaded driver: SIP (UDP, TCP or TLS) and the media of every call on one
thread.

One *owner* thread holds the shared :class:`~sansip.io.driver.Driver` and
its :class:`~sansip.io.pump.Pump`: it waits on every socket the pump
watches (a selector) until the pump's deadline, and runs the commands other
threads post with :meth:`ThreadingDriver.call`.  ``on_activity`` callbacks
run on a second, *dispatcher* thread, so user code never runs while the
owner is inside a machine; a callback that wants events must ask for them
through ``call()``:

>>> # driver = ThreadingDatagramDriver(endpoint, ("127.0.0.1", 5060),
>>> #     on_activity=lambda: driver.call(drain_events))
>>> # local = driver.start()
>>> # driver.call(lambda: endpoint.send_request(req, driver.pump.now())).result()
>>> # port = driver.open_media("127.0.0.1"); ...; driver.close()
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
from typing import Any, TypeVar

from sansip.io.driver import Driver, StreamDriving
from sansip.io.streams import Pollable
from sansip.transport.types import Address

__all__ = ["ThreadingDatagramDriver", "ThreadingDriver", "ThreadingStreamDriver"]

log = logging.getLogger("sansip.io")

T = TypeVar("T")
_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class ThreadingDriver(Driver):
    """The driver (see :class:`~sansip.io.driver.Driver`) on its own owner
    thread; SIP over UDP unless made with ``stream=``.

    Only the owner thread touches the machines.  :meth:`call` runs a
    callable there and returns a :class:`concurrent.futures.Future`;
    afterwards the owner sends what the machines queued and re-arms.  The
    media commands do that and wait.  ``on_activity`` runs on the
    dispatcher thread with no lock held (calls are coalesced; a callback
    that raises is logged and the dispatcher goes on).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        self._selector.register(self._wake_r, _READ, None)
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._callbacks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._callback_pending = False
        self._lock = threading.Lock()  # guards _stopped against concurrent call()/close()
        self._stopped = False
        self._owner: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None

    def start(self) -> Address:
        """Bind the SIP socket (or listen), start the threads; return the bound address."""
        assert self._owner is None, "start() once"
        self._open_pump(time.monotonic)
        name = f"sansip-{'udp' if self._stream is None else 'tcp'}-{self.local[1]}"
        self._owner = threading.Thread(target=self._run, name=name, daemon=True)
        self._dispatcher = threading.Thread(target=self._dispatch, name=f"{name}-dispatch",
                                            daemon=True)  # fmt: skip
        self._dispatcher.start()
        self._owner.start()
        return self.local

    @property
    def owner_ident(self) -> int | None:
        """The owner thread's ``threading.get_ident()``, once started."""
        return None if self._owner is None else self._owner.ident

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the owner thread (at once when called there); its
        result (or exception) arrives in the returned future.  Raises
        ``RuntimeError`` when the driver is not running."""
        fut: Future[T] = Future()
        if threading.current_thread() is self._owner:
            self._command(fn, fut)
            return fut
        with self._lock:
            if self._stopped or self._owner is None:
                raise RuntimeError("driver is not running (start() first, or closed)")
            self._commands.put((fn, fut))
        with contextlib.suppress(OSError):  # full of wake-ups already
            self._wake_w.send(b"\0")
        return fut

    @property
    def connections(self) -> list[Address]:
        """TCP/TLS: the peers with a connection (a snapshot taken on the owner thread)."""
        return [] if self._stopped or self._owner is None else super().connections

    def close(self, timeout: float = 5.0) -> None:
        """Stop and join both threads (each wait bounded by ``timeout``) and
        close every socket.  Idempotent; commands still queued are cancelled."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = self._closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        current = threading.current_thread()
        if self._owner is None:
            self._shutdown()
        elif self._owner is not current:
            self._owner.join(timeout)
            if self._owner.is_alive():
                log.warning("owner thread %s did not stop in %.1fs", self._owner.name, timeout)
        self._callbacks.put(None)
        if self._dispatcher is not None and self._dispatcher is not current:
            self._dispatcher.join(timeout)
        self._cancel_pending()
        self._wake_r.close()
        self._wake_w.close()

    # -- loop hooks ----------------------------------------------------------------------
    def _post(self, action: Callable[[], object]) -> None:
        if self._owner is None:
            self._on_owner(action)
        else:
            self.call(action)

    def _on_owner(self, action: Callable[[], T]) -> T:
        if self._owner is None:  # not started: no other thread touches anything yet
            try:
                return action()
            finally:
                self._after()
        return self.call(action).result()

    def _watch(self, key: int, sock: Pollable, read: bool, write: bool) -> None:
        mask = (_READ if read else 0) | (_WRITE if write else 0)
        try:
            current = self._selector.get_key(sock)
        except (KeyError, ValueError):
            if mask:
                self._selector.register(sock, mask, key)
            return
        if not mask:
            self._selector.unregister(sock)
        elif current.events != mask or current.fileobj is not sock:
            self._selector.modify(sock, mask, key)

    def _unwatch(self, key: int, sock: Pollable) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def _set_timer(self, deadline: float | None) -> None:
        """Nothing to do: the owner waits until ``_armed`` each turn."""

    def notify(self) -> None:
        """Have the dispatcher thread run ``on_activity`` soon (coalesced)."""
        callback = self.on_activity
        if callback is not None and not self._callback_pending:
            self._callback_pending = True
            self._callbacks.put(callback)

    def _activity(self) -> None:
        if self.pump.take_activity():
            self.notify()

    # -- owner thread ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._after()
            while not self._stopping():
                armed = self._armed
                timeout = None if armed is None else max(0.0, armed - time.monotonic())
                for key, mask in self._selector.select(timeout):
                    if key.data is None:
                        with contextlib.suppress(OSError):  # drained
                            while self._wake_r.recv(4096):
                                pass
                    elif not self._stopping():
                        self._ready(key.data, bool(mask & _READ), bool(mask & _WRITE))
                if self._stopping():
                    break
                self._run_commands()
                if self._armed is not None and time.monotonic() >= self._armed:
                    self._fire(self._armed)
        except Exception:  # never expected: the pump guards every machine call
            log.exception("owner thread crashed")
        self._shutdown()

    def _stopping(self) -> bool:
        return self._stopped

    def _run_commands(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._command(*self._commands.get_nowait())

    def _shutdown(self) -> None:
        if self._pump is not None:
            self._pump.close()
        self._selector.close()
        self._cancel_pending()

    def _cancel_pending(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._commands.get_nowait()[1].cancel()

    # -- dispatcher thread -------------------------------------------------------------
    def _dispatch(self) -> None:
        while (callback := self._callbacks.get()) is not None:
            self._callback_pending = False
            try:
                callback()
            except Exception:
                log.exception("on_activity callback raised")


#: SIP over UDP (and media) on an owner thread.
ThreadingDatagramDriver = ThreadingDriver


class ThreadingStreamDriver(StreamDriving, ThreadingDriver):
    """SIP over TCP or TLS (and media) on an owner thread (see
    :class:`~sansip.io.driver.StreamDriving` for the TLS arguments)."""
