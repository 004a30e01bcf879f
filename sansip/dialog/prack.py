"""Reliable provisional responses (RFC 3262: ``100rel``, PRACK, RSeq,
RAck), sans-IO: nothing here sends, reads a clock or touches a dialog.
The UA hands these helpers the messages it sends and receives and drives
the retransmissions with ``now``; they return what to send or do.

UAS side: one :class:`ReliableProvisionals` per INVITE received
(re-INVITEs too), made when the INVITE arrives (a UA that does not support
``100rel`` at all answers ``Require: 100rel`` with 420 before that)::

    rel = ReliableProvisionals(invite, rng, prefer=True, timers=timers)
    # rel.reliable: Require: 100rel, or Supported: 100rel and prefer (§3)
    # each 101-199 while rel.reliable: out = rel.send(response, now)
    #   (adds Require: 100rel and RSeq in place)
    #   out: respond with it now; None: it waits for the outstanding one's PRACK
    # schedule rel.get_timer(); at it, rel.handle_timer(now) returns
    #   a Response: respond with it again (a retransmission)
    #   PrackTimeout: no PRACK for 64*T1: reject the INVITE with its status
    # a PRACK in the INVITE's dialog: result = rel.on_prack(prack, now)
    #   (ParseError, status 400: no or a malformed RAck)
    #   answer it with make_response(prack, result.status, ...): 200 or 481;
    #   with 200, result.body answers the 1xx's offer when result.answer,
    #   else a non-empty body is an offer whose answer goes in the 200 (§5);
    #   result.next_provisional: the reliable 1xx that waited: respond now
    # before any final response: rel.may_send_final(status); False (a 2xx
    #   while a 1xx with SDP is unacknowledged): hold it until a PRACK's
    #   result.final_may_go, or send a 5xx instead
    # once a final response went: rel.final_response_sent()

Retransmissions start at T1 and double with no T2 cap, unlike a 2xx's
(§3: the UAC retransmits its PRACK on its own, not on each 1xx).

UAC side: ``request.headers.add(*invite_header())`` in every INVITE
(``Supported: 100rel``; ``require=True`` insists with ``Require``, §4),
then one :class:`PrackTracker` per dialog: each early dialog of a forked
INVITE has its own (RSeq numbers are per fork, §3)::

    if is_reliable(response):  # a 101-199 with Require: 100rel
        rack = tracker.on_reliable(response)  # ParseError: drop the response
        if rack is None: drop it  # a retransmission or out of order (§4)
        else: handle the 1xx as usual, then send
            dialog.create_request("PRACK", headers=[("RAck", format_rack(rack))],
                                  body=answer)  # the answer when the 1xx had an offer

A retransmitted 1xx is not PRACKed again (§4: SHOULD NOT; the PRACK
transaction retransmits itself).  Reliable 1xx arriving after the final
response may be PRACKed or dropped (§4: either is allowed).  A malformed
RSeq or RAck raises :class:`ParseError` (a :class:`RemoteProtocolError`,
status 400).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

from sansip.errors import LocalProtocolError
from sansip.message import Message, ParseError, RAck, Request, Response, fields, is_token
from sansip.message.ids import RandomSource
from sansip.transaction import TimerConfig

__all__ = ["MAX_RSEQ", "REL100", "PrackResult", "PrackTimeout", "PrackTracker", "RAck",
           "ReliableProvisionals", "format_rack", "format_rseq", "invite_header",
           "is_reliable", "parse_rack", "parse_rseq", "rack_of", "reliable_wanted",
           "rseq_of"]  # fmt: skip

#: The option tag of the extension (Supported, Require).
REL100: Final = "100rel"
#: The largest RSeq (and RAck number): 2**32-1 (§7.1).
MAX_RSEQ: Final = 2**32 - 1
#: The first RSeq of a transaction is at most this (§3).
_FIRST_RSEQ_MAX: Final = 2**31 - 1


# -- header values -------------------------------------------------------------
def parse_rseq(value: str) -> int:
    """Parse ``RSeq: response-num`` (§7.1): 1 to 2**32-1."""
    return fields.parse_rseq(value.strip(" \t"))


def parse_rack(value: str) -> RAck:
    """Parse ``RAck: response-num LWS CSeq-num LWS Method`` (§7.2)."""
    return fields.parse_rack(value.strip(" \t"))


def format_rseq(rseq: int) -> str:
    """The RSeq value ``rseq`` (LocalProtocolError outside 1..2**32-1)."""
    if not 1 <= rseq <= MAX_RSEQ:
        raise LocalProtocolError(f"RSeq {rseq} out of range")
    return str(rseq)


def format_rack(rack: RAck) -> str:
    """The RAck value of ``rack`` (LocalProtocolError if it cannot be written)."""
    if not (0 <= rack.rseq <= MAX_RSEQ and 0 <= rack.seq <= MAX_RSEQ):
        raise LocalProtocolError(f"RAck numbers out of range: {rack}")
    if not is_token(rack.method):
        raise LocalProtocolError(f"RAck method {rack.method!r} is not a token")
    return f"{rack.rseq} {rack.seq} {rack.method}"


def rseq_of(message: Message) -> int | None:
    """The (first) RSeq of ``message``, or None."""
    value = message.headers.get("RSeq")
    return None if value is None else parse_rseq(value)


def rack_of(message: Message) -> RAck | None:
    """The (first) RAck of ``message``, or None."""
    value = message.headers.get("RAck")
    return None if value is None else parse_rack(value)


def _lists(message: Message, header: str) -> bool:
    return any(tag.lower() == REL100 for tag in message.headers.values(header))


def reliable_wanted(invite: Request, *, prefer: bool = True) -> bool:
    """Whether the 101-199 responses to ``invite`` go reliably (§3): always
    with ``Require: 100rel`` (a UAS that will not answers 420), with
    ``Supported: 100rel`` when we ``prefer`` it, never otherwise."""
    if _lists(invite, "Require"):
        return True
    return prefer and _lists(invite, "Supported")


def invite_header(*, require: bool = False) -> tuple[str, str]:
    """The field of our INVITEs (§4): ``Supported: 100rel``, or ``Require:
    100rel`` to insist (a UA listing Supported may add the tag there)."""
    return ("Require" if require else "Supported", REL100)


def is_reliable(response: Response) -> bool:
    """Whether ``response`` is a reliable provisional: a 101-199 with
    ``Require: 100rel`` (a 100's is ignored, §4)."""
    return 101 <= response.status <= 199 and _lists(response, "Require")


# -- the UAS -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PrackTimeout:
    """No PRACK came within 64*T1 of the first transmission of ``response``:
    reject the INVITE with ``status`` (§3: a 5xx)."""

    response: Response
    status: int = 500


@dataclass(frozen=True, slots=True)
class PrackResult:
    """What :meth:`ReliableProvisionals.on_prack` found.

    ``status`` answers the PRACK: 200 when it acknowledged ``acknowledged``,
    481 when it matched no unacknowledged reliable 1xx (§3).  ``body`` is
    the PRACK's body; ``answer`` says it answers the offer the acknowledged
    1xx carried (empty: the UAC broke §5), otherwise a non-empty body is a
    new offer, answered in the 200.  ``next_provisional`` is the reliable
    1xx that waited and is to be sent now (its retransmissions started);
    ``final_may_go`` whether a 2xx may now be sent (no reliable 1xx with a
    body left unacknowledged).
    """

    status: int
    acknowledged: Response | None = None
    body: bytes = b""
    answer: bool = False
    next_provisional: Response | None = None
    final_may_go: bool = True


@dataclass(slots=True)
class _Reliable:
    response: Response
    rseq: int
    offer: bool
    interval: float = 0.0
    next_at: float = 0.0
    give_up_at: float = 0.0


class ReliableProvisionals:
    """The reliable provisional responses to one INVITE we received (§3).

    ``rng`` draws the first RSeq (uniform in 1..2**31-1); ``prefer`` says
    whether we send reliably when the INVITE only supports ``100rel``;
    ``timers`` gives T1.  One reliable 1xx is outstanding at a time: later
    ones wait in order until its PRACK.
    """

    def __init__(
        self,
        invite: Request,
        rng: RandomSource,
        *,
        prefer: bool = True,
        timers: TimerConfig | None = None,
    ) -> None:
        if invite.method != "INVITE":
            raise LocalProtocolError("reliable provisional responses answer an INVITE")
        self.invite = invite
        #: Whether the 101-199 responses go reliably (:meth:`send` them all).
        self.reliable = reliable_wanted(invite, prefer=prefer)
        self._rng = rng
        self._t1 = (timers or TimerConfig()).t1
        self._next_rseq: int | None = None
        self._current: _Reliable | None = None  # sent, not yet acknowledged
        self._waiting: deque[_Reliable] = deque()
        self._offered = False
        #: True once a final response was sent (or a PRACK timed out).
        self.finished = False
        #: True once :meth:`handle_timer` gave up (:class:`PrackTimeout`).
        self.timed_out = False

    def send(self, response: Response, now: float, *, offer: bool | None = None) -> Response | None:
        """Make ``response`` (a 101-199 to the INVITE, with its To tag)
        reliable: ``Require: 100rel`` and the next RSeq are added in place.
        Returns it to send now, or None when it waits for the PRACK of the
        outstanding one (it comes back as :attr:`PrackResult.next_provisional`).

        ``offer`` says its body is an SDP offer, answered in the PRACK;
        by default a body is an offer when the INVITE had none and no
        earlier reliable 1xx made one.
        """
        if not self.reliable:
            raise LocalProtocolError("this INVITE's provisional responses are not sent reliably")
        if self.finished:
            raise LocalProtocolError("no reliable provisional response after the final one (§3)")
        if not 101 <= response.status <= 199:
            raise LocalProtocolError("only a 101-199 response is sent reliably")
        if response.cseq != self.invite.cseq or response.to.tag is None:
            raise LocalProtocolError("a reliable provisional answers the INVITE, with a To tag")
        rseq = self._next_rseq
        if rseq is None:
            rseq = self._rng.getrandbits(63) % _FIRST_RSEQ_MAX + 1
        elif rseq > MAX_RSEQ:
            raise LocalProtocolError("RSeq exhausted")
        self._next_rseq = rseq + 1
        if offer is None:
            offer = bool(response.body) and not self.invite.body and not self._offered
        self._offered = self._offered or offer
        if not _lists(response, "Require"):
            response.headers.add("Require", REL100)
        response.headers.set("RSeq", format_rseq(rseq))
        reliable = _Reliable(response, rseq, offer)
        if self._current is not None:
            self._waiting.append(reliable)
            return None
        return self._start(reliable, now)

    def _start(self, reliable: _Reliable, now: float) -> Response:
        reliable.interval = self._t1
        reliable.next_at = now + self._t1
        reliable.give_up_at = now + 64 * self._t1
        self._current = reliable
        return reliable.response

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` has something to do, None: nothing; pure."""
        current = self._current
        if current is None or self.finished:
            return None
        return min(current.next_at, current.give_up_at)

    def handle_timer(self, now: float) -> Response | PrackTimeout | None:
        """The outstanding reliable 1xx to send again (T1, doubling), a
        :class:`PrackTimeout` after 64*T1 without its PRACK (then nothing
        more: the INVITE is to be rejected), or None: nothing due."""
        current = self._current
        if current is None or self.finished:
            return None
        if now >= current.give_up_at:
            self._current = None
            self._waiting.clear()
            self.finished = self.timed_out = True
            return PrackTimeout(current.response)
        if now < current.next_at:
            return None
        current.interval *= 2
        current.next_at = now + current.interval
        return current.response

    def on_prack(self, prack: Request, now: float) -> PrackResult:
        """A PRACK in the INVITE's dialog: match its RAck with the outstanding
        reliable 1xx (RSeq, CSeq number and method, §3).  Raises
        :class:`ParseError` (400) when the RAck is missing or malformed."""
        if prack.method != "PRACK":
            raise LocalProtocolError("on_prack takes a PRACK")
        rack = rack_of(prack)
        if rack is None:
            raise ParseError("PRACK without RAck")
        current, cseq = self._current, self.invite.cseq
        if current is None or rack != (current.rseq, cseq.seq, cseq.method):
            return PrackResult(481, final_may_go=self.may_send_final(200))
        self._current = None
        following = None
        if self._waiting and not self.finished:
            following = self._start(self._waiting.popleft(), now)
        return PrackResult(
            200, current.response, prack.body, current.offer, following, self.may_send_final(200)
        )

    def may_send_final(self, status: int) -> bool:
        """Whether the final response ``status`` may go now: a 2xx waits
        while a reliable 1xx with a body is unacknowledged (§3), including
        one still waiting to be sent; other finals never wait."""
        if status >= 300 or self.timed_out:
            return True
        pending = [self._current] if self._current is not None else []
        if not self.finished:
            pending += self._waiting
        return not any(reliable.response.body for reliable in pending)

    def final_response_sent(self) -> None:
        """A final response to the INVITE went: retransmissions stop, waiting
        1xx are dropped, the outstanding one's PRACK still gets 200 (§3)."""
        self.finished = True
        self._waiting.clear()


# -- the UAC -------------------------------------------------------------------
class PrackTracker:
    """Which reliable provisional responses of one dialog (early or
    confirmed) to PRACK (§4): the first RSeq of a transaction is taken as
    it is, then only the next one in order."""

    def __init__(self) -> None:
        #: The CSeq number of the transaction the RSeq belongs to.
        self.cseq: int | None = None
        #: The RSeq of the last reliable 1xx in order, None before the first.
        self.rseq: int | None = None

    def on_reliable(self, response: Response) -> RAck | None:
        """A reliable 1xx (:func:`is_reliable`) of this dialog: the RAck of
        the PRACK to send, or None to discard it (a retransmission, RSeq not
        greater, or out of order, RSeq beyond the next; §4).  A response to
        a newer INVITE starts a new RSeq space; one to an older is dropped.
        Raises :class:`ParseError` when RSeq is missing or malformed."""
        if not is_reliable(response):
            raise LocalProtocolError("on_reliable takes a reliable provisional response")
        rseq = rseq_of(response)
        if rseq is None:
            raise ParseError("reliable provisional response without RSeq")
        cseq = response.cseq
        last_cseq, last = self.cseq, self.rseq
        if (
            last_cseq is not None
            and last is not None
            and (cseq.seq < last_cseq or (cseq.seq == last_cseq and rseq != last + 1))
        ):
            return None
        self.cseq, self.rseq = cseq.seq, rseq
        return RAck(rseq, cseq.seq, cseq.method)
