"""Call transfer (RFC 3515 REFER, RFC 5589, RFC 3891 Replaces, RFC 3892
Referred-By) in the calls of :class:`~sansip.dialog.ua.UserAgent`.

Ours: :meth:`Transfers.refer` sends a REFER in a call's dialog asking the
peer to call ``Refer-To`` (with a ``Replaces`` for an attended transfer:
the peer's INVITE then replaces our call with that target); the REFER's
implicit subscription (a :class:`~sansip.dialog.subscription.Subscriber`)
takes the peer's NOTIFYs and each ``message/sipfrag`` becomes a
:class:`TransferProgress` (a 2xx REFER answer is 202, the sipfrag's final
status says how the peer's call went).

Theirs: a REFER in a call's dialog is answered 202 and becomes a
:class:`ReferReceived`; its implicit subscription (a
:class:`~sansip.dialog.notifier.Notifier`, unless ``Refer-Sub: false``)
starts with ``100 Trying`` and the application reports how the new call
goes with :meth:`Transfers.progress` (a final status ends it).  A REFER
whose Refer-To is not a SIP URI gets 400.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from sansip.bodies import build_sipfrag, parse_sipfrag
from sansip.bodies.errors import BodyError
from sansip.dialog.call import Call, ReferReceived, TransferProgress
from sansip.dialog.calls import CallTable, next_hop
from sansip.dialog.notifier import Notifier, NotifierTerminated, refer_sub_requested
from sansip.dialog.subscription import (
    NotifyReceived,
    Subscriber,
    SubscriptionTerminated,
    dispatch_notify,
)
from sansip.errors import LocalProtocolError
from sansip.message import ParseError, Request, Response, SipURI, make_response
from sansip.message.address import parse_name_addr
from sansip.transaction import TransactionKey

__all__ = ["Transfers", "replaces_value"]


def replaces_value(call: Call) -> str:
    """The Replaces value naming ``call``'s dialog (RFC 3891 §6.1), as the
    party it is sent to sees it: Call-ID, its to-tag (our local tag), its
    from-tag (our remote tag)."""
    dialog = call.dialog
    if dialog is None or not dialog.remote_tag:
        raise LocalProtocolError("the call has no confirmed dialog to replace")
    return f"{call.call_id};to-tag={dialog.remote_tag};from-tag={dialog.local_tag}"


class Transfers:
    """REFER out and in for the calls of ``calls`` (see the module docstring)."""

    def __init__(self, calls: CallTable) -> None:
        self._calls = calls
        self._by_key: dict[TransactionKey, tuple[Call, Subscriber | Notifier, Request]] = {}
        self._subscribers: dict[Call, list[Subscriber]] = {}
        self._notifiers: dict[Call, Notifier] = {}

    # -- ours ------------------------------------------------------------------------
    def refer(self, call: Call, target: SipURI, now: float, *, replaces: str | None = None) -> None:
        """Ask the peer of ``call`` to call ``target`` (with ``replaces``:
        the Replaces value of the call it is to replace, RFC 3891)."""
        dialog = call.dialog
        if dialog is None or (call.final is None and call.ack is None):
            raise LocalProtocolError("only a connected call can be transferred")
        refer_to = str(target)
        if replaces:
            refer_to = f"{refer_to}?Replaces={quote(replaces, safe='')}"
        config = self._calls.config
        request = dialog.create_request("REFER", headers=[
            ("Refer-To", f"<{refer_to}>"), ("Referred-By", f"<{self._calls.contact.uri}>"),
            ("Contact", self._calls.contact), ("User-Agent", config.user_agent),
            *config.extra_headers])  # fmt: skip
        key = self._calls.endpoint.send_request(request, next_hop(dialog), now)
        subscriber = Subscriber.for_refer(request, dialog, now=now)
        self._by_key[key] = (call, subscriber, request)
        self._subscribers.setdefault(call, []).append(subscriber)

    def on_notify(self, call: Call, key: TransactionKey, request: Request, now: float) -> None:
        """A NOTIFY in the dialog of ``call``: to the REFER it reports on (481 if none)."""
        subscriber, response = dispatch_notify(self._subscribers.get(call, []), request, now)
        self._calls.endpoint.respond(key, response, now)
        if subscriber is not None:
            self._drain(call, subscriber, now)

    # -- theirs ------------------------------------------------------------------------
    def on_refer(self, call: Call, key: TransactionKey, request: Request, now: float) -> None:
        """A REFER in the dialog of ``call`` (accounted in the dialog already)."""
        endpoint = self._calls.endpoint
        try:
            value = request.headers.get("Refer-To")
            refer_to = parse_name_addr(str(value).strip(), "Refer-To") if value else None
        except ParseError:
            refer_to = None
        uri = refer_to.uri if refer_to is not None else None
        if call.dialog is None or not isinstance(uri, SipURI):
            endpoint.respond(key, make_response(request, 400, to_tag=request.to.tag), now)
            return
        found = {name.lower(): v for name, v in uri.headers.items()}.get("replaces")
        replaces = unquote(found) if found else None
        target = uri.replace(headers={})
        subscribe = refer_sub_requested(request)
        headers: list[tuple[str, object]] = [("Contact", self._calls.contact)]
        if not subscribe:
            headers.append(("Refer-Sub", "false"))
        endpoint.respond(key, make_response(request, 202, to_tag=request.to.tag,
                                            headers=headers), now)  # fmt: skip
        if subscribe:
            notifier = Notifier.for_refer(request, call.dialog, now=now)
            self._notifiers[call] = notifier
            self._drain(call, notifier, now)
        referred_by = request.headers.get("Referred-By")
        self._calls.events.append(
            ReferReceived(call, target, replaces, None if referred_by is None else str(referred_by))
        )

    def progress(self, call: Call, status: int, reason: str, now: float) -> None:
        """Report how the call a REFER of ``call`` asked for goes (a final
        ``status`` ends the REFER's subscription)."""
        notifier = self._notifiers.get(call)
        if notifier is None:
            return
        body = build_sipfrag(status, reason)
        if status >= 200:
            del self._notifiers[call]
            notifier.terminate(now, "noresource", body=body)
        else:
            notifier.notify(now, body=body)
        self._drain(call, notifier, now)

    # -- transactions and time ------------------------------------------------------------
    def on_response(self, key: TransactionKey, response: Response, now: float) -> bool:
        """A response to a REFER or NOTIFY of ours; False if ``key`` is not one."""
        found = self._by_key.get(key)
        if found is None:
            return False
        if response.status < 200:
            return True
        del self._by_key[key]
        call, machine, request = found
        if request.method == "REFER" and response.status >= 300:
            self._calls.events.append(TransferProgress(call, response.status, response.reason,
                                                       True))  # fmt: skip
        machine.receive_response(response, now)
        self._drain(call, machine, now)
        return True

    def on_failure(self, key: TransactionKey, now: float, status: int) -> bool:
        """A REFER or NOTIFY of ours got no answer (408) or a transport error (503)."""
        found = self._by_key.pop(key, None)
        if found is None:
            return False
        call, machine, request = found
        if request.method == "REFER":
            self._calls.events.append(TransferProgress(call, status, "no answer", True))
        machine.transaction_failed(request, now, status)
        self._drain(call, machine, now)
        return True

    def get_timer(self) -> float | None:
        """The next deadline of a transfer's subscription; pure."""
        machines: list[Subscriber | Notifier] = [*self._notifiers.values()]
        for subscribers in self._subscribers.values():
            machines += subscribers
        due = [m.get_timer() for m in machines]
        return min((d for d in due if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire the subscriptions' timers (Timer N, expiry)."""
        for call, notifier in list(self._notifiers.items()):
            notifier.handle_timer(now)
            self._drain(call, notifier, now)
        for call, subscribers in list(self._subscribers.items()):
            for subscriber in list(subscribers):
                subscriber.handle_timer(now)
                self._drain(call, subscriber, now)

    def _drain(self, call: Call, machine: Subscriber | Notifier, now: float) -> None:
        """Send what ``machine`` queued and turn its events into transfer events."""
        endpoint = self._calls.endpoint
        for request in machine.requests_to_send():
            dialog = machine.dialog if isinstance(machine, Notifier) else call.dialog
            if dialog is None:
                continue
            key = endpoint.send_request(request, next_hop(dialog), now)
            self._by_key[key] = (call, machine, request)
        while (event := machine.next_event()) is not None:
            if isinstance(event, NotifyReceived):
                self._sipfrag(call, event.body)
            elif isinstance(event, SubscriptionTerminated):
                self._forget(call, machine)
            elif isinstance(event, NotifierTerminated):
                self._notifiers.pop(call, None)

    def _sipfrag(self, call: Call, body: bytes) -> None:
        try:
            frag = parse_sipfrag(body)
        except BodyError:
            return
        final = frag.status >= 200
        self._calls.events.append(TransferProgress(call, frag.status, frag.reason, final))

    def _forget(self, call: Call, machine: Subscriber | Notifier) -> None:
        subscribers = self._subscribers.get(call, [])
        if machine in subscribers:
            subscribers.remove(machine)
        if not subscribers:
            self._subscribers.pop(call, None)
