"""Presence and busy lamps between phones on loopback, through the public
API: bob publishes his status to watchers (peer to peer), alice watches it
change; alice watches bob's lamp while carol calls him (early, confirmed,
terminated); a user that cannot be watched reads Unknown / failed."""

from __future__ import annotations

import asyncio

import pytest

from sansip.phone.aio import AsyncPhone


def _uri(phone: AsyncPhone, user: str) -> str:
    host, port = phone.core.ua.endpoint.config.local
    return f"sip:{user}@{host}:{port}"


async def _until(check: object, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)


@pytest.mark.timeout(30)
def test_presence_both_ways() -> None:
    async def run() -> tuple[list[tuple[str, str]], list[str]]:
        seen: list[tuple[str, str]] = []
        notes: list[str] = []
        async with AsyncPhone(username="bob") as bob, AsyncPhone(username="alice") as alice:
            bob.setpresencestatus("Online")
            alice.on_presence_state_change(lambda peer, presence, _d, _e: seen.append(
                (peer, presence)))  # fmt: skip
            alice.on_event(lambda _kind, message: notes.append(message))
            alice.checkpresence(_uri(bob, "bob"))
            await _until(lambda: bool(seen))
            bob.setpresencestatus("Away", "back soon")
            await _until(lambda: len(seen) >= 2)
        return seen, [n for n in notes if n.startswith("PRESENCE")]

    seen, notes = asyncio.run(run())
    assert seen[:2] == [("bob", "Available"), ("bob", "Away")]
    assert "PRESENCE,bob,Away,back soon,," in notes


@pytest.mark.timeout(30)
def test_a_busy_lamp_follows_a_call() -> None:
    async def run() -> list[tuple[str, str]]:
        lamps: list[tuple[str, str]] = []
        async with AsyncPhone(username="bob") as bob, AsyncPhone(username="alice") as alice, \
                AsyncPhone(username="carol") as carol:  # fmt: skip
            alice.on_blf_state_change(lambda peer, direction, state, _c: lamps.append(
                (direction, state)))  # fmt: skip
            alice.checkblf(_uri(bob, "bob"))
            await _until(lambda: bool(lamps))
            call = await carol.call(_uri(bob, "bob"))
            ringing = await bob.incoming(timeout=5)
            await _until(lambda: ("receiver", "early") in lamps)
            ringing.accept()
            await call.connected(timeout=5)
            await _until(lambda: ("receiver", "confirmed") in lamps)
            call.hangup()
            await call.ended(timeout=5)
            await _until(lambda: lamps[-1][1] == "terminated")
        return lamps

    lamps = asyncio.run(run())
    assert lamps[0] == ("undefined", "terminated")  # bob idle at first
    assert ("receiver", "early") in lamps and ("receiver", "confirmed") in lamps
    assert lamps[-1][1] == "terminated"


@pytest.mark.timeout(30)
def test_a_user_who_cannot_be_watched() -> None:
    async def run() -> tuple[list[str], list[str]]:
        presence: list[str] = []
        lamps: list[str] = []
        async with AsyncPhone(username="bob", signalingonly=1) as bob, \
                AsyncPhone(username="alice") as alice:  # fmt: skip
            alice.on_presence_state_change(lambda _p, state, _d, _e: presence.append(state))
            alice.on_blf_state_change(lambda _p, _d, state, _c: lamps.append(state))
            alice.checkpresence(_uri(bob, "bob"))  # bob publishes no presence: 489
            await _until(lambda: bool(presence))
        return presence, lamps

    presence, _lamps = asyncio.run(run())
    assert presence == ["Unknown"]
