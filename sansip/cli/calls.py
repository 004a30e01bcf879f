"""``sansip answer`` and ``sansip call``: one user agent on asyncio over UDP,
TCP or TLS (``-p transport=``, see :mod:`sansip.cli.transports`).

Both print one line per call (``--json``: one JSON object per call, a CDR)
and exit 0 when every call did what was asked.  Each call has audio (see
:mod:`sansip.cli.media`): ``--tone``/``--play``/``--echo`` choose what is
sent, ``--record`` keeps what is received, ``--dtmf`` sends RFC 4733
digits, ``call --hold`` holds and resumes; ``--no-media`` keeps to
signalling (a fixed PCMU SDP and no RTP ports, for load tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sansip import __version__
from sansip.cli.media import DTMF_DELAY, CallAudio, MediaOptions, add_media_options, check_codecs
from sansip.cli.options import (
    instance_id,
    parse_custom_headers,
    parse_hostport,
    parse_params,
)
from sansip.cli.register import registration_targets, start_registration
from sansip.cli.resolve import Resolved, TargetError, resolve_hostport, resolve_uri
from sansip.cli.transports import Driver, default_port, make_driver, transport_of, with_transport
from sansip.dialog.call import (
    INCOMING,
    Call,
    CallEvent,
    CallState,
    CallStateChanged,
    IncomingCall,
    OfferReceived,
)
from sansip.dialog.register import RegisterEvent
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.errors import RemoteProtocolError, SansipError
from sansip.message import ParseError, SipURI, parse_uri
from sansip.transaction.drops import MessageDropped
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Transport

__all__ = ["add_commands", "run_answer", "run_call"]


def _keep_session(ua: UserAgent, event: OfferReceived, now: float) -> None:
    """A re-INVITE: these commands carry no media, so they answer with the
    session they have."""
    if event.call.local_sdp:
        ua.accept_offer(event.call, event.call.local_sdp, now)
    else:
        ua.reject_offer(event.call, now)


def make_sdp(address: Address, session: int) -> bytes:
    """An SDP offer/answer for one PCMU audio stream (RFC 4566)."""
    host, port = address
    family = "IP6" if ":" in host else "IP4"
    lines = [
        "v=0",
        f"o=sansip {session} {session} IN {family} {host}",
        "s=sansip",
        f"c=IN {family} {host}",
        "t=0 0",
        f"m=audio {port + 2} RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass
class _Session:
    ua: UserAgent
    driver: Driver | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    records: list[dict[str, object]] = field(default_factory=list)


def _record(call: Call, now: float) -> dict[str, object]:
    return {
        "callid": call.call_id,
        "direction": call.direction,
        "peername": call.peer_name,
        "peerdisplayname": call.peer_display_name,
        "status": call.status,
        "reason": call.reason,
        "connecttime": round(((call.connected_at or now) - call.started) * 1000),
        "duration": round(call.duration * 1000),
    }


def _print(record: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(record), flush=True)
    else:
        print(
            f"{'in ' if record['direction'] == INCOMING else 'out'} {record['peername']} "
            f"status={record['status']} duration={record['duration']}ms reason={record['reason']}",
            flush=True,
        )


def _ua(
    args: argparse.Namespace,
    local: Address,
    transport: Transport,
    proxy_targets: Resolved | None = None,
) -> UserAgent:
    params = parse_params(args.param)
    rng: random.Random = (
        random.Random(args.seed) if args.seed is not None else secrets.SystemRandom()
    )
    proxy = params.get("proxyaddress")
    outbound = proxy_targets.addresses[0] if proxy_targets else None
    if outbound is None and proxy:
        outbound = parse_hostport(proxy, default_port(transport))
    config = UAConfig(
        user=params.get("username", params.get("sipusername", "sansip")),
        display_name=params.get("displayname") or None,
        user_agent=params.get("useragent", f"sansip/{__version__}"),
        auth_username=params.get("sipusername") or params.get("username"),
        auth_password=params.get("password"),
        outbound_proxy=outbound,
        follow_redirects=params.get("allowcallredirect", "1") != "0",
        extra_headers=parse_custom_headers(params.get("customsipheader", "")),
        instance_id=instance_id(params, rng),
    )
    return UserAgent(EndpointConfig(local, transport), config, rng=rng)


def _hangup(ua: UserAgent, call: Call, loop: asyncio.AbstractEventLoop) -> None:
    ua.hangup(call, loop.time())


def _hangup_and_pump(
    ua: UserAgent, call: Call, loop: asyncio.AbstractEventLoop, pump: Callable[[], None]
) -> None:
    ua.hangup(call, loop.time())
    pump()


def _driver(
    args: argparse.Namespace, transport: Transport, local: Address, resolved: Resolved | None
) -> Driver:
    return make_driver(transport, local, parse_params(args.param), cert=args.cert, key=args.key,
                       tls_hostnames=resolved.hostnames if resolved else None)  # fmt: skip


class _CallMedia:
    """The audio of a command's calls (or nothing, with ``--no-media``)."""

    def __init__(self, args: argparse.Namespace, host: str, rng: random.Random,
                 driver: Driver) -> None:  # fmt: skip
        self.options = MediaOptions.from_args(args, parse_params(args.param))
        self.host = host
        self.rng = rng
        self.driver = driver  # runs the media engine too, whatever the SIP transport
        self.audio: dict[Call, CallAudio] = {}

    async def open(self, call_index: int) -> CallAudio | None:
        if not self.options.enabled:
            return None
        audio = CallAudio(self.options, self.host, self.driver, self.rng, call_index)
        await audio.open()
        return audio

    def drain(self) -> None:
        """Hand the media engine's events to the calls they are about."""
        by_port = {audio.port: audio for audio in self.audio.values()}
        while (event := self.driver.media.next_event()) is not None:
            audio = by_port.get(event.port)
            if audio is not None:
                audio.media_event(event)

    def handle(self, ua: UserAgent, event: CallEvent, now: float) -> None:
        """Re-INVITEs: with media they are negotiated; without, the session stays."""
        call = getattr(event, "call", None)
        audio = self.audio.get(call) if isinstance(call, Call) else None
        if audio is not None:
            audio.handle(ua, event, now)
        elif isinstance(event, OfferReceived):
            _keep_session(ua, event, now)

    def connected(self, ua: UserAgent, call: Call, loop: asyncio.AbstractEventLoop,
                  pump: Callable[[], None]) -> bool:  # fmt: skip
        """Start the call's media and its scripted actions (DTMF, hold)."""
        audio = self.audio.get(call)
        if audio is None:
            return True
        if not audio.connected(call, loop.time()):
            return False
        options = self.options

        def act(action: Callable[[], object]) -> None:
            if call.state is CallState.CONNECTED:
                action()
                pump()

        if options.dtmf:
            loop.call_later(DTMF_DELAY, act, lambda: audio.send_dtmf(options.dtmf, loop.time()))
        if options.hold is not None:
            start, length = options.hold
            loop.call_later(start, act, lambda: audio.hold(ua, call, loop.time()))
            loop.call_later(start + length, act,
                            lambda: audio.hold(ua, call, loop.time(), resume=True))  # fmt: skip
        return True

    def ended(self, call: Call, now: float) -> dict[str, object]:
        audio = self.audio.pop(call, None)
        if audio is None:
            return {}
        summary = audio.summary(now)
        audio.close(now)
        if audio.failure:
            summary["media_failure"] = audio.failure
        return summary


