"""STUN client transactions: the RFC 8489 §6.2 schedule, matching, integrity."""

from __future__ import annotations

import random

import pytest

from sansip.errors import LocalProtocolError
from sansip.ice import (
    ErrorCode,
    Integrity,
    MessageClass,
    Method,
    Nonce,
    Realm,
    StunClient,
    StunErrorResponse,
    StunMessage,
    StunResponse,
    StunTimeout,
    Username,
    XorMappedAddress,
    encode_message,
    parse_message,
    short_term_key,
    stun_message_length,
)
from sansip.ice.stun_client import MAX_EVENTS

SERVER = ("192.0.2.10", 3478)
BINDING = StunMessage(Method.BINDING, MessageClass.REQUEST)
KEY = short_term_key("pass")


def client(**options: float) -> StunClient:
    return StunClient(rng=random.Random(1), **options)  # type: ignore[arg-type]


def run_schedule(stun: StunClient, until: float) -> tuple[list[float], list[float]]:
    """Jump from timer to timer up to ``until``: when datagrams left, when events came."""
    sends, events = [], []
    now = 0.0
    while (timer := stun.get_timer()) is not None and timer <= until:
        now = timer
        stun.handle_timer(now)
        sends += [now for _ in stun.datagrams_to_send(now)]
        while stun.next_event() is not None:
            events.append(now)
    return sends, events


def answer(
    request_wire: bytes, cls: MessageClass = MessageClass.SUCCESS, **kwargs: object
) -> bytes:
    request = parse_message(request_wire)
    if cls is MessageClass.SUCCESS:
        response = request.response(cls, (XorMappedAddress("198.51.100.7", 40000),))
    else:
        response = request.response(cls, (ErrorCode(401, "Unauthorized"), Realm("r"), Nonce("n")))
    return encode_message(response, **kwargs)  # type: ignore[arg-type]


def test_the_udp_schedule_is_rfc_8489s() -> None:
    stun = client()
    tid = stun.send_request(BINDING, SERVER, 0.0)
    assert len(stun.datagrams_to_send(0.0)) == 1
    sends, events = run_schedule(stun, 100.0)
    assert [0.0, *sends] == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert events == [39.5]
    assert stun.pending == 0 and stun.get_timer() is None
    stun2 = client()
    stun2.send_request(BINDING, SERVER, 0.0)
    run_schedule(stun2, 39.4)
    assert stun2.pending == 1
    assert len(tid) == 12


def test_the_timeout_event_names_the_request() -> None:
    stun = client()
    tid = stun.send_request(BINDING, SERVER, 10.0)
    now = 10.0
    while (timer := stun.get_timer()) is not None:
        now = timer
        stun.handle_timer(now)
    event = stun.next_event()
    assert isinstance(event, StunTimeout)
    assert event.transaction_id == tid and event.addr == SERVER
    assert event.request.transaction_id == tid
    assert now == 49.5


def test_a_custom_rto_scales_the_schedule() -> None:
    stun = client(rto=0.1, max_requests=3, last_wait=4)
    stun.send_request(BINDING, SERVER, 0.0)
    stun.datagrams_to_send(0.0)
    sends, events = run_schedule(stun, 100.0)
    assert sends == pytest.approx([0.1, 0.3])
    assert events == pytest.approx([0.7])


def test_tcp_sends_once_and_times_out_after_ti() -> None:
    stun = client()
    stun.send_request(BINDING, SERVER, 0.0, reliable=True)
    assert len(stun.datagrams_to_send(0.0)) == 1
    sends, events = run_schedule(stun, 100.0)
    assert sends == [] and events == [39.5]


def test_a_late_timer_does_not_stretch_the_schedule() -> None:
    stun = client()
    stun.send_request(BINDING, SERVER, 0.0)
    stun.datagrams_to_send(0.0)
    stun.handle_timer(0.2)  # early: nothing
    assert stun.datagrams_to_send(0.2) == []
    stun.handle_timer(0.9)  # late for the 0.5 s retransmission
    assert len(stun.datagrams_to_send(0.9)) == 1
    assert stun.get_timer() == 1.5


def test_a_response_is_matched_by_transaction_id() -> None:
    stun = client()
    first = stun.send_request(BINDING, SERVER, 0.0)
    second = stun.send_request(BINDING, SERVER, 0.0)
    assert first != second
    wires = {parse_message(d).transaction_id: d for d, _ in stun.datagrams_to_send(0.0)}
    stun.receive_datagram(answer(wires[second]), SERVER, 0.25)
    event = stun.next_event()
    assert isinstance(event, StunResponse)
    assert event.transaction_id == second and event.rtt == 0.25
    assert event.response.get(XorMappedAddress) == XorMappedAddress("198.51.100.7", 40000)
    assert stun.pending == 1
    stun.receive_datagram(answer(wires[second]), SERVER, 0.3)  # a duplicate: stray
    assert stun.next_event() is None and stun.stray == 1


def test_the_rtt_is_unknown_after_a_retransmission() -> None:
    stun = client()
    stun.send_request(BINDING, SERVER, 0.0)
    wire = stun.datagrams_to_send(0.0)[0][0]
    stun.handle_timer(0.5)
    stun.receive_datagram(answer(wire), SERVER, 0.6)
    event = stun.next_event()
    assert isinstance(event, StunResponse) and event.rtt is None


