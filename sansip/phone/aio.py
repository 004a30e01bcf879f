"""The phone for asyncio: :class:`AsyncPhone` and its :class:`AsyncCall`
objects, a thin front end over :class:`~sansip.phone.core.PhoneCore` run by
the asyncio driver::

    async with AsyncPhone(serveraddress="127.0.0.1:5060", username="1001",
                          password="secret") as phone:
        await phone.register()
        async with await phone.call("1002") as call:
            await call.connected()
            call.dtmf("1234#")
            async for frame in call.audio_in():     # 20 ms int16 frames, 16 kHz
                call.audio_out.put_nowait(frame)    # echo
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, TypeVar

from sansip.errors import LocalProtocolError, SansipError
from sansip.io.asyncio import AsyncioDatagramDriver, AsyncioDriver, AsyncioStreamDriver
from sansip.io.queues import AsyncFrameQueue, OutboundFrameQueue
from sansip.phone.events import CallRecord, PhoneEvent
from sansip.phone.front import CallHandle, FrontEnd
from sansip.phone.line import PhoneCall

__all__ = ["AsyncCall", "AsyncPhone"]

#: Events and incoming calls kept for ``events()`` and ``incoming()``.
MAX_QUEUED = 4096
T = TypeVar("T")


def _put_newest(queue: asyncio.Queue[T], item: T) -> None:
    """Queue ``item``; when the queue is full, the oldest item goes."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


class AsyncCall(CallHandle):
    """One call of an :class:`AsyncPhone` (leaving ``async with`` hangs up)."""

    def __init__(self, phone: AsyncPhone, call: PhoneCall) -> None:
        super().__init__(phone, call)
        self._rate = phone.rate
        self._out: OutboundFrameQueue | None = None  # made when first used (not for
        self._in: AsyncFrameQueue | None = None  # signalling-only calls)
        self._is_connected = asyncio.Event()
        self._is_ended = asyncio.Event()
        self._settled = asyncio.Event()

    @property
    def audio_out(self) -> OutboundFrameQueue:
        """What the call sends: put int16 samples at the phone's rate (silence when empty)."""
        if self._out is None:
            self._out = OutboundFrameQueue(self._rate, max_frames=500)
        return self._out

    @property
    def _audio_in(self) -> AsyncFrameQueue:
        if self._in is None:
            self._in = AsyncFrameQueue(max_frames=500)
            self._in.bind(asyncio.get_running_loop())
            if self._is_ended.is_set():
                self._in.close()
        return self._in

    def _ended(self) -> None:
        self._is_ended.set()
        self._settled.set()
        if self._in is not None:
            self._in.close()

    async def connected(self, timeout: float | None = None) -> None:
        """Wait until the call is connected (LocalProtocolError if it ends first)."""
        await asyncio.wait_for(self._wait_connected(), timeout)

    async def _wait_connected(self) -> None:
        await self._settled.wait()
        if not self._is_connected.is_set():
            raise LocalProtocolError(f"the call ended: {self._call.reason}")

    async def ended(self, timeout: float | None = None) -> CallRecord:
        """Wait until the call is over; its CDR."""
        await asyncio.wait_for(self._is_ended.wait(), timeout)
        assert self.record is not None
        return self.record

    async def audio_in(self) -> AsyncIterator[Any]:
        """What the peer says: 20 ms int16 numpy frames at 16 kHz, until the call ends."""
        async for frame in self._audio_in:
            yield frame

    async def __aenter__(self) -> AsyncCall:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        self.hangup()
        await self.ended(timeout=35)


class AsyncPhone(FrontEnd[AsyncCall]):
    """A phone in the running asyncio loop (see :class:`~sansip.phone.front.FrontEnd`
    for the parameters and callbacks)."""

    def _init_loop(self) -> None:
        # Bounded: a program that never reads them loses the oldest, not memory.
        self._events: deque[PhoneEvent] = deque(maxlen=MAX_QUEUED)  # the oldest go first
        self._events_ready = asyncio.Event()
        self._incoming: asyncio.Queue[AsyncCall] = asyncio.Queue(MAX_QUEUED)
        self._reg_changed = asyncio.Event()

    async def start(self) -> None:
        """Bind the SIP socket and start the phone."""
        await self._resolve_names()
        driver = self._build(AsyncioDatagramDriver if self.udp else AsyncioStreamDriver)
        assert isinstance(driver, AsyncioDriver)
        self._attach_core(await driver.start())

    async def stop(self) -> None:
        """Hang up every call, unregister, and close the sockets."""
        core, driver = self._core, self._driver
        if core is None or driver is None:
            return
        if core.calls:
            self._command(lambda c, now: c.hangup(-2, now))
            for call in list(self._calls.values()):
                await call.ended(timeout=35)
        if core.reg_state == "registered":
            self._command(lambda c, now: c.unregister(now))
            with contextlib.suppress(TimeoutError):  # the registrar's answer, or give up
                await asyncio.wait_for(self._wait_unregistered(), 2.0)
        assert isinstance(driver, AsyncioDriver)
        await driver.close()
        self._driver = self._core = None
        self._close_history()

    async def __aenter__(self) -> AsyncPhone:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        await self.stop()

    # -- the reference vocabulary ----------------------------------------------------
    async def register(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        """Register the account; returns once ``registered`` (raises when it
        failed), or at once without ``wait`` (follow ``on_reg_state_change``)."""
        self._command(lambda core, now: core.register(now))
        if not wait:
            return
        try:
            await asyncio.wait_for(self._wait_registered(), timeout)
        except TimeoutError:
            raise SansipError("registration timed out") from None

    async def _wait_unregistered(self) -> None:
        while self.reg_state == "registered":
            self._reg_changed.clear()
            await self._reg_changed.wait()

    async def _wait_registered(self) -> None:
        self.reg_state = "unregistered"
        while self.reg_state not in ("registered", "failed"):
            self._reg_changed.clear()
            await self._reg_changed.wait()
        if self.reg_state == "failed":
            raise SansipError(f"registration failed: {self.reg_reason}")

    async def call(self, target: str) -> AsyncCall:
        """Call ``target`` (a number at ``serveraddress``, a ``sip:`` URI, or
        ``number,digits``); returns at once (``await call.connected()``)."""
        uri = self._needs_targets(target)
        targets = await self._call_targets(uri, self.core.ua.endpoint.config.local) if uri else None
        placed: PhoneCall = self._command(lambda core, now: core.call(target, now, targets=targets))
        return self._handle(placed)

    async def incoming(self, timeout: float | None = None) -> AsyncCall:
        """The next incoming call, ringing (``accept()`` it)."""
        return await asyncio.wait_for(self._incoming.get(), timeout)

    async def events(self) -> AsyncIterator[PhoneEvent]:
        """Every phone event, as it happens."""
        while True:
            while self._events:
                yield self._events.popleft()
            self._events_ready.clear()
            await self._events_ready.wait()

    # -- plumbing ----------------------------------------------------------------------
    def _new_call(self, call: PhoneCall) -> AsyncCall:
        return AsyncCall(self, call)

    def _incoming_call(self, handle: AsyncCall) -> None:
        _put_newest(self._incoming, handle)

    def _dispatch(self, event: PhoneEvent, handle: AsyncCall | None) -> None:
        self._events.append(event)
        self._events_ready.set()
        super()._dispatch(event, handle)

    def _woken(self) -> None:
        self._reg_changed.set()
