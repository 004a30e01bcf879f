"""One call as the UA core sees it: its INVITE exchange and its dialog.

The state strings are the ones of the phone API (``setup``, ``ringing``,
``connected``, ``disconnected``); direction 1 is outgoing, 2 incoming.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from sansip.dialog.dialog import Dialog
from sansip.dialog.prack import PrackTracker, ReliableProvisionals
from sansip.dialog.session_timer import SessionTimer, SessionTimerAnswer, SessionTimerRequest
from sansip.dialog.subscription import Subscriber
from sansip.message import Request, Response, SipURI
from sansip.transaction import TransactionKey
from sansip.transport.types import Address

__all__ = [
    "Call",
    "CallEvent",
    "CallState",
    "CallStateChanged",
    "EarlyMediaReceived",
    "IncomingCall",
    "ModificationFailed",
    "NotificationReceived",
    "OfferReceived",
    "ReferReceived",
    "RequestArrived",
    "RequestCompleted",
    "SessionUpdated",
    "SubscriptionEnded",
    "TransferProgress",
]


class CallState(StrEnum):
    """The call states of the phone API."""

    SETUP = "setup"
    RINGING = "ringing"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


OUTGOING = 1
INCOMING = 2


class Call:
    """The signalling state of one call (the UA core owns and updates it)."""

    def __init__(
        self,
        *,
        call_id: str,
        direction: int,
        invite: Request,
        peer: Address,
        invite_key: TransactionKey | None,
        now: float,
    ) -> None:
        self.call_id = call_id
        self.direction = direction
        self.invite = invite
        self.peer = peer
        self.invite_key = invite_key
        self.state = CallState.SETUP
        self.dialog: Dialog | None = None
        self.local_tag: str | None = None  # our To tag (UAS) once we answered anything
        self.final: Response | None = None  # the 2xx we sent or received
        self.remote_sdp: bytes = invite.body if direction == INCOMING else b""
        self.local_sdp: bytes = invite.body if direction == OUTGOING else b""
        self.status: int | None = None  # the final status of the INVITE
        self.reason = ""
        self.started = now
        self.connected_at: float | None = None
        self.ended_at: float | None = None
        # UAS: 2xx retransmission until the ACK (RFC 3261 §13.3.1.4).
        self.retransmit_at: float | None = None
        self.retransmit_interval = 0.0
        self.retransmit_until = 0.0
        # UAC: the ACK we sent for the 2xx, to resend on its retransmissions.
        self.ack: Request | None = None
        self.bye_key: TransactionKey | None = None
        self.bye: Request | None = None
        self.redirects = 0
        self.cancel_pending = False
        # The connection (stream mode) this call keeps open.
        self.pinned: Address | None = None
        # An outgoing call being set up: the targets left to try (RFC 3263 §4.3).
        self.alternatives: deque[Address] = deque()
        # Session modification (re-INVITE, RFC 3261 §14): ours in flight,
        # its SDP, and when to try again after a 491.
        self.reinvite: Request | None = None
        self.reinvite_key: TransactionKey | None = None
        self.reinvite_sdp: bytes = b""
        self.reinvite_retry_at: float | None = None
        # Which request carries our offer: INVITE, or UPDATE (RFC 3311).
        self.reinvite_method = "INVITE"
        # The peer's re-INVITE we have not answered yet, and whether we
        # offered in our 2xx (an offer-less re-INVITE: the answer is in the ACK).
        self.offer_key: TransactionKey | None = None
        self.offer_request: Request | None = None
        self.answer_in_ack = False
        # The SDP of the first provisional response that had one (early media).
        self.early_sdp: bytes = b""
        # Forks of our INVITE that answered after the first 2xx: their ACK by
        # To-tag (a retransmitted 2xx is ACKed again; each got a BYE).
        self.ended_forks: dict[str, Request] = {}
        # Session timers (RFC 4028): what our INVITE asked for, how we answer
        # the request in hand, and the running timer of the session.
        self.timer_request: SessionTimerRequest | None = None
        self.timer_answer: SessionTimerAnswer | None = None
        self.session_timer: SessionTimer | None = None
        # Reliable provisional responses (RFC 3262): the PRACK bookkeeping of
        # each early dialog of our INVITE, how our 1xx go, our held 2xx.
        self.prack_trackers: dict[str, PrackTracker] = {}
        self.reliable: ReliableProvisionals | None = None
        self.held_final: Response | None = None
        # An incoming INVITE with Replaces (RFC 3891): the call it replaces.
        self.replaces: Call | None = None

    @property
    def peer_name(self) -> str:
        """The user part (or the whole URI) of the other party."""
        party = self.invite.to if self.direction == OUTGOING else self.invite.from_
        uri = party.uri
        user = getattr(uri, "user", None)
        return str(user) if user else str(uri)

    @property
    def peer_display_name(self) -> str:
        """The display name of the other party, or ``""``."""
        party = self.invite.to if self.direction == OUTGOING else self.invite.from_
        return party.display_name or ""

    @property
    def duration(self) -> float:
        """Seconds connected (0 if never connected)."""
        if self.connected_at is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else self.connected_at
        return max(0.0, end - self.connected_at)

    def __repr__(self) -> str:
        return f"<Call {self.call_id} {self.state.value} dir={self.direction}>"


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """An INVITE arrived: answer, ring or reject ``call``."""

    call: Call


@dataclass(frozen=True, slots=True)
class CallStateChanged:
    """``call`` moved from ``old`` to ``new`` (``reason`` for disconnected)."""

    call: Call
    old: CallState
    new: CallState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RequestCompleted:
    """A request sent with ``send_request``/``send_in_dialog`` (or a BYE)
    got its final ``response``; None when none came: a timeout, or a
    transport error (``transport_error``: an ICMP unreachable, a refused
    send or a lost connection).  ``request`` is the last attempt (after any
    authentication)."""

    request: Request
    response: Response | None
    call: Call | None = None
    transport_error: bool = False

    @property
    def status(self) -> int:
        """The final status: 408 after a timeout, 503 after a transport
        error (RFC 3261 §8.1.3.1)."""
        if self.response is not None:
            return self.response.status
        return 503 if self.transport_error else 408


@dataclass(frozen=True, slots=True)
class EarlyMediaReceived:
    """A provisional response (180/183) to our INVITE carried SDP: the
    peer's answer for early media (announcements, ringback from the
    network).  Reported once per call, for the first such response."""

    call: Call
    sdp: bytes


@dataclass(frozen=True, slots=True)
class OfferReceived:
    """The peer re-INVITEd ``call`` (RFC 3261 §14.2) with the SDP offer
    ``sdp``; empty when it asks for our offer.  Answer with
    ``accept_offer`` or ``reject_offer``."""

    call: Call
    sdp: bytes


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    """An offer/answer exchange in a re-INVITE completed: the session of
    ``call`` is now ``local_sdp``/``remote_sdp``; ``by_peer`` when the
    peer's re-INVITE changed it."""

    call: Call
    local_sdp: bytes
    remote_sdp: bytes
    by_peer: bool


