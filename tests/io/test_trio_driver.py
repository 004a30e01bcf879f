"""The trio datagram driver over real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest
import trio

from sansip.io.trio import TrioDatagramDriver
from sansip.transport.types import Address
from tests.io.machines import Echo, Pinger


@pytest.mark.timeout(20)
def test_timers_and_datagrams_flow_through_real_sockets() -> None:
    async def scenario() -> tuple[Pinger, TrioDatagramDriver]:
        async with TrioDatagramDriver(Echo(), ("127.0.0.1", 0)) as echo:
            pinger = Pinger(echo.local, trio.current_time())
            done = trio.Event()
            driver = TrioDatagramDriver(
                pinger, ("127.0.0.1", 0),
                on_activity=lambda: done.set() if len(pinger.echoes) >= 3 else None,
            )  # fmt: skip
            async with driver:
                with trio.fail_after(10):
                    await done.wait()
        return pinger, echo

    pinger, echo = trio.run(scenario)
    assert list(pinger.echoes)[:3] == [b"ping"] * 3
    assert len(pinger.sent_at) >= 3
    # Each send happened no earlier than its deadline (50 ms apart).
    gaps = [b - a for a, b in zip(pinger.sent_at, pinger.sent_at[1:], strict=False)]
    assert all(gap >= 0.05 - 1e-9 for gap in gaps)
    assert echo.pump.received >= 3 and echo.pump.faults == 0


@pytest.mark.timeout(20)
def test_a_machine_that_raises_does_not_stop_the_driver() -> None:
    async def scenario() -> TrioDatagramDriver:
        async with TrioDatagramDriver(Echo(), ("127.0.0.1", 0)) as echo:
            with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as client:
                await client.bind(("127.0.0.1", 0))
                await client.sendto(b"boom", echo.local)
                await client.sendto(b"after", echo.local)
                with trio.fail_after(10):
                    data, _ = await client.recvfrom(100)
                assert data == b"after"
        return echo

    echo = trio.run(scenario)
    assert echo.pump.faults == 1
    assert echo.pump.received == 2


@pytest.mark.timeout(20)
def test_nursery_start_attach_and_wake_after_a_command() -> None:
    async def scenario() -> TrioDatagramDriver:
        driver = TrioDatagramDriver(None, ("127.0.0.1", 0))
        async with trio.open_nursery() as nursery:
            local = await nursery.start(driver.run)
            machine = Echo()
            driver.attach(machine)
            with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as peer:
                await peer.bind(("127.0.0.1", 0))
                machine.outbox.append((b"hello", peer.getsockname()))
                driver.wake()  # a command queued output: the driver sends it
                with trio.fail_after(10):
                    data, source = await peer.recvfrom(100)
                assert (data, source) == (b"hello", local)
            await driver.aclose()
            await driver.aclose()  # idempotent
            driver.close()
        return driver

    driver = trio.run(scenario)
    assert driver.pump.sent == 1


@pytest.mark.timeout(20)
def test_close_is_idempotent_and_releases_the_socket() -> None:
    async def scenario() -> Address:
        async with TrioDatagramDriver(Echo(), ("127.0.0.1", 0)) as driver:
            driver.close()
            driver.close()
            await driver.aclose()
        driver.close()
        return driver.local

    local = trio.run(scenario)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(local)  # the port is free again


@pytest.mark.timeout(20)
def test_an_error_in_the_body_is_not_wrapped() -> None:
    async def scenario() -> None:
        async with TrioDatagramDriver(Echo(), ("127.0.0.1", 0)):
            raise KeyError("body")

    with pytest.raises(KeyError):
        trio.run(scenario)
