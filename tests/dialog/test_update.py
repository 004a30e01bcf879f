"""UPDATE (RFC 3311) between two UAs on the simulated network: an offer in
an UPDATE answered in its 200 (no ACK), a refused one keeping the session,
glare with a pending offer (491), an UPDATE before the first offer/answer
is done (500 with Retry-After), a body-less UPDATE refreshing the session,
and an UPDATE surviving loss by its own retransmissions."""

from __future__ import annotations

from sansip.dialog.call import CallState, ModificationFailed, OfferReceived, SessionUpdated
from sansip.message import parse
from tests.dialog.test_reinvite import BOB, connected, sdp


def test_an_offer_in_an_update_is_answered_in_its_200() -> None:
    sim, alice, bob, call, bob_call = connected(delay=0.01)
    alice.ua.reinvite(call, sdp(2, "sendonly"), sim.now, method="UPDATE")
    assert sim.run_until(lambda: bool(alice.of(SessionUpdated)), deadline=5)
    assert alice.of(SessionUpdated) == [
        SessionUpdated(call, sdp(2, "sendonly"), sdp(2, "recvonly"), by_peer=False)]  # fmt: skip
    assert bob.of(SessionUpdated) == [
        SessionUpdated(bob_call, sdp(2, "recvonly"), sdp(2, "sendonly"), by_peer=True)]  # fmt: skip
    sent = [parse(e.data) for e in sim.network.trace]
    updates = [m for m in sent if getattr(m, "method", "") == "UPDATE"]
    assert len(updates) == 1 and updates[0].cseq.seq == 2  # type: ignore[union-attr]
    assert not any(getattr(m, "method", "") == "ACK" and m.cseq.seq == 2  # type: ignore[union-attr]
                   for m in sent)  # fmt: skip
    assert call.state is bob_call.state is CallState.CONNECTED


def test_update_is_in_allow() -> None:
    sim, _alice, _bob, call, _ = connected(delay=0.01)
    invite = next(parse(e.data) for e in sim.network.trace if e.data.startswith(b"INVITE "))
    allow = str(invite.headers.get("Allow"))
    assert "UPDATE" in allow and call.state is CallState.CONNECTED


def test_a_refused_update_keeps_the_session() -> None:
    sim, alice, _bob, call, _ = connected("reject", delay=0.01)
    alice.ua.reinvite(call, sdp(2, "inactive"), sim.now, method="UPDATE")
    assert sim.run_until(lambda: bool(alice.of(ModificationFailed)), deadline=5)
    assert alice.of(ModificationFailed) == [ModificationFailed(call, 488)]
    assert call.local_sdp == sdp(1) and call.state is CallState.CONNECTED


def test_an_update_while_our_offer_is_pending_gets_491() -> None:
    sim, alice, bob, call, bob_call = connected("ignore", delay=0.01)
    bob.offers = "accept"
    alice.offers = "ignore"
    bob.ua.reinvite(bob_call, sdp(2, "sendonly"), sim.now)  # bob's re-INVITE waits on alice
    assert sim.run_until(lambda: bool(alice.of(OfferReceived)), deadline=5)
    assert call.dialog is not None
    update = call.dialog.create_request("UPDATE", headers=[("Contact", alice.ua.contact),
                                                           ("Content-Type", "application/sdp")],
                                        body=sdp(3))  # fmt: skip
    alice.ua.endpoint.send_request(update, BOB, sim.now)  # alice updates meanwhile
    sim.run_for(0.5)
    assert any(e.src == BOB and e.data.startswith(b"SIP/2.0 491") for e in sim.network.trace)
    assert not bob.of(OfferReceived)


def test_an_update_before_the_first_answer_gets_500_with_retry_after() -> None:
    sim, alice, bob, call, bob_call = connected(delay=0.01)
    assert call.dialog is not None
    bob_call.local_sdp = b""  # as if bob had not answered the first offer yet
    update = call.dialog.create_request("UPDATE", headers=[("Contact", alice.ua.contact),
                                                           ("Content-Type", "application/sdp")],
                                        body=sdp(3))  # fmt: skip
    alice.ua.endpoint.send_request(update, BOB, sim.now)
    sim.run_for(0.5)
    refusal = next(parse(e.data) for e in sim.network.trace
                   if e.src == BOB and e.data.startswith(b"SIP/2.0 500"))  # fmt: skip
    assert refusal.headers.get("Retry-After") is not None
    assert not bob.of(OfferReceived)


def test_a_bodyless_update_refreshes_the_session_with_an_empty_200() -> None:
    sim, alice, bob, call, _ = connected(delay=0.01)
    alice.ua.send_in_dialog(call, "UPDATE", sim.now)
    sim.run_for(0.5)
    [ok] = [parse(e.data) for e in sim.network.trace
            if e.src == BOB and e.data.startswith(b"SIP/2.0 200") and b"CSeq: 2 UPDATE" in e.data]
    assert ok.body == b"" and ok.headers.get("Contact") is not None
    assert not bob.of(OfferReceived) and call.state is CallState.CONNECTED


def test_an_update_survives_a_lossy_network() -> None:
    for seed in range(4):
        sim, alice, _bob, call, _ = connected(delay=0.02, jitter=0.01, loss=0.25, seed=seed)
        alice.ua.reinvite(call, sdp(2, "sendonly"), sim.now, method="UPDATE")
        assert sim.run_until(lambda alice=alice: bool(alice.of(SessionUpdated)), deadline=40)
        assert call.remote_sdp == sdp(2, "recvonly")
