"""TransactionLayer: routing, one timer over many transactions, cleanup."""

from __future__ import annotations

import pytest

from sansip.errors import LocalProtocolError
from sansip.transaction import (
    IctState,
    IstState,
    NictState,
    RequestReceived,
    ResponseReceived,
    StateChanged,
    Terminated,
    TimedOut,
    TransactionLayer,
    TransportFailed,
)
from tests.transaction.helpers import UAC, UAS, ack_for, drain, request, response


def test_client_invite_flow() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    key = layer.send_request(invite, UAS, reliable=False, now=0.0)
    assert layer.datagrams_to_send(0.0) == [(invite.encode(), UAS)]
    assert layer.get_timer() == 0.5
    layer.handle_timer(0.5)
    assert layer.datagrams_to_send(0.5) == [(invite.encode(), UAS)]
    assert layer.get_timer() == 1.5
    ringing = response(invite, 180)
    assert layer.receive_response(ringing, 0.6) == key
    assert drain(layer) == [
        (key, ResponseReceived(ringing)),
        (key, StateChanged(IctState.CALLING, IctState.PROCEEDING)),
    ]
    assert layer.get_timer() is None  # stale heap entries are not reported
    busy = response(invite, 486)
    layer.receive_response(busy, 1.0)
    ((ack, dest),) = layer.datagrams_to_send(1.0)
    assert dest == UAS and ack.startswith(b"ACK ")
    assert layer.get_timer() == 33.0
    drain(layer)
    layer.handle_timer(33.0)
    assert drain(layer) == [
        (key, StateChanged(IctState.COMPLETED, IctState.TERMINATED)),
        (key, Terminated()),
    ]
    assert len(layer) == 0 and key not in layer and layer.get_timer() is None
    # A late 2xx now matches nothing: it goes to the TU with key None.
    ok = response(invite, 200)
    assert layer.receive_response(ok, 40.0) is None
    assert drain(layer) == [(None, ResponseReceived(ok))]


def test_server_invite_flow() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    key = layer.receive_request(invite, UAC, reliable=False, now=0.0)
    assert key is not None
    assert drain(layer) == [(key, RequestReceived(invite))]
    assert layer.get_timer() == pytest.approx(0.2)
    layer.handle_timer(0.2)
    ((trying, dest),) = layer.datagrams_to_send(0.2)
    assert dest == UAC and trying.startswith(b"SIP/2.0 100 ")
    assert layer.receive_request(request("INVITE"), UAC, reliable=False, now=0.5) == key
    assert layer.datagrams_to_send(0.5) == [(trying, UAC)]
    assert drain(layer) == []
    ok = response(invite, 200)
    layer.respond(key, ok, 1.0)
    assert layer.datagrams_to_send(1.0) == [(ok.encode(), UAC)]
    # The ACK for the 2xx has a new branch: no transaction, straight to the TU.
    ack = request("ACK", branch="z9hG4bKack2xx", to_tag="tt1")
    assert layer.receive_request(ack, UAC, reliable=False, now=1.1) is None
    assert drain(layer) == [
        (key, StateChanged(IstState.PROCEEDING, IstState.ACCEPTED)),
        (None, RequestReceived(ack)),
    ]
    assert layer.get_timer() == 33.0
    layer.handle_timer(33.0)
    assert drain(layer)[-1] == (key, Terminated())
    assert len(layer) == 0
    with pytest.raises(LocalProtocolError):
        layer.respond(key, ok, 34.0)


def test_server_non_2xx_ack_is_absorbed() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    key = layer.receive_request(invite, UAC, reliable=True, now=0.0)
    assert key is not None
    layer.respond(key, response(invite, 486), 0.1)
    drain(layer)
    assert layer.receive_request(ack_for(invite), UAC, reliable=True, now=0.2) == key
    assert drain(layer) == [(key, StateChanged(IstState.COMPLETED, IstState.CONFIRMED))]
    layer.handle_timer(0.2)  # Timer I = 0 on reliable transports
    assert drain(layer)[-1] == (key, Terminated())


