"""Requests sent on the user's behalf, in and out of dialogs, with
authentication on any method (RFC 3261 §22): a challenging server on the
simulated network, and a peer UA."""

from __future__ import annotations

import random

import pytest

from sansip.dialog.call import CallEvent, CallState, IncomingCall, RequestCompleted
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.errors import LocalProtocolError
from sansip.message import Credentials, Request, SipURI, make_response, parse
from sansip.message.digest import verify
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.ua_node import UserAgentNode
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Datagram

ALICE: Address = ("127.0.0.1", 5060)
SERVER: Address = ("127.0.0.9", 5060)
BOB: Address = ("127.0.0.2", 5062)
CHALLENGE = 'Digest realm="sansip", nonce="abc123", qop="auth", algorithm=MD5'


class Challenger:
    """A server that asks for credentials (401 or 407) and checks them."""

    def __init__(self, status: int = 401, password: str = "secret") -> None:
        self.status, self.password = status, password
        self.outbox: list[Datagram] = []
        self.seen: list[Request] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        request = parse(data)
        assert isinstance(request, Request)
        self.seen.append(request)
        field = "Authorization" if self.status == 401 else "Proxy-Authorization"
        value = request.headers.get(field)
        if value is None:
            header = "WWW-Authenticate" if self.status == 401 else "Proxy-Authenticate"
            response = make_response(request, self.status, headers=[(header, CHALLENGE)])
        else:
            good = verify(Credentials.parse(value), method=request.method, password=self.password,
                          body=request.body)  # fmt: skip
            response = make_response(request, 200 if good else 403)
        self.outbox.append((bytes(response), addr))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


class Node(UserAgentNode):
    """A UA that answers its calls."""

    def __init__(self, address: Address, seed: int, password: str = "secret") -> None:
        config = UAConfig(user=f"u{address[1]}", auth_password=password)
        super().__init__(UserAgent(EndpointConfig(address), config, rng=random.Random(seed)))

    def completed(self) -> list[RequestCompleted]:
        return [e for e in self.events if isinstance(e, RequestCompleted)]

    def on_event(self, event: CallEvent, now: float) -> None:
        if isinstance(event, IncomingCall):
            self.ua.answer(event.call, now, sdp=b"v=0\r\n")


def _sim(server: Challenger, password: str = "secret") -> tuple[Simulation, Node]:
    sim = Simulation(VirtualClock(), SimNetwork(seed=1, delay=0.01))
    alice = Node(ALICE, 1, password)
    sim.attach(ALICE, alice)
    sim.attach(SERVER, server)
    return sim, alice


@pytest.mark.parametrize("status", [401, 407])
def test_a_message_is_sent_again_with_credentials(status: int) -> None:
    server = Challenger(status)
    sim, alice = _sim(server)
    alice.ua.send_request("MESSAGE", SipURI("127.0.0.9", "bob"), sim.now, body=b"hello")
    assert sim.run_until(lambda: bool(alice.completed()), deadline=5)
    [done] = alice.completed()
    assert done.status == 200 and done.call is None
    first, second = server.seen
    assert second.cseq.seq == first.cseq.seq + 1 and second.call_id == first.call_id
    assert second.body == b"hello" and second.headers.get("Content-Type") == "text/plain"
    field = "Authorization" if status == 401 else "Proxy-Authorization"
    assert field in second.headers and field not in first.headers


def test_a_wrong_password_ends_with_the_second_challenge() -> None:
    server = Challenger(401, password="other")
    sim, alice = _sim(server)
    alice.ua.send_request("OPTIONS", SipURI("127.0.0.9", "bob"), sim.now)
    assert sim.run_until(lambda: bool(alice.completed()), deadline=5)
    assert [e.status for e in alice.completed()] == [403]
    assert len(server.seen) == 2


def test_no_answer_completes_with_408() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=1, delay=0.01))
    alice = Node(ALICE, 1)
    sim.attach(ALICE, alice)
    alice.ua.send_request("MESSAGE", SipURI("127.0.0.77", "nobody"), sim.now, body=b"x")
    assert sim.run_until(lambda: bool(alice.completed()), deadline=100)
    [done] = alice.completed()
    assert done.response is None and done.status == 408 and sim.now == 32.0


def test_methods_with_their_own_commands_are_refused() -> None:
    _, alice = _sim(Challenger())
    for method in ("INVITE", "BYE", "CANCEL", "ACK", "REGISTER"):
        with pytest.raises(LocalProtocolError):
            alice.ua.send_request(method, SipURI("127.0.0.9"), 0.0)


def test_requests_in_a_dialog_use_its_cseq_and_route() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=1, delay=0.01))
    alice, bob = Node(ALICE, 1), Node(BOB, 2)
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    call = alice.ua.call(SipURI("127.0.0.2", "u5062", port=5062), sim.now, sdp=b"v=0\r\n")
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    with pytest.raises(LocalProtocolError):
        alice.ua.send_in_dialog(call, "BYE", sim.now)
    alice.ua.send_in_dialog(call, "OPTIONS", sim.now)
    alice.ua.send_in_dialog(call, "INFO", sim.now, body=b"Signal=5\r\n",
                            content_type="application/dtmf-relay")  # fmt: skip
    assert sim.run_until(lambda: len(alice.completed()) == 2, deadline=5)
    done = {e.request.method: e for e in alice.completed()}
    assert done["OPTIONS"].status == 200 and done["OPTIONS"].call is call
    assert done["INFO"].status == 405  # bob does not take INFO
    assert [done["OPTIONS"].request.cseq.seq, done["INFO"].request.cseq.seq] == [2, 3]
    assert done["INFO"].request.to.tag == call.dialog.remote_tag  # type: ignore[union-attr]


def test_a_message_comes_from_our_domain_with_the_identity_we_assert() -> None:
    """With a domain the From is the address of record ``user@domain`` (not
    the Contact's host); ``identity`` adds it as P-Preferred-Identity."""
    server = Challenger()
    sim, alice = _sim(server)
    alice.ua.config = UAConfig(user="alice", auth_password="secret", domain="example.com",
                               identity="ppi", display_name="Alice")  # fmt: skip
    alice.ua.send_request("MESSAGE", SipURI("127.0.0.9", "bob"), sim.now, body=b"hi")
    assert sim.run_until(lambda: bool(alice.completed()), deadline=5)
    sent = server.seen[-1]
    assert str(sent.from_.uri) == "sip:alice@example.com"
    assert sent.headers.get("P-Preferred-Identity") == '"Alice" <sip:alice@example.com>'


def test_an_unknown_identity_header_is_refused() -> None:
    with pytest.raises(ValueError, match="identity"):
        UAConfig(identity="x-identity")
