"""A transport error (``UserAgent.transport_error``: an ICMP unreachable, a
refused send) fails the request at once: the next target is tried (RFC 3263
§4.3) and, when none is left, the request fails as with a 503 (RFC 3261
§8.1.3.1) — not a 408 after timer B or F."""

from __future__ import annotations

import pytest

from sansip.dialog.call import (
    CallState,
    CallStateChanged,
    ModificationFailed,
    RequestCompleted,
)
from sansip.dialog.register import (
    TRANSPORT_ERROR,
    RegistrationFailed,
    RegistrationState,
)
from sansip.dialog.ua import UserAgent
from sansip.message import SipURI
from tests.dialog.test_failover import ALICE, FIRST, SECOND, TARGET, _setup


def _events(ua: UserAgent) -> list[object]:
    out: list[object] = []
    while (event := ua.next_event()) is not None:
        out.append(event)
    return out


def test_the_invite_goes_to_the_next_target_at_once() -> None:
    sim, alice, _first, second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])
    sim.run_for(0.001)
    alice.transport_error(FIRST, sim.now)  # the ICMP port unreachable
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    assert sim.now < 0.1  # one round trip to the second target, no timer B
    ((at, invite),) = second.requests("INVITE")
    assert at == pytest.approx(0.011)
    assert (call.peer, call.status, invite.cseq.seq) == (SECOND, 200, 2)
    assert invite.call_id == call.call_id
    sim.run_for(5)
    assert sim.network.stats(ALICE, FIRST).sent == 1  # no retransmission to the dead one


def test_with_no_target_left_the_call_fails_with_503_at_once() -> None:
    sim, alice, _first, _second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    call = alice.call(TARGET, sim.now, dest=FIRST)
    _events(alice)
    sim.run_for(0.001)
    alice.transport_error(FIRST, sim.now)
    assert call.state is CallState.DISCONNECTED
    assert (call.status, call.reason) == (503, "transport error")
    (ended,) = [e for e in _events(alice) if isinstance(e, CallStateChanged)]
    assert (ended.new, ended.reason) == (CallState.DISCONNECTED, "transport error")


def test_every_target_unreachable_fails_with_503_and_a_timeout_stays_a_408() -> None:
    sim, alice, _first, _second = _setup()
    for dead in (FIRST, SECOND):
        sim.network.set_link(ALICE, dead, loss=1.0)
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])
    alice.transport_error(FIRST, sim.now)
    assert call.peer == SECOND and call.state is not CallState.DISCONNECTED
    alice.transport_error(SECOND, sim.now)
    assert (call.status, call.reason) == (503, "transport error")
    # The last target's outcome counts: a timeout there is a 408.
    sim, alice, _first, _second = _setup()
    for dead in (FIRST, SECOND):
        sim.network.set_link(ALICE, dead, loss=1.0)
    call = alice.call(TARGET, sim.now, targets=[FIRST, SECOND])
    alice.transport_error(FIRST, sim.now)
    assert sim.run_until(lambda: call.state is CallState.DISCONNECTED, deadline=60)
    assert sim.now == pytest.approx(32.0) and (call.status, call.reason) == (408, "no response")


def test_an_error_for_another_address_leaves_the_call_alone() -> None:
    sim, alice, _first, _second = _setup()
    call = alice.call(TARGET, sim.now, dest=SECOND)
    alice.transport_error(FIRST, sim.now)
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    assert alice.endpoint.stats.transport_errors == 1


def test_a_request_outside_a_dialog_completes_with_503() -> None:
    sim, alice, _first, _second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    alice.send_request("OPTIONS", SipURI("127.0.0.3", "bob"), sim.now, dest=FIRST)
    sim.run_for(0.001)
    alice.transport_error(FIRST, sim.now)
    (done,) = [e for e in _events(alice) if isinstance(e, RequestCompleted)]
    assert done.response is None and done.transport_error and done.status == 503


def test_a_reinvite_that_meets_a_transport_error_is_refused_and_the_call_stays() -> None:
    """§8.1.3.1: a 503 to a re-INVITE leaves the session as it was (§14.1)."""
    sim, alice, _first, _second = _setup()
    call = alice.call(TARGET, sim.now, dest=SECOND, sdp=b"v=0\r\n")
    assert sim.run_until(lambda: call.state is CallState.CONNECTED, deadline=5)
    _events(alice)
    sim.network.set_link(ALICE, SECOND, loss=1.0)
    alice.reinvite(call, b"v=0\r\ns=hold\r\n", sim.now)
    alice.transport_error(SECOND, sim.now)
    assert [e for e in _events(alice) if isinstance(e, ModificationFailed)] == [
        ModificationFailed(call, 503)
    ]
    assert call.state is CallState.CONNECTED and call.reinvite is None


def test_a_register_goes_to_the_next_target_at_once() -> None:
    sim, alice, _first, second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    client = alice.register(SipURI("pbx.test"), sim.now, targets=[FIRST, SECOND])
    alice.transport_error(FIRST, sim.now)
    assert sim.run_until(lambda: client.state is RegistrationState.REGISTERED, deadline=5)
    assert sim.now < 0.1 and len(second.requests("REGISTER")) == 1
    assert alice.registrations.current_target(client) == SECOND


def test_a_register_with_no_target_left_fails_with_503_at_once() -> None:
    sim, alice, _first, _second = _setup()
    sim.network.set_link(ALICE, FIRST, loss=1.0)
    client = alice.register(SipURI("127.0.0.3"), sim.now)
    alice.transport_error(FIRST, sim.now)
    assert client.state is RegistrationState.FAILED
    (failed,) = [e for e in _events(alice) if isinstance(e, RegistrationFailed)]
    assert (failed.status, failed.reason) == (503, TRANSPORT_ERROR)
    assert failed.retry_at is not None and failed.retry_at > sim.now  # the RFC 5626 back-off
