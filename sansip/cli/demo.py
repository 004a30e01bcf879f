"""``sansip demo``: a whole call on loopback, checked end to end.

The embedded registrar/proxy starts on 127.0.0.1 with digest
authentication; two phones, alice and bob, register to it; alice calls
bob through it; bob rings, then answers.  Each sends its own tone (alice
500 Hz, bob 1300 Hz) and checks by spectrum that it hears the other's;
alice sends RFC 4733 DTMF ``1234#`` and bob reports the digits; alice
holds (both sides go quiet) and resumes (the tones return); alice hangs
up.  Every step is printed, then the RTP statistics of both sides and the
SIP call flow as a ladder.  The exit status is 0 only when every check
passed.  No audio device and no server outside the process are needed.

``sansip demo --messages`` runs the older message demo (the RFC 4475 and
5118 torture messages through the parser).
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sansip.audio.analysis import dominant_frequency, rms_dbfs
from sansip.audio.frames import CollectSink
from sansip.cli.media import PIPELINE_RATE, CallAudio, MediaOptions
from sansip.cli.registrar import RunningRegistrar, start_registrar
from sansip.dialog.call import Call, CallState, CallStateChanged, IncomingCall
from sansip.dialog.register import (
    Registered,
    RegistrationFailed,
    RegistrationStateChanged,
    Unregistered,
)
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.io.asyncio import AsyncioDatagramDriver
from sansip.message import SipURI
from sansip.server import ServerConfig
from sansip.transaction.drops import MessageDropped
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Datagram

__all__ = ["main"]

ALICE_HZ: Final = 500.0
BOB_HZ: Final = 1300.0
DIGITS: Final = "1234#"
QUIET_DBFS: Final = -50.0  # below this, a stretch of audio counts as silence
STEP_TIMEOUT: Final = 5.0


@dataclass
class Step:
    """One checked step of the demo."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class Flow:
    """SIP messages as both phones saw them, for the ladder."""

    start: float
    entries: list[tuple[float, str, str, str]] = field(default_factory=list)

    def add(self, now: float, sender: str, receiver: str, data: bytes) -> None:
        line = data.split(b"\r\n", 1)[0].decode(errors="replace")
        label = line.split(" ", 1)[0] if not line.startswith("SIP/2.0") else line[8:]
        self.entries.append((now - self.start, sender, receiver, label[:16]))


class _Tap:
    """A UA as its driver sees it, noting every message for the ladder."""

    def __init__(self, name: str, ua: UserAgent, flow: Flow) -> None:
        self.name, self.ua, self.flow = name, ua, flow

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        if data.strip():
            self.flow.add(now, "proxy", self.name, data)
        self.ua.receive_datagram(data, addr, now)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out = self.ua.datagrams_to_send(now)
        for data, _ in out:
            self.flow.add(now, self.name, "proxy", data)
        return out

    def get_timer(self) -> float | None:
        return self.ua.get_timer()

    def handle_timer(self, now: float) -> None:
        self.ua.handle_timer(now)


class Phone:
    """One demo phone: a UA, its driver, and the audio of its call."""

    def __init__(self, name: str, tone: float, registrar: Address, *, flow: Flow,
                 rng: random.Random) -> None:  # fmt: skip
        self.name, self.tone, self.registrar = name, tone, registrar
        self.rng, self.flow = rng, flow
        self.heard = CollectSink(max_frames=2000)
        self.call: Call | None = None
        self.audio: CallAudio | None = None
        self.registered = asyncio.Event()
        self.registration_failed = ""
        self.on_incoming: Callable[[Call], None] | None = None
        self.ua: UserAgent | None = None
        self.driver: AsyncioDatagramDriver | None = None

    async def start(self) -> None:
        self.driver = AsyncioDatagramDriver(None, ("127.0.0.1", 0))
        local = await self.driver.start()
        config = UAConfig(user=self.name, display_name=self.name.capitalize(),
                          auth_password=f"{self.name}-secret", outbound_proxy=self.registrar,
                          allow=("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"))  # fmt: skip
        self.ua = UserAgent(EndpointConfig(local), config, rng=self.rng)
        self.driver.attach(_Tap(self.name, self.ua, self.flow), self.pump)
        loop = asyncio.get_running_loop()
        host, port = self.registrar
        self.ua.register(SipURI(host, port=port), loop.time(), username=self.name,
                         password=f"{self.name}-secret", expires=300,
                         dest=self.registrar)  # fmt: skip
        self.driver.wake()

    async def open_audio(self) -> CallAudio:
        assert self.driver is not None, "start() first"
        audio = CallAudio(MediaOptions(tone=self.tone), "127.0.0.1", self.driver, self.rng,
                          sink=self.heard)  # fmt: skip
        await audio.open()
        self.audio = audio
        return audio

    def pump(self) -> None:
        ua = self.ua
        assert ua is not None and self.driver is not None
        loop = asyncio.get_running_loop()
        while (media_event := self.driver.media.next_event()) is not None:
            if self.audio is not None and media_event.port is self.audio.port:
                self.audio.media_event(media_event)
        while (event := ua.next_event()) is not None:
            if isinstance(event, Registered):
                self.registered.set()
            elif isinstance(event, RegistrationFailed):
                self.registration_failed = f"{event.status} {event.reason}"
            elif isinstance(event, RegistrationStateChanged | Unregistered | MessageDropped):
                pass  # the state of the registration; drops are counted
            elif isinstance(event, IncomingCall):
                self.call = event.call
                if self.on_incoming is not None:
                    self.on_incoming(event.call)
            elif isinstance(event, CallStateChanged):
                if event.new is CallState.CONNECTED and self.audio is not None:
                    self.audio.connected(event.call, loop.time())
                elif event.new is CallState.DISCONNECTED and self.audio is not None:
                    self.audio.close(loop.time())
            elif self.audio is not None:
                self.audio.handle(ua, event, loop.time())
        self.driver.wake()

    def last(self, seconds: float) -> NDArray[np.int16]:
        """What this phone heard in the last ``seconds``."""
        samples = self.heard.samples()
        return samples[-round(seconds * PIPELINE_RATE) :]


