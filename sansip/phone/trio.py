"""The phone for trio: :class:`TrioPhone` and its :class:`TrioCall`
objects, the same behaviour as :class:`~sansip.phone.aio.AsyncPhone` on
trio's primitives (the driver's tasks live in the phone's own nursery)::

    async with TrioPhone(serveraddress="127.0.0.1:5060", username="1001",
                         password="secret") as phone:
        await phone.register()
        call = await phone.call("1002")
        await call.connected()
        async for frame in call.audio_in():
            call.audio_out.put_nowait(frame)
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from types import TracebackType

import trio

from sansip.audio.frames import AudioFrame
from sansip.errors import LocalProtocolError, SansipError
from sansip.io.queues import OutboundFrameQueue
from sansip.io.trio import TrioDatagramDriver, TrioDriver, TrioStreamDriver
from sansip.phone.events import CallRecord
from sansip.phone.front import CallHandle, FrontEnd
from sansip.phone.line import PhoneCall

__all__ = ["TrioCall", "TrioPhone"]

#: Incoming calls kept for ``incoming()``.
MAX_QUEUED = 4096


class _FrameChannel:
    """A frame sink feeding a bounded trio memory channel (the newest
    frames are dropped when the reader falls behind, and counted)."""

    def __init__(self, max_frames: int) -> None:
        self.send, self.receive = trio.open_memory_channel[AudioFrame](max_frames)
        self.dropped = 0

    def write(self, frame: AudioFrame) -> None:
        try:
            self.send.send_nowait(frame)
        except trio.WouldBlock:
            self.dropped += 1
        except trio.ClosedResourceError:
            pass

    def close(self) -> None:
        """No more frames: the reader's iteration ends."""
        self.send.close()


class TrioCall(CallHandle):
    """One call of a :class:`TrioPhone`."""

    def __init__(self, phone: TrioPhone, call: PhoneCall) -> None:
        super().__init__(phone, call)
        #: What the call sends: put 16 kHz int16 samples (silence when empty).
        self.audio_out = OutboundFrameQueue(phone.rate, max_frames=500)
        self._audio_in = _FrameChannel(500)
        self._is_connected = trio.Event()
        self._is_ended = trio.Event()
        self._settled = trio.Event()

    async def connected(self, timeout: float = math.inf) -> None:
        """Wait until the call is connected (LocalProtocolError if it ends first)."""
        with trio.fail_after(timeout):
            await self._settled.wait()
        if not self._is_connected.is_set():
            raise LocalProtocolError(f"the call ended: {self._call.reason}")

    async def ended(self, timeout: float = math.inf) -> CallRecord:
        """Wait until the call is over; its CDR."""
        with trio.fail_after(timeout):
            await self._is_ended.wait()
        assert self.record is not None
        return self.record

    async def audio_in(self) -> AsyncIterator[AudioFrame]:
        """What the peer says: 20 ms int16 numpy frames at 16 kHz, until the call ends."""
        async for frame in self._audio_in.receive:
            yield frame


class TrioPhone(FrontEnd[TrioCall]):
    """A phone in trio tasks (see :class:`~sansip.phone.front.FrontEnd` for
    the parameters and callbacks); use it with ``async with``."""

    def _init_loop(self) -> None:
        self._incoming_send, self._incoming_receive = trio.open_memory_channel[TrioCall](MAX_QUEUED)
        self._reg_changed = trio.Event()

    async def __aenter__(self) -> TrioPhone:
        """Start the driver in a nursery of its own and the phone on it."""
        if self._names_to_resolve:  # the resolver runs on asyncio, in a thread
            await trio.to_thread.run_sync(lambda: asyncio.run(self._resolve_names()))
        driver = self._build(TrioDatagramDriver if self.udp else TrioStreamDriver)
        assert isinstance(driver, TrioDriver)
        await driver.__aenter__()
        self._attach_core(driver.local)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        """Hang up every call, unregister, stop the driver's tasks."""
        driver = self._driver
        assert isinstance(driver, TrioDriver)
        try:
            calls = list(self._calls.values())
            if calls:
                self._command(lambda c, now: c.hangup(-2, now))
                for call in calls:
                    await call.ended(timeout=35)
            if self.reg_state == "registered":
                self._command(lambda c, now: c.unregister(now))
                await trio.sleep(0.1)
        finally:
            await driver.__aexit__(exc_type, exc, tb)
            self._driver = self._core = None
            self._close_history()

    # -- the reference vocabulary ----------------------------------------------------
    async def register(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        """Register the account; returns once ``registered`` (raises when it
        failed), or at once without ``wait`` (follow ``on_reg_state_change``)."""
        self.reg_state = "registering"
        self._command(lambda core, now: core.register(now))
        if not wait:
            return
        with trio.move_on_after(timeout):
            while self.reg_state not in ("registered", "failed"):
                self._reg_changed = trio.Event()
                await self._reg_changed.wait()
        if self.reg_state == "failed":
            raise SansipError(f"registration failed: {self.reg_reason}")
        if self.reg_state != "registered":
            raise SansipError("registration timed out")

    async def call(self, target: str) -> TrioCall:
        """Call ``target``; returns at once (``await call.connected()``)."""
        await trio.lowlevel.checkpoint()
        uri = self._needs_targets(target)
        local = self.core.ua.endpoint.config.local
        targets = None
        if uri is not None:  # the resolver runs on asyncio, in a thread
            targets = await trio.to_thread.run_sync(
                lambda: asyncio.run(self._call_targets(uri, local)))  # fmt: skip
        handle: TrioCall = self._command(
            lambda core, now: self._handle(core.call(target, now, targets=targets)))  # fmt: skip
        return handle

    async def incoming(self, timeout: float = math.inf) -> TrioCall:
        """The next incoming call, ringing (``accept()`` it)."""
        with trio.fail_after(timeout):
            return await self._incoming_receive.receive()

    # -- plumbing ----------------------------------------------------------------------
    def _new_call(self, call: PhoneCall) -> TrioCall:
        return TrioCall(self, call)

    def _incoming_call(self, handle: TrioCall) -> None:
        try:
            self._incoming_send.send_nowait(handle)
        except trio.WouldBlock:  # full: the oldest goes (a program that never takes them)
            self._incoming_receive.receive_nowait()
            self._incoming_send.send_nowait(handle)

    def _woken(self) -> None:
        self._reg_changed.set()
