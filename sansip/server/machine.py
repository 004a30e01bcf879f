"""The embedded registrar and stateful proxy as one sans-IO machine.

:class:`RegistrarProxy` wraps an :class:`~sansip.transaction.endpoint.Endpoint`
(parsing, Via, transactions, datagram or stream mode) the way the user
agent does, and decides what each request gets:

* ``CANCEL``: answered 200 and passed to the pending branches (481 if none);
* Max-Forwards 0: 483 (an OPTIONS to the server itself is still answered);
* a first Route naming the server is removed (loose routing, RFC 3261
  §16.4; a strict-routed Request-URI of ours is restored from the last
  Route); the request then follows the next Route if there is one;
* within a dialog (To tag): forwarded to the Request-URI, or back over the
  caller's flow (the flow token of our Record-Route);
* ``REGISTER``: the :class:`~sansip.server.registrar.Registrar`;
* ``OPTIONS`` to the server (no user part): 200;
* otherwise the user's bindings, best first (404 for an unknown user, 480
  for a known one with none), after digest authentication (407) when the
  caller is one of the configured users; a Record-Route with the caller's
  flow token keeps the dialog on the proxy.

A binding is reached over the flow its REGISTER came from when the Contact
host is not the address the REGISTER came from (a NAT), and always over a
stream connection while it is open; else at its Contact.  The ACK of a 2xx
and stray 2xx retransmissions are forwarded statelessly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from sansip.errors import LocalProtocolError, SansipError
from sansip.message import NameAddr, Request, Response, SipURI, make_response
from sansip.message import headers as h
from sansip.message.ids import new_tag
from sansip.server.authentication import AuthOutcome, DigestAuthenticator
from sansip.server.config import SERVER_ALLOW, ServerConfig
from sansip.server.events import (
    AuthenticationFailed,
    BindingExpired,
    RequestAnswered,
    RequestProxied,
    ServerEvent,
)
from sansip.server.location import Binding, LocationService, aor_key
from sansip.server.proxy import Proxy, Target
from sansip.server.registrar import Registrar
from sansip.server.routing import drop_first_value, is_local, parse_flow_token, record_route
from sansip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    Terminated,
    TimedOut,
    TransactionKey,
    TransportFailed,
)
from sansip.transaction.drops import DropCounters, DropKind, DropStats, MessageDropped
from sansip.transaction.endpoint import (
    CloseConnection,
    Endpoint,
    EndpointConfig,
    EndpointRandom,
    StrayMessage,
    TransactionUpdate,
)
from sansip.transport.routing import address_of, response_target
from sansip.transport.types import Address, Datagram

__all__ = ["RegistrarProxy"]

_NO_RECORD_ROUTE = frozenset({"REGISTER", "OPTIONS", "MESSAGE", "PUBLISH"})


class RegistrarProxy:
    """A registrar and stateful proxy on one socket or listening address (sans-IO)."""

    def __init__(
        self,
        endpoint: EndpointConfig,
        config: ServerConfig | None = None,
        *,
        rng: EndpointRandom,
    ) -> None:
        self.config = config = config or ServerConfig()
        self.endpoint = Endpoint(endpoint, rng=rng)
        self.location = LocationService()
        self.auth: DigestAuthenticator | None = None
        if config.users is not None:
            self.auth = DigestAuthenticator(
                config.realm or endpoint.sent_by[0], config.users, rng=rng,
                nonce_lifetime=config.nonce_lifetime, algorithms=config.algorithms,
            )  # fmt: skip
        self._rng = rng
        self._events: deque[ServerEvent] = deque()
        self.registrar = Registrar(self.location, config, self.auth, rng=rng)
        self.proxy = Proxy(self.endpoint, self._events, rng=rng)
        self._dead_flows: set[Address] = set()
        # Datagrams and messages dropped (malformed, unroutable, unanswerable).
        self._drops = DropCounters()

    # -- the machine shape ---------------------------------------------------
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Take one datagram; never raises."""
        self.endpoint.receive_datagram(data, addr, now)
        self._process(now)

    def receive_data(self, data: bytes, addr: Address, now: float) -> None:
        """Take octets from the connection with ``addr`` (stream mode); never raises."""
        if addr in self._dead_flows:
            self._dead_flows.discard(addr)
            self.location.flow_seen(addr)
        self.endpoint.receive_data(data, addr, now)
        self._process(now)

    def connection_lost(self, addr: Address, now: float) -> None:
        """The connection with ``addr`` is gone (stream mode): bindings
        registered over it are reached at their Contact from now on."""
        self._dead_flows.add(addr)
        self.location.flow_lost(addr)
        self.endpoint.connection_lost(addr, now)
        self._process(now)

    def transport_error(self, addr: Address, now: float) -> None:
        """A message sent to ``addr`` could not be delivered (an ICMP
        unreachable): the branches forwarded there fail at once, as a 503."""
        self.endpoint.transport_error(addr, now)
        self._process(now)

    def connections_to_close(self) -> list[CloseConnection]:
        """The connections the driver should close (stream mode)."""
        return self.endpoint.connections_to_close()

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Everything to send now."""
        return self.endpoint.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        """The earliest transaction or binding-expiry deadline; pure."""
        timers = (self.endpoint.get_timer(), self.location.next_expiry())
        deadlines = [t for t in timers if t is not None]
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        """Fire transaction timers and expire bindings whose time is up."""
        self.endpoint.handle_timer(now)
        for binding in self.location.expire(now):
            self._events.append(BindingExpired(binding.aor, str(binding.uri)))
        self._process(now)

    def next_event(self) -> ServerEvent | None:
        """The oldest event, or None."""
        return self._events.popleft() if self._events else None

    @property
    def counters(self) -> DropStats:
        """The datagrams and messages dropped so far, by kind (a snapshot;
        memory stays bounded however many there are)."""
        return self._drops.snapshot()

    # -- what came in ----------------------------------------------------------
    def _process(self, now: float) -> None:
        while (event := self.endpoint.next_event()) is not None:
            try:
                if isinstance(event, TransactionUpdate):
                    self._on_transaction(event.key, event, now)
                elif isinstance(event, StrayMessage):
                    if isinstance(event.message, Request):
                        self._forward_ack(event.message, event.source, now)
                    else:
                        self._forward_stray_response(event.message, now)
                elif isinstance(event, MessageDropped):
                    self._drops.record(event)
            except (SansipError, ValueError) as exc:
                reason = f"server: {exc}"
                self._drops.record(MessageDropped(("", 0), reason, False, DropKind.UNPROCESSABLE))

    def _on_transaction(self, key: TransactionKey, update: TransactionUpdate, now: float) -> None:
        inner = update.event
        if isinstance(inner, RequestReceived):
            self._on_request(key, inner.request, now)
        elif isinstance(inner, ResponseReceived):
            self.proxy.on_response(key, inner.response, now)
        elif isinstance(inner, AckReceived):
            self._forward_ack(inner.request, self.endpoint.source_of(key), now)
        elif isinstance(inner, TimedOut):
            self.proxy.on_failure(key, 408, now)
        elif isinstance(inner, TransportFailed):
            self.proxy.on_failure(key, 503, now)
        elif isinstance(inner, Terminated):
            self.proxy.on_terminated(key)

    def _on_request(self, key: TransactionKey, request: Request, now: float) -> None:
        source = self.endpoint.source_of(key) or ("", 0)
        try:
            self._route_request(key, request, source, now)
        except (SansipError, ValueError) as exc:
            status = getattr(exc, "status", 400)
            self._answer(key, request, source, status if 400 <= status < 700 else 400, now)

    def _route_request(
        self, key: TransactionKey, request: Request, source: Address, now: float
    ) -> None:
        method = request.method
        if method == "CANCEL":
            status = self.proxy.cancel(key, request, now)
            self._report_answer(request, source, status)
            return
        max_forwards = request.max_forwards
        routed = self._consume_route(request)
        to_us = self._is_local(request.uri) and not (
            isinstance(request.uri, SipURI) and request.uri.user
        )
        if max_forwards is not None and max_forwards <= 0 and not (method == "OPTIONS" and to_us):
            self._answer(key, request, source, 483, now)
            return
        request.headers.set("Max-Forwards", str(69 if max_forwards is None else max_forwards - 1))
        if request.routes:
            self._forward(key, request, source, [(request.uri, address_of(request.routes[0].uri))],
                          now, record=False)  # fmt: skip
            return
        if request.to.tag:
            target = self._in_dialog_target(routed, request, source)
            if target is None:
                self._answer(key, request, source, 404, now)
            else:
                self._forward(key, request, source, [target], now, record=False)
            return
        if method == "REGISTER":
            response, events = self.registrar.handle(
                request, source, self.endpoint.config.transport, now
            )
            self.endpoint.respond(key, response, now)
            self._events.extend(events)
            self._report_answer(request, source, response.status)
            return
        if to_us:
            status = 200 if method == "OPTIONS" else 404
            extra = (
                [("Allow", ", ".join(SERVER_ALLOW)), ("Accept", "application/sdp")]
                if status == 200
                else []
            )
            self._answer(key, request, source, status, now, headers=extra)
            return
        if not self._authorized(key, request, source, now):
            return
        self._forward_to_user(key, request, source, now)

    def _forward_to_user(
        self, key: TransactionKey, request: Request, source: Address, now: float
    ) -> None:
        uri = request.uri
        user = aor_key(uri)
        foreign = bool(self.config.domains) and not self._is_local(uri)
        bindings = [] if foreign or user is None else self.location.lookup(user)
        if bindings:
            targets: list[Target] = [(b.uri, self._flow_of(b)) for b in bindings]
            self._forward(key, request, source, targets, now, record=True)
            return
        if foreign:
            self._forward(key, request, source, [(uri, address_of(uri))], now, record=True)
            return
        users = self.auth.users if self.auth is not None else {}
        known = user is not None and (user in self.location.known or user in users)
        self._answer(key, request, source, 480 if known else 404, now)

    def _forward(
        self, key: TransactionKey, request: Request, source: Address, targets: list[Target],
        now: float, *, record: bool,
    ) -> None:  # fmt: skip
        if record and request.method not in _NO_RECORD_ROUTE:
            config = self.endpoint.config
            rr = record_route(config.sent_by, config.transport, source)
            request.headers.prepend("Record-Route", rr)
        self.proxy.forward(key, request, source, targets, now)

    # -- routing ---------------------------------------------------------------
    def _is_local(self, uri: object) -> bool:
        config = self.endpoint.config
        return isinstance(uri, SipURI) and is_local(uri, config.sent_by, config.transport,
                                                     self.config.domains)  # fmt: skip

    def _consume_route(self, request: Request) -> NameAddr | None:
        """Remove the first Route if it names us (and undo strict routing);
        returns the Route removed."""
        routes = request.routes
        if (
            self._is_local(request.uri)
            and routes
            and parse_flow_token(request.uri.user if isinstance(request.uri, SipURI) else None)
            is not None
        ):
            # A strict router put our Record-Route in the Request-URI (§16.4).
            removed = NameAddr(request.uri)
            request.uri = routes[-1].uri
            values = [str(r) for r in routes[:-1]]
            request.headers.remove("Route")
            for value in values:
                request.headers.add("Route", value)
            return removed
        if routes and self._is_local(routes[0].uri):
            drop_first_value(request.headers, "Route")
            return routes[0]
        return None

    def _in_dialog_target(
        self, routed: NameAddr | None, request: Request, source: Address
    ) -> Target | None:
        """Where a request within a dialog goes: back over the caller's flow
        when it comes from the other side, else to its Request-URI (over the
        flow of the binding it names, if any)."""
        uri = request.uri
        route_uri = routed.uri if routed is not None else None
        flow = parse_flow_token(route_uri.user) if isinstance(route_uri, SipURI) else None
        if flow is not None and flow != source and flow not in self._dead_flows:
            return uri, flow
        if isinstance(uri, SipURI):
            binding = self.location.by_contact(uri)
            if binding is not None:
                return uri, self._flow_of(binding)
        try:
            return uri, address_of(uri)
        except LocalProtocolError:
            return None

    def _flow_of(self, binding: Binding) -> Address:
        """Where to send to reach ``binding``: over its flow when that is open
        (streams) or when its Contact is not where it registered from (NAT)."""
        if binding.transport.reliable:
            if binding.flow_alive:
                return binding.source
        elif binding.uri.host.lower() != binding.source[0].lower():
            return binding.source
        try:
            return address_of(binding.uri)
        except LocalProtocolError:
            return binding.source

    # -- authentication ----------------------------------------------------------
    def _authorized(
        self, key: TransactionKey, request: Request, source: Address, now: float
    ) -> bool:
        """Proxy authentication of a configured user's out-of-dialog request
        (407, 403); True when it may go on."""
        auth = self.auth
        if auth is None:
            return True
        user = aor_key(request.from_.uri)
        if user is None or user not in auth.users:
            return True
        result = auth.check(request, h.PROXY_AUTHORIZATION, now)
        if result.outcome is AuthOutcome.OK:
            if result.username == user:
                request.headers.remove("Proxy-Authorization")
                return True
            self._events.append(AuthenticationFailed(request.method, result.username, 403,
                                                     f"{result.username} may not send as {user}",
                                                     source, request.call_id))  # fmt: skip
            self._answer(key, request, source, 403, now)
            return False
        if result.outcome is AuthOutcome.FAILED:
            failed = AuthenticationFailed(
                request.method, result.username, 407, result.reason, source, request.call_id
            )
            self._events.append(failed)
        challenges = auth.challenges(now, stale=result.outcome is AuthOutcome.STALE)
        challenge_fields = [("Proxy-Authenticate", c) for c in challenges]
        self._answer(key, request, source, 407, now, headers=challenge_fields)
        return False

    # -- stateless forwarding -------------------------------------------------------
    def _forward_ack(self, ack: Request, source: Address | None, now: float) -> None:
        """Forward the ACK of a 2xx (it has no transaction of its own)."""
        if ack.method != "ACK" or source is None:
            return
        max_forwards = ack.max_forwards
        if max_forwards is not None and max_forwards <= 0:
            return
        routed = self._consume_route(ack)
        if routed is None and not ack.routes:
            return  # not routed through us: nothing to do with it
        ack.headers.set("Max-Forwards", str(69 if max_forwards is None else max_forwards - 1))
        if ack.routes:
            target: Target | None = (ack.uri, address_of(ack.routes[0].uri))
        else:
            target = self._in_dialog_target(routed, ack, source)
        if target is None:
            return
        self.endpoint.send_ack(ack, target[1], now)
        self._events.append(RequestProxied("ACK", ack.call_id, str(ack.from_.uri),
                                           str(ack.to.uri), source, target[1]))  # fmt: skip

    def _forward_stray_response(self, response: Response, now: float) -> None:
        """A 2xx retransmitted after its client transaction ended goes back statelessly."""
        if not 200 <= response.status < 300 or response.cseq.method != "INVITE":
            return
        if not drop_first_value(response.headers, "Via") or "via" not in response.headers:
            return
        via = response.top_via
        if via.received and via.rport:
            dest: Address = (via.received, via.rport)
        else:
            target = response_target(via, reliable=self.endpoint.stream_mode)
            if target.needs_dns:
                return
            dest = target.address
        self.endpoint.send_stateless(response, dest, now)

    # -- answers -------------------------------------------------------------------
    def _answer(
        self, key: TransactionKey, request: Request, source: Address, status: int, now: float,
        *, headers: Sequence[tuple[str, object]] = (),
    ) -> None:  # fmt: skip
        extra: list[tuple[str, object]] = [*headers, ("Server", self.config.server_name)]
        response = make_response(request, status, to_tag=new_tag(self._rng), headers=extra)
        try:
            self.endpoint.respond(key, response, now)
        except LocalProtocolError:
            return
        self._report_answer(request, source, status)

    def _report_answer(self, request: Request, source: Address, status: int) -> None:
        self._events.append(RequestAnswered(request.method, request.call_id,
                                            str(request.from_.uri), str(request.to.uri),
                                            status, source))  # fmt: skip
