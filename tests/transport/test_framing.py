"""Tests of sansip.transport.framing: SIP messages and keep-alives on a byte stream."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.message import Request, Response
from sansip.transport import (
    KeepAlivePing,
    KeepAlivePong,
    MessageReceived,
    MessageRejected,
    StreamBroken,
    StreamEvent,
    StreamFramer,
)
from tests.conftest import examples
from tests.transport._messages import request, response

SDP = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\n"
    b"c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n"
)
# Messages whose bodies and headers make framing harder: CRLFCRLF and
# CRLF-only lines inside bodies, a compact Content-Length, a folded header,
# a body starting with CRLF, responses, an empty body.
STREAM_MESSAGES = [
    request("INVITE", body=SDP, extra="Content-Type: application/sdp\r\n"),
    request("MESSAGE", body=b"\r\n\r\nhello\r\n\r\n", cseq=2, extra="Content-Type: text/plain\r\n"),
    response(200, body=b"\r\n\r\n\r\n"),
    request("OPTIONS", cseq=3, content_length="").replace(b"Max-Forwards", b"l: 5\r\nMax-Forwards")
    + b"hello",
    request("INFO", cseq=4, extra="Subject: a folded\r\n  subject line\r\n"),
    response(180),
    request("MESSAGE", body=b"\r\nSIP/2.0 200 OK\r\n\r\n", cseq=5),
]


def feed(framer: StreamFramer, *chunks: bytes) -> list[StreamEvent]:
    """Feed the chunks one after the other; return every event."""
    events: list[StreamEvent] = []
    for chunk in chunks:
        framer.receive_data(chunk, now=0.0)
        while (event := framer.next_event()) is not None:
            events.append(event)
    return events


def messages(events: list[StreamEvent]) -> list[bytes]:
    """The wire bytes of the messages received."""
    return [e.message.encode() for e in events if isinstance(e, MessageReceived)]


def split(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets."""
    cuts = sorted({p % (len(data) + 1) for p in points})
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def test_stream_messages_are_well_formed() -> None:
    events = feed(StreamFramer(), *STREAM_MESSAGES)
    assert messages(events) == STREAM_MESSAGES
    assert all(isinstance(e, MessageReceived) for e in events)


def test_one_request() -> None:
    events = feed(StreamFramer(), STREAM_MESSAGES[0])
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, MessageReceived)
    assert isinstance(event.message, Request)
    assert event.message.method == "INVITE"
    assert event.message.body == SDP


def test_body_with_crlfcrlf_inside_is_kept_whole() -> None:
    event = feed(StreamFramer(), STREAM_MESSAGES[1])[0]
    assert isinstance(event, MessageReceived)
    assert event.message.body == b"\r\n\r\nhello\r\n\r\n"


def test_body_that_looks_like_a_message_is_a_body() -> None:
    events = feed(StreamFramer(), STREAM_MESSAGES[6])
    assert len(events) == 1
    assert isinstance(events[0], MessageReceived)
    assert events[0].message.body == b"\r\nSIP/2.0 200 OK\r\n\r\n"


def test_compact_content_length() -> None:
    data = request("OPTIONS", content_length="").replace(b"Max-Forwards", b"l: 5\r\nMax-Forwards")
    events = feed(StreamFramer(), data + b"hello")
    assert isinstance(events[0], MessageReceived)
    assert events[0].message.body == b"hello"


def test_many_messages_in_one_chunk() -> None:
    stream = b"".join(STREAM_MESSAGES) * 3
    assert messages(feed(StreamFramer(), stream)) == STREAM_MESSAGES * 3


def test_byte_by_byte() -> None:
    stream = b"".join(STREAM_MESSAGES)
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert messages(feed(StreamFramer(), *chunks)) == STREAM_MESSAGES


@settings(max_examples=examples(200))
@given(
    order=st.lists(st.integers(0, len(STREAM_MESSAGES) - 1), min_size=1, max_size=12),
    points=st.lists(st.integers(0, 10**6), max_size=40),
)
def test_any_split_gives_the_same_messages(order: list[int], points: list[int]) -> None:
    wanted = [STREAM_MESSAGES[i] for i in order]
    stream = b"".join(wanted)
    assert messages(feed(StreamFramer(), *split(stream, points))) == wanted


@settings(max_examples=examples(100))
@given(points=st.lists(st.integers(0, 10**6), max_size=20))
def test_split_keep_alives_and_messages(points: list[int]) -> None:
    stream = b"\r\n\r\n" + STREAM_MESSAGES[0] + b"\r\n\r\n" + STREAM_MESSAGES[2]
    framer = StreamFramer()
    events = feed(framer, *split(stream, points))
    assert messages(events) == [STREAM_MESSAGES[0], STREAM_MESSAGES[2]]
    # A ping split across reads may first show up as a pong, never get lost.
    assert sum(isinstance(e, KeepAlivePing) for e in events) == 2
    assert framer.data_to_send() == b"\r\n\r\n"


