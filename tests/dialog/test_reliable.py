"""Reliable provisional responses (RFC 3262) between two UAs on the
simulated network: alice's INVITE supports 100rel and bob prefers it, so
his 183 with SDP is sent reliably and PRACKed, his 2xx waits for that
PRACK; a lost PRACK brings retransmissions of the 183; a bob without
100rel sends plain 1xx; a 183 nobody PRACKs ends the call with 500 after
64*T1."""

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
REL = ("100rel",)
ALLOW = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "UPDATE", "PRACK")


class EarlyBob(UserAgentNode):
    """Answers with 183 and SDP at once, then 200 at ``answer_at`` seconds."""

    def __init__(self, supported: tuple[str, ...] = REL, answer_at: float = 0.3) -> None:
        config = UAConfig(user="bob", supported=supported, allow=ALLOW, prefer_100rel=True)
        super().__init__(UserAgent(EndpointConfig(BOB), config, rng=random.Random(2)))
        self.calls: list[Call] = []
        self.answer_at = answer_at
        self.due: float | None = None

    def on_event(self, event: CallEvent, now: float) -> None:
        if isinstance(event, IncomingCall):
            self.calls.append(event.call)
            self.ua.progress(event.call, now, sdp=sdp(1))
            self.due = now + self.answer_at

    def get_timer(self) -> float | None:
        timers = [t for t in (super().get_timer(), self.due) if t is not None]
        return min(timers, default=None)

    def handle_timer(self, now: float) -> None:
        if self.due is not None and now >= self.due and self.calls:
            self.due = None
            if self.calls[0].state is not CallState.DISCONNECTED:
                self.ua.answer(self.calls[0], now, sdp=sdp(1))
        super().handle_timer(now)


def _run(bob: EarlyBob, *, alice_supported: tuple[str, ...] = REL, loss_to_bob: float = 0.0,
         seconds: float = 3.0) -> tuple[Simulation, Call]:  # fmt: skip
    sim = Simulation(VirtualClock(), SimNetwork(seed=5, delay=0.01))
    alice = UserAgentNode(UserAgent(EndpointConfig(ALICE), UAConfig(
        user="alice", supported=alice_supported, allow=ALLOW), rng=random.Random(1)))  # fmt: skip
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    sim.network.set_link(ALICE, BOB, both_ways=False, loss=loss_to_bob)
    call = alice.ua.call(BOB_URI, sim.now, sdp=sdp(1))
    if loss_to_bob:
        sim.run_for(0.05)  # the INVITE goes through; then the PRACKs are lost
    sim.run_for(seconds)
    return sim, call


def _from(sim: Simulation, who: tuple[str, int], start: bytes) -> list[Request | Response]:
    return [parse(e.data) for e in sim.network.trace if e.src == who and e.data.startswith(start)]


def test_a_reliable_183_is_pracked_and_the_200_waits_for_it() -> None:
    sim, call = _run(EarlyBob())
    [early] = _from(sim, BOB, b"SIP/2.0 183")
    assert early.headers.get("Require") == "100rel" and early.headers.get("RSeq") is not None
    [prack] = _from(sim, ALICE, b"PRACK ")
    rseq = str(early.headers.get("RSeq"))
    assert str(prack.headers.get("RAck")) == f"{rseq} 1 INVITE"
    assert [m.status for m in _from(sim, BOB, b"SIP/2.0 200")] == [200, 200]  # PRACK, INVITE
    assert call.state is CallState.CONNECTED


def test_a_lost_prack_brings_retransmissions_and_holds_the_200() -> None:
    bob = EarlyBob(answer_at=0.2)
    sim = Simulation(VirtualClock(), SimNetwork(seed=5, delay=0.01))
    alice = UserAgentNode(UserAgent(EndpointConfig(ALICE), UAConfig(
        user="alice", supported=REL, allow=ALLOW), rng=random.Random(1)))  # fmt: skip
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    call = alice.ua.call(BOB_URI, sim.now, sdp=sdp(1))
    sim.run_for(0.015)  # the INVITE reached bob
    sim.network.set_link(ALICE, BOB, both_ways=False, loss=1.0)  # alice's PRACKs are lost
    sim.run_for(2.0)
    assert len(_from(sim, BOB, b"SIP/2.0 183")) >= 3  # at T1, 2T1, 4T1 ...
    assert not _from(sim, BOB, b"SIP/2.0 200")  # the 2xx waits for the PRACK
    sim.network.set_link(ALICE, BOB, both_ways=False, loss=0.0)
    sim.run_for(5.0)
    assert call.state is CallState.CONNECTED


def test_without_100rel_the_1xx_are_plain() -> None:
    sim, call = _run(EarlyBob(supported=()), alice_supported=REL, seconds=1.0)
    assert call.state is CallState.CONNECTED
    [early] = _from(sim, BOB, b"SIP/2.0 183")
    assert early.headers.get("RSeq") is None and not _from(sim, ALICE, b"PRACK ")


def test_no_prack_in_64_t1_ends_the_call_with_500() -> None:
    bob = EarlyBob(answer_at=100.0)
    sim = Simulation(VirtualClock(), SimNetwork(seed=5, delay=0.01))
    alice = UserAgentNode(UserAgent(EndpointConfig(ALICE), UAConfig(
        user="alice", supported=REL, allow=ALLOW), rng=random.Random(1)))  # fmt: skip
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    alice.ua.call(BOB_URI, sim.now, sdp=sdp(1))
    sim.run_for(0.015)
    sim.network.set_link(ALICE, BOB, both_ways=False, loss=1.0)
    sim.run_for(40.0)
    assert bob.calls[0].state is CallState.DISCONNECTED and bob.calls[0].status == 500
