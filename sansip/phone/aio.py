"""The phone for asyncio: :class:`AsyncPhone` and its :class:`AsyncCall`
objects, a thin front end over :class:`~sansip.phone.core.PhoneCore` run by
the asyncio driver::

    async with AsyncPhone(serveraddress="127.0.0.1:5060", username="1001",
                          password="secret") as phone:
        await phone.register()
        async with await phone.call("1002") as call:
            await call.connected()
            call.dtmf("1234#")
            async for frame in call.audio_in():     # 20 ms int16 frames
                call.audio_out.put_nowait(frame)    # echo
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

from sansip.dialog.ua import UserAgent
from sansip.errors import LocalProtocolError, SansipError
from sansip.io.asyncio import AsyncioDatagramDriver, AsyncioDriver, AsyncioStreamDriver
from sansip.io.queues import AsyncFrameQueue, OutboundFrameQueue
from sansip.media.engine import MediaEngine
from sansip.phone.config import phone_setup
from sansip.phone.core import PhoneCore
from sansip.phone.events import (
    CallEnded,
    CallRecord,
    CallStateChanged,
    DtmfReceived,
    PhoneEvent,
    RegStateChanged,
)
from sansip.phone.line import PhoneCall
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Transport

__all__ = ["AsyncCall", "AsyncPhone"]


class AsyncCall:
    """One call of an :class:`AsyncPhone` (leaving ``async with`` hangs up)."""

    def __init__(self, phone: AsyncPhone, call: PhoneCall) -> None:
        self._phone = phone
        self._call = call
        self.audio_out = OutboundFrameQueue(16000, max_frames=500)
        self._audio_in = AsyncFrameQueue(max_frames=500)
        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self.record: CallRecord | None = None
        self.dtmf_received = ""

    @property
    def line(self) -> int:
        """The line number (1..N)."""
        return self._call.line

    @property
    def state(self) -> str:
        """``setup``, ``ringing``, ``connected`` or ``disconnected``."""
        return self._call.state

    @property
    def callid(self) -> str:
        """The SIP Call-ID."""
        return self._call.callid

    @property
    def peername(self) -> str:
        """Who the other party is (the user part of its URI)."""
        return self._call.peername

    async def connected(self, timeout: float | None = None) -> None:
        """Wait until the call is connected (LocalProtocolError if it ends first)."""
        await asyncio.wait_for(self._wait_connected(), timeout)

    async def _wait_connected(self) -> None:
        ended = asyncio.ensure_future(self._ended.wait())
        connected = asyncio.ensure_future(self._connected.wait())
        await asyncio.wait({ended, connected}, return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        connected.cancel()
        if not self._connected.is_set():
            raise LocalProtocolError(f"the call ended: {self._call.reason}")

    async def ended(self, timeout: float | None = None) -> CallRecord:
        """Wait until the call is over; its CDR."""
        await asyncio.wait_for(self._ended.wait(), timeout)
        assert self.record is not None
        return self.record

    def accept(self) -> None:
        """Answer this incoming call."""
        self._phone._command(lambda now: self._phone.core.accept(self.line, now))

    def reject(self, status: int = 486) -> None:
        """Refuse this incoming call."""
        self._phone._command(lambda now: self._phone.core.reject(self.line, now, status))

    def hangup(self) -> None:
        """End the call (BYE, CANCEL or a refusal, as fits)."""
        if self.state != "disconnected":
            self._phone._command(lambda now: self._phone.core.hangup(self.line, now))

    def hold(self) -> None:
        """Put the call on hold."""
        self._phone._command(lambda now: self._phone.core.hold(self.line, now))

    def resume(self) -> None:
        """Take the call off hold."""
        self._phone._command(lambda now: self._phone.core.hold(self.line, now, resume=True))

    def dtmf(self, digits: str) -> None:
        """Send RFC 4733 digits."""
        self._phone._command(lambda now: self._phone.core.dtmf(self.line, digits, now))

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

    # -- from the phone --------------------------------------------------------------
    def _event(self, event: PhoneEvent) -> None:
        if isinstance(event, CallStateChanged) and event.state == "connected":
            self._connected.set()
        elif isinstance(event, DtmfReceived):
            self.dtmf_received += event.digit
        elif isinstance(event, CallEnded):
            self.record = event.record
            self._ended.set()
            self._audio_in.close()


class AsyncPhone:
    """A phone in the running asyncio loop, configured with the reference
    client's parameter names (``serveraddress``, ``username``,
    ``password``, ``transport``, ``codec``, ``autoaccept``, ...) given as
    keywords or as ``params``."""

    def __init__(self, params: dict[str, str] | None = None, **kwargs: object) -> None:
        self.params = {**(params or {}), **{k: str(v) for k, v in kwargs.items()}}
        self.setup = phone_setup(self.params)
        self._driver: AsyncioDriver | None = None
        self._core: PhoneCore | None = None
        self._calls: dict[int, AsyncCall] = {}
        self._events: asyncio.Queue[PhoneEvent] = asyncio.Queue()
        self._incoming: asyncio.Queue[AsyncCall] = asyncio.Queue()
        self._registered = asyncio.Event()
        self._reg_failed = ""
        self._callbacks: dict[str, list[Callable[..., object]]] = {"call": [], "reg": [],
                                                                    "event": []}  # fmt: skip

    @property
    def core(self) -> PhoneCore:
        """The sans-IO phone (its lines, configuration, history)."""
        assert self._core is not None, "start() first"
        return self._core

    async def start(self) -> None:
        """Bind the SIP socket and start the phone."""
        setup = self.setup
        rng = random.Random(self.params["seed"]) if "seed" in self.params else (
            secrets.SystemRandom())  # fmt: skip
        engine = MediaEngine(rng=rng)
        driver_type = AsyncioDatagramDriver if setup.transport is Transport.UDP else (
            AsyncioStreamDriver)  # fmt: skip
        driver: AsyncioDriver = driver_type(None, setup.local, media=engine)
        local = await driver.start()
        ua = UserAgent(EndpointConfig(local, setup.transport), setup.ua, rng=rng)
        self._core = PhoneCore(ua, engine, setup.core, rng=rng, audio=self._audio_for)
        self._driver = driver
        driver.attach(self._core, self._pump)

    async def stop(self) -> None:
        """Hang up every call, unregister, and close the sockets."""
        core, driver = self._core, self._driver
        if core is None or driver is None:
            return
        if core.calls:
            self._command(lambda now: core.hangup(-2, now))
            for call in list(self._calls.values()):
                await call.ended(timeout=35)
        if core.registration is not None and core.reg_state == "registered":
            self._command(core.unregister)
            await asyncio.sleep(0.1)
        await driver.close()
        self._driver = self._core = None

    async def __aenter__(self) -> AsyncPhone:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        await self.stop()

    # -- the reference vocabulary ----------------------------------------------------
    async def register(self, timeout: float = 10.0) -> None:
        """Register the account; returns once ``registered`` (raises when it failed)."""
        self._registered.clear()
        self._reg_failed = ""
        self._command(self.core.register)
        try:
            await asyncio.wait_for(self._wait_registered(), timeout)
        except TimeoutError:
            raise SansipError("registration timed out") from None

    async def _wait_registered(self) -> None:
        while not self._registered.is_set():
            if self._reg_failed:
                raise SansipError(f"registration failed: {self._reg_failed}")
            await asyncio.sleep(0.01)

    async def call(self, target: str) -> AsyncCall:
        """Call ``target`` (a number at ``serveraddress``, a ``sip:`` URI, or
        ``number,digits``); returns at once (``await call.connected()``)."""
        placed = self._command(lambda now: self.core.call(target, now))
        return self._calls[placed.line]

    async def incoming(self, timeout: float | None = None) -> AsyncCall:
        """The next incoming call (ringing; ``accept()`` it)."""
        return await asyncio.wait_for(self._incoming.get(), timeout)

    async def events(self) -> AsyncIterator[PhoneEvent]:
        """Every phone event, as it happens."""
        while True:
            yield await self._events.get()

    def on_call_state_change(self, callback: Callable[..., object]) -> None:
        """``callback(event, direction, peername, peerdisplayname, line, callid)``."""
        self._callbacks["call"].append(callback)

    def on_reg_state_change(self, callback: Callable[..., object]) -> None:
        """``callback(state, reason)`` on ``registered``/``unregistered``/``failed``."""
        self._callbacks["reg"].append(callback)

    # -- plumbing ----------------------------------------------------------------------
    def _command(self, action: Callable[[float], Any]) -> Any:
        driver = self._driver
        assert driver is not None, "start() first"
        result = driver._on_owner(lambda: action(driver.now()))
        self._pump()
        return result

    def _audio_for(self, call: PhoneCall) -> tuple[object, object]:
        handle = self._handle(call)
        handle._audio_in.bind(asyncio.get_running_loop())
        return handle.audio_out, handle._audio_in

    def _handle(self, call: PhoneCall) -> AsyncCall:
        handle = self._calls.get(call.line)
        if handle is None or handle._call is not call:
            handle = self._calls[call.line] = AsyncCall(self, call)
        return handle

    def _pump(self) -> None:
        core, driver = self._core, self._driver
        if core is None or driver is None:
            return
        core.process(driver.now())
        while (event := core.next_event()) is not None:
            self._dispatch(core, event)
        driver.wake()

    def _dispatch(self, core: PhoneCore, event: PhoneEvent) -> None:
        self._events.put_nowait(event)
        if isinstance(event, RegStateChanged):
            if event.state == "registered":
                self._registered.set()
            elif event.state == "failed":
                self._reg_failed = event.reason or "failed"
            for callback in self._callbacks["reg"]:
                callback(event.state, event.reason)
            return
        line = getattr(event, "line", None)
        if isinstance(event, CallEnded):
            line = event.record.line
        handle = self._calls.get(line) if isinstance(line, int) else None
        if isinstance(event, CallStateChanged):
            if handle is None:
                matching = [c for c in core.calls if c.line == event.line]
                if matching:
                    handle = self._handle(matching[0])
            if handle is not None and event.state == "ringing" and event.direction == 2:
                self._incoming.put_nowait(handle)
            for callback in self._callbacks["call"]:
                callback(event.state, event.direction, event.peername, event.peerdisplayname,
                         event.line, event.callid)  # fmt: skip
        if handle is not None:
            handle._event(event)
            if isinstance(event, CallEnded):
                self._calls.pop(event.record.line, None)