# -- keep-alives (RFC 5626 §3.5.1, §4.4.1) ----------------------------------
def test_ping_is_answered_with_a_pong() -> None:
    framer = StreamFramer()
    assert feed(framer, b"\r\n\r\n") == [KeepAlivePing()]
    assert framer.data_to_send() == b"\r\n"
    assert framer.data_to_send() == b""


def test_pong_is_reported_at_once() -> None:
    framer = StreamFramer()
    assert feed(framer, b"\r\n") == [KeepAlivePong()]
    assert framer.data_to_send() == b""


def test_ping_split_in_two_reads_is_still_answered() -> None:
    framer = StreamFramer()
    assert feed(framer, b"\r\n", b"\r\n") == [KeepAlivePong(), KeepAlivePing()]
    assert framer.data_to_send() == b"\r\n"


def test_ping_split_inside_a_crlf() -> None:
    framer = StreamFramer()
    assert feed(framer, b"\r", b"\n\r", b"\n") == [KeepAlivePing()]
    assert framer.data_to_send() == b"\r\n"


def test_crlf_then_message_is_a_pong_then_the_message() -> None:
    events = feed(StreamFramer(), b"\r\n" + STREAM_MESSAGES[0])
    assert events[0] == KeepAlivePong()
    assert messages(events) == [STREAM_MESSAGES[0]]


def test_leading_crlfs_before_a_start_line_are_keep_alives() -> None:
    framer = StreamFramer()
    events = feed(framer, b"\r\n\r\n\r\n" + STREAM_MESSAGES[5])
    assert events[:2] == [KeepAlivePing(), KeepAlivePong()]
    assert isinstance(events[2], MessageReceived)
    assert isinstance(events[2].message, Response)
    assert framer.data_to_send() == b"\r\n"


def test_pings_between_messages() -> None:
    framer = StreamFramer()
    stream = STREAM_MESSAGES[0] + b"\r\n\r\n" + STREAM_MESSAGES[1] + b"\r\n\r\n\r\n\r\n"
    events = feed(framer, stream)
    kinds = [type(e) for e in events]
    assert kinds == [MessageReceived, KeepAlivePing, MessageReceived, KeepAlivePing, KeepAlivePing]
    assert framer.data_to_send() == b"\r\n" * 3


def test_pings_can_be_left_to_the_caller() -> None:
    framer = StreamFramer(answer_pings=False)
    assert feed(framer, b"\r\n\r\n") == [KeepAlivePing()]
    assert framer.data_to_send() == b""


# -- broken framing (RFC 3261 §18.3) -----------------------------------------
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (request("OPTIONS", content_length=""), "missing Content-Length on a stream"),
        (request("OPTIONS", content_length="-1"), "malformed Content-Length"),
        (request("OPTIONS", content_length="abc"), "malformed Content-Length"),
        (request("OPTIONS", content_length="1 2"), "malformed Content-Length"),
        (request("OPTIONS", content_length="99999999999999999999"), "Content-Length too large"),
        (
            request("OPTIONS", extra="Content-Length: 4\r\n", content_length="0"),
            "conflicting Content-Length values",
        ),
        (
            request("OPTIONS", extra="l: 1\r\n", content_length="0"),
            "conflicting Content-Length values",
        ),
    ],
)
def test_bad_content_length_breaks_the_stream(data: bytes, reason: str) -> None:
    framer = StreamFramer()
    events = feed(framer, data, STREAM_MESSAGES[0])
    assert events == [StreamBroken(reason)]
    assert framer.broken
    assert feed(framer, STREAM_MESSAGES[0], b"\r\n\r\n") == []
    assert framer.data_to_send() == b""


def test_identical_duplicate_content_length_is_fine() -> None:
    data = request("OPTIONS", extra="Content-Length: 0\r\n")
    events = feed(StreamFramer(), data, STREAM_MESSAGES[0])
    assert [type(e) for e in events] == [MessageReceived, MessageReceived]


def test_events_before_the_break_are_kept() -> None:
    events = feed(StreamFramer(), STREAM_MESSAGES[0] + request("OPTIONS", content_length="x"))
    assert [type(e) for e in events] == [MessageReceived, StreamBroken]


def test_header_section_too_large() -> None:
    framer = StreamFramer(max_message_size=1000)
    head = b"OPTIONS sip:bob@example.com SIP/2.0\r\n" + b"X-Filler: " + b"a" * 2000
    events = feed(framer, *[head[i : i + 7] for i in range(0, len(head), 7)])
    assert events == [StreamBroken("header section larger than the message size limit")]
    assert framer.buffered == 0


