"""Reliable provisional responses (RFC 3262): the RSeq and RAck values, the
UAS side (RSeq numbering, retransmissions on a virtual clock, the give-up,
PRACK matching, one outstanding 1xx at a time, the 2xx held for a PRACK)
and the UAC side (what to PRACK, in order, per fork), with Hypothesis
properties for the parsers and the UAC's ordering."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.dialog import Dialog
from sansip.dialog.prack import (
    MAX_RSEQ,
    REL100,
    PrackResult,
    PrackTimeout,
    PrackTracker,
    RAck,
    ReliableProvisionals,
    format_rack,
    format_rseq,
    invite_header,
    is_reliable,
    parse_rack,
    parse_rseq,
    rack_of,
    reliable_wanted,
    rseq_of,
)
from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.message import ParseError, Request, Response, make_response, parse
from sansip.testing import VirtualClock
from sansip.transaction import TimerConfig
from tests.conftest import examples

ROUND_TRIP = settings(max_examples=examples(100), deadline=None)
FUZZ = settings(max_examples=examples(300), deadline=None)
SDP = b"v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"


class Bits:
    """A random source that always draws ``value``."""

    def __init__(self, value: int) -> None:
        self.value = value

    def getrandbits(self, k: int, /) -> int:
        return self.value % (1 << k)


def invite(*lines: str, body: bytes = b"", cseq: int = 1) -> Request:
    text = "\n".join(
        [
            "INVITE sip:bob@127.0.0.2 SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpr1",
            "From: <sip:alice@127.0.0.1>;tag=a1",
            "To: <sip:bob@127.0.0.2>",
            "Call-ID: prack-1@127.0.0.1",
            f"CSeq: {cseq} INVITE",
            "Contact: <sip:alice@127.0.0.1:5060>",
            "Max-Forwards: 70",
            *lines,
            *(["Content-Type: application/sdp"] if body else []),
            f"Content-Length: {len(body)}",
            "",
            "",
        ]
    )
    msg = parse(text.replace("\n", "\r\n").encode() + body)
    assert isinstance(msg, Request)
    return msg


def provisional(
    request: Request, status: int = 180, *, body: bytes = b"", tag: str = "b1"
) -> Response:
    headers: list[tuple[str, object]] = [("Contact", "<sip:bob@127.0.0.2:5062>")]
    if body:
        headers.append(("Content-Type", "application/sdp"))
    return make_response(request, status, to_tag=tag, headers=headers, body=body)


def prack(rack: str | None, *, body: bytes = b"") -> Request:
    text = "\n".join(
        [
            "PRACK sip:bob@127.0.0.2:5062 SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpr2",
            "From: <sip:alice@127.0.0.1>;tag=a1",
            "To: <sip:bob@127.0.0.2>;tag=b1",
            "Call-ID: prack-1@127.0.0.1",
            "CSeq: 2 PRACK",
            *([f"RAck: {rack}"] if rack is not None else []),
            f"Content-Length: {len(body)}",
            "",
            "",
        ]
    )
    msg = parse(text.replace("\n", "\r\n").encode() + body)
    assert isinstance(msg, Request)
    return msg


def wire(response: Response) -> Response:
    """``response`` as the peer receives it."""
    msg = parse(bytes(response))
    assert isinstance(msg, Response)
    return msg


def reliable_1xx(rseq: int | str, *, cseq: int = 1, status: int = 183, tag: str = "b1") -> Response:
    response = provisional(invite(cseq=cseq), status, tag=tag)
    response.headers.add("Require", REL100)
    response.headers.add("RSeq", str(rseq))
    return wire(response)


# -- header values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("988789", 988789), ("1", 1), ("4294967295", MAX_RSEQ), ("0007", 7), (" \t42 ", 42)],
)
def test_rseq_values(text: str, value: int) -> None:
    assert parse_rseq(text) == value
    assert parse_rseq(format_rseq(value)) == value


@pytest.mark.parametrize(
    "text", ["", "0", "000", "4294967296", "-1", "+1", "1 2", "1;x", "abc", "\u0661", "9" * 5000]
)
def test_bad_rseq_is_a_400(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_rseq(text)
    assert isinstance(info.value, RemoteProtocolError) and info.value.status == 400


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("776656 1 INVITE", RAck(776656, 1, "INVITE")),
        ("1\t\t4294967295  INVITE", RAck(1, MAX_RSEQ, "INVITE")),
        (" 05 010 invite ", RAck(5, 10, "invite")),  # methods are case-sensitive: kept
    ],
)
def test_rack_values(text: str, value: RAck) -> None:
    assert parse_rack(text) == value
    assert parse_rack(format_rack(value)) == value


@pytest.mark.parametrize(
    "text",
    ["", "1 INVITE", "1 2", "a 1 INVITE", "1 2 INV ITE", "1 2 INVITE;x", "1,2 INVITE",
     "4294967296 1 INVITE", "1 4294967296 INVITE", "9" * 5000 + " 1 INVITE", "1 2 INVITÉ"],
)  # fmt: skip
def test_bad_rack_is_a_400(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_rack(text)
    assert info.value.status == 400


def test_values_that_cannot_be_written() -> None:
    for rseq in (0, -1, MAX_RSEQ + 1):
        with pytest.raises(LocalProtocolError):
            format_rseq(rseq)
    for rack in (RAck(MAX_RSEQ + 1, 1, "INVITE"), RAck(1, -1, "INVITE"), RAck(1, 1, "IN VITE")):
        with pytest.raises(LocalProtocolError):
            format_rack(rack)


def test_read_from_messages() -> None:
    assert rseq_of(reliable_1xx(988789)) == 988789
    assert rseq_of(provisional(invite())) is None
    assert rack_of(prack("776656 1 INVITE")) == RAck(776656, 1, "INVITE")
    assert rack_of(prack(None)) is None
    with pytest.raises(ParseError):
        rack_of(prack("1 INVITE"))


def test_whether_to_send_reliably() -> None:
    assert reliable_wanted(invite("Require: 100rel"), prefer=False)
    assert reliable_wanted(invite("Supported: timer, 100REL"))
    assert not reliable_wanted(invite("Supported: 100rel"), prefer=False)
    assert not reliable_wanted(invite("Supported: timer"))
    assert not reliable_wanted(invite())


def test_invite_header() -> None:
    assert invite_header() == ("Supported", "100rel")
    assert invite_header(require=True) == ("Require", "100rel")


def test_which_responses_are_reliable() -> None:
    assert is_reliable(reliable_1xx(5))
    trying = make_response(invite(), 100, headers=[("Require", "100rel"), ("RSeq", "5")])
    assert not is_reliable(trying)  # §4: a 100's 100rel is ignored
    assert not is_reliable(provisional(invite()))
    supported = provisional(invite())
    supported.headers.add("Supported", REL100)
    assert not is_reliable(supported)
    ok = make_response(invite(), 200, to_tag="b1", headers=[("Require", "100rel")])
    assert not is_reliable(ok)


# -- the UAS ---------------------------------------------------------------------


def uas(
    *lines: str, body: bytes = b"", value: int = 988788, t1: float = 0.5
) -> ReliableProvisionals:
    return ReliableProvisionals(
        invite(*lines, body=body), Bits(value), timers=TimerConfig(t1=t1, t2=max(4.0, t1))
    )


def test_reliable_1xx_gets_require_and_rseq() -> None:
    rel = uas("Supported: 100rel")
    assert rel.reliable
    ringing = provisional(rel.invite)
    ringing.headers.add("Require", "timer")
    out = rel.send(ringing, 0.0)
    assert out is ringing
    assert out.headers.values("Require") == ["timer", "100rel"]
    assert out.headers.get("RSeq") == "988789"
    assert is_reliable(wire(out))
    assert rel.on_prack(prack("988789 1 INVITE"), 0.1).status == 200
    second = rel.send(provisional(rel.invite, 183), 0.2)
    assert second is not None and rseq_of(second) == 988790
    assert second.headers.values("Require") == ["100rel"]


@pytest.mark.parametrize(
    ("bits", "rseq"), [(0, 1), (2**31 - 2, 2**31 - 1), (2**31 - 1, 1), (2**63 - 1, 2)]
)
def test_first_rseq_is_drawn_in_range(bits: int, rseq: int) -> None:
    rel = uas("Require: 100rel", value=bits)
    assert rseq_of(sent(rel.send(provisional(rel.invite), 0.0))) == rseq


def test_first_rseq_from_a_seeded_rng() -> None:
    seen = set()
    for seed in range(50):
        rel = ReliableProvisionals(invite("Require: 100rel"), random.Random(seed))
        first = rseq_of(sent(rel.send(provisional(rel.invite), 0.0)))
        assert first is not None and 1 <= first <= 2**31 - 1
        seen.add(first)
    assert len(seen) == 50


def sent(response: Response | None) -> Response:
    assert response is not None
    return response


def run(rel: ReliableProvisionals, clock: VirtualClock, until: float) -> list[tuple[float, str]]:
    """Fire the timer at each of its deadlines up to ``until``."""
    fired: list[tuple[float, str]] = []
    while (at := rel.get_timer()) is not None and at <= until:
        clock.advance_to(max(at, clock.now))
        outcome = rel.handle_timer(clock.now)
        assert outcome is not None
        fired.append((clock.now, "give up" if isinstance(outcome, PrackTimeout) else "resend"))
    clock.advance_to(max(until, clock.now))
    assert rel.handle_timer(clock.now) is None
    return fired


def test_retransmitted_at_t1_doubling_until_64_t1() -> None:
    """§3: T1, 2*T1, 4*T1, ... with no T2 cap; give up 64*T1 after the first send."""
    clock = VirtualClock()
    rel = uas("Require: 100rel")
    ringing = rel.send(provisional(rel.invite), clock.now)
    assert ringing is not None and rel.get_timer() == 0.5
    assert rel.handle_timer(0.4) is None
    fired = run(rel, clock, 100.0)
    assert fired == [(0.5, "resend"), (1.5, "resend"), (3.5, "resend"), (7.5, "resend"),
                     (15.5, "resend"), (31.5, "resend"), (32.0, "give up")]  # fmt: skip
    assert rel.timed_out and rel.finished and rel.get_timer() is None


def test_retransmissions_return_the_response_and_the_give_up_its_status() -> None:
    rel = uas("Require: 100rel", t1=0.1)
    ringing = rel.send(provisional(rel.invite), 10.0)
    assert ringing is not None and rel.handle_timer(10.1) is ringing
    timeout = rel.handle_timer(10.0 + 6.4)
    assert timeout == PrackTimeout(ringing, 500)
    # After the give-up: the INVITE is rejected; nothing more is sent reliably.
    assert rel.may_send_final(500) and rel.may_send_final(200)
    assert rel.on_prack(prack("988789 1 INVITE"), 20.0).status == 481
    with pytest.raises(LocalProtocolError):
        rel.send(provisional(rel.invite, 183), 20.0)


def test_late_timer_calls_resend_once_then_reschedule() -> None:
    rel = uas("Require: 100rel")
    rel.send(provisional(rel.invite), 0.0)
    assert rel.handle_timer(3.0) is not None  # 0.5 was missed: one retransmission
    assert rel.get_timer() == 4.0
    assert rel.handle_timer(3.5) is None


def test_prack_matching() -> None:
    rel = uas("Require: 100rel")
    ringing = rel.send(provisional(rel.invite), 0.0)
    for wrong in ("988790 1 INVITE", "988788 1 INVITE", "988789 2 INVITE", "988789 1 BYE",
                  "988789 1 invite"):  # fmt: skip
        assert rel.on_prack(prack(wrong), 0.2) == PrackResult(481)
    assert rel.get_timer() == 0.5  # still unacknowledged
    result = rel.on_prack(prack("988789 1 INVITE"), 0.3)
    assert result == PrackResult(200, ringing)
    assert rel.get_timer() is None and rel.handle_timer(10.0) is None
    assert rel.on_prack(prack("988789 1 INVITE"), 0.4).status == 481  # already acknowledged


def test_prack_without_or_with_a_bad_rack_is_a_400() -> None:
    rel = uas("Require: 100rel")
    rel.send(provisional(rel.invite), 0.0)
    for rack in (None, "988789 INVITE", "x 1 INVITE"):
        with pytest.raises(ParseError) as info:
            rel.on_prack(prack(rack), 0.1)
        assert info.value.status == 400
    with pytest.raises(LocalProtocolError):
        rel.on_prack(invite(), 0.1)


def test_a_second_reliable_1xx_waits_for_the_prack() -> None:
    """§3: one unacknowledged reliable 1xx at a time; the next goes on the PRACK."""
    clock = VirtualClock()
    rel = uas("Require: 100rel")
    rel.send(provisional(rel.invite, 180), clock.now)
    progress = provisional(rel.invite, 183)
    assert rel.send(progress, 0.2) is None
    assert rseq_of(progress) == 988790  # numbered in order already
    # Its PRACK cannot come before it was sent.
    assert rel.on_prack(prack("988790 1 INVITE"), 0.3).status == 481
    assert run(rel, clock, 1.0) == [(0.5, "resend")]
    result = rel.on_prack(prack("988789 1 INVITE"), clock.now)
    assert result.status == 200 and result.next_provisional is progress
    # The second one's retransmissions start when it goes.
    assert rel.get_timer() == 1.5
    assert run(rel, clock, 2.6) == [(1.5, "resend"), (2.5, "resend")]
    assert rel.on_prack(prack("988790 1 INVITE"), clock.now) == PrackResult(200, progress)
    assert rel.get_timer() is None


def test_the_2xx_waits_for_the_prack_of_an_offer() -> None:
    """An INVITE without SDP: the reliable 183's SDP is the offer, answered in the PRACK."""
    rel = uas("Supported: 100rel")
    assert rel.may_send_final(200)
    early = rel.send(provisional(rel.invite, 183, body=SDP), 0.0)
    assert early is not None
    assert not rel.may_send_final(200) and not rel.may_send_final(299)
    assert rel.may_send_final(486) and rel.may_send_final(302)  # only a 2xx waits
    assert rel.on_prack(prack("988790 1 INVITE"), 0.1).final_may_go is False
    answer = b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n"
    result = rel.on_prack(prack("988789 1 INVITE", body=answer), 0.2)
    assert result == PrackResult(200, early, answer, answer=True, final_may_go=True)
    assert rel.may_send_final(200)


