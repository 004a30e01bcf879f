"""A forked INVITE (RFC 3261 §13.2.2.4, §19.3) on the simulated network: a
proxy sends two early dialogs (180 from each fork), then both forks answer.
The first 2xx is the call; the second is ACKed and ended with a BYE in its
own dialog, and its retransmission is ACKed again without a second BYE."""

from __future__ import annotations

import random

from sansip.dialog.call import CallState
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import Request, SipURI, make_response, parse
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.ua_node import UserAgentNode
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Datagram

ALICE: Address = ("127.0.0.1", 5060)
PROXY: Address = ("127.0.0.5", 5060)


def _sdp(port: int) -> bytes:
    return (f"v=0\r\no=- 1 1 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\n").encode()  # fmt: skip


class ForkingProxy:
    """Answers an INVITE as two forks would through a proxy: 180 from each
    (tags a and b), then 200 from a, then 200 from b (twice)."""

    def __init__(self) -> None:
        self.outbox: list[tuple[float, bytes]] = []
        self.seen: list[Request] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        request = parse(data)
        if not isinstance(request, Request):
            return
        self.seen.append(request)
        if request.method == "BYE":
            self.outbox.append((now, bytes(make_response(request, 200))))
        if request.method != "INVITE" or len(self.requests("INVITE")) > 1:
            return
        for at, tag, status, body in ((0.1, "a", 180, b""), (0.2, "b", 180, b""),
                                      (0.5, "a", 200, _sdp(4000)), (0.7, "b", 200, _sdp(4002)),
                                      (1.5, "b", 200, _sdp(4002))):  # fmt: skip
            headers: list[tuple[str, object]] = [("Contact", f"<sip:bob-{tag}@127.0.0.5:5060>")]
            if body:
                headers.append(("Content-Type", "application/sdp"))
            response = make_response(request, status, to_tag=tag, headers=headers, body=body)
            self.outbox.append((now + at, bytes(response)))

    def requests(self, method: str) -> list[Request]:
        return [r for r in self.seen if r.method == method]

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        due = [d for at, d in self.outbox if at <= now]
        self.outbox = [(at, d) for at, d in self.outbox if at > now]
        return [(d, ALICE) for d in due]

    def get_timer(self) -> float | None:
        return min((at for at, _ in self.outbox), default=None)

    def handle_timer(self, now: float) -> None:
        pass


def test_the_first_2xx_wins_and_a_later_fork_is_acked_and_ended() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=1, delay=0.005))
    alice = UserAgentNode(UserAgent(EndpointConfig(ALICE), UAConfig(user="alice"),
                                    rng=random.Random(1)))  # fmt: skip
    proxy = ForkingProxy()
    sim.attach(ALICE, alice)
    sim.attach(PROXY, proxy)
    call = alice.ua.call(SipURI("127.0.0.5", "bob", port=5060), sim.now, sdp=_sdp(5000))
    sim.run_for(3.0)
    assert call.state is CallState.CONNECTED
    assert call.dialog is not None and call.dialog.remote_tag == "a"
    assert call.remote_sdp == _sdp(4000)
    acks = [(r.to.tag, r.uri) for r in proxy.requests("ACK")]
    assert acks.count(("a", SipURI("127.0.0.5", "bob-a", port=5060))) == 1
    assert acks.count(("b", SipURI("127.0.0.5", "bob-b", port=5060))) == 2  # the retransmission too
    byes = proxy.requests("BYE")
    assert [(r.to.tag, r.uri) for r in byes] == [("b", SipURI("127.0.0.5", "bob-b", port=5060))]
    assert byes[0].call_id == call.call_id
