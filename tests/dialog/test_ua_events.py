"""One output: call, registration and drop events from one bounded
``next_event``, and bounded counters of what was dropped."""

from __future__ import annotations

import random
from typing import assert_never

import pytest

from sansip.dialog.call import (
    CallState,
    CallStateChanged,
    EarlyMediaReceived,
    IncomingCall,
    ModificationFailed,
    OfferReceived,
    RequestCompleted,
    SessionUpdated,
)
from sansip.dialog.events import MAX_PENDING_DROPS, UAEvent, UAEventQueue
from sansip.dialog.register import (
    Registered,
    RegistrationFailed,
    RegistrationState,
    RegistrationStateChanged,
    Unregistered,
)
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import SipURI
from sansip.server import RegistrarProxy
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.ua_node import UserAgentNode
from sansip.transaction.drops import RECENT_DROPS, DropCounters, DropKind, MessageDropped
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address

ALICE: Address = ("127.0.0.1", 5060)
BOB: Address = ("127.0.0.2", 5060)
SERVER: Address = ("127.0.0.9", 5060)
GARBAGE = b"\x00\x01 this is not SIP \xff\r\n\r\n"
FLOOD = 100_000


def describe(event: UAEvent) -> str:
    """Every kind of event a UA reports, handled once (the exhaustive dispatch)."""
    match event:
        case RegistrationStateChanged():
            return f"registration {event.new.value}"
        case Registered():
            return f"registered {event.expires}"
        case RegistrationFailed():
            return f"registration failed {event.status}"
        case Unregistered():
            return f"unregistered {event.status}"
        case IncomingCall():
            return "incoming call"
        case CallStateChanged():
            return f"call {event.new.value}"
        case RequestCompleted():
            return f"request completed {event.status}"
        case EarlyMediaReceived():
            return "early media"
        case OfferReceived():
            return "offer"
        case SessionUpdated():
            return "session updated"
        case ModificationFailed():
            return f"modification failed {event.status}"
        case MessageDropped():
            return f"dropped {event.kind.value}"
        case _:
            assert_never(event)


