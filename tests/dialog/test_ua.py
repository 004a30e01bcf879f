"""Two user agents calling each other on the simulated network."""

from __future__ import annotations

import random
from collections.abc import Callable
from itertools import pairwise

import pytest

from sansip.dialog.call import Call, CallEvent, CallState, CallStateChanged, IncomingCall
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import SipURI, parse
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.ua_node import UserAgentNode
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address

ALICE: Address = ("127.0.0.1", 5060)
BOB: Address = ("127.0.0.2", 5062)
SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)


class Phone(UserAgentNode):
    """A UA plus a policy for incoming calls, with its event log."""

    def __init__(
        self, address: Address, seed: int, policy: Callable[[UserAgent, Call, float], None]
    ) -> None:
        super().__init__(UserAgent(EndpointConfig(address), UAConfig(user=f"u{address[1]}"),
                                   rng=random.Random(seed)))  # fmt: skip
        self.policy = policy
        self.log: list[tuple[float, str]] = []
        self.incoming: list[Call] = []

    def on_event(self, event: CallEvent, now: float) -> None:
        if isinstance(event, IncomingCall):
            self.incoming.append(event.call)
            self.log.append((now, "incoming"))
            self.policy(self.ua, event.call, now)
        elif isinstance(event, CallStateChanged):
            self.log.append((now, f"{event.new.value}{':' + event.reason if event.reason else ''}"))

    def _process(self, now: float) -> None:
        self.process(now)


def answer(ua: UserAgent, call: Call, now: float) -> None:
    ua.ring(call, now)
    ua.answer(call, now, sdp=SDP)


def ring_only(ua: UserAgent, call: Call, now: float) -> None:
    ua.ring(call, now)


def busy(ua: UserAgent, call: Call, now: float) -> None:
    ua.reject(call, now, 486)


def _setup(
    policy: Callable[[UserAgent, Call, float], None], seed: int = 1, **net: float
) -> tuple[Simulation, Phone, Phone]:
    sim = Simulation(VirtualClock(), SimNetwork(seed=seed, **net))  # type: ignore[arg-type]
    alice = Phone(ALICE, seed, answer)
    bob = Phone(BOB, seed + 100, policy)
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    return sim, alice, bob


BOB_URI = SipURI("127.0.0.2", "u5062", port=5062)


def test_call_answer_and_hang_up() -> None:
    sim, alice, bob = _setup(answer, delay=0.01)
    call = alice.ua.call(BOB_URI, sim.now, sdp=SDP)
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    assert sim.now == pytest.approx(0.02)
    # A new call is announced by call() itself: events report changes only.
    assert [s for _, s in alice.log] == ["ringing:180 Ringing", "connected:200 OK"]
    bob_call = bob.incoming[0]
    assert sim.run_until(lambda: bob_call.retransmit_at is None, deadline=5)  # ACK arrived
    assert bob_call.state is CallState.CONNECTED and bob_call.remote_sdp == SDP
    assert call.remote_sdp == SDP
    alice.ua.hangup(call, sim.now)
    alice._process(sim.now)  # a driver drains events after every command
    assert sim.run_until(lambda: bob_call.state is CallState.DISCONNECTED, deadline=10)
    assert bob.log[-1][1] == "disconnected:bye received"
    assert alice.log[-1][1] == "disconnected:User Hung Up"
    assert alice.ua.remembered == 1 and bob.ua.remembered == 1
    sim.run_for(40)  # every transaction ends, nothing left armed, the calls are forgotten
    assert alice.ua.get_timer() is None and bob.ua.get_timer() is None
    assert alice.ua.remembered == 0 and bob.ua.remembered == 0


def test_busy() -> None:
    sim, alice, _bob = _setup(busy, delay=0.01)
    call = alice.ua.call(BOB_URI, sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=5)
    assert call.status == 486 and call.reason == "rejected"