def test_an_answer_in_a_1xx_also_holds_the_2xx() -> None:
    """An INVITE with an offer: the 1xx's SDP is the answer; a PRACK body is a new offer."""
    rel = uas("Require: 100rel", body=SDP)
    rel.send(provisional(rel.invite, 183, body=SDP), 0.0)
    assert not rel.may_send_final(200)
    result = rel.on_prack(prack("988789 1 INVITE", body=b"v=0\r\n"), 0.1)
    assert result.status == 200 and not result.answer and result.body == b"v=0\r\n"
    assert result.final_may_go


def test_a_waiting_1xx_with_sdp_holds_the_2xx_too() -> None:
    rel = uas("Require: 100rel")
    rel.send(provisional(rel.invite, 180), 0.0)
    assert rel.may_send_final(200)
    rel.send(provisional(rel.invite, 183, body=SDP), 0.1, offer=True)
    assert not rel.may_send_final(200)
    result = rel.on_prack(prack("988789 1 INVITE"), 0.2)
    assert result.next_provisional is not None and not result.final_may_go
    result = rel.on_prack(prack("988790 1 INVITE", body=b"v=0\r\n"), 0.3)
    assert result.answer and result.final_may_go


def test_only_the_first_offer_is_an_offer_by_default() -> None:
    rel = uas("Require: 100rel")
    rel.send(provisional(rel.invite, 183, body=SDP), 0.0)
    assert rel.on_prack(prack("988789 1 INVITE", body=b"v=0\r\n"), 0.1).answer
    rel.send(provisional(rel.invite, 183, body=SDP), 0.2)  # the same SDP again
    assert not rel.on_prack(prack("988790 1 INVITE"), 0.3).answer


