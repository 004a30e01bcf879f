"""SUBSCRIBE/NOTIFY (RFC 6665): the header values, and a subscriber and
notifiers wired to each other on a virtual clock.

Every message crosses the "wire" as bytes (requests get a Via on the way),
so what one machine builds is what the other parses.  A request the test
drops gets its transaction timeout (64*T1) like a client transaction would.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sansip.dialog import Dialog, DialogState
from sansip.dialog.notifier import (
    SIPFRAG,
    TRYING,
    Notifier,
    NotifierEvent,
    NotifierTerminated,
    SubscriptionRefreshed,
    check_subscribe,
    refer_sub_requested,
)
from sansip.dialog.subscription import (
    EventHeader,
    NotifyReceived,
    Phase,
    Subscriber,
    SubscriberEvent,
    SubscriptionAccepted,
    SubscriptionForked,
    SubscriptionStateHeader,
    SubscriptionTerminated,
    SubState,
    TerminationReason,
    dispatch_notify,
    event_of,
    format_allow_events,
    parse_allow_events,
    refer_sub_of,
    subscription_state_of,
)
from sansip.dialog.uac import next_attempt
from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.message import (
    NameAddr,
    ParseError,
    Request,
    RequestRejected,
    Response,
    SipURI,
    make_response,
    parse,
)
from tests.conftest import examples

ALICE = NameAddr.parse('"Alice" <sip:alice@example.com>')
ALICE_CONTACT = NameAddr.parse("<sip:alice@10.0.0.1:5060>")
BOB = SipURI.parse("sip:bob@example.com")
PIDF = "application/pidf+xml"
OPEN = b"<presence><tuple id='t'><status><basic>open</basic></status></tuple></presence>"
CLOSED = b"<presence><tuple id='t'><status><basic>closed</basic></status></tuple></presence>"
_branches = count(1)


# -- the wire -------------------------------------------------------------------
def wire(msg: Request | Response) -> Any:
    """What the peer receives: ``msg`` through bytes, a Via added to a request."""
    if isinstance(msg, Request):
        copy = Request(msg.method, msg.uri, msg.headers.copy(), msg.body)
        copy.headers.prepend("Via", f"SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK{next(_branches)}")
        msg = copy
    return parse(bytes(msg))


def subscriber(**overrides: Any) -> Subscriber:
    options: dict[str, Any] = {
        "local": ALICE,
        "contact": ALICE_CONTACT,
        "rng": random.Random(7),
        "expires": 3600,
    }
    event = overrides.pop("event", "presence")
    options.update(overrides)
    return Subscriber(BOB, event, **options)


@dataclass
class Bob:
    """A notifier's UA: accepts SUBSCRIBEs for ``packages`` with ``document``."""

    tag: str = "bob1"
    host: str = "10.0.0.2"
    packages: tuple[str, ...] = ("presence",)
    min_expires: int = 60
    document: bytes = OPEN
    state: SubState = SubState.ACTIVE
    notifiers: list[Notifier] = field(default_factory=list)

    @property
    def contact(self) -> NameAddr:
        return NameAddr.parse(f"<sip:bob@{self.host}:5060>")

    def on_subscribe(self, request: Request, now: float) -> Response:
        if request.to.tag:
            for notifier in self.notifiers:
                if notifier.matches(request):
                    return notifier.receive_subscribe(request, now)
            return make_response(request, 481)
        try:
            notifier, response = Notifier.accept(
                request, to_tag=self.tag, contact=self.contact, now=now,
                packages=self.packages, content_type=PIDF, body=self.document,
                min_expires=self.min_expires, state=self.state,
            )  # fmt: skip
        except RequestRejected as exc:
            return make_response(request, exc.status, headers=exc.response_headers)
        self.notifiers.append(notifier)
        return response


class Net:
    """Alice's subscribers and one or more notifier UAs (a forking proxy in
    front of them for SUBSCRIBEs outside a dialog: the first 2xx wins)."""

    def __init__(self, sub: Subscriber, *bobs: Bob) -> None:
        self.now = 0.0
        self.subs = [sub]
        self.bobs = list(bobs) or [Bob()]
        self.drop: Callable[[Request], bool] = lambda request: False
        self.hold_responses = False
        self.held: list[tuple[Subscriber, Response]] = []
        self.failures: list[tuple[float, Any, Request]] = []  # timer F of dropped requests
        self.sub_events: list[SubscriberEvent] = []
        self.bob_events: list[NotifierEvent] = []
        self.ladder: list[str] = []
        self.sent: list[Request] = []  # every SUBSCRIBE

    @property
    def sub(self) -> Subscriber:
        return self.subs[0]

    def notifiers(self) -> list[Notifier]:
        return [n for bob in self.bobs for n in bob.notifiers]

    def pump(self) -> None:
        moved = True
        while moved:
            moved = False
            for sub in list(self.subs):
                for request in sub.requests_to_send():
                    moved = True
                    self._subscribe(sub, request)
            for notifier in self.notifiers():
                for request in notifier.requests_to_send():
                    moved = True
                    self._notify(notifier, request)
            for sub in list(self.subs):
                while (event := sub.next_event()) is not None:
                    self.sub_events.append(event)
                    if isinstance(event, SubscriptionForked):
                        self.subs.append(event.fork)
            for notifier in self.notifiers():
                while (done := notifier.next_event()) is not None:
                    self.bob_events.append(done)

    def _subscribe(self, sub: Subscriber, request: Request) -> None:
        self.ladder.append(f"{self.now:g} SUBSCRIBE Expires={request.headers.get('Expires')}")
        self.sent.append(request)
        if self.drop(request):
            self.failures.append((self.now + 32.0, sub, request))
            return
        arrived = wire(request)
        tag = arrived.to.tag
        bobs = [b for b in self.bobs if b.tag == tag] if tag else self.bobs
        responses = [bob.on_subscribe(arrived, self.now) for bob in bobs]
        best = next((r for r in responses if r.status < 300), responses[0])
        self.ladder.append(f"{self.now:g} <- {best.status}")
        if self.hold_responses:
            self.held.append((sub, best))
        else:
            sub.receive_response(wire(best), self.now)

    def _notify(self, notifier: Notifier, request: Request) -> None:
        state = request.headers.get("Subscription-State")
        self.ladder.append(f"{self.now:g} NOTIFY {state}")
        if self.drop(request):
            self.failures.append((self.now + 32.0, notifier, request))
            return
        _, response = dispatch_notify(self.subs, wire(request), self.now)
        self.ladder.append(f"{self.now:g} <- {response.status}")
        notifier.receive_response(wire(response), self.now)

    def release(self) -> None:
        held, self.held = self.held, []
        for sub, response in held:
            sub.receive_response(wire(response), self.now)
        self.pump()

    def machines(self) -> list[Subscriber | Notifier]:
        """Notifiers first: a NOTIFY sent at the instant a subscriber's own
        timer fires arrives before that timer is handled."""
        return [*self.notifiers(), *self.subs]

    def run(self, until: float) -> None:
        """Advance the clock to ``until``, firing every timer on the way."""
        self.pump()
        while True:
            times = [t for m in self.machines() if (t := m.get_timer()) is not None]
            times += [t for t, _, _ in self.failures]
            due = min(times, default=None)
            if due is None or due > until:
                break
            self.now = max(self.now, due)
            for entry in [f for f in self.failures if f[0] <= self.now]:
                self.failures.remove(entry)
                entry[1].transaction_failed(entry[2], self.now)
            for machine in self.machines():
                machine.handle_timer(self.now)
                self.pump()
        self.now = until

    def events(self, kind: type) -> list[Any]:
        return [e for e in self.sub_events + self.bob_events if isinstance(e, kind)]


