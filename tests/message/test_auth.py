"""Tests of sansip.message.auth: Challenge and Credentials header values."""

from __future__ import annotations

import contextlib
import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError
from sansip.message.auth import Challenge, Credentials
from sansip.message.errors import ParseError
from tests.conftest import examples

# ---------------------------------------------------------------- real-world


@pytest.mark.parametrize(
    "text",
    [
        'Digest realm="asterisk",nonce="1234abcd"',
        'Digest realm="asterisk", nonce="1234abcd"',
        'Digest  realm = "asterisk" ,\tnonce= "1234abcd"  ',
        '\tdigest REALM="asterisk",Nonce="1234abcd"',
        "Digest realm=asterisk,nonce=1234abcd",
    ],
)
def test_asterisk_style_challenge(text: str) -> None:
    challenge = Challenge.parse(text)
    assert challenge.scheme == "Digest"
    assert challenge.is_digest
    assert challenge.realm == "asterisk"
    assert challenge.nonce == "1234abcd"
    assert challenge.algorithm is None
    assert challenge.qop_options == []
    assert not challenge.stale
    assert list(challenge.params) == ["realm", "nonce"]
    assert str(challenge) == 'Digest realm="asterisk", nonce="1234abcd"'


def test_kamailio_style_challenge() -> None:
    challenge = Challenge.parse(
        'Digest realm="sip.example.com", nonce="ZTQ4ZjgwMjYxMzYwMDAwYzk5ZWMzNTFkMjY5Mzg1MGY=",'
        ' qop="auth,auth-int", algorithm=MD5, opaque="", stale=FALSE'
    )
    assert challenge.realm == "sip.example.com"
    assert challenge.nonce == "ZTQ4ZjgwMjYxMzYwMDAwYzk5ZWMzNTFkMjY5Mzg1MGY="
    assert challenge.qop_options == ["auth", "auth-int"]
    assert challenge.algorithm == "MD5"
    assert challenge.opaque == ""
    assert challenge.stale is False
    assert str(challenge) == (
        'Digest realm="sip.example.com", nonce="ZTQ4ZjgwMjYxMzYwMDAwYzk5ZWMzNTFkMjY5Mzg1MGY=",'
        ' qop="auth,auth-int", algorithm=MD5, opaque="", stale=FALSE'
    )


def test_rfc3261_challenge_with_domain_and_stale() -> None:
    challenge = Challenge.parse(
        'Digest realm="atlanta.com", domain="sip:ss1.carrier.com sip:ss2.carrier.com",'
        ' qop="auth, auth-int", nonce="f84f1cec41e6cbe5aea9c8e88d359",'
        ' opaque="", stale=true, algorithm=MD5-sess'
    )
    assert challenge.domain == "sip:ss1.carrier.com sip:ss2.carrier.com"
    assert challenge.qop_options == ["auth", "auth-int"]
    assert challenge.stale
    assert challenge.algorithm == "MD5-sess"


def test_rfc7616_userhash_challenge() -> None:
    challenge = Challenge.parse(
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256,'
        ' nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",'
        ' opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true'
    )
    assert challenge.userhash
    assert challenge.charset == "UTF-8"
    assert challenge.algorithm == "SHA-512-256"
    assert "charset=UTF-8, userhash=true" in str(challenge)


def test_rfc4475_regaut01_unknown_scheme() -> None:
    # RFC 4475 §3.1.2.1 (regaut01): an unknown scheme must be accepted.
    credentials = Credentials.parse("NoOneKnowsThisScheme opaque-data=here")
    assert credentials.scheme == "NoOneKnowsThisScheme"
    assert not credentials.is_digest
    assert credentials.params == {"opaque-data": "here"}
    assert credentials.get("OPAQUE-DATA") == "here"
    assert str(credentials) == "NoOneKnowsThisScheme opaque-data=here"
    assert Credentials.parse(str(credentials)) == credentials


@pytest.mark.parametrize(
    ("text", "token68"),
    [
        ("NoOneKnowsThisScheme token-or-param", "token-or-param"),
        ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ("Bearer abc/def+g=", "abc/def+g="),
    ],
)
def test_token68_of_other_schemes(text: str, token68: str) -> None:
    challenge = Challenge.parse(text)
    assert challenge.token68 == token68
    assert challenge.params == {}
    assert str(challenge) == text
    assert Challenge.parse(str(challenge)) == challenge


def test_bare_other_scheme() -> None:
    challenge = Challenge.parse("Negotiate")
    assert challenge.scheme == "Negotiate"
    assert challenge.params == {} and challenge.token68 is None
    assert str(challenge) == "Negotiate"


