"""Two asyncio phones and the embedded registrar, through the public phone
API only: register, call, ring, accept, DTMF both ways, audio both ways
checked by frequency, hold and resume, hang-up, the CDR on both sides."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency
from sansip.cli.registrar import start_registrar
from sansip.phone.aio import AsyncCall, AsyncPhone
from sansip.server import ServerConfig

RATE = 16000


def _tone(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (6000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


async def _heard(call: AsyncCall, frames: int) -> np.ndarray:
    got: list[np.ndarray] = []
    async for frame in call.audio_in():
        got.append(frame)
        if len(got) >= frames:
            break
    return np.concatenate(got[-frames // 2 :])


async def _scenario() -> dict[str, object]:
    users = {"alice": "alice-secret", "bob": "bob-secret"}
    config = ServerConfig(realm="sansip.test", users=users)
    registrar = await start_registrar(("127.0.0.1", 0), config=config)
    server = f"{registrar.address[0]}:{registrar.address[1]}"
    states: list[tuple[str, int, int]] = []
    regs: list[str] = []
    try:
        async with (
            AsyncPhone(serveraddress=server, username="alice", password="alice-secret",
                       codec="PCMU") as alice,
            AsyncPhone(serveraddress=server, username="bob", password="bob-secret") as bob,
        ):  # fmt: skip
            alice.on_call_state_change(lambda event, direction, _p, _d, line, _c:
                                       states.append((event, direction, line)))  # fmt: skip
            alice.on_reg_state_change(lambda state, _reason: regs.append(state))
            await alice.register()
            await bob.register()
            outgoing = await alice.call("bob")
            incoming = await bob.incoming(timeout=5)
            assert incoming.state == "ringing" and incoming.peername == "alice"
            incoming.accept()
            await outgoing.connected(timeout=5)
            await incoming.connected(timeout=5)
            outgoing.audio_out.put_nowait(_tone(700.0, 3.0))
            incoming.audio_out.put_nowait(_tone(1300.0, 3.0))
            heard_by_bob = await _heard(incoming, 50)
            heard_by_alice = await _heard(outgoing, 50)
            outgoing.dtmf("12#")
            incoming.dtmf("9")
            for _ in range(200):
                if incoming.dtmf_received == "12#" and outgoing.dtmf_received == "9":
                    break
                await asyncio.sleep(0.02)
            outgoing.hold()
            await asyncio.sleep(0.3)
            held = alice.core.line(outgoing.line).on_hold
            outgoing.resume()
            await asyncio.sleep(0.3)
            resumed = not alice.core.line(outgoing.line).on_hold
            outgoing.hangup()
            alice_cdr = await outgoing.ended(timeout=5)
            bob_cdr = await incoming.ended(timeout=5)
            result = {
                "bob_heard": dominant_frequency(heard_by_bob, RATE),
                "alice_heard": dominant_frequency(heard_by_alice, RATE),
                "bob_dtmf": incoming.dtmf_received, "alice_dtmf": outgoing.dtmf_received,
                "held": held, "resumed": resumed, "alice_cdr": alice_cdr, "bob_cdr": bob_cdr,
            }  # fmt: skip
    finally:
        await registrar.close()
    result["states"] = states
    result["regs"] = regs
    return result


@pytest.mark.timeout(60)
def test_two_phones_talk_through_the_registrar() -> None:
    r = asyncio.run(_scenario())
    assert r["bob_heard"] == pytest.approx(700.0, abs=20)
    assert r["alice_heard"] == pytest.approx(1300.0, abs=20)
    assert (r["bob_dtmf"], r["alice_dtmf"]) == ("12#", "9")
    assert r["held"] and r["resumed"]
    assert r["states"] == [("setup", 1, 1), ("ringing", 1, 1), ("connected", 1, 1),
                           ("disconnected", 1, 1)]  # fmt: skip
    assert r["regs"][0] == "registered"
    alice_cdr, bob_cdr = r["alice_cdr"], r["bob_cdr"]
    assert alice_cdr.direction == 1 and bob_cdr.direction == 2  # type: ignore[attr-defined]
    assert alice_cdr.caller == "alice" and alice_cdr.called == "bob"  # type: ignore[attr-defined]
    assert alice_cdr.discparty == 1 and bob_cdr.discparty == 2  # type: ignore[attr-defined]
    assert alice_cdr.codec == "PCMU" and alice_cdr.duration > 1.0  # type: ignore[attr-defined]
    assert alice_cdr.rtp["received"] > 50  # type: ignore[attr-defined]
    assert bob_cdr.reason.endswith("bye received")  # type: ignore[attr-defined]
