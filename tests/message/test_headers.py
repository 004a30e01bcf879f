"""Tests of sansip.message.headers: the Headers collection and header specs."""

from __future__ import annotations

import pytest

from sansip.message import headers as h
from sansip.message import parse
from sansip.message.errors import LocalProtocolError, ParseError
from sansip.message.fields import CSeq, MediaType
from sansip.message.headers import HEADER_SPECS, Headers, HeaderSpec, canonical_key
from sansip.message.via import Via


def sample() -> Headers:
    return Headers(
        [
            ("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"),
            ("v", "SIP/2.0/UDP b, SIP/2.0/UDP c"),
            ("Subject", "a, b"),
            ("To", "<sip:x@y>"),
            ("CSeq", "1 INVITE"),
        ]
    )


# ---------------------------------------------------------------- basics


def test_order_and_names_are_kept() -> None:
    headers = sample()
    assert len(headers) == 5
    assert headers.names() == ["Via", "v", "Subject", "To", "CSeq"]
    assert headers.items() == [
        ("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"),
        ("v", "SIP/2.0/UDP b, SIP/2.0/UDP c"),
        ("Subject", "a, b"),
        ("To", "<sip:x@y>"),
        ("CSeq", "1 INVITE"),
    ]
    assert list(headers) == headers.items()
    assert repr(Headers([("A", "1")])) == "Headers([('A', '1')])"


def test_new_headers_are_unmodified() -> None:
    assert not sample().modified
    assert not Headers().modified


@pytest.mark.parametrize("name", ["Via", "VIA", "via", "vIa", "v", "V", " Via "])
def test_case_insensitive_lookup(name: str) -> None:
    headers = sample()
    assert headers.get(name) == "SIP/2.0/UDP a;branch=z9hG4bK1"
    assert headers.get_all(name) == [
        "SIP/2.0/UDP a;branch=z9hG4bK1",
        "SIP/2.0/UDP b, SIP/2.0/UDP c",
    ]
    assert headers.count(name) == 2
    assert name in headers


def test_missing_header() -> None:
    headers = sample()
    assert headers.get("From") is None
    assert headers.get("From", "dflt") == "dflt"
    assert headers.get_all("From") == []
    assert headers.values("From") == []
    assert headers.count("From") == 0
    assert "From" not in headers
    assert 1 not in headers  # type: ignore[operator]


@pytest.mark.parametrize(
    ("compact", "full"),
    [
        ("i", "Call-ID"),
        ("m", "Contact"),
        ("f", "From"),
        ("t", "To"),
        ("v", "Via"),
        ("l", "Content-Length"),
        ("c", "Content-Type"),
        ("k", "Supported"),
        ("s", "Subject"),
        ("e", "Content-Encoding"),
        ("o", "Event"),
        ("u", "Allow-Events"),
        ("r", "Refer-To"),
        ("b", "Referred-By"),
        ("x", "Session-Expires"),
        ("y", "Identity"),
    ],
)
def test_compact_forms(compact: str, full: str) -> None:
    assert canonical_key(compact) == full.lower()
    assert canonical_key(compact.upper()) == full.lower()
    assert canonical_key(full) == full.lower()
    headers = Headers([(compact, "1"), (full, "2"), (full.upper(), "3")])
    assert headers.get_all(full) == ["1", "2", "3"]
    assert headers.get_all(compact) == ["1", "2", "3"]
    assert headers.names() == [compact, full, full.upper()]


def test_unknown_single_letter_is_not_expanded() -> None:
    assert canonical_key("q") == "q"
    assert canonical_key(" I ") == "call-id"


def test_values_are_stripped() -> None:
    headers = Headers([("X", "  padded\t ")])
    assert headers.get("x") == "padded"
    assert headers.items() == [("X", "padded")]


def test_non_string_values_are_converted() -> None:
    headers = Headers()
    headers.add("Max-Forwards", 70)
    headers.add("CSeq", CSeq(2, "BYE"))
    headers.add("Via", Via("UDP", "::1", 5060, {"branch": "z9hG4bK1"}))
    assert headers.items() == [
        ("Max-Forwards", "70"),
        ("CSeq", "2 BYE"),
        ("Via", "SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1"),
    ]


def test_equality() -> None:
    assert Headers([("A", "1")]) == Headers([("a", "1")])  # names compare by key
    assert Headers([("v", "x")]) == Headers([("Via", "x")])
    assert Headers([("A", "1")]) == Headers([("A", " 1 ")])
    assert Headers([("A", "1")]) != Headers([("A", "2")])
    assert Headers([("A", "1"), ("B", "2")]) != Headers([("B", "2"), ("A", "1")])  # order counts
    assert Headers([("A", "1")]) != 1
    with pytest.raises(TypeError):
        hash(Headers())


