"""Session timers (RFC 4028): the header values, both sides of the
negotiation (422 and its retry, the refresher choice, a peer without
timers) and the running timer on a virtual clock, with Hypothesis
properties for the parsers and the negotiation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.dialog.session_timer import (
    MIN_SE,
    Action,
    Agreement,
    Refresher,
    SessionExpiry,
    SessionTimer,
    SessionTimerRequest,
    answer_session_timer,
    expire_delay,
    min_se_of,
    parse_min_se,
    parse_session_expires,
    refresh_method,
    session_expires_of,
    timer_required,
    timer_supported,
)
from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.message import ParseError, Request, Response, make_response, parse
from sansip.testing import VirtualClock
from tests.conftest import examples

ROUND_TRIP = settings(max_examples=examples(100), deadline=None)
FUZZ = settings(max_examples=examples(300), deadline=None)


def invite(*lines: str, method: str = "INVITE") -> Request:
    text = "\r\n".join(
        [
            f"{method} sip:bob@127.0.0.2 SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKst1",
            "From: <sip:alice@127.0.0.1>;tag=a1",
            "To: <sip:bob@127.0.0.2>",
            "Call-ID: st-1@127.0.0.1",
            f"CSeq: 1 {method}",
            "Max-Forwards: 70",
            *lines,
            "Content-Length: 0",
            "",
            "",
        ]
    )
    msg = parse(text.encode())
    assert isinstance(msg, Request)
    return msg


def with_headers(
    request: Request, fields: list[tuple[str, str]] | tuple[tuple[str, str], ...]
) -> Request:
    for name, value in fields:
        request.headers.add(name, value)
    return request


def reply(request: Request, status: int, *lines: str) -> Response:
    """The response bytes a peer would send, parsed back."""
    headers = [tuple(line.split(": ", 1)) for line in lines]
    response = make_response(request, status, to_tag="b1", headers=headers)  # type: ignore[arg-type]
    msg = parse(bytes(response))
    assert isinstance(msg, Response)
    return msg


# -- header values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1800", SessionExpiry(1800)),
        ("1800;refresher=uac", SessionExpiry(1800, "uac")),
        ("90 ; refresher = UAS", SessionExpiry(90, "uas")),
        ("4000;foo=bar;refresher=uas;baz", SessionExpiry(4000, "uas")),
        ('1800;x="a;b\\"c";refresher=uac', SessionExpiry(1800, "uac")),
        ("1800;refresher=uac;refresher=uas", SessionExpiry(1800, "uac")),  # the first wins
        ("0001800 ", SessionExpiry(1800)),
        ("0", SessionExpiry(0)),
        ("99999999999999999999999", SessionExpiry(2**32 - 1)),  # clamped
        ("00000000000000000000090", SessionExpiry(90)),
    ],
)
def test_session_expires_values(text: str, expected: SessionExpiry) -> None:
    assert parse_session_expires(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", " ", "abc", "-1", "+90", "1.5", "1800,900", "1800 uac", "1800;", "1800;refresher",
     "1800;refresher=", "1800;refresher=both", "1800;refresher=\"uac\"", "1800;=uac",
     "refresher=uac", "\uff11\uff18\uff10\uff10", "1800\r\n", "1800;x=\"open"],
)  # fmt: skip
def test_bad_session_expires_is_a_400(text: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_session_expires(text)
    assert isinstance(caught.value, RemoteProtocolError)
    assert caught.value.status == 400


@pytest.mark.parametrize(("text", "expected"), [("90", 90), ("1800;x=y", 1800), ("0120 ", 120)])
def test_min_se_values(text: str, expected: int) -> None:
    assert parse_min_se(text) == expected


@pytest.mark.parametrize("text", ["", "x", "90;", "90 s", "-90", "90,120", "9e2"])
def test_bad_min_se_is_a_400(text: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_min_se(text)
    assert caught.value.status == 400


def test_formatting() -> None:
    assert str(SessionExpiry(1800)) == "1800"
    assert str(SessionExpiry(1800, "uac")) == "1800;refresher=uac"
    assert str(SessionExpiry(90, "uas")) == "90;refresher=uas"
    for bad in ((-1, None), (2**32, None), (90, "both")):
        with pytest.raises(LocalProtocolError):
            SessionExpiry(*bad)


def test_reading_messages_with_compact_forms() -> None:
    request = invite(
        "x: 1800;refresher=uas", "k: 100rel, Timer", "Min-SE: 120", "Allow: INVITE, update"
    )
    assert session_expires_of(request) == SessionExpiry(1800, "uas")
    assert min_se_of(request) == 120
    assert timer_supported(request) and not timer_required(request)
    assert refresh_method(request) == "UPDATE"
    bare = invite("Allow: INVITE, BYE")
    assert session_expires_of(bare) is None and min_se_of(bare) is None
    assert not timer_supported(bare) and refresh_method(bare) == "INVITE"
    required = invite("Require: timer")
    assert timer_required(required) and timer_supported(required)
    with pytest.raises(ParseError):
        session_expires_of(invite("Session-Expires: soon"))


# -- the UAC side ----------------------------------------------------------------


def test_request_headers() -> None:
    assert SessionTimerRequest().headers() == [
        ("Supported", "timer"), ("Session-Expires", "1800"), ("Min-SE", "90"),
    ]  # fmt: skip
    offer = SessionTimerRequest(600, 300, refresher="uac")
    assert offer.headers() == [
        ("Supported", "timer"), ("Session-Expires", "600;refresher=uac"), ("Min-SE", "300"),
    ]  # fmt: skip
    with pytest.raises(LocalProtocolError):
        SessionTimerRequest(120, 300)  # below our own Min-SE (§7.1)
    with pytest.raises(LocalProtocolError):
        SessionTimerRequest(1800, 60)  # Min-SE is at least 90 s


@pytest.mark.parametrize(
    ("offer", "min_se", "result", "headers"),
    [
        # The 422's Min-SE becomes the interval and the Min-SE of the retry.
        ((1800, 90), "3600", 3600, ("3600", "3600")),
        # A Min-SE below our interval: keep the interval, carry the Min-SE.
        ((1800, 90), "600", 1800, ("1800", "600")),
        # Beyond the cap, without a Min-SE, or with a malformed one: give up.
        ((1800, 90), "7201", None, ("1800", "90")),
        ((1800, 90), None, None, ("1800", "90")),
        ((1800, 90), "soon", None, ("1800", "90")),
    ],
)
def test_422_then_retry(
    offer: tuple[int, int], min_se: str | None, result: int | None, headers: tuple[str, str]
) -> None:
    request = SessionTimerRequest(*offer)
    lines = [] if min_se is None else [f"Min-SE: {min_se}"]
    assert request.on_422(reply(invite(), 422, *lines)) == result
    assert dict(request.headers())["Session-Expires"] == headers[0]
    assert dict(request.headers())["Min-SE"] == headers[1]


def test_only_one_422_is_retried() -> None:
    offer = SessionTimerRequest()
    assert offer.on_422(reply(invite(), 422, "Min-SE: 2000")) == 2000
    assert offer.on_422(reply(invite(), 422, "Min-SE: 2400")) is None
    assert offer.interval == 2000
    two = SessionTimerRequest(max_retries=2)
    assert two.on_422(reply(invite(), 422, "Min-SE: 2000")) == 2000
    assert two.on_422(reply(invite(), 422, "Min-SE: 2400")) == 2400
    with pytest.raises(LocalProtocolError):
        offer.on_422(reply(invite(), 200))


@pytest.mark.parametrize(
    ("lines", "refresh_alone", "expected"),
    [
        (
            ["Require: timer", "Session-Expires: 1800;refresher=uac"],
            True,
            Agreement(1800, "uac", True, 120),
        ),
        (["Require: timer", "x: 900;refresher=uas"], True, Agreement(900, "uas", True, 120)),
        # A refresher left out (the UAS MUST set it): we refresh to be safe.
        (["Require: timer", "Session-Expires: 1200"], True, Agreement(1200, "uac", True, 120)),
        # Below the Min-SE we sent: raised to it.
        (
            ["Require: timer", "Session-Expires: 60;refresher=uas"],
            True,
            Agreement(120, "uas", True, 120),
        ),
        # A peer without session timers (§7.2): we may refresh alone, at our interval.
        ([], True, Agreement(1800, "uac", True, 120)),
        ([], False, None),
        (["Supported: timer"], True, Agreement(1800, "uac", True, 120)),
        # Require: timer without Session-Expires: no timer.
        (["Require: timer"], True, None),
    ],
)
def test_2xx_table(lines: list[str], refresh_alone: bool, expected: Agreement | None) -> None:
    offer = SessionTimerRequest(1800, 120, refresh_alone=refresh_alone)
    request = with_headers(invite(), offer.headers())
    assert offer.on_2xx(reply(request, 200, *lines)) == expected


def test_2xx_with_a_malformed_session_expires_raises() -> None:
    offer = SessionTimerRequest()
    with pytest.raises(ParseError):
        offer.on_2xx(reply(invite(), 200, "Session-Expires: 1800;refresher=me"))
    with pytest.raises(LocalProtocolError):
        offer.on_2xx(reply(invite(), 486))


def test_agreement_roles() -> None:
    assert Agreement(1800, "uac", True).we_refresh
    assert not Agreement(1800, "uac", False).we_refresh
    assert Agreement(1800, "uas", False).we_refresh
    assert not Agreement(1800, "uas", True).we_refresh


# -- the UAS side ----------------------------------------------------------------

TIMER = "Supported: timer"
REQUIRE = ("Require", "timer")


def se(value: str) -> tuple[str, str]:
    return ("Session-Expires", value)


@pytest.mark.parametrize(
    ("lines", "options", "headers", "agreement"),
    [
        # The UAC left the refresher open: it refreshes by default, or we do.
        ([TIMER, "Session-Expires: 1800"], {}, (REQUIRE, se("1800;refresher=uac")),
         (1800, "uac", 90)),
        ([TIMER, "Session-Expires: 1800"], {"refresher": "uas"},
         (REQUIRE, se("1800;refresher=uas")), (1800, "uas", 90)),
        # An explicit choice of the UAC is kept.
        ([TIMER, "x: 1800;refresher=uas"], {"refresher": "uac"},
         (REQUIRE, se("1800;refresher=uas")), (1800, "uas", 90)),
        # Lowered to our wish, never below the request's Min-SE.
        ([TIMER, "Session-Expires: 3600"], {"interval": 1800},
         (REQUIRE, se("1800;refresher=uac")), (1800, "uac", 90)),
        ([TIMER, "Session-Expires: 3600", "Min-SE: 2400"], {"interval": 1800},
         (REQUIRE, se("2400;refresher=uac")), (2400, "uac", 2400)),
        ([TIMER, "Session-Expires: 600"], {"interval": 1800, "min_se": 300},
         (REQUIRE, se("600;refresher=uac")), (600, "uac", 300)),
        # Supported but not asked: we may ask for one ourselves.
        ([TIMER], {}, (REQUIRE, se("1800;refresher=uac")), (1800, "uac", 90)),
        ([TIMER, "Min-SE: 2000"], {}, (REQUIRE, se("2000;refresher=uac")), (2000, "uac", 2000)),
        ([TIMER], {"interval": None}, (), None),
        # A UAC without timers: we refresh, and Require would break the call.
        (["Session-Expires: 1800;refresher=uac"], {}, (se("1800;refresher=uas"),),
         (1800, "uas", 90)),
        ([], {}, (se("1800;refresher=uas"),), (1800, "uas", 90)),
        ([], {"interval": None}, (), None),
        # Too small from a UAC without timers (a proxy's): raised, not refused.
        (["Session-Expires: 60"], {"min_se": 300}, (se("300;refresher=uas"),), (300, "uas", 300)),
    ],
)  # fmt: skip
def test_uas_table(
    lines: list[str],
    options: dict[str, object],
    headers: tuple[tuple[str, str], ...],
    agreement: tuple[int, Refresher, int] | None,
) -> None:
    answer = answer_session_timer(invite(*lines), **options)  # type: ignore[arg-type]
    assert answer.status == 200
    assert answer.headers == headers
    expected = None if agreement is None else Agreement(*agreement[:2], False, agreement[2])
    assert answer.agreement == expected


@pytest.mark.parametrize(
    ("lines", "min_se", "wanted"),
    [
        ([TIMER, "Session-Expires: 60"], MIN_SE, "90"),
        ([TIMER, "Session-Expires: 200;refresher=uac"], 300, "300"),
        (["Require: timer", "Session-Expires: 0"], MIN_SE, "90"),
    ],
)
def test_uas_refuses_a_small_interval_with_422(lines: list[str], min_se: int, wanted: str) -> None:
    answer = answer_session_timer(invite(*lines), min_se=min_se)
    assert answer.status == 422
    assert answer.headers == (("Min-SE", wanted),)
    assert answer.agreement is None


@pytest.mark.parametrize("line", ["Session-Expires: never", "Min-SE: 90;", "x: 90;refresher=who"])
def test_uas_malformed_values_are_a_400(line: str) -> None:
    with pytest.raises(ParseError) as caught:
        answer_session_timer(invite(TIMER, line))
    assert caught.value.status == 400


def test_uas_rejects_a_min_se_below_90() -> None:
    with pytest.raises(LocalProtocolError):
        answer_session_timer(invite(), min_se=30)


def test_422_then_retry_end_to_end() -> None:
    """Alice asks for 120 s, Bob wants at least 600: 422, retry, 2xx."""
    offer = SessionTimerRequest(120, 90)
    first = with_headers(invite(), offer.headers())
    answer = answer_session_timer(first, min_se=600)
    assert answer.status == 422
    assert offer.on_422(reply(first, 422, *(f"{n}: {v}" for n, v in answer.headers))) == 600
    retry = with_headers(invite(), offer.headers())
    assert retry.headers.get("Session-Expires") == "600" and retry.headers.get("Min-SE") == "600"
    answer = answer_session_timer(retry, min_se=600, refresher="uas")
    assert answer.status == 200 and answer.agreement is not None
    ok = reply(retry, 200, "Allow: INVITE, ACK, BYE, UPDATE",
               *(f"{n}: {v}" for n, v in answer.headers))  # fmt: skip
    mine = offer.on_2xx(ok)
    assert mine == Agreement(600, "uas", True, 600)
    assert answer.agreement.we_refresh and not mine.we_refresh
    timer = mine.start(0.0, method=refresh_method(ok))
    assert timer.method == "UPDATE" and timer.get_timer() == expire_delay(600) == 568.0


# -- the running timer -----------------------------------------------------------


def run(timer: SessionTimer, clock: VirtualClock, until: float) -> list[tuple[float, Action]]:
    """Fire the timer at each of its deadlines up to ``until``."""
    fired: list[tuple[float, Action]] = []
    while (at := timer.get_timer()) is not None and at <= until:
        clock.advance_to(max(at, clock.now))
        assert timer.due(clock.now)
        action = timer.handle_timer(clock.now)
        assert action is not None
        fired.append((clock.now, action))
    clock.advance_to(max(until, clock.now))
    assert timer.handle_timer(clock.now) is None
    return fired


def test_expire_delay() -> None:
    assert expire_delay(1800) == 1768.0
    assert expire_delay(90) == 60.0
    assert expire_delay(96) == 64.0


def test_refresh_at_half_the_interval() -> None:
    clock = VirtualClock()
    timer = SessionTimer(1800, "uac", True, clock.now, method="UPDATE")
    assert timer.we_refresh and timer.expires_at == 1800
    assert not timer.due(899.9) and timer.handle_timer(899.9) is None
    assert run(timer, clock, 900.0) == [(900.0, "refresh")]
    headers = timer.request().headers()
    assert ("Session-Expires", "1800;refresher=uac") in headers and ("Min-SE", "90") in headers
    timer.refreshed(901.0, 1800, "uac", True)  # the 2xx of the UPDATE
    assert run(timer, clock, 2000.0) == [(1801.0, "refresh")]


def test_expiry_when_refreshes_stop() -> None:
    """We refresh but no answer ever comes: BYE slightly before the expiry."""
    clock = VirtualClock()
    timer = SessionTimer(1800, "uas", False, clock.now)
    assert run(timer, clock, 4000.0) == [(900.0, "refresh"), (1768.0, "expire")]
    assert timer.expired and timer.get_timer() is None and not timer.due(5000.0)


def test_peer_refreshes_and_then_stops() -> None:
    clock = VirtualClock()
    timer = SessionTimer(1800, "uas", True, clock.now)  # the callee refreshes
    assert not timer.we_refresh and timer.get_timer() == 1768.0
    clock.advance_to(800.0)
    # The callee's UPDATE: it is the UAC of that transaction.
    update = invite(TIMER, "Session-Expires: 1800;refresher=uac", method="UPDATE")
    answer = answer_session_timer(update, refresher="uas")
    assert answer.agreement == Agreement(1800, "uac", False, 90)
    timer.refreshed(clock.now, answer.agreement.interval, answer.agreement.refresher, False)
    assert not timer.we_refresh and timer.get_timer() == 800.0 + 1768.0
    assert run(timer, clock, 5000.0) == [(2568.0, "expire")]


def test_a_refresh_can_hand_over_the_refreshing() -> None:
    timer = SessionTimer(1800, "uac", True, 0.0)
    timer.refreshed(100.0, 600, "uac", False)  # the peer's re-INVITE: it refreshes now
    assert timer.get_timer() == 100.0 + expire_delay(600)  # no refresh of ours
    assert dict(timer.request().headers())["Session-Expires"] == "600;refresher=uas"
    timer.refreshed(200.0, 600, "uas", False)  # and back to us
    assert timer.we_refresh and timer.get_timer() == 500.0


def test_491_retries_later() -> None:
    clock = VirtualClock()
    timer = SessionTimer(1800, "uac", True, clock.now)
    assert run(timer, clock, 900.0) == [(900.0, "refresh")]
    assert timer.refresh_failed(900.2, 491, retry_in=2.5) is None
    assert run(timer, clock, 903.0) == [(902.7, "refresh")]
    timer.refreshed(903.5, 1800, "uac", True)
    assert timer.get_timer() == 1803.5


@pytest.mark.parametrize("status", [408, 481])
def test_408_and_481_end_the_session(status: int) -> None:
    timer = SessionTimer(1800, "uac", True, 0.0)
    assert timer.handle_timer(900.0) == "refresh"
    assert timer.refresh_failed(932.0, status) == "expire"
    assert timer.expired and timer.get_timer() is None
    assert timer.refresh_failed(933.0, status) is None  # already over


@pytest.mark.parametrize("status", [500, 503, 488, 422, 403])
def test_other_failures_keep_the_old_timer_until_expiry(status: int) -> None:
    clock = VirtualClock()
    timer = SessionTimer(1800, "uac", True, clock.now)
    assert run(timer, clock, 900.0) == [(900.0, "refresh")]
    assert timer.refresh_failed(901.0, status) is None
    assert run(timer, clock, 4000.0) == [(1768.0, "expire")]


def test_491_does_not_make_a_non_refresher_refresh() -> None:
    timer = SessionTimer(1800, "uas", True, 0.0)
    assert timer.refresh_failed(10.0, 491) is None
    assert timer.get_timer() == 1768.0


def test_timer_argument_checks() -> None:
    with pytest.raises(LocalProtocolError):
        SessionTimer(1800, "uac", True, 0.0, method="BYE")
    with pytest.raises(LocalProtocolError):
        SessionTimer(0, "uac", True, 0.0)
    with pytest.raises(LocalProtocolError):
        SessionTimer(1800, "both", True, 0.0)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        SessionTimer(1800, "uac", True, 0.0, min_se=10)


def test_timer_request_uses_the_dialog_min_se() -> None:
    timer = Agreement(600, "uas", False, 900).start(0.0)
    offer = timer.request()
    assert offer.headers() == [
        ("Supported", "timer"), ("Session-Expires", "900;refresher=uac"), ("Min-SE", "900"),
    ]  # fmt: skip
    # Min-SE only grows within the dialog (§7.4).
    timer.refreshed(300.0, 1200, "uac", True, min_se=600)
    assert timer.min_se == 900
    timer.refreshed(600.0, 1200, "uac", True, min_se=1000)
    assert dict(timer.request().headers())["Min-SE"] == "1000"


# -- properties ----------------------------------------------------------------

refreshers = st.sampled_from([None, "uac", "uas"])
deltas = st.integers(0, 2**32 - 1)
blanks = st.sampled_from(["", " ", "\t", " \t "])
tokens = st.text("abcxyzABC019-.!%*_+`'~", min_size=1, max_size=8).filter(
    lambda t: t.lower() != "refresher"
)
generic_params = st.lists(
    st.tuples(tokens, st.one_of(st.none(), tokens, st.just('"q;u,o\\"te"'))), max_size=3
)


def _params(params: list[tuple[str, str | None]], blank: str) -> str:
    return "".join(f"{blank};{blank}{n}" + ("" if v is None else f"={v}") for n, v in params)


@ROUND_TRIP
@given(deltas, refreshers)
def test_session_expires_round_trip(interval: int, refresher: Refresher | None) -> None:
    value = SessionExpiry(interval, refresher)
    assert parse_session_expires(str(value)) == value


@ROUND_TRIP
@given(
    interval=deltas,
    refresher=refreshers,
    before=generic_params,
    after=generic_params,
    blank=blanks,
    upper=st.booleans(),
)
def test_session_expires_as_written_in_the_wild(
    *,
    interval: int,
    refresher: Refresher | None,
    before: list[tuple[str, str | None]],
    after: list[tuple[str, str | None]],
    blank: str,
    upper: bool,
) -> None:
    text = f"{interval}{_params(before, blank)}"
    if refresher is not None:
        written = refresher.upper() if upper else refresher
        text += f"{blank};{blank}refresher{blank}={blank}{written}"
    text += _params(after, blank) + blank
    assert parse_session_expires(text) == SessionExpiry(interval, refresher)


@ROUND_TRIP
@given(deltas, generic_params, blanks)
def test_min_se_round_trip(value: int, params: list[tuple[str, str | None]], blank: str) -> None:
    assert parse_min_se(str(value)) == value
    assert parse_min_se(f"{value}{_params(params, blank)}") == value


SIP_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet='0123456789 \t;=,"\\uacsrefh\r\n\x00\xe9\u0661', max_size=40),
    st.builds(lambda d, rest: f"{d}{rest}", deltas, st.text(alphabet=';= "\\uacsr\t', max_size=30)),
)


@FUZZ
@given(SIP_TEXT)
def test_arbitrary_text_raises_only_parse_errors(text: str) -> None:
    for parser in (parse_session_expires, parse_min_se):
        try:
            parser(text)
        except ParseError as exc:
            assert exc.status == 400


@FUZZ
@given(SIP_TEXT)
def test_arbitrary_fields_raise_only_parse_errors(text: str) -> None:
    """The same through whole requests: the UAS answer, and a 2xx to the UAC."""
    text = text.replace("\r", " ").replace("\n", " ")  # a field value has neither
    request = invite()
    request.headers.add("Session-Expires", text)
    request.headers.add("Min-SE", text)
    try:
        answer_session_timer(request)
    except ParseError as exc:
        assert exc.status == 400
    try:
        SessionTimerRequest().on_2xx(reply(invite(), 200, f"Session-Expires: {text}"))
    except ParseError as exc:
        assert exc.status == 400


@settings(max_examples=examples(200), deadline=None)
@given(
    extra=st.integers(0, 4000),  # the UAC's interval above its Min-SE
    uac_min=st.integers(MIN_SE, 2000),
    uac_refresher=refreshers,
    uas_min=st.integers(MIN_SE, 3000),
    uas_interval=st.one_of(st.none(), st.integers(MIN_SE, 4000)),
    uas_refresher=refreshers,
    uas_supports=st.booleans(),
)
def test_negotiation_agrees(
    *,
    extra: int,
    uac_min: int,
    uac_refresher: Refresher | None,
    uas_min: int,
    uas_interval: int | None,
    uas_refresher: Refresher | None,
    uas_supports: bool,
) -> None:
    """Both sides settle on one interval, at least both minimums, with
    exactly one refresher; at most one 422 is needed."""
    offer = SessionTimerRequest(uac_min + extra, uac_min, refresher=uac_refresher)
    for _ in range(2):
        request = with_headers(invite(), offer.headers())
        answer = answer_session_timer(
            request, min_se=uas_min, interval=uas_interval, refresher=uas_refresher
        )
        if answer.status != 422:
            break
        assert offer.on_422(reply(request, 422, f"Min-SE: {answer.headers[0][1]}")) is not None
    assert answer.status == 200 and answer.agreement is not None
    theirs = answer.agreement
    lines = [f"{n}: {v}" for n, v in answer.headers] if uas_supports else []
    ours = offer.on_2xx(reply(request, 200, *lines))
    assert ours is not None
    if uas_supports:
        assert ours.interval == theirs.interval >= max(uac_min, uas_min, offer.min_se)
        assert ours.we_refresh != theirs.we_refresh
        if uac_refresher is not None:
            assert ours.refresher == uac_refresher
    else:  # the peer knows nothing of it: we refresh alone (§7.2)
        assert ours.we_refresh and ours.interval == offer.interval
