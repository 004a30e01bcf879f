"""What happens to an incoming call before anyone answers it, through the
public phone API: forwarded always, on busy, on no answer (the caller
follows the 302 to the new target), forwarded by hand (``forward``),
answered by itself when the INVITE asks for it (Call-Info answer-after,
Answer-Mode), and shown as the network asserts the caller (RFC 3325)."""

from __future__ import annotations

import asyncio

import pytest

from sansip.phone.aio import AsyncPhone


def _uri(phone: AsyncPhone, user: str) -> str:
    host, port = phone.core.ua.endpoint.config.local
    return f"sip:{user}@{host}:{port}"


async def _forwarded(bob_params: dict[str, object], *, busy: bool = False,
                     by_hand: bool = False) -> tuple[str, str, float]:  # fmt: skip
    async with AsyncPhone(username="carol", autoaccept=1, signalingonly=1) as carol:
        params = {k: (_uri(carol, "carol") if v == "CAROL" else v) for k, v in bob_params.items()}
        caller = {"username": "alice", "signalingonly": 1, "disablesamecall": 0}
        async with AsyncPhone(username="bob", signalingonly=1, **params) as bob, \
                AsyncPhone(**caller) as alice:  # fmt: skip
            loop = asyncio.get_running_loop()
            if busy:
                first = await alice.call(_uri(bob, "bob"))
                (await bob.incoming(timeout=5)).accept()
                await first.connected(timeout=5)
            started = loop.time()
            call = await alice.call(_uri(bob, "bob"))
            if by_hand:
                await bob.incoming(timeout=5)
                bob.forward(_uri(carol, "carol"))
            await call.connected(timeout=10)
            took = loop.time() - started
            peer = call.peername
            records = [r.reason for r in bob.core.history]
            call.hangup()
            return peer, ",".join(records), took


@pytest.mark.timeout(40)
@pytest.mark.parametrize(("params", "busy", "reason", "slow"), [
    ({"callforwardalways": "CAROL"}, False, "forwardalways", False),
    ({"callforwardonbusy": "CAROL"}, True, "forwardonbusy", False),
    ({"callforwardonnoanswer": "CAROL", "callforwardonnoanswertimeout": 1}, False,
     "forwardonnoanswer", True),
])  # fmt: skip
def test_the_forwarding_rules(params: dict[str, object], busy: bool, reason: str,
                              slow: bool) -> None:  # fmt: skip
    peer, reasons, took = asyncio.run(_forwarded(params, busy=busy))
    assert peer == "bob"  # the call object keeps whom it was placed to
    assert reason in reasons
    assert (took >= 1.0) is slow


@pytest.mark.timeout(40)
def test_forward_by_hand() -> None:
    _peer, reasons, _took = asyncio.run(_forwarded({}, by_hand=True))
    assert "forward" in reasons.split(",")[-1]


@pytest.mark.timeout(40)
@pytest.mark.parametrize(("header", "delay"), [
    ("Call-Info: <sip:pbx>;answer-after=1", 1.0), ("Answer-Mode: Auto", 0.0)])  # fmt: skip
def test_an_invite_asking_for_an_automatic_answer(header: str, delay: float) -> None:
    async def run() -> float:
        fields = header + "\r\n"  # line breaks: the value holds a ';'
        async with AsyncPhone(username="bob", signalingonly=1, enableautoaccept=2) as bob, \
                AsyncPhone(username="alice", signalingonly=1, customsipheader=fields) as alice:
            loop = asyncio.get_running_loop()
            started = loop.time()
            call = await alice.call(_uri(bob, "bob"))
            await call.connected(timeout=10)
            return loop.time() - started

    took = asyncio.run(run())
    assert delay <= took < delay + 1.0


@pytest.mark.timeout(30)
def test_the_caller_as_the_network_asserts_it() -> None:
    async def run() -> tuple[str, str]:
        fields = 'P-Asserted-Identity: "Front Desk" <sip:100@pbx.example.com>\r\n'
        async with AsyncPhone(username="bob", signalingonly=1) as bob, \
                AsyncPhone(username="alice", signalingonly=1, customsipheader=fields) as alice:
            await alice.call(_uri(bob, "bob"))
            ringing = await bob.incoming(timeout=5)
            return ringing.peername, ringing.peerdisplayname

    assert asyncio.run(run()) == ("100", "Front Desk")


@pytest.mark.timeout(30)
def test_an_anonymous_caller() -> None:
    async def run() -> tuple[str, str, str]:
        hidden = {"username": "Anonymous", "sipusername": "alice", "signalingonly": 1}
        async with AsyncPhone(username="bob", signalingonly=1) as bob, \
                AsyncPhone(**hidden) as alice:  # fmt: skip
            await alice.call(_uri(bob, "bob"))
            ringing = await bob.incoming(timeout=5)
            return ringing.peername, ringing.peerdisplayname, bob.getsipheader("Privacy")

    assert asyncio.run(run()) == ("anonymous", "Anonymous", "id")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("choice", "header", "tail"),
    [(1, "P-Preferred-Identity", ""), (2, "P-Asserted-Identity", ""),
     (3, "Remote-Party-ID", ";party=calling;screen=no;privacy=off")],
)  # fmt: skip
def test_the_identity_our_calls_assert(choice: int, header: str, tail: str) -> None:
    """``identityheader`` adds the caller's address of record (the From,
    ``user@realm``) as P-Preferred-Identity, P-Asserted-Identity or
    Remote-Party-ID; the callee shows the caller by it."""

    async def run() -> tuple[str, str, str, str]:
        caller = {"username": "alice", "displayname": "Alice", "realm": "example.com",
                  "identityheader": choice, "signalingonly": 1}  # fmt: skip
        async with AsyncPhone(username="bob", signalingonly=1) as bob, \
                AsyncPhone(**caller) as alice:  # fmt: skip
            await alice.call(_uri(bob, "bob"))
            ringing = await bob.incoming(timeout=5)
            return (ringing.peername, ringing.peerdisplayname, bob.getsipheader(header),
                    bob.getsipheader("From"))  # fmt: skip

    peer, display, identity, from_ = asyncio.run(run())
    assert (peer, display) == ("alice", "Alice")
    assert identity == f'"Alice" <sip:alice@example.com>{tail}'
    assert from_.startswith('"Alice" <sip:alice@example.com>;tag=')


@pytest.mark.timeout(30)
def test_an_anonymous_caller_asks_the_proxy_to_withhold_its_identity() -> None:
    async def run() -> tuple[str, str]:
        hidden = {"username": "Anonymous", "sipusername": "alice", "identityheader": 3,
                  "realm": "example.com", "signalingonly": 1}  # fmt: skip
        async with AsyncPhone(username="bob", signalingonly=1) as bob, \
                AsyncPhone(**hidden) as alice:  # fmt: skip
            await alice.call(_uri(bob, "bob"))
            await bob.incoming(timeout=5)
            return bob.getsipheader("Remote-Party-ID"), bob.getsipheader("Privacy")

    rpid, privacy = asyncio.run(run())
    assert rpid == "<sip:alice@example.com>;party=calling;screen=no;privacy=full"
    assert privacy == "id"
