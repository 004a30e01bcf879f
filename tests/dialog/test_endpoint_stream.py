"""The endpoint in stream mode (TCP/TLS): byte streams fed in pieces, keep-alives,
framing errors and lost connections."""

from __future__ import annotations

import random

import pytest

from sansip.dialog.ua import UserAgent
from sansip.errors import LocalProtocolError
from sansip.message import Request, make_response
from sansip.transaction import (
    RequestReceived,
    ResponseReceived,
    TransactionKey,
    TransportFailed,
)
from sansip.transaction.drops import MessageDropped
from sansip.transaction.endpoint import (
    CloseConnection,
    Endpoint,
    EndpointConfig,
    EndpointEvent,
    TransactionUpdate,
)
from sansip.transport.types import Address, Transport

ALICE: Address = ("127.0.0.1", 5070)  # where alice listens (her Via sent-by)
ALICE_CONN: Address = ("127.0.0.1", 40001)  # alice's connection, as bob sees it
BOB: Address = ("127.0.0.2", 5060)


def _endpoint(local: Address, transport: Transport = Transport.TCP, seed: int = 1) -> Endpoint:
    return Endpoint(EndpointConfig(local, transport), rng=random.Random(seed))


def _options(n: int = 1) -> Request:
    return Request(
        "OPTIONS",
        "sip:bob@127.0.0.2;transport=tcp",
        [
            ("From", "<sip:alice@127.0.0.1>;tag=a1"),
            ("To", "<sip:bob@127.0.0.2>"),
            ("Call-ID", f"opt{n}@127.0.0.1"),
            ("CSeq", f"{n} OPTIONS"),
        ],
    )


def _events(endpoint: Endpoint) -> list[EndpointEvent]:
    out = []
    while (event := endpoint.next_event()) is not None:
        out.append(event)
    return out


def _requests(events: list[EndpointEvent]) -> list[tuple[TransactionKey, Request]]:
    return [
        (e.key, e.event.request)
        for e in events
        if isinstance(e, TransactionUpdate) and isinstance(e.event, RequestReceived)
    ]


def _wire(endpoint: Endpoint, dest: Address) -> bytes:
    out = endpoint.datagrams_to_send(0.0)
    assert [addr for _, addr in out] == [dest] * len(out)
    return b"".join(data for data, _ in out)


def test_request_split_across_reads_and_answer_on_the_connection() -> None:
    alice, bob = _endpoint(ALICE), _endpoint(BOB, seed=2)
    key = alice.send_request(_options(), BOB, 0.0)
    # Reliable: no timer E, only timer F (64*T1).
    assert alice.get_timer() == 32.0
    wire = _wire(alice, BOB)
    assert b"Via: SIP/2.0/TCP 127.0.0.1:5070;" in wire
    for piece in (wire[:10], wire[10:-5]):
        bob.receive_data(piece, ALICE_CONN, 0.0)
        assert _events(bob) == []
    bob.receive_data(wire[-5:], ALICE_CONN, 0.0)
    [(server_key, request)] = _requests(_events(bob))
    assert request.top_via.transport == "TCP"
    assert (request.top_via.received, request.top_via.rport) == ("127.0.0.1", 40001)
    assert bob.source_of(server_key) == ALICE_CONN
    bob.respond(server_key, make_response(request, 200, to_tag="b0b"), 0.0)
    answer = _wire(bob, ALICE_CONN)  # back on the connection it came from
    assert answer.startswith(b"SIP/2.0 200 ")
    assert bob.get_timer() in (None, 0.0)  # timer J is zero on a reliable transport
    alice.receive_data(answer, BOB, 0.1)
    responses = [
        e.event.response
        for e in _events(alice)
        if isinstance(e, TransactionUpdate)
        and e.key == key
        and isinstance(e.event, ResponseReceived)
    ]
    assert [r.status for r in responses] == [200]
    assert alice.get_timer() in (None, 0.1)  # timer K is zero too


def test_two_messages_in_one_read() -> None:
    alice, bob = _endpoint(ALICE), _endpoint(BOB, seed=2)
    alice.send_request(_options(1), BOB, 0.0)
    alice.send_request(_options(2), BOB, 0.0)
    bob.receive_data(_wire(alice, BOB), ALICE_CONN, 0.0)
    requests = [r for _, r in _requests(_events(bob))]
    assert [r.call_id for r in requests] == ["opt1@127.0.0.1", "opt2@127.0.0.1"]
    assert bob.stats.received == 2


