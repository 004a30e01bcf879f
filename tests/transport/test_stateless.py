"""Tests of sansip.transport.stateless: answering malformed datagrams.

The malformed requests follow the RFC 4475 torture tests they are named
after, rebuilt inline on documentation addresses.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.message import Response, parse
from sansip.message.via import Via, parse_via_list
from sansip.transport import (
    MessageRejected,
    StreamFramer,
    answer_malformed,
    error_response,
    is_ip_address,
)
from tests.conftest import examples
from tests.transport._messages import request

SOURCE = ("192.0.2.10", 5060)
NATTED = ("203.0.113.9", 40123)


def status_of(wire: bytes) -> int:
    """The status code of a response's wire bytes."""
    assert wire.startswith(b"SIP/2.0 ")
    return int(wire[8:11])


def top_via_of(wire: bytes) -> Via:
    """The top Via of a response, read without parsing the rest (which the
    answer copies from a malformed request, so it may be malformed too)."""
    for line in wire.split(b"\r\n")[1:]:
        name, _, value = line.decode().partition(":")
        if name.strip().lower() in ("via", "v"):
            return parse_via_list(value.strip())[0]
    raise AssertionError("no Via")


ANSWERED = {
    "badvers": (request("OPTIONS").replace(b"SIP/2.0\r\n", b"SIP/7.0\r\n", 1), 505),
    "ncl": (request("INVITE", body=b"v=0\r\n", content_length="-999"), 400),
    "clerr": (request("INVITE", body=b"v=0\r\n", content_length="9999"), 400),
    "mismatch01": (request("OPTIONS").replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"), 400),
    "scalar02": (request("REGISTER").replace(b"CSeq: 1 ", b"CSeq: 36893488147419103232 "), 400),
    "ltgtruri": (
        request("INVITE").replace(b"INVITE sip:bob@example.com", b"INVITE <sip:bob@example.com>"),
        400,
    ),
    "lwsstart": (request("INVITE").replace(b"INVITE sip:", b"INVITE  sip:", 1), 400),
    "quotbal": (request("INVITE").replace(b"From: Alice", b'From: "Alice'), 400),
    "noto": (request("OPTIONS").replace(b"To: Bob <sip:bob@example.com>\r\n", b""), 400),
}

DROPPED = {
    "valid": request("OPTIONS"),
    "badinv01": request("INVITE", via="SIP/2.0/UDP 192.0.2.15;;,;,,"),  # Via unusable
    "novia": request("OPTIONS", via="x").replace(b"Via: x\r\n", b"").replace(b"To: ", b"Tx "),
    "nocolon": request("OPTIONS").replace(b"Max-Forwards: 70", b"Max-Forwards 70"),
    "ack": request("ACK").replace(b"SIP/2.0\r\n", b"SIP/7.0\r\n", 1),  # ACKs are never answered
    "bigcode": (
        b"SIP/2.0 4294967301 better not break the receiver\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n"
        b"Call-ID: 1@192.0.2.105\r\nCSeq: 353494 INVITE\r\n"
        b"From: <sip:a@example.com>;tag=39ansfi3\r\nTo: <sip:b@example.com>;tag=902jndnke3\r\n"
        b"Content-Length: 0\r\n\r\n"
    ),
    "maddrname": request(
        "OPTIONS", via="SIP/2.0/UDP 192.0.2.1;maddr=proxy.example.com;branch=z9hG4bK1"
    ).replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"),
    "garbage": b"\x00\xff hello\r\n\r\n",
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(ANSWERED))
def test_malformed_request_is_answered(name: str) -> None:
    data, status = ANSWERED[name]
    answer = answer_malformed(data, SOURCE)
    assert answer is not None
    wire, address = answer
    assert address == SOURCE
    assert status_of(wire) == status
    top = top_via_of(wire)
    assert top.branch == "z9hG4bK74bf9"
    assert top.received is None  # the sent-by address is the source
    assert b"\r\nCall-ID: a84b4c76e66710@192.0.2.10\r\n" in wire
    if name in ("badvers", "clerr", "mismatch01", "ncl"):  # the copied headers are fine
        response = parse(wire)
        assert isinstance(response, Response)
        assert response.to.tag


def test_answer_carries_a_to_tag_stable_across_retransmissions() -> None:
    data = ANSWERED["badvers"][0]
    first, second = answer_malformed(data, SOURCE), answer_malformed(data, SOURCE)
    assert first is not None
    assert first == second
    assert parse(first[0]).to.tag
    chosen = answer_malformed(data, SOURCE, to_tag="abc123")
    assert chosen is not None
    assert parse(chosen[0]).to.tag == "abc123"


def test_answer_from_behind_a_nat_goes_to_the_nat() -> None:
    via = "SIP/2.0/UDP 10.0.0.2:5060;rport;branch=z9hG4bK9"
    data = request("OPTIONS", via=via).replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1)
    answer = answer_malformed(data, NATTED)
    assert answer is not None
    wire, address = answer
    assert address == NATTED
    top = parse(wire).top_via
    assert (top.received, top.rport) == ("203.0.113.9", 40123)


