"""Calls that meet a digest challenge or a redirect before they connect."""

from __future__ import annotations

import random

from sansip.dialog.call import CallState
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import Challenge, Request, SipURI, make_response, parse
from sansip.message import headers as h
from sansip.message.digest import verify
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Datagram

ALICE: Address = ("127.0.0.1", 5060)
GATE: Address = ("127.0.0.5", 5060)
BOB: Address = ("127.0.0.2", 5062)


class Gate:
    """Challenges an INVITE with 407 until it carries good credentials, then
    either answers it (200, then takes ACK and BYE) or redirects (302)."""

    def __init__(self, *, redirect_to: str | None = None, password: str = "pw") -> None:
        self.outbox: list[Datagram] = []
        self.redirect_to = redirect_to
        self.password = password
        self.seen: list[Request] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        request = parse(data)
        if not isinstance(request, Request):
            return
        self.seen.append(request)
        if request.method == "ACK":
            return
        if request.method == "BYE":
            self.outbox.append((bytes(make_response(request, 200)), addr))
            return
        credentials = request.headers.parsed(h.PROXY_AUTHORIZATION)
        if self.redirect_to is None and not (
            credentials and verify(credentials[0], method="INVITE", password=self.password)
        ):
            challenge = Challenge.digest(realm="gate", nonce=f"n{len(self.seen)}", qop="auth")
            response = make_response(request, 407, to_tag="g",
                                     headers=[("Proxy-Authenticate", challenge)])  # fmt: skip
        elif self.redirect_to is not None:
            response = make_response(request, 302, to_tag="g",
                                     headers=[("Contact", f"<{self.redirect_to}>")])  # fmt: skip
        else:
            contact = ("Contact", "<sip:gate@127.0.0.5:5060>")
            response = make_response(request, 200, to_tag="g", headers=[contact])
        self.outbox.append((bytes(response), addr))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


def _alice(password: str) -> UserAgent:
    config = UAConfig(user="alice", auth_username="alice", auth_password=password)
    return UserAgent(EndpointConfig(ALICE), config, rng=random.Random(5))


def test_a_407_is_answered_with_credentials() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=1, delay=0.01))
    alice, gate = _alice("pw"), Gate()
    sim.attach(ALICE, alice)
    sim.attach(GATE, gate)
    call = alice.call(SipURI("127.0.0.5", "bob"), sim.now)
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    invites = [r for r in gate.seen if r.method == "INVITE"]
    assert len(invites) == 2
    assert invites[1].cseq.seq == invites[0].cseq.seq + 1
    assert invites[1].call_id == invites[0].call_id
    assert invites[1].from_.tag == invites[0].from_.tag
    assert invites[1].top_via.branch != invites[0].top_via.branch
    sim.run_for(0.1)  # let the ACK of the 200 arrive
    acks = [r for r in gate.seen if r.method == "ACK"]
    assert [a.cseq.seq for a in acks] == [1, 2]  # the 407's ACK, then the 200's


def test_a_wrong_password_ends_the_call() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=1, delay=0.01))
    alice, gate = _alice("nope"), Gate()
    sim.attach(ALICE, alice)
    sim.attach(GATE, gate)
    call = alice.call(SipURI("127.0.0.5", "bob"), sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=5)
    assert call.status == 407
    assert len([r for r in gate.seen if r.method == "INVITE"]) == 2


def test_a_302_is_followed_to_the_new_target() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=1, delay=0.01))
    alice = _alice("pw")
    gate = Gate(redirect_to="sip:bob@127.0.0.2:5062")
    bob = UserAgent(EndpointConfig(BOB), UAConfig(user="bob"), rng=random.Random(6))
    sim.attach(ALICE, alice)
    sim.attach(GATE, gate)
    sim.attach(BOB, bob)
    call = alice.call(SipURI("127.0.0.5", "bob"), sim.now)

    def bob_answers() -> bool:
        while (event := bob.next_event()) is not None:
            incoming = getattr(event, "call", None)
            if incoming is not None and type(event).__name__ == "IncomingCall":
                bob.answer(incoming, sim.now)
        return call.state is CallState.CONNECTED

    assert sim.run_until(bob_answers, deadline=5)
    assert call.redirects == 1 and call.peer == BOB
    assert str(call.invite.uri) == "sip:bob@127.0.0.2:5062"
