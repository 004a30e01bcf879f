"""The notifier side of SIP-specific event notification (RFC 6665 §4.2),
sans-IO; the headers and the subscriber are in :mod:`sansip.dialog.subscription`.

A :class:`Notifier` keeps one accepted subscription: it sends the
immediate NOTIFY, a NOTIFY on each change of state, answers refreshes and
ends the subscription with a final NOTIFY.  What the UA does:

- **a SUBSCRIBE outside any dialog** (or a new event in a known dialog):
  ``notifier, response = Notifier.accept(request, to_tag=..., contact=...,
  packages=..., now=..., content_type=..., body=...)`` with the current
  state document.  Send ``response`` (200 with Expires and Contact), then
  :meth:`~Notifier.requests_to_send` (the immediate NOTIFY, §4.2.1.2).
  :func:`check_subscribe` alone, or ``accept``, raises
  :class:`~sansip.message.RequestRejected` when the SUBSCRIBE must be
  refused: answer ``make_response(request, exc.status,
  headers=exc.response_headers)`` (489 with Allow-Events for an unsupported
  package, 423 with Min-Expires for too brief an Expires, 400 for a
  malformed Event or Expires);
- **a REFER accepted** (answered 202, already accounted in its dialog):
  :meth:`Notifier.for_refer` starts its implicit subscription (event
  ``refer;id=<CSeq>``, NOTIFY bodies ``message/sipfrag`` given by the
  caller).  A REFER with ``Refer-Sub: false`` (:func:`refer_sub_requested`
  False) may get none: its 2xx then carries ``Refer-Sub: false`` (RFC 4488);
- **state changes**: :meth:`~Notifier.notify` (a new document, or
  ``pending`` to ``active``); :meth:`~Notifier.terminate` ends the
  subscription with a reason (a final NOTIFY);
- **a SUBSCRIBE in the subscription's dialog** (:meth:`~Notifier.matches`):
  :meth:`~Notifier.receive_subscribe` returns the response to send (200,
  423, 481, 400, 500) and queues the NOTIFY that follows a refresh or the
  final one of an unsubscription;
- **NOTIFY transactions**: send :meth:`~Notifier.requests_to_send` after
  every call; give the final response to :meth:`~Notifier.receive_response`,
  a timeout or transport error to :meth:`~Notifier.transaction_failed`
  (naming the NOTIFY)
  (401/407 may be answered by the UA, then :meth:`~Notifier.resent`);
- **timers**: :meth:`~Notifier.get_timer` / :meth:`~Notifier.handle_timer`
  (the expiry: a final NOTIFY ``terminated;reason=timeout``);
- **events**: :meth:`~Notifier.next_event` gives
  :class:`SubscriptionRefreshed` and, last, :class:`NotifierTerminated`.

Policy: one NOTIFY is outstanding at a time; changes made meanwhile are
merged into the next one, which carries the latest document (every
package used here sends full state).  Each NOTIFY carries the time left
(``active;expires=N``).  A NOTIFY answered 481, 408 (or a timeout) or with
a status of :data:`~sansip.dialog.subscription.ENDING_STATUSES` ends the
subscription (§4.2.2); other failures keep it.  The notifier terminates a
dialog it made when the subscription ends, never one it shares.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Final, TypeAlias

from sansip.dialog.dialog import Dialog
from sansip.dialog.subscription import (
    ENDING_STATUSES,
    EventHeader,
    Phase,
    SubscriptionStateHeader,
    SubState,
    TerminationReason,
    event_of,
    format_allow_events,
    refer_sub_of,
)
from sansip.errors import LocalProtocolError, RemoteProtocolError, SansipError
from sansip.message import NameAddr, ParseError, Request, RequestRejected, Response, make_response
from sansip.message.reasons import reason_phrase

__all__ = ["DEFAULT_EXPIRES", "MAX_EXPIRES", "MIN_EXPIRES", "REFER_EXPIRES", "SIPFRAG",
           "TRYING", "Notifier", "NotifierEvent", "NotifierTerminated",
           "SubscriptionRefreshed", "check_subscribe", "refer_sub_requested"]  # fmt: skip

#: Granted when a SUBSCRIBE has no Expires (RFC 3856, 4235, 3842 all say 3600).
DEFAULT_EXPIRES: Final = 3600
#: The shortest subscription accepted by default (423 below it).
MIN_EXPIRES: Final = 60
#: The longest subscription granted by default (longer requests are shortened).
MAX_EXPIRES: Final = 86400
#: How long the implicit subscription of a REFER lasts by default.
REFER_EXPIRES: Final = 300
#: The content type of REFER's NOTIFY bodies (RFC 3515 §2.4.5).
SIPFRAG: Final = "message/sipfrag;version=2.0"
#: The body of the first NOTIFY of a REFER.
TRYING: Final = b"SIP/2.0 100 Trying\r\n"


@dataclass(frozen=True, slots=True)
class SubscriptionRefreshed:
    """The subscriber refreshed ``notifier`` for ``expires`` seconds (0: it
    unsubscribed, a final NOTIFY follows)."""

    notifier: Notifier
    expires: int
    request: Request


@dataclass(frozen=True, slots=True)
class NotifierTerminated:
    """The subscription of ``notifier`` is over: ``reason`` is the one sent
    in the final NOTIFY (None when a failure ended it), ``status`` the
    failing status of a NOTIFY (408 for a timeout) or None."""

    notifier: Notifier
    reason: str | None
    status: int | None


NotifierEvent: TypeAlias = SubscriptionRefreshed | NotifierTerminated


def refer_sub_requested(refer: Request) -> bool:
    """Whether ``refer`` wants its implicit subscription: False only for
    ``Refer-Sub: false`` (RFC 4488); :class:`ParseError` if malformed."""
    return refer_sub_of(refer) is not False


def check_subscribe(
    request: Request,
    *,
    packages: Iterable[str],
    min_expires: int = MIN_EXPIRES,
    max_expires: int = MAX_EXPIRES,
    default_expires: int = DEFAULT_EXPIRES,
) -> tuple[EventHeader, int]:
    """The Event of the SUBSCRIBE ``request`` and the expiry to grant
    (§4.2.1.1), or :class:`RequestRejected`: 400 (no or a malformed Event,
    a malformed Expires), 489 with Allow-Events (a package not in
    ``packages``), 423 with Min-Expires (0 < Expires < ``min_expires``).
    Expires 0 (a fetch) is granted as 0, more than ``max_expires`` shortened."""
    allowed = list(packages)
    try:
        event = event_of(request)
        expires = request.expires
    except ParseError as exc:
        raise RequestRejected(exc.reason, 400, []) from None
    if event is None:
        raise RequestRejected("missing Event", 400, [])
    if event.package not in allowed:
        headers = [("Allow-Events", format_allow_events(allowed))] if allowed else []
        raise RequestRejected("Bad Event", 489, headers)
    if expires is None:
        expires = default_expires
    if 0 < expires < min_expires:
        raise RequestRejected("Interval Too Brief", 423, [("Min-Expires", str(min_expires))])
    return event, min(expires, max_expires)


class Notifier:
    """One accepted subscription to ``event`` in ``dialog`` (RFC 6665 §4.2).

    Made by :meth:`accept` or :meth:`for_refer`; the constructor itself
    serves a subscription made otherwise.  It queues the immediate NOTIFY
    at once: state ``state`` (active or pending) for ``expires`` seconds (0:
    a fetch, answered by one final NOTIFY), with ``body`` of
    ``content_type``.  ``min_expires``/``max_expires`` bound refreshes,
    ``default_expires`` is granted to a refresh without Expires;
    ``owns_dialog`` says the dialog is the subscription's own (it is then
    terminated with it).
    """

    def __init__(
        self,
        dialog: Dialog,
        event: EventHeader,
        *,
        expires: int,
        now: float,
        state: SubState = SubState.ACTIVE,
        content_type: str | None = None,
        body: bytes = b"",
        min_expires: int = MIN_EXPIRES,
        max_expires: int = MAX_EXPIRES,
        default_expires: int = DEFAULT_EXPIRES,
        owns_dialog: bool = False,
    ) -> None:
        if state not in (SubState.ACTIVE, SubState.PENDING):
            raise LocalProtocolError("a subscription starts active or pending")
        if body and content_type is None:
            raise LocalProtocolError("a body needs a content type")
        self._dialog, self._event, self._owns = dialog, event, owns_dialog
        self._min, self._max, self._default = min_expires, max_expires, default_expires
        self._phase = Phase.ACTIVE if state is SubState.ACTIVE else Phase.PENDING
        self._content_type, self._body = content_type, body
        self._expires_at: float | None = now + expires
        self._pending: Request | None = None
        self._dirty = True  # a NOTIFY is owed
        self._final: tuple[str | None, int | None] | None = None  # (reason, retry-after)
        self._final_sent = False
        self._outbox: list[Request] = []
        self._events: deque[NotifierEvent] = deque()
        if expires == 0:
            self._end_with(TerminationReason.TIMEOUT.value, None)
        self._flush(now)

    @classmethod
    def accept(
        cls,
        request: Request,
        *,
        to_tag: str,
        contact: NameAddr,
        now: float,
        packages: Iterable[str],
        state: SubState = SubState.ACTIVE,
        content_type: str | None = None,
        body: bytes = b"",
        min_expires: int = MIN_EXPIRES,
        max_expires: int = MAX_EXPIRES,
        default_expires: int = DEFAULT_EXPIRES,
        dialog: Dialog | None = None,
    ) -> tuple[Notifier, Response]:
        """Accept the SUBSCRIBE ``request``: the notifier and the 200 to send
        first (Expires granted, ``contact``, ``to_tag`` on To).  ``dialog``
        is the existing dialog of a SUBSCRIBE sent inside one (shared, the
        request is accounted in it); otherwise the 200 makes the dialog.
        Raises :class:`RequestRejected` as :func:`check_subscribe`, 481 for
        a request with a To tag and no ``dialog``, or the status of the
        dialog's error (481, 500) for a request in ``dialog``."""
        event, granted = check_subscribe(
            request, packages=packages, min_expires=min_expires,
            max_expires=max_expires, default_expires=default_expires,
        )  # fmt: skip
        response = make_response(
            request, 200, to_tag=to_tag, headers=[("Contact", contact), ("Expires", granted)]
        )
        owns = dialog is None
        if owns and request.to.tag:
            raise RequestRejected("Subscription does not exist", 481, [])
        try:
            if dialog is None:
                dialog = Dialog.from_uas(request, response)
            else:
                dialog.receive_request(request)
        except RemoteProtocolError as exc:
            raise RequestRejected(exc.reason, exc.status, []) from None
        notifier = cls(dialog, event, expires=granted, now=now, state=state,
                       content_type=content_type, body=body, min_expires=min_expires,
                       max_expires=max_expires, default_expires=default_expires,
                       owns_dialog=owns)  # fmt: skip
        return notifier, response

    @classmethod
    def for_refer(
        cls,
        refer: Request,
        dialog: Dialog,
        *,
        now: float,
        expires: int = REFER_EXPIRES,
        body: bytes = TRYING,
        content_type: str = SIPFRAG,
        owns_dialog: bool = False,
    ) -> Notifier:
        """The implicit subscription of the accepted ``refer`` (RFC 3515
        §2.4.4): event ``refer;id=<its CSeq>``, the first NOTIFY with
        ``body`` (100 Trying).  Report progress with :meth:`notify` and the
        outcome with ``terminate(now, reason="noresource", body=...)``."""
        if refer.method != "REFER":
            raise LocalProtocolError(f"{refer.method} is not a REFER")
        event = EventHeader("refer", str(refer.cseq.seq))
        return cls(dialog, event, expires=expires, now=now, content_type=content_type,
                   body=body, owns_dialog=owns_dialog, min_expires=1)  # fmt: skip

    # -- views ------------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        """ACTIVE, PENDING or TERMINATED."""
        return self._phase

    @property
    def event(self) -> EventHeader:
        """The Event of the subscription."""
        return self._event

    @property
    def dialog(self) -> Dialog:
        """The dialog the subscription lives in."""
        return self._dialog

    @property
    def expires_at(self) -> float | None:
        """When the subscription expires, or None once it is ending."""
        return self._expires_at

    @property
    def terminating(self) -> bool:
        """Whether the final NOTIFY is queued or sent."""
        return self._final is not None

    def matches(self, request: Request) -> bool:
        """Whether the in-dialog ``request`` (SUBSCRIBE) is for this
        subscription: its dialog and its Event.  :class:`ParseError` if malformed."""
        dialog = self._dialog
        if request.call_id != dialog.call_id or request.to.tag != dialog.local_tag:
            return False
        if (request.from_.tag or "") != dialog.remote_tag:
            return False
        event = event_of(request)
        return event is not None and event.matches(self._event)

    # -- commands -----------------------------------------------------------------
    def notify(
        self,
        now: float,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        state: SubState | None = None,
    ) -> None:
        """Send the new state: ``body`` (None: the current document) and/or
        ``state`` (ACTIVE or PENDING)."""
        if self._phase is Phase.TERMINATED or self._final is not None:
            raise LocalProtocolError("the subscription is ending")
        if state is not None:
            if state not in (SubState.ACTIVE, SubState.PENDING):
                raise LocalProtocolError("use terminate() to end the subscription")
            self._phase = Phase.ACTIVE if state is SubState.ACTIVE else Phase.PENDING
        self._set_document(body, content_type)
        self._dirty = True
        self._flush(now)

    def terminate(
        self,
        now: float,
        reason: str | None = None,
        *,
        retry_after: int | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> None:
        """End the subscription: a final NOTIFY ``terminated`` with ``reason``
        (see :class:`TerminationReason`), ``retry_after`` and the document
        (``body``, None: the current one).  Does nothing once ending."""
        if self._phase is Phase.TERMINATED or self._final is not None:
            return
        self._set_document(body, content_type)
        self._end_with(reason, retry_after)
        self._flush(now)

    # -- inputs -----------------------------------------------------------------------
    def receive_subscribe(self, request: Request, now: float) -> Response:
        """Answer a SUBSCRIBE in the subscription's dialog (§4.2.1): a refresh
        (200 with the granted Expires, a NOTIFY follows), an unsubscription
        (Expires 0: 200, the final NOTIFY follows), 423 with Min-Expires, 481
        once the subscription is ending, 400/500 for a malformed or
        out-of-order request."""
        try:
            if self._phase is Phase.TERMINATED or self._final is not None:
                return _respond(request, 481, "Subscription does not exist")
            if not self.matches(request):
                return _respond(request, 481, "Subscription does not exist")
            self._dialog.receive_request(request)
            expires = request.expires
        except RemoteProtocolError as exc:
            return _respond(request, exc.status, exc.reason)
        except SansipError as exc:
            return _respond(request, 500, str(exc))
        if expires is None:
            expires = self._default
        if 0 < expires < self._min:
            return _respond(request, 423, headers=[("Min-Expires", str(self._min))])
        granted = min(expires, self._max)
        self._events.append(SubscriptionRefreshed(self, granted, request))
        if granted == 0:
            self._end_with(TerminationReason.TIMEOUT.value, None)
        else:
            self._expires_at, self._dirty = now + granted, True
        fields: list[tuple[str, object]] = [("Expires", granted)]
        if self._dialog.local_target is not None:
            fields.insert(0, ("Contact", self._dialog.local_target))
        response = _respond(request, 200, headers=fields)
        self._flush(now)
        return response

    def resent(self, request: Request) -> None:
        """The UA sent ``request`` in place of the outstanding NOTIFY (CSeq +
        1, answering a 401/407): its responses now count."""
        if self._pending is None:
            raise LocalProtocolError("no NOTIFY is outstanding")
        self._pending = request
        self._dialog.local_cseq = max(self._dialog.local_cseq or 0, request.cseq.seq)

    def receive_response(self, response: Response, now: float) -> None:
        """Take the final response of the outstanding NOTIFY; others are ignored."""
        pending = self._pending
        if pending is None or response.status < 200 or not _same(response, pending):
            return
        self._pending = None
        status = response.status
        if status < 300:
            with suppress(SansipError):  # a 2xx we cannot account: it goes on
                self._dialog.update_from_response(response)
        self._after_notify(status, now)

    def transaction_failed(self, request: Request, now: float, status: int = 408) -> None:
        """The NOTIFY ``request`` got no final response (timeout: 408,
        transport error: 503): the subscription ends (§4.2.2).  Ignored
        unless it is the outstanding NOTIFY."""
        pending = self._pending
        if pending is None or request.cseq != pending.cseq:
            return
        self._pending = None
        self._after_notify(status, now)

    def handle_timer(self, now: float) -> None:
        """End the subscription when it expires (final NOTIFY ``timeout``)."""
        expires_at = self._expires_at
        if self._phase is Phase.TERMINATED or expires_at is None or now < expires_at:
            return
        self.terminate(now, TerminationReason.TIMEOUT.value)

    # -- outputs ------------------------------------------------------------------------
    def requests_to_send(self) -> list[Request]:
        """The NOTIFY requests to send (without Via), oldest first."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> NotifierEvent | None:
        """The next event, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When the subscription expires, or None (pure)."""
        return None if self._phase is Phase.TERMINATED else self._expires_at

    # -- internals ------------------------------------------------------------------------
    def _set_document(self, body: bytes | None, content_type: str | None) -> None:
        if content_type is not None:
            self._content_type = content_type
        if body is not None:
            if body and self._content_type is None:
                raise LocalProtocolError("a body needs a content type")
            self._body = body

    def _end_with(self, reason: str | None, retry_after: int | None) -> None:
        """Owe the final NOTIFY; the expiry no longer matters."""
        self._final, self._dirty, self._expires_at = (reason, retry_after), True, None

    def _after_notify(self, status: int, now: float) -> None:
        ending = status in ENDING_STATUSES or status == 408
        if self._final_sent or ending:
            reason = self._final[0] if self._final_sent and self._final is not None else None
            self._finish(reason, None if 200 <= status < 300 else status)
        else:
            self._flush(now)

    def _flush(self, now: float) -> None:
        """Send the NOTIFY that is owed, unless one is outstanding."""
        if self._pending is not None or not self._dirty or self._phase is Phase.TERMINATED:
            return
        if self._final is not None:
            reason, retry_after = self._final
            value = SubscriptionStateHeader("terminated", None, reason, retry_after)
            self._final_sent = True
        else:
            left = max(1, int((self._expires_at or now) - now))
            value = SubscriptionStateHeader(self._phase.value, left)
        fields: list[tuple[str, object]] = [
            ("Event", str(self._event)),
            ("Subscription-State", str(value)),
        ]
        if self._body and self._content_type is not None:
            fields.append(("Content-Type", self._content_type))
        request = self._dialog.create_request("NOTIFY", headers=fields, body=self._body)
        self._pending, self._dirty = request, False
        self._outbox.append(request)

    def _finish(self, reason: str | None, status: int | None) -> None:
        self._phase = Phase.TERMINATED
        self._expires_at, self._pending, self._dirty = None, None, False
        if self._owns:
            self._dialog.terminate()
        self._events.append(NotifierTerminated(self, reason, status))


def _same(response: Response, request: Request) -> bool:
    try:
        return (response.cseq, response.call_id) == (request.cseq, request.call_id)
    except SansipError:
        return False


def _respond(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    headers: list[tuple[str, object]] | None = None,
) -> Response:
    return make_response(request, status, reason or reason_phrase(status), headers=headers)