def test_cancel_while_ringing() -> None:
    sim, alice, bob = _setup(ring_only, delay=0.01)
    call = alice.ua.call(BOB_URI, sim.now)
    assert sim.run_until(lambda: call.state is CallState.RINGING, deadline=5)
    alice.ua.hangup(call, sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=5)
    assert call.status == 487
    assert bob.incoming[0].state is CallState.DISCONNECTED
    assert bob.log[-1][1] == "disconnected:cancel received"


def test_no_answer_at_all_times_out() -> None:
    sim, alice, _bob = _setup(answer, delay=0.01)
    sim.network.set_link(ALICE, BOB, loss=1.0)
    call = alice.ua.call(BOB_URI, sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=100)
    assert sim.now == 32.0 and call.reason == "no response"


def test_calls_complete_over_a_lossy_network() -> None:
    connected = ended = 0
    for seed in range(10):
        sim, alice, bob = _setup(answer, seed=seed, delay=0.02, jitter=0.01, loss=0.2)
        call = alice.ua.call(BOB_URI, sim.now, sdp=SDP)
        if sim.run_until(lambda call=call: call.state is CallState.CONNECTED, deadline=30):
            connected += 1
            alice.ua.hangup(call, sim.now)
            if sim.run_until(
                lambda bob=bob: bob.incoming[0].state is CallState.DISCONNECTED, deadline=60
            ):
                ended += 1
    assert connected == 10 and ended == 10


def test_options_and_unknown_methods_are_answered() -> None:
    sim, _alice, _bob = _setup(answer, delay=0.01)

    def probe(method: str) -> int:
        request = parse(
            f"{method} sip:u5062@127.0.0.2:5062 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKprobe{method}\r\n"
            "From: <sip:x@127.0.0.1>;tag=p\r\nTo: <sip:u5062@127.0.0.2>\r\n"
            f"Call-ID: probe-{method}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        sim.network.send(bytes(request), ALICE, BOB, sim.now)
        sim.run_for(0.1)
        answers = [parse(e.data) for e in sim.network.trace if e.src == BOB]
        return answers[-1].status  # type: ignore[union-attr]

    replies = [probe(m) for m in ("OPTIONS", "SUBSCRIBE", "FOO", "BYE")]
    assert replies == [200, 405, 501, 481]


def test_a_2xx_never_acked_is_retransmitted_then_ended_with_bye() -> None:
    sim, alice, bob = _setup(answer, delay=0.01)
    call = alice.ua.call(BOB_URI, sim.now, sdp=SDP)
    assert sim.run_until(lambda: bool(bob.incoming), deadline=5)
    sim.network.set_link(ALICE, BOB, both_ways=False, loss=1.0)  # alice's ACKs are lost
    bob_call = bob.incoming[0]
    assert sim.run_until(lambda: bob_call.state is CallState.DISCONNECTED, deadline=60)
    assert bob_call.reason == "not acked connection expired"
    answered_at = bob_call.connected_at
    assert answered_at is not None and sim.now == pytest.approx(answered_at + 32.0)
    sim.run_for(1.0)  # let the BYE arrive
    sent_by_bob = [e for e in sim.network.trace if e.src == BOB]
    oks = [e for e in sent_by_bob if e.data.startswith(b"SIP/2.0 200")]
    # 2xx sent at T1-doubling intervals capped at T2 for 64*T1 (RFC 3261 §13.3.1.4).
    gaps = [round(b.sent_at - a.sent_at, 3) for a, b in pairwise(oks)]
    assert gaps[:4] == [0.5, 1.0, 2.0, 4.0] and set(gaps[4:]) <= {4.0}
    assert any(e.data.startswith(b"BYE ") for e in sent_by_bob)
    assert call.state is CallState.DISCONNECTED and call.reason == "bye received"


def test_calls_complete_over_30_percent_loss() -> None:
    connected = 0
    for seed in range(10):
        sim, alice, _bob = _setup(answer, seed=seed + 50, delay=0.02, jitter=0.01, loss=0.3)
        call = alice.ua.call(BOB_URI, sim.now, sdp=SDP)
        connected += sim.run_until(lambda call=call: call.state is CallState.CONNECTED, deadline=32)
    # Timer A retransmits the INVITE 6 times before timer B; with 30 % loss each
    # way a round trip fails with p = 0.51, so all 7 tries fail with p < 0.01.
    assert connected == 10


def test_custom_headers_go_on_every_message() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=4, delay=0.01))
    alice = Phone(ALICE, 4, answer)
    alice.ua = UserAgent(
        EndpointConfig(ALICE),
        UAConfig(user="a", extra_headers=(("X-Team", "blue"),)),
        rng=random.Random(4),
    )
    bob = Phone(BOB, 5, answer)
    bob.ua = UserAgent(
        EndpointConfig(BOB), UAConfig(user="u5062", extra_headers=(("X-Team", "red"),)),
        rng=random.Random(5),
    )  # fmt: skip
    sim.attach(ALICE, alice)
    sim.attach(BOB, bob)
    call = alice.ua.call(BOB_URI, sim.now)
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    alice.ua.hangup(call, sim.now)
    sim.run_for(1)
    messages = [parse(e.data) for e in sim.network.trace]
    from_alice = [m for m, e in zip(messages, sim.network.trace, strict=True) if e.src == ALICE]
    from_bob = [m for m, e in zip(messages, sim.network.trace, strict=True) if e.src == BOB]
    assert {m.headers.get("X-Team") for m in from_alice if not _is_ack(m)} == {"blue"}
    assert {m.headers.get("X-Team") for m in from_bob} == {"red"}