def test_credentials_rfc3261_example() -> None:
    credentials = Credentials.parse(
        'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",'
        ' uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b",'
        ' response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    assert credentials.username == "bob"
    assert credentials.realm == "biloxi.com"
    assert credentials.nonce == "dcd98b7102dd2f0e8b11d0f600bfb0c093"
    assert credentials.uri == "sip:bob@biloxi.com"
    assert credentials.qop == "auth"
    assert credentials.nc == "00000001"
    assert credentials.cnonce == "0a4f113b"
    assert credentials.response == "6629fae49393a05397450978507c4ef1"
    assert credentials.opaque == "5ccc069c403ebaf9f0171e9517f40e41"
    assert credentials.algorithm is None
    assert not credentials.userhash
    assert "qop=auth, nc=00000001" in str(credentials)


def test_quoted_pair_is_unescaped_and_reescaped() -> None:
    credentials = Credentials.parse(r'Digest username="a\"b\\c\d", realm="r"')
    assert credentials.username == 'a"b\\cd'
    assert str(credentials) == r'Digest username="a\"b\\cd", realm="r"'
    assert Credentials.parse(str(credentials)) == credentials


def test_quoted_values_keep_inner_whitespace_and_commas() -> None:
    challenge = Challenge.parse('Digest realm=" a, b\t", nonce="x=y,z"')
    assert challenge.realm == " a, b\t"
    assert challenge.nonce == "x=y,z"


def test_utf8_in_quoted_string() -> None:
    credentials = Credentials.parse('Digest username="Jäsøn Doe", realm="r"')
    assert credentials.username == "Jäsøn Doe"
    assert str(credentials) == 'Digest username="Jäsøn Doe", realm="r"'


def test_empty_list_elements_are_skipped() -> None:
    assert Challenge.parse('Digest realm="r",, nonce="n",') == Challenge.parse(
        'Digest realm="r", nonce="n"'
    )


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        '"Digest" realm="x"',
        'realm="x"',
        "=x",
        "Digest",
        "Digest ,",
        'Digest realm="x',
        'Digest realm="x\\"',
        "Digest realm",
        'Digest realm="x", nonce',
        "Digest realm=",
        "Digest realm=x nonce=y",
        'Digest realm="x" nonce="y"',
        "Digest realm=a b",
        "Digest realm=a/b",
        'Digest realm="x", realm="y"',
        'Digest REALM="x", realm="y"',
        'Digest, realm="x"',
        'Digest\x00realm="x"',
        'Digest realm="x"\r\n',
        'Digest realm="a\r\nb"',
        "Digest token68==",
        "Foo abc, d=e",
        "Foo a=b=",
        'Foo "quoted"',
    ],
)
def test_parse_errors(text: str) -> None:
    for cls in (Challenge, Credentials):
        with pytest.raises(ParseError) as info:
            cls.parse(text)
        assert info.value.status == 400
        assert "\r" not in info.value.reason and "\n" not in info.value.reason


def test_error_reason_is_short() -> None:
    with pytest.raises(ParseError) as info:
        Challenge.parse("Digest " + "a" * 10_000)
    assert len(info.value.reason) < 100


@pytest.mark.parametrize(
    "text",
    [
        'Digest realm="' + "a\\" * 100_000,
        'Digest realm="' + "a" * 200_000,
        "Digest " + "".join(f"p{i}=v," for i in range(20_000)) + "x",
        "Digest " + "," * 200_000,
        "Foo " + "a" * 200_000 + "=b",
    ],
)
def test_big_inputs_are_linear(text: str) -> None:
    # A quadratic parser would take minutes on these; the timeout catches it.
    with contextlib.suppress(ParseError):
        Challenge.parse(text)


# ---------------------------------------------------------- construction


def test_canonical_challenge_text() -> None:
    challenge = Challenge.digest(realm="x", nonce="y", algorithm="MD5", qop="auth")
    assert str(challenge) == 'Digest realm="x", nonce="y", algorithm=MD5, qop="auth"'


def test_canonical_credentials_text() -> None:
    credentials = Credentials.digest(
        username="bob",
        realm="r",
        nonce="n",
        uri="sip:a@b",
        response="abc",
        algorithm="SHA-256",
        cnonce="c",
        opaque="o",
        qop="auth",
        nc="00000001",
        userhash="false",
    )
    assert str(credentials) == (
        'Digest username="bob", realm="r", nonce="n", uri="sip:a@b", response="abc",'
        ' algorithm=SHA-256, cnonce="c", opaque="o", qop=auth, nc=00000001, userhash=false'
    )


def test_unquoted_param_with_non_token_value_is_quoted() -> None:
    challenge = Challenge.digest(realm="r", algorithm="a b", stale="")
    assert str(challenge) == 'Digest realm="r", algorithm="a b", stale=""'
    assert Challenge.parse(str(challenge)) == challenge


def test_unknown_digest_params_use_token_when_possible() -> None:
    challenge = Challenge.digest(realm="r", foo="bar", baz="a b")
    assert str(challenge) == 'Digest realm="r", foo=bar, baz="a b"'


def test_names_are_lowercased_and_compared_case_insensitively() -> None:
    a = Challenge("digest", [("Realm", "r"), ("NONCE", "n")])
    b = Challenge.parse('Digest nonce="n", realm="r"')
    assert a == b
    assert hash(a) == hash(b)
    assert a.scheme == "Digest"
    assert "REALM" in a
    assert "other" not in a
    assert a.get("Nonce") == "n"
    assert a.get("missing", "d") == "d"


def test_other_scheme_case_insensitive_equality() -> None:
    assert Challenge.parse("FOO a=b") == Challenge.parse("foo a=b")
    assert str(Challenge.parse("FOO a=b")) == "FOO a=b"


