"""The phone's call policies through the registrar: a blacklisted caller
gets 603, a dial string's digits follow the connect, a busy phone with
rejectonbusy answers 486, disablesamecall refuses a second call to the
same peer, autohold holds the connected call when another incoming one is
answered; delsettings and delallcontacts empty the history file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sansip.errors import LocalProtocolError
from sansip.phone.aio import AsyncPhone
from tests.phone.conftest import registrar_thread

USERS = {"alice": "a-secret", "bob": "b-secret", "carol": "c-secret", "dave": "d-secret"}


def _phone(server: str, user: str, **params: object) -> AsyncPhone:
    return AsyncPhone(serveraddress=server, username=user, password=USERS[user], **params)


async def _scenario(server: str) -> dict[str, object]:
    r: dict[str, object] = {}
    async with (
        _phone(server, "alice") as alice,
        _phone(server, "bob", autoaccept=1, rejectonbusy=1) as bob,
        _phone(server, "carol", blacklist="alice") as carol,
        _phone(server, "dave", autohold=1) as dave,
    ):  # fmt: skip
        for phone in (alice, bob, carol, dave):
            await phone.register()
        blocked = await alice.call("carol")
        r["blacklisted"] = (await blocked.ended(timeout=5)).reason
        digits: list[str] = []
        bob.on_dtmf(lambda dtmf, _line: digits.append(dtmf))
        first = await alice.call("bob,12")  # a dial string: the digits after connect
        await first.connected(timeout=5)
        for _ in range(150):
            if len(digits) == 2:
                break
            await asyncio.sleep(0.02)
        r["dialstring"] = "".join(digits)
        try:
            await alice.call("bob")
            r["samecall"] = "allowed"
        except LocalProtocolError as exc:
            r["samecall"] = str(exc)
        busy = await carol.call("bob")
        r["busy"] = (await busy.ended(timeout=5)).reason
        first.hangup()
        await first.ended(timeout=5)
        # dave (autohold 1) talks to carol, then answers bob: carol's call is held.
        held = await carol.call("dave")
        (await dave.incoming(timeout=5)).accept()
        await held.connected(timeout=5)
        second = await bob.call("dave")
        (await dave.incoming(timeout=5)).accept()
        await second.connected(timeout=5)
        await asyncio.sleep(0.3)
        r["autohold"] = (dave.isonhold(1), dave.isonhold(2))
    return r


@pytest.mark.timeout(60)
def test_call_policies() -> None:
    with registrar_thread(USERS) as server:
        r = asyncio.run(_scenario(server))
    assert str(r["blacklisted"]).startswith("603")
    assert r["dialstring"] == "12"
    assert "already in a call with bob" in str(r["samecall"])
    assert str(r["busy"]).startswith("486")
    assert r["autohold"] == (True, False)


def test_delsettings_and_delallcontacts_empty_the_history(tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    phone = AsyncPhone(history=path)
    phone.setparameter("jittersize", 5)
    assert phone.addcontact("Bob", "bob") and phone.addcontact("Carol", "carol")
    assert phone.delallcontacts() == 2 and phone.listcontacts() == ""
    phone.delsettings(1)
    phone._close_history()
    again = AsyncPhone(history=path)
    assert again.getparameter("jittersize") == "3"  # the default again
    again._close_history()
