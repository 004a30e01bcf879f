"""The UAS side of the UA core (RFC 3261 §8.2, §9.2, §12.2.2, §15.1.2):
what a user agent answers to the requests it receives, outside and inside
dialogs, for :class:`~sansip.dialog.ua.UserAgent`."""

from __future__ import annotations

from sansip.dialog.call import INCOMING, Call, CallState, IncomingCall, RequestArrived
from sansip.dialog.calls import CallTable
from sansip.dialog.errors import DialogGone
from sansip.dialog.reinvite import SessionModifications
from sansip.dialog.reliable import ReliableResponses
from sansip.dialog.session_refresh import SessionRefreshes
from sansip.dialog.subscriptions import Subscriptions
from sansip.dialog.transfers import Transfers
from sansip.dialog.uaconfig import KNOWN_METHODS
from sansip.errors import LocalProtocolError
from sansip.message import (
    ParseError,
    Request,
    RequestRejected,
    check_request,
    make_response,
)
from sansip.message import headers as h
from sansip.message.ids import new_tag
from sansip.transaction import TransactionKey

__all__ = ["APPLICATION_METHODS", "UasRequests"]

#: Requests handed to the application (``RequestArrived``) when in Allow.
APPLICATION_METHODS = frozenset({"MESSAGE", "INFO"})