def test_one_timer_over_many_transactions() -> None:
    layer = TransactionLayer()
    a = layer.send_request(request("OPTIONS", branch="z9hG4bKa"), UAS, reliable=False, now=0.0)
    b = layer.send_request(request("OPTIONS", branch="z9hG4bKb"), UAS, reliable=False, now=0.2)
    c = layer.send_request(request("INVITE", branch="z9hG4bKc"), UAS, reliable=True, now=0.1)
    assert len(layer) == 3
    assert layer.get_timer() == 0.5
    layer.handle_timer(0.5)
    assert len(layer.datagrams_to_send(0.5)) == 4  # three requests + a's retransmission
    assert layer.get_timer() == pytest.approx(0.7)
    layer.receive_response(response(request("OPTIONS", branch="z9hG4bKb"), 200), 0.6)
    assert layer.get_timer() == 1.5  # b's E is gone (lazily deleted), a's is next
    layer.handle_timer(100.0)  # very late: every due deadline fires once
    events = drain(layer)
    assert (a, TimedOut()) in events and (c, TimedOut()) in events
    assert (b, Terminated()) in events
    assert len(layer) == 0 and layer.get_timer() is None


def test_handle_timer_early_does_nothing() -> None:
    layer = TransactionLayer()
    layer.send_request(request("OPTIONS"), UAS, reliable=False, now=0.0)
    layer.datagrams_to_send(0.0)
    layer.handle_timer(0.4)
    assert layer.datagrams_to_send(0.4) == [] and layer.get_timer() == 0.5


def test_cancel_target_and_cancel_transaction() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    ikey = layer.receive_request(invite, UAC, reliable=False, now=0.0)
    cancel = request("CANCEL")
    ckey = layer.receive_request(cancel, UAC, reliable=False, now=0.1)
    assert ckey is not None and ckey != ikey
    assert layer.find_cancel_target(cancel) == ikey
    assert layer.find_cancel_target(request("CANCEL", branch="z9hG4bKnone")) is None
    assert drain(layer) == [(ikey, RequestReceived(invite)), (ckey, RequestReceived(cancel))]


def test_merged_request_detection() -> None:
    layer = TransactionLayer()
    first = request("INVITE", branch="z9hG4bKpath-a")
    second = request("INVITE", branch="z9hG4bKpath-b", via_port=5062)
    k1 = layer.receive_request(first, UAC, reliable=False, now=0.0)
    assert layer.find_merged(first) is None
    k2 = layer.receive_request(second, ("127.0.0.1", 5062), reliable=False, now=0.1)
    assert k2 is not None and k2 != k1
    assert layer.find_merged(second) == k1  # the TU answers 482 on k2
    assert layer.find_merged(request("INVITE", to_tag="x")) is None


def test_client_commands_are_checked() -> None:
    layer = TransactionLayer()
    layer.send_request(request("INVITE"), UAS, reliable=False, now=0.0)
    with pytest.raises(LocalProtocolError):
        layer.send_request(request("INVITE"), UAS, reliable=False, now=0.0)
    with pytest.raises(LocalProtocolError):
        layer.send_request(request("ACK"), UAS, reliable=False, now=0.0)
    key = layer.send_request(request("CANCEL"), UAS, reliable=False, now=0.0)
    with pytest.raises(LocalProtocolError):
        layer.respond(key, response(request("CANCEL"), 200), 0.0)


def test_transport_error_is_routed() -> None:
    layer = TransactionLayer()
    key = layer.send_request(request("OPTIONS"), UAS, reliable=True, now=0.0)
    layer.transport_error(key, 0.1)
    layer.transport_error(key, 0.2)  # gone: ignored
    assert drain(layer) == [
        (key, TransportFailed()),
        (key, StateChanged(NictState.TRYING, NictState.TERMINATED)),
        (key, Terminated()),
    ]
    assert len(layer) == 0 and layer.get_timer() is None
