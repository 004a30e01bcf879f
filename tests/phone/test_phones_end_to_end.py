"""Two phones and the embedded registrar, through the public phone API only
— register, call, ring, accept, DTMF both ways, audio both ways checked by
frequency, hold and resume, hang-up, the CDR on both sides — once in
asyncio, once in trio and once in threads, with the same steps."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest
import trio

from sansip.audio.analysis import dominant_frequency
from sansip.phone.aio import AsyncPhone
from sansip.phone.threads import Phone
from sansip.phone.trio import TrioPhone
from tests.phone.conftest import RATE, tone


async def _heard(call: Any, frames: int) -> np.ndarray:
    got: list[np.ndarray] = []
    async for frame in call.audio_in():
        got.append(frame)
        if len(got) >= frames:
            break
    return np.concatenate(got[-frames // 2 :])


async def _scenario(kind: type[Any], server: str, sleep: Any) -> dict[str, Any]:
    states: list[tuple[str, int, int]] = []
    regs: list[str] = []
    notes: list[tuple[str, str]] = []
    cdrs: list[tuple[object, ...]] = []
    digits: list[tuple[str, int]] = []
    apps: list[str] = []
    async with (
        kind(serveraddress=server, username="alice", password="alice-secret",
             codec="PCMU") as alice,
        kind(serveraddress=server, username="bob", password="bob-secret") as bob,
    ):  # fmt: skip
        alice.on_call_state_change(lambda event, direction, _p, _d, line, _c:
                                   states.append((event, direction, line)))  # fmt: skip
        alice.on_reg_state_change(lambda state, _reason: regs.append(state))
        alice.on_event(lambda kind, message: notes.append((kind, message)))
        alice.on_cdr(lambda *args: cdrs.append(args))
        alice.on_app_state_change(apps.append)
        bob.on_dtmf(lambda dtmf, line: digits.append((dtmf, line)))
        await alice.register()
        await bob.register()
        outgoing = await alice.call("bob")
        incoming = await bob.incoming(timeout=5)
        assert incoming.state == "ringing" and incoming.peername == "alice"
        incoming.accept()
        await outgoing.connected(timeout=5)
        await incoming.connected(timeout=5)
        outgoing.audio_out.put_nowait(tone(700.0, 3.0))
        incoming.audio_out.put_nowait(tone(1300.0, 3.0))
        heard_by_bob = await _heard(incoming, 50)
        heard_by_alice = await _heard(outgoing, 50)
        outgoing.dtmf("12#")
        incoming.dtmf("9")
        for _ in range(200):
            if incoming.dtmf_received == "12#" and outgoing.dtmf_received == "9":
                break
            await sleep(0.02)
        outgoing.hold()
        await sleep(0.3)
        held = outgoing.on_hold
        outgoing.resume()
        await sleep(0.3)
        resumed = not outgoing.on_hold
        outgoing.hangup()
        return {
            "bob_heard": dominant_frequency(heard_by_bob, RATE),
            "alice_heard": dominant_frequency(heard_by_alice, RATE),
            "bob_dtmf": incoming.dtmf_received, "alice_dtmf": outgoing.dtmf_received,
            "held": held, "resumed": resumed, "alice_cdr": await outgoing.ended(timeout=5),
            "bob_cdr": await incoming.ended(timeout=5), "states": states, "regs": regs,
            "notes": notes, "cdrs": cdrs, "digits": digits, "apps": apps,
        }  # fmt: skip


class _SyncAsAsync:
    """The threaded phone behind the async steps (each call runs directly:
    the phone's own threads do the work)."""

    def __init__(self, **params: str) -> None:
        self._phone = Phone(**params)

    async def __aenter__(self) -> _SyncAsAsync:
        self._phone.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._phone.stop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._phone, name)

    async def register(self) -> None:
        self._phone.register()

    async def call(self, target: str) -> _CallAsAsync:
        return _CallAsAsync(self._phone.call(target))

    async def incoming(self, timeout: float) -> _CallAsAsync:
        return _CallAsAsync(self._phone.incoming(timeout))


class _CallAsAsync:
    def __init__(self, call: Any) -> None:
        self._call = call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)

    async def connected(self, timeout: float) -> None:
        self._call.connected(timeout)

    async def ended(self, timeout: float) -> Any:
        return self._call.ended(timeout)

    async def audio_in(self) -> Any:
        for frame in self._call.audio_in(timeout=5):
            yield frame


def _run(loop: str, server: str) -> dict[str, Any]:
    if loop == "asyncio":
        return asyncio.run(_scenario(AsyncPhone, server, asyncio.sleep))
    if loop == "trio":
        return trio.run(_scenario, TrioPhone, server, trio.sleep)
    return asyncio.run(_scenario(_SyncAsAsync, server, asyncio.sleep))


@pytest.mark.timeout(90)
@pytest.mark.parametrize("loop", ["asyncio", "trio", "threads"])
def test_two_phones_talk_through_the_registrar(loop: str, registrar: str) -> None:
    started = time.monotonic()
    r = _run(loop, registrar)
    assert time.monotonic() - started < 60
    assert r["bob_heard"] == pytest.approx(700.0, abs=20)
    assert r["alice_heard"] == pytest.approx(1300.0, abs=20)
    assert (r["bob_dtmf"], r["alice_dtmf"]) == ("12#", "9")
    assert r["held"] and r["resumed"]
    assert r["states"] == [("setup", 1, 1), ("ringing", 1, 1), ("connected", 1, 1),
                           ("disconnected", 1, 1)]  # fmt: skip
    assert r["regs"][0] == "registered"
    alice_cdr, bob_cdr = r["alice_cdr"], r["bob_cdr"]
    assert alice_cdr.direction == 1 and bob_cdr.direction == 2
    assert alice_cdr.caller == "alice" and alice_cdr.called == "bob"
    assert alice_cdr.discparty == 1 and bob_cdr.discparty == 2
    assert alice_cdr.codec == "PCMU" and alice_cdr.duration > 1.0
    assert alice_cdr.rtp_received > 50
    assert bob_cdr.reason.endswith("bye received")
    # The reference callbacks, with their arguments and notification strings.
    assert r["digits"] == [("1", 1), ("2", 1), ("#", 1)]
    notes = [message for kind, message in r["notes"] if kind == "event"]
    assert any(n.startswith("REGISTER,0,1,registered,true,,alice") for n in notes)
    assert any(n.startswith("STATUS,1,InCall,bob,alice,1,") for n in notes)
    assert any(n.startswith("CDR,1,bob,alice,bob,,") for n in notes)
    ((caller, called, connect, duration, direction, _name, reason, line, callid),) = r["cdrs"]
    assert (caller, called, direction, line) == ("alice", "bob", 1, 1)
    assert 0 <= connect < 5000 and duration > 1000 and reason == alice_cdr.reason
    assert callid == alice_cdr.callid
    assert r["apps"] == ["stopped"]  # registered once started: it sees the stop
