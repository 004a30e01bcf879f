"""Pathological input: huge values, many fields, deep nesting.

These must be rejected or parsed in time linear in their size; the timeout
turns a quadratic (or worse) regression into a failure without measuring
anything.
"""

from __future__ import annotations

import contextlib

import pytest

from sansip.message import ParseError, parse
from sansip.message._grammar import split_list
from sansip.message.address import parse_name_addr
from sansip.message.uri import parse_uri
from sansip.message.via import parse_via_list

HEAD = (
    b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKlim\r\n"
    b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n"
    b"Call-ID: lim\r\nCSeq: 1 OPTIONS\r\n"
)
N = 60_000


def _expect_parse_or_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse(data, max_size=len(data) + 1)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "value",
    [
        b"a" * N,
        b";" * N,
        b"," * N,
        b'"' * N,
        b"\\" * N,
        b"<" * N,
        b"<sip:" * (N // 5),
        b'"\\' * (N // 2),
        b"sip:" + b"a:" * (N // 2),
        b"; a = b " * (N // 8),
        b"SIP/2.0/UDP h" + b";x" * (N // 2),
        b" " * N + b"x",
    ],
)
def test_long_values_in_every_core_header(value: bytes) -> None:
    for name in (b"Via", b"From", b"To", b"Contact", b"Call-ID", b"CSeq", b"X-Other"):
        _expect_parse_or_error(HEAD + name + b": " + value + b"\r\n\r\n")


@pytest.mark.timeout(20)
def test_many_fields() -> None:
    lines = b"".join(
        b"Via: SIP/2.0/UDP 127.0.0.%d;branch=z9hG4bK%d\r\n" % (i % 250, i) for i in range(250)
    )
    msg = parse(HEAD + lines + b"\r\n")
    assert len(msg.via) == 251
    with pytest.raises(ParseError):
        parse(HEAD + lines * 2 + b"\r\n")  # more than max_headers


@pytest.mark.timeout(20)
def test_many_list_elements_and_params() -> None:
    assert len(split_list(",".join(["<sip:a@h;x=1>"] * 5000), "Contact")) == 5000
    assert len(parse_via_list(",".join(["SIP/2.0/UDP h;branch=z9hG4bKx"] * 5000))) == 5000
    na = parse_name_addr("<sip:a@h>" + ";p=1" * 10000, "From")
    assert na.params["p"] == "1"
    with pytest.raises(ParseError):
        parse_uri("sip:" + "%" * N)


@pytest.mark.timeout(20)
def test_many_folded_lines() -> None:
    folded = b"X-Folded: a" + b"\r\n b" * 20000 + b"\r\n"
    msg = parse(HEAD + folded + b"\r\n", max_size=10**6)
    assert msg.headers.get("X-Folded") == "a" + " b" * 20000