def test_challenge_and_credentials_are_not_equal() -> None:
    assert Challenge.digest(realm="r") != Credentials.digest(realm="r")
    assert Challenge.digest(realm="r") != 'Digest realm="r"'


def test_values_are_immutable() -> None:
    challenge = Challenge.digest(realm="r")
    with pytest.raises(AttributeError):
        challenge.realm = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        challenge.params["realm"] = "x"  # type: ignore[index]


def test_copy_and_pickle() -> None:
    for value in (
        Challenge.digest(realm="r", nonce="n"),
        Credentials.parse("NoOneKnowsThisScheme opaque-data=here"),
        Challenge.parse("Basic abc=="),
    ):
        assert copy.copy(value) == value
        assert copy.deepcopy(value) == value
        assert pickle.loads(pickle.dumps(value)) == value
        assert type(pickle.loads(pickle.dumps(value))) is type(value)


def test_repr_round_trips() -> None:
    challenge = Challenge.digest(realm="r", nonce="n")
    assert repr(challenge) == 'Challenge.parse(\'Digest realm="r", nonce="n"\')'


@pytest.mark.parametrize(
    ("scheme", "params", "token68"),
    [
        ("Dig est", {"realm": "r"}, None),
        ("", {"realm": "r"}, None),
        ("Digest", {}, None),
        ("Digest", {"re alm": "r"}, None),
        ("Digest", {"realm": "a\r\nb"}, None),
        ("Digest", [("realm", "a"), ("REALM", "b")], None),
        ("Digest", {}, "abc"),
        ("Foo", {"a": "b"}, "abc"),
        ("Foo", {}, "a b"),
        ("Foo", {}, "=abc"),
    ],
)
def test_construction_errors(
    scheme: str, params: dict[str, str] | list[tuple[str, str]], token68: str | None
) -> None:
    with pytest.raises(LocalProtocolError):
        Challenge(scheme, params, token68=token68)


def test_qop_options_ignore_blanks_and_case() -> None:
    assert Challenge.digest(realm="r", qop=" Auth ,, auth-INT ").qop_options == [
        "auth",
        "auth-int",
    ]


# ------------------------------------------------------------- hypothesis

_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(_TOKEN_ALPHABET, min_size=1, max_size=12)
values = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=20)
known_names = st.sampled_from(
    [
        "realm",
        "nonce",
        "opaque",
        "algorithm",
        "qop",
        "stale",
        "domain",
        "username",
        "uri",
        "response",
        "cnonce",
        "nc",
        "userhash",
        "charset",
    ]
)
param_lists = st.lists(
    st.tuples(st.one_of(known_names, tokens), values),
    min_size=1,
    max_size=8,
    unique_by=lambda item: item[0].lower(),
)


@st.composite
def auth_values(draw: st.DrawFn, cls: type[Challenge] | type[Credentials]) -> object:
    kind = draw(st.sampled_from(["digest", "params", "token68", "bare"]))
    if kind == "digest":
        return cls(draw(st.sampled_from(["Digest", "digest", "DIGEST"])), draw(param_lists))
    scheme = draw(tokens.filter(lambda s: s.lower() != "digest"))
    if kind == "params":
        return cls(scheme, draw(param_lists))
    if kind == "token68":
        token = draw(st.from_regex(r"[A-Za-z0-9\-._~+/!%*`']+=*", fullmatch=True))
        return cls(scheme, token68=token)
    return cls(scheme)


@settings(max_examples=examples(300), deadline=None)
@given(st.one_of(auth_values(Challenge), auth_values(Credentials)))
def test_generated_values_round_trip(value: Challenge | Credentials) -> None:
    text = str(value)
    parsed = type(value).parse(text)
    assert parsed == value
    assert str(parsed) == text
    assert list(parsed.params.items()) == list(value.params.items())


@settings(max_examples=examples(300), deadline=None)
@given(
    param_lists, st.sampled_from([",", " ,", ", ", "\t,\t", " , "]), st.sampled_from(["=", " = "])
)
def test_lws_variants_parse_the_same(params: list[tuple[str, str]], comma: str, equal: str) -> None:
    reference = Challenge("Digest", params)
    canonical = str(reference)
    # Rebuild the text with other separators: quote every value.
    body = comma.join(
        name + equal + '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for name, value in params
    )
    assert Challenge.parse("Digest " + body) == reference
    assert Challenge.parse(canonical) == reference


@settings(max_examples=examples(300), deadline=None)
@given(st.text())
def test_arbitrary_text_only_raises_parse_error(text: str) -> None:
    for cls in (Challenge, Credentials):
        try:
            value = cls.parse(text)
        except ParseError as exc:
            assert exc.status == 400
        else:
            assert cls.parse(str(value)) == value


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet='Digest realm="\\, =\t\r\nxyz/'))
def test_grammar_alphabet_only_raises_parse_error(text: str) -> None:
    for cls in (Challenge, Credentials):
        try:
            value = cls.parse(text)
        except ParseError:
            pass
        else:
            assert cls.parse(str(value)) == value
