"""Session timers (RFC 4028) between two UAs on the simulated network: the
interval agreed in the INVITE/2xx, refreshes by UPDATE at half the
interval keeping the call up, a 422 answered with the interval it asks
for, and a session that expires (BYE) when the refreshes stop coming."""

from __future__ import annotations

import random

from sansip.dialog.call import Call, CallEvent, CallState, IncomingCall
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import Request, Response, SipURI, parse
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.ua_node import UserAgentNode
from sansip.transaction.endpoint import EndpointConfig
from tests.dialog.test_reinvite import ALICE, BOB, sdp

BOB_URI = SipURI(BOB[0], "bob", port=BOB[1])


class Answering(UserAgentNode):
    def __init__(self, address: tuple[str, int], name: str, **config: int) -> None:
        super().__init__(UserAgent(EndpointConfig(address), UAConfig(user=name, **config),
                                   rng=random.Random(len(name))))  # fmt: skip
        self.calls: list[Call] = []

    def on_event(self, event: CallEvent, now: float) -> None:
        if isinstance(event, IncomingCall):
            self.calls.append(event.call)
            self.ua.answer(event.call, now, sdp=sdp(1))


def _call(alice_config: dict[str, int], bob_config: dict[str, int],
          **net: float) -> tuple[Simulation, Answering, Answering, Call]:  # fmt: skip
    sim = Simulation(VirtualClock(), SimNetwork(seed=4, **net))  # type: ignore[arg-type]
    alice, bob = Answering(ALICE, "alice", **alice_config), Answering(BOB, "bob", **bob_config)
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    call = alice.ua.call(BOB_URI, sim.now, sdp=sdp(1))
    assert sim.run_until(lambda: call.state is CallState.CONNECTED and bool(bob.calls), deadline=10)
    return sim, alice, bob, call


def _sent(sim: Simulation, start: bytes) -> list[Request | Response]:
    return [parse(e.data) for e in sim.network.trace if e.data.startswith(start)]


def test_the_interval_is_agreed_and_updates_keep_the_call_up() -> None:
    sim, _alice, bob, call = _call({"session_expires": 90}, {"session_expires": 1800}, delay=0.01)
    [invite] = _sent(sim, b"INVITE ")
    assert invite.headers.get("Session-Expires") == "90"
    assert "timer" in str(invite.headers.get("Supported"))
    ok = next(m for m in _sent(sim, b"SIP/2.0 200") if m.cseq.method == "INVITE")
    assert str(ok.headers.get("Session-Expires")).startswith("90;refresher=")
    sim.run_for(200)
    updates = _sent(sim, b"UPDATE ")
    assert 3 <= len(updates) <= 5  # every 45 s
    assert all(u.body == b"" for u in updates)
    assert call.state is bob.calls[0].state is CallState.CONNECTED


def test_a_422_is_answered_with_the_interval_it_asks_for() -> None:
    bob_config = {"session_expires": 1800, "min_se": 300}
    sim, _alice, bob, call = _call({"session_expires": 90}, bob_config, delay=0.01)
    refusal = next(m for m in _sent(sim, b"SIP/2.0 422"))
    assert refusal.headers.get("Min-SE") == "300"
    invites = _sent(sim, b"INVITE ")
    assert [i.headers.get("Session-Expires") for i in invites] == ["90", "300"]
    assert call.state is CallState.CONNECTED and bob.calls[0].session_timer is not None
    assert bob.calls[0].session_timer.interval == 300


def test_the_session_expires_when_the_refreshes_stop() -> None:
    sim, _alice, bob, _ = _call({"session_expires": 90}, {"session_expires": 90}, delay=0.01)
    bob_call = bob.calls[0]
    timer = bob_call.session_timer
    assert timer is not None and not timer.we_refresh  # alice (the UAC) refreshes
    sim.network.set_link(ALICE, BOB, both_ways=False, loss=1.0)  # alice's refreshes are lost
    start = sim.now
    assert sim.run_until(lambda: bob_call.state is CallState.DISCONNECTED, deadline=start + 120)
    assert 55 <= sim.now - start <= 65  # 90 - min(32, 90/3) = 60 s
    assert bob_call.reason == "session expired"
    sim.run_for(0.5)
    [bye] = _sent(sim, b"BYE ")
    assert isinstance(bye, Request) and bye.from_.uri == bob_call.invite.to.uri  # bob's
