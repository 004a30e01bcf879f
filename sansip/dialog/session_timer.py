"""Session timers (RFC 4028), sans-IO: the Session-Expires and Min-SE
values, the negotiation of both sides, and the running timer of a dialog.

Nothing here sends, reads a clock or touches a dialog: the UA adds the
headers these helpers return, hands them the messages it receives and
drives the timer with ``now``.  ``refresher`` (``"uac"``/``"uas"``) is
always relative to the transaction that agreed on it (§7.4, §9): when the
callee refreshes with an UPDATE it is that UPDATE's UAC.  Every re-INVITE
or UPDATE of the dialog, in either direction, is a session refresh request.

Sending an INVITE, re-INVITE or UPDATE (§7)::

    offer = SessionTimerRequest(interval=1800, min_se=90)  # or timer.request()
    for name, value in offer.headers():
        request.headers.add(name, value)
    # 422: interval = offer.on_422(response); None: give up (the request
    #      failed), else send the request again with offer.headers()
    # 2xx: agreement = offer.on_2xx(response)  (None: no session timer, or
    #      the peer turned it off in a refresh, §7.2: drop the timer)
    timer = agreement.start(now, method=refresh_method(response))
    # or, after a refresh: timer.refreshed(now, agreement.interval,
    #     agreement.refresher, True, min_se=agreement.min_se)

Answering an INVITE, re-INVITE or UPDATE (§9), as it arrives::

    answer = answer_session_timer(request, min_se=90, interval=1800)
    # answer.status == 422: refuse the request with answer.headers
    # otherwise add answer.headers to the 2xx; once it is sent,
    # answer.agreement.start(now, method=refresh_method(request)) (or
    # timer.refreshed(...) with we_are_uac False); no agreement: no timer.

The running timer (§10): schedule ``get_timer()``, then ``handle_timer(now)``:

- ``"refresh"`` (we refresh, half the interval went by): send
  ``timer.method`` in the dialog with ``timer.request().headers()``: an
  UPDATE without a body, or a re-INVITE offering the current SDP.  A 2xx
  is handled as above; a failure goes to ``refresh_failed(now, status)``.
- ``"expire"`` (no refresh came in time): send BYE; the timer is over.

A malformed Session-Expires or Min-SE raises :class:`ParseError` (a
:class:`RemoteProtocolError`, status 400): a request is answered with it,
a response's is the UA's to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from sansip.errors import LocalProtocolError
from sansip.message import Message, ParseError, Request, Response, fields

__all__ = ["DEFAULT_INTERVAL", "MAX_INTERVAL", "MIN_SE", "TIMER", "Action", "Agreement",
           "Refresher", "SessionExpiry", "SessionTimer", "SessionTimerAnswer",
           "SessionTimerRequest", "answer_session_timer", "expire_delay", "min_se_of",
           "parse_min_se", "parse_session_expires", "refresh_method", "session_expires_of",
           "timer_required", "timer_supported"]  # fmt: skip

Refresher: TypeAlias = Literal["uac", "uas"]
#: What :meth:`SessionTimer.handle_timer` asks of the UA.
Action: TypeAlias = Literal["refresh", "expire"]

#: The option tag of the extension (Supported, Require).
TIMER: Final = "timer"
#: The smallest session interval anyone may ask for (§4, §5).
MIN_SE: Final = 90
#: The session interval RECOMMENDED by §4 (30 minutes).
DEFAULT_INTERVAL: Final = 1800
#: A 422 asking for more than this is not retried.
MAX_INTERVAL: Final = 7200
_MAX_DELTA: Final = 2**32 - 1
_REFRESHERS: Final[dict[str, Refresher]] = {"uac": "uac", "uas": "uas"}


# -- header values -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SessionExpiry:
    """A Session-Expires value: the session interval in seconds and who
    refreshes (None: left to the other side)."""

    interval: int
    refresher: Refresher | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.interval <= _MAX_DELTA:
            raise LocalProtocolError(f"session interval {self.interval} out of range")
        if self.refresher is not None and self.refresher not in _REFRESHERS:
            raise LocalProtocolError(f"refresher {self.refresher!r} is neither uac nor uas")

    def __str__(self) -> str:
        if self.refresher is None:
            return str(self.interval)
        return f"{self.interval};refresher={self.refresher}"


def parse_session_expires(value: str) -> SessionExpiry:
    """Parse ``delta-seconds *(SEMI se-params)`` (§4); other parameters are
    ignored, a refresher other than uac/uas is an error (400)."""
    parsed = fields.parse_session_expires(value)
    if "refresher" not in parsed.params:
        return SessionExpiry(parsed.delta)
    refresher = _REFRESHERS.get(parsed.refresher or "")
    if refresher is None:
        raise ParseError("Session-Expires refresher is neither uac nor uas")
    return SessionExpiry(parsed.delta, refresher)


def parse_min_se(value: str) -> int:
    """Parse ``delta-seconds *(SEMI generic-param)`` (§5)."""
    return fields.parse_min_se(value)


def session_expires_of(message: Message) -> SessionExpiry | None:
    """The Session-Expires (or ``x``) of ``message``, or None."""
    value = message.headers.get("Session-Expires")
    return None if value is None else parse_session_expires(value)


def min_se_of(message: Message) -> int | None:
    """The Min-SE of ``message``, or None."""
    value = message.headers.get("Min-SE")
    return None if value is None else parse_min_se(value)


def _lists(message: Message, header: str, item: str) -> bool:
    return any(value.lower() == item for value in message.headers.values(header))


def timer_required(message: Message) -> bool:
    """Whether ``message`` has ``Require: timer``."""
    return _lists(message, "Require", TIMER)


def timer_supported(message: Message) -> bool:
    """Whether the sender of ``message`` supports session timers (``timer``
    in Supported or Require)."""
    return _lists(message, "Supported", TIMER) or timer_required(message)


def refresh_method(peer: Message) -> Literal["UPDATE", "INVITE"]:
    """How to refresh a session with the sender of ``peer`` (its INVITE or
    2xx): UPDATE when its Allow lists it (RECOMMENDED by §7.4), else re-INVITE."""
    return "UPDATE" if _lists(peer, "Allow", "update") else "INVITE"


def expire_delay(interval: float) -> float:
    """Seconds after a refresh when the session counts as expired and the
    side that does not refresh sends BYE: ``interval - min(32, interval/3)`` (§10)."""
    return interval - min(32.0, interval / 3)


def _check_min_se(min_se: int) -> None:
    if not MIN_SE <= min_se <= _MAX_DELTA:
        raise LocalProtocolError(f"Min-SE must be at least {MIN_SE} s, not {min_se}")


# -- negotiation -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Agreement:
    """A session interval settled by one transaction; ``refresher`` as in
    its Session-Expires, ``we_are_uac`` whether we sent its request,
    ``min_se`` the largest Min-SE seen (our later requests carry it, §7.4)."""

    interval: int
    refresher: Refresher
    we_are_uac: bool
    min_se: int = MIN_SE

    @property
    def we_refresh(self) -> bool:
        """Whether this UA sends the refreshes."""
        return (self.refresher == "uac") == self.we_are_uac

    def start(self, now: float, *, method: str = "INVITE") -> SessionTimer:
        """The running timer of this agreement, from ``now``."""
        return SessionTimer(
            self.interval, self.refresher, self.we_are_uac, now, method=method, min_se=self.min_se
        )


class SessionTimerRequest:
    """Our side of the negotiation for one INVITE, re-INVITE or UPDATE we
    send, and its retry after a 422 (§7).

    ``interval`` is the session interval we ask for, ``min_se`` the
    smallest we accept, ``refresher`` our wish (RECOMMENDED: None, the
    answerer picks).  At most ``max_retries`` 422s are answered, none
    asking for more than ``max_interval``.  With ``refresh_alone``, a 2xx
    from a peer without session timers (no Session-Expires, no
    ``Require: timer``) still gets a timer with us refreshing (§7.2).
    """

    def __init__(
        self,
        interval: int = DEFAULT_INTERVAL,
        min_se: int = MIN_SE,
        *,
        refresher: Refresher | None = None,
        max_interval: int = MAX_INTERVAL,
        max_retries: int = 1,
        refresh_alone: bool = True,
    ) -> None:
        _check_min_se(min_se)
        if interval < min_se:
            raise LocalProtocolError("the session interval must not be below Min-SE (§7.1)")
        SessionExpiry(interval, refresher)  # checks the values
        self.interval, self.min_se, self.refresher = interval, min_se, refresher
        self.max_interval = max_interval
        self.max_retries = max_retries
        self.refresh_alone = refresh_alone
        self.retries = 0

    def headers(self) -> list[tuple[str, str]]:
        """The fields of the request: ``Supported: timer``, Session-Expires
        and Min-SE (a UA that already lists ``timer`` may drop the first)."""
        se = str(SessionExpiry(self.interval, self.refresher))
        return [("Supported", TIMER), ("Session-Expires", se), ("Min-SE", str(self.min_se))]

    def on_422(self, response: Response) -> int | None:
        """A 422 Session Interval Too Small: the interval to ask for in the
        retry (its Min-SE, §7.3; :meth:`headers` now carry both), or None
        to give up: too many retries, a Min-SE beyond ``max_interval``, or
        none usable."""
        if response.status != 422:
            raise LocalProtocolError("on_422 takes a 422 response")
        try:
            wanted = min_se_of(response)
        except ParseError:
            return None
        if self.retries >= self.max_retries or wanted is None or wanted > self.max_interval:
            return None
        self.retries += 1
        self.min_se = max(self.min_se, wanted)
        self.interval = max(self.interval, self.min_se)
        return self.interval

    def on_2xx(self, response: Response) -> Agreement | None:
        """What the 2xx settled (§7.2): its Session-Expires (raised to our
        Min-SE if lower; no refresher: we refresh), our own request when
        the peer knows no session timer and ``refresh_alone``, else None."""
        if not 200 <= response.status < 300:
            raise LocalProtocolError("on_2xx takes a 2xx response")
        expiry = session_expires_of(response)
        if expiry is None:
            if self.refresh_alone and not timer_required(response):
                return Agreement(self.interval, "uac", True, self.min_se)
            return None
        interval = max(expiry.interval, self.min_se)
        return Agreement(interval, expiry.refresher or "uac", True, self.min_se)


@dataclass(frozen=True, slots=True)
class SessionTimerAnswer:
    """How to answer a session refresh request (§9): ``status`` 422 refuses
    it with ``headers`` (Min-SE); otherwise ``headers`` go in the 2xx and
    ``agreement`` (None: no timer) starts once it is sent."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    agreement: Agreement | None = None


