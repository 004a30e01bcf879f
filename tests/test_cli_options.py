"""Command-line values: parameters, addresses, custom SIP headers."""

from __future__ import annotations

import pytest

from sansip.cli.options import parse_custom_headers, parse_hostport, parse_params


def test_params_and_addresses() -> None:
    assert parse_params(["UserName=alice", "password = x=y"]) == {
        "username": "alice",
        "password": "x=y",
    }
    with pytest.raises(SystemExit):
        parse_params(["novalue"])
    assert parse_hostport("127.0.0.1", 5060) == ("127.0.0.1", 5060)
    assert parse_hostport("127.0.0.1:5070", 5060) == ("127.0.0.1", 5070)
    assert parse_hostport("[::1]:5071", 5060) == ("::1", 5071)
    assert parse_hostport("[::1]", 5061) == ("::1", 5061)


def test_custom_headers() -> None:
    assert parse_custom_headers("") == ()
    assert parse_custom_headers("X-Team: blue;X-Floor: 3") == (("X-Team", "blue"), ("X-Floor", "3"))
    # A value holding ';' needs line breaks between fields.
    assert parse_custom_headers("Privacy: id;header\r\nX-A: 1") == (
        ("Privacy", "id;header"),
        ("X-A", "1"),
    )
    for bad in ("no colon here", "Bad Name: x", "Via: SIP/2.0/UDP h", "CSeq: 1 INVITE"):
        with pytest.raises(SystemExit):
            parse_custom_headers(bad)


def test_instance_id() -> None:
    import random

    from sansip.cli.options import instance_id

    rng = random.Random(1)
    assert instance_id({}, rng) is None
    fresh = instance_id({"outbound": "1"}, rng)
    assert fresh is not None and len(fresh) == 36
    given = "5f0e6a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    assert instance_id({"instanceid": f"urn:uuid:{given}"}, rng) == given
    with pytest.raises(SystemExit):
        instance_id({"instanceid": "nope"}, rng)
