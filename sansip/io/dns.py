"""Resolving SIP targets (RFC 3263) on asyncio: the sans-IO
:class:`~sansip.transport.resolve.TargetResolver` on a UDP socket.

The nameservers come from ``/etc/resolv.conf`` unless given.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from sansip.io.asyncio import AsyncioDatagramDriver
from sansip.message import SipURI
from sansip.transport.resolve import ResolutionFailed, Target, TargetResolver, TargetsResolved
from sansip.transport.types import Address, Transport

__all__ = ["ResolutionError", "resolve_targets", "system_nameservers"]


class ResolutionError(Exception):
    """No target could be found for a URI."""


def system_nameservers(path: str = "/etc/resolv.conf") -> list[Address]:
    """The ``nameserver`` lines of resolv.conf, as (address, 53)."""
    servers: list[Address] = []
    try:
        text = Path(path).read_text()
    except OSError:
        return servers
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            servers.append((parts[1].split("%")[0], 53))
    return servers


def _bind_host(servers: list[Address]) -> str:
    first = servers[0][0] if servers else "127.0.0.1"
    if first.startswith("127.") or first == "::1":
        return first if first == "::1" else "127.0.0.1"
    return "::" if ":" in first else "0.0.0.0"


async def resolve_targets(
    uri: SipURI,
    *,
    servers: list[Address] | None = None,
    transports: tuple[Transport, ...] = (Transport.UDP, Transport.TCP, Transport.TLS),
    timeout: float = 10.0,
) -> list[Target]:
    """The ordered targets for ``uri`` (numeric hosts need no DNS at all)."""
    loop = asyncio.get_running_loop()
    servers = servers if servers is not None else system_nameservers()
    resolver = TargetResolver(
        uri, servers=servers or [("127.0.0.1", 53)], now=loop.time(),
        rng=secrets.SystemRandom(), transports=transports,
    )  # fmt: skip
    result: asyncio.Future[TargetsResolved | ResolutionFailed] = loop.create_future()

    def collect() -> None:
        event = resolver.next_event()
        if event is not None and not result.done():
            result.set_result(event)

    collect()
    driver: AsyncioDatagramDriver | None = None
    if not result.done():
        driver = AsyncioDatagramDriver(resolver, (_bind_host(servers), 0), on_activity=collect)
        await driver.start()
    try:
        event = await asyncio.wait_for(result, timeout)
    except TimeoutError:
        raise ResolutionError(f"no answer resolving {uri}") from None
    finally:
        if driver is not None:
            await driver.close()
    if isinstance(event, ResolutionFailed):
        raise ResolutionError(event.reason)
    return list(event.targets)
