"""The UAS side of the UA core (RFC 3261 §8.2, §9.2, §12.2.2, §15.1.2):
what a user agent answers to the requests it receives, outside and inside
dialogs.  :class:`~sansip.dialog.ua.UserAgent` mixes it in."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from sansip.dialog.call import INCOMING, Call, CallEvent, CallState, IncomingCall
from sansip.dialog.endpoint import Endpoint, EndpointRandom
from sansip.dialog.errors import DialogGone
from sansip.dialog.ids import new_tag
from sansip.dialog.uaconfig import KNOWN_METHODS, UAConfig
from sansip.errors import LocalProtocolError
from sansip.message import (
    NameAddr,
    ParseError,
    Request,
    RequestRejected,
    Response,
    check_request,
    make_response,
)
from sansip.transaction import TransactionKey

__all__ = ["UasRequests"]


class UasRequests:
    """Answers received requests: OPTIONS, INVITE (as an incoming call),
    CANCEL, BYE and in-dialog refreshes; 405/481/482/501 and the
    416/420/415 checks otherwise."""

    config: UAConfig
    endpoint: Endpoint
    contact: NameAddr
    _rng: EndpointRandom
    _calls: dict[str, Call]
    _by_key: dict[TransactionKey, Call]
    _events: deque[CallEvent]

    def _response(
        self,
        call: Call,
        status: int,
        *,
        reason: str | None = None,
        headers: list[tuple[str, object]] | None = None,
        body: bytes = b"",
    ) -> Response:
        raise NotImplementedError

    def _end(self, call: Call, now: float, reason: str) -> None:
        raise NotImplementedError

    if TYPE_CHECKING:  # from SessionModifications, next in the UA's bases

        def _on_reinvite_request(
            self, call: Call, key: TransactionKey, request: Request, now: float
        ) -> None: ...

    def _respond(self, key: TransactionKey, request: Request, status: int, now: float,
                 headers: list[tuple[str, object]] | None = None) -> None:  # fmt: skip
        extra: list[tuple[str, object]] = [
            ("User-Agent", self.config.user_agent),
            *self.config.extra_headers,
        ]
        if status == 405 or (status == 200 and request.method == "OPTIONS"):
            extra.append(("Allow", ", ".join(self.config.allow)))
        if status == 200 and request.method == "OPTIONS":
            extra.append(("Accept", ", ".join(self.config.accepted_bodies)))
            if self.config.supported:
                extra.append(("Supported", ", ".join(self.config.supported)))
        response = make_response(request, status, to_tag=new_tag(self._rng),
                                 headers=[*extra, *(headers or [])])  # fmt: skip
        self.endpoint.respond(key, response, now)

    def _on_request(self, key: TransactionKey, request: Request, now: float) -> None:
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
        try:
            check_request(request, supported=self.config.supported,
                          accepted_bodies=self.config.accepted_bodies)  # fmt: skip
        except RequestRejected as exc:
            self._respond(key, request, exc.status, now, exc.response_headers)  # type: ignore[arg-type]
            return
        if self.endpoint.find_merged(request) is not None:
            self._respond(key, request, 482, now)
            return
        if method == "INVITE":
            if request.call_id in self._calls:
                self._respond(key, request, 482, now)
                return
            source = self.endpoint.source_of(key) or ("", 0)
            call = Call(call_id=request.call_id, direction=INCOMING, invite=request, peer=source,
                        invite_key=key, now=now)  # fmt: skip
            self._calls[call.call_id] = call
            self._by_key[key] = call
            if self.endpoint.stream_mode:  # keep the caller's connection while the call lasts
                call.pinned = source
                self.endpoint.pin_connection(source)
            self._events.append(IncomingCall(call))
            return
        if method == "OPTIONS":
            self._respond(key, request, 200, now)
            return
        self._respond(key, request, 481 if method == "BYE" else 405, now)

    def _on_cancel(self, key: TransactionKey, cancel: Request, now: float) -> None:
        target = self.endpoint.find_cancel_target(cancel)
        call = self._by_key.get(target) if target is not None else None
        if call is None:
            self._respond(key, cancel, 481, now)
            return
        self._respond(key, cancel, 200, now)
        if call.final is None and call.state is not CallState.DISCONNECTED:
            assert call.invite_key is not None
            self.endpoint.respond(call.invite_key, self._response(call, 487), now)
            call.status = 487
            self._end(call, now, "cancel received")

    def _find_dialog_call(self, message: Request | Response) -> Call | None:
        call = self._calls.get(message.call_id)
        return call if call is not None and call.dialog is not None else None

    def _on_in_dialog(self, key: TransactionKey, request: Request, now: float) -> None:
        call = self._find_dialog_call(request)
        if call is None or call.dialog is None:
            self._respond(key, request, 481, now)
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
            self._end(call, now, "bye received")
        elif request.method == "INVITE":
            self._on_reinvite_request(call, key, request, now)
        elif request.method in ("OPTIONS", "UPDATE"):
            # Session refreshes and re-INVITEs keep the current session for now.
            headers: list[tuple[str, object]] = [("Contact", self.contact)]
            body = call.local_sdp if request.method != "OPTIONS" else b""
            if body:
                headers.append(("Content-Type", "application/sdp"))
            resp = make_response(request, 200, to_tag=request.to.tag,
                                 headers=headers, body=body)  # fmt: skip
            self.endpoint.respond(key, resp, now)
        else:
            self._respond(key, request, 405 if request.method in KNOWN_METHODS else 501, now)
