"""The datagram endpoint on the simulated network: transactions end to end."""

from __future__ import annotations

import random

from sansip.message import Request, Response, make_response
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.transaction import RequestReceived, ResponseReceived, TimedOut
from sansip.transaction.drops import MessageDropped
from sansip.transaction.endpoint import (
    Endpoint,
    EndpointConfig,
    TransactionUpdate,
)
from sansip.transport.types import Address, Datagram

ALICE: Address = ("127.0.0.1", 5060)
BOB: Address = ("127.0.0.2", 5060)


class Answerer:
    """A minimal TU: answers every request with 200 OK (or ``status``)."""

    def __init__(self, endpoint: Endpoint, status: int = 200) -> None:
        self.endpoint = endpoint
        self.status = status
        self.requests: list[Request] = []
        self.responses: list[Response] = []
        self.timeouts = 0
        self.dropped: list[MessageDropped] = []

    def _process(self, now: float) -> None:
        while (event := self.endpoint.next_event()) is not None:
            if isinstance(event, TransactionUpdate):
                inner = event.event
                if isinstance(inner, RequestReceived):
                    self.requests.append(inner.request)
                    resp = make_response(inner.request, self.status, to_tag="b0b")
                    self.endpoint.respond(event.key, resp, now)
                elif isinstance(inner, ResponseReceived):
                    self.responses.append(inner.response)
                elif isinstance(inner, TimedOut):
                    self.timeouts += 1
            elif isinstance(event, MessageDropped):
                self.dropped.append(event)

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.endpoint.receive_datagram(data, addr, now)
        self._process(now)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        return self.endpoint.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        return self.endpoint.get_timer()

    def handle_timer(self, now: float) -> None:
        self.endpoint.handle_timer(now)
        self._process(now)


def _options() -> Request:
    return Request(
        "OPTIONS",
        "sip:bob@127.0.0.2",
        [
            ("From", "<sip:alice@127.0.0.1>;tag=a1"),
            ("To", "<sip:bob@127.0.0.2>"),
            ("Call-ID", "opt1@127.0.0.1"),
            ("CSeq", "1 OPTIONS"),
        ],
    )


def _pair(seed: int, **net: float) -> tuple[Simulation, Answerer, Answerer]:
    network = SimNetwork(seed=seed, **net)  # type: ignore[arg-type]
    sim = Simulation(VirtualClock(), network)
    alice = Answerer(Endpoint(EndpointConfig(ALICE), rng=random.Random(seed)))
    bob = Answerer(Endpoint(EndpointConfig(BOB), rng=random.Random(seed + 1)))
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    return sim, alice, bob


def test_options_round_trip() -> None:
    sim, alice, bob = _pair(1, delay=0.01)
    alice.endpoint.send_request(_options(), BOB, sim.now)
    assert sim.run_until(lambda: bool(alice.responses), deadline=5.0)
    assert alice.responses[0].status == 200
    assert sim.now == 0.02  # one hop each way, nothing retransmitted
    request = bob.requests[0]
    assert request.top_via.branch is not None and request.top_via.is_rfc3261_branch
    # rport was requested, so received and rport are filled in (RFC 3581 §4).
    assert (request.top_via.received, request.top_via.rport) == ("127.0.0.1", 5060)
    assert request.max_forwards == 70


def test_options_survive_heavy_loss_by_retransmission() -> None:
    delivered = 0
    for seed in range(20):
        sim, alice, _bob = _pair(seed, delay=0.01, loss=0.3)
        alice.endpoint.send_request(_options(), BOB, sim.now)
        if sim.run_until(lambda alice=alice: bool(alice.responses), deadline=40.0):
            delivered += 1
    # Timer E retransmits 10 times before timer F; at 30% loss each way a
    # round trip fails with p = 0.51, so 11 tries all fail with p < 0.001.
    assert delivered == 20


def test_no_answer_times_out_at_64_t1() -> None:
    sim, alice, _bob = _pair(2, delay=0.01)
    sim.network.set_link(ALICE, BOB, loss=1.0)
    alice.endpoint.send_request(_options(), BOB, sim.now)
    assert sim.run_until(lambda: alice.timeouts == 1, deadline=100.0)
    assert sim.now == 32.0


def test_malformed_request_gets_a_stateless_400() -> None:
    sim, _alice, bob = _pair(3, delay=0.01)
    wire = (
        b"OPTIONS sip:bob@127.0.0.2 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n"
        b"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.2>\r\n"
        b"Call-ID: bad@127.0.0.1\r\nCSeq: 99999999999 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    sim.network.send(wire, ALICE, BOB, sim.now)
    sim.run_for(1.0)
    assert bob.dropped and bob.dropped[0].answered
    assert bob.endpoint.stats.malformed == 1
    answers = [e for e in sim.network.trace if e.src == BOB]
    # The CSeq is copied as received (RFC 3261 §8.2.6.2), so check the bytes.
    assert answers and answers[0].data.startswith(b"SIP/2.0 400 ")


def test_garbage_is_dropped_and_counted() -> None:
    sim, _alice, bob = _pair(4, delay=0.01)
    sim.network.send(b"\x00\xffnot sip at all", ALICE, BOB, sim.now)
    sim.run_for(1.0)
    assert bob.endpoint.stats.dropped == 1
    assert not [e for e in sim.network.trace if e.src == BOB]
