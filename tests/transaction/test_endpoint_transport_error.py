"""``Endpoint.transport_error``: a datagram to an address came back
undeliverable (an ICMP unreachable): the client transactions to that
address fail at once, the others go on (RFC 3261 §17.1.1.2, §17.1.2.2,
§18.4)."""

from __future__ import annotations

import random

from sansip.message import Request, make_response, parse
from sansip.transaction import RequestReceived, Terminated, TransportFailed
from sansip.transaction.endpoint import Endpoint, EndpointConfig, TransactionUpdate
from sansip.transaction.matching import TransactionKey
from sansip.transport.types import Address, Transport

ALICE: Address = ("127.0.0.1", 5060)
DEAD: Address = ("127.0.0.3", 5060)
ALIVE: Address = ("127.0.0.4", 5060)
DEAD6: Address = ("::3", 5060)


def _endpoint(transport: Transport = Transport.UDP) -> Endpoint:
    return Endpoint(EndpointConfig(ALICE, transport), rng=random.Random(1))


def _request(method: str, n: int, host: str = "127.0.0.3") -> Request:
    return Request(method, f"sip:bob@{host}", [
        ("From", "<sip:alice@127.0.0.1>;tag=a1"),
        ("To", "<sip:bob@127.0.0.3>"),
        ("Call-ID", f"call{n}@127.0.0.1"),
        ("CSeq", f"1 {method}"),
    ])  # fmt: skip


def _updates(endpoint: Endpoint) -> list[TransactionUpdate]:
    out = []
    while (event := endpoint.next_event()) is not None:
        if isinstance(event, TransactionUpdate):
            out.append(event)
    return out


def _failed(endpoint: Endpoint) -> set[TransactionKey]:
    return {u.key for u in _updates(endpoint) if isinstance(u.event, TransportFailed)}


def test_only_the_transactions_to_the_address_fail_at_once() -> None:
    endpoint = _endpoint()
    invite = endpoint.send_request(_request("INVITE", 1), DEAD, 0.0)
    options = endpoint.send_request(_request("OPTIONS", 2), DEAD, 0.0)
    endpoint.send_request(_request("INVITE", 3), ALIVE, 0.0)
    endpoint.send_request(_request("OPTIONS", 4), (DEAD[0], 5070), 0.0)
    endpoint.datagrams_to_send(0.0)
    _updates(endpoint)
    endpoint.transport_error(DEAD, 0.05)
    updates = _updates(endpoint)
    failed = {u.key for u in updates if isinstance(u.event, TransportFailed)}
    assert failed == {invite, options}
    assert {u.key for u in updates if isinstance(u.event, Terminated)} == {invite, options}
    assert endpoint.stats.transport_errors == 1
    # The failed ones send nothing more; the others still retransmit (timer A/E at 0.5 s).
    endpoint.handle_timer(0.5)
    assert {dest for _, dest in endpoint.datagrams_to_send(0.5)} == {ALIVE, (DEAD[0], 5070)}
    # A second report, or one for an address nobody uses, is harmless.
    endpoint.transport_error(DEAD, 0.6)
    endpoint.transport_error(("127.0.0.99", 9), 0.6)
    assert _failed(endpoint) == set() and endpoint.stats.transport_errors == 3


def test_the_address_is_matched_however_it_is_spelled() -> None:
    endpoint = _endpoint()
    key = endpoint.send_request(_request("OPTIONS", 1, "[::3]"), ("0:0:0:0:0:0:0:3", 5060), 0.0)
    mapped = endpoint.send_request(_request("OPTIONS", 2), DEAD, 0.0)
    _updates(endpoint)
    endpoint.transport_error(DEAD6, 0.1)
    endpoint.transport_error(("::ffff:127.0.0.3", 5060), 0.1)
    assert _failed(endpoint) == {key, mapped}


def test_a_completed_invite_transaction_ends_on_a_transport_error() -> None:
    """After its final response an INVITE client transaction only absorbs
    retransmissions (Completed): a transport error ends it (§17.1.1.2)."""
    endpoint = _endpoint()
    key = endpoint.send_request(_request("INVITE", 1), DEAD, 0.0)
    ((wire, _),) = endpoint.datagrams_to_send(0.0)
    invite = parse(wire)
    assert isinstance(invite, Request)
    endpoint.receive_datagram(bytes(make_response(invite, 486, to_tag="b")), DEAD, 0.05)
    endpoint.datagrams_to_send(0.05)  # the ACK
    _updates(endpoint)
    endpoint.transport_error(DEAD, 0.1)
    updates = _updates(endpoint)
    assert [type(u.event) for u in updates if u.key == key][-1] is Terminated
    endpoint.transport_error(DEAD, 0.2)
    assert _failed(endpoint) == set()


def test_server_transactions_are_counted_not_failed() -> None:
    """A response to ``addr`` that could not be delivered: a datagram
    response is retransmitted until its timer ends the transaction."""
    endpoint = _endpoint()
    request = _request("INVITE", 5)
    request.headers.prepend("Via", "SIP/2.0/UDP 127.0.0.3:5060;branch=z9hG4bKpeer1")
    endpoint.receive_datagram(bytes(request), DEAD, 0.0)
    (created,) = [u for u in _updates(endpoint) if isinstance(u.event, RequestReceived)]
    endpoint.respond(created.key, make_response(request, 486, to_tag="b"), 0.01)
    endpoint.datagrams_to_send(0.01)
    endpoint.transport_error(DEAD, 0.02)
    assert _failed(endpoint) == set()
    assert endpoint.stats.responses_undelivered == 1
    endpoint.handle_timer(0.51)  # timer G: the 486 goes out again
    assert [dest for _, dest in endpoint.datagrams_to_send(0.51)] == [DEAD]


def test_stream_mode_fails_the_transactions_of_a_lost_connection_at_once() -> None:
    """TCP/TLS report a refused or reset connection as ``connection_lost``:
    its client transactions fail at once too."""
    endpoint = _endpoint(Transport.TCP)
    key = endpoint.send_request(_request("INVITE", 1), DEAD, 0.0)
    endpoint.send_request(_request("INVITE", 2), ALIVE, 0.0)
    _updates(endpoint)
    endpoint.connection_lost(DEAD, 0.01)
    assert _failed(endpoint) == {key}