def _invite(call_id: str = "flood-1") -> bytes:
    return (
        f"INVITE sip:alice@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK{call_id}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.2>;tag=b1\r\nTo: <sip:alice@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.2:5060>\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def _drain(ua: UserAgent) -> list[UAEvent]:
    out = []
    while (event := ua.next_event()) is not None:
        out.append(event)
    return out


def test_a_flood_of_malformed_datagrams_stays_bounded_and_a_call_after_it_arrives() -> None:
    ua = UserAgent(EndpointConfig(ALICE), UAConfig(user="alice"), rng=random.Random(1))
    for i in range(FLOOD):
        ua.receive_datagram(GARBAGE, BOB, i * 1e-4)
    stats = ua.counters
    assert stats.malformed == stats.total == FLOOD and stats.answered == 0
    assert stats.discarded_events == FLOOD - MAX_PENDING_DROPS
    assert len(stats.recent) == RECENT_DROPS and stats.recent[-1].kind is DropKind.MALFORMED
    # What waits is bounded: the newest drop events, in one run, nothing else.
    queue = ua._events
    assert len(queue._drops) == MAX_PENDING_DROPS and len(queue._queue) == 1
    assert not ua.datagrams_to_send(10.0)  # nothing could be answered

    ua.receive_datagram(_invite(), BOB, 10.0)
    events = _drain(ua)
    assert [describe(e) for e in events] == [
        *["dropped malformed"] * MAX_PENDING_DROPS,
        "incoming call",
    ]
    assert isinstance(events[-1], IncomingCall) and events[-1].call.call_id == "flood-1"
    ua.answer(events[-1].call, 10.1)
    assert [describe(e) for e in _drain(ua)] == ["call connected"]
    assert ua.counters.total == FLOOD


def test_drops_between_call_events_keep_their_place() -> None:
    ua = UserAgent(EndpointConfig(ALICE), UAConfig(user="alice"), rng=random.Random(2))
    ua.receive_datagram(GARBAGE, BOB, 0.0)
    ua.receive_datagram(_invite("c1"), BOB, 0.1)
    for i in range(3 * MAX_PENDING_DROPS):
        ua.receive_datagram(GARBAGE, BOB, 0.2 + i * 1e-3)
    ua.receive_datagram(_invite("c2"), BOB, 0.5)
    ua.receive_datagram(GARBAGE, BOB, 0.6)
    got = [describe(e) for e in _drain(ua)]
    # The newest MAX_PENDING_DROPS drop events are left, each in its place.
    assert got == [
        "incoming call",
        *["dropped malformed"] * (MAX_PENDING_DROPS - 1),
        "incoming call",
        "dropped malformed",
    ]
    assert ua.counters.discarded_events == 3 * MAX_PENDING_DROPS + 2 - MAX_PENDING_DROPS
    assert ua.counters.malformed == 3 * MAX_PENDING_DROPS + 2
    assert ua.next_event() is None


def test_the_queue_never_discards_call_events_and_drops_its_oldest_drop_events() -> None:
    counters = DropCounters(keep=2)
    queue = UAEventQueue(counters, max_drops=2)
    drops = [MessageDropped(BOB, f"d{i}", False, DropKind.UNMATCHED) for i in range(5)]
    call_events = [ModificationFailed(None, 400 + i) for i in range(3)]  # type: ignore[arg-type]
    queue.drop(drops[0])
    queue.append(call_events[0])
    queue.drop(drops[1])
    queue.drop(drops[2])  # discards d0
    queue.drop(drops[3])  # discards d1
    queue.append(call_events[1])
    queue.drop(drops[4])  # discards d2
    queue.append(call_events[2])
    out = []
    while (event := queue.popleft()) is not None:
        out.append(event)
    assert out == [call_events[0], drops[3], call_events[1], drops[4], call_events[2]]
    stats = counters.snapshot()
    assert stats.unmatched == stats.total == 5 and stats.count(DropKind.UNMATCHED) == 5
    assert stats.discarded_events == 3 and stats.recent == (drops[3], drops[4])
    with pytest.raises(ValueError):
        UAEventQueue(counters, max_drops=0)


def test_registration_and_call_events_come_in_order_from_one_queue() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=5, delay=0.01))
    server = RegistrarProxy(EndpointConfig(SERVER), rng=random.Random(9))
    bob = UserAgentNode(UserAgent(EndpointConfig(BOB), UAConfig(user="bob"), rng=random.Random(3)))
    config = UAConfig(user="alice", outbound_proxy=SERVER)
    alice = UserAgentNode(UserAgent(EndpointConfig(ALICE), config, rng=random.Random(4)))
    for addr, node in ((SERVER, server), (ALICE, alice), (BOB, bob)):
        sim.attach(addr, node)  # type: ignore[arg-type]
    client = bob.ua.register(SipURI("127.0.0.9"), sim.now, expires=600)
    bob.process(sim.now)
    assert sim.run_until(lambda: client.state is RegistrationState.REGISTERED, deadline=5)
    call = alice.ua.call(SipURI("127.0.0.9", "bob"), sim.now)
    alice.process(sim.now)
    assert sim.run_until(lambda: bool(bob.of(IncomingCall)), deadline=10)
    incoming = bob.of(IncomingCall)[0].call
    bob.ua.ring(incoming, sim.now)
    bob.process(sim.now)
    assert sim.run_until(lambda: call.state is CallState.RINGING, deadline=10)
    bob.ua.answer(incoming, sim.now)
    bob.process(sim.now)
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=10)
    bob.ua.unregister(client, sim.now)
    bob.process(sim.now)
    assert sim.run_until(lambda: client.state is RegistrationState.UNREGISTERED, deadline=10)

    assert [describe(e) for e in bob.events] == [
        "registration registering",
        "registration registered",
        "registered 600",
        "incoming call",
        "call ringing",
        "call connected",
        "registration unregistering",
        "registration unregistered",
        "unregistered 200",
    ]
    registration_events = [e for e in bob.events if hasattr(e, "registration")]
    assert all(e.registration is client for e in registration_events)  # type: ignore[union-attr]
    assert [describe(e) for e in alice.events] == ["call ringing", "call connected"]
