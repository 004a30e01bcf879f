"""The threading datagram driver over real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from sansip.io.threading import ThreadingDatagramDriver
from tests.io.machines import Echo, Pinger


@pytest.mark.timeout(20)
def test_timers_and_datagrams_flow_through_real_sockets() -> None:
    echo = ThreadingDatagramDriver(Echo(), ("127.0.0.1", 0))
    echo_addr = echo.start()
    pinger = Pinger(echo_addr, time.monotonic())
    done = threading.Event()
    callback_threads: set[int] = set()

    def on_activity() -> None:
        callback_threads.add(threading.get_ident())
        if driver.call(lambda: len(pinger.echoes)).result(5) >= 3:
            done.set()

    driver = ThreadingDatagramDriver(pinger, ("127.0.0.1", 0), on_activity=on_activity)
    driver.start()
    try:
        assert done.wait(10)
    finally:
        driver.close()
        echo.close()
    assert list(pinger.echoes)[:3] == [b"ping"] * 3
    assert len(pinger.sent_at) >= 3
    # Each send happened no earlier than its deadline (50 ms apart).
    gaps = [b - a for a, b in zip(pinger.sent_at, pinger.sent_at[1:], strict=False)]
    assert all(gap >= 0.05 - 1e-9 for gap in gaps)
    assert echo.pump.received >= 3 and echo.pump.faults == 0
    # Callbacks ran on the dispatcher, never on the owner or the test thread.
    assert driver.owner_ident not in callback_threads
    assert threading.get_ident() not in callback_threads


@pytest.mark.timeout(20)
def test_a_machine_that_raises_does_not_stop_the_driver() -> None:
    echo = ThreadingDatagramDriver(Echo(), ("127.0.0.1", 0))
    addr = echo.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        client.settimeout(10)
        client.sendto(b"boom", addr)
        client.sendto(b"after", addr)
        assert client.recvfrom(100)[0] == b"after"
    echo.close()
    assert echo.pump.faults == 1
    assert echo.pump.received == 2


@pytest.mark.timeout(20)
def test_call_runs_on_the_owner_thread() -> None:
    echo = ThreadingDatagramDriver(Echo(), ("127.0.0.1", 0))
    echo.start()
    try:
        results: list[int] = []

        def from_another_thread() -> None:
            results.append(echo.call(threading.get_ident).result(5))

        worker = threading.Thread(target=from_another_thread)
        worker.start()
        worker.join(10)
        assert results == [echo.owner_ident]
        assert results[0] not in (threading.get_ident(), worker.ident)
        # Exceptions travel through the future; the owner keeps going.
        failing = echo.call(lambda: 1 // 0)
        with pytest.raises(ZeroDivisionError):
            failing.result(5)
        # A nested call on the owner thread runs at once instead of deadlocking.
        assert echo.call(lambda: echo.call(lambda: 42).result(0)).result(5) == 42
    finally:
        echo.close()


@pytest.mark.timeout(20)
def test_commands_are_flushed_and_attach_after_start() -> None:
    driver = ThreadingDatagramDriver(None, ("127.0.0.1", 0))
    local = driver.start()
    machine = Echo()
    driver.attach(machine)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(10)
        peer_addr = peer.getsockname()
        # A command queues output; the owner sends it without a wake().
        driver.call(lambda: machine.outbox.append((b"hello", peer_addr))).result(5)
        data, source = peer.recvfrom(100)
        assert (data, source) == (b"hello", local)
    driver.close()
    assert driver.pump.sent == 1


@pytest.mark.timeout(20)
def test_close_is_idempotent_and_joins_threads() -> None:
    driver = ThreadingDatagramDriver(Echo(), ("127.0.0.1", 0), on_activity=lambda: None)
    _, port = driver.start()
    started = {t for t in threading.enumerate() if t.name.startswith(f"sansip-udp-{port}")}
    assert len(started) == 2
    driver.close()
    driver.close()
    assert not any(t.is_alive() for t in started)
    with pytest.raises(RuntimeError):
        driver.call(lambda: None)


@pytest.mark.timeout(20)
def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    driver = ThreadingDatagramDriver(Echo(), ("::1", 0))
    try:
        addr = driver.start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as client:
            client.bind(("::1", 0))
            client.settimeout(10)
            client.sendto(b"six", addr)
            assert client.recvfrom(100)[0] == b"six"
    finally:
        driver.close()
