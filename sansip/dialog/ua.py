"""The UA core (RFC 3261 §8, §12-15), sans-IO: calls in and out, OPTIONS,
CANCEL, BYE and the error responses a UAS owes, on top of an
:class:`~sansip.dialog.endpoint.Endpoint`.

Like every sans-IO machine it is driven with ``receive_datagram``,
``handle_timer`` and commands (``call``, ``ring``, ``answer``, ``reject``,
``hangup``); its events (:class:`IncomingCall`, :class:`CallStateChanged`)
come from ``next_event``.  Requests are sent to IP addresses given by the
caller or taken from numeric URIs; DNS resolution lives in the drivers.

Failover (RFC 3263 §4.3): ``call`` and ``register`` take an ordered list of
``targets`` (addresses, or the :class:`~sansip.transport.resolve.Target`
list a resolver produced).  When the INVITE sent to one target times out
(timer B), meets a transport error, or is answered with a 503 — any 503: a
Retry-After speaks for that server only — the next attempt of the request
(new branch, same Call-ID and From tag, CSeq + 1) goes to the next target;
the call fails only when the last target failed, with that target's
outcome (408 after a timeout or transport error, else its status).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final

from sansip.dialog.call import (
    INCOMING,
    OUTGOING,
    Call,
    CallEvent,
    CallState,
    CallStateChanged,
    EarlyMediaReceived,
)
from sansip.dialog.dialog import Dialog, DialogState
from sansip.dialog.endpoint import (
    CloseConnection,
    Endpoint,
    EndpointConfig,
    EndpointRandom,
    KeepAliveFailed,
    MessageDropped,
    StrayMessage,
    TransactionUpdate,
)
from sansip.dialog.ids import new_call_id, new_tag
from sansip.dialog.invite_retries import InviteRetries
from sansip.dialog.register import RegisterClient, RegisterEvent
from sansip.dialog.registrations import Registrations
from sansip.dialog.reinvite import SessionModifications
from sansip.dialog.requests import PendingRequests, RequestSending
from sansip.dialog.uac import Authenticator
from sansip.dialog.uaconfig import UAConfig, address_of, proxy_route
from sansip.dialog.uas import UasRequests
from sansip.errors import LocalProtocolError
from sansip.message import (
    NameAddr,
    ParseError,
    Request,
    Response,
    SipURI,
    make_response,
)
from sansip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    TimedOut,
    TransactionKey,
)
from sansip.transaction import TransportFailed as TxTransportFailed
from sansip.transport.resolve import Target
from sansip.transport.types import Address, Datagram, Transport

__all__ = ["STREAM_KEEPALIVE_INTERVAL", "UAConfig", "UserAgent"]

#: Seconds between keep-alive pings to the registrar over TCP/TLS (RFC 5626
#: §4.4.1 recommends 95-120 s; the endpoint waits 80-100 % of it).
STREAM_KEEPALIVE_INTERVAL: Final = 120.0


class UserAgent(UasRequests, SessionModifications, RequestSending, InviteRetries):
    """A SIP user agent on one datagram socket (sans-IO)."""

    def __init__(
        self,
        endpoint: EndpointConfig,
        config: UAConfig | None = None,
        *,
        rng: EndpointRandom,
    ) -> None:
        self.config = config or UAConfig()
        self.endpoint = Endpoint(endpoint, rng=rng)
        self._rng = rng
        self._t = endpoint.timers
        self._events: deque[CallEvent] = deque()
        self._calls: dict[str, Call] = {}  # by Call-ID
        self._by_key: dict[TransactionKey, Call] = {}
        # Calls resending their 2xx, and ended calls kept 64*T1 for stray
        # retransmissions before they are forgotten.
        self._retransmitting: set[Call] = set()
        self._expiry: deque[tuple[float, Call]] = deque()
        # Outgoing calls still being set up: the targets left to try (RFC 3263 §4.3).
        self._alternatives: dict[Call, deque[Address]] = {}
        self.registrations = Registrations(self.endpoint)
        self._auth = Authenticator(
            self.config.auth_username or self.config.user, self.config.auth_password, rng
        )
        self._requests = PendingRequests(self.endpoint, self._auth, self._events)
        self._glare_waits: set[Call] = set()  # re-INVITEs to retry after a 491
        self.dropped: list[MessageDropped] = []
        host, port = endpoint.sent_by
        shown = f"[{host}]" if ":" in host else host
        transport = endpoint.transport
        param = f";transport={transport.value.lower()}" if transport is not Transport.UDP else ""
        self.contact = NameAddr(f"sip:{self.config.user}@{shown}:{port}{param}", None)

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

    def connections_to_close(self) -> list[CloseConnection]:
        """The connections the driver should close (stream mode)."""
        return self.endpoint.connections_to_close()

    def handle_timer(self, now: float) -> None:
        """Fire transaction timers and 2xx retransmissions."""
        self.endpoint.handle_timer(now)
        for call in list(self._retransmitting):
            if call.retransmit_at is None:
                self._retransmitting.discard(call)
            elif now >= call.retransmit_at:
                self._retransmit_2xx(call, now)
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, call = expiry.popleft()
            if self._calls.get(call.call_id) is call:
                del self._calls[call.call_id]
            for key in (call.invite_key, call.bye_key, call.reinvite_key):
                if key is not None and self._by_key.get(key) is call:
                    del self._by_key[key]
        if self._glare_waits:
            due = [c for c in self._glare_waits if (c.reinvite_retry_at or 0.0) <= now]
            self._glare_waits.difference_update(due)
            self._reinvite_retries_due(due, now)
        self.registrations.handle_timer(now)
        self._process(now)

    def get_timer(self) -> float | None:
        """The earliest deadline of the endpoint and of 2xx retransmissions; pure."""
        deadlines = [c.retransmit_at for c in self._retransmitting if c.retransmit_at is not None]
        deadlines += [c.reinvite_retry_at for c in self._glare_waits if c.reinvite_retry_at]
        expiry = self._expiry[0][0] if self._expiry else None
        others = (self.endpoint.get_timer(), self.registrations.get_timer(), expiry)
        deadlines.extend(t for t in others if t is not None)
        return min(deadlines, default=None)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Everything to send now."""
        return self.endpoint.datagrams_to_send(now)

    def next_event(self) -> CallEvent | None:
        """The oldest call event, or None."""
        return self._events.popleft() if self._events else None

    def next_registration_event(self) -> tuple[RegisterClient, RegisterEvent] | None:
        """The oldest registration event and the client it came from, or None."""
        events = self.registrations.events
        return events.popleft() if events else None

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
        domain) at ``registrar``, and keep it refreshed.

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
        client.register(now)
        self.registrations.flush(now)
        return client

    def unregister(self, client: RegisterClient, now: float) -> None:
        """Remove the binding of ``client`` (REGISTER with expires 0)."""
        if self.endpoint.stream_mode:
            self.endpoint.stop_keep_alive(self.registrations.current_target(client))
        client.unregister(now)
        self.registrations.flush(now)

    @property
    def remembered(self) -> int:
        """How many calls the UA still keeps: active ones, and ended ones
        for 64*T1 (to absorb retransmissions); bounded by the call rate."""
        return len(self._calls)

    @property
    def calls(self) -> list[Call]:
        """Calls not yet disconnected."""
        return [c for c in self._calls.values() if c.state is not CallState.DISCONNECTED]

    # -- commands --------------------------------------------------------------
    def call(
        self,
        target: SipURI,
        now: float,
        *,
        sdp: bytes = b"",
        dest: Address | None = None,
        targets: Sequence[Address | Target] | None = None,
    ) -> Call:
        """Send an INVITE to ``target`` (to ``dest``, default: the outbound
        proxy or the URI's address).

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
        call_id = new_call_id(self._rng, host)
        local = NameAddr(f"sip:{self.config.user}@{self.contact.sip_uri.hostport}",
                         self.config.display_name)  # fmt: skip
        headers: list[tuple[str, object]] = [
            ("From", local.with_tag(new_tag(self._rng))),
            ("To", NameAddr(target)),
            ("Call-ID", call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", self.contact),
            ("Allow", ", ".join(self.config.allow)),
            ("User-Agent", self.config.user_agent),
            *self.config.extra_headers,
        ]
        if proxy is not None:
            headers.insert(0, ("Route", proxy_route(proxy)))
        if sdp:
            headers.append(("Content-Type", "application/sdp"))
        invite = Request("INVITE", target, headers, sdp)
        key = self.endpoint.send_request(invite, dest, now)
        call = Call(call_id=call_id, direction=OUTGOING, invite=invite, peer=dest,
                    invite_key=key, now=now)  # fmt: skip
        self._calls[call_id] = call
        self._by_key[key] = call
        self._pin(call, dest)
        if len(addresses) > 1:
            self._alternatives[call] = deque(addresses[1:])
        self._events.append(CallStateChanged(call, CallState.SETUP, CallState.SETUP))
        return call

    def ring(self, call: Call, now: float) -> None:
        """Send 180 Ringing for an incoming call."""
        self._require_incoming(call)
        response = self._response(call, 180)
        assert call.invite_key is not None
        self.endpoint.respond(call.invite_key, response, now)
        if call.dialog is None:
            call.dialog = Dialog.from_uas(call.invite, response)
        self._set_state(call, CallState.RINGING, now)

    def progress(self, call: Call, now: float, *, sdp: bytes) -> None:
        """Send 183 Session Progress with ``sdp`` (our answer) for an
        incoming call: early media flows before the call is answered."""
        self._require_incoming(call)
        headers: list[tuple[str, object]] = [("Content-Type", "application/sdp")]
        response = self._response(call, 183, headers=headers, body=sdp)
        assert call.invite_key is not None
        self.endpoint.respond(call.invite_key, response, now)
        if call.dialog is None:
            call.dialog = Dialog.from_uas(call.invite, response)
        call.local_sdp = sdp
        self._set_state(call, CallState.RINGING, now)

    def answer(self, call: Call, now: float, *, sdp: bytes = b"") -> None:
        """Answer an incoming call with 200 OK (and ``sdp``)."""
        self._require_incoming(call)
        headers: list[tuple[str, object]] = [("Content-Type", "application/sdp")] if sdp else []
        response = self._response(call, 200, headers=headers, body=sdp)
        assert call.invite_key is not None
        self.endpoint.respond(call.invite_key, response, now)
        if call.dialog is None:
            call.dialog = Dialog.from_uas(call.invite, response)
        else:
            call.dialog.update_from_sent_response(response)
        call.final, call.status, call.local_sdp = response, 200, sdp
        # An INVITE without an offer: ours is in the 2xx, the answer in the ACK.
        call.answer_in_ack = bool(sdp) and not call.invite.body
        call.retransmit_interval = self._t.t1
        call.retransmit_at = now + self._t.t1
        call.retransmit_until = now + 64 * self._t.t1
        self._retransmitting.add(call)
        call.connected_at = now
        self._set_state(call, CallState.CONNECTED, now)

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
        response = self._response(call, status, reason=reason, headers=headers)
        self.endpoint.respond(call.invite_key, response, now)
        call.status = status
        self._end(call, now, "rejected")

    def hangup(self, call: Call, now: float) -> None:
        """End a call: BYE when connected, CANCEL while it rings out,
        486 for an unanswered incoming call."""
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
            call.bye_key = self._requests.send(bye, self._next_hop(call.dialog), now, call)
            call.retransmit_at = None
            self._end(call, now, "User Hung Up")
            return
        # An outgoing call not answered yet: CANCEL (after a provisional, §9.1).
        if call.dialog is None and call.status is None:
            call.cancel_pending = True
            return
        self._cancel(call, now)

    # -- internals ---------------------------------------------------------------
    def _require_incoming(self, call: Call) -> None:
        if call.direction != INCOMING or call.final is not None:
            raise LocalProtocolError("only an unanswered incoming call can be answered")
        if call.state is CallState.DISCONNECTED:
            raise LocalProtocolError("the call has ended")

    def _response(
        self,
        call: Call,
        status: int,
        *,
        reason: str | None = None,
        headers: list[tuple[str, object]] | None = None,
        body: bytes = b"",
    ) -> Response:
        if call.local_tag is None:
            call.local_tag = new_tag(self._rng)
        extra: list[tuple[str, object]] = []
        if 100 < status < 300:
            # A dialog-creating response carries the request's Record-Route (§12.1.1).
            extra += [("Record-Route", v) for v in call.invite.headers.get_all("Record-Route")]
            extra += [("Contact", self.contact), ("Allow", ", ".join(self.config.allow))]
        extra += [
            ("User-Agent", self.config.user_agent),
            *self.config.extra_headers,
            *(headers or []),
        ]
        return make_response(call.invite, status, reason, to_tag=call.local_tag,
                             headers=extra, body=body)  # fmt: skip

    def _cancel(self, call: Call, now: float) -> None:
        if call.invite_key is not None:
            self.endpoint.cancel(call.invite_key, now)

    def _next_hop(self, dialog: Dialog) -> Address:
        uri, routes = dialog.request_target()
        return address_of(routes[0] if routes else uri)

    def _set_state(self, call: Call, new: CallState, now: float, reason: str = "") -> None:
        old = call.state
        if old is new or old is CallState.DISCONNECTED:
            return
        call.state = new
        self._events.append(CallStateChanged(call, old, new, reason))

    def _pin(self, call: Call, addr: Address | None) -> None:
        """Keep the connection ``call`` runs on open (stream mode; None: release)."""
        if not self.endpoint.stream_mode or call.pinned == addr:
            return
        if call.pinned is not None:
            self.endpoint.unpin_connection(call.pinned)
        call.pinned = addr
        if addr is not None:
            self.endpoint.pin_connection(addr)

    def _end(self, call: Call, now: float, reason: str) -> None:
        self._pin(call, None)
        self._alternatives.pop(call, None)
        call.retransmit_at = None
        self._retransmitting.discard(call)
        if call.ended_at is None:
            self._expiry.append((now + 64 * self._t.t1, call))
        call.ended_at = now
        call.reason = reason
        if call.dialog is not None:
            call.dialog.terminate()
        self._set_state(call, CallState.DISCONNECTED, now, reason)

    def _retransmit_2xx(self, call: Call, now: float) -> None:
        if call.final is None or call.invite_key is None:
            call.retransmit_at = None
            return
        if now >= call.retransmit_until:
            # No ACK within 64*T1: confirm the session ended with a BYE (§13.3.1.4).
            call.retransmit_at = None
            if call.dialog is not None and call.dialog.state is not DialogState.TERMINATED:
                bye = call.dialog.create_request("BYE")
                self.endpoint.send_request(bye, self._next_hop(call.dialog), now)
            self._end(call, now, "not acked connection expired")
            return
        try:
            self.endpoint.respond(call.invite_key, call.final, now)
        except LocalProtocolError:
            self.endpoint.send_stateless(call.final, call.peer, now)
        call.retransmit_interval = min(2 * call.retransmit_interval, self._t.t2)
        call.retransmit_at = min(now + call.retransmit_interval, call.retransmit_until)

    # -- what came in ---------------------------------------------------------------
    def _process(self, now: float) -> None:
        while (event := self.endpoint.next_event()) is not None:
            try:
                if isinstance(event, TransactionUpdate):
                    inner = event.event
                    if isinstance(inner, RequestReceived):
                        self._on_request(event.key, inner.request, now)
                    elif isinstance(inner, AckReceived):
                        self._on_stray(inner.request, now)
                    elif isinstance(inner, ResponseReceived):
                        if not self.registrations.on_response(event.key, inner.response, now):
                            self._on_response(event.key, inner.response, now)
                    elif isinstance(inner, TimedOut | TxTransportFailed) and (
                        not self.registrations.on_failure(event.key, now)
                    ):
                        self._on_failure(event.key, now)
                elif isinstance(event, StrayMessage):
                    self._on_stray(event.message, now)
                elif isinstance(event, KeepAliveFailed):
                    pass  # the endpoint closes the connection; connection_lost follows
                else:
                    self.dropped.append(event)
            except (ParseError, LocalProtocolError) as exc:
                self.dropped.append(MessageDropped(("", 0), f"UA core: {exc}", False))

    def _on_response(self, key: TransactionKey, response: Response, now: float) -> None:
        if self._requests.on_response(key, response, now):
            return
        call = self._by_key.get(key)
        if call is not None and key == call.reinvite_key:
            self._on_reinvite_response(call, key, response, now)
            if call.reinvite_retry_at is not None:
                self._glare_waits.add(call)
            return
        if call is None or response.cseq.method != "INVITE" or key != call.invite_key:
            return  # CANCEL and OPTIONS answers need nothing more
        status = response.status
        if status == 503 and self._failover(call, now):
            return
        if status >= 300 and self._retry_invite(call, response, now):
            return
        if status >= 200:
            self._auth.succeeded(call.invite)
        if status < 200:
            if response.to.tag and call.dialog is None and status > 100:
                call.dialog = Dialog.from_uac(call.invite, response)
            if call.cancel_pending:
                call.cancel_pending = False
                self._cancel(call, now)
            if status in (180, 183):
                self._set_state(call, CallState.RINGING, now)
                if response.body and not call.early_sdp:
                    call.early_sdp = response.body
                    self._events.append(EarlyMediaReceived(call, response.body))
            return
        call.status = status
        if status < 300:
            self._on_invite_2xx(call, response, now)
            return
        reason = "rejected" if status in (486, 600, 603) else f"{status} {response.reason}"
        if call.dialog is not None:
            call.dialog.update_from_response(response)
        self._end(call, now, "cancelled" if status == 487 else reason)

    def _on_invite_2xx(self, call: Call, response: Response, now: float) -> None:
        if call.dialog is None or call.dialog.remote_tag != (response.to.tag or ""):
            call.dialog = Dialog.from_uac(call.invite, response)
        else:
            call.dialog.update_from_response(response)
        ack = call.dialog.create_ack(call.invite.cseq.seq, headers=self.config.extra_headers)
        self.endpoint.send_ack(ack, self._next_hop(call.dialog), now)
        call.ack = ack
        call.final = response
        self._alternatives.pop(call, None)
        call.remote_sdp = response.body
        if call.state is CallState.DISCONNECTED:
            return
        call.connected_at = now
        self._set_state(call, CallState.CONNECTED, now)
        if call.cancel_pending:  # hung up while ringing and the 2xx crossed the CANCEL
            call.cancel_pending = False
            self.hangup(call, now)

    def _on_failure(self, key: TransactionKey, now: float) -> None:
        if self._requests.on_failure(key, now):
            return
        call = self._by_key.pop(key, None)
        if call is not None and key == call.reinvite_key:
            self._on_reinvite_failure(call, now)
            return
        live = call is not None and call.state is not CallState.DISCONNECTED
        if live and call is not None and key == call.invite_key and call.final is None:
            if self._failover(call, now):
                return
            call.status = 408
            self._end(call, now, "no response")

    def _on_stray(self, message: Request | Response, now: float) -> None:
        call = self._calls.get(message.call_id)
        if call is None:
            return
        if isinstance(message, Request):
            if message.method == "ACK":
                self._on_ack(call, message, now)  # the 2xx got through
            return
        # A 2xx retransmitted after its transaction ended: ACK it again (§13.2.2.4).
        if not 200 <= message.status < 300 or call.dialog is None or call.ack is None:
            return
        ack = call.ack
        if ack.cseq.seq != message.cseq.seq:
            if message.cseq.method != "INVITE" or message.cseq.seq > (call.dialog.local_cseq or 0):
                return
            ack = call.dialog.create_ack(message.cseq.seq, headers=self.config.extra_headers)
            self.endpoint.send_ack(ack, self._next_hop(call.dialog), now)
            return
        self.endpoint.send_stateless(ack, self._next_hop(call.dialog), now)
