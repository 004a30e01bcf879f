"""RFC 5626 §4.4.1 keep-alive pings on stream connections."""

from __future__ import annotations

import random

import pytest

from sansip.errors import LocalProtocolError
from sansip.transaction.endpoint import (
    KEEPALIVE_PONG_TIMEOUT,
    CloseConnection,
    Endpoint,
    EndpointConfig,
    KeepAliveFailed,
)
from sansip.transport.types import Address, Transport

PEER: Address = ("127.0.0.9", 5060)


def _endpoint(transport: Transport = Transport.TCP) -> Endpoint:
    # No idle close here: these tests read the keep-alive deadlines off get_timer().
    config = EndpointConfig(("127.0.0.1", 5060), transport, idle_timeout=None)
    return Endpoint(config, rng=random.Random(1))


def _events(endpoint: Endpoint) -> list[object]:
    out = []
    while (event := endpoint.next_event()) is not None:
        out.append(event)
    return out


def test_ping_pong_cycle() -> None:
    ep = _endpoint()
    ep.keep_alive(PEER, 100.0, now=0.0)
    first = ep.get_timer()
    assert first is not None and 80.0 <= first <= 100.0
    ep.handle_timer(first - 1)  # early: nothing
    assert ep.datagrams_to_send(first - 1) == []
    ep.handle_timer(first)
    assert ep.datagrams_to_send(first) == [(b"\r\n\r\n", PEER)]
    assert ep.get_timer() == first + KEEPALIVE_PONG_TIMEOUT
    ep.receive_data(b"\r\n", PEER, first + 0.1)  # the pong
    second = ep.get_timer()
    assert second is not None and first + 80.0 <= second <= first + 100.1
    assert _events(ep) == []


def test_a_missing_pong_closes_the_connection() -> None:
    ep = _endpoint()
    ep.receive_data(b"", PEER, 0.0)  # the connection exists
    ep.keep_alive(PEER, 100.0, now=0.0)
    ping_at = ep.get_timer()
    assert ping_at is not None
    ep.handle_timer(ping_at)
    ep.handle_timer(ping_at + KEEPALIVE_PONG_TIMEOUT)
    assert ep.connections_to_close() == [CloseConnection(PEER, "no keep-alive pong")]
    assert _events(ep) == [KeepAliveFailed(PEER)]
    # Pinging goes on: the next connection to the peer is checked too.
    ep.connection_lost(PEER, ping_at + 11)
    later = ep.get_timer()
    assert later is not None and later > ping_at + KEEPALIVE_PONG_TIMEOUT


def test_stop_and_misuse() -> None:
    ep = _endpoint()
    ep.keep_alive(PEER, 50.0, now=0.0)
    ep.stop_keep_alive(PEER)
    assert ep.get_timer() is None
    with pytest.raises(LocalProtocolError):
        ep.keep_alive(PEER, 0.0, now=0.0)


def test_over_udp_pings_go_out_with_no_pong_awaited() -> None:
    ep = _endpoint(Transport.UDP)
    ep.keep_alive(PEER, 50.0, now=0.0)
    first = ep.get_timer()
    assert first is not None and 40.0 <= first <= 50.0
    ep.handle_timer(first)
    assert ep.datagrams_to_send(first) == [(b"\r\n\r\n", PEER)]
    second = ep.get_timer()
    assert second is not None and first + 40.0 <= second <= first + 50.0  # not a pong deadline
