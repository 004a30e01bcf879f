"""Ordered failover (RFC 3263 §4.3): an INVITE or a REGISTER moves on to the
next target after a timeout, a transport error or a 503."""

from __future__ import annotations

import random

import pytest

from sansip.dialog.call import CallState, IncomingCall
from sansip.dialog.register import Registered, RegistrationFailed, RegistrationState
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.errors import LocalProtocolError
from sansip.message import Request, SipURI, make_response, parse
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.resolve import Target
from sansip.transport.types import Address, Datagram, Transport

ALICE: Address = ("127.0.0.1", 5060)
FIRST: Address = ("127.0.0.3", 5060)
SECOND: Address = ("127.0.0.4", 5060)
TARGET = SipURI("pbx.test", "bob")  # a host name: only the given targets are used


class Server:
    """Answers every request with ``status`` (200 with a Contact for INVITE
    and REGISTER when ``status`` is 200) and records what it got."""

    def __init__(self, address: Address, status: int = 200) -> None:
        self.address = address
        self.status = status
        self.outbox: list[Datagram] = []
        self.seen: list[tuple[float, Request]] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        request = parse(data)
        if not isinstance(request, Request):
            return
        self.seen.append((now, request))
        if request.method == "ACK":
            return
        headers: list[tuple[str, object]] = []
        if self.status == 200 and request.method == "INVITE":
            headers = [("Contact", f"<sip:bob@{self.address[0]}:{self.address[1]}>")]
        elif self.status == 200 and request.method == "REGISTER":
            headers = [("Contact", request.contacts[0].with_params(expires="120"))]
        response = make_response(request, self.status, to_tag="s", headers=headers)
        self.outbox.append((bytes(response), addr))

    def requests(self, method: str) -> list[tuple[float, Request]]:
        return [(t, r) for t, r in self.seen if r.method == method]

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


def _setup(
    first_status: int = 200, second_status: int = 200, *, proxy: Address | None = None
) -> tuple[Simulation, UserAgent, Server, Server]:
    sim = Simulation(VirtualClock(), SimNetwork(seed=1, delay=0.01))
    config = UAConfig(user="alice", outbound_proxy=proxy)
    alice = UserAgent(EndpointConfig(ALICE), config, rng=random.Random(7))
    first, second = Server(FIRST, first_status), Server(SECOND, second_status)
    sim.attach(ALICE, alice)
    sim.attach(FIRST, first)
    sim.attach(SECOND, second)
    return sim, alice, first, second


def test_a_dead_first_target_times_out_then_the_second_answers() -> None:
    sim, alice, first, second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=60)
    # Timer A retransmits at 0.5, 1.5, 3.5, ... 31.5 s; timer B gives up at 64*T1 = 32 s.
    assert sim.network.stats(ALICE, FIRST).sent == 7 and not first.seen
    (at, invite), = second.requests("INVITE")  # fmt: skip
    assert at == pytest.approx(32.01)
    assert sim.now == pytest.approx(32.02)
    assert call.peer == SECOND and call.status == 200
    assert invite.cseq.seq == 2 and invite.call_id == call.call_id
    assert invite.from_.tag == call.invite.from_.tag
    sim.run_for(0.1)
    assert [r.cseq.seq for _, r in second.requests("ACK")] == [2]


def test_a_503_moves_on_at_once_and_is_acked() -> None:
    sim, alice, first, second = _setup(first_status=503)
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    assert sim.now == pytest.approx(0.04)
    sim.run_for(0.1)
    assert [r.method for _, r in first.seen] == ["INVITE", "ACK"]
    (_, tried), = first.requests("INVITE")  # fmt: skip
    (_, invite), = second.requests("INVITE")  # fmt: skip
    assert (tried.cseq.seq, invite.cseq.seq) == (1, 2)
    assert tried.top_via.branch != invite.top_via.branch
    assert tried.call_id == invite.call_id and tried.from_.tag == invite.from_.tag


def test_the_call_fails_only_when_every_target_failed() -> None:
    sim, alice, first, second = _setup(first_status=503, second_status=503)
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=5)
    assert call.status == 503 and len(second.requests("INVITE")) == 1
    assert len(first.requests("INVITE")) == 1

    sim, alice, _first, second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    sim.network.set_link(ALICE, SECOND, loss=1.0)
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=100)
    assert sim.now == pytest.approx(64.0)
    assert (call.status, call.reason) == (408, "no response")


def test_other_failures_do_not_fail_over() -> None:
    sim, alice, _first, second = _setup(first_status=486)
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=5)
    assert call.status == 486 and not second.seen


def test_a_single_dest_times_out_as_before() -> None:
    sim, alice, _first, _second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    call = alice.call(TARGET, sim.now, dest=FIRST)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=60)
    assert sim.now == pytest.approx(32.0) and call.status == 408


def test_hanging_up_stops_the_failover() -> None:
    sim, alice, _first, second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])
    sim.run_for(10)
    alice.hangup(call, sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=60)
    assert not second.seen


