"""The phone for plain threads: :class:`Phone` and its :class:`ThreadCall`
objects.  The core lives on the threaded driver's owner thread; every
method here is safe to call from any thread and blocks only as long as it
says; callbacks run on the driver's dispatcher thread, never while a lock
is held::

    phone = Phone(serveraddress="127.0.0.1:5060", username="1001", password="secret")
    phone.on_call_state_change(lambda event, direction, peer, name, line, callid: print(event))
    phone.start(); phone.register()
    call = phone.call("1002"); call.connected(timeout=10); call.dtmf("1#")
    call.hangup(); call.ended(timeout=10); phone.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from sansip.errors import LocalProtocolError, SansipError
from sansip.io.queues import FrameQueue, OutboundFrameQueue
from sansip.io.threading import ThreadingDatagramDriver, ThreadingDriver, ThreadingStreamDriver
from sansip.phone.core import PhoneCore
from sansip.phone.events import CallRecord, PhoneEvent
from sansip.phone.front import CallHandle, FrontEnd
from sansip.phone.line import PhoneCall

__all__ = ["Phone", "ThreadCall"]

#: Incoming calls kept for ``incoming()``.
MAX_QUEUED = 4096


class ThreadCall(CallHandle):
    """One call of a :class:`Phone` (leaving ``with`` hangs up)."""

    def __init__(self, phone: Phone, call: PhoneCall) -> None:
        super().__init__(phone, call)
        #: What the call sends: put 16 kHz int16 samples from any thread.
        self.audio_out = OutboundFrameQueue(phone.rate, max_frames=500)
        self._audio_in = FrameQueue(max_frames=500)
        self._is_connected = threading.Event()
        self._is_ended = threading.Event()
        self._settled = threading.Event()

    def connected(self, timeout: float | None = None) -> None:
        """Block until the call is connected (LocalProtocolError if it ends
        first, TimeoutError after ``timeout`` seconds)."""
        if not self._settled.wait(timeout):
            raise TimeoutError("the call did not connect in time")
        if not self._is_connected.is_set():
            raise LocalProtocolError(f"the call ended: {self._call.reason}")

    def ended(self, timeout: float | None = None) -> CallRecord:
        """Block until the call is over; its CDR (TimeoutError after ``timeout``)."""
        if not self._is_ended.wait(timeout):
            raise TimeoutError("the call did not end in time")
        assert self.record is not None
        return self.record

    def audio_in(self, timeout: float | None = None) -> Iterator[Any]:
        """What the peer says: 20 ms int16 numpy frames at 16 kHz, until the
        call ends (or no frame came for ``timeout`` seconds)."""
        while (frame := self._audio_in.get(timeout)) is not None:
            yield frame

    def __enter__(self) -> ThreadCall:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.hangup()
        self.ended(timeout=35)


class Phone(FrontEnd[ThreadCall]):
    """A phone on its own threads (see :class:`~sansip.phone.front.FrontEnd`
    for the parameters and callbacks)."""

    def _init_loop(self) -> None:
        # Bounded: a program that never takes them loses the oldest, not memory.
        self._incoming: queue.Queue[ThreadCall] = queue.Queue(MAX_QUEUED)
        # Events collected on the owner thread, handed out on the dispatcher thread.
        self._pending: deque[tuple[PhoneEvent, ThreadCall | None]] = deque()
        self._reg_settled = threading.Event()  # registered or failed since register()

    def start(self) -> None:
        """Bind the SIP socket and start the owner and dispatcher threads."""
        if self._names_to_resolve:
            asyncio.run(self._resolve_names())
        driver = self._build(ThreadingDatagramDriver if self.udp else ThreadingStreamDriver)
        assert isinstance(driver, ThreadingDriver)
        self._attach_core(driver.start())

    def stop(self) -> None:
        """Hang up every call, unregister, and stop the threads."""
        driver = self._driver
        if driver is None or self._core is None:
            return
        calls = list(self._calls.values())
        if calls:
            self._command(lambda c, now: c.hangup(-2, now))
            for call in calls:
                call.ended(timeout=35)
        if self.reg_state == "registered":
            self._command(lambda c, now: c.unregister(now))
            threading.Event().wait(0.1)
        assert isinstance(driver, ThreadingDriver)
        driver.close()
        self._driver = self._core = None
        self._close_history()

    def __enter__(self) -> Phone:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    # -- the reference vocabulary ----------------------------------------------------
    def register(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        """Register the account; returns once ``registered`` (raises when it
        failed), or at once without ``wait`` (follow ``on_reg_state_change``)."""
        self._reg_settled.clear()
        self._command(lambda core, now: core.register(now))
        if not wait:
            return
        if not self._reg_settled.wait(timeout):
            raise SansipError("registration timed out")
        if self.reg_state == "failed":
            raise SansipError(f"registration failed: {self.reg_reason}")

    def call(self, target: str) -> ThreadCall:
        """Call ``target``; returns at once (``call.connected(timeout)`` waits)."""
        uri = self._needs_targets(target)
        local = self.core.ua.endpoint.config.local
        targets = asyncio.run(self._call_targets(uri, local)) if uri else None
        handle: ThreadCall = self._command(
            lambda core, now: self._handle(core.call(target, now, targets=targets)))  # fmt: skip
        return handle

    def incoming(self, timeout: float | None = None) -> ThreadCall:
        """The next incoming call, ringing (``accept()`` it); TimeoutError after ``timeout``."""
        try:
            return self._incoming.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("no incoming call") from None

    # -- plumbing ----------------------------------------------------------------------
    def _new_call(self, call: PhoneCall) -> ThreadCall:
        return ThreadCall(self, call)

    def _command(self, action: Callable[[PhoneCore, float], Any]) -> Any:
        driver, core = self._driver, self.core
        assert isinstance(driver, ThreadingDriver), "start() first"

        def run() -> Any:
            result = action(core, driver.now())
            self._pending.extend(self._drain(core, driver.now()))
            return result

        result = driver.call(run).result()
        driver.notify()  # the dispatcher thread hands the events out, in order
        return result

    def _registration_settled(self) -> None:
        if self.reg_state in ("registered", "failed"):
            self._reg_settled.set()

    def _incoming_call(self, handle: ThreadCall) -> None:
        if self._incoming.full():  # only the dispatcher thread puts: no race to fill it
            with contextlib.suppress(queue.Empty):
                self._incoming.get_nowait()
        self._incoming.put_nowait(handle)

    def _on_activity(self) -> None:
        """On the dispatcher thread: collect the core's events on the owner
        thread, then hand them out here (the only thread that does)."""
        driver, core = self._driver, self._core
        if isinstance(driver, ThreadingDriver) and core is not None:
            with contextlib.suppress(RuntimeError):  # stopped meanwhile
                driver.call(lambda: self._pending.extend(self._drain(core, driver.now()))).result()
        while self._pending:
            self._dispatch(*self._pending.popleft())
