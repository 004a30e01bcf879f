"""Host names through the threaded and trio phones, as through asyncio:
``serveraddress=pbx.test`` found by SRV then A, and a ``sip:`` URI called
directly whose host is a name, each resolved on a DNS server on loopback
(the resolver runs on asyncio in a worker thread of these phones)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from sansip.phone.aio import AsyncPhone
from sansip.phone.threads import Phone
from sansip.phone.trio import TrioPhone
from tests.io.test_dns_resolution import FakeDns
from tests.io.test_dns_resolution import _name as dns_name

Zone = dict[tuple[str, int], list[tuple[int, bytes]]]


@contextlib.contextmanager
def dns_thread(zone: Zone) -> Iterator[tuple[str, int]]:
    """A DNS server answering from ``zone`` on loopback, on its own thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    found: list[tuple[str, int]] = []
    stop = asyncio.Event()

    async def serve() -> None:
        transport, _ = await loop.create_datagram_endpoint(lambda: FakeDns(zone),
                                                           local_addr=("127.0.0.1", 0))  # fmt: skip
        found.append(("127.0.0.1", int(transport.get_extra_info("sockname")[1])))
        ready.set()
        await stop.wait()
        transport.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield found[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _zone(registrar: str, bob_port: int) -> Zone:
    host, port = registrar.rsplit(":", 1)
    address = bytes(int(b) for b in host.split("."))
    return {
        ("_sip._udp.pbx.test", 33): [(33, struct.pack("!HHH", 0, 0, int(port))
                                      + dns_name("sip1.pbx.test"))],
        ("sip1.pbx.test", 1): [(1, address)],
        ("bob.pbx.test", 1): [(1, address)],
    }  # fmt: skip


def _threads(registrar: str, dns: tuple[str, int], bob: str) -> tuple[str, str, str]:
    with Phone(serveraddress="pbx.test", username="alice", password="alice-secret",
               nameservers=[dns]) as alice:  # fmt: skip
        alice.register()
        with alice.call(bob) as call:
            call.connected(timeout=10)
        record = call.ended(timeout=10)
        return alice.reg_state, call.peername, record.reason


async def _trio(registrar: str, dns: tuple[str, int], bob: str) -> tuple[str, str, str]:
    async with TrioPhone(serveraddress="pbx.test", username="alice", password="alice-secret",
                         nameservers=[dns]) as alice:  # fmt: skip
        await alice.register()
        call = await alice.call(bob)
        await call.connected(timeout=10)
        call.hangup()
        record = await call.ended(timeout=10)
        return alice.reg_state, call.peername, record.reason


@pytest.mark.timeout(60)
@pytest.mark.parametrize("front", ["threads", "trio"])
def test_names_resolve_in_threads_and_trio(registrar: str, front: str) -> None:
    async def answering_bob(run: Any) -> tuple[str, str, str]:
        async with AsyncPhone(username="bob", autoaccept=1) as bob:
            port = bob.core.ua.endpoint.config.local[1]
            with dns_thread(_zone(registrar, port)) as dns:
                target = f"sip:bob@bob.pbx.test:{port}"  # called directly, by name
                return await asyncio.to_thread(run, registrar, dns, target)

    def trio_run(registrar: str, dns: tuple[str, int], bob: str) -> tuple[str, str, str]:
        return trio.run(_trio, registrar, dns, bob)

    state, peer, reason = asyncio.run(answering_bob(_threads if front == "threads" else trio_run))
    assert state == "registered" and peer == "bob"
    assert reason.startswith("200 ")
