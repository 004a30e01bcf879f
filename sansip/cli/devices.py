"""``sansip devices``: the sound devices PortAudio sees, by kind (capture,
playback, ringer), with the names ``-p audiodevicein=``,
``audiodeviceout=`` and ``audiodevicering=`` take."""

from __future__ import annotations

import argparse
import json

from sansip.errors import SansipError
from sansip.phone.audio import sound_devices

__all__ = ["add_command", "run_devices"]


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``devices`` on the ``sansip`` parser."""
    devices = commands.add_parser("devices", help="list the sound devices (PortAudio)")
    devices.add_argument("--json", action="store_true", help="machine-readable output")


def run_devices(args: argparse.Namespace) -> int:
    """Print the devices; 1 when PortAudio cannot be used."""
    try:
        found = sound_devices()
    except SansipError as exc:
        print(f"sansip devices: {exc}")
        return 1
    listing = {kind: names for kind, (names, _) in found.items()}
    defaults = {kind: default for kind, (_, default) in found.items()}
    if args.json:
        print(json.dumps({"devices": listing, "default": defaults}))
        return 0
    for kind, names in listing.items():
        print(f"{kind}:")
        for name in names:
            mark = "*" if name == defaults[kind] else " "
            print(f"  {mark} {name}")
    return 0
