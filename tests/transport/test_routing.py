"""Tests of sansip.transport.routing: where responses go (RFC 3261 §18.2.2, RFC 3581 §4)."""

from __future__ import annotations

import pytest

from sansip.message import Request, make_response, parse
from sansip.message.via import Via
from sansip.transport import ResponseTarget, add_received, default_port, response_target
from tests.transport._messages import request


def target(via: str, *, reliable: bool = False) -> ResponseTarget:
    return response_target(Via.parse(via), reliable=reliable)


# -- rule 1: reliable transports -------------------------------------------------------
def test_reliable_uses_the_connection_with_received_as_fallback() -> None:
    got = target("SIP/2.0/TCP client.example.com:5070;received=192.0.2.1", reliable=True)
    assert got == ResponseTarget(("192.0.2.1", 5070), use_connection=True, needs_dns=False)


def test_reliable_without_received_falls_back_to_sent_by() -> None:
    got = target("SIP/2.0/TLS client.example.com", reliable=True)
    assert got == ResponseTarget(("client.example.com", 5061), True, True)


def test_reliable_wins_over_maddr_and_rport() -> None:
    via = "SIP/2.0/TCP 192.0.2.1:5060;maddr=233.252.0.1;received=192.0.2.9;rport=4000"
    got = target(via, reliable=True)
    assert got.use_connection
    assert got.address == ("192.0.2.9", 5060)


# -- rule 2: maddr ---------------------------------------------------------------------------
def test_multicast_maddr_with_default_ttl() -> None:
    got = target("SIP/2.0/UDP 192.0.2.1;maddr=233.252.0.1;received=192.0.2.9;rport=4000")
    assert got == ResponseTarget(("233.252.0.1", 5060), False, False, ttl=1)


def test_multicast_maddr_with_ttl_and_port() -> None:
    got = target("SIP/2.0/UDP 192.0.2.1:5062;maddr=233.252.0.1;ttl=16")
    assert got == ResponseTarget(("233.252.0.1", 5062), False, False, ttl=16)


def test_unicast_maddr_has_no_ttl() -> None:
    got = target("SIP/2.0/UDP 192.0.2.1;maddr=198.51.100.3;ttl=16")
    assert got == ResponseTarget(("198.51.100.3", 5060), False, False, ttl=None)


def test_ipv6_and_named_maddr() -> None:
    assert target("SIP/2.0/UDP 192.0.2.1;maddr=[2001:db8::5]").address == ("2001:db8::5", 5060)
    named = target("SIP/2.0/UDP 192.0.2.1;maddr=proxy.example.com")
    assert named == ResponseTarget(("proxy.example.com", 5060), False, True)


# -- rule 3 (RFC 3581): received + rport ------------------------------------------------------
def test_received_and_rport() -> None:
    got = target("SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bK1")
    assert got == ResponseTarget(("192.0.2.1", 9988), False, False)


def test_ipv6_received_and_rport() -> None:
    got = target("SIP/2.0/UDP [2001:db8::1]:5060;received=[2001:db8::9];rport=5099")
    assert got.address == ("2001:db8::9", 5099)


def test_valueless_rport_is_ignored() -> None:
    # rport that the server did not fill in: plain RFC 3261 rule 4.
    got = target("SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport")
    assert got.address == ("192.0.2.1", 4540)


# -- rule 4: received ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("via", "address"),
    [
        ("SIP/2.0/UDP client.example.com:5070;received=192.0.2.1", ("192.0.2.1", 5070)),
        ("SIP/2.0/UDP client.example.com;received=192.0.2.1", ("192.0.2.1", 5060)),
        ("SIP/2.0/UDP 10.1.1.1;received=::1", ("::1", 5060)),
    ],
)
def test_received_with_sent_by_port(via: str, address: tuple[str, int]) -> None:
    assert target(via) == ResponseTarget(address, False, False)


# -- rule 5: sent-by ------------------------------------------------------------------------------
def test_sent_by_address() -> None:
    assert target("SIP/2.0/UDP 127.0.0.1:5080") == ResponseTarget(("127.0.0.1", 5080), False, False)
    assert target("SIP/2.0/UDP [::1]").address == ("::1", 5060)


def test_sent_by_name_needs_dns() -> None:
    got = target("SIP/2.0/UDP client.example.com")
    assert got == ResponseTarget(("client.example.com", 5060), False, True)


@pytest.mark.parametrize(
    ("transport", "port"), [("UDP", 5060), ("TCP", 5060), ("TLS", 5061), ("WS", 80),
                            ("WSS", 443), ("SCTP", 5060), ("udp", 5060)],
)  # fmt: skip
def test_default_ports(transport: str, port: int) -> None:
    assert default_port(transport) == port


# -- the whole path: request in, response routed ---------------------------------------------------
def test_request_from_behind_a_nat_is_answered_to_the_nat() -> None:
    req = parse(request("REGISTER", via="SIP/2.0/UDP 10.0.0.2:5060;rport;branch=z9hG4bK5"))
    assert isinstance(req, Request)
    add_received(req, ("203.0.113.40", 61000))
    resp = parse(make_response(req, 200, to_tag="1").encode())
    assert response_target(resp.top_via, reliable=False) == ResponseTarget(
        ("203.0.113.40", 61000), False, False
    )
