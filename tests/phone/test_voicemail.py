"""Message waiting (RFC 3842) through the public phone API: the phone
watches its mailbox at the server (here a second phone standing in for the
server's message-summary notifier) and reports each change as MWI; an
unsolicited NOTIFY, as some servers send, is taken too."""

from __future__ import annotations

import asyncio

import pytest

from sansip.bodies import MessageCount, MessageSummary, build_message_summary
from sansip.message import SipURI
from sansip.phone.aio import AsyncPhone

SUMMARY = "application/simple-message-summary"


def _summary(new: int, old: int) -> bytes:
    counts = (("voice-message", MessageCount(new, old, 0, 0)),)
    return build_message_summary(MessageSummary(new > 0, None, counts, ()))


async def _until(check: object, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)


@pytest.mark.timeout(30)
def test_message_waiting_subscribed_and_unsolicited() -> None:
    async def run() -> list[str]:
        notes: list[str] = []
        async with AsyncPhone(username="mailbox") as server:
            host, port = server.core.ua.endpoint.config.local
            server.core.ua.offer_events("message-summary", SUMMARY, _summary(0, 3))
            async with AsyncPhone(username="alice", serveraddress=f"{host}:{port}") as alice:
                alice.on_event(lambda _kind, message: notes.append(message))
                alice.checkvoicemail()
                await _until(lambda: any(n.startswith("MWI") for n in notes))
                server._command(lambda core, now: core.ua.publish_events(
                    "message-summary", _summary(2, 3), now))  # fmt: skip
                await _until(lambda: "MWI,1,2,3" in notes)
                alice_host, alice_port = alice.core.ua.endpoint.config.local
                target = SipURI(alice_host, "alice", port=alice_port)
                server._command(lambda core, now: core.ua.send_request(
                    "NOTIFY", target, now, body=_summary(5, 0), content_type=SUMMARY,
                    headers=[("Event", "message-summary"),
                             ("Subscription-State", "terminated")]))  # fmt: skip
                await _until(lambda: "MWI,1,5,0" in notes)
        return [n for n in notes if n.startswith("MWI")]

    assert asyncio.run(run()) == ["MWI,0,0,3", "MWI,1,2,3", "MWI,1,5,0"]
