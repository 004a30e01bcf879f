"""Requests a UA sends on its user's behalf, in and out of dialogs
(MESSAGE, INFO, OPTIONS, NOTIFY, BYE, ...), answered with credentials when
challenged (RFC 3261 §22.2, §22.3): the attempt that got a 401/407 is
sent again with CSeq + 1 and an Authorization/Proxy-Authorization, and
the final answer reaches the application as one
:class:`~sansip.dialog.call.RequestCompleted`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sansip.dialog.call import Call, CallState, RequestCompleted
from sansip.dialog.calls import next_hop
from sansip.dialog.events import UAEventQueue
from sansip.dialog.uac import Authenticator
from sansip.dialog.uaconfig import UAConfig, identity_fields, local_address, proxy_route
from sansip.errors import LocalProtocolError
from sansip.message import NameAddr, Request, Response, SipURI
from sansip.message.ids import new_call_id, new_tag
from sansip.transaction import TransactionKey
from sansip.transaction.endpoint import Endpoint, EndpointRandom
from sansip.transport.routing import address_of
from sansip.transport.types import Address

__all__ = ["PendingRequests", "RequestSender"]


@dataclass(slots=True)
class _Pending:
    request: Request
    dest: Address
    call: Call | None


class PendingRequests:
    """The requests in flight that are not INVITEs or REGISTERs, by
    client transaction key."""

    def __init__(self, endpoint: Endpoint, auth: Authenticator, events: UAEventQueue) -> None:
        self._endpoint = endpoint
        self._auth = auth
        self._events = events
        self._pending: dict[TransactionKey, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def send(
        self, request: Request, dest: Address, now: float, call: Call | None = None
    ) -> TransactionKey:
        """Send ``request`` to ``dest`` in a new client transaction and follow it."""
        key = self._endpoint.send_request(request, dest, now)
        self._pending[key] = _Pending(request, dest, call)
        return key

    def on_response(self, key: TransactionKey, response: Response, now: float) -> bool:
        """Take a response of a followed request; False if ``key`` is not one."""
        pending = self._pending.get(key)
        if pending is None:
            return False
        if response.status < 200:
            return True
        del self._pending[key]
        if response.status in (401, 407):
            retry = self._auth.retry(pending.request, response)
            if retry is not None:
                call = pending.call
                dialog = call.dialog if call is not None else None
                if dialog is not None and dialog.local_cseq is not None:
                    dialog.local_cseq = max(dialog.local_cseq, retry.cseq.seq)
                new_key = self.send(retry, pending.dest, now, call)
                if call is not None and call.bye_key == key:
                    call.bye, call.bye_key = retry, new_key
                return True
        self._auth.succeeded(pending.request)
        self._events.append(RequestCompleted(pending.request, response, pending.call))
        return True

    def on_failure(self, key: TransactionKey, now: float, status: int = 408) -> bool:
        """A followed request timed out (``status`` 408) or met a transport
        error (503); False if ``key`` is not one."""
        pending = self._pending.pop(key, None)
        if pending is None:
            return False
        self._events.append(RequestCompleted(pending.request, None, pending.call,
                                             transport_error=status == 503))  # fmt: skip
        return True


#: Methods with their own commands (or none): not for send_request/send_in_dialog.
_OWN_COMMANDS = frozenset({"INVITE", "ACK", "CANCEL", "BYE", "REGISTER", "PRACK"})


class RequestSender:
    """Sending any other request, in or out of a dialog, as the UA with
    ``config`` and ``contact``; ``pending`` follows them to their outcome."""

    def __init__(
        self,
        endpoint: Endpoint,
        config: UAConfig,
        contact: NameAddr,
        pending: PendingRequests,
        *,
        rng: EndpointRandom,
    ) -> None:
        self.endpoint = endpoint
        self.config = config
        self.contact = contact
        self._requests = pending
        self._rng = rng

    def send_request(
        self,
        method: str,
        target: SipURI,
        now: float,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Sequence[tuple[str, object]] = (),
        dest: Address | None = None,
        call_id: str | None = None,
    ) -> TransactionKey:
        """:meth:`UserAgent.send_request <sansip.dialog.ua.UserAgent.send_request>`:
        a request outside any dialog."""
        method = method.upper()
        if method in _OWN_COMMANDS:
            raise LocalProtocolError(f"{method} has its own command")
        proxy = self.config.outbound_proxy
        where = dest or proxy or address_of(target)
        local = local_address(self.config, self.contact)
        fields: list[tuple[str, object]] = [
            ("From", local.with_tag(new_tag(self._rng))),
            ("To", NameAddr(target)),
            ("Call-ID", call_id or new_call_id(self._rng, self.endpoint.config.sent_by[0])),
            ("CSeq", f"1 {method}"),
            ("User-Agent", self.config.user_agent),
            *identity_fields(self.config, self.contact),
            *self.config.extra_headers,
            *headers,
        ]
        if dest is None and proxy is not None:
            fields.insert(0, ("Route", proxy_route(proxy)))
        if body:
            fields.append(("Content-Type", content_type or "text/plain"))
        request = Request(method, target, fields, body)
        return self._requests.send(request, where, now)

    def send_in_dialog(
        self,
        call: Call,
        method: str,
        now: float,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Sequence[tuple[str, object]] = (),
    ) -> TransactionKey:
        """:meth:`UserAgent.send_in_dialog <sansip.dialog.ua.UserAgent.send_in_dialog>`:
        a request within the dialog of ``call``."""
        method = method.upper()
        if method in _OWN_COMMANDS:
            raise LocalProtocolError(f"{method} has its own command")
        dialog = call.dialog
        if dialog is None or call.state is not CallState.CONNECTED:
            raise LocalProtocolError("the call has no confirmed dialog")
        fields: list[tuple[str, object]] = [
            ("User-Agent", self.config.user_agent),
            *self.config.extra_headers,
            *headers,
        ]
        if body:
            fields.append(("Content-Type", content_type or "text/plain"))
        request = dialog.create_request(method, headers=fields, body=body)
        return self._requests.send(request, next_hop(dialog), now, call)
