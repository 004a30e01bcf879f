"""Event subscriptions (RFC 6665) in :class:`~sansip.dialog.ua.UserAgent`,
on the machines of :mod:`sansip.dialog.subscription` and
:mod:`sansip.dialog.notifier`: presence (RFC 3856), dialog state for busy
lamps (RFC 4235), message summaries (RFC 3842) and any other package.

Ours: :meth:`Subscriptions.subscribe` starts a subscription outside any
dialog; each NOTIFY accepted becomes a :class:`NotificationReceived` and
its end a :class:`SubscriptionEnded`.

Theirs: the packages the application offers (:meth:`Subscriptions.offer`,
with the current document) accept SUBSCRIBEs: 200 and the immediate
NOTIFY, then a NOTIFY to every watcher each time the document changes
(:meth:`Subscriptions.publish`); a package not offered gets 489 with
Allow-Events, a too brief Expires 423.
"""

from __future__ import annotations

from collections.abc import Callable

from sansip.dialog.call import NotificationReceived, SubscriptionEnded
from sansip.dialog.calls import CallTable, next_hop
from sansip.dialog.notifier import Notifier, NotifierTerminated
from sansip.dialog.subscription import (
    NotifyReceived,
    Subscriber,
    SubscriptionTerminated,
    dispatch_notify,
)
from sansip.message import NameAddr, Request, RequestRejected, Response, SipURI, make_response
from sansip.message.ids import new_tag
from sansip.transaction import TransactionKey
from sansip.transport.routing import address_of
from sansip.transport.types import Address

__all__ = ["Subscriptions"]