@dataclass(frozen=True, slots=True)
class ModificationFailed:
    """Our re-INVITE of ``call`` was refused with ``status``; the session
    stays as it was (a 408 or 481 ends the call instead)."""

    call: Call
    status: int


@dataclass(frozen=True, slots=True)
class RequestArrived:
    """A request the application answers came in: MESSAGE (RFC 3428) or
    INFO (RFC 6086), in the dialog of ``call`` or outside any (``call``
    None), when its method is in the UA's Allow.  Answer it at once with
    :meth:`~sansip.dialog.ua.UserAgent.respond` (it holds a server
    transaction open, and the sender retransmits until it is answered)."""

    request: Request
    key: TransactionKey
    call: Call | None = None


@dataclass(frozen=True, slots=True)
class TransferProgress:
    """How the transfer of ``call`` (our REFER) goes: ``status`` and
    ``reason`` of the peer's new call (100 while it tries, 180 ringing, 200
    connected, 4xx-6xx failed), or of the REFER itself when refused;
    ``final`` once nothing more will come."""

    call: Call
    status: int
    reason: str
    final: bool


@dataclass(frozen=True, slots=True)
class ReferReceived:
    """The peer of ``call`` asks us to call ``target`` (a REFER, accepted
    with 202): ``replaces`` is the Replaces value to put in that INVITE
    (an attended transfer), ``referred_by`` who asked.  Report the new
    call's progress with ``UserAgent.transfer_progress``."""

    call: Call
    target: SipURI
    replaces: str | None
    referred_by: str | None


@dataclass(frozen=True, slots=True)
class NotificationReceived:
    """A NOTIFY of ``subscription`` was accepted: the package's document
    ``body`` of ``content_type`` (empty when the state alone changed)."""

    subscription: Subscriber
    package: str
    state: str
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class SubscriptionEnded:
    """``subscription`` is over: ``reason`` (a termination reason or a
    failure) and the status that ended it, if any."""

    subscription: Subscriber
    package: str
    reason: str
    status: int | None


CallEvent: TypeAlias = (
    RequestArrived
    | NotificationReceived
    | SubscriptionEnded
    | TransferProgress
    | ReferReceived
    | IncomingCall
    | CallStateChanged
    | RequestCompleted
    | EarlyMediaReceived
    | OfferReceived
    | SessionUpdated
    | ModificationFailed
)