def _is_ack(message: object) -> bool:
    return getattr(message, "method", "") == "ACK"


def test_dialog_creating_responses_copy_the_record_route() -> None:
    sim, _alice, bob = _setup(answer, delay=0.01)
    invite = (
        b"INVITE sip:u5062@127.0.0.2:5062 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKrr1\r\n"
        b"Record-Route: <sip:127.0.0.5;lr>\r\nRecord-Route: <sip:127.0.0.6;lr>\r\n"
        b"From: <sip:x@127.0.0.1>;tag=rr\r\nTo: <sip:u5062@127.0.0.2>\r\n"
        b"Call-ID: rr-1\r\nCSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:5060>\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    sim.network.send(invite, ALICE, BOB, sim.now)
    sim.run_for(0.1)
    answers = [parse(e.data) for e in sim.network.trace if e.src == BOB]
    by_status = {a.status: a for a in answers}  # type: ignore[union-attr]
    for status in (180, 200):
        routes = by_status[status].headers.get_all("Record-Route")
        assert routes == ["<sip:127.0.0.5;lr>", "<sip:127.0.0.6;lr>"], status
    assert bob.incoming[0].dialog is not None


def test_an_ack_with_the_invite_branch_stops_the_2xx_retransmissions() -> None:
    """RFC 2543 peers ACK a 2xx with the INVITE's own branch: the ACK then
    matches the accepted server transaction (RFC 6026) and must still count."""
    sim, alice, bob = _setup(answer, delay=0.01)
    call = alice.ua.call(BOB_URI, sim.now, sdp=SDP)
    assert sim.run_until(lambda: bool(bob.incoming), deadline=5)
    sim.network.set_link(ALICE, BOB, both_ways=False, loss=1.0)  # alice's own ACK is lost
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    bob_call = bob.incoming[0]
    assert bob_call.retransmit_at is not None
    invite = bob_call.invite
    ack = (
        f"ACK {call.invite.uri} SIP/2.0\r\n"
        f"Via: {invite.headers.get('Via')}\r\n"
        f"From: {invite.headers.get('From')}\r\n"
        f"To: {bob_call.final.headers.get('To')}\r\n"  # type: ignore[union-attr]
        f"Call-ID: {invite.call_id}\r\nCSeq: {invite.cseq.seq} ACK\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    bob.receive_datagram(ack, ALICE, sim.now)
    assert bob_call.retransmit_at is None and bob_call.state is CallState.CONNECTED
