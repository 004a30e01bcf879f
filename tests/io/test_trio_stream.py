"""The trio stream driver: two stream-mode endpoints over real TCP and TLS on 127.0.0.1."""

from __future__ import annotations

import random
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from sansip.io.trio import TrioStreamDriver
from sansip.transaction.endpoint import Endpoint, EndpointConfig
from sansip.transport.types import Address, Transport
from tests.certs import make_pki
from tests.io.stream_tu import AnsweringTU, options_request, server_context


class Node(AnsweringTU):
    """An endpoint on a trio stream driver with a TU that answers every request 200."""

    def __init__(self, driver: TrioStreamDriver, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        self.driver = driver
        self.changed = trio.Event()
        driver.attach(endpoint, self.process)

    @classmethod
    async def start(
        cls, nursery: trio.Nursery, transport: Transport, seed: int, **tls: ssl.SSLContext
    ) -> Node:
        driver = TrioStreamDriver(None, ("127.0.0.1", 0), **tls)  # type: ignore[arg-type]
        local = await nursery.start(driver.run)
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

    async def until(self, predicate: Callable[[], bool], seconds: float = 5.0) -> None:
        with trio.fail_after(seconds):
            while not predicate():
                self.changed = trio.Event()
                await self.changed.wait()


@pytest.mark.timeout(30)
def test_two_endpoints_over_tcp_share_one_connection() -> None:
    async def scenario() -> tuple[Node, Node]:
        async with trio.open_nursery() as nursery:
            alice = await Node.start(nursery, Transport.TCP, 1)
            bob = await Node.start(nursery, Transport.TCP, 2)
            alice.options(bob.driver.local, 1)
            await alice.until(lambda: len(alice.responses) == 1)
            alice.options(bob.driver.local, 2)
            await alice.until(lambda: len(alice.responses) == 2)
            assert alice.driver.connections == [bob.driver.local]
            assert len(bob.driver.connections) == 1  # the answers went back on it
            await alice.driver.aclose()
            await bob.until(lambda: not bob.driver.connections)  # bob saw it close
            await bob.driver.aclose()
        return alice, bob

    alice, bob = trio.run(scenario)
    assert [r.status for r in alice.responses] == [200, 200]
    assert [r.top_via.transport for r in bob.requests] == ["TCP", "TCP"]
    assert bob.endpoint.stats.connections_lost == 1
    assert alice.driver.pump.faults == bob.driver.pump.faults == 0


@pytest.mark.timeout(30)
def test_two_endpoints_over_tls_with_verification(tmp_path: Path) -> None:
    server, ca = server_context(tmp_path)
    client = ssl.create_default_context(cafile=str(ca))  # verification on

    async def scenario() -> tuple[Node, Node]:
        async with trio.open_nursery() as nursery:
            alice = await Node.start(nursery, Transport.TLS, 1, tls_client=client)
            bob = await Node.start(nursery, Transport.TLS, 2, tls_server=server)
            alice.options(bob.driver.local)
            await alice.until(lambda: bool(alice.responses))
            await alice.driver.aclose()
            await bob.driver.aclose()
        return alice, bob

    alice, bob = trio.run(scenario)
    assert [r.status for r in alice.responses] == [200]
    assert bob.requests[0].top_via.transport == "TLS"
    assert alice.driver.errors == 0


@pytest.mark.timeout(30)
def test_wrong_ca_fails_the_transaction_not_the_driver(tmp_path: Path) -> None:
    server, _ = server_context(tmp_path / "server")
    other_ca = make_pki(tmp_path / "other").ca
    client = ssl.create_default_context(cafile=str(other_ca))

    async def scenario() -> tuple[Node, Node]:
        async with trio.open_nursery() as nursery:
            alice = await Node.start(nursery, Transport.TLS, 1, tls_client=client)
            bob = await Node.start(nursery, Transport.TLS, 2, tls_server=server)
            alice.options(bob.driver.local, 1)
            await alice.until(lambda: alice.failures == 1)
            alice.options(bob.driver.local, 2)  # the driver goes on: it tries again
            await alice.until(lambda: alice.failures == 2)
            await alice.driver.aclose()
            await bob.driver.aclose()
        return alice, bob

    alice, bob = trio.run(scenario)
    assert alice.responses == [] and bob.requests == []
    assert alice.driver.errors == 2 and alice.driver.pump.faults == 0
    assert alice.driver.connections == []


@pytest.mark.timeout(30)
def test_refused_connection_fails_the_transaction() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed: Address = ("127.0.0.1", sock.getsockname()[1])

    async def scenario() -> Node:
        async with trio.open_nursery() as nursery:
            alice = await Node.start(nursery, Transport.TCP, 1)
            alice.options(closed)
            await alice.until(lambda: alice.failures == 1)
            await alice.driver.aclose()
        return alice

    alice = trio.run(scenario)
    assert alice.endpoint.stats.connections_lost == 1
    assert alice.driver.errors == 1


@pytest.mark.timeout(30)
def test_keepalive_pong_and_a_broken_stream_is_closed() -> None:
    async def scenario() -> tuple[bytes, bytes, Node]:
        async with trio.open_nursery() as nursery:
            bob = await Node.start(nursery, Transport.TCP, 2)
            stream = await trio.open_tcp_stream(*bob.driver.local)
            async with stream:
                await stream.send_all(b"\r\n\r\n")
                with trio.fail_after(5):
                    pong = await stream.receive_some(2)
                await stream.send_all(
                    b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9\r\n\r\n"
                )
                rest = b""
                with trio.fail_after(5):  # until EOF: bob closed it
                    while chunk := await stream.receive_some(4096):
                        rest += chunk
            await bob.until(lambda: not bob.driver.connections)
            await bob.driver.aclose()
        return bytes(pong), rest, bob

    pong, rest, bob = trio.run(scenario)
    assert pong == b"\r\n" and rest == b""
    assert bob.endpoint.stats.streams_broken == 1
    assert bob.endpoint.stats.connections_lost == 1


@pytest.mark.timeout(30)
def test_async_with_and_close_is_idempotent() -> None:
    async def scenario() -> Address:
        async with TrioStreamDriver(None, ("127.0.0.1", 0)) as driver:
            assert driver.connections == []
            driver.close()
            driver.close()
            await driver.aclose()
        await driver.aclose()
        return driver.local

    local = trio.run(scenario)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(local)  # the port is free again


@pytest.mark.timeout(30)
def test_a_tls_handshake_that_never_ends_times_out(tmp_path: Path) -> None:
    client = ssl.create_default_context(cafile=str(make_pki(tmp_path).ca))

    async def scenario() -> TrioStreamDriver:
        with socket.socket() as silent:  # accepts (in the backlog) and never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            driver = TrioStreamDriver(None, ("127.0.0.1", 0), tls_client=client,
                                      connect_timeout=0.3)  # fmt: skip
            async with trio.open_nursery() as nursery:
                local = await nursery.start(driver.run)
                config = EndpointConfig(local, Transport.TLS)
                alice = Node(driver, Endpoint(config, rng=random.Random(1)))
                alice.options(silent.getsockname())
                await alice.until(lambda: alice.failures == 1)
                assert driver.connections == []
                driver.close()
        return driver

    driver = trio.run(scenario)
    assert driver.errors == 1 and driver.pump.faults == 0