def _live(call: Call) -> bool:
    """Whether an incoming call still waits for an answer (it may have been
    cancelled while its media was being set up)."""
    return call.state is not CallState.DISCONNECTED and call.final is None


def _rng(args: argparse.Namespace) -> random.Random:
    return random.Random(args.seed) if args.seed is not None else secrets.SystemRandom()


async def _answer(args: argparse.Namespace) -> int:
    transport = transport_of(parse_params(args.param), args.transport)
    if transport is Transport.TLS and not args.cert:
        print("sansip answer: TLS needs --cert PEM (and --key PEM)", file=sys.stderr)
        return 2
    listen = args.listen or f"127.0.0.1:{default_port(transport)}"
    params = parse_params(args.param)
    if not check_codecs("sansip answer", MediaOptions.from_args(args, params), offering=False):
        return 2
    address = parse_hostport(listen, default_port(transport))
    try:
        targets = await registration_targets(params, transport, address)
    except TargetError as exc:
        print(f"sansip answer: {exc}", file=sys.stderr)
        return 1
    driver = _driver(args, transport, address, targets)
    local = await driver.start()
    ua = _ua(args, local, transport, targets if params.get("proxyaddress") else None)
    session = _Session(ua, driver)
    loop = asyncio.get_running_loop()
    media = _CallMedia(args, local[0], _rng(args), driver)
    tasks: set[asyncio.Task[None]] = set()
    answered = ended = incoming = 0

    def later(delay: float, action: Callable[[], None]) -> None:
        def run() -> None:
            action()
            pump()

        loop.call_later(delay, run)

    async def pick_up(call: Call, index: int) -> None:
        """Open the call's media, then answer (after --ring seconds)."""
        try:
            audio = await media.open(index)
        except SansipError as exc:
            print(f"sansip answer: {exc}", file=sys.stderr)
            if _live(call):
                ua.reject(call, loop.time(), 500)
            pump()
            return
        if not _live(call):
            if audio is not None:
                audio.close(loop.time())
            pump()
            return
        if audio is None:
            sdp = make_sdp(local, 1)
        else:
            media.audio[call] = audio
            audio.on_timeout = partial(_hangup_and_pump, ua, call, loop, pump)
            audio.ringtone(True)
            answer = audio.answer(call.invite.body, loop.time())
            if isinstance(answer, RemoteProtocolError):
                ua.reject(call, loop.time(), answer.status, warning=audio.warning(answer))
                pump()
                return
            sdp = answer
        if args.early_media and audio is not None and _live(call):
            ua.progress(call, loop.time(), sdp=sdp)  # 183: media flows while it rings
            pump()
        if args.ring > 0:
            await asyncio.sleep(args.ring)
        if _live(call):
            ua.answer(call, loop.time(), sdp=sdp)
        pump()

    def pump() -> None:
        nonlocal answered, ended, incoming
        now = loop.time()
        media.drain()
        while (event := ua.next_event()) is not None:
            if isinstance(event, IncomingCall):
                incoming += 1
                ua.ring(event.call, now)
                task = loop.create_task(pick_up(event.call, incoming))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            elif isinstance(event, CallStateChanged):
                call = event.call
                if event.new is CallState.CONNECTED:
                    answered += 1
                    if not media.connected(ua, call, loop, pump):
                        ua.hangup(call, now)
                    elif args.hangup_after is not None:
                        later(args.hangup_after, partial(_hangup, ua, call, loop))
                elif event.new is CallState.DISCONNECTED:
                    ended += 1
                    record = _record(call, now) | media.ended(call, now)
                    session.records.append(record)
                    _print(record, args.json)
                    if args.count and ended >= args.count:
                        session.done.set()
            elif isinstance(event, RegisterEvent | MessageDropped):
                pass  # the registration is followed by its state; drops are counted
            else:
                media.handle(ua, event, now)
        if session.driver is not None:
            session.driver.wake()

    driver.attach(ua, pump)
    registration = start_registration(ua, params, loop.time(), targets=targets)
    if registration is not None:
        driver.wake()
        while registration.state.value in ("unregistered", "registering"):
            await asyncio.sleep(0.02)
        if registration.state.value != "registered":
            print(f"sansip answer: registration {registration.state.value}", file=sys.stderr)
            await driver.close()
            return 1
    print(f"sansip answer: listening on {local[0]}:{local[1]}/{transport.value.lower()}",
          file=sys.stderr, flush=True)  # fmt: skip
    try:
        if args.duration:
            await asyncio.wait_for(session.done.wait(), args.duration)
        else:
            await session.done.wait()
    except TimeoutError:
        pass
    finally:
        if registration is not None:
            ua.unregister(registration, loop.time())
            driver.wake()
            await asyncio.sleep(0.2)
        for call in list(media.audio):
            media.ended(call, loop.time())
        await driver.close()
    if args.count:
        return 0 if ended >= args.count else 1
    return 0