def started(**overrides: Any) -> Net:
    bobs = overrides.pop("bobs", ())
    net = Net(subscriber(**overrides), *bobs)
    net.sub.subscribe(net.now)
    net.pump()
    return net


# -- headers ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "package", "event_id", "params", "canonical"),
    [
        ("presence", "presence", None, (), "presence"),
        ("presence;id=42", "presence", "42", (), "presence;id=42"),
        ("presence.winfo ; id = a1 ;Foo=bar;baz", "presence.winfo", "a1",
         (("foo", "bar"), ("baz", None)), "presence.winfo;id=a1;foo=bar;baz"),
        ("refer;id=93809824", "refer", "93809824", (), "refer;id=93809824"),
        ('dialog;sla;x="a b"', "dialog", None, (("sla", None), ("x", '"a b"')),
         'dialog;sla;x="a b"'),
        ("message-summary", "message-summary", None, (), "message-summary"),
    ],
)  # fmt: skip
def test_event_header(
    text: str, package: str, event_id: str | None, params: tuple[Any, ...], canonical: str
) -> None:
    event = EventHeader.parse(text)
    assert (event.package, event.id, event.params) == (package, event_id, params)
    assert str(event) == canonical
    assert EventHeader.parse(str(event)) == event


@pytest.mark.parametrize(
    "text",
    ["", " ", ";id=1", "presence;id", 'presence;id="42"', "presence;id=a:b", "pres ence",
     "presence.", ".presence", "pres..ence", "presence;=x", "presence,dialog", "presence;",
     "présence", "presence;x=\"open", "presence\r\n"],
)  # fmt: skip
def test_bad_event_header(text: str) -> None:
    with pytest.raises(ParseError) as info:
        EventHeader.parse(text)
    assert info.value.status == 400
    assert isinstance(info.value, RemoteProtocolError)


def test_event_matching_follows_section_8_2_1() -> None:
    ours = EventHeader.parse("presence;id=1;foo=bar")
    assert ours.matches(EventHeader.parse("presence;id=1"))
    assert not ours.matches(EventHeader.parse("presence"))
    assert not ours.matches(EventHeader.parse("presence;id=2"))
    assert not ours.matches(EventHeader.parse("Presence;id=1"))  # byte for byte
    assert not EventHeader("refer").matches(EventHeader("refer", "7"))


@pytest.mark.parametrize(
    ("text", "fields", "canonical"),
    [
        ("active;expires=3600", ("active", 3600, None, None), "active;expires=3600"),
        ("pending", ("pending", None, None, None), "pending"),
        ("ACTIVE ; Expires = 60", ("active", 60, None, None), "active;expires=60"),
        ("terminated;reason=timeout;retry-after=30", ("terminated", None, "timeout", 30),
         "terminated;reason=timeout;retry-after=30"),
        ("terminated;retry-after=0;reason=Probation", ("terminated", None, "probation", 0),
         "terminated;reason=probation;retry-after=0"),
        ("active;expires=99999999999", ("active", 2**32 - 1, None, None),
         "active;expires=4294967295"),
        ("waiting;foo;expires=5", ("waiting", 5, None, None), "waiting;expires=5;foo"),
    ],
)  # fmt: skip
def test_subscription_state_header(text: str, fields: tuple[Any, ...], canonical: str) -> None:
    value = SubscriptionStateHeader.parse(text)
    assert (value.state, value.expires, value.reason, value.retry_after) == fields
    assert str(value) == canonical
    assert SubscriptionStateHeader.parse(str(value)) == value


@pytest.mark.parametrize("reason", list(TerminationReason))
def test_every_reason_round_trips(reason: TerminationReason) -> None:
    value = SubscriptionStateHeader(SubState.TERMINATED, reason=reason)
    assert str(value) == f"terminated;reason={reason.value}"
    assert SubscriptionStateHeader.parse(str(value)).reason == reason


@pytest.mark.parametrize(
    "text",
    ["", "active;expires=abc", "active;expires", "active;expires=-1", "active;expires=1.5",
     "terminated;reason=", "terminated;reason", 'terminated;reason="timeout"',
     "terminated;retry-after=x", "active extra", "active;;expires=1", "active,pending",
     "=active"],
)  # fmt: skip
def test_bad_subscription_state(text: str) -> None:
    with pytest.raises(ParseError) as info:
        SubscriptionStateHeader.parse(text)
    assert info.value.status == 400


