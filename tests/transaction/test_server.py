"""Server transactions: RFC 3261 §17.2.1 (+ RFC 6026) and §17.2.2, timers stepped by hand."""

from __future__ import annotations

import pytest

from sansip.errors import LocalProtocolError
from sansip.message import Response, parse
from sansip.transaction import (
    AckReceived,
    InviteServerTransaction,
    IstState,
    NistState,
    NonInviteServerTransaction,
    RequestReceived,
    StateChanged,
    Terminated,
    TimedOut,
    TransportFailed,
)
from tests.transaction.helpers import UAC, ack_for, drain, request, response, sent


def ist(*, reliable: bool = False, now: float = 0.0) -> InviteServerTransaction:
    return InviteServerTransaction(request("INVITE"), UAC, reliable=reliable, now=now)


def nist(*, reliable: bool = False, now: float = 0.0) -> NonInviteServerTransaction:
    return NonInviteServerTransaction(
        request("REGISTER", branch="z9hG4bKreg"), UAC, reliable=reliable, now=now
    )


# -- INVITE server transaction ------------------------------------------------


def test_ist_passes_the_invite_up_once_and_absorbs_retransmissions() -> None:
    tx = ist()
    assert tx.state is IstState.PROCEEDING
    assert drain(tx) == [RequestReceived(tx.request)]
    assert sent(tx) == []
    tx.receive_request(request("INVITE"), 0.1)  # before any provisional: nothing to resend
    assert drain(tx) == [] and sent(tx) == []


def test_ist_sends_100_trying_after_200_ms() -> None:
    tx = ist(now=10.0)
    assert tx.get_timer() == pytest.approx(10.2)
    tx.handle_timer(10.19)
    assert sent(tx) == []
    tx.handle_timer(10.2)
    (wire,) = sent(tx)
    trying = parse(wire)
    assert isinstance(trying, Response)
    assert trying.status == 100
    assert trying.to.tag is None  # §17.2.1: no To tag on the 100
    assert trying.top_via == tx.request.top_via and trying.cseq == tx.request.cseq
    assert tx.get_timer() is None
    tx.handle_timer(10.3)
    assert sent(tx) == []
    tx.receive_request(request("INVITE"), 10.5)  # retransmission: answered with the 100
    assert sent(tx) == [wire]
    assert tx.state is IstState.PROCEEDING and drain(tx) == [RequestReceived(tx.request)]


def test_ist_no_100_when_the_tu_answers_first() -> None:
    tx = ist()
    ringing = response(tx.request, 180)
    tx.respond(ringing, 0.1)
    assert sent(tx) == [ringing.encode()]
    assert tx.get_timer() is None
    tx.handle_timer(0.2)
    assert sent(tx) == []
    tx.receive_request(request("INVITE"), 0.5)
    assert sent(tx) == [ringing.encode()]  # the most recent provisional


def test_ist_non_2xx_timer_g_doubles_to_t2_and_timer_h_times_out() -> None:
    tx = ist()
    drain(tx)
    busy = response(tx.request, 486)
    tx.respond(busy, 0.0)
    assert sent(tx) == [busy.encode()]
    assert drain(tx) == [StateChanged(IstState.PROCEEDING, IstState.COMPLETED)]
    assert tx.armed_timers == {"G": 0.5, "H": 32.0}
    times = []
    while (at := tx.get_timer()) is not None and at < 32.0:
        tx.handle_timer(at)
        assert sent(tx) == [busy.encode()]
        times.append(at)
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    tx.handle_timer(32.0)
    assert drain(tx) == [
        TimedOut(),
        StateChanged(IstState.COMPLETED, IstState.TERMINATED),
        Terminated(),
    ]
    assert tx.get_timer() is None


def test_ist_completed_answers_retransmissions_and_ack_confirms() -> None:
    tx = ist()
    drain(tx)
    busy = response(tx.request, 486)
    tx.respond(busy, 1.0)
    sent(tx)
    drain(tx)
    tx.receive_request(request("INVITE"), 1.2)
    assert sent(tx) == [busy.encode()]
    tx.receive_request(ack_for(tx.request), 1.3)
    assert tx.state is IstState.CONFIRMED
    assert drain(tx) == [StateChanged(IstState.COMPLETED, IstState.CONFIRMED)]  # ACK absorbed
    assert tx.armed_timers == {"I": 6.3}
    tx.receive_request(ack_for(tx.request), 2.0)
    tx.receive_request(request("INVITE"), 2.0)
    assert sent(tx) == [] and drain(tx) == []
    tx.handle_timer(6.29)
    assert tx.state is IstState.CONFIRMED
    tx.handle_timer(6.3)
    assert drain(tx) == [StateChanged(IstState.CONFIRMED, IstState.TERMINATED), Terminated()]


def test_ist_reliable_has_no_timer_g_and_zero_timer_i() -> None:
    tx = ist(reliable=True)
    tx.respond(response(tx.request, 500), 1.0)
    assert tx.armed_timers == {"H": 33.0}
    tx.receive_request(ack_for(tx.request), 2.0)
    assert tx.get_timer() == 2.0
    tx.handle_timer(2.0)
    assert tx.state is IstState.TERMINATED