def test_final_response_stops_retransmissions_but_pracks_are_still_answered() -> None:
    rel = uas("Require: 100rel")
    ringing = rel.send(provisional(rel.invite, 180), 0.0)
    rel.send(provisional(rel.invite, 181), 0.1)
    assert rel.may_send_final(486)
    rel.final_response_sent()
    assert rel.get_timer() is None and rel.handle_timer(40.0) is None
    result = rel.on_prack(prack("988789 1 INVITE"), 1.0)
    assert result == PrackResult(200, ringing)  # the waiting 181 was dropped
    assert rel.on_prack(prack("988790 1 INVITE"), 1.1).status == 481
    with pytest.raises(LocalProtocolError):
        rel.send(provisional(rel.invite, 183), 1.2)


def test_what_cannot_be_sent_reliably() -> None:
    rel = uas("Supported: 100rel")
    for status in (100, 200, 486):
        with pytest.raises(LocalProtocolError):
            rel.send(make_response(rel.invite, status, to_tag="b1"), 0.0)
    with pytest.raises(LocalProtocolError):
        rel.send(make_response(rel.invite, 180), 0.0)  # no To tag: no dialog
    with pytest.raises(LocalProtocolError):
        rel.send(provisional(invite(cseq=2)), 0.0)  # another transaction's
    for unwilling in (uas(), ReliableProvisionals(invite("Supported: 100rel"), Bits(0),
                                                  prefer=False)):  # fmt: skip
        assert not unwilling.reliable
        with pytest.raises(LocalProtocolError):
            unwilling.send(provisional(unwilling.invite), 0.0)
    with pytest.raises(LocalProtocolError):
        ReliableProvisionals(prack("1 1 INVITE"), Bits(0))