async def _until(predicate: Callable[[], bool], timeout: float = STEP_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _hears(phone: Phone, hz: float) -> tuple[bool, str]:
    heard = phone.last(0.8)
    level = rms_dbfs(heard)
    if level < QUIET_DBFS:
        return False, f"{phone.name} hears silence ({level:.0f} dBFS)"
    peak = dominant_frequency(heard, PIPELINE_RATE)
    return abs(peak - hz) < 20, f"{phone.name} hears {peak:.0f} Hz at {level:.0f} dBFS"


def _quiet(phone: Phone) -> tuple[bool, str]:
    level = rms_dbfs(phone.last(0.5))
    return level < QUIET_DBFS, f"{phone.name} hears {level:.0f} dBFS"


async def _scenario(steps: list[Step], alice: Phone, bob: Phone) -> None:
    """The call itself; appends a Step per check, stops at the first failure."""
    loop = asyncio.get_running_loop()

    def check(name: str, ok: bool, detail: str = "") -> bool:
        steps.append(Step(name, ok, detail))
        return ok

    ok = await _until(lambda: alice.registered.is_set() and bob.registered.is_set())
    if not check("alice and bob register (digest)", ok,
                 alice.registration_failed or bob.registration_failed):  # fmt: skip
        return

    async def answer(call: Call) -> None:
        audio = await bob.open_audio()
        assert bob.ua is not None
        bob.ua.ring(call, loop.time())
        bob.pump()
        await asyncio.sleep(0.3)
        sdp = audio.answer(call.invite.body, loop.time())
        if isinstance(sdp, bytes) and call.state is not CallState.DISCONNECTED:
            bob.ua.answer(call, loop.time(), sdp=sdp)
        bob.pump()

    tasks: set[asyncio.Task[None]] = set()
    bob.on_incoming = lambda call: tasks.add(loop.create_task(answer(call)))
    assert alice.ua is not None and bob.ua is not None and alice.registrar is not None
    audio = await alice.open_audio()
    host, port = alice.registrar
    alice.call = alice.ua.call(SipURI(host, "bob", port=port), loop.time(), sdp=audio.offer())
    alice.pump()
    call = alice.call
    ok = await _until(lambda: call.state is CallState.CONNECTED)
    if not check("alice calls bob through the proxy; bob rings, then answers", ok, call.reason):
        return
    stream = audio.media.stream if audio.media else None
    check("offer/answer", stream is not None, f"codec {stream.codec if stream else None}")
    await asyncio.sleep(1.5)
    ok_a, detail_a = _hears(alice, BOB_HZ)
    ok_b, detail_b = _hears(bob, ALICE_HZ)
    if not check("each side hears the other's tone", ok_a and ok_b, f"{detail_a}; {detail_b}"):
        return
    audio.send_dtmf(DIGITS, loop.time())
    bob_audio = bob.audio
    ok = await _until(lambda: bob_audio is not None and bob_audio.dtmf_received == DIGITS)
    got = bob_audio.dtmf_received if bob_audio else ""
    if not check(f"alice sends DTMF {DIGITS} (RFC 4733)", ok, f"bob received {got!r}"):
        return
    audio.hold(alice.ua, call, loop.time())
    alice.pump()
    ok = await _until(lambda: audio.holds == 1)
    await asyncio.sleep(1.0)
    quiet_a, detail_a = _quiet(alice)
    quiet_b, detail_b = _quiet(bob)
    if not check("alice holds: the audio stops", ok and quiet_a and quiet_b,
                 f"{detail_a}; {detail_b}"):  # fmt: skip
        return
    audio.hold(alice.ua, call, loop.time(), resume=True)
    alice.pump()
    ok = await _until(lambda: audio.resumes == 1)
    await asyncio.sleep(1.2)
    ok_a, detail_a = _hears(alice, BOB_HZ)
    ok_b, detail_b = _hears(bob, ALICE_HZ)
    if not check("alice resumes: the audio returns", ok and ok_a and ok_b,
                 f"{detail_a}; {detail_b}"):  # fmt: skip
        return
    alice.ua.hangup(call, loop.time())
    alice.pump()
    bob_call = bob.call
    ok = await _until(lambda: bob_call is not None and bob_call.state is CallState.DISCONNECTED)
    check("alice hangs up; bob sees the BYE", ok,
          bob_call.reason if bob_call is not None else "")  # fmt: skip


def _ladder(flow: Flow) -> list[str]:
    """The messages as a three-column ladder, in the order they happened."""
    columns = {"alice": 4, "proxy": 30, "bob": 56}
    lines = [f"{'alice':>13}{'proxy':>26}{'bob':>24}"]
    for t, sender, receiver, label in flow.entries:
        a, b = sorted((columns[sender], columns[receiver]))
        row = [" "] * 62
        for col in columns.values():
            row[col + 2] = "|"
        length = b - a - 1  # between the two bars
        body = f" {label} ".center(length, "-")
        rightwards = columns[sender] < columns[receiver]
        body = body[:-1] + ">" if rightwards else "<" + body[1:]
        row[a + 3 : b + 2] = list(body)
        lines.append(f"{t:6.3f} " + "".join(row).rstrip())
    return lines


def _stats(phone: Phone, now: float) -> dict[str, object]:
    return phone.audio.summary(now) if phone.audio is not None else {}


async def _run() -> tuple[list[Step], dict[str, dict[str, object]], Flow]:
    rng = secrets.SystemRandom()
    users = {"alice": "alice-secret", "bob": "bob-secret"}
    registrar: RunningRegistrar = await start_registrar(
        ("127.0.0.1", 0), config=ServerConfig(realm="sansip.demo", users=users)
    )
    loop = asyncio.get_running_loop()
    flow = Flow(loop.time())
    alice = Phone("alice", ALICE_HZ, registrar.address, flow=flow, rng=rng)
    bob = Phone("bob", BOB_HZ, registrar.address, flow=flow, rng=rng)
    steps: list[Step] = [Step(f"registrar/proxy listening on "
                              f"{registrar.address[0]}:{registrar.address[1]}", True)]  # fmt: skip
    try:
        await alice.start()
        await bob.start()
        await _scenario(steps, alice, bob)
        await asyncio.sleep(0.2)
        stats = {"alice": _stats(alice, loop.time()), "bob": _stats(bob, loop.time())}
    finally:
        for phone in (alice, bob):
            if phone.audio is not None:
                phone.audio.close(loop.time())
            if phone.driver is not None:
                await phone.driver.close()
        await registrar.close()
    return steps, stats, flow


def main(as_json: bool = False) -> int:
    """Run the demo; 0 when every check passed."""
    started = time.monotonic()
    steps, stats, flow = asyncio.run(_run())
    passed = all(s.ok for s in steps) and len(steps) >= 9
    elapsed = time.monotonic() - started
    if as_json:
        print(json.dumps({
            "passed": passed, "seconds": round(elapsed, 2),
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in steps],
            "rtp": stats,
            "flow": [{"t": round(t, 3), "from": a, "to": b, "message": m}
                     for t, a, b, m in flow.entries],
        }, indent=2))  # fmt: skip
        return 0 if passed else 1
    print("sansip demo: a registrar and two phones on loopback, one call with audio\n")
    for step in steps:
        mark = "ok  " if step.ok else "FAIL"
        print(f"  [{mark}] {step.name}" + (f"  ({step.detail})" if step.detail else ""))
    print("\nRTP statistics")
    for name, record in stats.items():
        rtp = record.get("rtp")
        if isinstance(rtp, dict):
            print(f"  {name:5}  codec {record.get('codec')}: sent {rtp['sent']}, received "
                  f"{rtp['received']}, lost {rtp['lost']}, jitter {rtp['jitter_ms']} ms, "
                  f"MOS {rtp['mos']}")  # fmt: skip
    print("\nCall flow")
    for line in _ladder(flow):
        print("  " + line)
    verdict = "every check passed" if passed else "a check FAILED"
    print(f"\n{verdict} in {elapsed:.1f} s")
    return 0 if passed else 1