def test_an_error_response_carries_its_code() -> None:
    stun = client()
    stun.send_request(BINDING, SERVER, 0.0, key=KEY)
    wire = stun.datagrams_to_send(0.0)[0][0]
    stun.receive_datagram(answer(wire, MessageClass.ERROR), SERVER, 0.1)  # no integrity: a 401
    event = stun.next_event()
    assert isinstance(event, StunErrorResponse)
    assert (event.code, event.reason) == (401, "Unauthorized")
    assert event.response.get(Realm) == Realm("r")


def test_responses_that_fail_integrity_are_discarded() -> None:
    stun = client()
    tid = stun.send_request(BINDING, SERVER, 0.0, key=KEY, fingerprint=True)
    wire = stun.datagrams_to_send(0.0)[0][0]
    stun.receive_datagram(answer(wire), SERVER, 0.1)  # no integrity
    stun.receive_datagram(answer(wire, key=short_term_key("other")), SERVER, 0.1)
    bad_fingerprint = bytearray(answer(wire, key=KEY, fingerprint=True))
    bad_fingerprint[-1] ^= 1
    stun.receive_datagram(bytes(bad_fingerprint), SERVER, 0.1)
    wrong_error = answer(wire, MessageClass.ERROR, key=short_term_key("other"))
    stun.receive_datagram(wrong_error, SERVER, 0.1)
    assert stun.next_event() is None and stun.discarded == 4 and stun.pending == 1
    stun.receive_datagram(answer(wire, key=KEY, fingerprint=True), SERVER, 0.2)
    event = stun.next_event()
    assert isinstance(event, StunResponse) and event.transaction_id == tid


def test_sha256_integrity_is_sent_and_checked() -> None:
    stun = client()
    stun.send_request(BINDING, SERVER, 0.0, key=KEY, integrity=Integrity.SHA256)
    wire = stun.datagrams_to_send(0.0)[0][0]
    assert parse_message(wire).has_sha256_integrity
    stun.receive_datagram(answer(wire, key=KEY, integrity=Integrity.SHA256), SERVER, 0.1)
    assert isinstance(stun.next_event(), StunResponse)


def test_what_is_not_a_response_to_us_is_counted() -> None:
    stun = client()
    stun.send_request(BINDING, SERVER, 0.0)
    wire = stun.datagrams_to_send(0.0)[0][0]
    stun.receive_datagram(b"\x80" + bytes(30), SERVER, 0.1)  # RTP
    stun.receive_datagram(wire, SERVER, 0.1)  # a request: not for the client
    broken = bytearray(answer(wire))
    broken[3] += 4  # the length no longer matches
    stun.receive_datagram(bytes(broken), SERVER, 0.1)
    no_code = encode_message(parse_message(wire).response(MessageClass.ERROR))
    stun.receive_datagram(no_code, SERVER, 0.1)
    other_method = parse_message(answer(wire))
    stun.receive_datagram(
        encode_message(
            StunMessage(Method.ALLOCATE, MessageClass.SUCCESS, other_method.transaction_id)
        ),
        SERVER,
        0.1,
    )
    assert stun.next_event() is None
    assert (stun.malformed, stun.stray, stun.discarded) == (2, 1, 2)


def test_given_transaction_ids_are_kept_and_checked() -> None:
    stun = client()
    tid = bytes(12)
    assert stun.send_request(BINDING.with_attributes(Username("u")), SERVER, 0.0) != tid
    given = StunMessage(Method.BINDING, MessageClass.REQUEST, tid)
    assert stun.send_request(given, SERVER, 0.0) == tid
    with pytest.raises(LocalProtocolError):
        stun.send_request(given, SERVER, 0.0)
    with pytest.raises(LocalProtocolError):
        stun.send_request(StunMessage(Method.BINDING, MessageClass.INDICATION), SERVER, 0.0)
    assert stun.cancel(tid) and not stun.cancel(tid)


def test_the_machine_is_bounded() -> None:
    stun = StunClient(rng=random.Random(2), max_pending=2)
    stun.send_request(BINDING, SERVER, 0.0)
    stun.send_request(BINDING, SERVER, 0.0)
    with pytest.raises(LocalProtocolError):
        stun.send_request(BINDING, SERVER, 0.0)
    many = StunClient(rng=random.Random(3), max_pending=MAX_EVENTS + 5, max_requests=1)
    for _ in range(MAX_EVENTS + 5):
        many.send_request(BINDING, SERVER, 0.0)
    many.handle_timer(100.0)
    assert many.events_dropped == 5
    assert sum(1 for _ in iter(many.next_event, None)) == MAX_EVENTS


def test_bad_timer_settings_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        StunClient(rng=random.Random(1), rto=0)


def test_over_tcp_the_stream_is_framed_by_the_stun_length() -> None:
    stun = client()
    first = stun.send_request(BINDING, SERVER, 0.0, reliable=True)
    second = stun.send_request(BINDING, SERVER, 0.0, reliable=True)
    requests = [data for data, _ in stun.datagrams_to_send(0.0)]
    stream = answer(requests[1]) + answer(requests[0], MessageClass.ERROR)
    while (size := stun_message_length(stream)) is not None and len(stream) >= size:
        stun.receive_datagram(stream[:size], SERVER, 0.1)
        stream = stream[size:]
    assert stream == b""
    events = list(iter(stun.next_event, None))
    assert [type(e) for e in events] == [StunResponse, StunErrorResponse]
    assert [e.transaction_id for e in events] == [second, first]
