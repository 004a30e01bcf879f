"""The UA core (RFC 3261 §8, §10, §12-15), sans-IO: calls in and out,
re-INVITEs, registrations, OPTIONS, CANCEL, BYE and the error responses a
UAS owes, on top of an :class:`~sansip.transaction.endpoint.Endpoint`.

Like every sans-IO machine it is driven with ``receive_datagram``,
``handle_timer`` and commands (``call``, ``ring``, ``answer``, ``reject``,
``hangup``, ``register``, ...), and has one output: ``next_event`` returns
every :data:`~sansip.dialog.events.UAEvent` (call, registration and drop
events) in the order they happened, from a queue whose drop events are
bounded; :attr:`UserAgent.counters` counts the dropped messages.  Requests
are sent to IP addresses given by the caller or taken from numeric URIs;
DNS resolution lives in the drivers.

The parts of the UA are helper objects it owns and wires together: a
:class:`~sansip.dialog.calls.CallTable` of its calls, the UAS answers
(:class:`~sansip.dialog.uas.UasRequests`), re-INVITEs
(:class:`~sansip.dialog.reinvite.SessionModifications`), the answers to
its INVITEs (:class:`~sansip.dialog.outgoing.OutgoingInvites`, with
:class:`~sansip.dialog.invite_retries.InviteRetries`), other requests
(:class:`~sansip.dialog.requests.RequestSender`) and registrations
(:class:`~sansip.dialog.registrations.Registrations`).

Failover (RFC 3263 §4.3): ``call`` and ``register`` take an ordered list of
``targets`` (addresses, or the :class:`~sansip.transport.resolve.Target`
list a resolver produced).  When the INVITE sent to one target times out
(timer B), meets a transport error, or is answered with a 503 — any 503: a
Retry-After speaks for that server only — the next attempt of the request
(new branch, same Call-ID and From tag, CSeq + 1) goes to the next target;
the call fails only when the last target failed, with that target's
outcome: 408 after a timeout, 503 after a transport error (RFC 3261
§8.1.3.1: ``transport_error``, ``connection_lost``), else its status.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Final, assert_never

from sansip.dialog.call import INCOMING, OUTGOING, Call, CallState, RequestArrived
from sansip.dialog.calls import CallTable, next_hop
from sansip.dialog.dialog import Dialog
from sansip.dialog.events import UAEvent, UAEventQueue
from sansip.dialog.invite_retries import InviteRetries, target_addresses
from sansip.dialog.outgoing import OutgoingInvites
from sansip.dialog.register import RegisterClient
from sansip.dialog.registrations import Registrations
from sansip.dialog.reinvite import SessionModifications
from sansip.dialog.reliable import ReliableResponses
from sansip.dialog.requests import PendingRequests, RequestSender
from sansip.dialog.session_refresh import SessionRefreshes
from sansip.dialog.subscription import Subscriber
from sansip.dialog.subscriptions import Subscriptions
from sansip.dialog.transfers import Transfers, replaces_value
from sansip.dialog.uac import Authenticator
from sansip.dialog.uaconfig import UAConfig, identity_fields, local_address, proxy_route
from sansip.dialog.uas import UasRequests
from sansip.errors import LocalProtocolError
from sansip.message import NameAddr, ParseError, Request, Response, SipURI, make_response
from sansip.message.ids import new_call_id, new_tag
from sansip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    TimedOut,
    TransactionEvent,
    TransactionKey,
)
from sansip.transaction import TransportFailed as TxTransportFailed
from sansip.transaction.drops import DropCounters, DropKind, DropStats, MessageDropped
from sansip.transaction.endpoint import (
    CloseConnection,
    Endpoint,
    EndpointConfig,
    EndpointRandom,
    KeepAliveFailed,
    StrayMessage,
    TransactionUpdate,
)
from sansip.transport.resolve import Target
from sansip.transport.routing import address_of
from sansip.transport.types import Address, Datagram, Transport

__all__ = ["STREAM_KEEPALIVE_INTERVAL", "UAConfig", "UAEvent", "UserAgent"]

#: Seconds between keep-alive pings to the registrar over TCP/TLS (RFC 5626
#: §4.4.1 recommends 95-120 s; the endpoint waits 80-100 % of it).
STREAM_KEEPALIVE_INTERVAL: Final = 120.0


class UserAgent:
    """A SIP user agent on one datagram socket or one stream transport (sans-IO)."""

    def __init__(
        self,
        endpoint: EndpointConfig,
        config: UAConfig | None = None,
        *,
        rng: EndpointRandom,
    ) -> None:
        self._config = config = config or UAConfig()
        self.endpoint = Endpoint(endpoint, rng=rng)
        self._rng = rng
        host, port = endpoint.sent_by
        shown = f"[{host}]" if ":" in host else host
        transport = endpoint.transport
        param = f";transport={transport.value.lower()}" if transport is not Transport.UDP else ""
        self.contact = NameAddr(f"sip:{config.user}@{shown}:{port}{param}", None)
        self._drops = DropCounters()
        self._events = UAEventQueue(self._drops)
        self._calls = CallTable(self.endpoint, config, self.contact, self._events, rng=rng)
        self._auth = Authenticator(config.auth_username or config.user, config.auth_password, rng)
        self._requests = PendingRequests(self.endpoint, self._auth, self._events)
        self._sender = RequestSender(self.endpoint, config, self.contact, self._requests, rng=rng)
        self._refreshes = SessionRefreshes(self._calls, self.hangup)
        self._reliable = ReliableResponses(self._calls)
        self._transfers = Transfers(self._calls)
        self._subscriptions = Subscriptions(self._calls, local_address(config, self.contact))
        self._reinvites = SessionModifications(self._calls, self._auth, self.hangup,
                                               self._refreshes)  # fmt: skip
        self._uas = UasRequests(
            self._calls, self._reinvites, refreshes=self._refreshes, reliable=self._reliable,
            transfers=self._transfers, subscriptions=self._subscriptions,
        )  # fmt: skip
        retries = InviteRetries(self._calls, self._auth)
        self._outgoing = OutgoingInvites(
            self._calls, self._auth, retries, self.hangup,
            refreshes=self._refreshes, reliable=self._reliable,
        )  # fmt: skip
        #: The REGISTER clients of this UA and where their requests go.
        self.registrations = Registrations(self.endpoint, self._events)

    @property
    def config(self) -> UAConfig:
        """The identity, headers and policies of the UA; assigning a new one
        (say, other extra headers) applies to every request and response
        from then on (the credentials stay those given at creation)."""
        return self._config

    @config.setter
    def config(self, config: UAConfig) -> None:
        self._config = config
        self._calls.config = self._sender.config = self._uas.config = config

    # -- the machine shape ---------------------------------------------------
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Take one datagram; never raises."""
        self.endpoint.receive_datagram(data, addr, now)
        self._process(now)

    def receive_data(self, data: bytes, addr: Address, now: float) -> None:
        """Take octets from the connection with ``addr`` (stream mode); never raises."""
        self.endpoint.receive_data(data, addr, now)
        self._process(now)

    def connection_lost(self, addr: Address, now: float) -> None:
        """The connection with ``addr`` is gone (stream mode).  Its transactions
        fail; a registration that used it registers again at once, on a new
        connection, since requests reach this UA over it (RFC 5626 §4.4)."""
        self.endpoint.connection_lost(addr, now)
        self._process(now)
        self.registrations.flow_failed(addr, now)
        self._process(now)

    def transport_error(self, addr: Address, now: float) -> None:
        """A message sent to ``addr`` could not be delivered (an ICMP
        unreachable, a refused send): the requests in flight to it fail at
        once, as a 503 (RFC 3261 §8.1.3.1), or go to their next target."""
        self.endpoint.transport_error(addr, now)
        self._process(now)

    def connections_to_close(self) -> list[CloseConnection]:
        """The connections the driver should close (stream mode)."""
        return self.endpoint.connections_to_close()

    def handle_timer(self, now: float) -> None:
        """Fire transaction timers, 2xx retransmissions, re-INVITE retries
        and registration refreshes that are due."""
        self.endpoint.handle_timer(now)
        self._calls.handle_timer(now)
        self._reinvites.handle_timer(now)
        self._refreshes.handle_timer(now)
        self._reliable.handle_timer(now)
        self._transfers.handle_timer(now)
        self._subscriptions.handle_timer(now)
        self.registrations.handle_timer(now)
        self._process(now)

    def get_timer(self) -> float | None:
        """The earliest deadline of the endpoint, the calls and the registrations; pure."""
        timers = (
            self.endpoint.get_timer(),
            self._calls.get_timer(),
            self._reinvites.get_timer(),
            self._refreshes.get_timer(),
            self._reliable.get_timer(),
            self._transfers.get_timer(),
            self._subscriptions.get_timer(),
            self.registrations.get_timer(),
        )
        return min((t for t in timers if t is not None), default=None)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Everything to send now."""
        return self.endpoint.datagrams_to_send(now)

    def next_event(self) -> UAEvent | None:
        """The oldest event (call, registration or drop), or None.  Drop
        events may have been discarded when many came at once; call and
        registration events never are."""
        return self._events.popleft()

    @property
    def counters(self) -> DropStats:
        """The messages dropped so far, by kind, and the latest few (a
        snapshot; memory stays bounded however many there are)."""
        return self._drops.snapshot()

    # -- registrations ---------------------------------------------------------
    def register(
        self,
        registrar: SipURI,
        now: float,
        *,
        username: str | None = None,
        password: str | None = None,
        expires: int = 3600,
        aor: SipURI | None = None,
        dest: Address | None = None,
        targets: Sequence[Address | Target] | None = None,
    ) -> RegisterClient:
        """Register this UA's Contact for ``aor`` (default: user@registrar
        domain) at ``registrar``, and keep it refreshed; its events name the
        returned client.

        The REGISTERs go to ``dest`` (default: the registrar URI's numeric
        address) or, with ``targets``, to the first of them that answers
        (see :class:`~sansip.dialog.registrations.Registrations`)."""
        addresses = self._targets(dest, targets) or [address_of(registrar)]
        aor = aor or SipURI(registrar.host, username or self.config.user)
        client = RegisterClient(
            aor, registrar, self.contact,
            call_id=new_call_id(self._rng, self.endpoint.config.sent_by[0]),
            from_tag=new_tag(self._rng), rng=self._rng, username=username, password=password,
            expires=expires, user_agent=self.config.user_agent, now=now,
            extra_headers=self.config.extra_headers,
            instance_id=self.config.instance_id,
            reg_id=1 if self.config.instance_id else None,
        )  # fmt: skip
        self.registrations.add(client, addresses[0], alternatives=addresses[1:])
        if self.endpoint.stream_mode:
            # Keep the connection to the registrar open and checked: it is how
            # requests reach this UA (RFC 5626 §4.4.1 CRLF keep-alives).
            self.endpoint.keep_alive(addresses[0], STREAM_KEEPALIVE_INTERVAL, now)
        elif self.config.keepalive_interval > 0:  # the NAT binding towards it
            self.endpoint.keep_alive(addresses[0], self.config.keepalive_interval, now)
        client.register(now)
        self.registrations.flush(now)
        return client

    def unregister(self, client: RegisterClient, now: float) -> None:
        """Remove the binding of ``client`` (REGISTER with expires 0)."""
        if self.endpoint.stream_mode or self.config.keepalive_interval > 0:
            self.endpoint.stop_keep_alive(self.registrations.current_target(client))
        client.unregister(now)
        self.registrations.flush(now)

    # -- calls -------------------------------------------------------------------
    @property
    def remembered(self) -> int:
        """How many calls the UA still keeps: active ones, and ended ones
        for 64*T1 (to absorb retransmissions); bounded by the call rate."""
        return len(self._calls.by_call_id)

    @property
    def calls(self) -> list[Call]:
        """Calls not yet disconnected."""
        return [c for c in self._calls.by_call_id.values() if c.state is not CallState.DISCONNECTED]

    def call(
        self,
        target: SipURI,
        now: float,
        *,
        sdp: bytes = b"",
        dest: Address | None = None,
        targets: Sequence[Address | Target] | None = None,
        call_id: str | None = None,
        headers: Sequence[tuple[str, object]] = (),
    ) -> Call:
        """Send an INVITE to ``target`` (to ``dest``, default: the outbound
        proxy or the URI's address), with a fresh Call-ID or ``call_id``
        and ``headers`` besides the usual ones (Replaces, Referred-By, ...).

        ``targets`` (instead of ``dest``) are tried in order: the next one
        after a timeout, a transport error or a 503 (RFC 3263 §4.3).  With
        an outbound proxy they are the proxy's addresses, and the
        pre-loaded Route names the one the INVITE goes to."""
        addresses = self._targets(dest, targets)
        proxy = self.config.outbound_proxy
        if targets and proxy is not None:
            proxy = addresses[0]
        dest = addresses[0] if addresses else proxy or address_of(target)
        host = self.endpoint.config.sent_by[0]
        call_id = call_id or new_call_id(self._rng, host)
        local = local_address(self.config, self.contact)
        headers = [*identity_fields(self.config, self.contact), *headers]
        if self.config.anonymous:  # RFC 3323 §4.1.1.3: who calls is not said
            local = NameAddr("sip:anonymous@anonymous.invalid", "Anonymous")
            headers = [*headers, ("Privacy", "id")]
        fields: list[tuple[str, object]] = [
            ("From", local.with_tag(new_tag(self._rng))),
            ("To", NameAddr(target)),
            ("Call-ID", call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", self.contact),
            ("Allow", ", ".join(self.config.allow)),
            ("User-Agent", self.config.user_agent),
            *self.config.extra_headers,
            *headers,
        ]
        fields += self._reliable.invite_headers()
        timer_offer = self._refreshes.invite_offer()
        if timer_offer is not None:
            fields += timer_offer.headers()
        if proxy is not None:
            fields.insert(0, ("Route", proxy_route(proxy)))
        if sdp:
            fields.append(("Content-Type", "application/sdp"))
        invite = Request("INVITE", target, fields, sdp)
        key = self.endpoint.send_request(invite, dest, now)
        call = Call(call_id=call_id, direction=OUTGOING, invite=invite, peer=dest,
                    invite_key=key, now=now)  # fmt: skip
        call.timer_request = timer_offer
        self._calls.add(call, key)
        self._calls.pin(call, dest)
        call.alternatives = deque(addresses[1:])
        return call

    def ring(self, call: Call, now: float) -> None:
        """Send 180 Ringing for an incoming call."""
        self._require_incoming(call)
        response = self._calls.response(call, 180)
        assert call.invite_key is not None
        self._send_provisional(call, response, now)
        if call.dialog is None:
            call.dialog = Dialog.from_uas(call.invite, response)
        self._calls.set_state(call, CallState.RINGING, "180 Ringing")

    def progress(self, call: Call, now: float, *, sdp: bytes) -> None:
        """Send 183 Session Progress with ``sdp`` (our answer) for an
        incoming call: early media flows before the call is answered."""
        self._require_incoming(call)
        headers: list[tuple[str, object]] = [("Content-Type", "application/sdp")]
        response = self._calls.response(call, 183, headers=headers, body=sdp)
        assert call.invite_key is not None
        self._send_provisional(call, response, now)
        if call.dialog is None:
            call.dialog = Dialog.from_uas(call.invite, response)
        call.local_sdp = sdp
        self._calls.set_state(call, CallState.RINGING, "183 Session Progress")

    def answer(self, call: Call, now: float, *, sdp: bytes = b"") -> None:
        """Answer an incoming call with 200 OK (and ``sdp``)."""
        self._require_incoming(call)
        headers: list[tuple[str, object]] = [("Content-Type", "application/sdp")] if sdp else []
        headers += self._refreshes.answer_headers(call)
        response = self._calls.response(call, 200, headers=headers, body=sdp)
        key = call.invite_key
        assert key is not None
        held = self._reliable.hold_final(call, response)  # until the PRACK of our 1xx's SDP
        if not held:
            self.endpoint.respond(key, response, now)
            self._reliable.final_sent(call)
        if call.dialog is None:
            call.dialog = Dialog.from_uas(call.invite, response)
        else:
            call.dialog.update_from_sent_response(response)
        call.status, call.local_sdp = 200, sdp
        # An INVITE without an offer: ours is in the 2xx, the answer in the ACK.
        call.answer_in_ack = bool(sdp) and not call.invite.body
        if not held:
            self._calls.resend_2xx_until_ack(call, key, response, now)
        call.connected_at = now
        self._refreshes.answered(call, call.invite, now)
        self._calls.set_state(call, CallState.CONNECTED, "200 OK")

    def reject(
        self,
        call: Call,
        now: float,
        status: int = 486,
        reason: str | None = None,
        *,
        warning: str | None = None,
    ) -> None:
        """Decline an incoming call (486 Busy Here by default; a 488 for
        unusable SDP takes a ``warning`` value, RFC 3261 §20.43)."""
        self._require_incoming(call)
        if not 300 <= status <= 699:
            raise LocalProtocolError("a rejection needs a 3xx-6xx status")
        assert call.invite_key is not None
        headers: list[tuple[str, object]] = [("Warning", warning)] if warning else []
        response = self._calls.response(call, status, reason=reason, headers=headers)
        self.endpoint.respond(call.invite_key, response, now)
        self._reliable.final_sent(call)
        call.held_final = None
        call.status = status
        self._calls.end(call, now, "rejected")

    def refer(
        self, call: Call, target: SipURI, now: float, *, replacing: Call | None = None
    ) -> None:
        """Transfer connected ``call``: a REFER asking its peer to call
        ``target`` (blind), or, with ``replacing`` (our call with
        ``target``), to replace that call (attended, RFC 3891).  How it goes
        comes as :class:`~sansip.dialog.call.TransferProgress` events."""
        replaces = replaces_value(replacing) if replacing is not None else None
        self._transfers.refer(call, target, now, replaces=replaces)

    def subscribe(self, target: SipURI, package: str, now: float, *, expires: int = 3600,
                  dest: Address | None = None) -> Subscriber:  # fmt: skip
        """Subscribe to the ``package`` events (``presence``, ``dialog``,
        ``message-summary``, ...) of ``target``; its NOTIFYs come as
        :class:`~sansip.dialog.call.NotificationReceived`, its end as
        :class:`~sansip.dialog.call.SubscriptionEnded`."""
        return self._subscriptions.subscribe(target, package, now, expires=expires, dest=dest)

    def unsubscribe(self, subscription: Subscriber, now: float) -> None:
        """End a subscription of ours (Expires 0, then the final NOTIFY)."""
        self._subscriptions.unsubscribe(subscription, now)

    def offer_events(self, package: str, content_type: str,
                     body: bytes | Callable[[], bytes]) -> None:  # fmt: skip
        """Accept SUBSCRIBEs to ``package`` (``SUBSCRIBE`` must be allowed),
        answering with this document (or what makes the current one)."""
        self._subscriptions.offer(package, content_type, body)

    def watched(self, package: str) -> bool:
        """Whether anyone watches our ``package`` now."""
        return self._subscriptions.watched(package)

    def publish_events(self, package: str, body: bytes, now: float) -> None:
        """The document of an offered ``package`` changed: NOTIFY every watcher."""
        self._subscriptions.publish(package, body, now)

    def transfer_progress(self, call: Call, status: int, reason: str, now: float) -> None:
        """Tell the peer that REFERred ``call`` how the new call goes (a
        NOTIFY with a sipfrag; a final ``status`` ends the REFER)."""
        self._transfers.progress(call, status, reason, now)

    def redirect(
        self, call: Call, targets: Sequence[SipURI], now: float, status: int = 302
    ) -> None:
        """Send an unanswered incoming call elsewhere: ``status`` (302 Moved
        Temporarily, or 301) with ``targets`` as Contacts (RFC 3261 §8.3)."""
        self._require_incoming(call)
        if not 300 <= status < 400 or not targets:
            raise LocalProtocolError("a redirect needs a 3xx status and a target")
        headers: list[tuple[str, object]] = [("Contact", f"<{uri}>") for uri in targets]
        assert call.invite_key is not None
        response = self._calls.response(call, status, headers=headers)
        self.endpoint.respond(call.invite_key, response, now)
        self._reliable.final_sent(call)
        call.status = status
        self._calls.end(call, now, "redirected")

    def _send_provisional(self, call: Call, response: Response, now: float) -> None:
        """A 1xx of ours: reliable when it must be (RFC 3262), maybe waiting its turn."""
        out = self._reliable.provisional(call, response, now)
        if out is not None and call.invite_key is not None:
            self.endpoint.respond(call.invite_key, out, now)

    def hangup(self, call: Call, now: float, *, reason: str = "User Hung Up") -> None:
        """End a call: BYE when connected (``reason`` is the call's then),
        CANCEL while it rings out, 486 for an unanswered incoming call."""
        if call.state is CallState.DISCONNECTED:
            return
        if call.direction == INCOMING and call.final is None:
            self.reject(call, now, 486)
            return
        if call.state is CallState.CONNECTED and call.dialog is not None:
            bye = call.dialog.create_request(
                "BYE", headers=[("User-Agent", self.config.user_agent), *self.config.extra_headers]
            )
            call.bye = bye
            call.bye_key = self._requests.send(bye, next_hop(call.dialog), now, call)
            call.retransmit_at = None
            self._calls.end(call, now, reason)
            return
        # An outgoing call not answered yet: CANCEL (after a provisional, §9.1).
        if call.dialog is None and call.status is None:
            call.cancel_pending = True
            return
        self._calls.cancel(call, now)

    def reinvite(self, call: Call, sdp: bytes, now: float, *, method: str = "INVITE") -> None:
        """Offer ``sdp`` to the peer of connected ``call`` in a re-INVITE
        (hold, resume, codec change), or in an UPDATE (RFC 3311) with
        ``method="UPDATE"``; the outcome is a
        :class:`~sansip.dialog.call.SessionUpdated` or a
        :class:`~sansip.dialog.call.ModificationFailed`.  Raises
        :class:`LocalProtocolError` when the call is not connected or an
        offer is already pending."""
        self._reinvites.reinvite(call, sdp, now, method=method)

    def accept_offer(self, call: Call, sdp: bytes, now: float) -> None:
        """Answer the peer's re-INVITE (or UPDATE) of ``call`` with 200 OK
        and ``sdp`` (our answer, or our offer when the re-INVITE had none)."""
        self._reinvites.accept_offer(call, sdp, now)

    def reject_offer(
        self, call: Call, now: float, status: int = 488, warning: str | None = None
    ) -> None:
        """Refuse the peer's re-INVITE of ``call`` (488 Not Acceptable Here
        by default, with an optional Warning value); the session stays."""
        self._reinvites.reject_offer(call, now, status, warning)

    # -- other requests ----------------------------------------------------------
    def respond(self, arrived: RequestArrived, status: int, now: float, *, body: bytes = b"",
                content_type: str | None = None,
                headers: Sequence[tuple[str, object]] = ()) -> None:  # fmt: skip
        """Answer a request the application was handed (a MESSAGE, an
        INFO) with ``status`` and an optional body."""
        if not 200 <= status <= 699:
            raise LocalProtocolError("answer a request with a final status (200-699)")
        request = arrived.request
        extra: list[tuple[str, object]] = [("User-Agent", self.config.user_agent), *headers]
        if body:
            extra.append(("Content-Type", content_type or "text/plain"))
        if status == 405:
            extra.append(("Allow", ", ".join(self.config.allow)))
        tag = request.to.tag or new_tag(self._rng)
        response = make_response(request, status, to_tag=tag, headers=extra, body=body)
        self.endpoint.respond(arrived.key, response, now)

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
        """Send a ``method`` request (MESSAGE, OPTIONS, INFO, PUBLISH, ...)
        outside any dialog to ``target`` (through ``dest``, default: the
        outbound proxy or the URI's address), with a fresh Call-ID or
        ``call_id``.  Challenges are answered with the UA's credentials; the
        outcome is a :class:`~sansip.dialog.call.RequestCompleted` event."""
        return self._sender.send_request(method, target, now, body=body,
                                         content_type=content_type, headers=headers,
                                         dest=dest, call_id=call_id)  # fmt: skip

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
        """Send a ``method`` request (INFO, MESSAGE, OPTIONS, NOTIFY, REFER,
        UPDATE without an offer, ...) within the dialog of connected
        ``call``; the outcome is a :class:`~sansip.dialog.call.RequestCompleted`."""
        return self._sender.send_in_dialog(call, method, now, body=body,
                                           content_type=content_type, headers=headers)  # fmt: skip

    # -- internals ---------------------------------------------------------------
    def _targets(
        self, dest: Address | None, targets: Sequence[Address | Target] | None
    ) -> list[Address]:
        return target_addresses(self.endpoint.config.transport, dest, targets)

    def _require_incoming(self, call: Call) -> None:
        if call.direction != INCOMING or call.final is not None:
            raise LocalProtocolError("only an unanswered incoming call can be answered")
        if call.state is CallState.DISCONNECTED:
            raise LocalProtocolError("the call has ended")

    # -- what came in ---------------------------------------------------------------
    def _process(self, now: float) -> None:
        """Act on everything the endpoint reported."""
        while (event := self.endpoint.next_event()) is not None:
            try:
                match event:
                    case TransactionUpdate():
                        self._on_transaction(event.key, event.event, now)
                    case StrayMessage():
                        self._on_stray(event.message, now)
                    case KeepAliveFailed():
                        pass  # the endpoint closes the connection; connection_lost follows
                    case MessageDropped():
                        self._events.drop(event)
                    case _:
                        assert_never(event)
            except (ParseError, LocalProtocolError) as exc:
                reason = f"UA core: {exc}"
                self._events.drop(MessageDropped(("", 0), reason, False, DropKind.UNPROCESSABLE))

    def _on_transaction(self, key: TransactionKey, event: TransactionEvent, now: float) -> None:
        if isinstance(event, RequestReceived):
            self._uas.on_request(key, event.request, now)
        elif isinstance(event, AckReceived):
            self._on_stray(event.request, now)
        elif isinstance(event, ResponseReceived):
            if not self.registrations.on_response(key, event.response, now):
                self._on_response(key, event.response, now)
        elif isinstance(event, TimedOut | TxTransportFailed):
            status = 503 if isinstance(event, TxTransportFailed) else 408  # §8.1.3.1
            if not self.registrations.on_failure(key, now, status):
                self._on_failure(key, now, status)

    def _on_response(self, key: TransactionKey, response: Response, now: float) -> None:
        if self._requests.on_response(key, response, now):
            return
        if self._refreshes.on_response(key, response, now):
            return
        if self._transfers.on_response(key, response, now):
            return
        if self._subscriptions.on_response(key, response, now):
            return
        call = self._calls.by_key.get(key)
        if call is None:
            return
        if key == call.reinvite_key:
            self._reinvites.on_response(call, key, response, now)
        else:
            self._outgoing.on_response(call, key, response, now)

    def _on_failure(self, key: TransactionKey, now: float, status: int) -> None:
        """Transaction ``key`` timed out (408) or met a transport error (503)."""
        if self._requests.on_failure(key, now, status):
            return
        if self._refreshes.on_failure(key, now, status):
            return
        if self._transfers.on_failure(key, now, status):
            return
        if self._subscriptions.on_failure(key, now, status):
            return
        call = self._calls.by_key.pop(key, None)
        if call is None:
            return
        if key == call.reinvite_key:
            self._reinvites.on_failure(call, now, status)
        else:
            self._outgoing.on_failure(call, key, now, status)

    def _on_stray(self, message: Request | Response, now: float) -> None:
        call = self._calls.by_call_id.get(message.call_id)
        if call is None:
            return
        if isinstance(message, Response):
            self._outgoing.on_stray_response(call, message, now)
        elif message.method == "ACK":
            self._reinvites.on_ack(call, message, now)  # the 2xx got through