def test_answer_without_rport_goes_to_the_source_and_sent_by_port() -> None:
    via = "SIP/2.0/UDP client.example.com:5070;branch=z9hG4bK9"
    data = request("OPTIONS", via=via, cseq=1).replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 BYE")
    answer = answer_malformed(data, ("2001:db8::7", 5999))
    assert answer is not None
    assert answer[1] == ("2001:db8::7", 5070)
    assert parse(answer[0]).top_via.received == "2001:db8::7"


def test_lower_vias_are_copied_unchanged() -> None:
    extra = "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKlower\r\n"
    data = request("OPTIONS", extra=extra).replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INFO")
    answer = answer_malformed(data, NATTED)
    assert answer is not None
    vias = parse(answer[0]).via
    assert [v.branch for v in vias] == ["z9hG4bK74bf9", "z9hG4bKlower"]
    assert vias[1].received is None


def test_too_large_is_answered_with_513() -> None:
    data = request("MESSAGE", body=b"x" * 3000)
    answer = answer_malformed(data, SOURCE, max_message_size=1000)
    assert answer is not None
    assert status_of(answer[0]) == 513
    too_large_response = data.replace(b"MESSAGE sip:bob@example.com SIP/2.0", b"SIP/2.0 200 OK")
    assert answer_malformed(too_large_response, SOURCE, max_message_size=1000) is None


def test_too_large_and_malformed_is_still_513() -> None:
    data = request("MESSAGE", body=b"x" * 3000).replace(b"To: Bob", b'To: "Bob')
    answer = answer_malformed(data, SOURCE, max_message_size=1000)
    assert answer is not None
    assert status_of(answer[0]) == 513


def test_multicast_maddr_is_honoured() -> None:
    via = "SIP/2.0/UDP 192.0.2.1:5062;maddr=233.252.0.1;branch=z9hG4bK1"
    data = request("OPTIONS", via=via).replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INFO")
    answer = answer_malformed(data, SOURCE)
    assert answer is not None
    assert answer[1] == ("233.252.0.1", 5062)


@pytest.mark.parametrize("name", sorted(DROPPED))
def test_unroutable_or_fine_datagrams_are_dropped(name: str) -> None:
    assert answer_malformed(DROPPED[name], SOURCE) is None


@settings(max_examples=examples(300))
@given(data=st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    answer_malformed(data, SOURCE)


SEEDS = [data for data, _ in ANSWERED.values()] + list(DROPPED.values())


@settings(max_examples=examples(500))
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(
        st.tuples(st.integers(0, 2000), st.integers(0, 8), st.binary(max_size=6)), max_size=5
    ),
    source=st.sampled_from([SOURCE, NATTED, ("::1", 5060), ("127.0.0.1", 1)]),
)
def test_mutated_requests_never_raise(
    seed: bytes, edits: list[tuple[int, int, bytes]], source: tuple[str, int]
) -> None:
    data = seed
    for at, cut, insert in edits:
        at %= len(data) + 1
        data = data[:at] + insert + data[at + cut :]
    answer = answer_malformed(data, source)
    if answer is not None:  # an error response, routed by a Via that parses
        assert status_of(answer[0]) in (400, 505, 513)
        top_via_of(answer[0])
        assert is_ip_address(answer[1][0])  # never a name that would need DNS


# -- the same answer for a stream's MessageRejected ------------------------------------------
def test_error_response_for_a_rejected_stream_message() -> None:
    framer = StreamFramer()
    bad = request("OPTIONS", via="SIP/2.0/TCP 10.0.0.2:5060;rport;branch=z9hG4bKs")
    framer.receive_data(bad.replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INFO"), now=0.0)
    event = framer.next_event()
    assert isinstance(event, MessageRejected)
    response = error_response(event.error, NATTED)
    assert response is not None
    assert response.status == 400
    top = parse(response.encode()).top_via
    assert (top.received, top.rport) == ("203.0.113.9", 40123)
    again = error_response(event.error, NATTED)
    assert again is not None
    assert again.to.tag == response.to.tag


def test_error_response_needs_a_request_with_a_via() -> None:
    framer = StreamFramer()
    framer.receive_data(b"hello\r\nContent-Length: 0\r\n\r\n", now=0.0)
    event = framer.next_event()
    assert isinstance(event, MessageRejected)
    assert error_response(event.error, SOURCE) is None
