"""The asyncio datagram driver over real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest

from sansip.io.asyncio import AsyncioDatagramDriver
from sansip.transport.types import Address, Datagram


class Echo:
    """Answers every datagram with the same bytes; raises on b"boom"."""

    def __init__(self) -> None:
        self.outbox: list[Datagram] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        if data == b"boom":
            raise RuntimeError("a machine bug")
        self.outbox.append((data, addr))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


class Pinger:
    """Sends b"ping" every 50 ms until it has seen three echoes."""

    def __init__(self, peer: Address, start: float) -> None:
        self.peer = peer
        self.next_send: float | None = start
        self.sent_at: list[float] = []
        self.echoes: deque[bytes] = deque()
        self.outbox: list[Datagram] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.echoes.append(data)
        if len(self.echoes) >= 3:
            self.next_send = None

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return self.next_send

    def handle_timer(self, now: float) -> None:
        if self.next_send is not None and now >= self.next_send:
            self.outbox.append((b"ping", self.peer))
            self.sent_at.append(now)
            self.next_send = now + 0.05


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
