"""Client transactions: RFC 3261 §17.1.1 (+ RFC 6026) and §17.1.2, timers stepped by hand."""

from __future__ import annotations

import pytest

from sansip.errors import LocalProtocolError
from sansip.message import Request, parse
from sansip.transaction import (
    IctState,
    InviteClientTransaction,
    NictState,
    NonInviteClientTransaction,
    ResponseReceived,
    StateChanged,
    Terminated,
    TimedOut,
    TimerConfig,
    TransportFailed,
)
from tests.transaction.helpers import UAS, drain, request, response, sent

ROUTES = ("<sip:proxy1.127.0.0.1;lr>", "<sip:127.0.0.1:5080;lr>")


def ict(
    *, reliable: bool = False, now: float = 0.0, timers: TimerConfig | None = None
) -> InviteClientTransaction:
    return InviteClientTransaction(
        request("INVITE", routes=ROUTES),
        UAS,
        reliable=reliable,
        now=now,
        timers=timers or TimerConfig(),
    )


def nict(*, reliable: bool = False, now: float = 0.0) -> NonInviteClientTransaction:
    return NonInviteClientTransaction(
        request("OPTIONS", branch="z9hG4bKopt1"), UAS, reliable=reliable, now=now
    )


# -- INVITE client transaction ------------------------------------------------


def test_ict_sends_the_invite_at_construction() -> None:
    tx = ict()
    assert tx.datagrams_to_send(0.0) == [(tx.request.encode(), UAS)]
    assert tx.state is IctState.CALLING
    assert drain(tx) == []


def test_ict_timer_a_doubles_from_t1_and_timer_b_fires_at_64_t1() -> None:
    tx = ict()
    wire = sent(tx)[0]
    for k in (1, 3, 7, 15, 31, 63):  # T1, 3*T1, 7*T1, ... (A doubles: 1, 2, 4, 8, 16, 32 T1)
        at = k * 0.5
        if at >= 32.0:
            break
        assert tx.get_timer() == at
        tx.handle_timer(at - 0.01)  # early: nothing happens
        assert sent(tx) == []
        tx.handle_timer(at)
        tx.handle_timer(at)  # repeated: still one retransmission
        assert sent(tx) == [wire]
    assert tx.armed_timers == {"A": 63.5, "B": 32.0}
    assert tx.get_timer() == 32.0
    tx.handle_timer(32.0)
    assert sent(tx) == []
    assert drain(tx) == [
        TimedOut(),
        StateChanged(IctState.CALLING, IctState.TERMINATED),
        Terminated(),
    ]
    assert tx.get_timer() is None
    tx.handle_timer(100.0)
    assert sent(tx) == [] and drain(tx) == []


def test_ict_retransmission_schedule_scales_with_t1() -> None:
    tx = ict(timers=TimerConfig(t1=0.1, t2=1.0))
    assert len(sent(tx)) == 1
    times = []
    while (at := tx.get_timer()) is not None:
        tx.handle_timer(at)
        if sent(tx):
            times.append(round(at, 6))
    assert times == [0.1, 0.3, 0.7, 1.5, 3.1, 6.3]  # then B at 6.4
    assert drain(tx)[0] == TimedOut()


def test_ict_reliable_never_retransmits() -> None:
    tx = ict(reliable=True, now=10.0)
    assert len(sent(tx)) == 1
    assert tx.armed_timers == {"B": 42.0}
    tx.handle_timer(41.9)
    assert sent(tx) == []
    tx.handle_timer(42.0)
    assert sent(tx) == []
    assert drain(tx)[0] == TimedOut()


def test_ict_provisional_stops_retransmissions_and_timeout() -> None:
    tx = ict()
    sent(tx)
    tx.handle_timer(0.5)
    ringing = response(tx.request, 180)
    tx.receive_response(ringing, 0.6)
    assert tx.state is IctState.PROCEEDING
    assert tx.get_timer() is None
    assert drain(tx) == [
        ResponseReceived(ringing),
        StateChanged(IctState.CALLING, IctState.PROCEEDING),
    ]
    again = response(tx.request, 183)
    tx.receive_response(again, 0.7)
    assert drain(tx) == [ResponseReceived(again)]
    assert sent(tx) == [tx.request.encode()]  # only the retransmission at 0.5


