"""The asyncio stream driver: two stream-mode endpoints over real TCP and TLS on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from pathlib import Path

from sansip.io.asyncio import AsyncioStreamDriver
from sansip.transaction.endpoint import Endpoint, EndpointConfig
from sansip.transport.types import Address, Transport
from tests.certs import make_pki
from tests.io.stream_tu import AnsweringTU, options_request, server_context


class Node(AnsweringTU):
    """An endpoint on a stream driver with a TU that answers every request 200."""

    def __init__(self, driver: AsyncioStreamDriver, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        self.driver = driver
        self.changed = asyncio.Event()
        driver.attach(endpoint, self.process)

    @classmethod
    async def start(cls, transport: Transport, seed: int, **tls: ssl.SSLContext) -> Node:
        driver = AsyncioStreamDriver(None, ("127.0.0.1", 0), **tls)  # type: ignore[arg-type]
        local = await driver.start()
        return cls(driver, Endpoint(EndpointConfig(local, transport), rng=random.Random(seed)))

    def process(self) -> None:
        now = self.driver.pump.now()
        self.handle_events(now)
        self.driver.wake()
        self.changed.set()

    def options(self, dest: Address, n: int = 1) -> None:
        request = options_request(dest, n)
        self.endpoint.send_request(request, dest, self.driver.pump.now())
        self.driver.wake()

    async def until(self, predicate: object, seconds: float = 5.0) -> None:
        assert callable(predicate)
        async with asyncio.timeout(seconds):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


def test_two_endpoints_over_tcp_share_one_connection() -> None:
    async def scenario() -> tuple[Node, Node]:
        alice = await Node.start(Transport.TCP, 1)
        bob = await Node.start(Transport.TCP, 2)
        alice.options(bob.driver.local, 1)
        await alice.until(lambda: len(alice.responses) == 1)
        alice.options(bob.driver.local, 2)
        await alice.until(lambda: len(alice.responses) == 2)
        assert alice.driver.connections == [bob.driver.local]
        assert len(bob.driver.connections) == 1  # the answers went back on it
        await alice.driver.close()
        await bob.until(lambda: not bob.driver.connections)  # bob saw it close
        await bob.driver.close()
        return alice, bob

    alice, bob = asyncio.run(scenario())
    assert [r.status for r in alice.responses] == [200, 200]
    assert [r.top_via.transport for r in bob.requests] == ["TCP", "TCP"]
    assert bob.endpoint.stats.connections_lost == 1
    assert alice.driver.pump.faults == bob.driver.pump.faults == 0


def test_two_endpoints_over_tls_with_verification(tmp_path: Path) -> None:
    server, ca = server_context(tmp_path)
    client = ssl.create_default_context(cafile=str(ca))  # verification on

    async def scenario() -> tuple[Node, Node]:
        alice = await Node.start(Transport.TLS, 1, tls_client=client)
        bob = await Node.start(Transport.TLS, 2, tls_server=server)
        alice.options(bob.driver.local)
        await alice.until(lambda: bool(alice.responses))
        await alice.driver.close()
        await bob.driver.close()
        return alice, bob

    alice, bob = asyncio.run(scenario())
    assert [r.status for r in alice.responses] == [200]
    assert bob.requests[0].top_via.transport == "TLS"
    assert alice.driver.errors == 0


def test_wrong_ca_fails_the_transaction_not_the_driver(tmp_path: Path) -> None:
    server, _ = server_context(tmp_path / "server")
    other_ca = make_pki(tmp_path / "other").ca
    client = ssl.create_default_context(cafile=str(other_ca))

    async def scenario() -> tuple[Node, Node]:
        alice = await Node.start(Transport.TLS, 1, tls_client=client)
        bob = await Node.start(Transport.TLS, 2, tls_server=server)
        alice.options(bob.driver.local, 1)
        await alice.until(lambda: alice.failures == 1)
        alice.options(bob.driver.local, 2)  # the driver goes on: it tries again
        await alice.until(lambda: alice.failures == 2)
        await alice.driver.close()
        await bob.driver.close()
        return alice, bob

    alice, bob = asyncio.run(scenario())
    assert alice.responses == [] and bob.requests == []
    assert alice.driver.errors == 2 and alice.driver.pump.faults == 0
    assert alice.driver.connections == []


def test_refused_connection_fails_the_transaction() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed: Address = ("127.0.0.1", sock.getsockname()[1])

    async def scenario() -> Node:
        alice = await Node.start(Transport.TCP, 1)
        alice.options(closed)
        await alice.until(lambda: alice.failures == 1)
        await alice.driver.close()
        return alice

    alice = asyncio.run(scenario())
    assert alice.endpoint.stats.connections_lost == 1


def test_keepalive_pong_and_a_broken_stream_is_closed() -> None:
    async def scenario() -> tuple[bytes, bytes, Node]:
        bob = await Node.start(Transport.TCP, 2)
        reader, writer = await asyncio.open_connection(*bob.driver.local)
        writer.write(b"\r\n\r\n")
        pong = await asyncio.wait_for(reader.readexactly(2), 5)
        writer.write(b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9\r\n\r\n")
        rest = await asyncio.wait_for(reader.read(), 5)  # EOF: bob closed it
        writer.close()
        await bob.until(lambda: not bob.driver.connections)
        await bob.driver.close()
        return pong, rest, bob

    pong, rest, bob = asyncio.run(scenario())
    assert pong == b"\r\n" and rest == b""
    assert bob.endpoint.stats.streams_broken == 1
    assert bob.endpoint.stats.connections_lost == 1
