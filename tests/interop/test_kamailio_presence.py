"""Presence through Kamailio's presence server (RFC 3903 PUBLISH, RFC 3856
SUBSCRIBE, PIDF): bob registers and publishes his status, alice watches
bob through the server and sees it, then sees bob's change; a MESSAGE from
alice reaches bob through the proxy."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sansip.phone.aio import AsyncPhone
from tests.interop.peers import free_udp_port, start_kamailio, stop

pytestmark = pytest.mark.interop


async def _until(check: object, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)


@pytest.mark.timeout(90)
def test_presence_and_a_message_through_kamailio(tmp_path: Path) -> None:
    port = free_udp_port()
    kamailio = start_kamailio(tmp_path, port, presence=True)

    async def run() -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]:
        seen: list[tuple[str, str]] = []
        chats: list[tuple[str, str]] = []
        warnings: list[str] = []
        server = f"127.0.0.1:{port}"
        async with AsyncPhone(serveraddress=server, username="bob", password="bob123") as bob, \
                AsyncPhone(serveraddress=server, username="alice",
                           password="alice123") as alice:  # fmt: skip
            bob.on_chat(lambda peer, text, _line, _group: chats.append((peer, text)))
            alice.on_presence_state_change(lambda peer, state, _d, _e: seen.append((peer, state)))
            for phone in (alice, bob):
                phone.on_event(lambda _k, text: warnings.append(text) if "WARNING" in text
                               else None)  # fmt: skip
            await bob.register()
            await alice.register()
            bob.setpresencestatus("Online")
            await asyncio.sleep(0.5)  # the server has it before anyone asks
            alice.checkpresence("bob")
            await _until(lambda: ("bob", "Available") in seen)
            bob.setpresencestatus("Away")
            await _until(lambda: ("bob", "Away") in seen)
            alice.sendchat("bob", "through the proxy")
            await _until(lambda: bool(chats))
        return seen, chats, warnings

    try:
        seen, chats, warnings = asyncio.run(run())
    finally:
        stop(kamailio)
    log = (tmp_path / "kamailio.log").read_text(errors="replace")[-3000:]
    assert ("bob", "Available") in seen, f"{seen} {warnings}\n{log}"
    assert ("bob", "Away") in seen, f"{seen} {warnings}\n{log}"
    assert chats == [("alice", "through the proxy")], log
