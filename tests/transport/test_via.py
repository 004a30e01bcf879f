"""Tests of sansip.transport.via: received/rport (RFC 3261 §18.2.1, RFC 3581 §4),
the client's Via and branches."""

from __future__ import annotations

import random
import re

import pytest

from sansip.message import Headers, Request, parse
from sansip.message.via import Via
from sansip.transport import (
    Transport,
    add_received,
    is_ip_address,
    make_via,
    new_branch,
    received_via,
    replace_top_via,
)
from tests.transport._messages import request


def parsed(via: str, extra: str = "") -> Request:
    message = parse(request("OPTIONS", via=via, extra=extra))
    assert isinstance(message, Request)
    return message


# -- RFC 3581 §4 ------------------------------------------------------------------
def test_rfc3581_example() -> None:
    # The client at 10.1.1.1:4540 sends through a NAT that maps it to 192.0.2.1:9988.
    req = parsed("SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff")
    assert add_received(req, ("192.0.2.1", 9988)) is req
    top = req.top_via
    assert top.received == "192.0.2.1"
    assert top.rport == 9988
    assert top.branch == "z9hG4bKkjshdyff"
    assert (top.host, top.port) == ("10.1.1.1", 4540)
    # The change survives serialization.
    again = parse(req.encode())
    assert again.top_via == top


def test_rport_forces_received_even_from_the_sent_by_address() -> None:
    req = parsed("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1")
    add_received(req, ("192.0.2.1", 5060))
    assert req.top_via.received == "192.0.2.1"
    assert req.top_via.rport == 5060


def test_rport_with_a_value_gets_the_observed_port() -> None:
    via = received_via(Via.parse("SIP/2.0/UDP 192.0.2.1;rport=1;branch=z9hG4bK1"), ("192.0.2.1", 7))
    assert via.rport == 7


# -- RFC 3261 §18.2.1 -----------------------------------------------------------------
def test_same_address_without_rport_is_left_alone() -> None:
    data = request("OPTIONS", via="SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1")
    req = parse(data)
    assert isinstance(req, Request)
    add_received(req, ("192.0.2.1", 5070))  # the port does not matter without rport
    assert req.top_via.received is None
    assert req.encode() == data


def test_other_address_gets_received_only() -> None:
    req = parsed("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1")
    add_received(req, ("198.51.100.7", 5060))
    assert req.top_via.received == "198.51.100.7"
    assert not req.top_via.rport_requested


def test_host_name_always_gets_received() -> None:
    req = parsed("SIP/2.0/TCP client.example.com:5060;branch=z9hG4bK1")
    add_received(req, ("192.0.2.1", 40000))
    assert req.top_via.received == "192.0.2.1"


@pytest.mark.parametrize(
    ("sent_by", "source", "received"),
    [
        ("[2001:db8::1]", "2001:db8::1", None),
        ("[2001:db8::1]", "2001:db8:0:0::1", None),  # the same address, written otherwise
        ("[2001:db8::1]", "2001:db8::2", "2001:db8::2"),
        ("192.0.2.1", "::ffff:192.0.2.1", None),  # a dual-stack socket's IPv4 peer
        ("192.0.2.1", "::ffff:192.0.2.9", "192.0.2.9"),
        ("[::1]", "::1%lo", None),
        ("127.0.0.1", "::1", "::1"),
    ],
)
def test_ip_comparison(sent_by: str, source: str, received: str | None) -> None:
    via = Via.parse(f"SIP/2.0/UDP {sent_by}:5060;branch=z9hG4bK1")
    assert received_via(via, (source, 5060)).received == received


def test_ipv6_received_survives_serialization() -> None:
    req = parsed("SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1")
    add_received(req, ("2001:db8::9", 5060))
    assert parse(req.encode()).top_via.received == "2001:db8::9"


def test_only_the_top_via_changes() -> None:
    req = parsed(
        "SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bK1, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2",
        extra="Via: SIP/2.0/TCP 192.0.2.3;branch=z9hG4bK3\r\n",
    )
    add_received(req, ("203.0.113.5", 1234))
    vias = parse(req.encode()).via
    assert [v.branch for v in vias] == ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]
    assert vias[0].received == "203.0.113.5"
    assert vias[1].received is None
    assert vias[2].received is None
    assert req.encode().count(b"Via:") == 2


def test_compact_via_keeps_its_name_and_place() -> None:
    data = request("OPTIONS").replace(b"Via: ", b"v: ")
    req = parse(data)
    assert isinstance(req, Request)
    add_received(req, ("203.0.113.5", 5060))
    assert req.headers.names()[0] == "v"
    assert req.encode().startswith(b"OPTIONS sip:bob@example.com SIP/2.0\r\nv: SIP/2.0/UDP")


def test_replace_top_via_without_via() -> None:
    with pytest.raises(ValueError):
        replace_top_via(Headers([("To", "<sip:a@example.com>")]), Via("UDP", "192.0.2.1"))


def test_is_ip_address() -> None:
    assert is_ip_address("192.0.2.1")
    assert is_ip_address("2001:db8::1")
    assert is_ip_address("[2001:db8::1]")
    assert not is_ip_address("example.com")
    assert not is_ip_address("192.0.2.256")


# -- client side --------------------------------------------------------------------
def test_make_via() -> None:
    via = make_via(Transport.UDP, "192.0.2.1", 5060, "z9hG4bK776asdhds")
    assert str(via) == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport"
    assert via.rport_requested
    assert Via.parse(str(via)) == via


def test_make_via_variants() -> None:
    via = make_via("tls", "2001:db8::1", None, "z9hG4bK1", rport=False)
    assert str(via) == "SIP/2.0/TLS [2001:db8::1];branch=z9hG4bK1"
    assert make_via(Transport.WSS, "client.example.com", 443, "z9hG4bK2").transport == "WSS"


@pytest.mark.parametrize(
    ("host", "port", "branch"),
    [("", 5060, "z9hG4bK1"), ("192.0.2.1", 0, "z9hG4bK1"), ("192.0.2.1", 65536, "z9hG4bK1"),
     ("192.0.2.1", 5060, "")],
)  # fmt: skip
def test_make_via_rejects_impossible_values(host: str, port: int, branch: str) -> None:
    with pytest.raises(ValueError):
        make_via(Transport.UDP, host, port, branch)


def test_new_branch_shape() -> None:
    branch = new_branch(random.Random(1))
    assert re.fullmatch(r"z9hG4bK[0-9a-f]{32}", branch)
    assert make_via(Transport.UDP, "192.0.2.1", 5060, branch).is_rfc3261_branch


def test_new_branch_is_deterministic_and_unique() -> None:
    first = [new_branch(random.Random(2024)) for _ in range(3)]
    assert len(set(first)) == 1  # the same seed gives the same branch
    rng_a, rng_b = random.Random(7), random.Random(7)
    branches = [new_branch(rng_a) for _ in range(10_000)]
    assert branches == [new_branch(rng_b) for _ in range(10_000)]
    assert len(set(branches)) == 10_000
    assert new_branch(random.Random(8)) != branches[0]
