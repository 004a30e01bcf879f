"""From a command's arguments to a phone: the ``-p`` parameters with the
commands' own defaults, the audio plan of ``--tone``/``--play``/``--echo``/
``--devices``/``--record``..., and the CDR line each call prints."""

from __future__ import annotations

import argparse
import json
import random
import secrets
from typing import Final

from sansip.phone.aio import AsyncCall
from sansip.phone.audio import AudioPlan
from sansip.phone.codecs import check_codecs
from sansip.phone.events import INCOMING
from sansip.phone.history import CallRecord

__all__ = ["add_media_options", "audio_plan", "call_record", "check_codec_params",
           "command_rng", "print_record", "with_defaults"]  # fmt: skip

#: Where the commands differ from a phone's defaults: no NAT-opening
#: packets and no media timeout unless asked for.
COMMAND_DEFAULTS: Final = {"natopenpackets": "0", "mediatimeout": "0"}
#: With the sound card, the capture side is processed as a microphone's.
DEVICE_DEFAULTS: Final = {"aec": "1", "agc": "3", "denoise": "3", "vad": "2"}
#: Seconds after connecting before ``--dtmf`` digits go out.
DTMF_DELAY: Final = 0.5


def add_media_options(parser: argparse.ArgumentParser) -> None:
    """The audio options shared by ``call`` and ``answer``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--tone", type=float, default=None, metavar="HZ",
                        help="send a sine tone (-10 dBFS)")  # fmt: skip
    source.add_argument("--play", default=None, metavar="FILE",
                        help="send a WAV or Ogg Opus file (looped)")  # fmt: skip
    source.add_argument("--echo", action="store_true", help="send back what is received")
    source.add_argument("--devices", action="store_true",
                        help="talk through the sound card (-p audiodevicein=...)")  # fmt: skip
    parser.add_argument("--record", default=None, metavar="FILE",
                        help="record what is received (16 kHz mono, .wav or .ogg)")  # fmt: skip
    parser.add_argument("--record-call", default=None, metavar="FILE",
                        help="record both directions mixed (.wav or .ogg)")  # fmt: skip
    parser.add_argument("--stereo", action="store_true",
                        help="--record-call: sent audio left, received right")  # fmt: skip
    parser.add_argument("--dtmf", default=None, metavar="DIGITS",
                        help="send RFC 4733 DTMF digits 0.5 s after connecting")  # fmt: skip
    parser.add_argument("--no-media", action="store_true",
                        help="signalling only: SDP with the audio off, no RTP ports")  # fmt: skip


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``-p name=value`` arguments as a dict (names lower-cased)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"sansip: -p wants name=value, got {pair!r}")
        out[name.strip().lower()] = value.strip()
    return out


def check_codec_params(params: dict[str, str], args: argparse.Namespace, *,
                       offering: bool) -> list[str]:  # fmt: skip
    """The codec warnings to print; raises
    :class:`~sansip.phone.codecs.CodecError` when calls could not have audio."""
    return check_codecs(params, offering=offering, media=not args.no_media)


def with_defaults(params: dict[str, str], args: argparse.Namespace) -> dict[str, str]:
    """The phone's parameters: ``params`` over the commands' defaults, and
    what ``--no-media`` and ``--devices`` imply."""
    out = dict(COMMAND_DEFAULTS)
    if args.devices:
        out.update(DEVICE_DEFAULTS)
    out.update(params)
    if args.no_media:
        out["signalingonly"] = "1"
    return out


def audio_plan(args: argparse.Namespace) -> AudioPlan | None:
    """What each call sends and what becomes of what it hears (None with ``--no-media``)."""
    if args.no_media:
        return None
    return AudioPlan(tone=args.tone, play=args.play, echo=args.echo, devices=args.devices,
                     record=args.record, record_call=args.record_call,
                     stereo=args.stereo)  # fmt: skip


def command_rng(args: argparse.Namespace) -> random.Random:
    """``--seed``'s generator (tests), else the system's."""
    return random.Random(args.seed) if args.seed is not None else secrets.SystemRandom()


def refused_record(record: CallRecord, *, media: bool) -> dict[str, object]:
    """The line a command prints for an incoming call refused before it
    rang (an offer it cannot take, e.g. ``488 srtp fail``), with the same
    fields as :func:`call_record` (no media figures)."""
    code, _, reason = record.reason.partition(" ")
    status = int(code) if code.isdigit() else None
    out: dict[str, object] = {
        "callid": record.callid, "direction": record.direction, "peername": record.caller,
        "peerdisplayname": record.peerdisplayname, "status": status,
        "reason": reason if status is not None else record.reason,
        "connecttime": round((record.ended - record.started) * 1000), "duration": 0,
    }  # fmt: skip
    if media:
        out |= {"codec": None, "dtmf_received": "", "holds": 0, "resumes": 0,
                "media_timeout": False, "recording_failed": None, "rtp": None}  # fmt: skip
    return out


def call_record(call: AsyncCall, *, media: bool) -> dict[str, object]:
    """The line a command prints for an ended call: who, the SIP status and
    reason, connect time and duration in ms, and with ``media`` the codec,
    DTMF received, holds and the RTP figures."""
    record = call.record
    assert record is not None, "the call has not ended"
    code, _, reason = record.reason.partition(" ")
    status = int(code) if code.isdigit() else None
    connected = record.connected if record.connected is not None else record.ended
    out: dict[str, object] = {
        "callid": record.callid,
        "direction": record.direction,
        "peername": call.peername,
        "peerdisplayname": record.peerdisplayname,
        "status": status,
        "reason": reason if status is not None or code.startswith("-") else record.reason,
        "connecttime": round((connected - record.started) * 1000),
        "duration": round(record.duration * 1000),
    }
    if not media:
        return out
    stats = call.stats()
    out |= {
        "codec": stats.get("codec"),
        "dtmf_received": call.dtmf_received,
        "holds": call.holds,
        "resumes": call.resumes,
        "media_timeout": call.media_timed_out,
        "recording_failed": call.recording_failure or None,
        "rtp": {k: v for k, v in stats.items() if k != "codec"} or None,
    }
    if call.media_failure:
        out["media_failure"] = call.media_failure
    return out


def print_record(record: dict[str, object], as_json: bool) -> None:
    """One line per call: JSON, or ``in|out peer status= duration= reason=``."""
    if as_json:
        print(json.dumps(record), flush=True)
        return
    way = "in " if record["direction"] == INCOMING else "out"
    print(f"{way} {record['peername']} status={record['status']} "
          f"duration={record['duration']}ms reason={record['reason']}", flush=True)  # fmt: skip
