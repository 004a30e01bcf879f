"""The asyncio datagram driver over real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from sansip.io.asyncio import AsyncioDatagramDriver
from tests.io.machines import Echo, Pinger


@pytest.mark.timeout(20)
def test_timers_and_datagrams_flow_through_real_sockets() -> None:
    async def scenario() -> tuple[Pinger, AsyncioDatagramDriver]:
        echo = AsyncioDatagramDriver(Echo(), ("127.0.0.1", 0))
        echo_addr = await echo.start()
        loop = asyncio.get_running_loop()
        pinger = Pinger(echo_addr, loop.time())
        done = asyncio.Event()
        driver = AsyncioDatagramDriver(
            pinger, ("127.0.0.1", 0),
            on_activity=lambda: done.set() if len(pinger.echoes) >= 3 else None,
        )  # fmt: skip
        await driver.start()
        await asyncio.wait_for(done.wait(), 10)
        await driver.close()
        await echo.close()
        return pinger, echo

    pinger, echo = asyncio.run(scenario())
    assert list(pinger.echoes)[:3] == [b"ping"] * 3
    assert len(pinger.sent_at) >= 3
    # Each send happened no earlier than its deadline (50 ms apart).
    gaps = [b - a for a, b in zip(pinger.sent_at, pinger.sent_at[1:], strict=False)]
    assert all(gap >= 0.05 - 1e-9 for gap in gaps)
    assert echo.pump.received >= 3 and echo.pump.faults == 0


@pytest.mark.timeout(20)
def test_a_machine_that_raises_does_not_stop_the_driver() -> None:
    async def scenario() -> AsyncioDatagramDriver:
        echo = AsyncioDatagramDriver(Echo(), ("127.0.0.1", 0))
        addr = await echo.start()
        loop = asyncio.get_running_loop()
        got: asyncio.Future[bytes] = loop.create_future()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, _addr: object) -> None:
                if not got.done():
                    got.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
        transport.sendto(b"boom", addr)
        transport.sendto(b"after", addr)
        assert await asyncio.wait_for(got, 10) == b"after"
        transport.close()
        await echo.close()
        return echo

    echo = asyncio.run(scenario())
    assert echo.pump.faults == 1
