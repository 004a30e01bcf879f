"""``sansip devices``: the sound devices PortAudio sees, by kind (capture,
playback, ringer), with the names ``-p audiodevicein=``,
``audiodeviceout=`` and ``audiodevicering=`` take."""

from __future__ import annotations

import argparse
import json

from sansip.errors import SansipError
from sansip.io.audio_devices import AudioDevices, DeviceKind

__all__ = ["add_command", "run_devices"]


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``devices`` on the ``sansip`` parser."""
    devices = commands.add_parser("devices", help="list the sound devices (PortAudio)")
    devices.add_argument("--json", action="store_true", help="machine-readable output")


def run_devices(args: argparse.Namespace) -> int:
    """Print the devices; 1 when PortAudio cannot be used."""
    try:
        devices = AudioDevices()
        listing = {kind.name.lower(): devices.device_names(kind) for kind in DeviceKind}
        defaults = {kind.name.lower(): devices.get_device(kind) for kind in DeviceKind}
    except SansipError as exc:
        print(f"sansip devices: {exc}")
        return 1
    if args.json:
        print(json.dumps({"devices": listing, "default": defaults}))
        return 0
    for kind, names in listing.items():
        print(f"{kind}:")
        for name in names:
            mark = "*" if name == defaults[kind] else " "
            print(f"  {mark} {name}")
    return 0