def test_header_section_just_over_the_limit_once_complete() -> None:
    data = request("OPTIONS")
    framer = StreamFramer(max_message_size=len(data) - 1)
    assert feed(framer, data) == [StreamBroken("header section larger than the message size limit")]


def test_body_too_large() -> None:
    framer = StreamFramer(max_message_size=2000)
    events = feed(framer, request("MESSAGE", content_length="5000"))
    assert events == [StreamBroken("message larger than the message size limit")]


def test_message_of_exactly_the_limit() -> None:
    data = request("MESSAGE", body=b"x" * 100)
    events = feed(StreamFramer(max_message_size=len(data)), data)
    assert messages(events) == [data]


def test_large_message_byte_by_byte() -> None:
    body = b"z" * 60000
    data = request("MESSAGE", body=body, extra="X-Long: " + "y" * 4000 + "\r\n")
    framer = StreamFramer()
    events = feed(framer, *[data[i : i + 1] for i in range(len(data))])
    assert messages(events) == [data]
    assert framer.buffered == 0


def test_invalid_limit() -> None:
    with pytest.raises(ValueError):
        StreamFramer(max_message_size=0)


# -- malformed but framed --------------------------------------------------------
def test_malformed_message_is_rejected_and_the_stream_goes_on() -> None:
    bad = request("OPTIONS").replace(b"From: Alice <sip:alice@example.com>;tag=9fxced76sl\r\n", b"")
    events = feed(StreamFramer(), bad + STREAM_MESSAGES[0])
    assert len(events) == 2
    rejected = events[0]
    assert isinstance(rejected, MessageRejected)
    assert rejected.error.status == 400
    assert rejected.start_line == "OPTIONS sip:bob@example.com SIP/2.0"
    assert rejected.headers is not None
    assert rejected.headers.get("Call-ID") == "a84b4c76e66710@192.0.2.10"
    assert messages(events) == [STREAM_MESSAGES[0]]


def test_unsupported_version_is_rejected_with_505() -> None:
    bad = request("OPTIONS").replace(b"SIP/2.0\r\n", b"SIP/7.0\r\n", 1)
    events = feed(StreamFramer(), bad, STREAM_MESSAGES[5])
    assert isinstance(events[0], MessageRejected)
    assert events[0].error.status == 505
    assert isinstance(events[1], MessageReceived)


def test_garbage_header_section_with_a_length_is_rejected() -> None:
    events = feed(StreamFramer(), b"hello\r\nContent-Length: 3\r\n\r\nabc", STREAM_MESSAGES[0])
    assert isinstance(events[0], MessageRejected)
    assert messages(events) == [STREAM_MESSAGES[0]]


# -- end of stream -------------------------------------------------------------
def test_eof_between_messages_is_quiet() -> None:
    framer = StreamFramer()
    feed(framer, STREAM_MESSAGES[0], b"\r\n")
    framer.receive_eof(now=1.0)
    assert framer.next_event() is None
    assert not framer.broken


def test_eof_inside_a_message_breaks_the_stream() -> None:
    framer = StreamFramer()
    feed(framer, STREAM_MESSAGES[0][:50])
    framer.receive_eof(now=1.0)
    assert framer.next_event() == StreamBroken("connection closed inside a message")


def test_events_are_frozen() -> None:
    event = StreamBroken("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.reason = "y"  # type: ignore[misc]


# -- robustness ------------------------------------------------------------------
@settings(max_examples=examples(300))
@given(chunks=st.lists(st.binary(max_size=300), max_size=10))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    framer = StreamFramer(max_message_size=2000)
    feed(framer, *chunks)
    framer.receive_eof(now=0.0)
    while framer.next_event() is not None:
        pass
    framer.data_to_send()


ALPHABET = [b"\r\n", b"\r", b"\n", b" ", b":", b"Content-Length: ", b"l:", b"7", b"-", b"x"]


@settings(max_examples=examples(300))
@given(
    parts=st.lists(
        st.one_of(st.sampled_from(ALPHABET), st.sampled_from(STREAM_MESSAGES)), max_size=20
    ),
    points=st.lists(st.integers(0, 10**6), max_size=10),
)
def test_sip_like_noise_never_raises(parts: list[bytes], points: list[int]) -> None:
    stream = b"".join(parts)
    whole = feed(StreamFramer(), stream)
    pieces = feed(StreamFramer(), *split(stream, points))
    # However the stream is cut, the messages (and the break, if any) agree.
    assert messages(pieces) == messages(whole)
    assert [e for e in pieces if isinstance(e, StreamBroken)] == [
        e for e in whole if isinstance(e, StreamBroken)
    ]
