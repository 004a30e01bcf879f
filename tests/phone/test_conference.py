"""A three-party local conference through the public phone API: alice
calls bob and carol, joins both calls into her conference; bob hears
carol's tone and alice's, carol hears bob's and alice's, and nobody hears
itself; when carol leaves, bob and alice go on talking; dissolving gives
each call its own audio back."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from sansip.audio.analysis import tone_present
from sansip.phone.aio import AsyncPhone
from sansip.phone.audio import AudioPlan

RATE = 16000


class Heard:
    """The last second of what a phone heard."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def write(self, frame: Any) -> None:
        self.frames.append(np.asarray(frame, dtype=np.int16))
        del self.frames[:-50]

    def last(self) -> np.ndarray:
        return np.concatenate(self.frames[-40:]) if self.frames else np.zeros(0, np.int16)


def _uri(phone: AsyncPhone, user: str) -> str:
    host, port = phone.core.ua.endpoint.config.local
    return f"sip:{user}@{host}:{port}"


def _hears(heard: Heard, hz: float) -> bool:
    return tone_present(heard.last(), RATE, hz)


@pytest.mark.timeout(60)
def test_three_parties_hear_each_other_not_themselves() -> None:
    heard = {name: Heard() for name in ("alice", "bob", "carol")}
    tones = {"alice": 440.0, "bob": 900.0, "carol": 1500.0}

    def phone(name: str, **params: object) -> AsyncPhone:
        plan = AudioPlan(tone=tones[name], sink=heard[name])
        return AsyncPhone(username=name, codec="pcmu", audio=plan, **params)

    async def run() -> dict[str, dict[str, bool]]:
        seen: dict[str, dict[str, bool]] = {}
        async with phone("bob", autoaccept=1) as bob, phone("carol", autoaccept=1) as carol, \
                phone("alice") as alice:  # fmt: skip
            to_bob = await alice.call(_uri(bob, "bob"))
            await to_bob.connected(timeout=5)
            to_carol = await alice.call(_uri(carol, "carol"))
            await to_carol.connected(timeout=5)
            alice.conference()
            await asyncio.sleep(1.5)
            seen["joined"] = {f"{who}>{what}": _hears(heard[who], tones[what])
                              for who in tones for what in tones}  # fmt: skip
            alice.conference(str(to_carol.line), add=False)  # carol leaves
            to_carol.hangup()
            await asyncio.sleep(1.2)
            seen["after"] = {"bob>alice": _hears(heard["bob"], tones["alice"]),
                             "alice>bob": _hears(heard["alice"], tones["bob"]),
                             "bob>carol": _hears(heard["bob"], tones["carol"])}  # fmt: skip
            alice.conference("", add=False)
        return seen

    seen = asyncio.run(run())
    joined = seen["joined"]
    for who in tones:
        for what in tones:
            assert joined[f"{who}>{what}"] is (who != what), (who, what, joined)
    assert seen["after"] == {"bob>alice": True, "alice>bob": True, "bob>carol": False}