# -- the UAC -------------------------------------------------------------------


def test_prack_once_per_new_rseq() -> None:
    tracker = PrackTracker()
    assert tracker.on_reliable(reliable_1xx(988789, status=180)) == RAck(988789, 1, "INVITE")
    assert tracker.on_reliable(reliable_1xx(988789, status=180)) is None  # retransmission
    assert tracker.on_reliable(reliable_1xx(988790)) == RAck(988790, 1, "INVITE")
    assert tracker.on_reliable(reliable_1xx(988789, status=180)) is None  # a late copy
    assert (tracker.cseq, tracker.rseq) == (1, 988790)


def test_out_of_order_is_discarded_until_the_missing_one_comes() -> None:
    tracker = PrackTracker()
    assert tracker.on_reliable(reliable_1xx(5)) is not None
    assert tracker.on_reliable(reliable_1xx(7)) is None  # 6 is missing: not PRACKed (§4)
    assert tracker.on_reliable(reliable_1xx(6)) == RAck(6, 1, "INVITE")
    assert tracker.on_reliable(reliable_1xx(7)) == RAck(7, 1, "INVITE")  # retransmitted by the UAS


def test_rseq_space_is_per_transaction() -> None:
    tracker = PrackTracker()
    assert tracker.on_reliable(reliable_1xx(500)) == RAck(500, 1, "INVITE")
    # A re-INVITE's reliable 1xx starts again anywhere; the old one's are dropped.
    assert tracker.on_reliable(reliable_1xx(3, cseq=4)) == RAck(3, 4, "INVITE")
    assert tracker.on_reliable(reliable_1xx(501)) is None
    assert tracker.on_reliable(reliable_1xx(4, cseq=4)) == RAck(4, 4, "INVITE")


