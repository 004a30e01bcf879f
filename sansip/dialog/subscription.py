"""SIP-specific event notification (RFC 6665), sans-IO: the Event,
Subscription-State, Allow-Events and Refer-Sub headers and the subscriber.

The notifier side is :mod:`sansip.dialog.notifier`.  The same machinery
carries presence (RFC 3856, ``presence``), BLF (RFC 4235, ``dialog``), MWI
(RFC 3842, ``message-summary``) and the implicit subscription of a REFER
(RFC 3515, ``refer;id=<CSeq>``; RFC 4488 ``Refer-Sub: false``).  Bodies
are bytes with their content type: decoding them is the application's.

Headers: :class:`EventHeader`, :class:`SubscriptionStateHeader`,
:func:`parse_allow_events` / :func:`format_allow_events` and
:func:`refer_sub_of` parse (raising :class:`ParseError`, status 400) and
format (``str()``) the values; :func:`event_of` and
:func:`subscription_state_of` read them from a message.

A :class:`Subscriber` keeps one subscription.  Like
:class:`~sansip.dialog.register.RegisterClient` it owns no transaction:
it hands requests without Via out and takes back what arrives, every call
with the current time ``now``.  What the UA does:

- **create** one with ``Subscriber(target, "presence", local=..., contact=...,
  rng=...)`` (a SUBSCRIBE outside any dialog), :meth:`Subscriber.in_dialog`
  (a SUBSCRIBE inside an existing dialog) or, after sending a REFER,
  :meth:`Subscriber.for_refer` (its implicit subscription; the REFER's final
  response goes to :meth:`~Subscriber.receive_response` like a SUBSCRIBE's);
- **commands**: :meth:`~Subscriber.subscribe` (start, or refresh at once),
  :meth:`~Subscriber.unsubscribe` (``Expires: 0``, then the final NOTIFY),
  :meth:`~Subscriber.close` (forget everything, send nothing);
- **send** :meth:`~Subscriber.requests_to_send` after every call, each in a
  new client transaction; its final response goes to
  :meth:`~Subscriber.receive_response`, a transaction timeout or transport
  error to :meth:`~Subscriber.transaction_failed` (naming the request).  On 401/407 the UA may
  answer the challenge itself and tell the machine with
  :meth:`~Subscriber.resent` instead;
- **NOTIFY**: :func:`dispatch_notify` picks the subscriber a NOTIFY belongs
  to (:meth:`~Subscriber.owns`, :meth:`~Subscriber.matches`) and returns the
  response to send: 200, 481 when none matches, 400 for a malformed one,
  500 when out of order.  :meth:`~Subscriber.receive_notify` is the same
  for one subscriber;
- **timers**: schedule :meth:`~Subscriber.get_timer` (absolute time or None)
  and call :meth:`~Subscriber.handle_timer` then (early or twice is safe);
- **events**: drain :meth:`~Subscriber.next_event`.  A fork
  (:class:`SubscriptionForked`) is a new :class:`Subscriber` the UA drives
  like any other.

The machine accounts its own messages in its dialog
(:meth:`Dialog.receive_request`, :meth:`Dialog.update_from_response`): the
UA does not do it again.  A dialog shared with a call (REFER, SUBSCRIBE in
an INVITE dialog) is never terminated by the subscription.

Policy (§4.1.2, §4.1.3), fixed so simulations are exact:

- refresh at :func:`~sansip.dialog.register.refresh_delay` of the granted
  time (the earlier of 90 % and 5 s before expiry, not before half of it),
  counted from the 2xx or from the ``expires`` of a later NOTIFY;
- Timer N (64*T1, 32 s) runs from each SUBSCRIBE until a NOTIFY arrives
  (the final one when unsubscribing); when it fires the subscription ends
  with status 408;
- a refresh failing with 404, 405, 410, 416, 480-485, 489, 501 or 604 ends
  the subscription; other failures leave it valid until it expires and the
  refresh is tried again at half the remaining time (or after Retry-After);
- ``terminated`` re-subscribes (new Call-ID and From tag, outside the
  dialog) after ``deactivated`` and ``timeout`` at once, after ``probation``,
  ``giveup``, an unknown or no reason when ``retry-after`` says (at once
  without it, :data:`RETRY_LATER` for ``probation``), never after
  ``rejected``, ``noresource``, ``invariant``, our own unsubscribe, a fetch
  (``expires=0``) or a failure without Retry-After; at most
  :data:`MAX_RESUBSCRIBES` times in a row without an ``active`` NOTIFY.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeAlias

from sansip.dialog.dialog import Dialog, DialogState
from sansip.dialog.event_headers import (
    _MAX_DELTA,
    _RETRY_AFTER_RE,
    EventHeader,
    SubscriptionStateHeader,
    SubState,
    TerminationReason,
    event_of,
    format_allow_events,
    parse_allow_events,
    refer_sub_of,
    subscription_state_of,
)
from sansip.dialog.register import refresh_delay
from sansip.errors import LocalProtocolError, RemoteProtocolError, SansipError
from sansip.message import MediaType, NameAddr, ParseError, Request, Response, make_response
from sansip.message import headers as h
from sansip.message.ids import RandomSource, new_call_id, new_tag
from sansip.message.message import Message
from sansip.message.reasons import reason_phrase
from sansip.message.uri import URI, SipURI

__all__ = ["ACCEPT", "DEFAULT_EXPIRES", "ENDING_STATUSES", "MAX_RESUBSCRIBES", "RETRY_LATER",
           "T1", "EventHeader", "NotifyReceived", "Phase", "SubState", "Subscriber",
           "SubscriberEvent", "SubscriptionAccepted", "SubscriptionForked",
           "SubscriptionStateHeader", "SubscriptionTerminated", "TerminationReason",
           "dispatch_notify", "event_of", "format_allow_events", "parse_allow_events",
           "refer_sub_of", "subscription_state_of"]  # fmt: skip

#: RFC 3261 T1; Timer N is 64*T1.
T1: Final = 0.5
#: Expires asked for when the caller gives none (what RFC 3856, 4235 and 3842 default to).
DEFAULT_EXPIRES: Final = 3600
#: The body types a subscriber accepts by default, per package.
ACCEPT: Final[dict[str, str]] = {
    "presence": "application/pidf+xml",
    "dialog": "application/dialog-info+xml",
    "message-summary": "application/simple-message-summary",
    "refer": "message/sipfrag",
}
#: Responses to a refresh that end the subscription (§4.1.2.2).
ENDING_STATUSES: Final = frozenset({404, 405, 410, 416, 489, 501, 604, *range(480, 486)})
#: Automatic re-subscriptions in a row without an ``active`` NOTIFY.
MAX_RESUBSCRIBES: Final = 5
#: Wait before re-subscribing after ``probation`` without ``retry-after``.
RETRY_LATER: Final = 60.0
_MAX_423: Final = 5  # 423 answers followed per attempt


# -- events -------------------------------------------------------------------
class Phase(Enum):
    """Where a subscription stands: the states of the §4.1.2 diagram."""

    INIT = "init"
    NOTIFY_WAIT = "notify_wait"
    PENDING = "pending"
    ACTIVE = "active"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class SubscriptionAccepted:
    """A 2xx answered a SUBSCRIBE (or the REFER) of ``subscriber``;
    ``expires`` is the time granted (None for a REFER)."""

    subscriber: Subscriber
    expires: int | None
    response: Response


@dataclass(frozen=True, slots=True)
class NotifyReceived:
    """A NOTIFY of ``subscriber`` was accepted (answered 200): the state and
    the document it carries."""

    subscriber: Subscriber
    state: SubscriptionStateHeader
    content_type: MediaType | None
    body: bytes
    request: Request


@dataclass(frozen=True, slots=True)
class SubscriptionForked:
    """A NOTIFY from another notifier (another From tag) made ``fork``, a
    separate subscription the UA drives from now on (§4.1.2.4): it is
    refreshed and must be unsubscribed on its own."""

    subscriber: Subscriber
    fork: Subscriber


@dataclass(frozen=True, slots=True)
class SubscriptionTerminated:
    """The subscription of ``subscriber`` ended: ``reason`` is the
    Subscription-State reason of a terminating NOTIFY (or ``timeout`` when it
    expired here), ``status`` the SIP status that ended it (408 for Timer N
    and transaction timeouts), ``detail`` says what happened; the machine
    subscribes again at ``retry_at`` unless it is None."""

    subscriber: Subscriber
    reason: str | None
    status: int | None
    detail: str
    retry_at: float | None


SubscriberEvent: TypeAlias = (
    SubscriptionAccepted | NotifyReceived | SubscriptionForked | SubscriptionTerminated
)


def _respond(request: Request, status: int, reason: str | None = None) -> Response:
    return make_response(request, status, reason or reason_phrase(status))


def _untagged(address: NameAddr) -> NameAddr:
    return NameAddr(address.uri, address.display_name)


class _NoRandom:
    """The random source of a subscription whose ids are given and never renewed."""

    def getrandbits(self, k: int, /) -> int:
        raise LocalProtocolError("this subscription draws no ids")


_NO_RANDOM: Final = _NoRandom()


class Subscriber:
    """One subscription to ``event`` at ``target`` (RFC 6665 §4.1), from
    ``local`` (our From, without tag) to ``remote`` (To; ``target`` by
    default), with our ``contact``.

    ``rng`` draws Call-IDs and From tags (``call_id``/``from_tag`` fix the
    first ones, ``call_id_host`` is appended to each Call-ID); ``expires``
    is the duration asked for (0: a one-time fetch); ``accept`` lists the
    body types (default :data:`ACCEPT` of the package); ``route`` are
    outbound proxies; ``extra_headers`` go in every SUBSCRIBE.
    ``resubscribe`` enables re-subscribing after ``terminated`` (see the
    module); ``accept_forks`` False answers 481 to NOTIFYs of forks.
    Nothing is sent before :meth:`subscribe`.
    """

    def __init__(
        self,
        target: URI,
        event: EventHeader | str,
        *,
        local: NameAddr,
        contact: NameAddr,
        rng: RandomSource,
        remote: NameAddr | None = None,
        expires: int = DEFAULT_EXPIRES,
        accept: Iterable[str] | None = None,
        route: Iterable[SipURI] = (),
        extra_headers: Iterable[tuple[str, str]] = (),
        call_id: str | None = None,
        from_tag: str | None = None,
        call_id_host: str = "",
        resubscribe: bool = True,
        accept_forks: bool = True,
        t1: float = T1,
    ) -> None:
        event = EventHeader.parse(event) if isinstance(event, str) else event
        if not 0 <= expires <= _MAX_DELTA:
            raise LocalProtocolError(f"expires must be 0 to 2**32-1 seconds, not {expires}")
        self._event, self._expires, self._t1 = event, expires, t1
        self._target, self._contact, self._rng = target, contact, rng
        self._local = _untagged(local)
        self._remote = NameAddr(target) if remote is None else _untagged(remote)
        default = ACCEPT.get(event.package)
        self._accept = ([] if default is None else [default]) if accept is None else list(accept)
        self._route = [uri if uri.lr else uri.with_params(lr=None) for uri in route]
        self._extra, self._host = list(extra_headers), call_id_host
        self._resubscribe, self._forks_ok = resubscribe and expires > 0, accept_forks
        self._call_id = call_id or new_call_id(rng, call_id_host)
        self._tag = from_tag or new_tag(rng)
        self._dialog: Dialog | None = None
        self._owns_dialog = True  # False for a dialog shared with a call
        self._lenient_id = False  # a NOTIFY without id matches (the first REFER)
        self._refreshes = True
        self._refer = False  # the implicit subscription of a REFER
        self._initial: Request | None = None  # the last SUBSCRIBE sent outside a dialog
        self._cseq = 0  # CSeq of requests outside a dialog
        self._phase = Phase.INIT
        self._want = False  # subscribed (True) or unsubscribing (False)
        self._accepted = False  # a 2xx or NOTIFY came for this subscription
        self._pending: Request | None = None
        self._pending_expires: int | None = None  # None: the pending request is a REFER
        self._rounds = self._resubscribes = 0
        self._expires_at: float | None = None
        self._refresh_at: float | None = None
        self._timer_n: float | None = None
        self._retry_at: float | None = None
        self._state: SubscriptionStateHeader | None = None
        self._closed = False
        self._outbox: list[Request] = []
        self._events: deque[SubscriberEvent] = deque()

    @classmethod
    def in_dialog(
        cls,
        dialog: Dialog,
        event: EventHeader | str,
        *,
        expires: int = DEFAULT_EXPIRES,
        accept: Iterable[str] | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
        t1: float = T1,
    ) -> Subscriber:
        """A subscription made by a SUBSCRIBE inside ``dialog``, which it
        shares: its ids, no re-subscription after the end."""
        local_target = dialog.local_target
        if local_target is None:
            raise LocalProtocolError("the dialog has no local target to use as Contact")
        sub = cls(dialog.remote_target, event, local=dialog.local_party, contact=local_target,
                  rng=_NO_RANDOM, remote=dialog.remote_party, expires=expires, accept=accept,
                  extra_headers=extra_headers, call_id=dialog.call_id,
                  from_tag=dialog.local_tag, resubscribe=False, accept_forks=False,
                  t1=t1)  # fmt: skip
        sub._dialog, sub._owns_dialog = dialog, False
        return sub

    @classmethod
    def for_refer(cls, refer: Request, dialog: Dialog, *, now: float, t1: float = T1) -> Subscriber:
        """The implicit subscription of ``refer``, a REFER just sent in
        ``dialog`` (RFC 3515): event ``refer;id=<CSeq>`` (a NOTIFY without
        id matches too), no refresh, no re-subscription.  Pass the REFER's
        final response to :meth:`receive_response`: a 2xx with
        ``Refer-Sub: false`` ends it at once (RFC 4488)."""
        if refer.method != "REFER":
            raise LocalProtocolError(f"{refer.method} is not a REFER")
        event = EventHeader("refer", str(refer.cseq.seq))
        sub = cls.in_dialog(dialog, event, expires=0, t1=t1)
        sub._lenient_id, sub._refreshes, sub._refer = True, False, True
        sub._want, sub._phase = True, Phase.NOTIFY_WAIT
        sub._pending, sub._pending_expires = refer, None
        sub._timer_n = now + 64 * t1
        return sub

    # -- views ----------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        """The current :class:`Phase`."""
        return self._phase

    @property
    def event(self) -> EventHeader:
        """The Event of the subscription."""
        return self._event

    @property
    def dialog(self) -> Dialog | None:
        """The dialog of the subscription, once a 2xx or NOTIFY made it."""
        return self._dialog

    @property
    def call_id(self) -> str:
        """The Call-ID of the current subscription (a re-subscription draws a new one)."""
        return self._call_id

    @property
    def expires(self) -> int:
        """The duration asked for (raised by a 423 Min-Expires)."""
        return self._expires

    @property
    def expires_at(self) -> float | None:
        """When the subscription granted last expires, or None."""
        return self._expires_at

    @property
    def state(self) -> SubscriptionStateHeader | None:
        """The Subscription-State of the last NOTIFY accepted, or None."""
        return self._state

    @property
    def unsubscribing(self) -> bool:
        """Whether :meth:`unsubscribe` was called and the end has not come yet."""
        return not self._want and self._phase is not Phase.TERMINATED

    def matches(self, request: Request) -> bool:
        """Whether the NOTIFY ``request`` belongs to this subscription or
        would fork it: our Call-ID and From tag (its To tag), a matching
        Event (§8.2.1) and, when no fork can be made (a shared dialog, a
        fork itself, ``accept_forks`` False), the From tag of the dialog.
        Raises :class:`ParseError` for a malformed header."""
        if request.call_id != self._call_id or request.to.tag != self._tag:
            return False
        dialog = self._dialog
        fixed = not (self._owns_dialog and self._forks_ok)
        if fixed and dialog is not None and (request.from_.tag or "") != dialog.remote_tag:
            return False
        event = event_of(request)
        if event is None:
            return False
        lenient = self._lenient_id and event.id is None and event.package == self._event.package
        return lenient or event.matches(self._event)

    def owns(self, request: Request) -> bool:
        """Whether the NOTIFY ``request`` belongs to this subscription's dialog
        (:meth:`matches`, and the From tag of the dialog once it exists)."""
        dialog = self._dialog
        if dialog is not None and (request.from_.tag or "") != dialog.remote_tag:
            return False
        return self.matches(request)

    # -- commands ---------------------------------------------------------------
    def subscribe(self, now: float) -> None:
        """Subscribe (again, with new ids, after the end), or refresh at once."""
        self._check_open("subscribe")
        if self._refer:
            raise LocalProtocolError("a REFER subscription is made by its REFER")
        self._want = True
        if self._phase in (Phase.INIT, Phase.TERMINATED):
            if self._phase is Phase.TERMINATED:
                self._renew()
                self._resubscribes = 0
            self._retry_at = None
            self._phase = Phase.NOTIFY_WAIT
            self._send(now, self._expires)
        elif self._pending is None and self._accepted:
            self._send(now, self._expires)

    def unsubscribe(self, now: float) -> None:
        """End the subscription: SUBSCRIBE with ``Expires: 0`` (once the
        outstanding request is answered), then the final NOTIFY or Timer N
        end it.  Before :meth:`subscribe` or after the end it only cancels a
        planned re-subscription."""
        self._check_open("unsubscribe")
        was = self._want
        self._want = False
        self._retry_at = self._refresh_at = None
        if not was or self._phase in (Phase.INIT, Phase.TERMINATED):
            return
        if self._pending is None and self._accepted:
            self._send(now, 0)

    def close(self) -> None:
        """Stop: no timer, no request, no event; later messages get 481."""
        self._closed = True
        self._pending = None
        self._timer_n = self._refresh_at = self._retry_at = self._expires_at = None
        self._outbox.clear()
        if self._dialog is not None and self._owns_dialog:
            self._dialog.terminate()

    # -- inputs -------------------------------------------------------------------
    def resent(self, request: Request) -> None:
        """The UA sent ``request`` in place of the outstanding one (the same
        request, CSeq + 1, answering a 401/407): its responses now count."""
        if self._pending is None:
            raise LocalProtocolError("no request is outstanding")
        self._pending = request
        dialog = self._dialog
        if dialog is not None and request.to.tag:
            dialog.local_cseq = max(dialog.local_cseq or 0, request.cseq.seq)
        else:
            self._cseq, self._initial = max(self._cseq, request.cseq.seq), request

    def receive_response(self, response: Response, now: float) -> None:
        """Take the final response of the outstanding SUBSCRIBE (or REFER);
        other responses are ignored.  Nothing in it can make this raise."""
        pending = self._pending
        if self._closed or pending is None or response.status < 200:
            return
        if not _same(response, pending):
            return
        self._pending = None
        try:
            if response.status < 300:
                self._on_success(pending, response, now)
            else:
                self._on_failure(response.status, response, now)
        except SansipError as exc:  # a malformed field we had to read
            self._end(now, status=response.status, detail=f"malformed response: {exc}")

    def transaction_failed(self, request: Request, now: float, status: int = 408) -> None:
        """``request`` got no final response: a timeout (408) or a transport
        error (503).  Ignored unless it is the outstanding request."""
        pending = self._pending
        if self._closed or pending is None or not _same(request, pending):
            return
        self._pending = None
        self._on_failure(status, None, now)

    def receive_notify(self, request: Request, now: float) -> Response:
        """Take a NOTIFY and return the response to send: 200 when accepted
        (a :class:`NotifyReceived` follows), 481 when it matches no live
        subscription, 400 when malformed, 500 when out of order.  A NOTIFY
        from another notifier than the dialog's makes a fork: give NOTIFYs
        to :func:`dispatch_notify`, which finds the forks made before."""
        try:
            if self._closed or not self.matches(request):
                return _respond(request, 481, "Subscription does not exist")
            dialog = self._dialog
            if dialog is not None and (request.from_.tag or "") != dialog.remote_tag:
                return self._fork(request, now)
            if self._phase in (Phase.INIT, Phase.TERMINATED):
                return _respond(request, 481, "Subscription does not exist")
            state = subscription_state_of(request)
            if state is None:
                raise ParseError("NOTIFY without Subscription-State")
            content_type = request.content_type
            self._take_dialog(request)
        except RemoteProtocolError as exc:
            return _respond(request, exc.status, exc.reason)
        except SansipError as exc:
            return _respond(request, 500, str(exc))
        self._on_state(request, state, content_type, now)
        return _respond(request, 200)

    def handle_timer(self, now: float) -> None:
        """Do what is due: Timer N, the end of the subscription, a refresh,
        a re-subscription.  Safe to call early or twice."""
        if self._closed:
            return
        if self._timer_n is not None and now >= self._timer_n:
            self._timer_n = None
            self._end(now, status=408, detail="no NOTIFY came (Timer N)")
        elif self._phase is Phase.TERMINATED:
            if self._retry_at is not None and now >= self._retry_at:
                count = self._resubscribes + 1
                self.subscribe(now)
                self._resubscribes = count
        elif self._expires_at is not None and now >= self._expires_at:
            retry = self._retry_time(TerminationReason.TIMEOUT, None, now)
            self._end(now, reason="timeout", detail="the subscription expired", retry_at=retry)
        elif self._pending is None and self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            self._send(now, self._expires if self._want else 0)

    # -- outputs ------------------------------------------------------------------
    def requests_to_send(self) -> list[Request]:
        """The requests to send (without Via), oldest first."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> SubscriberEvent | None:
        """The next event, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The absolute time :meth:`handle_timer` is due next, or None (pure)."""
        if self._phase is Phase.TERMINATED:
            return self._retry_at
        refresh = self._refresh_at if self._pending is None else None
        times = [t for t in (self._timer_n, self._expires_at, refresh) if t is not None]
        return min(times, default=None)

    # -- internals ----------------------------------------------------------------
    def _check_open(self, command: str) -> None:
        if self._closed:
            raise LocalProtocolError(f"{command}() after close()")

    def _renew(self) -> None:
        """Fresh ids for a new subscription outside the old dialog (§4.1.2.2)."""
        if self._owns_dialog:
            self._call_id = new_call_id(self._rng, self._host)
            self._tag = new_tag(self._rng)
            self._dialog, self._initial, self._cseq = None, None, 0
        self._accepted, self._state, self._expires_at = False, None, None
        self._rounds = 0

    def _send(self, now: float, expires: int) -> None:
        fields: list[tuple[str, object]] = [("Event", str(self._event)), ("Expires", expires)]
        if self._accept:
            fields.append(("Accept", ", ".join(self._accept)))
        fields += self._extra
        dialog = self._dialog
        if dialog is not None and dialog.state is DialogState.TERMINATED and not self._owns_dialog:
            self._end(now, status=481, detail="the dialog ended")
            return
        if dialog is not None and dialog.state is not DialogState.TERMINATED:
            request = dialog.create_request("SUBSCRIBE", headers=fields)
        else:
            self._cseq += 1
            head: list[tuple[str, object]] = [("Route", f"<{uri}>") for uri in self._route]
            head += [
                ("Max-Forwards", 70),
                ("From", self._local.with_tag(self._tag)),
                ("To", self._remote),
                ("Call-ID", self._call_id),
                ("CSeq", f"{self._cseq} SUBSCRIBE"),
                ("Contact", self._contact),
            ]
            request = self._initial = Request("SUBSCRIBE", self._target, head + fields)
        self._pending, self._pending_expires = request, expires
        self._timer_n = now + 64 * self._t1
        self._outbox.append(request)

    def _on_success(self, request: Request, response: Response, now: float) -> None:
        dialog = self._dialog
        if dialog is None:
            self._dialog = Dialog.from_uac(request, response)
        elif (response.to.tag or "") == dialog.remote_tag:
            dialog.update_from_response(response)
        # else: a 2xx from another notifier than the NOTIFY that made our
        # dialog; its own NOTIFY will fork the subscription.
        asked = self._pending_expires
        if asked is None:  # the REFER
            self._accepted = True
            self._events.append(SubscriptionAccepted(self, None, response))
            if refer_sub_of(response) is False:
                self._end(now, status=response.status, detail="no subscription (Refer-Sub: false)")
            elif not self._want:
                self._send(now, 0)
            return
        granted = asked
        with suppress(SansipError):
            granted = min(asked, response.expires if response.expires is not None else asked)
        self._accepted, self._rounds = True, 0
        if asked and self._want:
            self._expires_at = now + granted
            self._refresh_at = now + refresh_delay(granted) if self._refreshes else None
        self._events.append(SubscriptionAccepted(self, granted, response))
        if not self._want and asked:
            self._send(now, 0)

    def _on_failure(self, status: int, response: Response | None, now: float) -> None:
        retry_after = None if response is None else _retry_after(response)
        asked = self._pending_expires
        if status == 423 and response is not None and asked and self._want:
            minimum = None
            with suppress(SansipError):
                minimum = response.headers.parsed(h.MIN_EXPIRES)
            self._rounds += 1
            if minimum is not None and minimum > asked and self._rounds <= _MAX_423:
                self._expires = minimum
                self._send(now, minimum)
                return
        self._timer_n = None  # no NOTIFY follows a failure
        detail = f"{status} {response.reason if response is not None else reason_phrase(status)}"
        if not self._accepted or not self._want or status in ENDING_STATUSES:
            retry = None
            if retry_after is not None and not self._accepted and status != 489:
                retry = self._retry_time(None, int(retry_after), now)
            self._end(now, status=status, detail=detail, retry_at=retry)
            return
        # §4.1.2.2: still valid until it expires; try the refresh again.
        expires_at = self._expires_at
        if expires_at is not None:
            remaining = expires_at - now
            delay = retry_after if retry_after is not None else max(1.0, remaining / 2)
            self._refresh_at = now + delay if delay < remaining else None

    def _take_dialog(self, request: Request) -> None:
        """Create the dialog from a NOTIFY that came before the 2xx (§4.1.2.4)
        or account the NOTIFY in the dialog."""
        dialog = self._dialog
        if dialog is not None:
            dialog.receive_request(request)
            return
        initial = self._initial
        contact = request.contact
        if initial is None:
            raise ParseError("Subscription does not exist", 481)
        if contact is None:
            raise ParseError("NOTIFY without Contact")
        uri = initial.uri
        self._dialog = Dialog(
            call_id=self._call_id,
            local_tag=self._tag,
            remote_tag=request.from_.tag or "",
            local_party=self._local,
            remote_party=self._remote,
            remote_target=contact.uri,
            route_set=[rr.uri for rr in request.record_routes],
            local_target=self._contact,
            local_cseq=self._cseq,
            remote_cseq=request.cseq.seq,
            secure=isinstance(uri, SipURI) and uri.secure,
            creating=initial.cseq,
        )

    def _fork(self, request: Request, now: float) -> Response:
        """A NOTIFY from a second notifier: a new subscription (§4.1.2.4)."""
        if not self._forks_ok or not self._owns_dialog or self._phase is Phase.TERMINATED:
            return _respond(request, 481, "Subscription does not exist")
        fork = Subscriber(self._target, self._event, local=self._local, contact=self._contact,
                          rng=self._rng, remote=self._remote, expires=self._expires,
                          accept=self._accept, extra_headers=self._extra,
                          call_id=self._call_id, from_tag=self._tag,
                          resubscribe=False, accept_forks=False, t1=self._t1)  # fmt: skip
        fork._initial, fork._cseq, fork._phase = self._initial, self._cseq, Phase.NOTIFY_WAIT
        fork._want = self._want
        response = fork.receive_notify(request, now)
        if response.status < 300:
            self._events.append(SubscriptionForked(self, fork))
        return response

    def _on_state(
        self,
        request: Request,
        state: SubscriptionStateHeader,
        content_type: MediaType | None,
        now: float,
    ) -> None:
        self._accepted, self._state = True, state
        self._events.append(NotifyReceived(self, state, content_type, request.body, request))
        if state.state == SubState.TERMINATED:
            self._timer_n = None
            retry = self._retry_time(state.reason, state.retry_after, now)
            detail = "terminated by the notifier" if self._want else "unsubscribed"
            self._end(now, reason=state.reason, detail=detail, retry_at=retry)
            return
        if self._want:
            self._timer_n = None
        if state.state == SubState.ACTIVE:
            self._phase, self._resubscribes = Phase.ACTIVE, 0
        else:  # pending, or an extension value
            self._phase = Phase.PENDING
        if state.expires is not None and self._want and (self._expires or self._refer):
            self._expires_at = now + state.expires
            if self._refreshes:
                due = now + refresh_delay(state.expires)
                self._refresh_at = due if self._refresh_at is None else min(self._refresh_at, due)

    def _retry_time(self, reason: str | None, retry_after: int | None, now: float) -> float | None:
        """When to re-subscribe after an end with ``reason`` (§4.1.3), or None."""
        if not (self._want and self._resubscribe) or self._resubscribes >= MAX_RESUBSCRIBES:
            return None
        if reason in ("rejected", "noresource", "invariant"):
            return None
        if reason in ("deactivated", "timeout"):
            return now
        if retry_after is not None:
            return now + retry_after
        return now + RETRY_LATER if reason == "probation" else now

    def _end(
        self,
        now: float,
        *,
        detail: str,
        reason: str | None = None,
        status: int | None = None,
        retry_at: float | None = None,
    ) -> None:
        if self._phase is Phase.TERMINATED:
            return
        self._phase = Phase.TERMINATED
        self._pending = None
        self._timer_n = self._refresh_at = self._expires_at = None
        self._retry_at = retry_at
        if self._dialog is not None and self._owns_dialog:
            self._dialog.terminate()
        self._events.append(SubscriptionTerminated(self, reason, status, detail, retry_at))


