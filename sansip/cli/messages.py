"""``sansip message TARGET TEXT``: send one instant message (SIP MESSAGE,
RFC 3428) and report what became of it; exit 0 when it was delivered."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from sansip.cli.phoneargs import command_rng, parse_params
from sansip.errors import SansipError
from sansip.phone.aio import AsyncPhone
from sansip.phone.events import ChatReport, PhoneEvent
from sansip.phone.params import ParameterError

__all__ = ["add_command", "run_message"]


async def _message(args: argparse.Namespace) -> int:
    params = parse_params(args.param)
    host, _, port = args.local.rpartition(":")
    params |= {"localip": host.strip("[]"), "signalingport": port, "signalingonly": "1"}
    try:
        phone = AsyncPhone(params, rng=command_rng(args))
        await phone.start()
    except SansipError as exc:
        print(f"sansip message: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ParameterError) else 1
    done: asyncio.Future[ChatReport] = asyncio.get_running_loop().create_future()

    def on_event(event: PhoneEvent) -> None:
        if isinstance(event, ChatReport) and event.status != 1 and not done.done():
            done.set_result(event)

    phone.on_phone_event(on_event)
    try:
        try:
            phone.sendchat(args.target, args.text)
        except SansipError as exc:
            print(f"sansip message: {exc}", file=sys.stderr)
            return 2
        try:
            report = await asyncio.wait_for(done, args.timeout)
        except TimeoutError:
            print("sansip message: no answer", file=sys.stderr)
            return 1
    finally:
        await phone.stop()
    status, _, reason = report.reason.partition(" ")
    delivered = report.status == 2
    if args.json:
        print(json.dumps({"event": "sent" if delivered else "failed", "to": report.peername,
                          "status": int(status), "reason": reason}))  # fmt: skip
    else:
        print(f"{'sent' if delivered else 'failed'} to {report.peername}: {report.reason}")
    return 0 if delivered else 1


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``message`` on the ``sansip`` parser."""
    cmd = commands.add_parser("message", help="send an instant message (SIP MESSAGE)")
    cmd.add_argument("target", help="sip:user@host:port, or a number with -p serveraddress=")
    cmd.add_argument("text", help="the message (UTF-8)")
    cmd.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="username, password, serveraddress, transport, ...")  # fmt: skip
    cmd.add_argument("--local", default="127.0.0.1:0", metavar="HOST:PORT")
    cmd.add_argument("--timeout", type=float, default=40.0)
    cmd.add_argument("--json", action="store_true")
    cmd.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)


def run_message(args: argparse.Namespace) -> int:
    """Run ``sansip message``."""
    try:
        return asyncio.run(_message(args))
    except OSError as exc:
        print(f"sansip message: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