def test_forked_early_dialogs_have_their_own_rseq() -> None:
    """Errata 4600: each fork numbers its reliable 1xx on its own."""
    forks = {"b1": PrackTracker(), "b2": PrackTracker()}
    arrivals = [("b1", 10), ("b2", 2000), ("b2", 2000), ("b1", 11), ("b2", 2001), ("b1", 11),
                ("b2", 10), ("b1", 12)]  # fmt: skip
    pracked = []
    for tag, rseq in arrivals:
        response = reliable_1xx(rseq, tag=tag)
        assert response.to.tag == tag
        rack = forks[tag].on_reliable(response)
        if rack is not None:
            pracked.append((tag, rack.rseq))
    assert pracked == [("b1", 10), ("b2", 2000), ("b1", 11), ("b2", 2001), ("b1", 12)]


def test_what_the_uac_refuses() -> None:
    tracker = PrackTracker()
    with pytest.raises(LocalProtocolError):
        tracker.on_reliable(wire(provisional(invite())))  # not reliable
    missing = provisional(invite())
    missing.headers.add("Require", REL100)
    for bad in (None, "0", "x", "4294967296"):
        response = wire(missing)
        if bad is not None:
            response.headers.add("RSeq", bad)
        with pytest.raises(ParseError) as info:
            tracker.on_reliable(response)
        assert info.value.status == 400
    assert tracker.rseq is None


