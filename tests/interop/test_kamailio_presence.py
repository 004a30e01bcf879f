"""Presence through Kamailio's presence server (RFC 3903 PUBLISH, RFC 3856
SUBSCRIBE, PIDF): bob registers and publishes his status, alice watches
bob through the server and sees it, then sees bob's change; a MESSAGE from
alice reaches bob through the proxy.  Busy lamps (RFC 4235 dialog package)
through the same server, fed by Kamailio itself (dialog + pua_dialoginfo):
carol watches bob while alice calls him through the proxy.  A MESSAGE from
sansip reaches PJSUA2 (PJSIP's Python binding) registered at the proxy."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sansip.phone.aio import AsyncPhone
from sansip.phone.siplog import RECEIVED
from tests.interop.peers import (
    free_udp_port,
    json_lines,
    pjsua2_events,
    sansip,
    start_kamailio,
    start_pjsua2,
    stop,
)

pytestmark = pytest.mark.interop


async def _until(check: Callable[[], object], seconds: float = 10.0) -> bool:
    """Wait until ``check()`` holds (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _wait(check: Callable[[], object], seconds: float) -> bool:
    """``_until`` for code outside the event loop."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


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


def _lamp_states(lamps: list[tuple[str, str, str, str]]) -> list[str]:
    """The states a watcher's lamp went through, each repeat counted once
    (the server may notify the same state twice)."""
    states: list[str] = []
    for _peer, _direction, state, _callid in lamps:
        if not states or states[-1] != state:
            states.append(state)
    return states


@pytest.mark.timeout(150)
def test_busy_lamp_of_a_call_through_kamailio(tmp_path: Path) -> None:
    """carol subscribes to bob's dialog state at Kamailio (checkblf); alice
    calls bob through the proxy, which follows the call (dialog module) and
    publishes its state to its own presence server (pua_dialoginfo); carol's
    lamp for bob is early while bob rings (he answers only once carol saw
    it), confirmed once he answers, terminated after alice hangs up."""
    port = free_udp_port()
    kamailio = start_kamailio(tmp_path, port, blf=True)

    async def run() -> tuple[list[tuple[str, str, str, str]], str, list[str]]:
        lamps: list[tuple[str, str, str, str]] = []
        warnings: list[str] = []
        server = f"127.0.0.1:{port}"
        async with AsyncPhone(serveraddress=server, username="bob", password="bob123") as bob, \
                AsyncPhone(serveraddress=server, username="alice",
                           password="alice123") as alice, \
                AsyncPhone(serveraddress=server, username="carol") as carol:  # fmt: skip
            carol.on_blf_state_change(lambda peer, direction, state, callid:
                                      lamps.append((peer, direction, state, callid)))  # fmt: skip
            for phone in (alice, bob, carol):
                phone.on_event(lambda _k, text: warnings.append(text) if "WARNING" in text
                               else None)  # fmt: skip
            await bob.register(timeout=30)
            await alice.register(timeout=30)
            carol.checkblf("bob")
            # The server's first NOTIFY (bob idle: no document) says carol watches.
            notified = await _until(lambda: any(
                e.direction == RECEIVED and e.first_line.startswith("NOTIFY ")
                for e in carol.sipmessages()), 30)  # fmt: skip
            assert notified, f"no NOTIFY for carol's dialog subscription {warnings}"
            call = await alice.call("bob")
            ringing = await bob.incoming(timeout=30)
            await _until(lambda: "early" in _lamp_states(lamps), 30)
            assert ringing.state == "ringing", ringing.state  # still ringing: not answered yet
            ringing.accept()
            await call.connected(timeout=30)
            await _until(lambda: "confirmed" in _lamp_states(lamps), 30)
            call.hangup()
            await call.ended(timeout=35)
            await _until(lambda: _lamp_states(lamps)[-1:] == ["terminated"]
                         and "confirmed" in _lamp_states(lamps), 30)  # fmt: skip
            return lamps, call.callid, warnings

    try:
        lamps, callid, warnings = asyncio.run(run())
    finally:
        stop(kamailio)
    log = (tmp_path / "kamailio.log").read_text(errors="replace")[-3000:]
    assert _lamp_states(lamps) == ["early", "confirmed", "terminated"], f"{lamps} {warnings}\n{log}"
    # every NOTIFY was about bob receiving this very call
    assert callid
    assert {(peer, direction, cid) for peer, direction, _state, cid in lamps} == {
        ("bob", "receiver", callid)
    }, lamps


TEXT = "Grüße aus Köln – 東京 ☎ 🎉"  # two, three and four bytes a character in UTF-8


@pytest.mark.timeout(150)
def test_message_from_sansip_to_pjsua2_through_kamailio(tmp_path: Path) -> None:
    """PJSUA2 registers at Kamailio as bob; ``sansip message bob TEXT`` as
    alice goes to the proxy, which relays it to PJSUA2's contact: PJSUA2's
    onInstantMessage has the very UTF-8 text, from alice, coming from the
    proxy's address, and sansip reports it delivered (200/202)."""
    port, pjsua2_port = free_udp_port(), free_udp_port()
    kamailio = start_kamailio(tmp_path, port)
    try:
        pjsua2 = start_pjsua2(tmp_path, pjsua2_port, registrar=f"127.0.0.1:{port}", user="bob",
                              password="bob123")  # fmt: skip
        try:
            registered = _wait(lambda: any(e["event"] == "registration" and e["code"] == 200
                                           for e in pjsua2_events(tmp_path)), 30)  # fmt: skip
            assert registered, pjsua2_events(tmp_path)
            done = subprocess.run(
                sansip("message", "bob", TEXT, "-p", f"serveraddress=127.0.0.1:{port}",
                       "-p", "username=alice", "-p", "password=alice123", "--json"),
                capture_output=True, timeout=90, check=False,
            )  # fmt: skip
            _wait(lambda: any(e["event"] == "message" for e in pjsua2_events(tmp_path)), 30)
        finally:
            stop(pjsua2)
    finally:
        stop(kamailio)
    log = (tmp_path / "kamailio.log").read_text(errors="replace")[-3000:]
    messages = [e for e in pjsua2_events(tmp_path) if e["event"] == "message"]
    assert done.returncode == 0, f"{done.stdout.decode()} {done.stderr.decode()}\n{log}"
    report = json_lines(done)
    assert [r["event"] for r in report] == ["sent"], report
    assert report[0]["status"] in (200, 202), report
    assert len(messages) == 1, f"{pjsua2_events(tmp_path)}\n{log}"
    message = messages[0]
    assert message["body"] == TEXT, message
    assert message["content_type"].startswith("text/plain"), message
    assert "sip:alice@127.0.0.1" in message["from"], message
    assert message["source"] == f"127.0.0.1:{port}", message  # relayed by the proxy