def test_the_outbound_proxy_route_follows_the_target() -> None:
    sim, alice, first, second = _setup(first_status=503, proxy=FIRST)
    call = alice.call(SipURI("127.0.0.2", "bob"), sim.now, targets=[FIRST, SECOND])
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    (_, tried), = first.requests("INVITE")  # fmt: skip
    (_, invite), = second.requests("INVITE")  # fmt: skip
    assert tried.headers.get("Route") == "<sip:127.0.0.3:5060;lr>"
    assert invite.headers.get("Route") == "<sip:127.0.0.4:5060;lr>"
    assert str(invite.uri) == "sip:bob@127.0.0.2"


def test_resolved_targets_of_another_transport_are_skipped() -> None:
    sim, alice, _first, _second = _setup(first_status=503)
    targets = [
        Target(Transport.TCP, ("127.0.0.9", 5060), "tcp.pbx.test"),
        Target(Transport.UDP, FIRST, "a.pbx.test"),
        Target(Transport.UDP, SECOND, "b.pbx.test"),
    ]
    call = alice.call(TARGET, sim.now, targets=targets)
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    assert call.peer == SECOND
    with pytest.raises(LocalProtocolError):
        alice.call(TARGET, sim.now, targets=targets[:1])
    with pytest.raises(LocalProtocolError):
        alice.call(TARGET, sim.now, dest=FIRST, targets=[SECOND])


def test_two_user_agents_through_the_second_target() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=2, delay=0.01))
    alice = UserAgent(EndpointConfig(ALICE), UAConfig(user="alice"), rng=random.Random(1))
    bob = UserAgent(EndpointConfig(SECOND), UAConfig(user="bob"), rng=random.Random(2))
    sim.attach(ALICE, alice)
    sim.attach(SECOND, bob)
    sim.attach(FIRST, Server(FIRST, 503))
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])

    def bob_answers() -> bool:
        while (event := bob.next_event()) is not None:
            if isinstance(event, IncomingCall):
                bob.answer(event.call, sim.now)
        return call.state is CallState.CONNECTED

    assert sim.run_until(bob_answers, deadline=5)
    alice.hangup(call, sim.now)
    assert sim.run_until(lambda: not bob.calls, deadline=5)


# -- registrations -------------------------------------------------------------


def _registration_events(ua: UserAgent) -> list[object]:
    out: list[object] = []
    while (event := ua.next_event()) is not None:
        out.append(event)
    return out


def test_register_fails_over_after_timer_f_and_refreshes_there() -> None:
    sim, alice, _first, second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    client = alice.register(SipURI("pbx.test"), sim.now, targets=[FIRST, SECOND])
    assert sim.run_until(lambda: client.state is RegistrationState.REGISTERED, deadline=60)
    (at, register), = second.requests("REGISTER")  # fmt: skip
    assert at == pytest.approx(32.01)  # timer F = 64*T1
    assert register.cseq.seq == 1  # the same request, with a new branch (RFC 3263 §4.3)
    assert alice.registrations.current_target(client) == SECOND
    assert [e for e in _registration_events(alice) if isinstance(e, Registered)]
    sim.run_until(lambda: len(second.requests("REGISTER")) == 2, deadline=200)
    assert sim.now == pytest.approx(32.02 + 108 + 0.01)  # 0.9 * 120 s later, straight there
    assert sim.network.stats(ALICE, FIRST).sent == 11  # only the first attempt's


def test_register_fails_over_on_503() -> None:
    sim, alice, first, second = _setup(first_status=503)
    client = alice.register(SipURI("pbx.test"), sim.now, targets=[FIRST, SECOND])
    assert sim.run_until(lambda: client.state is RegistrationState.REGISTERED, deadline=5)
    assert len(first.requests("REGISTER")) == 1 and len(second.requests("REGISTER")) == 1


def test_register_reports_the_last_failure_and_starts_over() -> None:
    sim, alice, first, second = _setup(first_status=503, second_status=503)
    client = alice.register(SipURI("pbx.test"), sim.now, targets=[FIRST, SECOND])
    assert sim.run_until(lambda: client.state is RegistrationState.FAILED, deadline=5)
    failed = [e for e in _registration_events(alice) if isinstance(e, RegistrationFailed)]
    assert [f.status for f in failed] == [503]
    assert alice.registrations.current_target(client) == FIRST
    assert failed[0].retry_at is not None
    first.status = 200
    assert sim.run_until(lambda: client.state is RegistrationState.REGISTERED, deadline=100)
    assert len(first.requests("REGISTER")) == 2 and len(second.requests("REGISTER")) == 1


def test_register_to_one_numeric_registrar_is_unchanged() -> None:
    sim, alice, _first, _second = _setup()
    client = alice.register(SipURI("127.0.0.3"), sim.now)
    assert alice.registrations.targets(client) == [FIRST]
    assert sim.run_until(lambda: client.state is RegistrationState.REGISTERED, deadline=5)