def test_keepalive_ping_gets_a_pong_on_that_connection() -> None:
    bob = _endpoint(BOB)
    bob.receive_data(b"\r\n", ALICE_CONN, 0.0)  # a pong: nothing to answer
    assert bob.datagrams_to_send(0.0) == []
    bob.receive_data(b"\r\n\r\n", ALICE_CONN, 1.0)  # a ping
    assert bob.datagrams_to_send(1.0) == [(b"\r\n", ALICE_CONN)]
    bob.receive_data(b"\r\n\r", ALICE_CONN, 2.0)  # a ping split across reads
    bob.receive_data(b"\n", ALICE_CONN, 2.0)
    assert bob.datagrams_to_send(2.0) == [(b"\r\n", ALICE_CONN)]
    assert _events(bob) == []


def test_malformed_framed_request_gets_400_and_the_stream_goes_on() -> None:
    bob = _endpoint(BOB)
    bad = (
        b"OPTIONS sip:bob@127.0.0.2 SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKx\r\n"
        b"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.2>\r\n"
        b"Call-ID: bad@127.0.0.1\r\nCSeq: 99999999999 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    alice = _endpoint(ALICE)
    alice.send_request(_options(), BOB, 0.0)
    bob.receive_data(bad + _wire(alice, BOB), ALICE_CONN, 0.0)
    [(answer, addr)] = bob.datagrams_to_send(0.0)
    assert addr == ALICE_CONN and answer.startswith(b"SIP/2.0 400 ")
    # The CSeq is copied as received (RFC 3261 §8.2.6.2), so check the bytes.
    assert b"\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKx\r\n" in answer
    events = _events(bob)
    dropped = [e for e in events if isinstance(e, MessageDropped)]
    assert len(dropped) == 1 and dropped[0].answered and dropped[0].source == ALICE_CONN
    assert len(_requests(events)) == 1  # the good request after it still arrives
    assert bob.stats.malformed == 1 and bob.stats.answered_statelessly == 1
    assert bob.connections_to_close() == []


def test_lost_framing_asks_the_driver_to_close_the_connection() -> None:
    bob = _endpoint(BOB)
    no_length = (
        b"OPTIONS sip:bob@127.0.0.2 SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKy\r\n\r\n"
    )
    bob.receive_data(no_length, ALICE_CONN, 0.0)
    [close] = bob.connections_to_close()
    assert close == CloseConnection(ALICE_CONN, "missing Content-Length on a stream")
    assert bob.connections_to_close() == []  # drained
    assert bob.stats.streams_broken == 1
    assert [type(e) for e in _events(bob)] == [MessageDropped]
    # What still arrives on the broken connection is ignored ...
    alice = _endpoint(ALICE)
    alice.send_request(_options(), BOB, 0.0)
    wire = _wire(alice, BOB)
    bob.receive_data(wire, ALICE_CONN, 0.1)
    assert _events(bob) == [] and bob.datagrams_to_send(0.1) == []
    # ... until the driver reports it closed; a new connection from there is fresh.
    bob.connection_lost(ALICE_CONN, 0.2)
    bob.receive_data(wire, ALICE_CONN, 0.3)
    assert len(_requests(_events(bob))) == 1


def test_connection_lost_fails_client_transactions_and_reroutes_server_ones() -> None:
    alice, bob = _endpoint(ALICE), _endpoint(BOB, seed=2)
    key = alice.send_request(_options(1), BOB, 0.0)
    other = alice.send_request(_options(2), ("127.0.0.3", 5060), 0.0)
    to_bob = [data for data, addr in alice.datagrams_to_send(0.0) if addr == BOB]
    bob.receive_data(b"".join(to_bob), ALICE_CONN, 0.0)
    [(server_key, request)] = _requests(_events(bob))
    _events(alice)
    alice.connection_lost(BOB, 1.0)
    failed = {e.key for e in _events(alice) if isinstance(e, TransactionUpdate)
              and isinstance(e.event, TransportFailed)}  # fmt: skip
    assert failed == {key}
    assert other.method == "OPTIONS" and alice.get_timer() == 32.0  # the other one lives
    # Bob's server transaction survives the loss of alice's connection: its
    # response goes over a new connection to her Via sent-by (§18.2.2).
    bob.connection_lost(ALICE_CONN, 1.0)
    assert not [e for e in _events(bob) if isinstance(e, TransactionUpdate)
                and isinstance(e.event, TransportFailed)]  # fmt: skip
    assert bob.stats.connections_lost == 1 and bob.stats.responses_rerouted == 1
    bob.respond(server_key, make_response(request, 200), 1.5)
    assert [addr for _, addr in bob.datagrams_to_send(1.5)] == [ALICE]
    # If that connection fails too, the transaction fails.
    bob.connection_lost(ALICE, 2.0)
    assert bob.stats.connections_lost == 2


def test_a_second_loss_fails_the_rerouted_server_transaction() -> None:
    alice, bob = _endpoint(ALICE), _endpoint(BOB, seed=2)
    alice.send_request(_options(1), BOB, 0.0)
    bob.receive_data(_wire(alice, BOB), ALICE_CONN, 0.0)
    [(server_key, _)] = _requests(_events(bob))
    bob.connection_lost(ALICE_CONN, 1.0)
    bob.connection_lost(ALICE, 1.5)
    failed = {e.key for e in _events(bob) if isinstance(e, TransactionUpdate)
              and isinstance(e.event, TransportFailed)}  # fmt: skip
    assert failed == {server_key}


def test_an_unused_connection_is_closed_after_the_idle_timeout() -> None:
    alice, bob = _endpoint(ALICE), _endpoint(BOB, seed=2)
    alice.send_request(_options(1), BOB, 0.0)
    bob.receive_data(_wire(alice, BOB), ALICE_CONN, 0.0)
    [(server_key, request)] = _requests(_events(bob))
    bob.respond(server_key, make_response(request, 200), 0.5)
    bob.datagrams_to_send(0.5)
    bob.handle_timer(0.5)  # timer J is 0 on TCP: the transaction ends
    assert bob.get_timer() == 60.0  # first check: 60 s after the first traffic
    bob.handle_timer(60.0)
    assert bob.connections_to_close() == []  # the response at 0.5 moved the deadline
    assert bob.get_timer() == 60.5
    bob.handle_timer(60.5)
    assert bob.connections_to_close() == [CloseConnection(ALICE_CONN, "idle")]
    assert bob.stats.idle_closed == 1
    bob.connection_lost(ALICE_CONN, 60.6)  # the driver closed it
    assert bob.get_timer() is None


def test_traffic_a_transaction_or_a_pin_keeps_a_connection_open() -> None:
    bob = _endpoint(BOB, seed=2)
    alice = _endpoint(ALICE)
    alice.send_request(_options(1), BOB, 0.0)
    bob.receive_data(_wire(alice, BOB), ALICE_CONN, 0.0)
    _events(bob)
    bob.handle_timer(60.0)  # the OPTIONS is still unanswered: its transaction uses the connection
    assert bob.connections_to_close() == []
    bob.pin_connection(ALICE_CONN)
    bob.handle_timer(500.0)
    assert bob.connections_to_close() == []
    bob.unpin_connection(ALICE_CONN)  # released: checked again, closed once the transaction ends
    at = bob.get_timer()
    assert at is not None
    bob.handle_timer(at)
    bob.handle_timer(at + 60.0)
    closes = bob.connections_to_close()
    assert closes == [] or closes == [CloseConnection(ALICE_CONN, "idle")]


def test_no_idle_close_for_datagrams_or_when_disabled() -> None:
    udp = _endpoint(BOB, Transport.UDP)
    udp.receive_datagram(b"\r\n\r\n", ALICE, 0.0)
    assert udp.get_timer() is None
    tcp = Endpoint(EndpointConfig(BOB, Transport.TCP, idle_timeout=None), rng=random.Random(1))
    tcp.receive_data(b"\r\n\r\n", ALICE_CONN, 0.0)
    tcp.datagrams_to_send(0.0)
    assert tcp.get_timer() is None


def test_tls_via_and_contact() -> None:
    alice = _endpoint(ALICE, Transport.TLS)
    alice.send_request(_options(), BOB, 0.0)
    assert b"Via: SIP/2.0/TLS 127.0.0.1:5070;" in _wire(alice, BOB)
    ua = UserAgent(EndpointConfig(ALICE, Transport.TLS), rng=random.Random(3))
    assert str(ua.contact.uri) == "sip:sansip@127.0.0.1:5070;transport=tls"
    ua = UserAgent(EndpointConfig(ALICE, Transport.TCP), rng=random.Random(3))
    assert str(ua.contact.uri) == "sip:sansip@127.0.0.1:5070;transport=tcp"
    ua = UserAgent(EndpointConfig(ALICE), rng=random.Random(3))
    assert str(ua.contact.uri) == "sip:sansip@127.0.0.1:5070"


def test_wrong_input_for_the_mode_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        _endpoint(BOB, Transport.UDP).receive_data(b"x", ALICE_CONN, 0.0)
    with pytest.raises(LocalProtocolError):
        _endpoint(BOB, Transport.TCP).receive_datagram(b"x", ALICE_CONN, 0.0)