async def _call(args: argparse.Namespace) -> int:
    try:
        text = (
            args.target
            if args.target.lower().startswith(("sip:", "sips:"))
            else (f"sip:{args.target}")
        )
        target = parse_uri(text)
    except ParseError as exc:
        print(f"sansip call: bad target {args.target!r}: {exc.reason}", file=sys.stderr)
        return 2
    if not isinstance(target, SipURI):
        print("sansip call: the target must be a sip: or sips: URI", file=sys.stderr)
        return 2
    params = parse_params(args.param)
    if not check_codecs("sansip call", MediaOptions.from_args(args, params), offering=True):
        return 2
    transport = transport_of(params)
    target = with_transport(target, transport)
    local = parse_hostport(args.local, 0)
    proxy = params.get("proxyaddress")
    try:
        # Through a proxy only the proxy is resolved; else the target itself.
        if proxy:
            resolved = proxy_targets = await resolve_hostport(proxy, transport, params, local)
        else:
            resolved, proxy_targets = await resolve_uri(target, transport, params, local), None
    except TargetError as exc:
        print(f"sansip call: {exc}", file=sys.stderr)
        return 1
    driver = _driver(args, transport, local, resolved)
    bound = await driver.start()
    ua = _ua(args, bound, transport, proxy_targets)
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    media = _CallMedia(args, bound[0], _rng(args), driver)
    media_ok = True

    def pump() -> None:
        nonlocal media_ok
        media.drain()
        while (event := ua.next_event()) is not None:
            if isinstance(event, RegisterEvent | MessageDropped):
                continue  # the registration is followed by its state; drops are counted
            if not isinstance(event, CallStateChanged):
                media.handle(ua, event, loop.time())
                continue
            if event.new is CallState.RINGING and event.call in media.audio:
                media.audio[event.call].ringback(True)
            if event.new is CallState.CONNECTED:
                if not media.connected(ua, event.call, loop, pump):
                    media_ok = False
                    ua.hangup(event.call, loop.time())
                    continue
                loop.call_later(
                    args.duration, partial(_hangup_and_pump, ua, event.call, loop, pump)
                )
            elif event.new is CallState.DISCONNECTED:
                finished.set()
        driver.wake()

    try:
        audio = await media.open(1)
    except SansipError as exc:
        print(f"sansip call: {exc}", file=sys.stderr)
        await driver.close()
        return 1
    driver.attach(ua, pump)
    targets = resolved.addresses if resolved else None
    sdp = audio.offer() if audio is not None else make_sdp(bound, 1)
    call = ua.call(target, loop.time(), sdp=sdp, targets=targets)
    if audio is not None:
        media.audio[call] = audio
        audio.on_timeout = partial(_hangup_and_pump, ua, call, loop, pump)
    pump()
    try:
        await asyncio.wait_for(finished.wait(), args.timeout)
    except TimeoutError:
        ua.hangup(call, loop.time())
        pump()
    await asyncio.sleep(0.05)  # let the BYE or CANCEL leave
    record = _record(call, loop.time()) | media.ended(call, loop.time())
    await driver.close()
    _print(record, args.json)
    return 0 if call.connected_at is not None and media_ok else 1


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
