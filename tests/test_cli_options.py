"""Command-line values: ``-p`` parameters, custom SIP headers, the RFC 5626
instance id (the phone's parameters ``customsipheader``, ``instanceid``,
``outbound``)."""

from __future__ import annotations

import pytest

from sansip.cli.phoneargs import parse_params
from sansip.phone.config import custom_headers, parameters_of, parse_address, phone_setup
from sansip.phone.params import ParameterError


def test_params_and_addresses() -> None:
    assert parse_params(["UserName=alice", "password = x=y"]) == {
        "username": "alice",
        "password": "x=y",
    }
    with pytest.raises(SystemExit):
        parse_params(["novalue"])
    assert parse_address("127.0.0.1", 5060) == ("127.0.0.1", 5060)
    assert parse_address("127.0.0.1:5070", 5060) == ("127.0.0.1", 5070)
    assert parse_address("[::1]:5071", 5060) == ("::1", 5071)
    assert parse_address("[::1]", 5061) == ("::1", 5061)


def test_custom_headers() -> None:
    assert custom_headers("") == ()
    assert custom_headers("X-Team: blue;X-Floor: 3") == (("X-Team", "blue"), ("X-Floor", "3"))
    # A value holding ';' needs line breaks between fields.
    assert custom_headers("Privacy: id;header\r\nX-A: 1") == (
        ("Privacy", "id;header"),
        ("X-A", "1"),
    )
    for bad in ("no colon here", "Bad Name: x", "Via: SIP/2.0/UDP h", "CSeq: 1 INVITE"):
        with pytest.raises(ParameterError, match="customsipheader"):
            custom_headers(bad)


def _instance(**values: str) -> str | None:
    return phone_setup(parameters_of(values)).ua.instance_id


def test_instance_id() -> None:
    assert _instance() is None
    fresh = _instance(outbound="1")
    assert fresh is not None and len(fresh) == 36 and fresh != _instance(outbound="1")
    given = "5f0e6a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    assert _instance(instanceid=f"urn:uuid:{given}") == given
    with pytest.raises(ParameterError, match="instanceid"):
        _instance(instanceid="nope")
