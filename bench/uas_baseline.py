"""The UA-core answering side that `bench_cps.py` measures as the peer `sansip-ua`.

A standalone copy of what `sansip answer --no-media` did before that command was
rebuilt on the phone API, for the case the benchmark uses: UDP, no registration, no
media.  One `UserAgent` on the asyncio datagram driver rings every incoming INVITE,
answers it with a fixed PCMU SDP (no RTP port is opened), keeps its session on a
re-INVITE, prints one CDR line per ended call (`--json`: one JSON object) and exits
after `--count` ended calls (or after `--duration` seconds).  It imports nothing from
`sansip.cli`, so it keeps measuring the same path while the command changes.

    .venv/bin/python bench/uas_baseline.py --listen 127.0.0.1:5070 --count 200 --json --no-media
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sansip import __version__  # noqa: E402
from sansip.dialog.call import (  # noqa: E402
    INCOMING,
    Call,
    CallEvent,
    CallState,
    CallStateChanged,
    IncomingCall,
    OfferReceived,
)
from sansip.dialog.register import RegisterEvent  # noqa: E402
from sansip.dialog.ua import UAConfig, UserAgent  # noqa: E402
from sansip.io.asyncio import AsyncioDatagramDriver  # noqa: E402
from sansip.transaction.drops import MessageDropped  # noqa: E402
from sansip.transaction.endpoint import EndpointConfig  # noqa: E402
from sansip.transport.types import Address, Transport  # noqa: E402

DEFAULT_PORT = 5060


def parse_listen(text: str) -> Address:
    """``host:port`` (``[v6]:port`` too); the port defaults to 5060."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    return host, int(port) if port else DEFAULT_PORT


def keep_session(ua: UserAgent, event: OfferReceived, now: float) -> None:
    """A re-INVITE: no media here, so the answer is the session we have."""
    if event.call.local_sdp:
        ua.accept_offer(event.call, event.call.local_sdp, now)
    else:
        ua.reject_offer(event.call, now)


def make_sdp(address: Address, session: int) -> bytes:
    """An SDP answer for one PCMU audio stream (RFC 4566)."""
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
class Session:
    ua: UserAgent
    driver: AsyncioDatagramDriver | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    records: list[dict[str, object]] = field(default_factory=list)


def cdr(call: Call, now: float) -> dict[str, object]:
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


def show(record: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(record), flush=True)
    else:
        print(
            f"{'in ' if record['direction'] == INCOMING else 'out'} {record['peername']} "
            f"status={record['status']} duration={record['duration']}ms reason={record['reason']}",
            flush=True,
        )


def make_ua(local: Address, rng: random.Random) -> UserAgent:
    config = UAConfig(
        user="sansip",
        display_name=None,
        user_agent=f"sansip/{__version__}",
        auth_username=None,
        auth_password=None,
        outbound_proxy=None,
        follow_redirects=True,
        extra_headers=(),
        instance_id=None,
    )
    return UserAgent(EndpointConfig(local, Transport.UDP), config, rng=rng)


def hangup(ua: UserAgent, call: Call, loop: asyncio.AbstractEventLoop) -> None:
    ua.hangup(call, loop.time())


class NoMedia:
    """The calls' media with ``--no-media``: nothing, but the engine's events are
    drained and re-INVITEs keep the session."""

    def __init__(self, driver: AsyncioDatagramDriver) -> None:
        self.driver = driver
        self.audio: dict[Call, object] = {}

    def drain(self) -> None:
        by_port = {getattr(audio, "port", None): audio for audio in self.audio.values()}
        while (event := self.driver.media.next_event()) is not None:
            by_port.get(event.port)

    def handle(self, ua: UserAgent, event: CallEvent, now: float) -> None:
        if isinstance(event, OfferReceived):
            keep_session(ua, event, now)

    async def open(self, _call_index: int) -> None:
        return None  # no media: nothing to open (the command awaited this too)

    def ended(self, call: Call) -> dict[str, object]:
        self.audio.pop(call, None)
        return {}


def live(call: Call) -> bool:
    """Whether an incoming call still waits for an answer."""
    return call.state is not CallState.DISCONNECTED and call.final is None


async def answer(args: argparse.Namespace) -> int:
    address = parse_listen(args.listen or f"127.0.0.1:{DEFAULT_PORT}")
    rng: random.Random = (
        random.Random(args.seed) if args.seed is not None else secrets.SystemRandom()
    )
    driver = AsyncioDatagramDriver(None, address)
    local = await driver.start()
    ua = make_ua(local, rng)
    session = Session(ua, driver)
    loop = asyncio.get_running_loop()
    media = NoMedia(driver)
    tasks: set[asyncio.Task[None]] = set()
    answered = ended = incoming = 0

    def later(delay: float, action: Callable[[], None]) -> None:
        def run() -> None:
            action()
            pump()

        loop.call_later(delay, run)

    async def pick_up(call: Call, _index: int) -> None:
        """Answer with the fixed SDP (after --ring seconds)."""
        await media.open(_index)
        if not live(call):
            pump()
            return
        sdp = make_sdp(local, 1)
        if args.ring > 0:
            await asyncio.sleep(args.ring)
        if live(call):
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
                    if args.hangup_after is not None:
                        later(args.hangup_after, partial(hangup, ua, call, loop))
                elif event.new is CallState.DISCONNECTED:
                    ended += 1
                    record = cdr(call, now) | media.ended(call)
                    session.records.append(record)
                    show(record, args.json)
                    if args.count and ended >= args.count:
                        session.done.set()
            elif isinstance(event, RegisterEvent | MessageDropped):
                pass
            else:
                media.handle(ua, event, now)
        if session.driver is not None:
            session.driver.wake()

    driver.attach(ua, pump)
    print(f"uas_baseline: listening on {local[0]}:{local[1]}/udp", file=sys.stderr, flush=True)
    try:
        if args.duration:
            await asyncio.wait_for(session.done.wait(), args.duration)
        else:
            await session.done.wait()
    except TimeoutError:
        pass
    finally:
        await driver.close()
    if args.count:
        return 0 if ended >= args.count else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--listen", default=None, metavar="HOST:PORT", help="default 127.0.0.1:5060")
    ap.add_argument("--count", type=int, default=0, help="exit after N calls ended")
    ap.add_argument("--json", action="store_true", help="one JSON CDR per call")
    ap.add_argument("--no-media", action="store_true", help="accepted: there is never media")
    ap.add_argument("--ring", type=float, default=0.0, help="seconds of ringing first")
    ap.add_argument("--hangup-after", type=float, default=None, metavar="SECONDS")
    ap.add_argument("--duration", type=float, default=0.0, help="exit after SECONDS")
    ap.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        return asyncio.run(answer(args))
    except OSError as exc:
        where = args.listen or "the default port"
        print(f"uas_baseline: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
