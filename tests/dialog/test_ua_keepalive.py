"""A UA registered over TCP pings its registrar and re-registers when a ping
gets no pong (RFC 5626 §4.4.1)."""

from __future__ import annotations

import random

from sansip.dialog.register import RegistrationState
from sansip.dialog.ua import STREAM_KEEPALIVE_INTERVAL, UAConfig, UserAgent
from sansip.message import Request, SipURI, make_response, parse
from sansip.transaction.endpoint import KEEPALIVE_PONG_TIMEOUT, CloseConnection, EndpointConfig
from sansip.transport.types import Address, Transport

REGISTRAR: Address = ("127.0.0.9", 5060)


def _answer_registers(ua: UserAgent, now: float) -> int:
    """Answer every REGISTER the UA sent with 200; return how many."""
    count = 0
    for data, addr in ua.datagrams_to_send(now):
        if data.startswith(b"REGISTER"):
            request = parse(data)
            assert isinstance(request, Request) and addr == REGISTRAR
            contact = request.contacts[0].with_params(expires="3600")
            ok = make_response(request, 200, to_tag="r", headers=[("Contact", contact)])
            ua.receive_data(bytes(ok), REGISTRAR, now)
            count += 1
    return count


def test_a_missing_pong_makes_the_ua_register_again() -> None:
    ua = UserAgent(
        EndpointConfig(("127.0.0.1", 5060), Transport.TCP), UAConfig(user="alice"),
        rng=random.Random(7),
    )  # fmt: skip
    client = ua.register(SipURI("127.0.0.9"), 0.0)
    assert _answer_registers(ua, 0.0) == 1
    assert client.state is RegistrationState.REGISTERED
    ua.handle_timer(0.0)  # timer K (0 on TCP) ends the REGISTER transaction
    ping_at = ua.get_timer()
    assert ping_at is not None and ping_at >= 0.8 * STREAM_KEEPALIVE_INTERVAL
    ua.handle_timer(ping_at)
    assert (b"\r\n\r\n", REGISTRAR) in ua.datagrams_to_send(ping_at)
    lost_at = ping_at + KEEPALIVE_PONG_TIMEOUT
    ua.handle_timer(lost_at)
    assert ua.connections_to_close() == [CloseConnection(REGISTRAR, "no keep-alive pong")]
    ua.connection_lost(REGISTRAR, lost_at)
    assert _answer_registers(ua, lost_at) == 1  # registered again on a new connection
    assert client.state is RegistrationState.REGISTERED


def test_over_udp_a_crlf_keeps_the_nat_binding_to_the_registrar_open() -> None:
    """``keepalive_interval``: a CRLF-CRLF datagram to the registrar every
    80-100 % of the interval, no pong awaited; none after unregistering."""
    config = UAConfig(user="alice", keepalive_interval=28.0)
    ua = UserAgent(EndpointConfig(("127.0.0.1", 5060), Transport.UDP), config,
                   rng=random.Random(7))  # fmt: skip
    client = ua.register(SipURI("127.0.0.9"), 0.0)
    for data, addr in ua.datagrams_to_send(0.0):
        request = parse(data)
        assert isinstance(request, Request) and addr == REGISTRAR
        contact = request.contacts[0].with_params(expires="3600")
        ok = make_response(request, 200, to_tag="r", headers=[("Contact", contact)])
        ua.receive_datagram(bytes(ok), REGISTRAR, 0.0)
    assert client.state is RegistrationState.REGISTERED
    pings: list[float] = []
    now = 0.0
    while now < 300.0:
        timer = ua.get_timer()
        assert timer is not None
        now = max(now, timer)
        ua.handle_timer(now)
        pings += [now for data, addr in ua.datagrams_to_send(now)
                  if data == b"\r\n\r\n" and addr == REGISTRAR]  # fmt: skip
    gaps = [b - a for a, b in zip([0.0, *pings], pings, strict=False)]
    assert len(pings) >= 10 and all(0.8 * 28.0 <= gap <= 28.0 for gap in gaps), gaps
    ua.unregister(client, now)
    ua.datagrams_to_send(now)
    ua.handle_timer(now + 60.0)
    assert b"\r\n\r\n" not in [data for data, _ in ua.datagrams_to_send(now + 60.0)]
