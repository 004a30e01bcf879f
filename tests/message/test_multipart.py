"""multipart bodies: splitting, exact part bytes, and robustness."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.message import ParseError, parse_multipart
from sansip.message.fields import parse_media_type
from tests.conftest import examples

MIXED = parse_media_type('multipart/mixed;boundary="b0und"')
OTHER = parse_media_type("multipart/x;boundary=a")
BODY = (
    b"--b0und\r\n"
    b"Content-Type: application/sdp\r\n\r\n"
    b"v=0\r\n"
    b"\r\n--b0und\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n"
    b"\x00\r\x0a\x0d\xff--b0un\r\n"
    b"\r\n--b0und--\r\n"
)


def test_parts_keep_their_exact_bytes() -> None:
    parts = parse_multipart(BODY, MIXED)
    assert [p.body for p in parts] == [b"v=0\r\n", b"\x00\r\x0a\x0d\xff--b0un\r\n"]
    assert parts[0].content_type is not None
    assert parts[0].content_type.mime == "application/sdp"
    assert parts[1].headers.get("content-transfer-encoding") == "binary"


def test_preamble_is_skipped_and_part_without_headers_is_allowed() -> None:
    body = b"preamble\r\n--b0und\r\n\r\nplain text\r\n--b0und--"
    parts = parse_multipart(body, MIXED)
    assert len(parts) == 1
    assert parts[0].body == b"plain text"
    assert parts[0].content_type is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (BODY, parse_media_type("application/sdp")),
        (BODY, parse_media_type("multipart/mixed")),
        (b"no delimiter at all", MIXED),
        (b"--b0und\r\nContent-Type: text/plain\r\n\r\nunterminated", MIXED),
        (b"--b0und\r\nbad header line\r\n\r\nx\r\n--b0und--", MIXED),
    ],
)
def test_malformed_bodies_raise_parse_error(body: bytes, content_type: object) -> None:
    with pytest.raises(ParseError):
        parse_multipart(body, content_type)  # type: ignore[arg-type]


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=200), st.sampled_from([MIXED, OTHER]))
def test_random_bodies_never_crash(body: bytes, content_type: object) -> None:
    with contextlib.suppress(ParseError):
        parse_multipart(body, content_type)  # type: ignore[arg-type]


@settings(max_examples=examples(300), deadline=None)
@given(st.data())
def test_mutated_bodies_never_crash(data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, len(BODY)))
    insert = data.draw(st.sampled_from([b"\r\n", b"--", b"--b0und", b"\x00", b"", b"--b0und--"]))
    cut = data.draw(st.integers(0, 5))
    mutated = BODY[:pos] + insert + BODY[pos + cut :]
    try:
        parts = parse_multipart(mutated, MIXED)
    except ParseError:
        return
    assert all(isinstance(p.body, bytes) for p in parts)