def answer_session_timer(
    request: Request,
    *,
    min_se: int = MIN_SE,
    interval: int | None = DEFAULT_INTERVAL,
    refresher: Refresher | None = None,
) -> SessionTimerAnswer:
    """Decide the session timer of our answer to ``request`` (§9).

    ``min_se`` is the smallest interval we accept: a smaller Session-Expires
    gets 422 from a UAC that supports timers, and is raised to it otherwise.
    ``interval`` is the largest we want (None: no timer unless the request
    asks); the answer never goes below the request's Min-SE.  ``refresher``
    is who we pick when a UAC supporting timers left it open (default: it
    refreshes); a UAC without support never refreshes.  Raises
    :class:`ParseError` (400) for a malformed Session-Expires or Min-SE.
    """
    _check_min_se(min_se)
    asked = session_expires_of(request)
    floor = max(min_se, min_se_of(request) or 0)
    supported = timer_supported(request)
    if asked is not None and asked.interval < min_se and supported:
        return SessionTimerAnswer(422, (("Min-SE", str(min_se)),))
    wanted = [v for v in (interval, asked.interval if asked else None) if v is not None]
    if not wanted:
        return SessionTimerAnswer(200)
    chosen = max(min(wanted), floor)  # the request's may be lowered, not below the floor
    who: Refresher = "uas"
    if supported:
        who = (asked.refresher if asked else None) or refresher or "uac"
    headers = [("Session-Expires", str(SessionExpiry(chosen, who)))]
    if supported:
        headers.insert(0, ("Require", TIMER))
    return SessionTimerAnswer(200, tuple(headers), Agreement(chosen, who, False, floor))