def _same(message: Message, request: Request) -> bool:
    """Whether ``message`` (a response, or a request) is of ``request``'s transaction."""
    try:
        return (message.cseq, message.call_id) == (request.cseq, request.call_id)
    except SansipError:
        return False


def _retry_after(response: Response) -> float | None:
    """The Retry-After delay in seconds (comment and params ignored), or None."""
    value = response.headers.get("Retry-After")
    match = None if value is None else _RETRY_AFTER_RE.match(value)
    return None if match is None else float(match.group(1))


def dispatch_notify(
    subscribers: Iterable[Subscriber], request: Request, now: float
) -> tuple[Subscriber | None, Response]:
    """Hand the NOTIFY ``request`` to the subscriber it belongs to (the one
    owning its dialog, else one it forks) and return that subscriber and
    the response to send: ``(None, 481)`` when none matches, ``(None, 400)``
    when a header needed to match it is malformed."""
    candidates = list(subscribers)
    try:
        chosen = next((s for s in candidates if s.owns(request)), None)
        chosen = chosen or next((s for s in candidates if s.matches(request)), None)
    except RemoteProtocolError as exc:
        return None, _respond(request, exc.status, exc.reason)
    if chosen is None:
        return None, _respond(request, 481, "Subscription does not exist")
    return chosen, chosen.receive_notify(request, now)