def test_ict_non_2xx_sends_ack_built_per_17_1_1_3() -> None:
    tx = ict()
    sent(tx)
    busy = response(tx.request, 486, to_tag="callee-tag")
    tx.receive_response(busy, 1.0)
    (wire,) = sent(tx)
    ack = parse(wire)
    assert isinstance(ack, Request)
    assert ack == tx.ack
    invite = tx.request
    assert ack.method == "ACK"
    assert ack.uri == invite.uri
    assert len(ack.via) == 1 and ack.top_via == invite.top_via
    assert ack.top_via.branch == "z9hG4bKabc1"
    assert ack.call_id == invite.call_id
    assert ack.from_ == invite.from_
    assert ack.to.tag == "callee-tag" and ack.to.uri == invite.to.uri
    assert (ack.cseq.seq, ack.cseq.method) == (1, "ACK")
    assert ack.headers.get_all("Route") == list(ROUTES)
    assert ack.max_forwards == 70
    assert ack.body == b""
    assert drain(tx) == [
        ResponseReceived(busy),
        StateChanged(IctState.CALLING, IctState.COMPLETED),
    ]
    assert tx.armed_timers == {"D": 33.0}


def test_ict_completed_reacks_retransmitted_finals_then_timer_d() -> None:
    tx = ict()
    sent(tx)
    busy = response(tx.request, 486)
    tx.receive_response(busy, 1.0)
    (ack,) = sent(tx)
    drain(tx)
    for t in (2.0, 5.0):
        tx.receive_response(busy, t)
        assert sent(tx) == [ack]
    tx.receive_response(response(tx.request, 180), 6.0)  # late provisional: absorbed
    tx.receive_response(response(tx.request, 200), 6.0)  # 2xx after non-2xx: absorbed
    assert sent(tx) == [] and drain(tx) == []
    tx.handle_timer(32.9)
    assert tx.state is IctState.COMPLETED
    tx.handle_timer(33.0)
    assert drain(tx) == [StateChanged(IctState.COMPLETED, IctState.TERMINATED), Terminated()]


def test_ict_timer_d_is_zero_on_reliable_transports() -> None:
    tx = ict(reliable=True)
    tx.receive_response(response(tx.request, 603), 2.0)
    assert tx.get_timer() == 2.0
    tx.handle_timer(2.0)
    assert tx.state is IctState.TERMINATED


def test_ict_2xx_goes_to_accepted_and_passes_retransmissions_up_rfc6026() -> None:
    tx = ict()
    sent(tx)
    ok = response(tx.request, 200, to_tag="fork-a")
    tx.receive_response(ok, 1.0)
    assert tx.state is IctState.ACCEPTED
    assert tx.armed_timers == {"M": 33.0}
    assert drain(tx) == [ResponseReceived(ok), StateChanged(IctState.CALLING, IctState.ACCEPTED)]
    fork = response(tx.request, 200, to_tag="fork-b")
    tx.receive_response(ok, 2.0)
    tx.receive_response(fork, 3.0)
    tx.receive_response(response(tx.request, 486), 3.0)  # non-2xx in ACCEPTED: dropped
    tx.receive_response(response(tx.request, 180), 3.0)
    assert drain(tx) == [ResponseReceived(ok), ResponseReceived(fork)]
    assert sent(tx) == []  # the TU sends the ACK for a 2xx, not the transaction
    assert tx.ack is None
    tx.handle_timer(33.0)
    assert drain(tx) == [StateChanged(IctState.ACCEPTED, IctState.TERMINATED), Terminated()]


def test_ict_transport_error_terminates() -> None:
    tx = ict()
    tx.transport_error(0.1)
    assert drain(tx) == [
        TransportFailed(),
        StateChanged(IctState.CALLING, IctState.TERMINATED),
        Terminated(),
    ]
    assert tx.get_timer() is None
    tx.transport_error(0.2)
    tx.receive_response(response(tx.request, 200), 0.3)
    assert drain(tx) == []


def test_ict_cancel_request_per_9_1() -> None:
    tx = ict()
    tx.receive_response(response(tx.request, 180), 0.1)
    cancel = parse(tx.cancel_request().encode())
    assert isinstance(cancel, Request)
    invite = tx.request
    assert cancel.method == "CANCEL" and cancel.uri == invite.uri
    assert len(cancel.via) == 1 and cancel.top_via == invite.top_via
    assert cancel.call_id == invite.call_id
    assert cancel.from_ == invite.from_ and cancel.to == invite.to
    assert (cancel.cseq.seq, cancel.cseq.method) == (1, "CANCEL")
    assert cancel.headers.get_all("Route") == list(ROUTES)
    assert cancel.max_forwards == 70
    tx.receive_response(response(tx.request, 487), 0.2)
    with pytest.raises(LocalProtocolError):
        tx.cancel_request()


