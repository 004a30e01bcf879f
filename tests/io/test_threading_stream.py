"""The threading stream driver: two stream-mode endpoints over real TCP and TLS on 127.0.0.1."""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from sansip.io.threading import ThreadingStreamDriver
from sansip.transaction.endpoint import Endpoint, EndpointConfig
from sansip.transport.types import Address, Transport
from tests.certs import make_pki
from tests.io.stream_tu import AnsweringTU, options_request, server_context


class Node(AnsweringTU):
    """An endpoint on a threading stream driver with a TU that answers every
    request 200; the TU runs on the owner thread (``on_activity`` posts it)."""

    def __init__(self, driver: ThreadingStreamDriver, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        self.driver = driver
        self.tu_threads: set[int] = set()
        self.callback_threads: set[int] = set()
        self.changed = threading.Condition()
        driver.attach(endpoint, self.on_activity)

    @classmethod
    def start(cls, transport: Transport, seed: int, **tls: ssl.SSLContext) -> Node:
        driver = ThreadingStreamDriver(None, ("127.0.0.1", 0), **tls)  # type: ignore[arg-type]
        local = driver.start()
        return cls(driver, Endpoint(EndpointConfig(local, transport), rng=random.Random(seed)))

    def on_activity(self) -> None:
        self.callback_threads.add(threading.get_ident())
        with contextlib.suppress(RuntimeError):  # the driver closed meanwhile
            self.driver.call(self.process).result(5)
        with self.changed:
            self.changed.notify_all()

    def process(self) -> None:
        self.tu_threads.add(threading.get_ident())
        now = self.driver.pump.now()
        self.handle_events(now)

    def options(self, dest: Address, n: int = 1) -> None:
        request = options_request(dest, n)
        send = self.endpoint.send_request
        self.driver.call(lambda: send(request, dest, self.driver.pump.now())).result(5)

    def until(self, predicate: Callable[[], bool], seconds: float = 5.0) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, seconds)


@pytest.mark.timeout(30)
def test_two_endpoints_over_tcp_share_one_connection() -> None:
    alice = Node.start(Transport.TCP, 1)
    bob = Node.start(Transport.TCP, 2)
    try:
        alice.options(bob.driver.local, 1)
        alice.until(lambda: len(alice.responses) == 1)
        alice.options(bob.driver.local, 2)
        alice.until(lambda: len(alice.responses) == 2)
        assert alice.driver.connections == [bob.driver.local]
        assert len(bob.driver.connections) == 1  # the answers went back on it
        alice.driver.close()
        bob.until(lambda: not bob.driver.connections)  # bob saw it close
    finally:
        alice.driver.close()
        bob.driver.close()
    assert [r.status for r in alice.responses] == [200, 200]
    assert [r.top_via.transport for r in bob.requests] == ["TCP", "TCP"]
    assert bob.endpoint.stats.connections_lost == 1
    assert alice.driver.pump.faults == bob.driver.pump.faults == 0
    # The TU ran on the owner thread; callbacks on the dispatcher, never the owner.
    assert alice.tu_threads == {alice.driver.owner_ident}
    assert alice.driver.owner_ident not in alice.callback_threads


@pytest.mark.timeout(30)
def test_two_endpoints_over_tls_with_verification(tmp_path: Path) -> None:
    server, ca = server_context(tmp_path)
    client = ssl.create_default_context(cafile=str(ca))  # verification on
    alice = Node.start(Transport.TLS, 1, tls_client=client)
    bob = Node.start(Transport.TLS, 2, tls_server=server)
    try:
        alice.options(bob.driver.local)
        alice.until(lambda: bool(alice.responses))
    finally:
        alice.driver.close()
        bob.driver.close()
    assert [r.status for r in alice.responses] == [200]
    assert bob.requests[0].top_via.transport == "TLS"
    assert alice.driver.errors == 0


@pytest.mark.timeout(30)
def test_wrong_ca_fails_the_transaction_not_the_driver(tmp_path: Path) -> None:
    server, _ = server_context(tmp_path / "server")
    other_ca = make_pki(tmp_path / "other").ca
    client = ssl.create_default_context(cafile=str(other_ca))
    alice = Node.start(Transport.TLS, 1, tls_client=client)
    bob = Node.start(Transport.TLS, 2, tls_server=server)
    try:
        alice.options(bob.driver.local, 1)
        alice.until(lambda: alice.failures == 1)
        alice.options(bob.driver.local, 2)  # the driver goes on: it tries again
        alice.until(lambda: alice.failures == 2)
        assert alice.driver.connections == []
    finally:
        alice.driver.close()
        bob.driver.close()
    assert alice.responses == [] and bob.requests == []
    assert alice.driver.errors == 2 and alice.driver.pump.faults == 0


@pytest.mark.timeout(30)
def test_refused_connection_fails_the_transaction() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed: Address = ("127.0.0.1", sock.getsockname()[1])
    alice = Node.start(Transport.TCP, 1)
    try:
        alice.options(closed)
        alice.until(lambda: alice.failures == 1)
    finally:
        alice.driver.close()
    assert alice.endpoint.stats.connections_lost == 1
    assert alice.driver.errors == 1


@pytest.mark.timeout(30)
def test_keepalive_pong_and_a_broken_stream_is_closed() -> None:
    bob = Node.start(Transport.TCP, 2)
    try:
        with socket.create_connection(bob.driver.local, timeout=5) as client:
            client.sendall(b"\r\n\r\n")
            pong = client.recv(2)
            client.sendall(
                b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9\r\n\r\n"
            )
            rest = b""
            while chunk := client.recv(4096):  # until EOF: bob closed it
                rest += chunk
        bob.until(lambda: not bob.driver.connections)
    finally:
        bob.driver.close()
    assert pong == b"\r\n" and rest == b""
    assert bob.endpoint.stats.streams_broken == 1
    assert bob.endpoint.stats.connections_lost == 1


@pytest.mark.timeout(30)
def test_close_is_bounded_idempotent_and_frees_the_port() -> None:
    driver = ThreadingStreamDriver(None, ("127.0.0.1", 0))
    local = driver.start()
    with socket.create_connection(local, timeout=5):
        driver.close(timeout=2)
        driver.close()
    assert driver.connections == []
    with pytest.raises(RuntimeError):
        driver.call(lambda: None)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(local)  # the port is free again


@pytest.mark.timeout(30)
def test_a_tls_handshake_that_never_ends_times_out(tmp_path: Path) -> None:
    client = ssl.create_default_context(cafile=str(make_pki(tmp_path).ca))
    with socket.socket() as silent:  # accepts (in the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        driver = ThreadingStreamDriver(None, ("127.0.0.1", 0), tls_client=client,
                                       connect_timeout=0.3)  # fmt: skip
        local = driver.start()
        alice = Node(driver, Endpoint(EndpointConfig(local, Transport.TLS), rng=random.Random(1)))
        try:
            alice.options(silent.getsockname())
            alice.until(lambda: alice.failures == 1)
            assert driver.connections == []
        finally:
            driver.close()
    assert driver.errors == 1 and driver.pump.faults == 0