def test_allow_events_and_refer_sub() -> None:
    assert parse_allow_events("presence, dialog,message-summary ,refer") == [
        "presence", "dialog", "message-summary", "refer",
    ]  # fmt: skip
    assert format_allow_events(["presence", "presence.winfo"]) == "presence, presence.winfo"
    for bad in ("", "presence,,dialog", "pres ence", "presence;id=1", "presence,"):
        with pytest.raises(ParseError):
            parse_allow_events(bad)
    with pytest.raises(LocalProtocolError):
        format_allow_events([])
    msg = parse(
        b"SIP/2.0 202 Accepted\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n"
        b"To: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 2 REFER\r\nRefer-Sub: FALSE;x=1\r\n"
        b"o: presence;id=9\r\nSubscription-State: active;expires=10\r\n\r\n"
    )
    assert refer_sub_of(msg) is False
    assert event_of(msg) == EventHeader("presence", "9")  # the compact form "o"
    assert subscription_state_of(msg) == SubscriptionStateHeader("active", 10)
    msg.headers.set("Refer-Sub", "maybe")
    with pytest.raises(ParseError):
        refer_sub_of(msg)
    msg.headers.remove("Refer-Sub")
    assert refer_sub_of(msg) is None


def test_values_built_in_code_are_checked() -> None:
    for build in (
        lambda: EventHeader("bad package"),
        lambda: EventHeader("presence", "a b"),
        lambda: EventHeader("presence", params=(("id", "1"),)),
        lambda: EventHeader("presence", params=(("x", "a b"),)),
        lambda: SubscriptionStateHeader("active", expires=-1),
        lambda: SubscriptionStateHeader("active", reason="no way"),
        lambda: SubscriptionStateHeader("active", params=(("expires", "1"),)),
    ):
        with pytest.raises(LocalProtocolError):
            build()


