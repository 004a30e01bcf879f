"""Call transfer (RFC 3515 REFER, RFC 3891 Replaces) between three UAs on
the simulated network: alice transfers bob to carol blind (bob calls carol
and reports through NOTIFY/sipfrag until 200), attended (bob's INVITE to
carol replaces alice's consultation call with carol), and the failures: a
REFER refused, a transfer target that is busy, a Replaces naming no call."""

from __future__ import annotations

import random

from sansip.dialog.call import (
    Call,
    CallEvent,
    CallState,
    CallStateChanged,
    IncomingCall,
    ReferReceived,
    TransferProgress,
)
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import Request, SipURI, parse
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.ua_node import UserAgentNode
from sansip.transaction.endpoint import EndpointConfig
from tests.dialog.test_reinvite import sdp

ALICE, BOB, CAROL = ("127.0.0.1", 5060), ("127.0.0.2", 5060), ("127.0.0.3", 5060)
ALLOW = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "UPDATE", "REFER", "NOTIFY")


def uri(name: str, address: tuple[str, int]) -> SipURI:
    return SipURI(address[0], name, port=address[1])


class Party(UserAgentNode):
    """Answers calls (``busy``: 486); follows REFERs by calling the target
    and reporting its progress; hangs up a call an INVITE replaces."""

    def __init__(self, name: str, address: tuple[str, int], *, busy: bool = False,
                 allow: tuple[str, ...] = ALLOW) -> None:  # fmt: skip
        super().__init__(UserAgent(EndpointConfig(address), UAConfig(user=name, allow=allow),
                                   rng=random.Random(address[0])))  # fmt: skip
        self.busy = busy
        self.calls: list[Call] = []
        self.referred: dict[Call, Call] = {}  # the new call -> the call the REFER came in

    def on_event(self, event: CallEvent, now: float) -> None:
        ua = self.ua
        if isinstance(event, IncomingCall):
            self.calls.append(event.call)
            if self.busy:
                ua.reject(event.call, now, 486)
                return
            ua.answer(event.call, now, sdp=sdp(1))
            if event.call.replaces is not None:
                ua.hangup(event.call.replaces, now)
        elif isinstance(event, ReferReceived):
            extra = [("Replaces", event.replaces)] if event.replaces else []
            new = ua.call(event.target, now, sdp=sdp(1), headers=extra)
            self.referred[new] = event.call
        elif isinstance(event, CallStateChanged) and event.call in self.referred:
            origin = self.referred[event.call]
            if event.new is CallState.RINGING:
                ua.transfer_progress(origin, 180, "Ringing", now)
            elif event.new is CallState.CONNECTED:
                ua.transfer_progress(origin, 200, "OK", now)
                ua.hangup(origin, now)
            elif event.new is CallState.DISCONNECTED and event.call.connected_at is None:
                ua.transfer_progress(origin, event.call.status or 487, event.reason, now)


def _world(**carol: object) -> tuple[Simulation, Party, Party, Party]:
    sim = Simulation(VirtualClock(), SimNetwork(seed=6, delay=0.01))
    parties = (Party("alice", ALICE), Party("bob", BOB), Party("carol", CAROL, **carol))  # type: ignore[arg-type]
    for party, address in zip(parties, (ALICE, BOB, CAROL), strict=True):
        sim.attach(address, party)
    return sim, *parties


def _connected(sim: Simulation, caller: Party, callee: Party, address: tuple[str, int],
               name: str) -> tuple[Call, Call]:  # fmt: skip
    call = caller.ua.call(uri(name, address), sim.now, sdp=sdp(1))
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=sim.now + 5)
    return call, callee.calls[-1]


def _progress(party: Party) -> list[tuple[int, bool]]:
    return [(e.status, e.final) for e in party.of(TransferProgress)]


def test_a_blind_transfer() -> None:
    sim, alice, bob, carol = _world()
    to_bob, at_bob = _connected(sim, alice, bob, BOB, "bob")
    alice.ua.refer(to_bob, uri("carol", CAROL), sim.now)
    assert sim.run_until(lambda: any(f for _, f in _progress(alice)), deadline=sim.now + 10)
    assert _progress(alice) == [(100, False), (200, True)]  # carol answered without ringing
    [bob_to_carol] = bob.referred
    assert bob_to_carol.state is CallState.CONNECTED
    assert carol.calls[-1].state is CallState.CONNECTED
    sim.run_for(1.0)
    assert at_bob.state is CallState.DISCONNECTED  # bob left alice once carol answered
    refer = next(parse(e.data) for e in sim.network.trace if e.data.startswith(b"REFER "))
    assert isinstance(refer, Request) and "carol@127.0.0.3" in str(refer.headers.get("Refer-To"))
    assert refer.headers.get("Referred-By") is not None
    assert any(e.data.startswith(b"SIP/2.0 202") for e in sim.network.trace)


def test_a_transfer_to_a_busy_target_fails() -> None:
    sim, alice, bob, _carol = _world(busy=True)
    to_bob, at_bob = _connected(sim, alice, bob, BOB, "bob")
    alice.ua.refer(to_bob, uri("carol", CAROL), sim.now)
    assert sim.run_until(lambda: any(f for _, f in _progress(alice)), deadline=sim.now + 10)
    assert _progress(alice)[-1] == (486, True)
    assert at_bob.state is CallState.CONNECTED and to_bob.state is CallState.CONNECTED


def test_a_refused_refer() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=6, delay=0.01))
    alice = Party("alice", ALICE)
    bob = Party("bob", BOB, allow=("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"))
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    to_bob, _ = _connected(sim, alice, bob, BOB, "bob")
    alice.ua.refer(to_bob, uri("carol", CAROL), sim.now)
    assert sim.run_until(lambda: bool(_progress(alice)), deadline=sim.now + 5)
    assert _progress(alice) == [(405, True)]


def test_an_attended_transfer_replaces_the_consultation_call() -> None:
    sim, alice, bob, carol = _world()
    to_bob, at_bob = _connected(sim, alice, bob, BOB, "bob")
    to_carol, at_carol = _connected(sim, alice, carol, CAROL, "carol")  # the consultation
    alice.ua.refer(to_bob, uri("carol", CAROL), sim.now, replacing=to_carol)
    assert sim.run_until(lambda: any(f for _, f in _progress(alice)), deadline=sim.now + 10)
    assert _progress(alice)[-1] == (200, True)
    invites = [parse(e.data) for e in sim.network.trace
               if e.src == BOB and e.data.startswith(b"INVITE ")]  # fmt: skip
    replaces = str(invites[-1].headers.get("Replaces"))
    assert replaces.startswith(to_carol.call_id)
    [bob_to_carol] = bob.referred
    sim.run_for(1.0)
    assert carol.calls[-1].replaces is at_carol
    assert at_carol.state is to_carol.state is CallState.DISCONNECTED  # replaced
    assert at_bob.state is CallState.DISCONNECTED  # bob left alice
    assert bob_to_carol.state is CallState.CONNECTED


def test_a_replaces_naming_no_call_gets_481() -> None:
    sim, _alice, bob, _carol = _world()
    call = bob.ua.call(uri("carol", CAROL), sim.now, sdp=sdp(1),
                       headers=[("Replaces", "nosuchcall@x;to-tag=a;from-tag=b")])  # fmt: skip
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=sim.now + 5)
    assert call.status == 481
