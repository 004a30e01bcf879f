"""Session modification with re-INVITE (RFC 3261 §14) between two UAs on
the simulated network: hold and resume, refusal, glare (491), offer-less
re-INVITEs, and the failures that end the dialog (408, 481)."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from sansip.dialog.call import (
    Call,
    CallEvent,
    CallState,
    IncomingCall,
    ModificationFailed,
    OfferReceived,
    SessionUpdated,
)
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.errors import LocalProtocolError
from sansip.message import SipURI, parse
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.ua_node import UserAgentNode
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address

ALICE: Address = ("127.0.0.1", 5060)
BOB: Address = ("127.0.0.2", 5062)
BOB_URI = SipURI("127.0.0.2", "u5062", port=5062)


def sdp(version: int, direction: str = "sendrecv") -> bytes:
    return (
        f"v=0\r\no=- 1 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio 4000 RTP/AVP 0\r\na={direction}\r\n"
    ).encode()


ANSWER_TO = {"sendonly": "recvonly", "inactive": "inactive", "sendrecv": "sendrecv"}


class Phone(UserAgentNode):
    """A UA that answers calls, and answers offers per ``offers`` ('accept',
    'reject', 'ignore')."""

    def __init__(self, address: Address, seed: int, offers: str = "accept") -> None:
        super().__init__(UserAgent(EndpointConfig(address), UAConfig(user=f"u{address[1]}"),
                                   rng=random.Random(seed)))  # fmt: skip
        self.offers = offers
        self.calls: list[Call] = []
        self.version = 1

    def on_event(self, event: CallEvent, now: float) -> None:
        if isinstance(event, IncomingCall):
            self.calls.append(event.call)
            self.ua.answer(event.call, now, sdp=sdp(1))
        elif isinstance(event, OfferReceived) and self.offers != "ignore":
            if self.offers == "reject":
                self.ua.reject_offer(event.call, now, 488, '304 bob "Media type not available"')
                return
            self.version += 1
            if event.sdp:
                wanted = event.sdp.decode().split("a=")[-1].strip()
                self.ua.accept_offer(event.call, sdp(self.version, ANSWER_TO[wanted]), now)
            else:
                self.ua.accept_offer(event.call, sdp(self.version, "sendonly"), now)


def connected(
    bob_offers: str = "accept", **net: float
) -> tuple[Simulation, Phone, Phone, Call, Call]:
    sim = Simulation(VirtualClock(), SimNetwork(seed=int(net.pop("seed", 1)), **net))  # type: ignore[arg-type]
    alice, bob = Phone(ALICE, 1), Phone(BOB, 2, bob_offers)
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    call = alice.ua.call(BOB_URI, sim.now, sdp=sdp(1))
    assert sim.run_until(lambda: call.state is CallState.CONNECTED and bool(bob.calls), deadline=30)
    bob_call = bob.calls[0]
    assert sim.run_until(lambda: bob_call.retransmit_at is None, deadline=30)  # ACKed
    return sim, alice, bob, call, bob_call


def test_hold_and_resume() -> None:
    sim, alice, bob, call, bob_call = connected(delay=0.01)
    alice.ua.reinvite(call, sdp(2, "sendonly"), sim.now)
    assert sim.run_until(lambda: bool(alice.of(SessionUpdated)), deadline=5)
    [ours] = alice.of(SessionUpdated)
    [theirs] = bob.of(SessionUpdated)
    assert ours == SessionUpdated(call, sdp(2, "sendonly"), sdp(2, "recvonly"), by_peer=False)
    assert theirs == SessionUpdated(bob_call, sdp(2, "recvonly"), sdp(2, "sendonly"), by_peer=True)
    assert call.local_sdp == sdp(2, "sendonly") and bob_call.remote_sdp == sdp(2, "sendonly")
    assert sim.run_until(lambda: bob_call.retransmit_at is None, deadline=5)  # the ACK came
    alice.ua.reinvite(call, sdp(3), sim.now)  # resume
    assert sim.run_until(lambda: len(alice.of(SessionUpdated)) == 2, deadline=5)
    assert call.remote_sdp == sdp(3) and call.state is CallState.CONNECTED
    # The re-INVITEs used the dialog: CSeq 2 then 3, same Call-ID and tags.
    invites = [parse(e.data) for e in sim.network.trace if e.data.startswith(b"INVITE ")]
    assert [m.cseq.seq for m in invites] == [1, 2, 3]  # type: ignore[union-attr]
    assert {m.call_id for m in invites} == {call.call_id}


def test_hold_and_resume_survive_a_lossy_network() -> None:
    for seed in range(5):
        sim, alice, _bob, call, _ = connected(delay=0.02, jitter=0.01, loss=0.2, seed=seed)
        alice.ua.reinvite(call, sdp(2, "inactive"), sim.now)
        assert sim.run_until(lambda alice=alice: bool(alice.of(SessionUpdated)), deadline=30)
        assert call.remote_sdp == sdp(2, "inactive")
        assert call.state is CallState.CONNECTED


def test_a_refused_offer_keeps_the_session() -> None:
    sim, alice, _bob, call, _ = connected("reject", delay=0.01)
    alice.ua.reinvite(call, sdp(2, "sendonly"), sim.now)
    assert sim.run_until(lambda: bool(alice.of(ModificationFailed)), deadline=5)
    assert alice.of(ModificationFailed) == [ModificationFailed(call, 488)]
    assert call.state is CallState.CONNECTED and call.local_sdp == sdp(1)
    refusal = next(e.data for e in sim.network.trace if e.data.startswith(b"SIP/2.0 488"))
    assert b'Warning: 304 bob "Media type not available"' in refusal


def test_only_one_offer_at_a_time() -> None:
    sim, alice, _bob, call, _ = connected("ignore", delay=0.01)
    alice.ua.reinvite(call, sdp(2, "sendonly"), sim.now)
    with pytest.raises(LocalProtocolError):
        alice.ua.reinvite(call, sdp(3), sim.now)
    with pytest.raises(LocalProtocolError):
        alice.ua.accept_offer(call, sdp(3), sim.now)  # no offer waits for alice


def test_a_second_reinvite_while_one_is_unanswered_gets_500_with_retry_after() -> None:
    sim, alice, bob, call, bob_call = connected("ignore", delay=0.01)
    alice.ua.reinvite(call, sdp(2, "sendonly"), sim.now)
    assert sim.run_until(lambda: bool(bob.of(OfferReceived)), deadline=5)
    # Another INVITE in the dialog (as a misbehaving peer would send).
    assert call.dialog is not None
    second = call.dialog.create_request("INVITE", body=sdp(3))
    alice.ua.endpoint.send_request(second, BOB, sim.now)
    sim.run_for(0.5)
    answers = [parse(e.data) for e in sim.network.trace if e.src == BOB]
    [refusal] = [m for m in answers if getattr(m, "status", 0) == 500]
    assert refusal.headers.get("Retry-After") is not None  # type: ignore[union-attr]
    bob.ua.accept_offer(bob_call, sdp(2, "recvonly"), sim.now)  # the first one is still open
    assert sim.run_until(lambda: bool(alice.of(SessionUpdated)), deadline=5)


def test_glare_both_get_491_and_retry_apart() -> None:
    sim, alice, bob, call, bob_call = connected(delay=0.05)
    alice.ua.reinvite(call, sdp(2, "sendonly"), sim.now)
    bob.ua.reinvite(bob_call, sdp(2, "sendonly"), sim.now)
    assert sim.run_until(
        lambda: bool(alice.of(SessionUpdated)) and len(bob.of(SessionUpdated)) >= 2, deadline=20
    )
    refusals = [e for e in sim.network.trace if e.data.startswith(b"SIP/2.0 491")]
    assert len(refusals) == 2
    # Bob did not generate the Call-ID: he retries within 0-2 s; alice, its
    # owner, waits 2.1-4 s (§14.1), so bob's retry goes first and succeeds.
    bob_retry = [e for e in sim.network.trace if e.src == BOB and e.data.startswith(b"INVITE ")][1]
    alice_retry = [e for e in sim.network.trace if e.src == ALICE and e.data.startswith(b"INVITE ")]
    assert bob_retry.sent_at - refusals[0].sent_at <= 2.2
    assert 2.1 <= alice_retry[-1].sent_at - refusals[0].sent_at <= 4.2
    assert call.state is bob_call.state is CallState.CONNECTED


def test_offerless_reinvite_gets_our_offer_and_the_answer_comes_in_the_ack() -> None:
    sim, alice, bob, call, bob_call = connected(delay=0.01)
    assert call.dialog is not None
    request = call.dialog.create_request("INVITE", headers=[("Contact", alice.ua.contact)])
    alice.ua.endpoint.send_request(request, BOB, sim.now)
    assert sim.run_until(lambda: bool(bob.of(SessionUpdated)) or (bob_call.final is not None
                         and bob_call.answer_in_ack), deadline=5)  # fmt: skip
    assert bob.of(OfferReceived) == [OfferReceived(bob_call, b"")]
    assert bob_call.local_sdp == sdp(2, "sendonly") and not bob.of(SessionUpdated)
    ack = call.dialog.create_ack(request.cseq.seq, body=sdp(2, "recvonly"))
    alice.ua.endpoint.send_ack(ack, BOB, sim.now)
    assert sim.run_until(lambda: bool(bob.of(SessionUpdated)), deadline=5)
    assert bob.of(SessionUpdated) == [
        SessionUpdated(bob_call, sdp(2, "sendonly"), sdp(2, "recvonly"), by_peer=True)
    ]
    assert bob_call.retransmit_at is None


def test_481_to_a_reinvite_ends_the_call() -> None:
    sim, alice, bob, call, bob_call = connected(delay=0.01)
    sim.network.set_link(BOB, ALICE, both_ways=False, loss=1.0)  # bob's BYE is lost
    bob.ua.hangup(bob_call, sim.now)
    bob.process(sim.now)
    sim.run_for(40)
    sim.network.set_link(BOB, ALICE, both_ways=False, loss=0.0)
    assert call.state is CallState.CONNECTED  # alice never heard
    alice.ua.reinvite(call, sdp(2, "sendonly"), sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=sim.now + 5)
    assert alice.of(ModificationFailed) == [ModificationFailed(call, 481)]


def test_an_unanswered_reinvite_ends_the_call_after_timer_b() -> None:
    sim, alice, _bob, call, bob_call = connected("ignore", delay=0.01)
    start = sim.now
    sim.network.set_link(BOB, ALICE, both_ways=False, loss=1.0)  # nothing comes back
    alice.ua.reinvite(call, sdp(2, "sendonly"), sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=start + 100)
    assert sim.now == pytest.approx(start + 32.0)
    assert alice.of(ModificationFailed) == [ModificationFailed(call, 408)]
    sent = [e for e in sim.network.trace if e.src == ALICE and e.sent_at >= start]
    invites = [e.sent_at - start for e in sent if e.data.startswith(b"INVITE ")]
    assert [round(b - a, 3) for a, b in pairwise(invites)][:3] == [0.5, 1.0, 2.0]  # timer A
    # Goodbye, in case the peer is still there: bob hears the BYE.
    assert sim.run_until(lambda: bob_call.state is CallState.DISCONNECTED, deadline=sim.now + 1)
    assert bob_call.reason == "bye received"