class Subscriptions:
    """SUBSCRIBE/NOTIFY both ways for one UA (see the module docstring)."""

    def __init__(self, calls: CallTable, local: NameAddr) -> None:
        self._calls = calls
        self._local = local
        self._subscribers: dict[str, list[Subscriber]] = {}  # by Call-ID
        self._notifiers: dict[str, Notifier] = {}  # by Call-ID
        self._by_key: dict[TransactionKey, tuple[Subscriber | Notifier, Request]] = {}
        self._dest: dict[Subscriber, Address] = {}
        # package -> (content type, its document, or what makes it when asked)
        self._offered: dict[str, tuple[str, bytes | Callable[[], bytes]]] = {}

    # -- ours -------------------------------------------------------------------------
    def subscribe(self, target: SipURI, package: str, now: float, *, expires: int = 3600,
                  dest: Address | None = None) -> Subscriber:  # fmt: skip
        """Subscribe to ``package`` of ``target`` (through ``dest``, default:
        the outbound proxy or the URI's address)."""
        calls = self._calls
        subscriber = Subscriber(
            target, package, local=self._local, contact=calls.contact, rng=calls.rng,
            expires=expires, extra_headers=calls.config.extra_headers,
            call_id_host=calls.endpoint.config.sent_by[0],
        )  # fmt: skip
        self._dest[subscriber] = dest or calls.config.outbound_proxy or address_of(target)
        subscriber.subscribe(now)
        self._drain(subscriber, now)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber, now: float) -> None:
        """End ``subscriber`` (Expires 0, then the final NOTIFY)."""
        subscriber.unsubscribe(now)
        self._drain(subscriber, now)

    # -- theirs -----------------------------------------------------------------------
    def offer(self, package: str, content_type: str, body: bytes | Callable[[], bytes]) -> None:
        """Accept SUBSCRIBEs to ``package`` from now on, with this document
        (or what makes the current one when a watcher comes)."""
        self._offered[package] = (content_type, body)

    def watched(self, package: str) -> bool:
        """Whether anyone watches ``package`` now."""
        return any(n.event.package == package and not n.terminating
                   for n in self._notifiers.values())  # fmt: skip

    def publish(self, package: str, body: bytes, now: float) -> None:
        """The document of ``package`` changed: every watcher is notified."""
        content_type, offered = self._offered.get(package, ("", b""))
        if not callable(offered):
            self._offered[package] = (content_type, body)
        for notifier in list(self._notifiers.values()):
            if notifier.event.package == package and not notifier.terminating:
                notifier.notify(now, body=body, content_type=content_type)
                self._drain(notifier, now)

    def on_subscribe(self, key: TransactionKey, request: Request, now: float) -> None:
        """A SUBSCRIBE outside any dialog (or a refresh of one of ours)."""
        endpoint = self._calls.endpoint
        existing = self._notifiers.get(request.call_id)
        if existing is not None and request.to.tag:
            endpoint.respond(key, existing.receive_subscribe(request, now), now)
            self._drain(existing, now)
            return
        try:
            event = request.headers.get("Event")
            package = str(event).split(";")[0].strip() if event is not None else ""
            content_type, offered = self._offered.get(package, ("", b""))
            body = offered() if callable(offered) else offered
            notifier, response = Notifier.accept(
                request, to_tag=new_tag(self._calls.rng), contact=self._calls.contact, now=now,
                packages=self._offered, content_type=content_type or None, body=body,
            )  # fmt: skip
        except RequestRejected as exc:
            to_tag = request.to.tag or new_tag(self._calls.rng)
            refusal = make_response(request, exc.status, to_tag=to_tag,
                                    headers=exc.response_headers)  # fmt: skip
            endpoint.respond(key, refusal, now)
            return
        endpoint.respond(key, response, now)
        self._notifiers[request.call_id] = notifier
        self._drain(notifier, now)

    def on_notify(self, key: TransactionKey, request: Request, now: float) -> bool:
        """A NOTIFY for one of our subscriptions (False: not one of ours)."""
        subscribers = self._subscribers.get(request.call_id)
        if not subscribers:
            return False
        subscriber, response = dispatch_notify(subscribers, request, now)
        self._calls.endpoint.respond(key, response, now)
        if subscriber is not None:
            self._drain(subscriber, now)
        return True

    def owns(self, request: Request) -> bool:
        """Whether an in-dialog ``request`` belongs to a subscription here."""
        return request.call_id in self._subscribers or request.call_id in self._notifiers

    # -- transactions and time ----------------------------------------------------------
    def on_response(self, key: TransactionKey, response: Response, now: float) -> bool:
        """A response to a SUBSCRIBE or NOTIFY of ours; False if ``key`` is not one."""
        found = self._by_key.get(key)
        if found is None:
            return False
        if response.status >= 200:
            del self._by_key[key]
            machine, _ = found
            machine.receive_response(response, now)
            self._drain(machine, now)
        return True

    def on_failure(self, key: TransactionKey, now: float, status: int) -> bool:
        """A SUBSCRIBE or NOTIFY of ours got no answer (408) or a transport error (503)."""
        found = self._by_key.pop(key, None)
        if found is None:
            return False
        machine, request = found
        machine.transaction_failed(request, now, status)
        self._drain(machine, now)
        return True

    def get_timer(self) -> float | None:
        """The next refresh, expiry or Timer N of a subscription; pure."""
        machines: list[Subscriber | Notifier] = [*self._notifiers.values()]
        for subscribers in self._subscribers.values():
            machines += subscribers
        due = [m.get_timer() for m in machines]
        return min((d for d in due if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire the subscriptions' timers."""
        for notifier in list(self._notifiers.values()):
            notifier.handle_timer(now)
            self._drain(notifier, now)
        for subscribers in list(self._subscribers.values()):
            for subscriber in list(subscribers):
                subscriber.handle_timer(now)
                self._drain(subscriber, now)

    def _drain(self, machine: Subscriber | Notifier, now: float) -> None:
        endpoint = self._calls.endpoint
        if isinstance(machine, Subscriber):
            self._subscribers.setdefault(machine.call_id, [])
            if machine not in self._subscribers[machine.call_id]:
                self._subscribers[machine.call_id].append(machine)
        for request in machine.requests_to_send():
            dialog = machine.dialog
            if dialog is not None:
                where = next_hop(dialog)
            elif isinstance(machine, Subscriber):
                where = self._dest[machine]
            else:
                continue
            key = endpoint.send_request(request, where, now)
            self._by_key[key] = (machine, request)
        while (event := machine.next_event()) is not None:
            if isinstance(event, NotifyReceived):
                kind = str(event.content_type) if event.content_type is not None else ""
                self._calls.events.append(NotificationReceived(
                    event.subscriber, event.subscriber.event.package, str(event.state.state),
                    kind.split(";")[0].strip().lower(), event.body))  # fmt: skip
            elif isinstance(event, SubscriptionTerminated):
                sub = event.subscriber
                reason = str(event.reason or event.detail or "")
                self._calls.events.append(
                    SubscriptionEnded(sub, sub.event.package, reason, event.status)
                )
                self._forget(sub)
            elif isinstance(event, NotifierTerminated):
                self._notifiers = {k: n for k, n in self._notifiers.items() if n is not machine}

    def _forget(self, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(subscriber.call_id, [])
        if subscriber in subscribers:
            subscribers.remove(subscriber)
        if not subscribers:
            self._subscribers.pop(subscriber.call_id, None)
        self._dest.pop(subscriber, None)
