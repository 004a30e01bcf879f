"""``sansip registrar``: the embedded registrar and stateful proxy on a socket.

    sansip registrar --listen 127.0.0.1:5060 [--transport udp|tcp]
                     [--users FILE] [--realm REALM] [--json]

It prints one line per registration change, authentication failure and
proxied request (``--json``: one JSON object per line) and runs until
SIGINT or SIGTERM (exit 0).  Bad arguments exit 2, a port that cannot be
bound exits 1.

The users file turns digest authentication on.  One user per line,
``username:password`` (the password is everything after the first colon);
blank lines and lines starting with ``#`` are ignored::

    # who may register
    alice:alice123
    bob:bob123

:func:`start_registrar` runs the same server inside a running asyncio loop
and returns a :class:`RunningRegistrar` (``.address``, ``await .close()``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from sansip import __version__
from sansip.io.asyncio import AsyncioDatagramDriver, AsyncioStreamDriver
from sansip.server import (
    AuthenticationFailed,
    BindingAdded,
    BindingExpired,
    BindingRefreshed,
    BindingRemoved,
    RegistrarProxy,
    RequestAnswered,
    RequestProxied,
    ServerConfig,
    ServerEvent,
)
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Transport, parse_hostport

__all__ = [
    "RunningRegistrar",
    "add_command",
    "describe",
    "load_users",
    "run_registrar",
    "start_registrar",
]

# Requests whose local answers are not worth a line (registrations have their own).
_QUIET = frozenset({"REGISTER", "OPTIONS", "CANCEL", "ACK"})


def load_users(path: str | Path) -> dict[str, str]:
    """Read a users file (``username:password`` per line, ``#`` comments).

    Raises ``ValueError`` naming the first bad line, ``OSError`` when the
    file cannot be read."""
    users: dict[str, str] = {}
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, password = line.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"line {number}: expected username:password")
        users[name.strip()] = password
    return users


def _hostport(addr: Address) -> str:
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def describe(event: ServerEvent) -> dict[str, object] | None:
    """The output record of ``event``, or None when it gets no line."""
    match event:
        case BindingAdded() | BindingRefreshed():
            kind = "registered" if isinstance(event, BindingAdded) else "refreshed"
            return {"event": kind, "aor": event.aor, "contact": event.contact,
                    "expires": event.expires, "source": _hostport(event.source),
                    "transport": event.transport.value.lower()}  # fmt: skip
        case BindingRemoved():
            return {"event": "unregistered", "aor": event.aor, "contact": event.contact,
                    "source": _hostport(event.source)}  # fmt: skip
        case BindingExpired():
            return {"event": "expired", "aor": event.aor, "contact": event.contact}
        case AuthenticationFailed():
            return {"event": "auth-failed", "method": event.method, "username": event.username,
                    "status": event.status, "reason": event.reason,
                    "source": _hostport(event.source)}  # fmt: skip
        case RequestProxied() if event.status is not None:
            return {"event": "proxied", "method": event.method, "from": event.from_uri,
                    "to": event.to_uri, "status": event.status,
                    "source": _hostport(event.source),
                    "destination": _hostport(event.destination),
                    "callid": event.call_id}  # fmt: skip
        case RequestAnswered() if event.method not in _QUIET and event.status >= 300:
            return {"event": "answered", "method": event.method, "from": event.from_uri,
                    "to": event.to_uri, "status": event.status, "source": _hostport(event.source),
                    "callid": event.call_id}  # fmt: skip
    return None


def _print(record: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(record), flush=True)
    else:
        print(" ".join(f"{k}={v}" if k != "event" else str(v) for k, v in record.items()),
              flush=True)  # fmt: skip


class RunningRegistrar:
    """A registrar/proxy running in the current asyncio loop."""

    def __init__(
        self, machine: RegistrarProxy, driver: AsyncioDatagramDriver | AsyncioStreamDriver
    ) -> None:
        self.machine = machine
        self._driver = driver

    @property
    def address(self) -> Address:
        """The bound address (the port picked when 0 was asked for)."""
        return self._driver.local

    @property
    def transport(self) -> Transport:
        """UDP or TCP."""
        return self.machine.endpoint.config.transport

    async def close(self) -> None:
        """Stop listening and close every connection."""
        await self._driver.close()


async def start_registrar(
    listen: Address = ("127.0.0.1", 0),
    *,
    transport: Transport = Transport.UDP,
    config: ServerConfig | None = None,
    on_event: Callable[[ServerEvent], None] | None = None,
    rng: random.Random | None = None,
) -> RunningRegistrar:
    """Start the registrar/proxy on ``listen`` in the running loop (UDP, or
    TCP on the stream driver); ``on_event`` gets every
    :class:`~sansip.server.ServerEvent` as it happens.  Raises ``OSError``
    when the address cannot be bound."""
    if transport not in (Transport.UDP, Transport.TCP):
        raise ValueError(f"the registrar runs over UDP or TCP, not {transport.value}")
    driver: AsyncioDatagramDriver | AsyncioStreamDriver
    if transport is Transport.UDP:
        driver = AsyncioDatagramDriver(None, listen)
    else:
        driver = AsyncioStreamDriver(None, listen)
    bound = await driver.start()
    machine = RegistrarProxy(EndpointConfig(bound, transport), config,
                             rng=rng or secrets.SystemRandom())  # fmt: skip

    def pump() -> None:
        while (event := machine.next_event()) is not None:
            if on_event is not None:
                on_event(event)
        driver.wake()

    driver.attach(machine, pump)
    return RunningRegistrar(machine, driver)


async def _serve(args: argparse.Namespace, config: ServerConfig, listen: Address) -> int:
    transport = Transport(args.transport.upper())
    rng = random.Random(args.seed) if args.seed is not None else None
    running = await start_registrar(listen, transport=transport, config=config,
                                    on_event=lambda e: _emit(e, args.json), rng=rng)  # fmt: skip
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(f"sansip registrar: listening on {_hostport(running.address)}/{transport.value.lower()}"
          f"{' with digest authentication' if config.users is not None else ''}",
          file=sys.stderr, flush=True)  # fmt: skip
    try:
        await stop.wait()
    finally:
        await running.close()
    return 0


def _emit(event: ServerEvent, as_json: bool) -> None:
    record = describe(event)
    if record is not None:
        _print(record, as_json)


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``registrar`` on the ``sansip`` parser."""
    cmd = commands.add_parser("registrar", help="run the embedded registrar and proxy")
    cmd.add_argument("--listen", default="127.0.0.1:5060", metavar="HOST:PORT",
                     help="where to listen (default 127.0.0.1:5060)")  # fmt: skip
    cmd.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    cmd.add_argument("--users", default=None, metavar="FILE",
                     help="username:password per line; turns digest authentication on")  # fmt: skip
    cmd.add_argument("--realm", default=None, help="digest realm (default: the listen host)")
    cmd.add_argument("--json", action="store_true", help="one JSON object per line")
    cmd.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)


def run_registrar(args: argparse.Namespace) -> int:
    """Run ``sansip registrar``; the exit status."""
    listen = parse_hostport(args.listen, 5060)
    if not listen[0] or not 0 <= listen[1] <= 65535:
        print(f"sansip registrar: bad --listen {args.listen!r}", file=sys.stderr)
        return 2
    users: dict[str, str] | None = None
    if args.users is not None:
        try:
            users = load_users(args.users)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            print(f"sansip registrar: users file {args.users}: {exc}", file=sys.stderr)
            return 2
    config = ServerConfig(realm=args.realm, users=users, server_name=f"sansip/{__version__}")
    try:
        return asyncio.run(_serve(args, config, listen))
    except OSError as exc:
        print(f"sansip registrar: cannot listen on {args.listen}: {exc.strerror or exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    except KeyboardInterrupt:
        return 0
