"""Parsing by Content-Type, and the error every body parser raises."""

from __future__ import annotations

import contextlib
import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sansip.bodies
from sansip.bodies import (
    BodyError,
    Dtmf,
    IsComposing,
    MessageCount,
    MessageSummary,
    Presence,
    SipFrag,
    build_iscomposing,
    build_pidf,
    parse_body,
)
from sansip.bodies.content import PARSERS
from sansip.errors import RemoteProtocolError, SansipError
from tests.bodies.strategies import FUZZ, junk


def test_each_type_reaches_its_parser() -> None:
    assert parse_body("application/dtmf-relay", b"Signal=1\r\n") == Dtmf("1")
    assert parse_body(" Message/SipFrag ; version=2.0", b"SIP/2.0 200 OK") == SipFrag(200, "OK")
    summary = parse_body("application/simple-message-summary", b"Messages-Waiting: no\r\n")
    assert summary == MessageSummary(False)
    body = build_iscomposing(IsComposing("idle"))
    assert parse_body("application/im-iscomposing+xml;charset=UTF-8", body) == IsComposing("idle")
    presence = parse_body("APPLICATION/PIDF+XML", build_pidf("sip:a@b", "online"))
    assert isinstance(presence, Presence) and presence.entity == "sip:a@b"
    assert MessageCount() == MessageCount(0, 0, 0, 0)


@pytest.mark.parametrize(
    "content_type", ["application/sdp", "text/plain", "", "application/pidf", "message/sip"]
)
def test_unsupported_types_are_415(content_type: str) -> None:
    with pytest.raises(BodyError) as raised:
        parse_body(content_type, b"v=0\r\n")
    assert raised.value.status == 415
    assert raised.value.reason == "Unsupported Media Type"


def test_body_error_shape() -> None:
    error = BodyError("bad\r\nbody é")
    assert isinstance(error, RemoteProtocolError) and isinstance(error, SansipError)
    assert error.status == 400
    assert error.reason == "bad??body ?" and str(error) == "bad??body ?"
    assert repr(error) == "BodyError('bad??body ?', status=400)"
    assert BodyError("x" * 500, 413).reason == "x" * 200


def test_package_doctest() -> None:
    result = doctest.testmod(sansip.bodies)
    assert result.attempted > 0 and result.failed == 0


@FUZZ
@given(st.sampled_from(sorted(PARSERS)), junk)
def test_every_parser_raises_only_body_error(content_type: str, data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_body(content_type, data)
