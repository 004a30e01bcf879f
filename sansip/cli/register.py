"""``sansip register``: register a phone, report every answer, keep the
binding fresh for ``--hold`` seconds, unregister on exit."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys

from sansip.cli.phoneargs import command_rng, parse_params
from sansip.errors import SansipError
from sansip.phone.aio import AsyncPhone
from sansip.phone.events import PhoneEvent, RegistrationUpdated
from sansip.phone.params import ParameterError

__all__ = ["add_command", "run_register"]


def _report(event: RegistrationUpdated, as_json: bool) -> None:
    if event.state == "registered":
        record: dict[str, object] = {"event": "registered", "expires": event.expires}
    elif event.state == "failed":
        record = {"event": "failed", "status": event.status, "reason": event.reason}
    else:
        record = {"event": "unregistered", "status": event.status}
    if as_json:
        print(json.dumps(record), flush=True)
    else:
        print(" ".join(f"{k}={v}" if k != "event" else str(v) for k, v in record.items()),
              flush=True)  # fmt: skip


async def _register(args: argparse.Namespace) -> int:
    params = parse_params(args.param)
    if not params.get("serveraddress"):
        print("sansip register: -p serveraddress=HOST[:PORT] is required", file=sys.stderr)
        return 2
    params.setdefault("registerinterval", str(args.expires))
    params["signalingonly"] = "1"  # this command makes and takes no calls
    try:
        phone = AsyncPhone(params, rng=command_rng(args))
        await phone.start()
    except SansipError as exc:
        print(f"sansip register: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ParameterError) else 1
    answers: asyncio.Queue[RegistrationUpdated] = asyncio.Queue()

    def on_event(event: PhoneEvent) -> None:
        if isinstance(event, RegistrationUpdated) and event.account == phone.setup.core.username:
            _report(event, args.json)
            answers.put_nowait(event)

    phone.on_phone_event(on_event)
    try:
        await phone.register(wait=False)
        try:
            first = await asyncio.wait_for(answers.get(), args.timeout)
        except TimeoutError:
            print("failed status=408 reason=no answer", flush=True)
            return 1
        ok = first.state == "registered"
        if ok:
            if args.hold > 0:
                await asyncio.sleep(args.hold)
            phone.unregister()
            with contextlib.suppress(TimeoutError):
                while (await asyncio.wait_for(answers.get(), args.timeout)).state != "unregistered":
                    pass
        return 0 if ok else 1
    finally:
        await phone.stop()


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