# ----------------------------------------------------------- list splitting


def test_values_splits_only_list_headers() -> None:
    headers = sample()
    assert headers.values("via") == [
        "SIP/2.0/UDP a;branch=z9hG4bK1",
        "SIP/2.0/UDP b",
        "SIP/2.0/UDP c",
    ]
    assert headers.values("subject") == ["a, b"]  # not a list header
    assert headers.get_all("via")[1] == "SIP/2.0/UDP b, SIP/2.0/UDP c"  # get_all never splits


def test_values_honour_quotes_and_brackets() -> None:
    headers = Headers([("Contact", '"a, b" <sip:a@b>, <sip:c@d;x=1,2>')])
    assert headers.values("contact") == ['"a, b" <sip:a@b>', "<sip:c@d;x=1,2>"]
    assert headers.values("m") == headers.values("Contact")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Supported", "100rel, timer", ["100rel", "timer"]),
        ("k", "100rel,timer", ["100rel", "timer"]),
        ("Allow", "INVITE, ACK", ["INVITE", "ACK"]),
        ("Route", "<sip:a;lr>, <sip:b;lr>", ["<sip:a;lr>", "<sip:b;lr>"]),
        ("Accept", "application/sdp, text/plain", ["application/sdp", "text/plain"]),
        ("Warning", '301 h "a, b", 399 h "c"', ['301 h "a, b"', '399 h "c"']),
        (
            "Call-Info",
            "<http://a>;purpose=icon, <http://b>",
            ["<http://a>;purpose=icon", "<http://b>"],
        ),
        # not list headers: commas are data
        ("Date", "Sat, 13 Nov 2010 23:29:00 GMT", ["Sat, 13 Nov 2010 23:29:00 GMT"]),
        ("User-Agent", "x, y", ["x, y"]),
        ("WWW-Authenticate", 'Digest realm="a", nonce="b"', ['Digest realm="a", nonce="b"']),
        ("Authorization", 'Digest username="a", realm="b"', ['Digest username="a", realm="b"']),
        ("X-Custom", "1, 2", ["1, 2"]),
    ],
)
def test_values_per_header(name: str, value: str, expected: list[str]) -> None:
    assert Headers([(name, value)]).values(name) == expected


def test_values_of_list_header_with_empty_element_raises() -> None:
    with pytest.raises(ParseError):
        Headers([("Supported", "a,,b")]).values("Supported")


# ------------------------------------------------------------- mutations


def test_add_appends_and_marks_modified() -> None:
    headers = sample()
    headers.add("Via", "SIP/2.0/UDP d")
    assert headers.modified
    assert headers.names()[-1] == "Via"
    assert headers.get_all("v")[-1] == "SIP/2.0/UDP d"


def test_insert() -> None:
    headers = sample()
    headers.insert(0, "Route", "<sip:r;lr>")
    headers.insert(2, "X", "y")
    assert headers.names() == ["Route", "Via", "X", "v", "Subject", "To", "CSeq"]
    assert headers.modified


def test_prepend_goes_before_first_of_same_name() -> None:
    headers = sample()
    headers.prepend("v", "SIP/2.0/UDP first")
    assert headers.names() == ["v", "Via", "v", "Subject", "To", "CSeq"]
    assert headers.get("Via") == "SIP/2.0/UDP first"
    headers.prepend("CSeq", "2 INVITE")
    assert headers.names()[5] == "CSeq"
    assert headers.get("cseq") == "2 INVITE"


def test_prepend_without_existing_goes_first() -> None:
    headers = sample()
    headers.prepend("Route", "<sip:r>")
    assert headers.names()[0] == "Route"
    assert headers.modified


def test_set_replaces_all_in_place_of_first() -> None:
    headers = sample()
    headers.set("VIA", "SIP/2.0/TCP only")
    assert headers.items() == [
        ("Via", "SIP/2.0/TCP only"),  # keeps the first field's name as written
        ("Subject", "a, b"),
        ("To", "<sip:x@y>"),
        ("CSeq", "1 INVITE"),
    ]
    assert headers.modified


def test_set_adds_when_absent() -> None:
    headers = sample()
    headers.set("From", "<sip:a@b>;tag=1")
    assert headers.items()[-1] == ("From", "<sip:a@b>;tag=1")


def test_remove() -> None:
    headers = sample()
    assert headers.remove("nope") == 0
    assert not headers.modified
    assert headers.remove("V") == 2
    assert headers.modified
    assert headers.names() == ["Subject", "To", "CSeq"]


