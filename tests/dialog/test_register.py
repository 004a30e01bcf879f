"""The REGISTER client: flows with responses parsed from bytes, exact timers,
digest answers checked against an independent RFC 7616 computation, and a
Hypothesis property over random responses and timer firings.

Nothing is sent anywhere: the client hands requests out, the tests answer.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.dialog.register import (
    AUTH_FAILED,
    MAX_ROUNDS,
    RegisterClient,
    Registered,
    RegisterEvent,
    RegistrationFailed,
    RegistrationState,
    RegistrationStateChanged,
    Unregistered,
    refresh_delay,
)
from sansip.errors import LocalProtocolError
from sansip.message import Credentials, NameAddr, ParseError, Request, Response, SipURI, parse
from sansip.message.reasons import reason_phrase
from tests.conftest import examples

S = RegistrationState
AOR = SipURI.parse("sip:alice@example.com")
REGISTRAR = SipURI.parse("sip:example.com")
CONTACT = NameAddr.parse("<sip:alice@127.0.0.1:5060>")
CALL_ID = "reg-1234@127.0.0.1"
UUID = "00000000-0000-1000-8000-00aabbccddee"


def client(seed: int = 1, **overrides: Any) -> RegisterClient:
    options: dict[str, Any] = {
        "call_id": CALL_ID,
        "from_tag": "ftag1",
        "rng": random.Random(seed),
        "username": "alice",
        "password": "secret",
        "user_agent": "sansip-test",
        "now": 0.0,
    }
    options.update(overrides)
    return RegisterClient(AOR, REGISTRAR, CONTACT, **options)


def reply(req: Request, status: int, *lines: str, cseq: int | None = None) -> Response:
    """The response a registrar at 127.0.0.1 would send to ``req``."""
    seq = req.cseq.seq if cseq is None else cseq
    text = "\r\n".join(
        [
            f"SIP/2.0 {status} {reason_phrase(status)}",
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtest",
            f"From: {req.headers.get('From')}",
            f"To: {req.headers.get('To')};tag=srv1",
            f"Call-ID: {req.call_id}",
            f"CSeq: {seq} REGISTER",
            *lines,
            "Content-Length: 0",
            "",
            "",
        ]
    )
    msg = parse(text.encode())
    assert isinstance(msg, Response)
    return msg


def events(c: RegisterClient) -> list[RegisterEvent]:
    out = []
    while (event := c.next_event()) is not None:
        out.append(event)
    return out


def one(c: RegisterClient) -> Request:
    requests = c.requests_to_send()
    assert len(requests) == 1, requests
    return requests[0]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def credentials(req: Request, header: str = "Authorization") -> Credentials:
    value = req.headers.get(header)
    assert value is not None, f"no {header}"
    return Credentials.parse(value)


def expected_md5_response(creds: Credentials, *, realm: str, nonce: str, nc: str) -> str:
    """RFC 7616 §3.4.1 with qop=auth, computed without sansip."""
    assert creds.cnonce is not None
    ha1 = md5(f"alice:{realm}:secret")
    ha2 = md5("REGISTER:sip:example.com")
    return md5(f"{ha1}:{nonce}:{nc}:{creds.cnonce}:auth:{ha2}")


CHALLENGE = 'WWW-Authenticate: Digest realm="example.com", nonce="abc123", qop="auth"'
OUR_CONTACT = "Contact: <sip:alice@127.0.0.1:5060>"


def registered(c: RegisterClient, now: float = 0.0, expires: int = 3600) -> Request:
    """Register ``c`` with a plain 200; return the request."""
    c.register(now)
    req = one(c)
    c.receive_response(reply(req, 200, f"{OUR_CONTACT};expires={expires}"), now)
    events(c)
    return req


def test_plain_200() -> None:
    c = client()
    assert c.state.value == "unregistered"  # the state strings of the phone API
    assert c.get_timer() is None and not c.requests_to_send()
    c.register(10.0)
    req = one(c)
    assert (req.method, str(req.uri)) == ("REGISTER", "sip:example.com")
    assert req.from_.tag == "ftag1" and str(req.from_.uri) == "sip:alice@example.com"
    assert str(req.to.uri) == "sip:alice@example.com" and req.to.tag is None
    assert (req.call_id, req.cseq.seq, req.cseq.method) == (CALL_ID, 1, "REGISTER")
    assert req.contact is not None and req.contact.expires == 3600
    assert req.expires == 3600 and req.max_forwards == 70
    assert req.headers.get("User-Agent") == "sansip-test"
    assert "Via" not in req.headers and "Authorization" not in req.headers
    assert events(c) == [RegistrationStateChanged(c, S.UNREGISTERED, S.REGISTERING)]
    ok = reply(req, 200, f"{OUR_CONTACT};expires=3600")
    c.receive_response(ok, 10.5)
    got = events(c)
    assert got[0] == RegistrationStateChanged(c, S.REGISTERING, S.REGISTERED)
    assert isinstance(got[1], Registered) and got[1].expires == 3600 and got[1].response is ok
    assert [str(a.uri) for a in got[1].contacts] == ["sip:alice@127.0.0.1:5060"]
    assert len(got) == 2
    assert c.state is S.REGISTERED and c.expires_at == 3610.5
    assert c.get_timer() == 10.5 + 3240
    assert not c.requests_to_send()


def test_provisional_and_stray_responses_are_ignored() -> None:
    c = client()
    c.register(0.0)
    req = one(c)
    events(c)
    c.receive_response(reply(req, 100), 0.1)
    c.receive_response(reply(req, 200, cseq=7), 0.2)
    other = parse(reply(req, 200).encode().replace(CALL_ID.encode(), b"other@127.0.0.1"))
    assert isinstance(other, Response)
    c.receive_response(other, 0.3)
    c.receive_response(Response(200), 0.4)  # no CSeq at all
    assert c.state is S.REGISTERING and not events(c) and not c.requests_to_send()


def test_401_is_answered_with_the_rfc7616_md5_response() -> None:
    c = client()
    c.register(0.0)
    first = one(c)
    c.receive_response(reply(first, 401, CHALLENGE), 0.1)
    second = one(c)
    assert second.call_id == CALL_ID and second.cseq.seq == 2
    creds = credentials(second)
    assert (creds.username, creds.realm, creds.nonce, creds.uri) == (
        "alice",
        "example.com",
        "abc123",
        "sip:example.com",
    )
    assert (creds.qop, creds.nc) == ("auth", "00000001")
    assert creds.response == expected_md5_response(
        creds, realm="example.com", nonce="abc123", nc="00000001"
    )
    assert events(c) == [RegistrationStateChanged(c, S.UNREGISTERED, S.REGISTERING)]
    c.receive_response(reply(second, 200, f"{OUR_CONTACT};expires=600"), 0.2)
    assert c.state is S.REGISTERED
    # The refresh answers the cached challenge pre-emptively, with nc 2.
    c.handle_timer(c.get_timer() or 0.0)
    refresh = one(c)
    again = credentials(refresh)
    assert refresh.cseq.seq == 3 and again.nc == "00000002" and again.cnonce != creds.cnonce
    assert again.response == expected_md5_response(
        again, realm="example.com", nonce="abc123", nc="00000002"
    )


def test_407_is_answered_with_proxy_authorization() -> None:
    c = client()
    c.register(0.0)
    first = one(c)
    challenge = 'Proxy-Authenticate: Digest realm="proxy.example.com", nonce="p1", qop="auth"'
    c.receive_response(reply(first, 407, challenge), 0.1)
    second = one(c)
    assert "Authorization" not in second.headers
    creds = credentials(second, "Proxy-Authorization")
    assert creds.response == expected_md5_response(
        creds, realm="proxy.example.com", nonce="p1", nc="00000001"
    )
    c.receive_response(reply(second, 200, f"{OUR_CONTACT};expires=60"), 0.2)
    assert c.state is S.REGISTERED


def test_stale_nonce_is_answered_again_without_failing() -> None:
    c = client()
    c.register(0.0)
    c.receive_response(reply(one(c), 401, CHALLENGE), 0.1)
    second = one(c)
    stale = 'WWW-Authenticate: Digest realm="example.com", nonce="fresh", qop="auth", stale=true'
    c.receive_response(reply(second, 401, stale), 0.2)
    third = one(c)
    creds = credentials(third)
    assert (creds.nonce, creds.nc, third.cseq.seq) == ("fresh", "00000001", 3)
    assert creds.response == expected_md5_response(
        creds, realm="example.com", nonce="fresh", nc="00000001"
    )
    c.receive_response(reply(third, 200, f"{OUR_CONTACT};expires=60"), 0.3)
    got = events(c)
    assert not any(isinstance(e, RegistrationFailed) for e in got)
    assert c.state is S.REGISTERED


def test_wrong_password_fails_without_retry() -> None:
    c = client(password="wrong")
    c.register(0.0)
    c.receive_response(reply(one(c), 401, CHALLENGE), 0.1)
    second = one(c)
    again = 'WWW-Authenticate: Digest realm="example.com", nonce="other", qop="auth"'
    c.receive_response(reply(second, 401, again), 0.2)
    assert not c.requests_to_send()
    assert events(c)[-2:] == [
        RegistrationStateChanged(c, S.REGISTERING, S.FAILED),
        RegistrationFailed(c, 401, AUTH_FAILED, None),
    ]
    assert c.state is S.FAILED and c.get_timer() is None


@pytest.mark.parametrize(
    ("username", "header", "reason"),
    [
        (None, CHALLENGE, "no credentials"),
        ("alice", 'WWW-Authenticate: Digest realm="example.com, nonce=x', "malformed challenge"),
        ("alice", 'WWW-Authenticate: Basic realm="example.com"', "no supported challenge"),
        ("alice", 'WWW-Authenticate: Digest realm="x", nonce="n", algorithm=X', "no supported"),
    ],
)
def test_unanswerable_challenges_fail_clearly(
    username: str | None, header: str, reason: str
) -> None:
    c = client(username=username)
    c.register(0.0)
    c.receive_response(reply(one(c), 401, header), 0.1)
    failed = events(c)[-1]
    assert isinstance(failed, RegistrationFailed)
    assert failed.status == 401 and reason in failed.reason and failed.retry_at is None
    assert not c.requests_to_send()


def test_challenge_loop_is_bounded() -> None:
    c = client()
    c.register(0.0)
    for round_ in range(MAX_ROUNDS + 1):
        nonce = f"n{round_}"
        header = f'WWW-Authenticate: Digest realm="example.com", nonce="{nonce}", stale=true'
        c.receive_response(reply(one(c), 401, header), 0.1)
    assert not c.requests_to_send()
    failed = events(c)[-1]
    assert isinstance(failed, RegistrationFailed) and "too many" in failed.reason


def test_423_retries_with_min_expires() -> None:
    c = client(expires=60)
    c.register(0.0)
    first = one(c)
    c.receive_response(reply(first, 423, "Min-Expires: 600"), 0.1)
    second = one(c)
    assert second.expires == 600 and second.contact is not None
    assert second.contact.expires == 600 and second.cseq.seq == 2 and c.expires == 600
    c.receive_response(reply(second, 200, "Expires: 600"), 0.2)
    assert c.state is S.REGISTERED and c.get_timer() == pytest.approx(0.2 + 540)
    c.handle_timer(540.2)
    assert one(c).expires == 600


@pytest.mark.parametrize("header", ["Min-Expires: 30", "Min-Expires: soon", None])
def test_useless_423_fails(header: str | None) -> None:
    c = client(expires=60)
    c.register(0.0)
    c.receive_response(reply(one(c), 423, *([header] if header else [])), 0.1)
    failed = events(c)[-1]
    assert isinstance(failed, RegistrationFailed) and failed.status == 423
    assert failed.retry_at is not None and not c.requests_to_send()


@pytest.mark.parametrize(
    ("granted", "delay"), [(3600, 3240.0), (600, 540.0), (60, 54.0), (30, 25.0), (8, 4.0), (1, 0.5)]
)
def test_refresh_delay(granted: int, delay: float) -> None:
    assert refresh_delay(granted) == pytest.approx(delay)


def test_refresh_timing_is_exact() -> None:
    c = client()
    c.register(100.0)
    req = one(c)
    c.receive_response(reply(req, 200, f"{OUR_CONTACT};expires=120"), 100.5)
    events(c)
    assert c.get_timer() == 100.5 + 108.0
    c.handle_timer(208.4)  # early: nothing
    assert not c.requests_to_send() and c.get_timer() == 208.5
    c.handle_timer(208.5)
    refresh = one(c)
    assert refresh.cseq.seq == 2 and refresh.expires == 3600 and c.get_timer() is None
    c.handle_timer(208.5)  # twice: nothing
    assert not c.requests_to_send()
    assert not events(c)  # a refresh keeps the state "registered"
    c.receive_response(reply(refresh, 200, f"{OUR_CONTACT};expires=30"), 209.0)
    assert c.get_timer() == 209.0 + 25.0 and c.state is S.REGISTERED


def expected_backoff(seed: int, count: int, base: float = 30.0, cap: float = 1800.0) -> list[float]:
    """RFC 5626 §4.5 waits, computed independently from the same seed."""
    rng = random.Random(seed)
    waits = []
    for failures in range(1, count + 1):
        ceiling = min(cap, base * 2**failures)
        waits.append(ceiling / 2 + ceiling / 2 * rng.getrandbits(32) / 2**32)
    return waits


def test_backoff_sequence_is_exact() -> None:
    c = client(seed=42)
    now = 5.0
    c.register(now)
    waits = []
    for _ in range(9):
        one(c)
        c.transaction_failed(now, "Request Timeout")
        failed = events(c)[-1]
        assert isinstance(failed, RegistrationFailed) and failed.status == 408
        assert failed.retry_at is not None and c.get_timer() == failed.retry_at
        waits.append(failed.retry_at - now)
        now = failed.retry_at
        c.handle_timer(now)
        assert c.state is S.REGISTERING
    assert waits == pytest.approx(expected_backoff(42, 9))
    assert 900 <= waits[-1] < 1800  # capped
    # Success resets the count: the next failure waits 30-60 s again.
    c.receive_response(reply(one(c), 200, "Expires: 100"), now)
    c.handle_timer(now + 90)
    c.transaction_failed(now + 90)
    failed = events(c)[-1]
    assert isinstance(failed, RegistrationFailed) and failed.retry_at is not None
    assert 30 <= failed.retry_at - (now + 90) < 60


def test_503_retry_after_is_honoured_and_404_backs_off() -> None:
    c = client(seed=3)
    c.register(0.0)
    c.receive_response(reply(one(c), 503, "Retry-After: 120 (maintenance);duration=60"), 1.0)
    assert events(c)[-1] == RegistrationFailed(c, 503, "Service Unavailable", 121.0)
    c.handle_timer(121.0)
    c.receive_response(reply(one(c), 404), 122.0)
    failed = events(c)[-1]
    assert isinstance(failed, RegistrationFailed) and failed.reason == "Not Found"
    # Second failure in a row (W = 120 s); the Retry-After drew no jitter.
    fraction = random.Random(3).getrandbits(32) / 2**32
    assert failed.retry_at == pytest.approx(122.0 + 60 + 60 * fraction)


def test_granted_expiry_prefers_our_contact_then_expires_header() -> None:
    bindings = "Contact: <sip:alice@10.0.0.9>;expires=999, <sip:alice@127.0.0.1:5060>;expires=300"
    cases = [
        ([bindings, "Expires: 500"], 300),
        (["Contact: <sip:alice@10.0.0.9>;expires=999", "Expires: 500"], 500),
        ([OUR_CONTACT, "Expires: 450"], 450),  # ours, without an expires param
        ([], 3600),
    ]
    for lines, granted in cases:
        c = client()
        c.register(0.0)
        c.receive_response(reply(one(c), 200, *lines), 0.0)
        got = [e for e in events(c) if isinstance(e, Registered)]
        assert [e.expires for e in got] == [granted], lines
        assert c.expires_at == granted


@pytest.mark.parametrize("header", ["Expires: 0", f"{OUR_CONTACT};expires=0"])
def test_a_2xx_granting_no_time_is_a_failure(header: str) -> None:
    c = client()
    c.register(0.0)
    c.receive_response(reply(one(c), 200, header), 1.0)
    failed = events(c)[-1]
    assert isinstance(failed, RegistrationFailed) and failed.status == 200
    assert "expires=0" in failed.reason and failed.retry_at is not None
    assert c.state is S.FAILED


def test_a_malformed_expires_falls_back_to_what_was_asked() -> None:
    c = client(expires=900)
    c.register(0.0)
    c.receive_response(reply(one(c), 200, "Expires: soon"), 0.0)
    assert [e.expires for e in events(c) if isinstance(e, Registered)] == [900]


def test_our_contact_is_recognized_by_instance_id() -> None:
    c = client(instance_id=UUID, reg_id=1)
    c.register(0.0)
    rewritten = f'Contact: <sip:alice@192.0.2.7:5060>;+sip.instance="<urn:uuid:{UUID}>";reg-id=1'
    c.receive_response(reply(one(c), 200, f"{rewritten};expires=200", "Expires: 3600"), 0.0)
    assert [e.expires for e in events(c) if isinstance(e, Registered)] == [200]


def test_unregister_after_registration() -> None:
    c = client()
    registered(c)
    c.unregister(50.0)
    req = one(c)
    assert req.expires == 0 and req.contact is not None and req.contact.expires == 0
    assert c.get_timer() is None
    assert events(c) == [RegistrationStateChanged(c, S.REGISTERED, S.UNREGISTERING)]
    c.receive_response(reply(req, 200), 50.1)
    assert events(c) == [
        RegistrationStateChanged(c, S.UNREGISTERING, S.UNREGISTERED),
        Unregistered(c, 200),
    ]
    assert c.state is S.UNREGISTERED and c.get_timer() is None and c.expires_at is None


def test_failed_unregister_still_ends_unregistered() -> None:
    c = client()
    registered(c)
    c.unregister(50.0)
    one(c)
    c.transaction_failed(82.0)
    assert events(c)[-1] == Unregistered(c, 408)
    assert c.state is S.UNREGISTERED and c.get_timer() is None


def test_unregister_while_registering_waits_for_the_response() -> None:
    c = client()
    c.register(0.0)
    first = one(c)
    c.unregister(0.1)
    assert not c.requests_to_send()  # one REGISTER at a time (§10.2)
    c.receive_response(reply(first, 200, "Expires: 3600"), 0.2)
    second = one(c)
    assert second.expires == 0 and second.cseq.seq == 2
    c.receive_response(reply(second, 200), 0.3)
    assert events(c)[-1] == Unregistered(c, 200) and c.state is S.UNREGISTERED


def test_cseq_increases_and_call_id_is_constant_across_everything() -> None:
    c = client()
    sent: list[Request] = []
    c.register(0.0)
    sent.append(one(c))
    c.receive_response(reply(sent[-1], 401, CHALLENGE), 0.1)
    sent.append(one(c))
    c.receive_response(reply(sent[-1], 423, "Min-Expires: 7200"), 0.2)
    sent.append(one(c))
    c.receive_response(reply(sent[-1], 200), 0.3)
    c.handle_timer(c.get_timer() or 0.0)
    sent.append(one(c))
    c.transaction_failed(7000.0)
    c.handle_timer(c.get_timer() or 0.0)
    sent.append(one(c))
    c.receive_response(reply(sent[-1], 500), 7100.0)
    c.unregister(7101.0)
    sent.append(one(c))
    assert [r.cseq.seq for r in sent] == [1, 2, 3, 4, 5, 6]
    assert {r.call_id for r in sent} == {CALL_ID}
    assert {r.from_.tag for r in sent} == {"ftag1"}


def test_outbound_instance_reg_id_and_route() -> None:
    proxy = SipURI.parse("sip:proxy.example.com:5070")
    c = client(
        instance_id=UUID,
        reg_id=1,
        route=[proxy],
        extra_headers=[("X-Test", "yes")],
    )
    c.register(0.0)
    req = one(c)
    assert req.contact is not None
    assert req.contact.params["+sip.instance"] == f'"<urn:uuid:{UUID}>"'
    assert req.contact.params["reg-id"] == "1"
    assert req.headers.get("Supported") == "outbound"
    assert [str(r.uri) for r in req.routes] == ["sip:proxy.example.com:5070;lr"]
    assert req.headers.get("X-Test") == "yes"
    assert f';+sip.instance="<urn:uuid:{UUID}>";reg-id=1' in req.encode().decode()


def test_illegal_commands_raise() -> None:
    with pytest.raises(LocalProtocolError):
        client(instance_id=None, reg_id=1)
    with pytest.raises(LocalProtocolError):
        client(expires=0)
    c = client()
    registered(c)
    assert c.get_timer() is not None
    c.close()
    assert c.get_timer() is None
    with pytest.raises(LocalProtocolError):
        c.register(1.0)
    with pytest.raises(LocalProtocolError):
        c.unregister(1.0)
    c.handle_timer(1e9)
    assert not c.requests_to_send() and not events(c)


# -- Hypothesis: random responses and timer firings ---------------------------

HEADERS = [
    CHALLENGE,
    'WWW-Authenticate: Digest realm="example.com", nonce="n2", qop="auth", stale=true',
    'WWW-Authenticate: Digest realm="example.com", nonce="n3", algorithm=SHA-256, qop="auth-int"',
    'WWW-Authenticate: Digest realm="example.com", nonce="n4", algorithm=MD5-sess',
    'WWW-Authenticate: Digest realm="example.com"',
    'WWW-Authenticate: Digest realm="x',
    "WWW-Authenticate: Basic abc==",
    "WWW-Authenticate: ,,,",
    'Proxy-Authenticate: Digest realm="proxy", nonce="p1", qop="auth"',
    "Proxy-Authenticate: garbage=",
    "Min-Expires: 7200",
    "Min-Expires: abc",
    "Min-Expires: 99999999999999",
    "Expires: 60",
    "Expires: 0",
    "Expires: x",
    "Retry-After: 120 (busy);duration=10",
    "Retry-After: soon",
    f"{OUR_CONTACT};expires=30",
    f"{OUR_CONTACT};expires=0",
    f"{OUR_CONTACT};expires=junk",
    "Contact: <sip:other@127.0.0.1>;expires=10, <sip:alice@127.0.0.1:5060>;expires=45",
    "Contact: <tel:+15551234>;expires=10",
]
PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
HEADER = st.one_of(
    st.sampled_from(HEADERS),
    PRINTABLE.map(lambda v: f"WWW-Authenticate: Digest {v}"),
    PRINTABLE.map(lambda v: f"Proxy-Authenticate: {v}"),
    PRINTABLE.map(lambda v: f"Min-Expires: {v}"),
)
STATUS = st.one_of(st.sampled_from([200, 202, 401, 407, 423, 503]), st.integers(100, 699))
STEP = st.one_of(
    st.tuples(st.just("respond"), STATUS, st.lists(HEADER, max_size=4), st.booleans()),
    st.tuples(st.just("wait"), st.floats(0.0, 4000.0)),
    st.tuples(st.just("deadline")),
    st.tuples(st.just("fail")),
    st.tuples(st.just("register")),
    st.tuples(st.just("unregister")),
)


@settings(max_examples=examples(200), deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.lists(STEP, max_size=40))
def test_random_responses_and_timers_never_break_the_client(
    seed: int, steps: list[tuple[Any, ...]]
) -> None:
    c = client(seed=seed, instance_id=UUID, reg_id=2)
    now = 0.0
    c.register(now)
    outstanding: Request | None = None
    last_cseq = 0

    def collect() -> None:
        nonlocal outstanding, last_cseq
        new = c.requests_to_send()
        assert len(new) <= 1 and (outstanding is None or not new)
        for req in new:
            assert req.call_id == CALL_ID and req.cseq.seq > last_cseq
            last_cseq = req.cseq.seq
            outstanding = req
        events(c)

    collect()
    for step in steps:
        kind = step[0]
        if kind == "respond" and outstanding is not None:
            _, status, lines, stray = step
            try:
                response = reply(outstanding, status, *lines, cseq=last_cseq - 1 if stray else None)
            except ParseError:
                continue
            c.receive_response(response, now)
            if status >= 200 and not stray:
                outstanding = None
        elif kind == "wait":
            now += step[1]
            c.handle_timer(now)
        elif kind == "deadline":
            timer = c.get_timer()
            now = max(now, timer if timer is not None else now)
            c.handle_timer(now)
        elif kind == "fail" and outstanding is not None:
            c.transaction_failed(now, "Request Timeout")
            outstanding = None
        elif kind == "register":
            c.register(now)
        elif kind == "unregister":
            c.unregister(now)
        before = c.get_timer()
        assert c.get_timer() == before  # pure
        assert outstanding is None or before is None  # no timer while a REGISTER is out
        if kind in ("wait", "deadline"):
            assert before is None or before > now  # what was due has fired
        collect()
        assert c.state in set(RegistrationState)
        assert c.get_timer() == before
