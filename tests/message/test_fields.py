"""Tests of sansip.message.fields: typed values of the smaller headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sansip.message.errors import ParseError
from sansip.message.fields import (
    MAX_SEQ,
    CSeq,
    Event,
    MediaType,
    RAck,
    Reason,
    Replaces,
    SessionExpires,
    SubscriptionState,
    Warning,
    format_date,
    parse_call_id,
    parse_cseq,
    parse_date,
    parse_delta_seconds,
    parse_event,
    parse_max_forwards,
    parse_media_type,
    parse_media_type_list,
    parse_min_se,
    parse_privacy,
    parse_rack,
    parse_reason_list,
    parse_replaces,
    parse_rseq,
    parse_session_expires,
    parse_subscription_state,
    parse_token_list,
    parse_warning_list,
)

# -------------------------------------------------------------------- Call-ID


@pytest.mark.parametrize(
    "text",
    ["abc", "abc@def", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com", 'a<b>:\\"/[]?{}()@x'],
)
def test_call_id_ok(text: str) -> None:
    assert parse_call_id(text) == text


@pytest.mark.parametrize("text", ["", "a b", "a@b@c", "@b", "a@", "a;b", "a,b", "\u00e9"])
def test_call_id_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_call_id(text)


# ----------------------------------------------------------------------- CSeq


@pytest.mark.parametrize(
    ("text", "seq", "method"),
    [
        ("1 INVITE", 1, "INVITE"),
        ("0 ACK", 0, "ACK"),
        ("4294967295 INVITE", 2**32 - 1, "INVITE"),
        ("4294967295 FOO", 2**32 - 1, "FOO"),
        ("1   INVITE", 1, "INVITE"),
        ("1\tINVITE", 1, "INVITE"),
        ("0009 INVITE", 9, "INVITE"),
        ("1 invite", 1, "invite"),  # methods are case-sensitive and kept
        ("139122385 !interesting-Method0123456789_*+`.%indeed'~", 139122385,
         "!interesting-Method0123456789_*+`.%indeed'~"),
    ],
)  # fmt: skip
def test_cseq(text: str, seq: int, method: str) -> None:
    cseq = parse_cseq(text)
    assert cseq == CSeq(seq, method)
    assert (cseq.seq, cseq.method) == (seq, method)


@pytest.mark.parametrize(
    "text",
    [
        "4294967296 INVITE",
        "4294967296 FOO",
        "99999999999999999999 INVITE",
        "-1 INVITE",
        "INVITE",
        "1",
        "1 ",
        "1 INVITE extra",
        "1 IN VITE",
        "x INVITE",
        "1INVITE",
        "\u0661 INVITE",  # non-ASCII digit
        "\u00b2 INVITE",
        "",
    ],
)
def test_cseq_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_cseq(text)


def test_cseq_str() -> None:
    assert str(CSeq(1, "INVITE")) == "1 INVITE"
    assert MAX_SEQ == 2**32 - 1


# ---------------------------------------------------------------- Max-Forwards


@pytest.mark.parametrize(("text", "value"), [("70", 70), ("0", 0), ("255", 255), ("0068", 68)])
def test_max_forwards(text: str, value: int) -> None:
    assert parse_max_forwards(text) == value


@pytest.mark.parametrize("text", ["256", "-1", "", "x", "7 0", "\u0661", "\u00b2", "+1"])
def test_max_forwards_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_max_forwards(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("3600", 3600), ("4294967295", MAX_SEQ), ("4294967296", MAX_SEQ),
     ("280297596632815", MAX_SEQ)],
)  # fmt: skip
def test_delta_seconds_clamped(text: str, value: int) -> None:
    assert parse_delta_seconds(text) == value


@pytest.mark.parametrize("text", ["", "x", "-1", "1.5", "\u0661"])
def test_delta_seconds_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_delta_seconds(text)


# ------------------------------------------------------------------ RSeq/RAck


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("988789", 988789), ("4294967295", MAX_SEQ)])
def test_rseq(text: str, value: int) -> None:
    assert parse_rseq(text) == value


@pytest.mark.parametrize("text", ["0", "4294967296", "", "x", "-1", "\u00b2"])
def test_rseq_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_rseq(text)


def test_rack() -> None:
    rack = parse_rack("776656 1 INVITE")
    assert rack == RAck(776656, 1, "INVITE")
    assert (rack.rseq, rack.seq, rack.method) == (776656, 1, "INVITE")
    assert str(rack) == "776656 1 INVITE"
    assert parse_rack("1  2\tINVITE") == RAck(1, 2, "INVITE")
    assert parse_rack("4294967295 4294967295 PRACK") == RAck(MAX_SEQ, MAX_SEQ, "PRACK")


@pytest.mark.parametrize(
    "text",
    ["4294967296 1 INVITE", "1 4294967296 INVITE", "1 INVITE", "1 2", "1 2 INVITE x", "", "a 1 B"],
)
def test_rack_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_rack(text)


# ------------------------------------------------------------------ token lists


def test_token_list() -> None:
    assert parse_token_list("100rel, timer,path") == ["100rel", "timer", "path"]
    assert parse_token_list("") == []
    assert parse_token_list("x") == ["x"]


@pytest.mark.parametrize("text", ["100rel,,x", "a b", "a,", "\u00e9", '"x"'])
def test_token_list_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_token_list(text)


# ---------------------------------------------------------------------- Event


def test_event() -> None:
    event = parse_event("presence;id=123;Foo=Bar")
    assert event == Event("presence", {"id": "123", "foo": "Bar"})
    assert event.id == "123"
    assert str(event) == "presence;id=123;foo=Bar"
    assert parse_event("Presence").package == "Presence"  # package case kept
    assert parse_event("refer").id is None
    assert parse_event("presence ; id = 1").id == "1"
    assert parse_event('refer;id="a b"').id == '"a b"'
    assert parse_event("dialog.winfo").package == "dialog.winfo"


@pytest.mark.parametrize("text", ["", ";id=1", "presence junk", "presence;", "a/b"])
def test_event_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_event(text)


# --------------------------------------------------------- Subscription-State


def test_subscription_state() -> None:
    state = parse_subscription_state("Active;expires=3600")
    assert state == SubscriptionState("active", {"expires": "3600"})  # state lower-cased
    assert state.expires == 3600
    assert state.reason is None
    assert state.retry_after is None
    assert str(state) == "active;expires=3600"

    ended = parse_subscription_state("terminated;reason=timeout;retry-after=20")
    assert ended.state == "terminated"
    assert ended.reason == "timeout"
    assert ended.retry_after == 20
    assert ended.expires is None


@pytest.mark.parametrize(
    ("text", "expires"),
    [("active;expires=99999999999", MAX_SEQ), ("active;expires=x", None), ("pending", None)],
)
def test_subscription_state_expires(text: str, expires: int | None) -> None:
    assert parse_subscription_state(text).expires == expires


@pytest.mark.parametrize("text", ["", ";expires=1", "active junk", "active;"])
def test_subscription_state_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_subscription_state(text)


# ------------------------------------------------------------ Session-Expires


def test_session_expires() -> None:
    se = parse_session_expires("1800;refresher=UAC")
    assert se == SessionExpires(1800, {"refresher": "UAC"})
    assert se.refresher == "uac"
    assert str(se) == "1800;refresher=UAC"
    assert parse_session_expires("90").refresher is None
    assert parse_session_expires("1800 ;refresher=uas").refresher == "uas"
    assert parse_session_expires("99999999999").delta == MAX_SEQ


@pytest.mark.parametrize("text", ["", "abc", "1800x", "-1", ";refresher=uac", "1800;"])
def test_session_expires_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_session_expires(text)
    with pytest.raises(ParseError):
        parse_min_se(text)


def test_min_se_takes_generic_parameters() -> None:
    """RFC 4028 §5: ``Min-SE = delta-seconds *(SEMI generic-param)``."""
    assert parse_min_se("90") == 90
    assert parse_min_se("120;x=1;y") == 120
    assert parse_min_se("99999999999;x") == MAX_SEQ


# ---------------------------------------------------------------------- Reason


def test_reason_list() -> None:
    reasons = parse_reason_list(
        'SIP;cause=200;text="Call completed elsewhere", Q.850;cause=16;text="Terminated"'
    )
    assert reasons == [
        Reason("SIP", {"cause": "200", "text": '"Call completed elsewhere"'}),
        Reason("Q.850", {"cause": "16", "text": '"Terminated"'}),
    ]
    assert reasons[0].cause == 200
    assert reasons[0].text == "Call completed elsewhere"
    assert str(reasons[1]) == 'Q.850;cause=16;text="Terminated"'


def test_reason_details() -> None:
    assert parse_reason_list("SIP;cause=x")[0].cause is None
    assert parse_reason_list("SIP")[0].text is None
    assert parse_reason_list('SIP;text="a, b"') == [Reason("SIP", {"text": '"a, b"'})]
    assert parse_reason_list(r'SIP;text="say \"hi\""')[0].text == 'say "hi"'


@pytest.mark.parametrize("text", ["", "SIP,,Q.850", ";cause=1", "SIP cause=1", 'SIP;text="x'])
def test_reason_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_reason_list(text)


# --------------------------------------------------------------------- Warning


def test_warning() -> None:
    [warning] = parse_warning_list("301 isi.edu \"Incompatible network address type 'E.164'\"")
    assert warning == Warning(301, "isi.edu", "Incompatible network address type 'E.164'")
    assert str(warning) == "301 isi.edu \"Incompatible network address type 'E.164'\""


def test_warning_list_with_escapes_and_commas() -> None:
    warnings = parse_warning_list(r'301 isi.edu "a, b", 399 example.com:5060 "q\"x"')
    assert warnings == [Warning(301, "isi.edu", "a, b"), Warning(399, "example.com:5060", 'q"x')]
    assert str(warnings[1]) == r'399 example.com:5060 "q\"x"'


@pytest.mark.parametrize(
    "text",
    [
        '1812 overture.example.com "Unknown"',  # RFC 4475: code must be 3 digits
        '30 isi.edu "x"',
        '3011 isi.edu "x"',
        "301 isi.edu x",  # text must be quoted
        "301 isi.edu",
        '301 "x"',
        'abc isi.edu "x"',
        '301 isi.edu "unterminated',
        "",
    ],
)
def test_warning_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_warning_list(text)


# -------------------------------------------------------------------- Replaces


def test_replaces() -> None:
    rep = parse_replaces("12345@192.168.118.3;to-tag=12345;from-tag=54321;early-only")
    assert rep == Replaces(
        "12345@192.168.118.3", {"to-tag": "12345", "from-tag": "54321", "early-only": None}
    )
    assert rep.call_id == "12345@192.168.118.3"
    assert rep.to_tag == "12345"
    assert rep.from_tag == "54321"
    assert rep.early_only
    assert str(rep) == "12345@192.168.118.3;to-tag=12345;from-tag=54321;early-only"
    assert not parse_replaces("a;from-tag=1;TO-TAG=2").early_only
    assert parse_replaces("id ;to-tag=1;from-tag=2").call_id == "id"


@pytest.mark.parametrize(
    "text",
    [
        "12345@192.168.118.3;to-tag=12345",
        "12345@192.168.118.3;from-tag=12345",
        "12345@192.168.118.3",
        "bad id;to-tag=1;from-tag=2",
        ";to-tag=1;from-tag=2",
        "a;to-tag=1;from-tag=2;",
    ],
)
def test_replaces_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_replaces(text)


# --------------------------------------------------------------------- Privacy


@pytest.mark.parametrize(
    ("text", "values"),
    [("id", ["id"]), ("id;header", ["id", "header"]), ("id ; header", ["id", "header"]),
     ("none", ["none"])],
)  # fmt: skip
def test_privacy(text: str, values: list[str]) -> None:
    assert parse_privacy(text) == values


@pytest.mark.parametrize("text", ["", "id;", ";id", "id,header", "id;;header", "i d"])
def test_privacy_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_privacy(text)


# ------------------------------------------------------------------------ Date


def test_date() -> None:
    assert parse_date("Sat, 13 Nov 2010 23:29:00 GMT") == datetime(
        2010, 11, 13, 23, 29, 0, tzinfo=UTC
    )
    assert parse_date("Thu, 21 Feb 2002 13:02:03 GMT").tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "Fri, 01 Jan 2010 16:00:00 EST",  # RFC 4475 baddate
        "Sat, 13 Nov 2010 23:29:00 PST",
        "Sat, 13 Nov 2010 23:29:00 UTC",
        "Sat, 13 Nov 2010 23:29:00 +0000",
        "Sat, 13 Nov 2010 23:29:00",
        "Sat 13 Nov 2010 23:29:00 GMT",
        "Sat, 13 nov 2010 23:29:00 GMT",
        "Sat, 3 Nov 2010 23:29:00 GMT",
        "Sat, 30 Feb 2010 23:29:00 GMT",  # out of range
        "Sat, 13 Nov 2010 25:29:00 GMT",
        "Sat, 13 Nov 2010 23:60:00 GMT",
        "2010-11-13T23:29:00Z",
        "",
    ],
)
def test_date_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_date(text)


def test_date_weekday_is_not_checked() -> None:
    # Lenient (judgement call): 21 Feb 2002 was a Thursday, the wrong weekday is accepted.
    assert parse_date("Mon, 21 Feb 2002 13:02:03 GMT") == datetime(
        2002, 2, 21, 13, 2, 3, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "when",
    [
        datetime(2010, 11, 13, 23, 29, 0, tzinfo=UTC),
        datetime(2002, 2, 21, 13, 2, 3, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2000, 2, 29, 0, 0, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
)
def test_format_date_round_trip(when: datetime) -> None:
    text = format_date(when)
    assert text.endswith(" GMT")
    assert parse_date(text) == when
    assert format_date(parse_date(text)) == text


def test_format_date_examples() -> None:
    assert format_date(datetime(2010, 11, 13, 23, 29, 0, tzinfo=UTC)) == (
        "Sat, 13 Nov 2010 23:29:00 GMT"
    )
    # other time zones are converted to GMT
    est = timezone(timedelta(hours=-5))
    assert format_date(datetime(2010, 1, 1, 11, 0, 0, tzinfo=est)) == (
        "Fri, 01 Jan 2010 16:00:00 GMT"
    )


# ------------------------------------------------------------------ MediaType


def test_media_type() -> None:
    mt = parse_media_type("application/sdp")
    assert mt == MediaType("application", "sdp")
    assert mt.mime == "application/sdp"
    assert str(mt) == "application/sdp"


def test_media_type_params() -> None:
    mt = parse_media_type('multipart/mixed;Boundary="xx yy";charset=UTF-8')
    assert dict(mt.params) == {"boundary": '"xx yy"', "charset": "UTF-8"}
    assert mt.param("BOUNDARY") == "xx yy"  # unquoted
    assert mt.param("charset") == "UTF-8"
    assert mt.param("missing") is None
    assert str(mt) == 'multipart/mixed;boundary="xx yy";charset=UTF-8'


def test_media_type_case_and_lws() -> None:
    mt = parse_media_type("Application / SDP ; Charset = utf-8")
    assert (mt.type, mt.subtype) == ("Application", "SDP")  # kept as written
    assert mt.mime == "application/sdp"
    assert dict(mt.params) == {"charset": "utf-8"}
    assert parse_media_type("text/plain;x").params == {"x": None}


@pytest.mark.parametrize("text", ["", "text", "text/", "/plain", "text/plain junk", "text/plain;"])
def test_media_type_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_media_type(text)


def test_media_type_list() -> None:
    assert parse_media_type_list("application/sdp, text/plain;q=0.5") == [
        MediaType("application", "sdp"),
        MediaType("text", "plain", {"q": "0.5"}),
    ]
    assert parse_media_type_list("") == []
    with pytest.raises(ParseError):
        parse_media_type_list("application/sdp,,text/plain")


def test_numbers_of_thousands_of_digits_are_capped_or_refused_never_a_value_error() -> None:
    from sansip.message.fields import parse_cseq, parse_rack, parse_session_expires

    huge = "9" * 5000  # more digits than int() reads
    assert parse_session_expires(huge).delta == 2**32 - 1
    for parse, value in ((parse_cseq, f"{huge} INVITE"), (parse_rack, f"{huge} 1 INVITE")):
        with pytest.raises(ParseError):
            parse(value)
    assert parse_cseq("0" * 5000 + "7 INVITE").seq == 7  # leading zeros are just zeros