def test_remove_first() -> None:
    headers = sample()
    assert headers.remove_first("nope") is None
    assert not headers.modified
    assert headers.remove_first("via") == "SIP/2.0/UDP a;branch=z9hG4bK1"
    assert headers.modified
    assert headers.names() == ["v", "Subject", "To", "CSeq"]
    assert headers.remove_first("via") == "SIP/2.0/UDP b, SIP/2.0/UDP c"
    assert "via" not in headers


def test_copy_is_independent_and_unmodified() -> None:
    headers = sample()
    headers.add("X", "1")
    copy = headers.copy()
    assert copy == headers
    assert not copy.modified
    copy.add("Y", "2")
    assert "Y" not in headers
    assert "Y" in copy


@pytest.mark.parametrize("value", ["a\r\nb", "a\nb", "a\rb", "\r\n", "x\n", "\rx"])
def test_cr_lf_rejected(value: str) -> None:
    headers = sample()
    with pytest.raises(LocalProtocolError):
        headers.add("X", value)
    with pytest.raises(LocalProtocolError):
        headers.insert(0, "X", value)
    with pytest.raises(LocalProtocolError):
        headers.prepend("X", value)
    with pytest.raises(LocalProtocolError):
        headers.set("X", value)
    with pytest.raises(LocalProtocolError):
        headers.set("Subject", value)
    with pytest.raises(LocalProtocolError):
        Headers([("X", value)])
    assert not headers.modified
    assert headers == sample()


def test_cr_lf_in_typed_value_rejected() -> None:
    class Evil:
        def __str__(self) -> str:
            return "a\r\nInjected: 1"

    with pytest.raises(LocalProtocolError):
        Headers().add("X", Evil())


# ------------------------------------------------------------------ parsed()


def test_parsed_single_and_multi() -> None:
    headers = sample()
    assert headers.parsed(h.CSEQ) == CSeq(1, "INVITE")
    vias = headers.parsed(h.VIA)
    assert vias is not None
    assert [v.host for v in vias] == ["a", "b", "c"]  # all fields, split at commas
    assert headers.parsed(h.FROM) is None
    assert headers.parsed(h.CONTENT_TYPE) is None


def test_parsed_is_cached() -> None:
    headers = sample()
    first = headers.parsed(h.VIA)
    assert headers.parsed(h.VIA) is first
    cseq = headers.parsed(h.CSEQ)
    assert headers.parsed(h.CSEQ) is cseq


@pytest.mark.parametrize(
    "change",
    [
        lambda hs: hs.add("Via", "SIP/2.0/UDP d"),
        lambda hs: hs.add("v", "SIP/2.0/UDP d"),
        lambda hs: hs.insert(0, "VIA", "SIP/2.0/UDP d"),
        lambda hs: hs.prepend("Via", "SIP/2.0/UDP d"),
        lambda hs: hs.set("Via", "SIP/2.0/UDP d"),
        lambda hs: hs.remove_first("v"),
        lambda hs: hs.remove("via"),
    ],
)
def test_parsed_cache_invalidated_by_change(change: object) -> None:
    headers = sample()
    before = headers.parsed(h.VIA)
    assert before is not None
    change(headers)  # type: ignore[operator]
    after = headers.parsed(h.VIA)
    assert after is not before
    expected = [Via.parse(v) for v in headers.values("via")] or None
    assert after == expected


def test_change_of_other_header_keeps_cache() -> None:
    headers = sample()
    vias = headers.parsed(h.VIA)
    headers.add("Subject", "x")
    assert headers.parsed(h.VIA) is vias


def test_parsed_after_set_sees_new_value() -> None:
    headers = Headers([("Accept", "a/b, c/d"), ("Accept", "e/f")])
    assert headers.parsed(h.ACCEPT) == [
        MediaType("a", "b"),
        MediaType("c", "d"),
        MediaType("e", "f"),
    ]
    headers.set("Accept", "x/y")
    assert headers.parsed(h.ACCEPT) == [MediaType("x", "y")]


def test_parsed_error_is_not_cached() -> None:
    headers = Headers([("Max-Forwards", "x")])
    with pytest.raises(ParseError):
        headers.parsed(h.MAX_FORWARDS)
    headers.set("Max-Forwards", "10")
    assert headers.parsed(h.MAX_FORWARDS) == 10