# -- header properties ---------------------------------------------------------------
ROUND_TRIP = settings(max_examples=examples(200), deadline=None)
FUZZ = settings(max_examples=examples(500), deadline=None)
NODOT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-!%*_+`'~"
TOKEN = NODOT + "."
nodots = st.text(NODOT, min_size=1, max_size=8)
event_types = st.lists(nodots, min_size=1, max_size=3).map(".".join)
tokens = st.text(TOKEN, min_size=1, max_size=8)
quoted = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'),
                 max_size=8).map(lambda s: f'"{s}"')  # fmt: skip
values = st.none() | tokens | quoted


def params(reserved: Iterable[str]) -> st.SearchStrategy[tuple[tuple[str, str | None], ...]]:
    names = tokens.map(str.lower).filter(lambda n: n not in set(reserved))
    return st.dictionaries(names, values, max_size=3).map(lambda d: tuple(d.items()))


events = st.builds(EventHeader, event_types, st.none() | tokens, params(["id"]))
deltas = st.none() | st.integers(0, 2**32 - 1)
states = st.builds(
    SubscriptionStateHeader,
    st.sampled_from(["active", "pending", "terminated"]) | tokens.map(str.lower),
    deltas,
    st.none() | st.sampled_from(list(TerminationReason)).map(str) | tokens.map(str.lower),
    deltas,
    params(["expires", "reason", "retry-after"]),
)


@ROUND_TRIP
@given(events)
def test_event_round_trip(event: EventHeader) -> None:
    assert EventHeader.parse(str(event)) == event


@ROUND_TRIP
@given(states)
def test_subscription_state_round_trip(value: SubscriptionStateHeader) -> None:
    assert SubscriptionStateHeader.parse(str(value)) == value


@ROUND_TRIP
@given(st.lists(event_types, min_size=1, max_size=5))
def test_allow_events_round_trip(packages: list[str]) -> None:
    assert parse_allow_events(format_allow_events(packages)) == packages


def _only_parse_errors(parser: Callable[[str], object], text: str) -> None:
    try:
        parser(text)
    except ParseError as exc:
        assert exc.status == 400


@FUZZ
@given(st.text(max_size=40) | st.text(TOKEN + ';=," \t:[]\\', max_size=40))
@example('presence;id="')
@example("terminated;reason=timeout;retry-after=99999999999999999999")
@example('a;b="\\"')
def test_arbitrary_text_raises_only_parse_errors(text: str) -> None:
    for parser in (EventHeader.parse, SubscriptionStateHeader.parse, parse_allow_events):
        _only_parse_errors(parser, text)


# -- subscribe, NOTIFY, refresh, unsubscribe ---------------------------------------
def test_subscribe_and_the_immediate_notify() -> None:
    sub = subscriber()
    assert sub.phase is Phase.INIT and sub.get_timer() is None and not sub.requests_to_send()
    net = Net(sub)
    sub.subscribe(0.0)
    (request,) = sub.requests_to_send()
    assert request.method == "SUBSCRIBE" and request.uri == BOB
    assert request.headers.get("Event") == "presence"
    assert request.headers.get("Expires") == "3600"
    assert request.headers.get("Accept") == PIDF
    assert request.contact == ALICE_CONTACT and request.from_.tag and not request.to.tag
    assert request.cseq.seq == 1 and request.call_id == sub.call_id
    assert sub.get_timer() == 32.0  # Timer N
    net.subs[0] = sub
    net._subscribe(sub, request)
    net.pump()
    accepted, notified = net.sub_events
    assert isinstance(accepted, SubscriptionAccepted) and accepted.expires == 3600
    assert isinstance(notified, NotifyReceived)
    assert notified.state == SubscriptionStateHeader("active", 3600)
    assert notified.body == OPEN and notified.content_type is not None
    assert notified.content_type.mime == PIDF
    assert sub.phase is Phase.ACTIVE and sub.expires_at == 3600.0
    assert sub.get_timer() == 3240.0  # the refresh: 90 % of 3600
    (notifier,) = net.notifiers()
    assert notifier.phase is Phase.ACTIVE and notifier.get_timer() == 3600.0
    notify = notified.request
    assert notify.headers.get("Event") == "presence"
    assert notify.to.tag == request.from_.tag and notify.from_.tag == "bob1"
    dialog = sub.dialog
    assert dialog is not None and dialog.state is DialogState.CONFIRMED
    assert str(dialog.remote_target) == "sip:bob@10.0.0.2:5060"


def test_state_changes_reach_the_subscriber() -> None:
    net = started()
    (notifier,) = net.notifiers()
    net.run(100.0)
    notifier.notify(net.now, body=CLOSED)
    net.pump()
    last = net.events(NotifyReceived)[-1]
    assert last.body == CLOSED and last.state == SubscriptionStateHeader("active", 3500)
    notifier.notify(net.now, state=SubState.PENDING)
    net.pump()
    assert net.events(NotifyReceived)[-1].state.state == "pending"
    assert net.sub.phase is Phase.PENDING


def test_one_notify_outstanding_changes_merged() -> None:
    net = started()
    (notifier,) = net.notifiers()
    notifier.notify(1.0, body=CLOSED)
    notifier.notify(1.0, body=OPEN)
    notifier.notify(1.0, body=CLOSED)
    first, *rest = notifier.requests_to_send()
    assert not rest and first.body == CLOSED
    notifier.receive_response(make_response(first, 200), 1.0)
    (merged,) = notifier.requests_to_send()
    assert merged.body == CLOSED and merged.cseq.seq == first.cseq.seq + 1


def test_refresh_extends_the_subscription() -> None:
    net = started()
    net.run(3240.0)
    refresh = [line for line in net.ladder if "SUBSCRIBE" in line]
    assert refresh == ["0 SUBSCRIBE Expires=3600", "3240 SUBSCRIBE Expires=3600"]
    (refreshed,) = net.events(SubscriptionRefreshed)
    assert refreshed.expires == 3600 and refreshed.request.to.tag == "bob1"
    assert refreshed.request.cseq.seq == 2
    assert net.events(NotifyReceived)[-1].state.expires == 3600  # §4.2.1.2
    assert net.sub.expires_at == 6840.0
    net.run(20000.0)
    assert not net.events(SubscriptionTerminated)
    assert len(net.events(SubscriptionRefreshed)) == 6  # 3240 s apart


def test_expiry_sends_the_final_notify_then_the_subscriber_subscribes_again() -> None:
    net = started()
    net.drop = lambda request: request.method == "SUBSCRIBE" and bool(request.to.tag)
    net.run(3600.0)
    (ended,) = net.events(NotifierTerminated)
    assert (ended.reason, ended.status) == ("timeout", None)
    (terminated,) = net.events(SubscriptionTerminated)
    assert terminated.reason == "timeout" and terminated.retry_at == 3600.0
    assert "3600 NOTIFY terminated;reason=timeout" in net.ladder
    old = net.notifiers()[0]
    assert old.phase is Phase.TERMINATED and old.dialog.state is DialogState.TERMINATED
    # timeout: re-subscribe at once, outside the old dialog
    assert net.ladder.count("3600 SUBSCRIBE Expires=3600") == 1
    new = net.notifiers()[1]
    assert new.dialog.call_id != old.dialog.call_id
    assert new.dialog.remote_tag != old.dialog.remote_tag
    assert net.sub.phase is Phase.ACTIVE and net.sub.call_id == new.dialog.call_id
    net.run(3700.0)  # the dropped refreshes' timeouts reach a subscriber that moved on
    assert net.sub.phase is Phase.ACTIVE and len(net.events(SubscriptionTerminated)) == 1


def test_expiry_seen_first_by_the_subscriber() -> None:
    net = started()
    net.drop = lambda request: request.method == "SUBSCRIBE" and bool(request.to.tag)
    net.run(3599.0)
    net.now = 3600.0
    net.sub.handle_timer(net.now)  # its own expiry comes first
    net.drop = lambda request: False
    net.pump()
    terminated = net.events(SubscriptionTerminated)[0]
    assert (terminated.reason, terminated.status) == ("timeout", None)
    assert terminated.retry_at == 3600.0
    net.run(3600.0)  # the old notifier's final NOTIFY finds no subscription
    assert "3600 NOTIFY terminated;reason=timeout" in net.ladder
    assert net.events(NotifierTerminated)[0].status == 481
    assert net.sub.phase is Phase.ACTIVE and len(net.notifiers()) == 2


def test_unsubscribe() -> None:
    net = started()
    net.run(10.0)
    net.sub.unsubscribe(net.now)
    assert net.sub.unsubscribing
    net.pump()
    assert net.ladder[-4:] == [
        "10 SUBSCRIBE Expires=0", "10 <- 200", "10 NOTIFY terminated;reason=timeout", "10 <- 200",
    ]  # fmt: skip
    terminated = net.events(SubscriptionTerminated)[-1]
    assert terminated.reason == "timeout" and terminated.retry_at is None
    assert terminated.detail == "unsubscribed"
    (refreshed,) = net.events(SubscriptionRefreshed)
    assert refreshed.expires == 0
    (ended,) = net.events(NotifierTerminated)
    assert ended.reason == "timeout"
    assert net.sub.phase is Phase.TERMINATED and net.sub.get_timer() is None
    assert net.sub.dialog is not None and net.sub.dialog.state is DialogState.TERMINATED
    assert net.notifiers()[0].get_timer() is None
    net.run(100000.0)
    assert len(net.ladder) == 8


def test_unsubscribe_before_the_2xx_waits_for_it() -> None:
    net = Net(subscriber())
    net.hold_responses = True
    net.sub.subscribe(0.0)
    net.pump()
    net.sub.unsubscribe(0.5)
    assert not net.sub.requests_to_send()  # nothing before the 2xx
    net.now = 1.0
    net.release()
    assert [line.split(" ", 1)[1] for line in net.ladder[-4:]] == [
        "SUBSCRIBE Expires=0", "<- 200", "NOTIFY terminated;reason=timeout", "<- 200",
    ]  # fmt: skip
    net.release()
    assert net.sub.phase is Phase.TERMINATED


def test_unsubscribe_without_a_final_notify_ends_with_timer_n() -> None:
    net = started()
    net.drop = lambda request: request.method == "NOTIFY"
    net.sub.unsubscribe(net.now)
    net.run(31.9)
    assert net.sub.phase is not Phase.TERMINATED
    net.run(32.0)
    terminated = net.events(SubscriptionTerminated)[-1]
    assert terminated.status == 408 and terminated.retry_at is None


def test_fetch_with_expires_zero() -> None:
    net = started(expires=0)
    accepted, notified, terminated = net.sub_events
    assert isinstance(accepted, SubscriptionAccepted) and accepted.expires == 0
    assert isinstance(notified, NotifyReceived) and notified.body == OPEN
    assert notified.state == SubscriptionStateHeader("terminated", reason="timeout")
    assert isinstance(terminated, SubscriptionTerminated) and terminated.retry_at is None
    assert net.events(NotifierTerminated)[0].reason == "timeout"


# -- failures -------------------------------------------------------------------------
def test_423_then_retry_with_min_expires() -> None:
    net = started(bobs=[Bob(min_expires=7200)], expires=300)
    assert net.ladder[:4] == [
        "0 SUBSCRIBE Expires=300", "0 <- 423", "0 SUBSCRIBE Expires=7200", "0 <- 200",
    ]  # fmt: skip
    assert net.sub.expires == 7200 and net.sub.phase is Phase.ACTIVE
    (notifier,) = net.notifiers()
    assert notifier.dialog.remote_cseq == 2  # same Call-ID, next CSeq
    assert net.sub.get_timer() == 6480.0


def test_423_on_a_refresh() -> None:
    net = started(expires=3600)
    net.bobs[0].notifiers[0]._min = 7200  # the notifier's policy changed
    net.run(3240.0)
    assert net.ladder.count("3240 <- 423") == 1
    assert "3240 SUBSCRIBE Expires=7200" in net.ladder
    assert net.sub.expires == 7200 and net.sub.expires_at == 3240.0 + 7200


def test_489_bad_event() -> None:
    net = started(event="dialog")
    assert net.ladder == ["0 SUBSCRIBE Expires=3600", "0 <- 489"]
    (terminated,) = net.sub_events
    assert isinstance(terminated, SubscriptionTerminated)
    assert terminated.status == 489 and terminated.retry_at is None
    assert net.sub.phase is Phase.TERMINATED and net.sub.get_timer() is None


def test_check_subscribe() -> None:
    def request(*lines: str) -> Request:
        text = "\r\n".join([
            "SUBSCRIBE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
            "From: <sip:a@h>;tag=1", "To: <sip:bob@example.com>", "Call-ID: c", "CSeq: 1 SUBSCRIBE",
            "Contact: <sip:a@h>", *lines, "", "",
        ])  # fmt: skip
        msg = parse(text.encode())
        assert isinstance(msg, Request)
        return msg

    packages = ["presence", "dialog"]
    tagged = request("Event: dialog")
    tagged.headers.set("To", "<sip:bob@example.com>;tag=gone")
    with pytest.raises(RequestRejected) as gone:
        Notifier.accept(tagged, to_tag="x", contact=ALICE_CONTACT, now=0.0, packages=packages)
    assert gone.value.status == 481
    assert check_subscribe(request("Event: dialog"), packages=packages) == (
        EventHeader("dialog"), 3600,
    )  # fmt: skip
    assert check_subscribe(request("o: presence", "Expires: 999999"), packages=packages)[1] == 86400
    assert check_subscribe(request("Event: presence", "Expires: 0"), packages=packages)[1] == 0
    cases = [
        (("Expires: 60",), 400, []),
        (("Event: presence;id",), 400, []),
        (("Event: presence", "Expires: soon"), 400, []),
        (("Event: message-summary",), 489, [("Allow-Events", "presence, dialog")]),
        (("Event: presence", "Expires: 30"), 423, [("Min-Expires", "60")]),
    ]
    for lines, status, headers in cases:
        with pytest.raises(RequestRejected) as info:
            check_subscribe(request(*lines), packages=packages)
        assert (info.value.status, info.value.response_headers) == (status, headers), lines


def test_notify_lost_timer_n() -> None:
    net = Net(subscriber())
    net.drop = lambda request: request.method == "NOTIFY"
    net.sub.subscribe(0.0)
    net.run(31.0)
    assert net.sub.phase is Phase.NOTIFY_WAIT
    net.run(40.0)
    terminated = net.events(SubscriptionTerminated)[0]
    assert terminated.status == 408 and terminated.retry_at is None
    assert "Timer N" in terminated.detail
    (ended,) = net.events(NotifierTerminated)  # its NOTIFY timed out too (§4.2.2)
    assert ended.status == 408
    assert net.notifiers()[0].dialog.state is DialogState.TERMINATED


def test_refresh_failures() -> None:
    net = started()
    (notifier,) = net.notifiers()
    net.bobs[0].on_subscribe = lambda request, now: make_response(request, 503)  # type: ignore[method-assign]
    net.run(3550.0)
    # still valid until 3600: tried again at half the time left, then again
    assert [line for line in net.ladder if "SUBSCRIBE" in line][1:] == [
        "3240 SUBSCRIBE Expires=3600", "3420 SUBSCRIBE Expires=3600",
        "3510 SUBSCRIBE Expires=3600",
    ]  # fmt: skip
    net.bobs[0].on_subscribe = lambda request, now: make_response(request, 481)  # type: ignore[method-assign]
    net.run(3555.0)
    terminated = net.events(SubscriptionTerminated)[-1]
    assert terminated.status == 481 and terminated.retry_at is None
    assert notifier.phase is Phase.ACTIVE  # the notifier learns at its own expiry


def test_initial_failure_with_retry_after() -> None:
    net = Net(subscriber())
    bob = net.bobs[0]
    answer = Bob.on_subscribe
    bob.on_subscribe = lambda request, now: make_response(  # type: ignore[method-assign]
        request, 503, headers=[("Retry-After", "120")]
    )
    net.sub.subscribe(0.0)
    net.run(1.0)
    (terminated,) = net.events(SubscriptionTerminated)
    assert terminated.status == 503 and terminated.retry_at == 120.0
    bob.on_subscribe = lambda request, now: answer(bob, request, now)  # type: ignore[method-assign]
    net.run(120.0)
    assert net.sub.phase is Phase.ACTIVE


def test_challenge_answered_by_the_ua() -> None:
    net = Net(subscriber())
    net.sub.subscribe(0.0)
    (first,) = net.sub.requests_to_send()
    net.sub.receive_response(make_response(first, 100), 0.1)
    retry = next_attempt(first, extra=[("Authorization", 'Digest username="alice"')])
    net.sub.resent(retry)
    net.sub.receive_response(make_response(first, 401), 0.2)  # the old attempt: ignored
    assert net.sub.phase is Phase.NOTIFY_WAIT
    net._subscribe(net.sub, retry)
    net.pump()
    assert net.sub.phase is Phase.ACTIVE and net.sub.dialog is not None
    assert net.sub.dialog.local_cseq == 2


# -- NOTIFY before the 2xx, forks, unknown subscriptions ---------------------------
def test_notify_before_the_2xx_makes_the_dialog() -> None:
    net = Net(subscriber())
    net.hold_responses = True
    net.sub.subscribe(0.0)
    net.pump()
    (notified,) = net.sub_events
    assert isinstance(notified, NotifyReceived)
    dialog = net.sub.dialog
    assert dialog is not None and dialog.remote_tag == "bob1" and dialog.local_cseq == 1
    assert str(dialog.remote_target) == "sip:bob@10.0.0.2:5060"
    assert net.sub.phase is Phase.ACTIVE
    assert net.sub.get_timer() == 3600.0  # no refresh while the SUBSCRIBE is outstanding
    net.now = 0.3
    net.release()
    assert net.sub.get_timer() == 0.3 + 3240.0
    accepted = net.sub_events[-1]
    assert isinstance(accepted, SubscriptionAccepted) and accepted.expires == 3600
    assert net.sub.dialog is dialog
    net.hold_responses = False
    net.run(3240.3)
    subscribes = [line for line in net.ladder if "SUBSCRIBE" in line]
    assert subscribes[-1] == "3240.3 SUBSCRIBE Expires=3600"
    (refreshed,) = net.events(SubscriptionRefreshed)
    assert refreshed.request.to.tag == "bob1" and refreshed.request.cseq.seq == 2


def test_a_fork_is_a_separate_subscription() -> None:
    second = Bob(tag="bob2", host="10.0.0.3", document=CLOSED)
    net = started(bobs=[Bob(), second])
    (forked,) = net.events(SubscriptionForked)
    fork = forked.fork
    assert forked.subscriber is net.sub and fork is not net.sub and fork in net.subs
    assert net.sub.dialog is not None and fork.dialog is not None
    assert (net.sub.dialog.remote_tag, fork.dialog.remote_tag) == ("bob1", "bob2")
    assert fork.call_id == net.sub.call_id
    bodies = {e.subscriber.dialog.remote_tag: e.body for e in net.events(NotifyReceived)}
    assert bodies == {"bob1": OPEN, "bob2": CLOSED}
    assert fork.phase is Phase.ACTIVE
    # a late third notifier forks it again, whatever the order of the list
    third = Bob(tag="bob3", host="10.0.0.4")
    net.bobs.append(third)
    net.subs.reverse()  # the fork first: dispatch still finds the parent
    third.on_subscribe(wire(net.sent[0]), 0.0)
    net.pump()
    assert len(net.events(SubscriptionForked)) == 2
    assert net.events(SubscriptionForked)[1].subscriber is forked.subscriber
    # each keeps its own subscription alive
    net.run(3300.0)
    tags = sorted(e.request.to.tag for e in net.events(SubscriptionRefreshed))
    assert tags == ["bob1", "bob2", "bob3"]
    # a fork refused
    refusing = started(bobs=[Bob(), Bob(tag="bob2")], accept_forks=False)
    assert not refusing.events(SubscriptionForked)
    assert refusing.ladder.count("0 <- 481") == 1
    assert refusing.events(NotifierTerminated)[0].status == 481


def test_notify_for_no_subscription_gets_481() -> None:
    net = started()
    (notifier,) = net.notifiers()
    notifier.notify(1.0, body=CLOSED)
    (notify,) = notifier.requests_to_send()
    stranger = wire(notify)
    stranger.headers.set("Call-ID", "someone-else")
    chosen, response = dispatch_notify(net.subs, stranger, 1.0)
    assert chosen is None and response.status == 481
    other_event = wire(notify)
    other_event.headers.set("Event", "dialog")
    assert dispatch_notify(net.subs, other_event, 1.0)[1].status == 481
    assert net.sub.receive_notify(other_event, 1.0).status == 481
    bad = wire(notify)
    bad.headers.set("Event", "dialog;id")
    assert dispatch_notify(net.subs, bad, 1.0)[1].status == 400
    # the real one, then the same again: out of order is 500 (RFC 3261 §12.2.2)
    chosen, response = dispatch_notify(net.subs, wire(notify), 1.0)
    assert chosen is net.sub and response.status == 200
    older = wire(notify)
    older.headers.set("CSeq", f"{notify.cseq.seq - 1} NOTIFY")
    assert net.sub.receive_notify(older, 1.0).status == 500
    missing = wire(notify)
    missing.headers.set("CSeq", f"{notify.cseq.seq + 1} NOTIFY")
    missing.headers.remove("Subscription-State")
    assert net.sub.receive_notify(missing, 1.0).status == 400


def test_a_subscriber_gone_answers_481_and_the_notifier_ends() -> None:
    net = started()
    net.sub.close()
    (notifier,) = net.notifiers()
    notifier.notify(5.0, body=CLOSED)
    net.pump()
    assert net.ladder[-1] == "0 <- 481"
    (ended,) = net.events(NotifierTerminated)
    assert (ended.reason, ended.status) == (None, 481)
    assert notifier.phase is Phase.TERMINATED
    with pytest.raises(LocalProtocolError):
        notifier.notify(6.0, body=OPEN)
    with pytest.raises(LocalProtocolError):
        net.sub.subscribe(6.0)


# -- termination by the notifier ----------------------------------------------------
@pytest.mark.parametrize(
    ("reason", "retry_after", "retry_in"),
    [
        ("deactivated", None, 0.0),
        ("deactivated", 50, 0.0),  # retry-after has no meaning for deactivated
        ("timeout", None, 0.0),
        ("probation", 30, 30.0),
        ("probation", None, 60.0),
        ("giveup", 20, 20.0),
        ("giveup", None, 0.0),
        ("rejected", 10, None),
        ("noresource", None, None),
        ("invariant", None, None),
        ("some-extension", 5, 5.0),
        (None, None, 0.0),
    ],
)
def test_terminated_with_retry_after(
    reason: str | None, retry_after: int | None, retry_in: float | None
) -> None:
    net = started()
    net.run(10.0)
    net.notifiers()[0].terminate(net.now, reason, retry_after=retry_after, body=CLOSED)
    net.pump()
    final = net.events(NotifyReceived)[-1]
    assert final.state == SubscriptionStateHeader("terminated", None, reason, retry_after)
    assert final.body == CLOSED
    terminated = net.events(SubscriptionTerminated)[0]
    assert terminated.reason == reason
    expected = None if retry_in is None else 10.0 + retry_in
    assert terminated.retry_at == expected
    (ended,) = net.events(NotifierTerminated)
    assert ended.reason == reason and ended.status is None
    net.run(200.0)
    subscribes = [line for line in net.ladder if "SUBSCRIBE" in line]
    if expected is None:
        assert len(subscribes) == 1 and net.sub.phase is Phase.TERMINATED
        assert net.sub.get_timer() is None
    else:
        assert subscribes[1] == f"{expected:g} SUBSCRIBE Expires=3600"
        assert net.sub.phase is Phase.ACTIVE and len(net.notifiers()) == 2


def test_re_subscriptions_are_bounded() -> None:
    net = started()
    for _ in range(10):
        for notifier in net.notifiers():
            if notifier.phase is not Phase.TERMINATED:
                notifier.terminate(net.now, "deactivated")
        net.run(net.now + 1.0)
    # an active NOTIFY in between resets the count: every one is retried
    assert len(net.notifiers()) == 11
    net.bobs[0].state = SubState.PENDING
    for _ in range(10):
        for notifier in net.notifiers():
            if notifier.phase is not Phase.TERMINATED:
                notifier.terminate(net.now, "deactivated")
        net.run(net.now + 1.0)
    assert len(net.notifiers()) == 11 + 5
    assert net.events(SubscriptionTerminated)[-1].retry_at is None


def test_unsubscribe_cancels_a_planned_re_subscription() -> None:
    net = started()
    net.now = 1.0
    net.notifiers()[0].terminate(1.0, "probation", retry_after=100)
    net.pump()
    assert net.sub.get_timer() == 101.0
    net.sub.unsubscribe(2.0)
    assert net.sub.get_timer() is None
    net.run(500.0)
    assert len(net.notifiers()) == 1


# -- REFER ----------------------------------------------------------------------------
def invite_dialogs() -> tuple[Dialog, Dialog]:
    """Alice's and Bob's sides of an established call."""
    invite = wire(Request("INVITE", BOB, [
        ("From", ALICE.with_tag("a1")), ("To", NameAddr(BOB)), ("Call-ID", "call-1"),
        ("CSeq", "1 INVITE"), ("Contact", ALICE_CONTACT), ("Max-Forwards", 70),
    ]))  # fmt: skip
    ok = make_response(invite, 200, to_tag="b1", headers=[("Contact", "<sip:bob@10.0.0.2:5060>")])
    return Dialog.from_uac(invite, wire(ok)), Dialog.from_uas(invite, ok)


def refer_in(alice: Dialog, bob: Dialog, *extra: tuple[str, str]) -> tuple[Request, Request]:
    refer = alice.create_request("REFER", headers=[("Refer-To", "<sip:carol@example.com>"), *extra])
    arrived = wire(refer)
    bob.receive_request(arrived)
    return refer, arrived


def test_refer_implicit_subscription() -> None:
    alice, bob = invite_dialogs()
    refer, arrived = refer_in(alice, bob)
    assert refer_sub_requested(arrived)
    sub = Subscriber.for_refer(refer, alice, now=0.0)
    assert sub.event == EventHeader("refer", "2") and sub.get_timer() == 32.0
    with pytest.raises(LocalProtocolError):
        sub.subscribe(0.0)
    sub.receive_response(wire(make_response(arrived, 202)), 0.1)
    notifier = Notifier.for_refer(arrived, bob, now=0.1)
    net = Net(sub)
    net.bobs[0].notifiers.append(notifier)
    net.pump()
    accepted, trying = net.sub_events
    assert isinstance(accepted, SubscriptionAccepted) and accepted.expires is None
    assert isinstance(trying, NotifyReceived) and trying.body == TRYING
    assert trying.request.headers.get("Event") == "refer;id=2"
    assert trying.request.headers.get("Content-Type") == SIPFRAG
    assert trying.state == SubscriptionStateHeader("active", 300)
    notifier.notify(1.0, body=b"SIP/2.0 180 Ringing\r\n")
    notifier.terminate(2.0, "noresource", body=b"SIP/2.0 200 OK\r\n")
    net.pump()
    bodies = [e.body for e in net.events(NotifyReceived)]
    assert bodies == [TRYING, b"SIP/2.0 180 Ringing\r\n", b"SIP/2.0 200 OK\r\n"]
    terminated = net.events(SubscriptionTerminated)[0]
    assert terminated.reason == "noresource" and terminated.retry_at is None
    assert net.events(NotifierTerminated)[0].reason == "noresource"
    # the call goes on: the subscription never ends a dialog it shares
    assert alice.state is DialogState.CONFIRMED and bob.state is DialogState.CONFIRMED


def test_two_refers_in_one_dialog_are_told_apart_by_id() -> None:
    alice, bob = invite_dialogs()
    subs, notifiers = [], []
    for now in (0.0, 1.0):
        refer, arrived = refer_in(alice, bob)
        subs.append(Subscriber.for_refer(refer, alice, now=now))
        subs[-1].receive_response(wire(make_response(arrived, 202)), now)
        notifiers.append(Notifier.for_refer(arrived, bob, now=now))
    assert [n.event.id for n in notifiers] == ["2", "3"]
    for notifier in notifiers:  # in CSeq order: they share Bob's dialog
        (notify,) = notifier.requests_to_send()
        chosen, response = dispatch_notify(subs, wire(notify), 2.0)
        assert response.status == 200 and chosen is subs[notifiers.index(notifier)]
        notifier.receive_response(wire(response), 2.0)
    # an id-less NOTIFY (allowed for the first REFER of a dialog) still matches
    notifiers[0].notify(3.0, body=b"SIP/2.0 183 Session Progress\r\n")
    (notify,) = notifiers[0].requests_to_send()
    idless = wire(notify)
    idless.headers.set("Event", "refer")
    chosen, response = dispatch_notify(subs, idless, 3.0)
    assert response.status == 200 and chosen is subs[0]


def test_refer_sub_false() -> None:
    alice, bob = invite_dialogs()
    refer, arrived = refer_in(alice, bob, ("Refer-Sub", "false"))
    assert not refer_sub_requested(arrived)
    sub = Subscriber.for_refer(refer, alice, now=0.0)
    sub.receive_response(wire(make_response(arrived, 202, headers=[("Refer-Sub", "false")])), 0.1)
    accepted = sub.next_event()
    terminated = sub.next_event()
    assert isinstance(accepted, SubscriptionAccepted)
    assert isinstance(terminated, SubscriptionTerminated) and terminated.status == 202
    assert sub.phase is Phase.TERMINATED and sub.get_timer() is None
    assert alice.state is DialogState.CONFIRMED


def test_refer_refused_ends_its_subscription() -> None:
    alice, bob = invite_dialogs()
    refer, arrived = refer_in(alice, bob)
    sub = Subscriber.for_refer(refer, alice, now=0.0)
    sub.receive_response(wire(make_response(arrived, 603)), 0.1)
    terminated = sub.next_event()
    assert isinstance(terminated, SubscriptionTerminated) and terminated.status == 603
    assert alice.state is DialogState.CONFIRMED


def test_subscribe_inside_an_existing_dialog() -> None:
    alice, bob_dialog = invite_dialogs()
    sub = Subscriber.in_dialog(alice, "dialog")
    sub.subscribe(0.0)
    (request,) = sub.requests_to_send()
    assert request.to.tag == "b1" and request.call_id == "call-1"
    assert request.headers.get("Accept") == "application/dialog-info+xml"
    arrived = wire(request)
    notifier, response = Notifier.accept(
        arrived, to_tag="unused", contact=NameAddr.parse("<sip:bob@10.0.0.2:5060>"), now=0.0,
        packages=["dialog"], dialog=bob_dialog,
    )  # fmt: skip
    sub.receive_response(wire(response), 0.0)
    (notify,) = notifier.requests_to_send()
    answer = sub.receive_notify(wire(notify), 0.0)
    assert answer.status == 200 and sub.phase is Phase.ACTIVE
    notifier.receive_response(wire(answer), 0.0)
    notifier.terminate(1.0, "noresource")
    (final,) = notifier.requests_to_send()
    assert sub.receive_notify(wire(final), 1.0).status == 200
    notifier.receive_response(make_response(final, 200), 1.0)
    assert sub.phase is Phase.TERMINATED and notifier.phase is Phase.TERMINATED
    assert alice.state is DialogState.CONFIRMED and bob_dialog.state is DialogState.CONFIRMED


# -- the notifier alone -----------------------------------------------------------
def test_a_pending_subscription_becomes_active() -> None:
    net = started(bobs=[Bob(state=SubState.PENDING)])
    assert net.sub.phase is Phase.PENDING
    assert net.events(NotifyReceived)[0].state == SubscriptionStateHeader("pending", 3600)
    net.notifiers()[0].notify(5.0, state=SubState.ACTIVE)
    net.pump()
    assert net.sub.phase is Phase.ACTIVE


def test_notifier_refresh_edges() -> None:
    net = started()
    (notifier,) = net.notifiers()
    base = net.sub.dialog
    assert base is not None
    too_brief = base.create_request("SUBSCRIBE", headers=[("Event", "presence"), ("Expires", 5)])
    answer = notifier.receive_subscribe(wire(too_brief), 1.0)
    assert answer.status == 423 and answer.headers.get("Min-Expires") == "60"
    other = base.create_request("SUBSCRIBE", headers=[("Event", "presence;id=9")])
    assert notifier.receive_subscribe(wire(other), 1.0).status == 481
    long = base.create_request("SUBSCRIBE", headers=[("Event", "presence"), ("Expires", 10**6)])
    ok = notifier.receive_subscribe(wire(long), 1.0)
    assert ok.status == 200 and ok.headers.get("Expires") == "86400"
    assert ok.contact is not None and notifier.expires_at == 86401.0
    plain = base.create_request("SUBSCRIBE", headers=[("Event", "presence")])
    assert notifier.receive_subscribe(wire(plain), 2.0).headers.get("Expires") == "3600"
    notifier.terminate(3.0, "deactivated")
    late = base.create_request("SUBSCRIBE", headers=[("Event", "presence")])
    assert notifier.receive_subscribe(wire(late), 3.0).status == 481
    with pytest.raises(LocalProtocolError):
        Notifier(base, EventHeader("presence"), expires=60, now=0.0, body=b"x")


def test_notifier_keeps_the_subscription_after_a_500() -> None:
    net = started()
    (notifier,) = net.notifiers()
    notifier.notify(1.0, body=CLOSED)
    (notify,) = notifier.requests_to_send()
    notifier.receive_response(make_response(notify, 500), 1.0)
    assert notifier.phase is Phase.ACTIVE and not net.events(NotifierTerminated)
    notifier.notify(2.0, body=OPEN)
    (again,) = notifier.requests_to_send()
    notifier.transaction_failed(notify, 40.0)  # an old transaction: ignored
    assert notifier.phase is Phase.ACTIVE
    notifier.transaction_failed(again, 40.0)
    assert notifier.phase is Phase.TERMINATED
    assert notifier.dialog.state is DialogState.TERMINATED
