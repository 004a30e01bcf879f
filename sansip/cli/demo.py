"""``sansip demo``: a whole call on loopback, checked end to end.

The embedded registrar/proxy starts on 127.0.0.1 with digest
authentication; two phones, alice and bob, register to it; alice calls
bob through it; bob rings, then answers.  Each sends its own tone (alice
500 Hz, bob 1300 Hz) and checks by spectrum that it hears the other's;
alice sends RFC 4733 DTMF ``1234#`` and bob reports the digits; alice
holds (both sides go quiet) and resumes (the tones return); alice hangs
up.  Every step is printed, then the RTP statistics of both sides and the
SIP call flow as a ladder, merged from the messages each phone sent and
received.  The exit status is 0 only when every check passed.  No audio
device and no server outside the process are needed.

The phones are :class:`~sansip.phone.aio.AsyncPhone` objects: each sends
its tone and hands what it hears to a small frame collector here
(:class:`~sansip.phone.audio.AudioPlan`).

``sansip demo --messages`` runs the older message demo (the RFC 4475 and
5118 torture messages through the parser).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from sansip.audio.analysis import dominant_frequency, rms_dbfs
from sansip.cli.registrar import start_registrar
from sansip.phone.aio import AsyncCall, AsyncPhone
from sansip.phone.audio import AudioPlan
from sansip.phone.events import DISC_REMOTE
from sansip.phone.siplog import SENT
from sansip.server import ServerConfig

__all__ = ["main"]

ALICE_HZ: Final = 500.0
BOB_HZ: Final = 1300.0
DIGITS: Final = "1234#"
RATE: Final = 16000  # what the phones hand to a sink: 20 ms int16 frames at 16 kHz
QUIET_DBFS: Final = -50.0  # below this, a stretch of audio counts as silence
STEP_TIMEOUT: Final = 5.0
RTP_FIELDS: Final = ("sent", "received", "lost", "jitter_ms", "rtt_ms", "mos", "concealed",
                     "rejected")  # fmt: skip

#: One message of the ladder: seconds since the start, sender, receiver, label.
FlowEntry = tuple[float, str, str, str]


@dataclass
class Step:
    """One checked step of the demo."""

    name: str
    ok: bool
    detail: str = ""


class _Failed(Exception):
    """A step failed: the scenario stops there."""


class Heard:
    """A frame sink keeping the last ``max_frames`` frames a phone heard."""

    def __init__(self, max_frames: int = 100) -> None:
        self._frames: deque[NDArray[np.int16]] = deque(maxlen=max_frames)

    def write(self, frame: NDArray[np.int16]) -> None:
        self._frames.append(np.array(frame, dtype=np.int16, copy=True))

    def last(self, seconds: float) -> NDArray[np.int16]:
        """The samples of the last ``seconds`` (fewer if fewer came)."""
        if not self._frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(list(self._frames))[-round(seconds * RATE) :]


class Side:
    """One demo phone: its name, the phone, what it hears, and its call."""

    def __init__(self, name: str, tone: float, server: str) -> None:
        self.name = name
        self.heard = Heard()
        self.phone = AsyncPhone(serveraddress=server, username=name, password=f"{name}-secret",
                                displayname=name.capitalize(),
                                audio=AudioPlan(tone=tone, sink=self.heard))  # fmt: skip
        self.call: AsyncCall | None = None


async def _until(predicate: Callable[[], bool], timeout: float = STEP_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _hears(side: Side, hz: float) -> tuple[bool, str]:
    heard = side.heard.last(0.8)
    level = rms_dbfs(heard)
    if level < QUIET_DBFS:
        return False, f"{side.name} hears silence ({level:.0f} dBFS)"
    peak = dominant_frequency(heard, RATE)
    return abs(peak - hz) < 20, f"{side.name} hears {peak:.0f} Hz at {level:.0f} dBFS"


def _quiet(side: Side) -> tuple[bool, str]:
    level = rms_dbfs(side.heard.last(0.5))
    return level < QUIET_DBFS, f"{side.name} hears {level:.0f} dBFS"


@contextlib.contextmanager
def _step(steps: list[Step], name: str) -> Iterator[Step]:
    """A step the body passes by setting ``ok``; an error in it fails it.
    A failed step stops the scenario (:class:`_Failed`)."""
    step = Step(name, False)
    steps.append(step)
    try:
        yield step
    except Exception as exc:  # a phone error or a timeout: the step failed
        step.ok = False
        step.detail = "timed out" if isinstance(exc, TimeoutError) else str(exc)
    if not step.ok:
        raise _Failed


async def _scenario(steps: list[Step], alice: Side, bob: Side) -> None:
    """The call itself; appends a Step per check, stops at the first failure."""
    with _step(steps, "alice and bob register (digest)") as step:
        results = await asyncio.gather(alice.phone.register(STEP_TIMEOUT),
                                       bob.phone.register(STEP_TIMEOUT),
                                       return_exceptions=True)  # fmt: skip
        errors = [r for r in results if isinstance(r, BaseException)]
        step.ok, step.detail = not errors, "; ".join(map(str, errors))

    with _step(steps, "alice calls bob through the proxy; bob rings, then answers") as step:
        call = alice.call = await alice.phone.call("bob")
        incoming = bob.call = await bob.phone.incoming(timeout=STEP_TIMEOUT)
        await asyncio.sleep(0.3)  # bob's phone rings (180 Ringing went out)
        incoming.accept()
        await call.connected(timeout=STEP_TIMEOUT)
        step.ok = True

    with _step(steps, "offer/answer") as step:
        codec = call.stats().get("codec")
        step.ok, step.detail = codec is not None, f"codec {codec}"

    await asyncio.sleep(1.5)
    with _step(steps, "each side hears the other's tone") as step:
        ok_a, detail_a = _hears(alice, BOB_HZ)
        ok_b, detail_b = _hears(bob, ALICE_HZ)
        step.ok, step.detail = ok_a and ok_b, f"{detail_a}; {detail_b}"

    with _step(steps, f"alice sends DTMF {DIGITS} (RFC 4733)") as step:
        call.dtmf(DIGITS)
        step.ok = await _until(lambda: incoming.dtmf_received == DIGITS)
        step.detail = f"bob received {incoming.dtmf_received!r}"

    with _step(steps, "alice holds: the audio stops") as step:
        call.hold()
        ok = await _until(lambda: call.holds == 1)
        await asyncio.sleep(1.0)
        quiet_a, detail_a = _quiet(alice)
        quiet_b, detail_b = _quiet(bob)
        step.ok, step.detail = ok and quiet_a and quiet_b, f"{detail_a}; {detail_b}"

    with _step(steps, "alice resumes: the audio returns") as step:
        call.resume()
        ok = await _until(lambda: call.resumes == 1)
        await asyncio.sleep(1.2)
        ok_a, detail_a = _hears(alice, BOB_HZ)
        ok_b, detail_b = _hears(bob, ALICE_HZ)
        step.ok, step.detail = ok and ok_a and ok_b, f"{detail_a}; {detail_b}"

    with _step(steps, "alice hangs up; bob sees the BYE") as step:
        call.hangup()
        record = await incoming.ended(timeout=STEP_TIMEOUT)
        await call.ended(timeout=STEP_TIMEOUT)
        step.ok, step.detail = record.discparty == DISC_REMOTE, record.reason


def _flow(start: float, sides: tuple[Side, ...]) -> list[FlowEntry]:
    """The SIP messages both phones sent and received, in the order they happened."""
    entries: list[FlowEntry] = []
    for side in sides:
        for message in side.phone.sipmessages():
            line = message.first_line
            label = line[8:] if line.startswith("SIP/2.0") else line.split(" ", 1)[0]
            ends = (side.name, "proxy") if message.direction == SENT else ("proxy", side.name)
            entries.append((message.at - start, *ends, label[:16]))
    return sorted(entries, key=lambda entry: entry[0])


def _ladder(flow: list[FlowEntry]) -> list[str]:
    """The messages as a three-column ladder, in the order they happened."""
    columns = {"alice": 4, "proxy": 30, "bob": 56}
    lines = [f"{'alice':>13}{'proxy':>26}{'bob':>24}"]
    for t, sender, receiver, label in flow:
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


def _stats(call: AsyncCall | None) -> dict[str, object]:
    """The media figures of a side's call (``{}`` without a call)."""
    if call is None:
        return {}
    stats: dict[str, Any] = call.stats()
    return {
        "codec": stats.get("codec"), "dtmf_received": call.dtmf_received,
        "holds": call.holds, "resumes": call.resumes, "media_timeout": call.media_timed_out,
        "recording_failed": call.recording_failure or None,
        "rtp": {name: stats.get(name) for name in RTP_FIELDS} if stats else None,
    }  # fmt: skip


async def _run() -> tuple[list[Step], dict[str, dict[str, object]], list[FlowEntry]]:
    users = {"alice": "alice-secret", "bob": "bob-secret"}
    registrar = await start_registrar(
        ("127.0.0.1", 0), config=ServerConfig(realm="sansip.demo", users=users)
    )
    host, port = registrar.address[0], registrar.address[1]
    start = asyncio.get_running_loop().time()
    alice = Side("alice", ALICE_HZ, f"{host}:{port}")
    bob = Side("bob", BOB_HZ, f"{host}:{port}")
    steps = [Step(f"registrar/proxy listening on {host}:{port}", True)]
    stats: dict[str, dict[str, object]] = {}
    flow: list[FlowEntry] = []
    started: list[Side] = []
    try:
        for side in (alice, bob):
            await side.phone.start()
            started.append(side)
        with contextlib.suppress(_Failed):
            await _scenario(steps, alice, bob)
        await asyncio.sleep(0.2)
        stats = {side.name: _stats(side.call) for side in (alice, bob)}
        flow = _flow(start, (alice, bob))
    finally:
        for side in reversed(started):
            await side.phone.stop()
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
                     for t, a, b, m in flow],
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