def test_parsed_uses_compact_names() -> None:
    headers = Headers([("m", "<sip:a@b>;expires=5"), ("k", "100rel"), ("x", "90;refresher=uac")])
    contacts = headers.parsed(h.CONTACT)
    assert contacts is not None
    assert contacts[0].expires == 5
    assert headers.parsed(h.SUPPORTED) == ["100rel"]
    se = headers.parsed(h.SESSION_EXPIRES)
    assert se is not None
    assert se.refresher == "uac"


def test_parsed_contact_star_is_empty_list() -> None:
    assert Headers([("Contact", "*")]).parsed(h.CONTACT) == []


def test_parsed_various_specs() -> None:
    headers = Headers(
        [
            ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
            ("Privacy", "id;header"),
            ("Warning", '301 h "a"'),
            ("Warning", '302 h "b"'),
            ("Expires", "99999999999"),
            ("RSeq", "5"),
            ("RAck", "5 1 INVITE"),
        ]
    )
    date = headers.parsed(h.DATE)
    assert date is not None
    assert date.year == 2010
    assert headers.parsed(h.PRIVACY) == ["id", "header"]
    warnings = headers.parsed(h.WARNING)
    assert warnings is not None
    assert [w.code for w in warnings] == [301, 302]
    assert headers.parsed(h.EXPIRES) == 2**32 - 1
    assert headers.parsed(h.RSEQ) == 5
    rack = headers.parsed(h.RACK)
    assert rack is not None
    assert rack.method == "INVITE"


def test_single_value_spec_reads_first_field() -> None:
    headers = Headers([("CSeq", "1 INVITE"), ("CSeq", "2 BYE")])
    assert headers.parsed(h.CSEQ) == CSeq(1, "INVITE")


def test_header_spec_table() -> None:
    assert HEADER_SPECS["via"] is h.VIA  # type: ignore[comparison-overlap]
    assert all(key == spec.key == spec.name.lower() for key, spec in HEADER_SPECS.items())
    spec = HeaderSpec("X-Thing", int)
    assert (spec.name, spec.key, spec.multi) == ("X-Thing", "x-thing", False)
    assert repr(spec) == "HeaderSpec('X-Thing')"
    assert Headers([("x-thing", "7")]).parsed(spec) == 7


# ------------------------------------------------------ headers of a message


def _message() -> bytes:
    return (
        b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"f: <sip:a@b>;tag=1\r\n"
        b"t: <sip:c@d>\r\n"
        b"i: cid\r\n"
        b"CSeq: 1 OPTIONS\r\n"
        b"Subject:   spaced   \r\n"
        b"l: 0\r\n\r\n"
    )


def test_parsed_message_headers() -> None:
    msg = parse(_message())
    headers = msg.headers
    assert not headers.modified
    assert headers.names() == ["v", "f", "t", "i", "CSeq", "Subject", "l"]
    assert headers.get("Call-ID") == "cid"
    assert headers.get("subject") == "spaced"
    assert headers.get_all("Content-Length") == ["0"]
    assert "From" in headers
    assert headers.parsed(h.FROM) is msg.from_


def test_modifying_message_headers_reserializes() -> None:
    data = _message()
    msg = parse(data)
    assert bytes(msg) == data
    msg.headers.set("Subject", "new")
    assert msg.headers.modified
    assert bytes(msg) == data.replace(b"Subject:   spaced   \r\n", b"Subject: new\r\n")


def test_message_header_change_invalidates_cached_accessor() -> None:
    msg = parse(_message())
    assert msg.top_via.branch == "z9hG4bK1"
    msg.headers.prepend("Via", "SIP/2.0/TCP proxy;branch=z9hG4bK2")
    assert msg.top_via.branch == "z9hG4bK2"
    assert [v.branch for v in msg.via] == ["z9hG4bK2", "z9hG4bK1"]
    msg.headers.set("f", "<sip:x@y>;tag=9")
    assert msg.from_.tag == "9"


# Regression: a bare LF inside a header name used to split the name in two, so
# the parser's name/key/value lists went out of step (IndexError, or values
# attributed to the wrong header).

_BARE_LF_BASE = (
    b"OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
    b"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
)


@pytest.mark.parametrize(
    "data",
    [
        _BARE_LF_BASE + b"Xa\nXb: 1\r\nContent-Length: 0\r\n\r\n",
        _BARE_LF_BASE + b"X\nY: 1\r\n\r\n",
        _BARE_LF_BASE + b"Subject\nCall-ID: x\r\n\r\n",
        _BARE_LF_BASE.replace(b"Via", b"V\nia") + b"\r\n",
    ],
)
def test_bare_lf_inside_header_name_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse(data)
    assert "header name" in info.value.reason  # rejected for the right reason
