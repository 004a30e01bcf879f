"""The DNS codec and query machine, and RFC 3263 target resolution.

DNS responses are built here byte by byte; nothing is sent anywhere.
"""

from __future__ import annotations

import contextlib
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError
from sansip.message import SipURI, parse_uri
from sansip.transport.dns import (
    DnsAnswered,
    DnsError,
    DnsFailed,
    DnsQuery,
    NaptrRecord,
    RecordType,
    SrvRecord,
    decode_message,
    encode_query,
)
from sansip.transport.resolve import (
    ResolutionFailed,
    Target,
    TargetResolver,
    TargetsResolved,
    order_srv,
)
from sansip.transport.types import Transport
from tests.conftest import examples

SERVER = ("127.0.0.53", 53)


def name(text: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".") if p) + b"\0"


def rr(owner: str, rtype: int, rdata: bytes, ttl: int = 60) -> bytes:
    return name(owner) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def response(
    query_id: int, qname: str, qtype: int, answers: list[bytes], *,
    additional: list[bytes] = (), rcode: int = 0,  # type: ignore[assignment]
) -> bytes:  # fmt: skip
    header = struct.pack("!HHHHHH", query_id, 0x8180 | rcode, 1, len(answers), 0, len(additional))
    return (
        header
        + name(qname)
        + struct.pack("!HH", qtype, 1)
        + b"".join(answers)
        + b"".join(additional)
    )


def srv(priority: int, weight: int, port: int, target: str) -> bytes:
    return struct.pack("!HHH", priority, weight, port) + name(target)


def naptr(order: int, pref: int, flags: str, service: str, replacement: str) -> bytes:
    def s(t: str) -> bytes:
        return bytes([len(t)]) + t.encode()

    return struct.pack("!HH", order, pref) + s(flags) + s(service) + s("") + name(replacement)


def test_query_encoding_matches_rfc1035_layout() -> None:
    packet = encode_query(0xBEEF, "_sip._udp.example.com", RecordType.SRV)
    assert packet[:12] == bytes.fromhex("beef01000001000000000000")
    assert packet[12:] == name("_sip._udp.example.com") + b"\x00\x21\x00\x01"
    with pytest.raises(LocalProtocolError):
        encode_query(1, "a" * 64 + ".com", RecordType.A)


def test_decode_records_with_compression() -> None:
    qname = "example.com"
    # The answer's owner is a pointer to the question name at offset 12.
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + bytes([127, 0, 0, 7])
    aaaa = b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 30, 16) + bytes(15) + b"\x01"
    msg = decode_message(response(7, qname, 1, [answer, aaaa]))
    assert msg.id == 7 and msg.question == ("example.com", 1)
    assert [(r.name, r.data) for r in msg.answers] == [
        ("example.com", "127.0.0.7"),
        ("example.com", "::1"),
    ]


def test_decode_srv_and_naptr() -> None:
    srv_msg = decode_message(
        response(
            1,
            "_sip._udp.example.com",
            33,
            [rr("_sip._udp.example.com", 33, srv(10, 5, 5070, "sip1.example.com"))],
        )
    )
    assert srv_msg.answers[0].data == SrvRecord(10, 5, 5070, "sip1.example.com")
    naptr_msg = decode_message(
        response(
            2,
            "example.com",
            35,
            [rr("example.com", 35, naptr(10, 20, "s", "SIP+D2T", "_sip._tcp.example.com"))],
        )
    )
    assert naptr_msg.answers[0].data == NaptrRecord(
        10, 20, "s", "SIP+D2T", "", "_sip._tcp.example.com"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 11,
        bytes.fromhex("000101000001000000000000"),  # a query, not a response
        response(1, "a.b", 1, [])[:-3],
        response(1, "a.b", 1, [b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 1, 9) + b"\x7f"]),
        struct.pack("!HHHHHH", 1, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",  # pointer loop
    ],
)
def test_malformed_responses_raise_dns_error(data: bytes) -> None:
    with pytest.raises(DnsError):
        decode_message(data)


