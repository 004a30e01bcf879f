"""Transport errors of the SIP UDP socket on real loopback sockets, in each
driver (asyncio, trio, threads): an ICMP port unreachable fails the
request at once (a 503, RFC 3261 §8.1.3.1) instead of after timer B, an
error alone never keeps the loop spinning, a send refused with an error
naming its destination is reported too, and a machine without
``transport_error`` is left alone.  Linux only (``IP_RECVERR``)."""

from __future__ import annotations

import asyncio
import errno
import random
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import trio

from sansip.dialog.call import Call, CallState, RequestCompleted
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.io.asyncio import AsyncioDatagramDriver
from sansip.io.driver import Driver
from sansip.io.pump import SIP_SOCKET, Pump
from sansip.io.threading import ThreadingDatagramDriver
from sansip.io.trio import TrioDatagramDriver
from sansip.message import SipURI
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Datagram
from tests.io.media_harness import LOOPS

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the error queue (IP_RECVERR) is Linux's"
)
T = TypeVar("T")
#: Far below timer B (32 s); the failure comes in milliseconds.
DEADLINE = 5.0


def _closed_port() -> int:
    """A loopback UDP port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sender:
    """A datagram machine without ``transport_error``: sends what it is given."""

    def __init__(self) -> None:
        self.outbox: list[Datagram] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        pass

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


class Recorder(Sender):
    """A :class:`Sender` that records the transport errors it is told of."""

    def __init__(self) -> None:
        super().__init__()
        self.unreachable: list[Address] = []

    def transport_error(self, addr: Address, now: float) -> None:
        self.unreachable.append(addr)


def _run(loop: str, scenario: Callable[[Driver, Callable[[float], Awaitable[Any]]], Awaitable[T]]
         ) -> T:  # fmt: skip
    """Run ``scenario(driver, sleep)`` with a started SIP driver on 127.0.0.1 of ``loop``."""
    if loop == "asyncio":

        async def main_asyncio() -> T:
            driver = AsyncioDatagramDriver(None, ("127.0.0.1", 0))
            await driver.start()
            try:
                return await scenario(driver, asyncio.sleep)
            finally:
                await driver.close()

        return asyncio.run(main_asyncio())
    if loop == "trio":

        async def main_trio() -> T:
            async with TrioDatagramDriver(None, ("127.0.0.1", 0)) as driver:
                return await scenario(driver, trio.sleep)

        return trio.run(main_trio)
    threaded = ThreadingDatagramDriver(None, ("127.0.0.1", 0))
    threaded.start()
    try:
        return asyncio.run(_awaited(scenario(threaded, asyncio.sleep)))
    finally:
        threaded.close()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


async def _wait_for(
    driver: Driver, sleep: Callable[[float], Awaitable[Any]], predicate: Callable[[], bool]
) -> float:
    """Sleep until ``predicate()`` holds where the pump lives; the seconds it took."""
    start = time.monotonic()
    while not driver._on_owner(predicate):
        assert time.monotonic() - start < DEADLINE, "no transport error reported in time"
        await sleep(0.005)
    return time.monotonic() - start


def _count_readiness(pump: Pump) -> list[int]:
    """Count the readiness reports of the SIP socket from now on."""
    counter = [0]
    ready = pump.ready

    def counting(key: int, readable: bool = True, writable: bool = False) -> bool:
        if key == SIP_SOCKET:
            counter[0] += 1
        return ready(key, readable, writable)

    pump.ready = counting  # type: ignore[method-assign]
    return counter


def _ua(driver: Driver) -> UserAgent:
    ua = UserAgent(EndpointConfig(driver.local), UAConfig(user="alice"), rng=random.Random(5))
    driver.attach(ua)
    return ua


@pytest.mark.timeout(30)
@pytest.mark.parametrize("loop", LOOPS)
def test_an_invite_to_a_closed_port_fails_with_503_at_once(loop: str) -> None:
    port = _closed_port()

    async def scenario(driver: Driver, sleep: Callable[[float], Awaitable[Any]]) -> tuple[
        Call, float, int, int
    ]:  # fmt: skip
        ua = _ua(driver)
        readiness = _count_readiness(driver.pump)
        target = SipURI("127.0.0.1", "bob", port=port)
        call = driver._on_owner(lambda: ua.call(target, driver.now(), sdp=b"v=0\r\n"))
        took = await _wait_for(driver, sleep, lambda: call.state is CallState.DISCONNECTED)
        before = readiness[0]
        await sleep(0.3)  # an error left queued would keep the socket ready: count
        return call, took, readiness[0] - before, driver.pump.transport_errors

    call, took, spins, reported = _run(loop, scenario)
    assert (call.status, call.reason) == (503, "transport error")
    assert took < DEADLINE and reported >= 1
    assert spins < 10


@pytest.mark.timeout(30)
@pytest.mark.parametrize("loop", LOOPS)
def test_an_options_to_a_closed_port_completes_with_503(loop: str) -> None:
    port = _closed_port()

    async def scenario(driver: Driver, sleep: Callable[[float], Awaitable[Any]]) -> list[object]:
        ua = _ua(driver)
        events: list[object] = []

        def drained() -> bool:
            while (event := ua.next_event()) is not None:
                events.append(event)
            return any(isinstance(e, RequestCompleted) for e in events)

        target = SipURI("127.0.0.1", "bob", port=port)
        driver._on_owner(lambda: ua.send_request("OPTIONS", target, driver.now()))
        await _wait_for(driver, sleep, drained)
        return events

    (done,) = [e for e in _run(loop, scenario) if isinstance(e, RequestCompleted)]
    assert done.response is None and done.transport_error and done.status == 503


@pytest.mark.timeout(30)
@pytest.mark.parametrize("loop", LOOPS)
def test_a_machine_without_transport_error_is_left_alone(loop: str) -> None:
    """The registrar's shape: the error is counted, the loop does not spin."""
    dest: Address = ("127.0.0.1", _closed_port())

    async def scenario(driver: Driver, sleep: Callable[[float], Awaitable[Any]]) -> tuple[
        int, int, int, int
    ]:  # fmt: skip
        machine = Sender()
        driver.attach(machine)
        readiness = _count_readiness(driver.pump)
        driver._on_owner(lambda: machine.outbox.extend([(b"hello", dest)] * 3))
        await _wait_for(driver, sleep, lambda: driver.pump.transport_errors >= 1)
        await sleep(0.3)
        pump = driver.pump
        return readiness[0], pump.faults, pump.sent, pump.errors

    spins, faults, sent, errors = _run(loop, scenario)
    assert faults == 0 and sent == 3 and errors >= 1
    assert spins < 10


