"""Calls between sansip user agents through the registrar/proxy on the
simulated network: ringing, answer, BYE both ways over Record-Route,
CANCEL, 404/480, forking, NAT'd clients and proxy authentication."""

from __future__ import annotations

import pytest

from sansip.dialog.call import CallState
from sansip.message import Request, parse
from sansip.server import (
    AuthenticationFailed,
    RequestAnswered,
    RequestProxied,
    ResponseRelayed,
    ServerConfig,
)
from sansip.testing import Simulation
from sansip.transport.types import Address
from tests.server.helpers import (
    SERVER,
    USERS,
    Phone,
    Policy,
    Server,
    answer,
    busy,
    connected,
    network,
    registered,
    ring_only,
    sent_requests,
)

ALICE: Address = ("127.0.0.1", 5060)
BOB: Address = ("127.0.0.2", 5062)


def setup(
    bob_policy: Policy = answer, *, config: ServerConfig | None = None, seed: int = 1,
    bob_advertised: Address | None = None, **link: float,
) -> tuple[Simulation, Server, Phone, Phone]:  # fmt: skip
    sim = network(seed, **link)
    server = Server(config, seed=seed + 50)
    alice = Phone("alice", ALICE, seed=seed, password="alice-pw")
    bob = Phone("bob", BOB, seed=seed + 1, policy=bob_policy, advertised=bob_advertised)
    for addr, node in ((SERVER, server), (ALICE, alice), (BOB, bob)):
        sim.attach(addr, node)
    password = "bob-pw" if config is not None and config.users is not None else None
    assert registered(sim, bob.register(sim.now, password=password))
    return sim, server, alice, bob


def test_call_rings_connects_and_the_caller_hangs_up_through_the_proxy() -> None:
    sim, server, alice, bob = setup()
    call = alice.call("bob", sim.now)
    assert connected(sim, call)
    assert alice.log == ["ringing:180 Ringing", "connected:200 OK"]
    bob_call = bob.incoming[0]
    assert sim.run_until(lambda: bob_call.retransmit_at is None, deadline=sim.now + 5)  # ACKed
    alice.hangup(call, sim.now)
    assert sim.run_until(lambda: bob_call.state is CallState.DISCONNECTED, deadline=sim.now + 5)
    assert bob.log[-1] == "disconnected:bye received"
    sim.run_for(1)
    # Every in-dialog request went through the proxy, none directly.
    for method in ("ACK", "BYE"):
        assert sent_requests(sim, method, ALICE, SERVER) and sent_requests(sim, method, SERVER, BOB)
        assert not sent_requests(sim, method, ALICE, BOB)
    invite = sent_requests(sim, "INVITE", SERVER, BOB)[0]
    assert invite.max_forwards == 69 and len(invite.via) == 2
    assert invite.record_routes[0].uri.lr  # type: ignore[union-attr]
    proxied = [(e.method, e.status) for e in server.of(RequestProxied)]
    assert proxied == [("INVITE", None), ("INVITE", 200), ("ACK", None), ("BYE", None),
                       ("BYE", 200)]  # fmt: skip
    relayed = [e.status for e in server.of(ResponseRelayed) if e.method == "INVITE"]
    assert relayed == [180, 200]
    # The 100 Trying comes from the proxy; the callee's 100 is not relayed.
    trying = [e for e in sim.network.trace if e.src == SERVER and e.data.startswith(b"SIP/2.0 100")]
    assert len(trying) == 1 and trying[0].dst == ALICE


def test_the_callee_hangs_up_through_the_proxy() -> None:
    sim, _server, alice, bob = setup()
    call = alice.call("bob", sim.now)
    assert connected(sim, call)
    sim.run_for(1)
    bob.hangup(bob.incoming[0], sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=sim.now + 5)
    assert alice.log[-1] == "disconnected:bye received"
    assert sent_requests(sim, "BYE", BOB, SERVER) and sent_requests(sim, "BYE", SERVER, ALICE)
    assert not sent_requests(sim, "BYE", BOB, ALICE)


def test_cancel_while_ringing_ends_with_487() -> None:
    sim, server, alice, bob = setup(ring_only)
    call = alice.call("bob", sim.now)
    assert sim.run_until(lambda: call.state is CallState.RINGING, deadline=5)
    alice.hangup(call, sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=sim.now + 5)
    assert call.status == 487
    assert bob.incoming[0].state is CallState.DISCONNECTED
    assert bob.log[-1] == "disconnected:cancel received"
    assert sent_requests(sim, "CANCEL", SERVER, BOB)
    answered = [(e.method, e.status) for e in server.of(RequestAnswered)]
    assert ("CANCEL", 200) in answered
    assert [(e.method, e.status) for e in server.of(RequestProxied) if e.status] == [
        ("INVITE", 487)
    ]
    sim.run_for(40)  # every transaction ends: nothing left armed but the binding's expiry
    assert server.machine.get_timer() == server.machine.location.next_expiry()
    assert len(server.machine.proxy) == 0


def test_unknown_user_404_and_user_without_binding_480() -> None:
    sim, _server, alice, bob = setup(config=ServerConfig(users=USERS))
    nobody = alice.call("nobody", sim.now)
    carol = alice.call("carol", sim.now)  # a configured user who never registered
    sim.run_until(lambda: nobody.status is not None and carol.status is not None, deadline=10)
    assert (nobody.status, carol.status) == (404, 480)
    bob.ua.unregister(bob.ua.registrations.clients[0], sim.now)
    sim.run_for(1)
    gone = alice.call("bob", sim.now)  # bob registered once: known, now unreachable
    sim.run_until(lambda: gone.status is not None, deadline=sim.now + 10)
    assert gone.status == 480


