"""RFC 3842 message summaries (application/simple-message-summary)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansip.bodies import (
    BodyError,
    MessageCount,
    MessageSummary,
    build_message_summary,
    parse_body,
    parse_message_summary,
)
from sansip.bodies.mwi import MAX_COUNT, MESSAGE_CLASSES
from sansip.errors import LocalProtocolError
from tests.bodies.strategies import FUZZ, ROUND_TRIP, junk, line_text, mutated, tokens

# A PBX's voicemail NOTIFY body.
PBX_NOTIFY = (
    b"Messages-Waiting: yes\r\nMessage-Account: sip:*97@pbx.example.com\r\n"
    b"Voice-Message: 2/8 (0/2)\r\n"
)

# RFC 3842's example with the headers of the newest message.
RFC_WITH_HEADERS = b"""Messages-Waiting: yes\r
Message-Account: sip:alice@vmail.example.com\r
Voice-Message: 4/8 (1/2)\r
\r
To: <alice@atlanta.example.com>\r
From: <bob@biloxi.example.com>\r
Subject: carpool tomorrow?\r
Date: Sun, 17 Aug 2003 11:02:00 -0700\r
Message-ID: <31415926535897932384@vmail.example.com>\r
"""

# A sloppier server: LF line ends, lower case, no urgent counts, a fax line.
LOOSE = b"messages-waiting:no\nvoice-message:  0/3\nFax-Message: 1 / 0 ( 1 / 0 )\n\n"


def test_pbx_notify() -> None:
    summary = parse_message_summary(PBX_NOTIFY)
    assert summary == MessageSummary(
        True, "sip:*97@pbx.example.com", (("voice-message", MessageCount(2, 8, 0, 2)),)
    )
    assert summary.count() == MessageCount(2, 8, 0, 2)
    assert summary.count("Fax-Message") is None
    assert parse_body("application/simple-message-summary", PBX_NOTIFY) == summary


def test_rfc_example_keeps_the_message_headers() -> None:
    summary = parse_message_summary(RFC_WITH_HEADERS)
    assert summary.count() == MessageCount(4, 8, 1, 2)
    assert summary.headers == (
        ("To", "<alice@atlanta.example.com>"),
        ("From", "<bob@biloxi.example.com>"),
        ("Subject", "carpool tomorrow?"),
        ("Date", "Sun, 17 Aug 2003 11:02:00 -0700"),
        ("Message-ID", "<31415926535897932384@vmail.example.com>"),
    )
    assert parse_message_summary(build_message_summary(summary)) == summary


def test_loose_formatting_is_read() -> None:
    summary = parse_message_summary(LOOSE)
    assert not summary.waiting and summary.account is None
    assert summary.counts == (
        ("voice-message", MessageCount(0, 3)),
        ("fax-message", MessageCount(1, 0, 1, 0)),
    )


def test_folded_and_unknown_lines() -> None:
    summary = parse_message_summary(
        b"\r\nMessages-Waiting: yes\r\nX-Box: main\r\n  office\r\nVoice-Message: 1/0\r\n"
    )
    assert summary.headers == (("X-Box", "main office"),)
    assert summary.count() == MessageCount(1, 0)


def test_build() -> None:
    summary = MessageSummary(
        True,
        "sip:alice@vmail.example.com",
        (("voice-message", MessageCount(2, 8, 0, 2)), ("fax-message", MessageCount(1))),
        (("Subject", "hello"),),
    )
    assert build_message_summary(summary) == (
        b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\n"
        b"Voice-Message: 2/8 (0/2)\r\nFax-Message: 1/0 (0/0)\r\n\r\nSubject: hello\r\n"
    )
    assert build_message_summary(MessageSummary(False)) == b"Messages-Waiting: no\r\n"


@pytest.mark.parametrize(
    "summary",
    [
        MessageSummary(True, counts=(("voice-message", MessageCount(-1)),)),
        MessageSummary(True, counts=(("voice-message", MessageCount(MAX_COUNT + 1)),)),
        MessageSummary(True, counts=(("voice", MessageCount()),)),
        MessageSummary(True, counts=(("bad kind-message", MessageCount()),)),
        MessageSummary(True, account="sip:a@b\r\nX: y"),
        MessageSummary(True, headers=(("Bad Name", "v"),)),
        MessageSummary(True, headers=(("Name", " padded"),)),
    ],
)
def test_builder_refusals(summary: MessageSummary) -> None:
    with pytest.raises(LocalProtocolError):
        build_message_summary(summary)


MALFORMED = {
    "empty": b"",
    "no status": b"Voice-Message: 1/0\r\n",
    "status after the blank line": b"\r\nX: y\r\n\r\nMessages-Waiting: yes\r\n",
    "bad status": b"Messages-Waiting: maybe\r\n",
    "one count": b"Messages-Waiting: yes\r\nVoice-Message: 2\r\n",
    "negative": b"Messages-Waiting: yes\r\nVoice-Message: -1/2\r\n",
    "half urgent": b"Messages-Waiting: yes\r\nVoice-Message: 1/2 (3)\r\n",
    "too many digits": b"Messages-Waiting: yes\r\nVoice-Message: 1234567890/0\r\n",
    "unicode digits": "Messages-Waiting: yes\r\nVoice-Message: ٣/0\r\n".encode(),
    "no colon": b"Messages-Waiting: yes\r\nnonsense\r\n",
    "control character": b"Messages-Waiting: yes\r\nSubject: a\x00b\r\n",
    "bare CR": b"Messages-Waiting: yes\rVoice-Message: 1/0\r\n",
    "not UTF-8": b"Messages-Waiting: yes\r\nSubject: \xff\r\n",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_summaries_raise_body_error(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse_message_summary(body)


def test_oversized_summary_is_413() -> None:
    with pytest.raises(BodyError) as raised:
        parse_message_summary(PBX_NOTIFY + b"X: " + b"y" * 70000 + b"\r\n")
    assert raised.value.status == 413


counts = st.builds(
    MessageCount, *[st.integers(0, MAX_COUNT)] * 4
)  # new, old, urgent new, urgent old
kinds = st.sampled_from(MESSAGE_CLASSES) | tokens.map(lambda t: t.lower() + "-message")
summaries = st.builds(
    MessageSummary,
    st.booleans(),
    st.none() | line_text,
    st.lists(st.tuples(kinds, counts), max_size=4).map(tuple),
    st.lists(st.tuples(tokens, line_text), max_size=4).map(tuple),
)


@ROUND_TRIP
@given(summaries)
def test_build_then_parse_round_trips(summary: MessageSummary) -> None:
    assert parse_message_summary(build_message_summary(summary)) == summary


@FUZZ
@given(junk)
def test_arbitrary_bytes_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_message_summary(data)


@FUZZ
@given(mutated(st.sampled_from([PBX_NOTIFY, RFC_WITH_HEADERS, LOOSE])))
def test_mutated_summaries_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_message_summary(data).count()
