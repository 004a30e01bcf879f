"""DTMF in SIP INFO: application/dtmf-relay and application/dtmf bodies."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansip.bodies import (
    BodyError,
    Dtmf,
    build_dtmf,
    build_dtmf_relay,
    parse_body,
    parse_dtmf,
    parse_dtmf_relay,
)
from sansip.bodies.dtmfinfo import DEFAULT_DURATION, DIGITS, MAX_DURATION
from sansip.errors import LocalProtocolError
from tests.bodies.strategies import FUZZ, ROUND_TRIP, junk, mutated

RELAY = [
    (b"Signal=5\r\nDuration=160\r\n", Dtmf("5", 160)),
    (b"Signal=*\r\nDuration=250\r\n", Dtmf("*", 250)),
    (b"Signal=#\r\nDuration=100\r\n", Dtmf("#", 100)),
    # Event numbers, as some PBXs send the star and hash keys.
    (b"Signal=10\r\nDuration=120\r\n", Dtmf("*", 120)),
    (b"Signal=11\r\nDuration=120\r\n", Dtmf("#", 120)),
    (b"Signal=12\r\nDuration=120\r\n", Dtmf("A", 120)),
    (b"Signal=15\r\n", Dtmf("D")),
    # Loose formatting: case, spaces, LF line ends, order, other keys.
    (b"duration = 80\nsignal= d \nVolume=10\n", Dtmf("D", 80)),
    (b"Signal=0", Dtmf("0")),
    (b"Signal=07\r\n", Dtmf("7")),
]


@pytest.mark.parametrize(("body", "dtmf"), RELAY)
def test_dtmf_relay(body: bytes, dtmf: Dtmf) -> None:
    assert parse_dtmf_relay(body) == dtmf
    assert parse_body("application/dtmf-relay", body) == dtmf


@pytest.mark.parametrize(
    ("body", "digit"),
    [(b"5", "5"), (b"5\r\n", "5"), (b" # ", "#"), (b"b", "B"), (b"10", "*"), (b"11\n", "#")],
)
def test_dtmf(body: bytes, digit: str) -> None:
    assert parse_dtmf(body) == Dtmf(digit, DEFAULT_DURATION)
    assert parse_body("Application/DTMF", body) == Dtmf(digit)


def test_dtmf_in_the_relay_form() -> None:
    assert parse_dtmf(b"Signal=3\r\nDuration=90\r\n") == Dtmf("3", 90)


def test_build() -> None:
    assert build_dtmf_relay("5", 160) == b"Signal=5\r\nDuration=160\r\n"
    assert build_dtmf_relay("#") == f"Signal=#\r\nDuration={DEFAULT_DURATION}\r\n".encode()
    assert build_dtmf_relay("a", 100) == b"Signal=A\r\nDuration=100\r\n"
    assert build_dtmf("*") == b"*"


@pytest.mark.parametrize(
    ("digit", "duration"),
    [("E", 100), ("", 100), ("55", 100), ("10", 100), ("5", -1), ("5", MAX_DURATION + 1)],
)
def test_builder_refusals(digit: str, duration: int) -> None:
    with pytest.raises(LocalProtocolError):
        build_dtmf_relay(digit, duration)
    if duration == 100:
        with pytest.raises(LocalProtocolError):
            build_dtmf(digit)


MALFORMED_RELAY = {
    "empty": b"",
    "no signal": b"Duration=100\r\n",
    "empty signal": b"Signal=\r\n",
    "bad digit": b"Signal=E\r\n",
    "event 16": b"Signal=16\r\n",
    "two signals": b"Signal=1\r\nSignal=2\r\n",
    "two durations": b"Signal=1\r\nDuration=1\r\nDuration=2\r\n",
    "negative duration": b"Signal=1\r\nDuration=-1\r\n",
    "bad duration": b"Signal=1\r\nDuration=long\r\n",
    "huge duration": b"Signal=1\r\nDuration=9999999999\r\n",
    "too long": b"Signal=1\r\nDuration=600001\r\n",
    "unicode digit": "Signal=\u0665\r\n".encode(),
    "no equals": b"Signal 5\r\n",
    "not UTF-8": b"Signal=\xff\r\n",
}


@pytest.mark.parametrize("body", MALFORMED_RELAY.values(), ids=MALFORMED_RELAY.keys())
def test_malformed_relay_bodies_raise_body_error(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse_dtmf_relay(body)


@pytest.mark.parametrize("body", [b"", b"55", b"x", b"16", b"\xff", b"Signal=x"])
def test_malformed_dtmf_bodies_raise_body_error(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse_dtmf(body)


def test_oversized_body_is_413() -> None:
    with pytest.raises(BodyError) as raised:
        parse_dtmf_relay(b"Signal=1\r\n" + b"X=y\r\n" * 2000)
    assert raised.value.status == 413


digits = st.sampled_from(DIGITS + "abcd")


@ROUND_TRIP
@given(digits, st.integers(0, MAX_DURATION))
def test_relay_build_then_parse_round_trips(digit: str, duration: int) -> None:
    assert parse_dtmf_relay(build_dtmf_relay(digit, duration)) == Dtmf(digit.upper(), duration)


@ROUND_TRIP
@given(digits)
def test_dtmf_build_then_parse_round_trips(digit: str) -> None:
    assert parse_dtmf(build_dtmf(digit)) == Dtmf(digit.upper())


@FUZZ
@given(junk)
def test_arbitrary_bytes_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_dtmf_relay(data)
    with contextlib.suppress(BodyError):
        parse_dtmf(data)


@FUZZ
@given(mutated(st.sampled_from([body for body, _ in RELAY])))
def test_mutated_bodies_raise_only_body_error(data: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_dtmf_relay(data)
    with contextlib.suppress(BodyError):
        parse_dtmf(data)
