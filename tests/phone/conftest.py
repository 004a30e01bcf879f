"""The embedded registrar for the phone tests, on an asyncio loop of its own
thread (so trio and threaded phones can use it too)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from sansip.cli.registrar import start_registrar
from sansip.server import ServerConfig

RATE = 16000
USERS = {"alice": "alice-secret", "bob": "bob-secret"}


def tone(hz: float, seconds: float) -> np.ndarray:
    """A 16 kHz int16 sine."""
    t = np.arange(int(RATE * seconds)) / RATE
    return (6000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


@contextlib.contextmanager
def registrar_thread(users: dict[str, str]) -> Iterator[str]:
    """``host:port`` of a registrar/proxy with digest for ``users``, on an
    asyncio loop of its own thread, stopped on leaving."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    address: list[str] = []
    stop = asyncio.Event()

    async def serve() -> None:
        config = ServerConfig(realm="sansip.test", users=users)
        running = await start_registrar(("127.0.0.1", 0), config=config)
        address.append(f"{running.address[0]}:{running.address[1]}")
        ready.set()
        await stop.wait()
        await running.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield address[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@pytest.fixture
def registrar() -> Iterator[str]:
    """``host:port`` of a registrar/proxy (digest, users alice and bob) on loopback."""
    with registrar_thread(USERS) as address:
        yield address
