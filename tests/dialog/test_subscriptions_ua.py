"""SUBSCRIBE/NOTIFY between two UAs on the simulated network: bob offers
his presence, alice subscribes and gets it, bob's change reaches her, she
unsubscribes; a package bob does not offer is refused with 489."""

from __future__ import annotations

import random

from sansip.bodies import build_pidf, parse_pidf, presence_status
from sansip.dialog.call import NotificationReceived, SubscriptionEnded
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import SipURI
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.ua_node import UserAgentNode
from sansip.transaction.endpoint import EndpointConfig

ALICE, BOB = ("127.0.0.1", 5060), ("127.0.0.2", 5060)
ALLOW = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "SUBSCRIBE", "NOTIFY")
PIDF = "application/pidf+xml"


def _pair() -> tuple[Simulation, UserAgentNode, UserAgentNode]:
    sim = Simulation(VirtualClock(), SimNetwork(seed=8, delay=0.01))
    alice = UserAgentNode(UserAgent(EndpointConfig(ALICE), UAConfig(user="alice", allow=ALLOW),
                                    rng=random.Random(1)))  # fmt: skip
    bob = UserAgentNode(UserAgent(EndpointConfig(BOB), UAConfig(user="bob", allow=ALLOW),
                                  rng=random.Random(2)))  # fmt: skip
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    return sim, alice, bob


def _statuses(node: UserAgentNode) -> list[tuple[str, str]]:
    return [(e.state, presence_status(parse_pidf(e.body)))
            for e in node.of(NotificationReceived) if e.body]  # fmt: skip


def test_presence_subscribe_notify_change_unsubscribe() -> None:
    sim, alice, bob = _pair()
    bob.ua.offer_events("presence", PIDF, build_pidf("sip:bob@127.0.0.2", "online"))
    sub = alice.ua.subscribe(SipURI("127.0.0.2", "bob", port=5060), "presence", sim.now,
                             expires=600)  # fmt: skip
    assert sim.run_until(lambda: bool(_statuses(alice)), deadline=5)
    assert _statuses(alice) == [("active", "online")]
    bob.ua.publish_events("presence", build_pidf("sip:bob@127.0.0.2", "away"), sim.now)
    bob.process(sim.now)
    assert sim.run_until(lambda: len(_statuses(alice)) == 2, deadline=sim.now + 5)
    assert _statuses(alice)[-1] == ("active", "away")
    alice.ua.unsubscribe(sub, sim.now)
    alice.process(sim.now)
    assert sim.run_until(lambda: bool(alice.of(SubscriptionEnded)), deadline=sim.now + 5)
    sim.run_for(700)  # no refresh, nothing left running
    assert len(alice.of(SubscriptionEnded)) == 1


def test_a_package_not_offered_gets_489() -> None:
    sim, alice, _bob = _pair()
    alice.ua.subscribe(SipURI("127.0.0.2", "bob", port=5060), "dialog", sim.now)
    assert sim.run_until(lambda: bool(alice.of(SubscriptionEnded)), deadline=5)
    [ended] = alice.of(SubscriptionEnded)
    assert ended.status == 489 and ended.package == "dialog"