def test_ist_2xx_goes_to_accepted_rfc6026() -> None:
    tx = ist()
    drain(tx)
    ok = response(tx.request, 200)
    tx.respond(ok, 1.0)
    assert sent(tx) == [ok.encode()]
    assert drain(tx) == [StateChanged(IstState.PROCEEDING, IstState.ACCEPTED)]
    assert tx.armed_timers == {"L": 33.0}
    tx.receive_request(request("INVITE"), 1.5)  # absorbed, not answered
    assert sent(tx) == [] and drain(tx) == []
    tx.respond(ok, 1.5)  # the TU retransmits its 2xx through the transaction
    assert sent(tx) == [ok.encode()]
    ack = ack_for(tx.request)
    tx.receive_request(ack, 2.0)
    assert drain(tx) == [AckReceived(ack)]
    assert tx.state is IstState.ACCEPTED
    with pytest.raises(LocalProtocolError):
        tx.respond(response(tx.request, 486), 2.0)
    with pytest.raises(LocalProtocolError):
        tx.respond(response(tx.request, 180), 2.0)
    tx.handle_timer(33.0)
    assert drain(tx) == [StateChanged(IstState.ACCEPTED, IstState.TERMINATED), Terminated()]
    with pytest.raises(LocalProtocolError):
        tx.respond(ok, 34.0)


def test_ist_second_final_is_a_local_error() -> None:
    tx = ist()
    tx.respond(response(tx.request, 404), 0.0)
    for status in (180, 200, 500):
        with pytest.raises(LocalProtocolError):
            tx.respond(response(tx.request, status), 0.1)
    assert tx.state is IstState.COMPLETED


def test_ist_transport_error() -> None:
    tx = ist()
    drain(tx)
    tx.respond(response(tx.request, 486), 0.0)
    drain(tx)
    tx.transport_error(0.5)
    assert drain(tx) == [
        TransportFailed(),
        StateChanged(IstState.COMPLETED, IstState.TERMINATED),
        Terminated(),
    ]
    assert tx.get_timer() is None


def test_ist_rejects_other_methods() -> None:
    with pytest.raises(LocalProtocolError):
        InviteServerTransaction(request("BYE"), UAC, reliable=False, now=0.0)


# -- non-INVITE server transaction ------------------------------------------------


def test_nist_trying_absorbs_retransmissions() -> None:
    tx = nist()
    assert tx.state is NistState.TRYING
    assert drain(tx) == [RequestReceived(tx.request)]
    assert tx.get_timer() is None
    tx.receive_request(tx.request, 0.5)
    assert sent(tx) == [] and drain(tx) == []


def test_nist_proceeding_resends_the_last_provisional() -> None:
    tx = nist()
    drain(tx)
    trying = response(tx.request, 100)
    tx.respond(trying, 0.1)
    assert drain(tx) == [StateChanged(NistState.TRYING, NistState.PROCEEDING)]
    session = response(tx.request, 183)
    tx.respond(session, 0.2)
    assert sent(tx) == [trying.encode(), session.encode()]
    tx.receive_request(tx.request, 0.5)
    assert sent(tx) == [session.encode()]
    tx.receive_request(request("ACK"), 0.5)  # not a retransmission: ignored
    assert sent(tx) == []


def test_nist_completed_resends_final_until_timer_j() -> None:
    tx = nist()
    drain(tx)
    ok = response(tx.request, 200)
    tx.respond(ok, 1.0)
    assert drain(tx) == [StateChanged(NistState.TRYING, NistState.COMPLETED)]
    assert tx.armed_timers == {"J": 33.0}
    sent(tx)
    tx.receive_request(tx.request, 2.0)
    assert sent(tx) == [ok.encode()]
    with pytest.raises(LocalProtocolError):
        tx.respond(response(tx.request, 500), 2.0)
    with pytest.raises(LocalProtocolError):
        tx.respond(response(tx.request, 180), 2.0)
    tx.handle_timer(32.9)
    assert tx.state is NistState.COMPLETED
    tx.handle_timer(33.0)
    assert drain(tx) == [StateChanged(NistState.COMPLETED, NistState.TERMINATED), Terminated()]
    tx.receive_request(tx.request, 34.0)
    assert sent(tx) == []


def test_nist_reliable_timer_j_is_zero() -> None:
    tx = nist(reliable=True)
    tx.respond(response(tx.request, 404), 3.0)
    assert tx.get_timer() == 3.0
    tx.handle_timer(3.0)
    assert tx.state is NistState.TERMINATED


def test_nist_transport_error() -> None:
    tx = nist()
    drain(tx)
    tx.transport_error(0.1)
    assert drain(tx) == [
        TransportFailed(),
        StateChanged(NistState.TRYING, NistState.TERMINATED),
        Terminated(),
    ]


@pytest.mark.parametrize("method", ["INVITE", "ACK"])
def test_nist_rejects_invite_and_ack(method: str) -> None:
    with pytest.raises(LocalProtocolError):
        NonInviteServerTransaction(request(method), UAC, reliable=False, now=0.0)
