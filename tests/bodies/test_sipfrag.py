"""message/sipfrag status lines (RFC 3420) as REFER NOTIFYs carry them."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansip.bodies import BodyError, SipFrag, build_sipfrag, parse_body, parse_sipfrag
from sansip.errors import LocalProtocolError
from tests.bodies.strategies import FUZZ, ROUND_TRIP, junk, line_text, mutated, tokens

# The progress reports of a transfer, as a transferee's NOTIFYs carry them.
TRANSFER_PROGRESS = [
    (b"SIP/2.0 100 Trying\r\n", SipFrag(100, "Trying")),
    (b"SIP/2.0 180 Ringing", SipFrag(180, "Ringing")),
    (b"SIP/2.0 183 Session Progress\r\n", SipFrag(183, "Session Progress")),
    (b"SIP/2.0 200 OK\r\n", SipFrag(200, "OK")),
    (b"SIP/2.0 486 Busy Here\r\n", SipFrag(486, "Busy Here")),
    (b"SIP/2.0 503 Service Unavailable\r\n", SipFrag(503, "Service Unavailable")),
    (b"sip/2.0 603  Decline \n", SipFrag(603, "Decline")),
    (b"SIP/2.0 100\r\n", SipFrag(100, "")),
    (b"SIP/2.0 200 \xc3\x89xito\r\n", SipFrag(200, "\xc9xito")),
]

# A fragment with header fields, and a body that is not looked at.
WITH_HEADERS = (
    b"SIP/2.0 200 OK\r\nContact: <sip:carol@192.0.2.7>\r\nServer: PBX\r\n"
    b"X-Long: first\r\n second\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n"
)


@pytest.mark.parametrize(("body", "frag"), TRANSFER_PROGRESS)
def test_transfer_progress(body: bytes, frag: SipFrag) -> None:
    assert parse_sipfrag(body) == frag


def test_final_and_success() -> None:
    assert not SipFrag(180).final and not SipFrag(180).success
    assert SipFrag(200).final and SipFrag(202).success
    assert SipFrag(486).final and not SipFrag(486).success


def test_headers_are_kept() -> None:
    frag = parse_sipfrag(WITH_HEADERS)
    assert frag == SipFrag(
        200,
        "OK",
        (
            ("Contact", "<sip:carol@192.0.2.7>"),
            ("Server", "PBX"),
            ("X-Long", "first second"),
            ("Content-Type", "application/sdp"),
        ),
    )
    assert parse_body("message/sipfrag;version=2.0", WITH_HEADERS) == frag


def test_build() -> None:
    assert build_sipfrag(180, "Ringing") == b"SIP/2.0 180 Ringing\r\n"
    assert build_sipfrag(200, "OK", (("Contact", "<sip:a@b>"),)) == (
        b"SIP/2.0 200 OK\r\nContact: <sip:a@b>\r\n"
    )


@pytest.mark.parametrize(
    ("status", "reason", "headers"),
    [
        (99, "x", ()),
        (700, "x", ()),
        (200, "O\r\nK", ()),
        (200, " OK", ()),
        (200, "OK", (("Bad Name", "v"),)),
        (200, "OK", (("Name", "v\n"),)),
    ],
)
def test_builder_refusals(status: int, reason: str, headers: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(LocalProtocolError):
        build_sipfrag(status, reason, headers)


MALFORMED = {
    "empty": b"",
    "request line": b"REFER sip:b@example.com SIP/2.0\r\n",
    "status too low": b"SIP/2.0 099 Odd\r\n",
    "status too high": b"SIP/2.0 700 Odd\r\n",
    "four digits": b"SIP/2.0 2000 OK\r\n",
    "glued reason": b"SIP/2.0 200OK\r\n",
    "other version": b"SIP/1.0 200 OK\r\n",
    "unicode digits": "SIP/2.0 ٢٠٠ OK\r\n".encode(),
    "header without colon": b"SIP/2.0 200 OK\r\nnonsense\r\n",
    "control character": b"SIP/2.0 200 O\x00K\r\n",
    "bare CR": b"SIP/2.0 200 OK\rContact: x\r\n",
    "not UTF-8": b"SIP/2.0 200 \xff\r\n",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_fragments_raise_body_error(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse_sipfrag(body)


def test_oversized_fragment_is_413() -> None:
    with pytest.raises(BodyError) as raised:
        parse_sipfrag(b"SIP/2.0 200 " + b"K" * 70000)
    assert raised.value.status == 413


headers = st.lists(st.tuples(tokens, line_text), max_size=4).map(tuple)


@ROUND_TRIP
@given(st.integers(100, 699), line_text, headers)
def test_build_then_parse_round_trips(
    status: int, reason: str, fields: tuple[tuple[str, str], ...]
) -> None:
    assert parse_sipfrag(build_sipfrag(status, reason, fields)) == SipFrag(status, reason, fields)


@FUZZ
@given(junk)
def test_arbitrary_bytes_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_sipfrag(data)


@FUZZ
@given(mutated(st.sampled_from([WITH_HEADERS] + [body for body, _ in TRANSFER_PROGRESS])))
def test_mutated_fragments_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_sipfrag(data)
