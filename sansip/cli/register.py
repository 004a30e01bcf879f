"""``sansip register``: register, report, keep it refreshed, unregister on exit."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import sys
from typing import assert_never

from sansip import __version__
from sansip.cli.options import (
    instance_id,
    parse_custom_headers,
    parse_hostport,
    parse_params,
)
from sansip.cli.resolve import Resolved, TargetError, resolve_hostport
from sansip.cli.transports import default_port, make_driver, transport_of, with_transport
from sansip.dialog.call import (
    CallStateChanged,
    EarlyMediaReceived,
    IncomingCall,
    ModificationFailed,
    OfferReceived,
    RequestCompleted,
    SessionUpdated,
)
from sansip.dialog.register import (
    RegisterClient,
    Registered,
    RegisterEvent,
    RegistrationFailed,
    RegistrationStateChanged,
    Unregistered,
)
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import SipURI
from sansip.transaction.drops import MessageDropped
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Transport

__all__ = ["add_command", "run_register"]


def _report(event: RegisterEvent, as_json: bool) -> None:
    if isinstance(event, Registered):
        record: dict[str, object] = {"event": "registered", "expires": event.expires}
    elif isinstance(event, RegistrationFailed):
        record = {"event": "failed", "status": event.status, "reason": event.reason}
    elif isinstance(event, Unregistered):
        record = {"event": "unregistered", "status": event.status}
    else:
        return
    if as_json:
        print(json.dumps(record), flush=True)
    else:
        print(" ".join(f"{k}={v}" if k != "event" else str(v) for k, v in record.items()),
              flush=True)  # fmt: skip


async def registration_targets(
    params: dict[str, str], transport: Transport, local: Address
) -> Resolved | None:
    """Where the REGISTERs go when ``proxyaddress`` (else ``serveraddress``)
    is a host name, resolved (RFC 3263); None for a numeric host or when
    there is nothing to register.  Raises :class:`TargetError`."""
    server = params.get("serveraddress")
    if not server or params.get("register", "1") == "0":
        return None
    return await resolve_hostport(params.get("proxyaddress") or server, transport, params, local)


def start_registration(
    ua: UserAgent,
    params: dict[str, str],
    now: float,
    expires: int = 3600,
    targets: Resolved | None = None,
) -> RegisterClient | None:
    """Register ``ua`` as the parameters say (``serveraddress``, ``username``,
    ``sipusername``, ``password``, ``realm``, ``proxyaddress``,
    ``registerinterval``), over the UA's transport; None when there is no
    ``serveraddress``.  ``targets`` (from :func:`registration_targets`) are
    tried in order; without them the server or proxy address is used as is."""
    server = params.get("serveraddress")
    if not server or params.get("register", "1") == "0":
        return None
    transport = ua.endpoint.config.transport
    default = default_port(transport)
    host, port = parse_hostport(server, default)
    proxy = params.get("proxyaddress")
    dest = parse_hostport(proxy, default) if proxy else (host, port)
    user = params.get("username", ua.config.user)
    registrar = SipURI(host, port=port if port != default else None)
    return ua.register(
        with_transport(registrar, transport),
        now,
        username=params.get("sipusername") or user,
        password=params.get("password"),
        expires=int(params.get("registerinterval", str(expires))),
        aor=SipURI(params.get("realm") or host, user),
        dest=None if targets else dest,
        targets=targets.addresses if targets else None,
    )


async def _register(args: argparse.Namespace) -> int:
    params = parse_params(args.param)
    server = params.get("serveraddress")
    if not server:
        print("sansip register: -p serveraddress=HOST[:PORT] is required", file=sys.stderr)
        return 2
    user = params.get("username", "sansip")
    local = (params.get("localip", "127.0.0.1"), int(params.get("signalingport", "0")))
    expires = int(params.get("registerinterval", str(args.expires)))
    transport = transport_of(params)
    try:
        targets = await registration_targets(params, transport, local)
    except TargetError as exc:
        print(f"sansip register: {exc}", file=sys.stderr)
        return 1
    hostnames = targets.hostnames if targets else None
    driver = make_driver(transport, local, params, tls_hostnames=hostnames)
    bound = await driver.start()
    rng: random.Random = (
        random.Random(args.seed) if args.seed is not None else secrets.SystemRandom()
    )
    ua = UserAgent(
        EndpointConfig(bound, transport),
        UAConfig(user=user, display_name=params.get("displayname") or None,
                 user_agent=params.get("useragent", f"sansip/{__version__}"),
                 extra_headers=parse_custom_headers(params.get("customsipheader", "")),
                 instance_id=instance_id(params, rng)),
        rng=rng,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[RegisterEvent] = loop.create_future()
    unregistered = asyncio.Event()

    def pump() -> None:
        while (event := ua.next_event()) is not None:
            match event:
                case Registered() | RegistrationFailed():
                    _report(event, args.json)
                    if not outcome.done():
                        outcome.set_result(event)
                case Unregistered():
                    _report(event, args.json)
                    unregistered.set()
                case RegistrationStateChanged() | MessageDropped():
                    pass
                case (
                    IncomingCall() | CallStateChanged() | RequestCompleted() | EarlyMediaReceived()
                    | OfferReceived() | SessionUpdated() | ModificationFailed()
                ):  # fmt: skip
                    pass  # this command makes and takes no calls
                case _:
                    assert_never(event)
        driver.wake()

    driver.attach(ua, pump)
    client = start_registration(ua, params, loop.time(), expires, targets)
    assert client is not None
    pump()
    try:
        first = await asyncio.wait_for(outcome, args.timeout)
    except TimeoutError:
        print("failed status=408 reason=no answer", flush=True)
        await driver.close()
        return 1
    ok = isinstance(first, Registered)
    if ok and args.hold > 0:
        await asyncio.sleep(args.hold)
    if ok:
        ua.unregister(client, loop.time())
        pump()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(unregistered.wait(), args.timeout)
    await driver.close()
    return 0 if ok else 1


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``register`` on the ``sansip`` parser."""
    cmd = commands.add_parser("register", help="register to a SIP server")
    cmd.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE",
        help="serveraddress, username, sipusername, password, proxyaddress, "
        "transport=udp|tcp|tls, tlscafile=PATH, ...",
    )  # fmt: skip
    cmd.add_argument("--hold", type=float, default=0.0, help="stay registered SECONDS")
    cmd.add_argument("--expires", type=int, default=3600)
    cmd.add_argument("--timeout", type=float, default=40.0)
    cmd.add_argument("--json", action="store_true")
    cmd.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)


def run_register(args: argparse.Namespace) -> int:
    """Run ``sansip register``."""
    try:
        return asyncio.run(_register(args))
    except OSError as exc:
        print(f"sansip register: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