def test_both_sides_with_a_dialog() -> None:
    """The UAS's reliable 183 with an offer, the UAC's PRACK with the answer
    built by the early dialog, the UAS's 200 and then its 2xx."""
    request = invite(invite_header()[0] + ": " + invite_header()[1])
    rel = ReliableProvisionals(request, random.Random(7))
    early = rel.send(provisional(request, 183, body=SDP), 0.0)
    assert early is not None and not rel.may_send_final(200)
    received = wire(early)
    assert is_reliable(received)
    dialog = Dialog.from_uac(request, received)
    tracker = PrackTracker()
    rack = tracker.on_reliable(received)
    assert rack is not None and rack.rseq == rseq_of(early)
    answer = b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n"
    sent = dialog.create_request("PRACK", headers=[("RAck", format_rack(rack))], body=answer)
    sent.headers.add("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpr3")
    arrived = parse(bytes(sent))
    assert isinstance(arrived, Request) and arrived.cseq.seq == 2
    result = rel.on_prack(arrived, 0.3)
    assert result.status == 200 and result.answer and result.body == answer
    assert result.final_may_go and rel.may_send_final(200)
    assert tracker.on_reliable(wire(early)) is None  # a retransmission: no second PRACK


# -- properties ----------------------------------------------------------------

rseqs = st.integers(1, MAX_RSEQ)
numbers = st.integers(0, MAX_RSEQ)
methods = st.text("ABCINVTEabc019-.!%*_+`'~", min_size=1, max_size=10)
blanks = st.sampled_from(["", " ", "\t", " \t "])
seps = st.sampled_from([" ", "\t", "  ", " \t "])
zeros = st.sampled_from(["", "0", "000"])


@ROUND_TRIP
@given(rseqs, blanks, zeros)
def test_rseq_round_trip(rseq: int, blank: str, zero: str) -> None:
    assert parse_rseq(format_rseq(rseq)) == rseq
    assert parse_rseq(f"{blank}{zero}{rseq}{blank}") == rseq


