"""Tests of sansip.message.uri: SIP/SIPS, tel and opaque URIs."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from sansip.message.errors import ParseError
from sansip.message.uri import (
    AbsoluteURI,
    SipURI,
    TelURI,
    escape,
    parse_uri,
    unescape,
)


def sip(text: str) -> SipURI:
    uri = parse_uri(text)
    assert isinstance(uri, SipURI)
    return uri


# ------------------------------------------------------------------ parsing


def test_full_sip_uri_components() -> None:
    uri = sip("sip:alice:secret@[2001:db8::1]:5070;Transport=TCP;lr?Subject=hi&x=y")
    assert uri.scheme == "sip"
    assert uri.user == "alice"
    assert uri.password == "secret"
    assert uri.host == "2001:db8::1"  # no brackets in .host
    assert uri.port == 5070
    assert dict(uri.params) == {"transport": "TCP", "lr": None}  # names lower-cased, values kept
    assert dict(uri.headers) == {"Subject": "hi", "x": "y"}  # header names kept as written
    assert uri.transport == "tcp"
    assert uri.lr
    assert not uri.secure
    assert uri.hostport == "[2001:db8::1]:5070"


def test_minimal_sip_uri() -> None:
    uri = sip("sip:example.com")
    assert uri == SipURI("example.com")
    assert uri.user is None
    assert uri.password is None
    assert uri.port is None
    assert dict(uri.params) == {}
    assert dict(uri.headers) == {}
    assert uri.transport is None
    assert not uri.lr
    assert uri.hostport == "example.com"


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("sip:a@h", "sip"),
        ("SIP:a@h", "sip"),
        ("Sip:a@h", "sip"),
        ("sips:a@h", "sips"),
        ("SIPS:a@h", "sips"),
        ("sIpS:a@h", "sips"),
    ],
)
def test_scheme_is_case_insensitive_and_lower_cased(text: str, scheme: str) -> None:
    uri = sip(text)
    assert uri.scheme == scheme
    assert uri.secure is (scheme == "sips")
    assert str(uri) == text  # a parsed URI serializes as it was written
    assert str(uri.with_params(lr=None)) == f"{scheme}:a@h;lr"  # a derived one canonically


def test_host_case_is_kept() -> None:
    assert sip("sip:alice@AtLanTa.CoM").host == "AtLanTa.CoM"


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("sip:192.0.2.1", "192.0.2.1", None),
        ("sip:192.0.2.1:5060", "192.0.2.1", 5060),
        ("sip:[::1]", "::1", None),
        ("sip:[::1]:5061", "::1", 5061),
        ("sip:u@[2001:db8::10:5070]", "2001:db8::10:5070", None),
        ("sip:u@[2001:db8::10]:5070", "2001:db8::10", 5070),
        ("sip:[::ffff:192.0.2.1]", "::ffff:192.0.2.1", None),
        ("sip:host.example.com.", "host.example.com.", None),
        ("sip:under_score.example.com", "under_score.example.com", None),
        ("sip:h:0", "h", 0),
        ("sip:h:65535", "h", 65535),
    ],
)
def test_host_and_port(text: str, host: str, port: int | None) -> None:
    uri = sip(text)
    assert uri.host == host
    assert uri.port == port
    assert str(uri) == text


def test_ipv6_host_is_bracketed_when_serialized() -> None:
    assert str(SipURI("::1")) == "sip:[::1]"
    assert str(SipURI("2001:db8::1", "bob", port=5060)) == "sip:bob@[2001:db8::1]:5060"
    assert SipURI("::1", port=5).hostport == "[::1]:5"


def test_empty_password() -> None:
    uri = sip("sip:alice:@h")
    assert uri.user == "alice"
    assert uri.password == ""
    assert str(uri) == "sip:alice:@h"


def test_user_may_hold_semicolons_rfc4475_semiuri() -> None:
    # RFC 4475 semiuri: the ';' before '@' belongs to the user part.
    uri = sip("sip:user;par=u%40example.net@example.com")
    assert uri.user == "user;par=u%40example.net"
    assert uri.host == "example.com"
    assert dict(uri.params) == {}


def test_escaped_user_rfc4475_esc01() -> None:
    uri = sip("sip:sips%3Auser%40example.com@example.net")
    assert uri.user == "sips%3Auser%40example.com"  # kept as written
    assert unescape(uri.user) == "sips:user@example.com"
    assert uri.host == "example.net"
    assert uri.scheme == "sip"


def test_params_names_lower_cased_values_kept() -> None:
    uri = sip("sip:h;MADDR=[::1];User=Phone;X;Method=INVITE")
    assert dict(uri.params) == {"maddr": "[::1]", "user": "Phone", "x": None, "method": "INVITE"}
    assert str(uri) == "sip:h;MADDR=[::1];User=Phone;X;Method=INVITE"  # as written
    assert str(uri.replace()) == "sip:h;maddr=[::1];user=Phone;x;method=INVITE"  # canonical


def test_uri_header_with_empty_value() -> None:
    uri = sip("sip:h?A=&b=2")
    assert dict(uri.headers) == {"A": "", "b": "2"}
    assert str(uri) == "sip:h?A=&b=2"


def test_uri_header_value_with_escaped_sip_uri() -> None:
    uri = sip("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com")
    assert dict(uri.headers) == {"to": "sip:bob%40biloxi.com"}
    assert uri.params["method"] == "REGISTER"


def test_with_and_without_params() -> None:
    uri = sip("sip:h;lr;Foo=1")
    added = uri.with_params(transport="tcp", maddr=None)
    assert dict(added.params) == {"lr": None, "foo": "1", "transport": "tcp", "maddr": None}
    assert str(added) == "sip:h;lr;foo=1;transport=tcp;maddr"
    assert dict(uri.params) == {"lr": None, "foo": "1"}  # original unchanged
    assert str(uri.without_params("FOO")) == "sip:h;lr"
    assert str(uri.without_params("lr", "foo")) == "sip:h"


def test_sip_uri_equality_with_constructed_value() -> None:
    assert sip("sip:alice@example.com") == SipURI("example.com", "alice")
    assert sip("sip:alice@example.com;lr") == SipURI("example.com", "alice", params={"lr": None})
    assert sip("sips:alice@example.com") != SipURI("example.com", "alice")


# -------------------------------------------------------------- canonical str


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("SIP:alice@example.com", "sip:alice@example.com"),
        ("sip:h;Transport=UDP", "sip:h;transport=UDP"),
        ("sip:%61lice@h", "sip:%61lice@h"),  # escapes kept as written
        ("sip:a@h?Subject=project%20x", "sip:a@h?Subject=project%20x"),
        ("sips:[::1]:5061;lr", "sips:[::1]:5061;lr"),
        ("tel:+1-201-555-0123;Ext=22;X", "tel:+1-201-555-0123;ext=22;x"),
        ("TEL:+1", "tel:+1"),
        ("HTTP://example.com/x?y", "http://example.com/x?y"),
        ("urn:service:sos", "urn:service:sos"),
    ],
)
def test_canonical_str(text: str, canonical: str) -> None:
    uri = parse_uri(text)
    if isinstance(uri, SipURI):
        assert str(uri) == text  # a parsed SIP URI keeps its text ...
        uri = uri.replace()  # ... a rebuilt one is canonical
    assert str(uri) == canonical
    assert parse_uri(str(uri)) == uri


# ---------------------------------------------------------------- tel / other


def test_tel_uri() -> None:
    uri = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert isinstance(uri, TelURI)
    assert uri.number == "+1-201-555-0123"
    assert dict(uri.params) == {"phone-context": "example.com"}
    assert uri.scheme == "tel"
    assert uri.is_global
    assert not TelURI("5551234").is_global


@pytest.mark.parametrize("text", ["Tel:911", "TEL:911", "tel:911"])
def test_tel_scheme_case_insensitive(text: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, TelURI)
    assert uri.number == "911"


def test_absolute_uri() -> None:
    uri = parse_uri("HTTP://www.example.com/alice/photo.jpg")
    assert isinstance(uri, AbsoluteURI)
    assert uri.scheme == "http"
    assert uri.rest == "//www.example.com/alice/photo.jpg"
    assert str(uri) == "http://www.example.com/alice/photo.jpg"


def test_class_parsers_check_the_scheme() -> None:
    with pytest.raises(ParseError):
        SipURI.parse("tel:1")
    with pytest.raises(ParseError):
        TelURI.parse("sip:1@h")
    # AbsoluteURI does not interpret the scheme at all
    assert AbsoluteURI.parse("sip:x") == AbsoluteURI("sip", "x")


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nocolon",
        "1abc:x",
        ":x",
        "sip:",
        "sip:a@",
        "sip:@h",
        "sip:a b@h",
        "sip:a@b@c",
        "sip:a:b:c@h",
        "sip:host:",
        "sip:host:70000",  # 5 digits but > 65535
        "sip:host:123456",
        "sip:host:-1",
        "sip:host;=x",
        "sip:host;;x",
        "sip:host;a=b?",
        "sip:host?a",
        "sip:host?&a=b",
        "sip:[::1",
        "sip:::1",  # IPv6 needs brackets
        "sip:[::1]]",
        "sip:%zz@host",
        "sip:a%2@host",
        "sip:a%@host",
        "sip:h;x=%g0",
        "sip:h?x=%",
        "sip:alice@atlanta.com;transport=tcp\x00",
        "sip:alice@atlanta.com\u00e9",
        "sip:\u00e9@atlanta.com",
        "sip:user@host;par=\u00e9",
        "sip:h\r\n",
        " sip:h",
        "sip:h ",
        "tel:",
        "tel:abc xyz",
        "tel:+1;=x",
        "urn: x",
    ],
)
def test_malformed_uris_raise_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_uri(text)


def test_parse_error_is_a_400() -> None:
    with pytest.raises(ParseError) as info:
        parse_uri("sip:bad host")
    assert info.value.status == 400


# ------------------------------------------------------------------ escaping


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("", ""),
        ("alice", "alice"),
        ("%61lice", "alice"),
        ("%41%42", "AB"),
        ("%2541", "%41"),  # never recursive
        ("%252541", "%2541"),
        ("100%25", "100%"),
        ("%00", "\x00"),
        ("%C3%A9", "\u00e9"),
        ("%c3%a9", "\u00e9"),
        ("%zz", "%zz"),  # not an escape: left alone
        ("%", "%"),
    ],
)
def test_unescape(text: str, plain: str) -> None:
    assert unescape(text) == plain


def test_unescape_twice_is_not_unescape_once() -> None:
    once = unescape("%2541")
    assert once == "%41"
    assert unescape(once) == "A"


def test_unescape_keeps_invalid_utf8_as_surrogates() -> None:
    assert unescape("%ff") == "\udcff"


@pytest.mark.parametrize(
    ("plain", "escaped"),
    [
        ("alice", "alice"),
        ("a b@c", "a%20b%40c"),
        ("a:b", "a%3Ab"),
        ("\u00e9", "%C3%A9"),
        ("-_.!~*'()&=+$,;?/", "-_.!~*'()&=+$,;?/"),
        ("%", "%25"),
    ],
)
def test_escape(plain: str, escaped: str) -> None:
    assert escape(plain) == escaped
    assert unescape(escaped) == plain


def test_escape_custom_safe_set() -> None:
    assert escape("a;b", safe="") == "a%3Bb"
    assert escape("a:b", safe=":") == "a:b"


def test_escaped_user_round_trip_through_uri() -> None:
    user = escape("alice smith@home")
    uri = SipURI("example.com", user)
    parsed = sip(str(uri))
    assert parsed.user == user
    assert unescape(parsed.user or "") == "alice smith@home"


# -------------------------------------------------- RFC 3261 §19.1.4 equality

EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    (
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ),
    (
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ),
]

NOT_EQUIVALENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    # equality is not transitive: both are equivalent to sip:carol@chicago.com
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
]


@pytest.mark.parametrize(("a", "b"), EQUIVALENT)
def test_rfc3261_equivalent_examples(a: str, b: str) -> None:
    assert sip(a).equivalent(sip(b))
    assert sip(b).equivalent(sip(a))


@pytest.mark.parametrize(("a", "b"), NOT_EQUIVALENT)
def test_rfc3261_not_equivalent_examples(a: str, b: str) -> None:
    assert not sip(a).equivalent(sip(b))
    assert not sip(b).equivalent(sip(a))


def test_equivalence_is_not_transitive() -> None:
    plain = sip("sip:carol@chicago.com")
    on = sip("sip:carol@chicago.com;security=on")
    off = sip("sip:carol@chicago.com;security=off")
    assert plain.equivalent(on)
    assert plain.equivalent(off)
    assert not on.equivalent(off)


@pytest.mark.parametrize("text", [a for a, _ in EQUIVALENT + NOT_EQUIVALENT])
def test_equivalent_is_reflexive(text: str) -> None:
    assert sip(text).equivalent(sip(text))


@pytest.mark.parametrize("name", ["user", "ttl", "method", "maddr", "transport"])
def test_special_params_must_be_on_both_sides(name: str) -> None:
    assert not sip(f"sip:h;{name}=x").equivalent(sip("sip:h"))
    assert not sip("sip:h").equivalent(sip(f"sip:h;{name}=x"))
    assert sip(f"sip:h;{name}=X").equivalent(sip(f"sip:h;{name.upper()}=x"))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("sip:%41@h", "sip:A@h", True),
        ("sip:a@h", "sip:A@h", False),  # userinfo is case-sensitive
        ("sip:a:%70w@h", "sip:a:pw@h", True),
        ("sip:a:PW@h", "sip:a:pw@h", False),
        ("sip:a@h", "sip:a:@h", True),  # no password == empty password
        ("sip:h;x=A%42", "sip:h;X=ab", True),  # param values: unescaped, case-insensitive
        ("sip:h;lr", "sip:h;lr", True),
        ("sip:h;lr", "sip:h;lr=on", False),
        ("sip:h?subject=A", "sip:h?Subject=A", True),  # header names case-insensitive
        ("sip:h?subject=A", "sip:h?subject=a", False),  # header values are not
        ("sip:h?subject=%41", "sip:h?subject=A", True),
        ("sip:h", "sips:h", False),
        ("sip:[::1]", "sip:[::1]:5060", False),
        ("sip:%2541@h", "sip:%41@h", False),  # unescaped once only
    ],
)
def test_equivalent_details(a: str, b: str, expected: bool) -> None:
    assert sip(a).equivalent(sip(b)) is expected
    assert sip(b).equivalent(sip(a)) is expected


def test_equivalent_to_non_sip_values_is_false() -> None:
    uri = sip("sip:h")
    assert not uri.equivalent("sip:h")
    assert not uri.equivalent(parse_uri("tel:+1"))
    assert not uri.equivalent(None)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # RFC 3261 §19.1.4: only characters outside the RFC 2396 "reserved" set
        # are equivalent to their %HH encoding.
        ("sip:a%3Bb@h", "sip:a;b@h", False),
        ("sip:a%3bb@h", "sip:a%3Bb@h", True),  # hex digits compare case-insensitively
        ("sip:a%2Fb@h", "sip:a/b@h", False),
        ("sip:a%40b@h", "sip:a%40b@h", True),
        ("sip:%7e@h", "sip:~@h", True),  # '~' is unreserved
        ("sip:h;x=a%3Bb", "sip:h;x=a%3bb", True),
    ],
)
def test_escaped_reserved_characters(a: str, b: str, expected: bool) -> None:
    assert sip(a).equivalent(sip(b)) is expected
    assert sip(b).equivalent(sip(a)) is expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("sip:%253B@h", "sip:%3B@h"),
        ("sip:h;x=%253B", "sip:h;x=%3B"),
        ("sip:h?x=%253B", "sip:h?x=%3B"),
    ],
)
def test_escaped_percent_is_not_an_escape(a: str, b: str) -> None:
    assert not sip(a).equivalent(sip(b))


# ----------------------------------------------------------- misc behaviour


def test_empty_params_and_headers_are_read_only() -> None:
    uri = sip("sip:h")
    assert isinstance(uri.params, MappingProxyType)
    assert isinstance(uri.headers, MappingProxyType)
    with pytest.raises(TypeError):
        uri.params["x"] = "y"  # type: ignore[index]


def test_sip_uris_are_hashable_by_components() -> None:
    bindings = {sip("sip:a@h;lr"): 1}
    assert bindings[SipURI("h", "a", params={"lr": None})] == 1
    assert sip("sip:a@h;lr") not in {sip("sip:a@h")}
