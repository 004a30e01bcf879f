"""``sansip watch``: watch the presence (``--presence USER``), the busy
lamp (``--blf USER``) of other users, or our mailbox (``--voicemail``),
printing each change (``--json``: one object a line) until ``--duration``
seconds have passed (0: until interrupted)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys

from sansip.cli.phoneargs import command_rng, parse_params
from sansip.errors import SansipError
from sansip.phone.aio import AsyncPhone
from sansip.phone.events import BLFChanged, PhoneEvent, PresenceChanged, VoicemailChanged
from sansip.phone.params import ParameterError

__all__ = ["add_command", "run_watch"]


def _line(event: PhoneEvent, as_json: bool) -> str | None:
    if isinstance(event, PresenceChanged):
        record: dict[str, object] = {"event": "presence", "peer": event.peername,
                                     "presence": event.presence, "note": event.note}  # fmt: skip
    elif isinstance(event, BLFChanged):
        record = {"event": "blf", "peer": event.peername, "direction": event.direction,
                  "state": event.state, "callid": event.callid}  # fmt: skip
    elif isinstance(event, VoicemailChanged):
        record = {"event": "voicemail", "waiting": event.waiting, "new": event.new,
                  "old": event.old}  # fmt: skip
    else:
        return None
    if as_json:
        return json.dumps(record)
    return " ".join(f"{k}={v}" if k != "event" else str(v) for k, v in record.items())


async def _watch(args: argparse.Namespace) -> int:
    if not (args.presence or args.blf or args.voicemail):
        print("sansip watch: give --presence USER, --blf USER or --voicemail", file=sys.stderr)
        return 2
    params = parse_params(args.param)
    host, _, port = args.local.rpartition(":")
    params |= {"localip": host.strip("[]"), "signalingport": port, "signalingonly": "1"}
    try:
        phone = AsyncPhone(params, rng=command_rng(args))
        await phone.start()
    except SansipError as exc:
        print(f"sansip watch: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ParameterError) else 1

    def show(event: PhoneEvent) -> None:
        line = _line(event, args.json)
        if line is not None:
            print(line, flush=True)

    phone.on_phone_event(show)
    try:
        if params.get("serveraddress") and params.get("register", "1") != "0":
            await phone.register(timeout=20)
        for user in args.presence:
            phone.checkpresence(user)
        for user in args.blf:
            phone.checkblf(user)
        if args.voicemail:
            phone.checkvoicemail()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), args.duration or None)
    except SansipError as exc:
        print(f"sansip watch: {exc}", file=sys.stderr)
        return 1
    finally:
        await phone.stop()
    return 0


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``watch`` on the ``sansip`` parser."""
    cmd = commands.add_parser("watch", help="watch presence, busy lamps or the mailbox")
    cmd.add_argument("--presence", action="append", default=[], metavar="USER",
                     help="a number at -p serveraddress=, or a sip: URI")  # fmt: skip
    cmd.add_argument("--blf", action="append", default=[], metavar="USER")
    cmd.add_argument("--voicemail", action="store_true", help="our mailbox at the server")
    cmd.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    cmd.add_argument("--local", default="127.0.0.1:0", metavar="HOST:PORT")
    cmd.add_argument("--duration", type=float, default=0.0, help="stop after SECONDS")
    cmd.add_argument("--json", action="store_true")
    cmd.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)


def run_watch(args: argparse.Namespace) -> int:
    """Run ``sansip watch``."""
    try:
        return asyncio.run(_watch(args))
    except OSError as exc:
        print(f"sansip watch: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
