"""``sansip answer`` and ``sansip call``: one phone of :mod:`sansip.phone`
on asyncio, over UDP, TCP or TLS (``-p transport=``).

Both print one line per call (``--json``: one JSON object per call, a CDR)
and exit 0 when every call did what was asked.  Each call has audio:
``--tone``/``--play``/``--echo``/``--devices`` choose what is sent,
``--record``/``--record-call`` keep what is heard, ``--dtmf`` sends RFC
4733 digits, ``call --hold`` holds and resumes; ``--no-media`` keeps to
signalling (an SDP whose audio stream is off and no RTP ports, for load
tests).  ``answer -p serveraddress=...`` registers first and unregisters
when done; host names are resolved by RFC 3263 (``-p dnsserver=``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import sys
from collections.abc import Callable

from sansip.cli.phoneargs import (
    DTMF_DELAY,
    add_media_options,
    audio_plan,
    call_record,
    check_codec_params,
    command_rng,
    parse_params,
    print_record,
    refused_record,
    with_defaults,
)
from sansip.errors import LocalProtocolError, SansipError
from sansip.phone.aio import AsyncCall, AsyncPhone
from sansip.phone.codecs import CodecError
from sansip.phone.events import (
    INCOMING,
    CallEnded,
    CallStateChanged,
    ChatReceived,
    PhoneEvent,
    PhoneWarning,
    TransferStatus,
)
from sansip.phone.params import ParameterError

__all__ = ["add_commands", "run_answer", "run_call"]

#: The collector's thresholds under call load: young objects are collected
#: less often, so the full passes over what thousands of live calls hold
#: (each a pause every phone feels) come less often too.
GC_THRESHOLDS = (20000, 20, 20)


def _phone(command: str, args: argparse.Namespace, params: dict[str, str], *,
           offering: bool) -> AsyncPhone | int:  # fmt: skip
    """The command's phone (not started), or the exit status after printing
    why not: 2 for a bad parameter or codec, 1 for anything else."""
    try:
        for warning in check_codec_params(params, args, offering=offering):
            print(f"{command}: warning: {warning}", file=sys.stderr)
        phone = AsyncPhone(with_defaults(params, args), rng=command_rng(args),
                           audio=audio_plan(args))  # fmt: skip
        phone.on_phone_event(_warn)
        return phone
    except SansipError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ParameterError | CodecError) else 1


def _warn(event: PhoneEvent) -> None:
    """What goes wrong without ending a call (a recording stopped, a stream failed)."""
    if isinstance(event, PhoneWarning):
        print(f"sansip: {event.text}", file=sys.stderr, flush=True)


def _chat_printer(as_json: bool) -> Callable[[PhoneEvent], None]:
    """Print each instant message received (``answer``)."""

    def show(event: PhoneEvent) -> None:
        if not isinstance(event, ChatReceived):
            return
        if as_json:
            print(json.dumps({"event": "message", "from": event.peername, "text": event.text,
                              "content_type": event.content_type, "line": event.line}),
                  flush=True)  # fmt: skip
        else:
            print(f"message from {event.peername}: {event.text}", flush=True)

    return show


def _later(delay: float, action: Callable[[], object], call: AsyncCall) -> None:
    """Run ``action`` in ``delay`` seconds if ``call`` is still connected."""

    def run() -> None:
        if call.state == "connected":
            with contextlib.suppress(LocalProtocolError):  # it ended meanwhile
                action()

    asyncio.get_running_loop().call_later(delay, run)


def _script(call: AsyncCall, args: argparse.Namespace) -> None:
    """What a connected call does by itself: ``--dtmf``, ``--hold``, ``--hangup-after``."""
    if args.dtmf:
        _later(DTMF_DELAY, lambda: call.dtmf(args.dtmf), call)
    hold = getattr(args, "hold", None)
    if hold:
        start, _, length = hold.partition(",")
        _later(float(start), call.hold, call)
        _later(float(start) + float(length or 1.0), call.resume, call)
    hangup_after = getattr(args, "hangup_after", None)
    if hangup_after is not None:
        _later(hangup_after, call.hangup, call)


async def _answer(args: argparse.Namespace) -> int:
    params = parse_params(args.param)
    if args.transport:
        params["transport"] = args.transport
    transport = params.get("transport", "udp").lower()
    if transport in ("tls", "2") and not args.cert:
        print("sansip answer: TLS needs --cert PEM (and --key PEM)", file=sys.stderr)
        return 2
    if args.cert:
        params["tlscertfile"], params["tlskeyfile"] = args.cert, args.key or ""
    listen = args.listen or f"127.0.0.1:{5061 if transport in ('tls', '2') else 5060}"
    host, _, port = listen.rpartition(":")
    params |= {"localip": host.strip("[]"), "signalingport": port, "maxlines": "1000"}
    if args.ring <= 0:
        params.setdefault("autoaccept", "1")  # answered as soon as its media is ready
    if args.early_media:
        params["earlymedia"] = "3"
    registering = bool(params.get("serveraddress")) and params.get("register", "1") != "0"
    phone = _phone("sansip answer", args, params, offering=False)
    if isinstance(phone, int):
        return phone
    try:
        await phone.start()
    except SansipError as exc:
        print(f"sansip answer: {exc}", file=sys.stderr)
        return 1
    # What start-up made (modules, tables) lives as long as the process: out
    # of the collector's way, so its full passes stay short under load.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    ended = 0
    done = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()
    show_chat = _chat_printer(args.json)
    rang: set[str] = set()  # incoming calls that rang: served by serve()

    def on_event(event: PhoneEvent) -> None:
        """Chat, and the incoming calls refused before they rang (counted)."""
        nonlocal ended
        show_chat(event)
        if isinstance(event, CallStateChanged) and event.direction == INCOMING:
            if event.state == "ringing":
                rang.add(event.callid)
        elif isinstance(event, CallEnded) and event.record.direction == INCOMING:
            if event.record.callid in rang:
                rang.discard(event.record.callid)
                return
            ended += 1
            print_record(refused_record(event.record, media=not args.no_media), args.json)
            if args.count and ended >= args.count:
                done.set()

    phone.on_phone_event(on_event)

    async def serve(call: AsyncCall) -> None:
        nonlocal ended
        if args.ring > 0:
            await asyncio.sleep(args.ring)
            with contextlib.suppress(LocalProtocolError):  # cancelled while ringing
                call.accept()
        with contextlib.suppress(LocalProtocolError):  # ended before it connected
            await call.connected()
            _script(call, args)
        await call.ended()
        ended += 1
        print_record(call_record(call, media=not args.no_media), args.json)
        if args.count and ended >= args.count:
            done.set()

    async def take_calls() -> None:
        while True:
            task = asyncio.create_task(serve(await phone.incoming()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    taker = asyncio.create_task(take_calls())
    try:
        if registering:
            try:
                await phone.register(timeout=40)
            except SansipError as exc:
                print(f"sansip answer: {exc}", file=sys.stderr)
                return 1
        local = phone.core.ua.endpoint.config.local
        shown = f"[{local[0]}]" if ":" in local[0] else local[0]
        way = phone.setup.transport.value.lower()
        print(f"sansip answer: listening on {shown}:{local[1]}/{way}", file=sys.stderr,
              flush=True)  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), args.duration or None)
    finally:
        taker.cancel()
        await phone.stop()
        for task in list(tasks):
            task.cancel()
    return 0 if not args.count or ended >= args.count else 1


async def _call(args: argparse.Namespace) -> int:
    target = args.target if args.target.lower().startswith(("sip:", "sips:")) else (
        f"sip:{args.target}")  # fmt: skip
    params = parse_params(args.param)
    if args.cert:
        params["tlscertfile"], params["tlskeyfile"] = args.cert, args.key or ""
    host, _, port = args.local.rpartition(":")
    params |= {"localip": host.strip("[]"), "signalingport": port, "register": "0"}
    phone = _phone("sansip call", args, params, offering=True)
    if isinstance(phone, int):
        return phone
    try:
        await phone.start()
    except SansipError as exc:
        print(f"sansip call: {exc}", file=sys.stderr)
        return 1
    try:
        try:
            call = await phone.call(target)
        except SansipError as exc:
            print(f"sansip call: {exc}", file=sys.stderr)
            return 2 if isinstance(exc, LocalProtocolError) else 1  # a bad target: 2
        connected = False
        transferred: list[TransferStatus] = []
        try:
            await asyncio.wait_for(call.connected(), args.timeout)
            connected = True
            _script(call, args)
            if args.transfer_to:
                phone.on_phone_event(lambda e: transferred.append(e) if isinstance(
                    e, TransferStatus) and e.final else None)  # fmt: skip
                await _transfer(phone, args)
            else:
                _later(args.duration, call.hangup, call)
            await asyncio.wait_for(call.ended(), args.duration + args.timeout)
        except LocalProtocolError:
            pass  # it ended before it connected
        except TimeoutError:
            call.hangup()
        await call.ended(timeout=35)
        record = call_record(call, media=not args.no_media)
    finally:
        await phone.stop()
    if args.transfer_to:
        done = bool(transferred) and 200 <= transferred[-1].status < 300
        outcome = f"{transferred[-1].status} {transferred[-1].reason}" if transferred else "none"
        record["transfer"] = outcome
        print_record(record, args.json)
        return 0 if done else 1
    print_record(record, args.json)
    failed = "media_failure" in record or record.get("reason") == "srtp fail"
    return 0 if connected and not failed else 1


async def _transfer(phone: AsyncPhone, args: argparse.Namespace) -> None:
    """``--transfer-to``: after a second, REFER the peer to the target
    (blind), or with ``--attended`` call the target first and join them."""
    await asyncio.sleep(1.0)
    if not args.attended:
        phone.transfer(args.transfer_to)
        return
    consultation = await phone.call(args.transfer_to)
    await consultation.connected(timeout=args.timeout)
    await asyncio.sleep(0.5)
    phone.transfer("")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``answer`` and ``call`` on the ``sansip`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter (username, displayname, useragent, "
                             "transport=udp|tcp|tls, tlscafile=PATH, ...)")  # fmt: skip
    common.add_argument("--json", action="store_true", help="one JSON CDR per call")
    common.add_argument("--cert", default=None, metavar="PEM",
                        help="TLS: certificate (chain) to accept connections with")  # fmt: skip
    common.add_argument("--key", default=None, metavar="PEM", help="TLS: its private key")
    common.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)

    answer = commands.add_parser("answer", parents=[common], help="auto-answer incoming calls")
    answer.add_argument("--listen", default=None, metavar="HOST:PORT",
                        help="default 127.0.0.1:5060 (5061 for TLS)")  # fmt: skip
    answer.add_argument("--transport", choices=["udp", "tcp", "tls"], default=None,
                        help="overrides -p transport=; default udp")  # fmt: skip
    answer.add_argument("--count", type=int, default=0, help="exit after N calls ended")
    answer.add_argument("--ring", type=float, default=0.0, help="seconds of ringing first")
    answer.add_argument("--hangup-after", type=float, default=None, metavar="SECONDS")
    answer.add_argument("--duration", type=float, default=0.0, help="exit after SECONDS")
    answer.add_argument("--early-media", action="store_true",
                        help="send 183 with SDP first: audio flows while it rings")  # fmt: skip
    add_media_options(answer)

    call = commands.add_parser("call", parents=[common], help="place one call")
    call.add_argument("target", help="sip:user@host:port")
    call.add_argument("--duration", type=float, default=5.0, help="seconds connected")
    call.add_argument("--timeout", type=float, default=60.0, help="give up after SECONDS")
    call.add_argument("--local", default="127.0.0.1:0", metavar="HOST:PORT")
    call.add_argument("--hold", default=None, metavar="START,LENGTH",
                      help="hold START s after connecting, resume LENGTH s later")  # fmt: skip
    call.add_argument("--transfer-to", default=None, metavar="URI",
                      help="transfer the call there 1 s after connecting (REFER)")  # fmt: skip
    call.add_argument("--attended", action="store_true",
                      help="--transfer-to: call the target first, then join them")  # fmt: skip
    add_media_options(call)


def run_answer(args: argparse.Namespace) -> int:
    """Run ``sansip answer``."""
    try:
        return asyncio.run(_answer(args))
    except OSError as exc:
        where = args.listen or "the default port"
        print(f"sansip answer: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run_call(args: argparse.Namespace) -> int:
    """Run ``sansip call``."""
    try:
        return asyncio.run(_call(args))
    except OSError as exc:
        print(f"sansip call: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