def test_stale_errors_and_refused_sends_in_the_pump() -> None:
    """Loopback answers at once, so the second datagram to a closed port
    meets the first one's error on ``sendto``: it is sent again, not lost.
    A send refused with EHOSTUNREACH/ENETUNREACH names its destination,
    reported on the next fire (never in the middle of a flush)."""
    pump = Pump(time.monotonic, lambda *args: None, lambda *args: None)
    try:
        pump.bind_sip(("127.0.0.1", 0))
        machine = Recorder()
        pump.attach(machine)
        dest: Address = ("127.0.0.1", _closed_port())
        machine.outbox += [(b"one", dest), (b"two", dest)]
        pump.flush()
        assert pump.sent == 2 and pump.errors >= 1
        deadline = pump.deadline()
        assert deadline is not None and deadline <= time.monotonic()
        pump.fire(deadline)
        assert machine.unreachable == [dest] and pump.transport_errors == 1
        # The second datagram's error: read when the socket reports it.
        end = time.monotonic() + DEADLINE
        while len(machine.unreachable) < 2 and time.monotonic() < end:
            pump.ready(SIP_SOCKET)
        assert machine.unreachable == [dest, dest]

        sock = pump._sockets[SIP_SOCKET]

        class Unroutable:
            """The SIP socket, but ``sendto`` finds no route."""

            def __getattr__(self, name: str) -> Any:
                return getattr(sock, name)

            def sendto(self, data: bytes, addr: Address) -> int:
                raise OSError(errno.ENETUNREACH, "Network is unreachable")

        pump._sockets[SIP_SOCKET] = Unroutable()  # type: ignore[assignment]
        far: Address = ("127.0.0.9", 5060)
        machine.outbox.append((b"three", far))
        pump.flush()
        assert machine.unreachable == [dest, dest]  # not inside the flush
        deadline = pump.deadline()
        assert deadline is not None
        pump.fire(deadline)
        assert machine.unreachable == [dest, dest, far] and pump.faults == 0
        pump._sockets[SIP_SOCKET] = sock
    finally:
        pump.close()