# -- the running timer -------------------------------------------------------
class SessionTimer:
    """The session timer of a confirmed dialog (§10).

    ``interval`` and ``refresher`` come from the Session-Expires of the
    transaction that set them, ``we_are_uac`` says whether we sent its
    request, ``now`` is when its 2xx went or came.  We refresh at half the
    interval with ``method`` (``"UPDATE"`` or ``"INVITE"``); the session
    ends at :func:`expire_delay` after the last refresh.  ``min_se`` is the
    Min-SE our refreshes carry.
    """

    def __init__(
        self,
        interval: int,
        refresher: Refresher,
        we_are_uac: bool,
        now: float,
        *,
        method: str = "INVITE",
        min_se: int = MIN_SE,
    ) -> None:
        if method not in ("INVITE", "UPDATE"):
            raise LocalProtocolError("sessions are refreshed with INVITE or UPDATE")
        _check_min_se(min_se)
        self.method = method
        self.min_se = min_se
        self._refresh_at: float | None = None
        self.refreshed(now, interval, refresher, we_are_uac)  # sets the rest

    @property
    def we_refresh(self) -> bool:
        """Whether this UA sends the refreshes."""
        return (self.refresher == "uac") == self.we_are_uac

    @property
    def expires_at(self) -> float:
        """When the session expires unless refreshed (§10: BYE goes a bit earlier)."""
        return self.last_refresh + self.interval

    def refreshed(
        self,
        now: float,
        interval: int,
        refresher: Refresher,
        we_are_uac: bool,
        *,
        min_se: int | None = None,
    ) -> None:
        """A refresh succeeded at ``now`` (a 2xx to a re-INVITE or UPDATE,
        sent or received): restart with what its Session-Expires said; a
        larger ``min_se`` (the agreement's) is kept for our next requests."""
        if interval < 1:
            raise LocalProtocolError("a session interval is at least 1 s")
        if refresher not in _REFRESHERS:
            raise LocalProtocolError(f"refresher {refresher!r} is neither uac nor uas")
        self.interval, self.refresher, self.we_are_uac = interval, refresher, we_are_uac
        self.min_se = max(self.min_se, min_se or 0)
        self.last_refresh = now
        #: True once ``"expire"`` was returned: the session is over.
        self.expired = False
        self._expire_at = now + expire_delay(interval)
        self._refresh_at = now + interval / 2 if self.we_refresh else None

    def request(self) -> SessionTimerRequest:
        """The negotiation of our next re-INVITE or UPDATE (a refresh, or
        any other): the current interval and refresher, our Min-SE (§7.4)."""
        return SessionTimerRequest(
            max(self.interval, self.min_se),
            self.min_se,
            refresher="uac" if self.we_refresh else "uas",
            max_interval=max(MAX_INTERVAL, self.interval),
        )

    def get_timer(self) -> float | None:
        """The next deadline (a refresh or the expiry), None once expired; pure."""
        if self.expired:
            return None
        if self._refresh_at is None:
            return self._expire_at
        return min(self._refresh_at, self._expire_at)

    def due(self, now: float) -> bool:
        """Whether :meth:`handle_timer` has something to do at ``now``; pure."""
        at = self.get_timer()
        return at is not None and now >= at

    def handle_timer(self, now: float) -> Action | None:
        """``"refresh"``: send a refresh now; ``"expire"``: send BYE, the
        session is over; None: nothing yet."""
        if self.expired:
            return None
        if now >= self._expire_at:
            self.expired = True
            self._refresh_at = None
            return "expire"
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None  # one refresh in flight
            return "refresh"
        return None

    def refresh_failed(self, now: float, status: int, *, retry_in: float = 2.0) -> Action | None:
        """Our refresh failed with ``status`` (408 for a timeout, 503 for a
        transport error; challenges and 422s are retried before this).

        408 or 481: the dialog is gone, ``"expire"``: send BYE (§10).  491:
        refresh again ``retry_in`` seconds later (the RFC 3261 §14.1 back-off
        the UA draws).  Anything else: no more refreshes, the session ends
        when the timer expires.
        """
        if self.expired:
            return None
        if status in (408, 481):
            self.expired = True
            self._refresh_at = None
            return "expire"
        self._refresh_at = now + retry_in if status == 491 and self.we_refresh else None
        return None