def test_a_busy_branch_moves_on_to_the_next_binding() -> None:
    sim, server, alice, bob = setup(answer)
    # A second phone of bob's, registered later: tried first (equal q), it is busy.
    bob2 = Phone("bob", ("127.0.0.4", 5064), seed=7, policy=busy)
    sim.attach(("127.0.0.4", 5064), bob2)
    assert registered(sim, bob2.register(sim.now))
    assert [b.uri.port for b in server.machine.location.lookup("bob")] == [5064, 5062]
    call = alice.call("bob", sim.now)
    assert connected(sim, call)
    assert len(bob2.incoming) == 1 and bob2.incoming[0].status == 486
    assert len(bob.incoming) == 1 and bob.incoming[0].state is CallState.CONNECTED
    branches = [e.destination for e in server.of(RequestProxied) if e.status is None]
    assert branches == [("127.0.0.4", 5064), BOB]


def test_all_branches_fail_the_best_response_goes_back() -> None:
    sim, _server, alice, _bob = setup(busy)
    call = alice.call("bob", sim.now)
    sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=5)
    assert call.status == 486


def test_a_natted_callee_is_reached_over_the_flow_it_registered_from() -> None:
    # Bob's Contact says 10.0.0.5 (a private address behind a NAT); he sends from 127.0.0.2.
    sim, server, alice, bob = setup(bob_advertised=("10.0.0.5", 5062))
    (binding,) = server.machine.location.lookup("bob")
    assert binding.uri.host == "10.0.0.5" and binding.source == BOB
    call = alice.call("bob", sim.now)
    assert connected(sim, call)
    sim.run_for(1)
    alice.hangup(call, sim.now)
    assert sim.run_until(lambda: bob.incoming[0].state is CallState.DISCONNECTED,
                         deadline=sim.now + 5)  # fmt: skip
    assert sim.network.unroutable == 0  # nothing was sent to 10.0.0.5


def test_proxy_authentication_of_a_configured_caller() -> None:
    sim, server, alice, _bob = setup(config=ServerConfig(users=USERS))
    call = alice.call("bob", sim.now)  # alice is a configured user: 407, then with credentials
    assert connected(sim, call)
    invites = sent_requests(sim, "INVITE", ALICE, SERVER)
    assert len(invites) == 2 and "proxy-authorization" in invites[1].headers
    forwarded = sent_requests(sim, "INVITE", SERVER, BOB)
    assert len(forwarded) == 1 and "proxy-authorization" not in forwarded[0].headers
    assert not server.of(AuthenticationFailed)


def test_a_wrong_proxy_password_gets_407_and_is_reported() -> None:
    sim, server, _alice, _bob = setup(config=ServerConfig(users=USERS))
    wrong = Phone("alice", ("127.0.0.5", 5060), seed=9, password="guess")
    sim.attach(("127.0.0.5", 5060), wrong)
    call = wrong.call("bob", sim.now)
    sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=10)
    assert call.status == 407
    failures = server.of(AuthenticationFailed)
    assert [(f.method, f.status) for f in failures] == [("INVITE", 407)]


def test_options_to_the_server_and_max_forwards() -> None:
    sim, server, _alice, _bob = setup()
    lines = [
        "OPTIONS sip:127.0.0.9 SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKo1",
        "Max-Forwards: 0", "From: <sip:alice@127.0.0.9>;tag=a", "To: <sip:127.0.0.9>",
        "Call-ID: o1", "CSeq: 1 OPTIONS", "Content-Length: 0", "", "",
    ]  # fmt: skip
    server.receive_datagram("\r\n".join(lines).encode(), ALICE, sim.now)
    invite = (
        "\r\n".join(lines)
        .replace("OPTIONS", "INVITE")
        .replace("sip:127.0.0.9 ", "sip:bob@127.0.0.9 ")
    )
    server.receive_datagram(invite.replace("z9hG4bKo1", "z9hG4bKo2").encode(), ALICE, sim.now)
    out = [parse(d) for d, _ in server.datagrams_to_send(sim.now)]
    assert [(m.status, m.cseq.method) for m in out] == [(200, "OPTIONS"), (483, "INVITE")]  # type: ignore[union-attr]
    assert "INVITE" in (out[0].headers.get("Allow") or "")


def test_cancel_for_nothing_gets_481() -> None:
    sim, server, _alice, _bob = setup()
    lines = [
        "CANCEL sip:bob@127.0.0.9 SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKc1",
        "Max-Forwards: 70", "From: <sip:alice@127.0.0.9>;tag=a", "To: <sip:bob@127.0.0.9>",
        "Call-ID: c1", "CSeq: 1 CANCEL", "Content-Length: 0", "", "",
    ]  # fmt: skip
    server.receive_datagram("\r\n".join(lines).encode(), ALICE, sim.now)
    (answer_,) = server.datagrams_to_send(sim.now)
    assert parse(answer_[0]).status == 481  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", [3, 4])
def test_calls_complete_through_the_proxy_over_a_lossy_network(seed: int) -> None:
    sim, _server, alice, bob = setup(seed=seed, loss=0.2)
    call = alice.call("bob", sim.now)
    assert connected(sim, call, deadline=40)
    sim.run_for(1)
    alice.hangup(call, sim.now)
    assert sim.run_until(lambda: bob.incoming[-1].state is CallState.DISCONNECTED,
                         deadline=sim.now + 40)  # fmt: skip


def test_forwarded_requests_keep_the_callers_via_with_received() -> None:
    sim, _server, alice, _bob = setup()
    call = alice.call("bob", sim.now)
    assert connected(sim, call)
    forwarded: Request = sent_requests(sim, "INVITE", SERVER, BOB)[0]
    assert forwarded.via[0].host == "127.0.0.9"
    assert forwarded.via[1].received == "127.0.0.1" and forwarded.via[1].rport == 5060
