"""Entry point of the ``sansip`` command."""

from __future__ import annotations

import argparse
import sys

from sansip import __version__
from sansip.cli import calls, corpus_demo, demo, devices, messages, register, registrar, watch


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sansip``."""
    parser = argparse.ArgumentParser(
        prog="sansip", description="sansip: a SIP softphone stack in pure Python"
    )
    parser.add_argument("--version", action="version", version=f"sansip {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="a registrar and two phones on loopback make a checked call with audio"
    )
    demo.add_argument("--json", action="store_true", help="machine-readable output")
    demo.add_argument("--messages", action="store_true",
                      help="instead: the RFC 4475/5118 torture messages, parsed")  # fmt: skip
    calls.add_commands(commands)
    register.add_command(commands)
    messages.add_command(commands)
    watch.add_command(commands)
    registrar.add_command(commands)
    devices.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``sansip``; return the process exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        if args.messages:
            return corpus_demo.main(as_json=args.json)
        return demo.main(as_json=args.json)
    if args.command == "answer":
        return calls.run_answer(args)
    if args.command == "call":
        return calls.run_call(args)
    if args.command == "watch":
        return watch.run_watch(args)
    if args.command == "message":
        return messages.run_message(args)
    if args.command == "register":
        return register.run_register(args)
    if args.command == "registrar":
        return registrar.run_registrar(args)
    if args.command == "devices":
        return devices.run_devices(args)
    build_parser().print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
