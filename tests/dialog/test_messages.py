"""Requests the application answers (RFC 3428 MESSAGE, RFC 6086 INFO)
between two UAs on the simulated network: a MESSAGE outside any dialog
with any content type, an INFO and a MESSAGE inside a call's dialog, the
application's answer reaching the sender, and 405 when the method is not
allowed."""

from __future__ import annotations

import random

from sansip.dialog.call import CallEvent, RequestArrived, RequestCompleted
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import SipURI
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.testing.ua_node import UserAgentNode
from sansip.transaction.endpoint import EndpointConfig
from tests.dialog.test_reinvite import BOB, connected

BOB_URI = SipURI(BOB[0], "bob", port=BOB[1])
ALLOW = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "UPDATE", "MESSAGE", "INFO")


class Inbox(UserAgentNode):
    """A UA that answers each MESSAGE or INFO with ``status``."""

    def __init__(self, address: tuple[str, int], status: int = 200,
                 allow: tuple[str, ...] = ALLOW) -> None:  # fmt: skip
        super().__init__(UserAgent(EndpointConfig(address), UAConfig(user="bob", allow=allow),
                                   rng=random.Random(2)))  # fmt: skip
        self.status = status

    def on_event(self, event: CallEvent, now: float) -> None:
        if isinstance(event, RequestArrived):
            self.ua.respond(event, self.status, now)


def _pair(status: int = 200, allow: tuple[str, ...] = ALLOW) -> tuple[Simulation, UserAgentNode,
                                                                       Inbox]:  # fmt: skip
    sim = Simulation(VirtualClock(), SimNetwork(seed=3, delay=0.01))
    alice = UserAgentNode(UserAgent(EndpointConfig(("127.0.0.1", 5060)), UAConfig(user="alice"),
                                    rng=random.Random(1)))  # fmt: skip
    bob = Inbox(BOB, status, allow)
    sim.attach(("127.0.0.1", 5060), alice)
    sim.attach(BOB, bob)
    return sim, alice, bob


def test_a_message_outside_a_dialog_with_any_content_type() -> None:
    sim, alice, bob = _pair()
    text = "héllo ☎".encode()
    alice.ua.send_request("MESSAGE", BOB_URI, sim.now, body=text,
                          content_type="text/plain;charset=UTF-8")  # fmt: skip
    assert sim.run_until(lambda: bool(alice.of(RequestCompleted)), deadline=5)
    [done] = alice.of(RequestCompleted)
    [arrived] = bob.of(RequestArrived)
    assert done.status == 200 and arrived.call is None
    assert arrived.request.body == text and arrived.request.method == "MESSAGE"
    assert str(arrived.request.headers.get("Content-Type")).startswith("text/plain")


def test_the_applications_refusal_reaches_the_sender() -> None:
    sim, alice, _bob = _pair(status=486)
    alice.ua.send_request("MESSAGE", BOB_URI, sim.now, body=b"busy?", content_type="text/plain")
    assert sim.run_until(lambda: bool(alice.of(RequestCompleted)), deadline=5)
    assert alice.of(RequestCompleted)[0].status == 486


def test_without_message_in_allow_a_message_gets_405_with_allow() -> None:
    sim, alice, _bob = _pair(allow=("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"))
    alice.ua.send_request("MESSAGE", BOB_URI, sim.now, body=b"hi", content_type="text/plain")
    assert sim.run_until(lambda: bool(alice.of(RequestCompleted)), deadline=5)
    [done] = alice.of(RequestCompleted)
    assert done.status == 405 and done.response is not None
    assert "MESSAGE" not in str(done.response.headers.get("Allow"))


def test_info_and_message_inside_a_call() -> None:
    sim, alice, bob, call, bob_call = connected(delay=0.01)
    bob.ua.config = UAConfig(user="u5062", allow=ALLOW)
    seen: list[RequestArrived] = []
    bob.on_event = lambda event, now: (  # type: ignore[method-assign]
        seen.append(event), bob.ua.respond(event, 200, now)
    ) if isinstance(event, RequestArrived) else None  # fmt: skip
    alice.ua.send_in_dialog(call, "INFO", sim.now, body=b"Signal=5\r\nDuration=160\r\n",
                            content_type="application/dtmf-relay")  # fmt: skip
    alice.ua.send_in_dialog(call, "MESSAGE", sim.now, body=b"in the call",
                            content_type="text/plain")  # fmt: skip
    assert sim.run_until(lambda: len(alice.of(RequestCompleted)) == 2, deadline=5)
    assert [e.status for e in alice.of(RequestCompleted)] == [200, 200]
    assert [(e.request.method, e.call) for e in seen] == [("INFO", bob_call),
                                                          ("MESSAGE", bob_call)]  # fmt: skip