class UasRequests:
    """Answers received requests: OPTIONS, INVITE (as an incoming call),
    CANCEL, BYE and in-dialog refreshes; 405/481/482/501 and the
    416/420/415 checks otherwise; re-INVITEs go to ``reinvites``."""

    def __init__(self, calls: CallTable, reinvites: SessionModifications, *,
                 refreshes: SessionRefreshes, reliable: ReliableResponses,
                 transfers: Transfers, subscriptions: Subscriptions) -> None:  # fmt: skip
        self._calls = calls
        self._reinvites = reinvites
        self._refreshes = refreshes
        self._reliable = reliable
        self._transfers = transfers
        self._subscriptions = subscriptions
        self.config = calls.config
        self.endpoint = calls.endpoint

    def _respond(self, key: TransactionKey, request: Request, status: int, now: float,
                 headers: list[tuple[str, object]] | None = None) -> None:  # fmt: skip
        config = self.config
        extra: list[tuple[str, object]] = [("User-Agent", config.user_agent),
                                           *config.extra_headers]  # fmt: skip
        if status == 405 or (status == 200 and request.method == "OPTIONS"):
            extra.append(("Allow", ", ".join(config.allow)))
        if status == 200 and request.method == "OPTIONS":
            extra.append(("Accept", ", ".join(config.accepted_bodies)))
            if config.supported:
                extra.append(("Supported", ", ".join(config.supported)))
        response = make_response(request, status, to_tag=new_tag(self._calls.rng),
                                 headers=[*extra, *(headers or [])])  # fmt: skip
        self.endpoint.respond(key, response, now)

    def on_request(self, key: TransactionKey, request: Request, now: float) -> None:
        """Answer ``request``, received in server transaction ``key``, or
        report it (an incoming call, a re-INVITE, a BYE ending a call)."""
        method = request.method
        if method == "CANCEL":
            self._on_cancel(key, request, now)
            return
        if request.to.tag:
            self._on_in_dialog(key, request, now)
            return
        if method not in self.config.allow:
            self._respond(key, request, 405 if method in KNOWN_METHODS else 501, now)
            return
        # A MESSAGE (or an unsolicited NOTIFY) may carry any body: the application judges it.
        accepted = (None if method in APPLICATION_METHODS or method == "NOTIFY"
                    else self.config.accepted_bodies)  # fmt: skip
        try:
            check_request(request, supported=self.config.supported, accepted_bodies=accepted)
        except RequestRejected as exc:
            self._respond(key, request, exc.status, now, exc.response_headers)  # type: ignore[arg-type]
            return
        if self.endpoint.find_merged(request) is not None:
            self._respond(key, request, 482, now)
            return
        if method == "INVITE":
            calls = self._calls
            if request.call_id in calls.by_call_id:
                self._respond(key, request, 482, now)
                return
            source = self.endpoint.source_of(key) or ("", 0)
            call = Call(call_id=request.call_id, direction=INCOMING, invite=request, peer=source,
                        invite_key=key, now=now)  # fmt: skip
            if not self._timer_acceptable(call, key, request, now):
                return
            if not self._replaces_found(call, key, request, now):
                return
            self._reliable.incoming(call)
            calls.add(call, key)
            calls.pin(call, source)  # keep the caller's connection while the call lasts
            calls.events.append(IncomingCall(call))
            return
        if method == "OPTIONS":
            self._respond(key, request, 200, now)
            return
        if method == "MESSAGE":
            self._calls.events.append(RequestArrived(request, key))
            return
        if method == "SUBSCRIBE":
            self._subscriptions.on_subscribe(key, request, now)
            return
        if method == "NOTIFY":  # outside any subscription (unsolicited MWI): the application's
            self._calls.events.append(RequestArrived(request, key))
            return
        self._respond(key, request, 481 if method == "BYE" else 405, now)

    def _replaces_found(self, call: Call, key: TransactionKey, request: Request,
                        now: float) -> bool:  # fmt: skip
        """An INVITE with Replaces (RFC 3891): True when it names a call of
        ours (noted on ``call``) or has no Replaces; else answered 481 (or
        400 for a malformed one) here."""
        try:
            replaces = request.headers.parsed(h.REPLACES)
        except ParseError as exc:
            self._respond(key, request, exc.status, now)
            return False
        if replaces is None:
            return True
        old = self._calls.by_call_id.get(replaces.call_id)
        dialog = old.dialog if old is not None else None
        if (
            old is None or dialog is None or old.state is CallState.DISCONNECTED
            or replaces.to_tag != dialog.local_tag or replaces.from_tag != dialog.remote_tag
            or (replaces.early_only and old.state is CallState.CONNECTED)
        ):  # fmt: skip
            self._respond(key, request, 481, now)
            return False
        call.replaces = old
        return True

    def _timer_acceptable(self, call: Call, key: TransactionKey, request: Request,
                          now: float) -> bool:  # fmt: skip
        """Whether the session interval ``request`` asks for is one we take
        (RFC 4028 §9); else it is refused here: 422 with our Min-SE, or 400
        for a malformed Session-Expires/Min-SE."""
        try:
            answer = self._refreshes.check(call, request)
        except ParseError as exc:
            self._respond(key, request, exc.status, now)
            return False
        if answer is not None and answer.status == 422:
            to_tag = request.to.tag or new_tag(self._calls.rng)
            response = make_response(request, 422, to_tag=to_tag, headers=list(answer.headers))
            self.endpoint.respond(key, response, now)
            return False
        return True

    def _on_cancel(self, key: TransactionKey, cancel: Request, now: float) -> None:
        target = self.endpoint.find_cancel_target(cancel)
        call = self._calls.by_key.get(target) if target is not None else None
        if call is None:
            self._respond(key, cancel, 481, now)
            return
        self._respond(key, cancel, 200, now)
        if call.final is None and call.state is not CallState.DISCONNECTED:
            assert call.invite_key is not None
            self.endpoint.respond(call.invite_key, self._calls.response(call, 487), now)
            call.status = 487
            self._calls.end(call, now, "cancel received")

    def _on_in_dialog(self, key: TransactionKey, request: Request, now: float) -> None:
        if self._subscriptions.owns(request):  # a subscription's own dialog
            if request.method == "NOTIFY" and self._subscriptions.on_notify(key, request, now):
                return
            if request.method == "SUBSCRIBE":
                self._subscriptions.on_subscribe(key, request, now)
                return
        call = self._calls.by_call_id.get(request.call_id)
        if call is None or call.dialog is None:
            self._respond(key, request, 481, now)
            return
        if request.method == "NOTIFY":  # a REFER's subscription accounts it in the dialog
            self._transfers.on_notify(call, key, request, now)
            return
        try:
            call.dialog.receive_request(request)
        except DialogGone:
            self._respond(key, request, 481, now)
            return
        except ParseError as exc:
            self._respond(key, request, exc.status, now)
            return
        except LocalProtocolError:
            self._respond(key, request, 481, now)
            return
        if request.method == "BYE":
            self._respond(key, request, 200, now)
            self._calls.end(call, now, "bye received")
        elif request.method == "INVITE":
            if self._timer_acceptable(call, key, request, now):
                self._reinvites.on_request(call, key, request, now)
        elif request.method == "REFER" and "REFER" in self.config.allow:
            self._transfers.on_refer(call, key, request, now)
        elif request.method == "PRACK" and self._reliable.enabled:
            self._reliable.on_prack(call, key, request, now)
        elif request.method == "UPDATE" and "UPDATE" in self.config.allow:
            if self._timer_acceptable(call, key, request, now):
                self._reinvites.on_update(call, key, request, now)
        elif request.method in APPLICATION_METHODS and request.method in self.config.allow:
            self._calls.events.append(RequestArrived(request, key, call))
        elif request.method == "OPTIONS":
            allow = ", ".join(self.config.allow)
            headers: list[tuple[str, object]] = [("Contact", self._calls.contact), ("Allow", allow)]
            response = make_response(request, 200, to_tag=request.to.tag, headers=headers)
            self.endpoint.respond(key, response, now)
        else:
            self._respond(key, request, 405 if request.method in KNOWN_METHODS else 501, now)
