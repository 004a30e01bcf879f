"""Instant messages and INFO DTMF between two phones on loopback, through
the public API: sendchat and the delivery report, the on_chat callback and
its notification strings, UTF-8 text, a blacklisted sender refused, a
message too long for UDP refused before sending, and DTMF by SIP INFO
(dtmfmode 1) reaching the other side's on_dtmf."""

from __future__ import annotations

import asyncio

import pytest

from sansip.errors import LocalProtocolError
from sansip.phone.aio import AsyncPhone
from sansip.phone.events import ChatReport, PhoneEvent


def _uri(phone: AsyncPhone, user: str) -> str:
    host, port = phone.core.ua.endpoint.config.local
    return f"sip:{user}@{host}:{port}"


@pytest.mark.timeout(30)
def test_a_chat_round_trip() -> None:
    async def run() -> tuple[list[tuple[str, str, int, str]], list[str], list[ChatReport]]:
        chats: list[tuple[str, str, int, str]] = []
        notes: list[str] = []
        reports: list[ChatReport] = []

        def report(event: PhoneEvent) -> None:
            if isinstance(event, ChatReport):
                reports.append(event)

        async with AsyncPhone(username="bob") as bob, AsyncPhone(username="alice") as alice:
            bob.on_chat(lambda peer, text, line, group: chats.append((peer, text, line, group)))
            bob.on_event(lambda _kind, message: notes.append(message))
            alice.on_phone_event(report)
            alice.sendchat(_uri(bob, "bob"), "héllo ☎ bob")
            for _ in range(100):
                if len(reports) >= 2:
                    break
                await asyncio.sleep(0.02)
        return chats, notes, reports

    chats, notes, reports = asyncio.run(run())
    assert chats == [("alice", "héllo ☎ bob", -1, "")]
    assert "CHAT,-1,alice,héllo ☎ bob" in notes
    assert [(r.peername, r.status, r.reason) for r in reports] == [
        ("bob", 1, ""), ("bob", 2, "200 OK")]  # fmt: skip


@pytest.mark.timeout(30)
def test_a_blacklisted_sender_is_refused_and_told() -> None:
    async def run() -> list[ChatReport]:
        reports: list[ChatReport] = []
        async with (
            AsyncPhone(username="bob", blacklist="alice") as bob,
            AsyncPhone(username="alice") as alice,
        ):  # fmt: skip
            alice.on_phone_event(lambda e: reports.append(e) if isinstance(e, ChatReport) else None)
            alice.sendchat(_uri(bob, "bob"), "let me in")
            for _ in range(100):
                if len(reports) >= 2:
                    break
                await asyncio.sleep(0.02)
        return reports

    reports = asyncio.run(run())
    assert (reports[-1].status, reports[-1].reason) == (3, "603 Decline")


def test_a_message_too_long_for_udp_is_refused_not_cut() -> None:
    async def run() -> None:
        async with AsyncPhone(username="alice") as alice:
            with pytest.raises(LocalProtocolError, match="TCP"):
                alice.sendchat("sip:bob@127.0.0.1:9", "x" * 5000)

    asyncio.run(run())


@pytest.mark.timeout(30)
def test_dtmf_by_sip_info() -> None:
    async def run() -> list[tuple[str, int]]:
        digits: list[tuple[str, int]] = []
        async with (
            AsyncPhone(username="bob", autoaccept=1) as bob,
            AsyncPhone(username="alice", dtmfmode=1) as alice,
        ):  # fmt: skip
            bob.on_dtmf(lambda digit, line: digits.append((digit, line)))
            call = await alice.call(_uri(bob, "bob"))
            await call.connected(timeout=5)
            call.dtmf("12*#")
            for _ in range(100):
                if len(digits) >= 4:
                    break
                await asyncio.sleep(0.02)
            sent = [e.first_line for e in alice.sipmessages() if e.first_line.startswith("INFO")]
            assert len(sent) == 4
        return digits

    assert asyncio.run(run()) == [("1", 1), ("2", 1), ("*", 1), ("#", 1)]


@pytest.mark.timeout(30)
def test_is_composing_both_ways() -> None:
    async def run() -> list[str]:
        notes: list[str] = []
        async with AsyncPhone(username="bob") as bob, AsyncPhone(username="alice") as alice:
            bob.on_event(lambda _kind, message: notes.append(message))
            alice.sendcomposing(_uri(bob, "bob"), True)
            alice.sendcomposing(_uri(bob, "bob"), False)
            for _ in range(100):
                if len([n for n in notes if n.startswith("CHATCOMPOSING")]) >= 2:
                    break
                await asyncio.sleep(0.02)
        return [n for n in notes if n.startswith("CHAT")]

    assert asyncio.run(run()) == ["CHATCOMPOSING,-1,alice,1", "CHATCOMPOSING,-1,alice,0"]