def test_ict_abandon() -> None:
    tx = ict()
    tx.receive_response(response(tx.request, 180), 0.1)
    drain(tx)
    tx.abandon(40.0)
    assert drain(tx) == [StateChanged(IctState.PROCEEDING, IctState.TERMINATED), Terminated()]
    tx.abandon(41.0)
    assert drain(tx) == []


def test_ict_rejects_bad_requests() -> None:
    with pytest.raises(LocalProtocolError):
        InviteClientTransaction(request("OPTIONS"), UAS, reliable=False, now=0.0)
    with pytest.raises(LocalProtocolError):
        InviteClientTransaction(request("INVITE", branch=None), UAS, reliable=False, now=0.0)
    with pytest.raises(LocalProtocolError):
        InviteClientTransaction(Request("INVITE", "sip:bob@127.0.0.1"), UAS, reliable=True, now=0)


# -- non-INVITE client transaction ------------------------------------------------


def test_nict_timer_e_doubles_up_to_t2_then_timer_f() -> None:
    tx = nict()
    wire = sent(tx)[0]
    expected = [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    times = []
    while (at := tx.get_timer()) is not None and at < 32.0:
        tx.handle_timer(at)
        assert sent(tx) == [wire]
        times.append(at)
    assert times == expected  # intervals 0.5, 1, 2, 4, 4, ...
    assert tx.get_timer() == 32.0
    tx.handle_timer(32.0)
    assert drain(tx) == [
        TimedOut(),
        StateChanged(NictState.TRYING, NictState.TERMINATED),
        Terminated(),
    ]
    assert tx.get_timer() is None


def test_nict_proceeding_retransmits_every_t2() -> None:
    tx = nict()
    sent(tx)
    tx.handle_timer(0.5)
    trying = response(tx.request, 100)
    tx.receive_response(trying, 0.6)
    assert tx.state is NictState.PROCEEDING
    assert drain(tx) == [
        ResponseReceived(trying),
        StateChanged(NictState.TRYING, NictState.PROCEEDING),
    ]
    assert tx.armed_timers == {"E": 1.5, "F": 32.0}
    times = []
    while (at := tx.get_timer()) is not None and at < 32.0:
        tx.handle_timer(at)
        times.append(at)
    assert times == [1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
    assert len(sent(tx)) == 9
    tx.handle_timer(32.0)
    assert drain(tx)[0] == TimedOut()


def test_nict_final_goes_to_completed_and_absorbs_retransmissions_until_k() -> None:
    tx = nict()
    sent(tx)
    ok = response(tx.request, 200)
    tx.receive_response(ok, 2.0)
    assert drain(tx) == [ResponseReceived(ok), StateChanged(NictState.TRYING, NictState.COMPLETED)]
    assert tx.armed_timers == {"K": 7.0}
    tx.receive_response(ok, 3.0)
    tx.receive_response(response(tx.request, 500), 3.0)
    assert drain(tx) == [] and sent(tx) == []
    tx.handle_timer(6.99)
    assert tx.state is NictState.COMPLETED
    tx.handle_timer(7.0)
    assert drain(tx) == [StateChanged(NictState.COMPLETED, NictState.TERMINATED), Terminated()]


def test_nict_reliable_no_retransmissions_and_zero_k() -> None:
    tx = nict(reliable=True)
    assert len(sent(tx)) == 1
    assert tx.armed_timers == {"F": 32.0}
    tx.handle_timer(31.0)
    assert sent(tx) == []
    tx.receive_response(response(tx.request, 404), 31.5)
    assert tx.get_timer() == 31.5
    tx.handle_timer(31.5)
    assert tx.state is NictState.TERMINATED


def test_nict_transport_error() -> None:
    tx = nict()
    tx.receive_response(response(tx.request, 180), 0.1)
    drain(tx)
    tx.transport_error(0.2)
    assert drain(tx) == [
        TransportFailed(),
        StateChanged(NictState.PROCEEDING, NictState.TERMINATED),
        Terminated(),
    ]


@pytest.mark.parametrize("method", ["INVITE", "ACK"])
def test_nict_rejects_invite_and_ack(method: str) -> None:
    with pytest.raises(LocalProtocolError):
        NonInviteClientTransaction(request(method), UAS, reliable=False, now=0.0)


def test_module_doctest() -> None:
    import doctest

    import sansip.transaction.client as module

    assert doctest.testmod(module).failed == 0
