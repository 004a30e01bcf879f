"""Transfers through the public phone API, three phones on loopback: alice
transfers bob to carol blind (bob's phone follows the REFER, carol answers,
alice's and bob's first calls end), attended (alice talks to carol first,
then joins bob and carol: bob's INVITE replaces alice's call with carol),
and a transfer to a target that refuses (alice gets her call back)."""

from __future__ import annotations

import asyncio

import pytest

from sansip.phone.aio import AsyncPhone
from sansip.phone.events import PhoneEvent, TransferStatus


def _uri(phone: AsyncPhone, user: str) -> str:
    host, port = phone.core.ua.endpoint.config.local
    return f"sip:{user}@{host}:{port}"


async def _until(check: object, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)


@pytest.mark.timeout(40)
@pytest.mark.parametrize("attended", [False, True])
def test_alice_transfers_bob_to_carol(attended: bool) -> None:
    async def run() -> dict[str, object]:
        statuses: list[tuple[int, bool]] = []

        def note(event: PhoneEvent) -> None:
            if isinstance(event, TransferStatus):
                statuses.append((event.status, event.final))

        async with AsyncPhone(username="bob", autoaccept=1) as bob, \
                AsyncPhone(username="carol", autoaccept=1) as carol, \
                AsyncPhone(username="alice") as alice:  # fmt: skip
            alice.on_phone_event(note)
            to_bob = await alice.call(_uri(bob, "bob"))
            await to_bob.connected(timeout=5)
            if attended:
                to_carol = await alice.call(_uri(carol, "carol"))
                await to_carol.connected(timeout=5)
                alice.transfer("")
            else:
                alice.transfer(_uri(carol, "carol"))
            record = await to_bob.ended(timeout=10)
            await _until(lambda: len(bob.core.calls) == 1 and len(carol.core.calls) == 1)
            result: dict[str, object] = {
                "reason": record.reason, "statuses": statuses,
                "bob": [(c.peername, c.state) for c in bob.core.calls],
                "carol": [(c.peername, c.state) for c in carol.core.calls],
                "alice": [c.state for c in alice.core.calls],
            }
            if attended:
                result["consultation"] = (await to_carol.ended(timeout=10)).reason
            return result

    result = asyncio.run(run())
    assert str(result["reason"]).endswith("transfer done")
    assert result["statuses"][-1] == (200, True)  # type: ignore[index]
    assert result["bob"] == [("carol", "connected")]
    assert result["carol"] == [("bob", "connected")]
    assert result["alice"] == []
    if attended:
        assert str(result["consultation"]).endswith("bye received")  # carol replaced it


@pytest.mark.timeout(40)
def test_a_refused_transfer_gives_the_call_back() -> None:
    async def run() -> tuple[str, bool, list[str]]:
        warnings: list[str] = []
        async with AsyncPhone(username="bob", autoaccept=1) as bob, \
                AsyncPhone(username="carol", rejectonbusy=1, autoaccept=0) as carol, \
                AsyncPhone(username="alice") as alice:  # fmt: skip
            alice.on_event(lambda _kind, text: warnings.append(text))
            to_bob = await alice.call(_uri(bob, "bob"))
            await to_bob.connected(timeout=5)
            carol.on_call_state_change(
                lambda state, *_: carol.reject() if state == "ringing" else None)
            alice.transfer(_uri(carol, "carol"))
            await _until(lambda: any("transfer failed" in w for w in warnings))
            await _until(lambda: not to_bob.on_hold)
            return to_bob.state, to_bob.on_hold, warnings

    state, held, warnings = asyncio.run(run())
    assert state == "connected" and not held  # resumed after the failure
    assert any("transfer failed: 486" in w for w in warnings)