@ROUND_TRIP
@given(rseq=numbers, seq=numbers, method=methods, sep=seps, blank=blanks)
def test_rack_round_trip(*, rseq: int, seq: int, method: str, sep: str, blank: str) -> None:
    rack = RAck(rseq, seq, method)
    assert parse_rack(format_rack(rack)) == rack
    assert parse_rack(f"{blank}{rseq}{sep}{seq}{sep[::-1]}{method}{blank}") == rack


SIP_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789 \t;,INVTE-\r\n\x00\xe9\u0661", max_size=40),
    st.builds(
        lambda n, rest: f"{n}{rest}", numbers, st.text(alphabet=" \t0123456789IN", max_size=20)
    ),
    st.builds(lambda n: "9" * n, st.integers(8, 6000)),
)


@FUZZ
@given(SIP_TEXT)
def test_arbitrary_text_raises_only_parse_errors(text: str) -> None:
    for parser in (parse_rseq, parse_rack):
        try:
            parser(text)
        except ParseError as exc:
            assert exc.status == 400


@FUZZ
@given(SIP_TEXT)
def test_arbitrary_fields_raise_only_parse_errors(text: str) -> None:
    """The same through messages: a PRACK at the UAS, a reliable 1xx at the UAC."""
    text = text.replace("\r", " ").replace("\n", " ")  # a field value has neither
    rel = uas("Require: 100rel")
    rel.send(provisional(rel.invite), 0.0)
    request = prack(None)
    request.headers.add("RAck", text)
    try:
        assert rel.on_prack(request, 0.1).status in (200, 481)
    except ParseError as exc:
        assert exc.status == 400
    response = wire(provisional(invite()))
    response.headers.add("Require", REL100)
    response.headers.add("RSeq", text)
    try:
        assert PrackTracker().on_reliable(response) is not None
    except ParseError as exc:
        assert exc.status == 400


@ROUND_TRIP
@given(
    first=rseqs.filter(lambda r: r < MAX_RSEQ - 20), steps=st.lists(st.integers(-3, 4), max_size=30)
)
def test_uac_pracks_each_rseq_once_and_in_order(first: int, steps: list[int]) -> None:
    """Whatever order, duplicates and gaps the 1xx arrive in, the PRACKed
    RSeqs are the first one and then each next one exactly once."""
    tracker = PrackTracker()
    arrivals = [first] + [max(1, first + step) for step in steps]
    pracked = [rack.rseq for r in arrivals if (rack := tracker.on_reliable(reliable_1xx(r)))]
    assert pracked == list(range(first, first + len(pracked)))
    assert tracker.rseq == pracked[-1]


@ROUND_TRIP
@given(
    bits=st.integers(0, 2**63 - 1),
    count=st.integers(1, 6),
    prack_at=st.floats(0.0, 40.0, allow_nan=False),
)
def test_uas_numbers_in_order_and_stops_on_prack(bits: int, count: int, prack_at: float) -> None:
    rel = uas("Require: 100rel", value=bits)
    out = [rel.send(provisional(rel.invite), 0.0) for _ in range(count)]
    first = rseq_of(sent(out[0]))
    assert first is not None and 1 <= first <= 2**31 - 1
    assert out[1:] == [None] * (count - 1)
    timeline = []
    while (at := rel.get_timer()) is not None and at <= prack_at:
        timeline.append((at, rel.handle_timer(at)))
    if prack_at >= 32.0:
        assert isinstance(timeline[-1][1], PrackTimeout)
        assert rel.on_prack(prack(f"{first} 1 INVITE"), prack_at).status == 481
        return
    result = rel.on_prack(prack(f"{first} 1 INVITE"), prack_at)
    assert result.status == 200
    assert all(fired is out[0] for _, fired in timeline)
    if count > 1:
        assert result.next_provisional is not None
        assert rseq_of(result.next_provisional) == first + 1