@settings(max_examples=examples(500), deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_dns_error(data: bytes) -> None:
    with contextlib.suppress(DnsError):
        decode_message(data)


def test_query_retransmits_over_servers_then_fails() -> None:
    servers = [("127.0.0.53", 53), ("127.0.0.54", 53)]
    q = DnsQuery("example.com", RecordType.A, servers, now=0.0, query_id=9, retries=(1.0, 2.0))
    assert [a for _, a in q.datagrams_to_send(0.0)] == [servers[0]]
    assert q.get_timer() == 1.0
    q.handle_timer(0.5)  # early: nothing happens
    assert q.datagrams_to_send(0.5) == []
    sends = []
    for t in (1.0, 2.0, 4.0):
        q.handle_timer(t)
        sends += [(t, a) for _, a in q.datagrams_to_send(t)]
    # Each server in turn, waiting 1 s per server in the first round, 2 s in the second.
    assert sends == [(1.0, servers[1]), (2.0, servers[0]), (4.0, servers[1])]
    q.handle_timer(6.0)
    event = q.next_event()
    assert isinstance(event, DnsFailed)
    assert q.get_timer() is None and q.done


def test_query_ignores_foreign_and_mismatched_answers() -> None:
    q = DnsQuery("example.com", RecordType.A, [SERVER], now=0.0, query_id=5)
    good = response(5, "example.com", 1, [rr("example.com", 1, bytes([127, 0, 0, 1]))])
    q.receive_datagram(good, ("127.0.0.99", 53), 0.1)  # not a server we asked
    q.receive_datagram(response(6, "example.com", 1, []), SERVER, 0.1)  # wrong id
    q.receive_datagram(response(5, "other.com", 1, []), SERVER, 0.1)  # wrong question
    q.receive_datagram(b"junk", SERVER, 0.1)
    assert q.next_event() is None
    q.receive_datagram(good, SERVER, 0.2)
    event = q.next_event()
    assert isinstance(event, DnsAnswered) and event.records[0].data == "127.0.0.1"


def test_servfail_moves_to_the_next_server() -> None:
    servers = [("127.0.0.53", 53), ("127.0.0.54", 53)]
    q = DnsQuery("example.com", RecordType.A, servers, now=0.0, query_id=3)
    q.datagrams_to_send(0.0)
    q.receive_datagram(response(3, "example.com", 1, [], rcode=2), servers[0], 0.1)
    assert [a for _, a in q.datagrams_to_send(0.1)] == [servers[1]]


def test_srv_ordering_is_by_priority_then_weight() -> None:
    records = [
        SrvRecord(20, 0, 1, "c"),
        SrvRecord(10, 60, 1, "a"),
        SrvRecord(10, 40, 1, "b"),
        SrvRecord(30, 0, 1, "."),
    ]
    firsts = {order_srv(records, random.Random(seed))[0].target for seed in range(200)}
    assert firsts == {"a", "b"}
    assert [r.target for r in order_srv(records, random.Random(1))][-1] == "c"
    counts = sum(order_srv(records, random.Random(s))[0].target == "a" for s in range(2000))
    assert 1000 < counts < 1400  # weight 60 of 100, roughly


# ---------------------------------------------------------------- RFC 3263


def _drive(
    resolver: TargetResolver, zone: dict[tuple[str, int], tuple[list[bytes], list[bytes]]]
) -> object:
    """Answer the resolver's queries from ``zone`` until it reports."""
    now = 0.0
    for _ in range(50):
        event = resolver.next_event()
        if event is not None:
            return event
        for packet, addr in resolver.datagrams_to_send(now):
            query_id = struct.unpack_from("!H", packet)[0]
            qname, pos = _qname(packet)
            qtype = struct.unpack_from("!H", packet, pos)[0]
            answers, extra = zone.get((qname, qtype), ([], []))
            resolver.receive_datagram(
                response(query_id, qname, qtype, answers, additional=extra), addr, now
            )
        now += 0.01
    raise AssertionError("resolver never finished")


def _qname(packet: bytes) -> tuple[str, int]:
    pos, labels = 12, []
    while packet[pos]:
        labels.append(packet[pos + 1 : pos + 1 + packet[pos]].decode())
        pos += packet[pos] + 1
    return ".".join(labels), pos + 1


def _resolver(uri: str, **kwargs: object) -> TargetResolver:
    parsed = parse_uri(uri)
    assert isinstance(parsed, SipURI)
    return TargetResolver(parsed, servers=[SERVER], now=0.0, rng=random.Random(0), **kwargs)  # type: ignore[arg-type]


def test_numeric_host_needs_no_dns() -> None:
    r = _resolver("sip:bob@127.0.0.1:5070;transport=tcp")
    assert r.datagrams_to_send(0.0) == []
    assert r.next_event() == TargetsResolved(
        (Target(Transport.TCP, ("127.0.0.1", 5070), "127.0.0.1"),)
    )
    r = _resolver("sips:bob@[::1]")
    assert r.next_event() == TargetsResolved((Target(Transport.TLS, ("::1", 5061), "::1"),))


def test_localhost_comes_from_the_hosts_table() -> None:
    r = _resolver("sip:bob@localhost:5080")
    event = r.next_event()
    assert isinstance(event, TargetsResolved)
    assert [t.address for t in event.targets] == [("127.0.0.1", 5080), ("::1", 5080)]


def test_naptr_then_srv_then_addresses() -> None:
    zone = {
        ("example.com", 35): (
            [
                rr("example.com", 35, naptr(50, 50, "s", "SIPS+D2T", "_sips._tcp.example.com")),
                rr("example.com", 35, naptr(90, 50, "s", "SIP+D2U", "_sip._udp.example.com")),
            ],
            [],
        ),
        ("_sips._tcp.example.com", 33): (
            [rr("_sips._tcp.example.com", 33, srv(0, 0, 5061, "sip1.example.com"))],
            [rr("sip1.example.com", 1, bytes([127, 0, 0, 11]))],
        ),
    }
    event = _drive(_resolver("sip:bob@example.com"), zone)
    assert event == TargetsResolved(
        (Target(Transport.TLS, ("127.0.0.11", 5061), "sip1.example.com"),)
    )


def test_no_naptr_falls_back_to_srv_per_transport_then_a() -> None:
    zone = {
        ("_sip._tcp.example.com", 33): (
            [rr("_sip._tcp.example.com", 33, srv(0, 0, 5062, "pbx.example.com"))],
            [],
        ),
        ("pbx.example.com", 1): ([rr("pbx.example.com", 1, bytes([127, 0, 0, 12]))], []),
    }
    event = _drive(_resolver("sip:bob@example.com"), zone)
    assert event == TargetsResolved(
        (Target(Transport.TCP, ("127.0.0.12", 5062), "pbx.example.com"),)
    )


def test_nothing_but_an_a_record() -> None:
    zone = {("example.com", 1): ([rr("example.com", 1, bytes([127, 0, 0, 13]))], [])}
    event = _drive(_resolver("sip:bob@example.com"), zone)
    assert event == TargetsResolved((Target(Transport.UDP, ("127.0.0.13", 5060), "example.com"),))


def test_transport_param_skips_naptr() -> None:
    zone = {
        ("_sip._tcp.example.com", 33): (
            [rr("_sip._tcp.example.com", 33, srv(0, 0, 5070, "a.example.com"))],
            [rr("a.example.com", 1, bytes([127, 0, 0, 14]))],
        )
    }
    r = _resolver("sip:bob@example.com;transport=tcp")
    first = r.datagrams_to_send(0.0)
    assert _qname(first[0][0])[0] == "_sip._tcp.example.com"
    r.receive_datagram(
        response(struct.unpack_from("!H", first[0][0])[0], "_sip._tcp.example.com", 33,
                 *zone[("_sip._tcp.example.com", 33)][:1],
                 additional=zone[("_sip._tcp.example.com", 33)][1]),
        SERVER, 0.0,
    )  # fmt: skip
    assert r.next_event() == TargetsResolved(
        (Target(Transport.TCP, ("127.0.0.14", 5070), "a.example.com"),)
    )


def test_unknown_name_fails() -> None:
    assert isinstance(_drive(_resolver("sip:bob@nowhere.example.com"), {}), ResolutionFailed)


def test_unsupported_transport_fails_at_once() -> None:
    r = _resolver("sip:bob@example.com;transport=sctp")
    assert isinstance(r.next_event(), ResolutionFailed)
