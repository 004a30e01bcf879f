"""The SIP endpoint: parsing, Via and transactions glued together, sans-IO
(the pjsip "endpoint" and baresip's ``struct sip``).

``Endpoint.receive_datagram`` parses once, answers malformed requests
statelessly (400/505/513) and drops what cannot be answered (counted),
stamps ``received``/``rport`` on requests (RFC 3261 §18.2.1, RFC 3581) and
hands the message to its :class:`~sansip.transaction.TransactionLayer`.
Commands add the top Via with a fresh branch.  The layer above it (the
user agent core, the registrar/proxy) reads :meth:`next_event`; what was
dropped comes as :class:`~sansip.transaction.drops.MessageDropped`.

When ``EndpointConfig.transport`` is reliable (TCP, TLS) the endpoint is in
*stream mode*: the driver feeds each connection's octets with
``receive_data(data, addr, now)`` (``addr`` names the connection: its peer),
one :class:`~sansip.transport.framing.StreamFramer` per connection splits
them into messages (RFC 3261 §18.3), transactions run without
retransmissions, and :meth:`Endpoint.connection_lost` fails the client
transactions bound to that peer; a server transaction whose connection is
gone sends its responses over a new connection to the ``received`` address
and sent-by port of the request's Via (RFC 3261 §18.2.2), once.  A
connection with no traffic for ``idle_timeout`` seconds, no live
transaction, no keep-alive and no pin (:meth:`Endpoint.pin_connection`,
held by the UA for the connection a call runs on) is closed.  Output is
the same ``datagrams_to_send``: "write these octets on the connection to
``addr``, opening one if there is none"; a connection to close (framing
lost, idle) is listed by :meth:`Endpoint.connections_to_close`.

A message that could not be delivered is reported with
:meth:`Endpoint.transport_error` (``transport_error(addr, now)``: an ICMP
port or host unreachable for a datagram, a send the kernel refused): every
client transaction whose destination is ``addr`` fails at once with
``TransportFailed`` (RFC 3261 §17.1.1.2, §17.1.2.2, §18.4) instead of
waiting for timer B or F, and the TU acts as on a 503 (§8.1.3.1).
"""

from __future__ import annotations

import heapq
import ipaddress
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Final, Protocol, TypeAlias

from sansip.errors import LocalProtocolError
from sansip.message import ParseError, Request, Response, parse
from sansip.transaction.client import InviteClientTransaction
from sansip.transaction.drops import DropKind, MessageDropped
from sansip.transaction.events import (
    RequestReceived,
    ResponseReceived,
    Terminated,
    TransactionEvent,
)
from sansip.transaction.layer import TransactionLayer
from sansip.transaction.matching import ClientKey, TransactionKey
from sansip.transaction.timers import TimerConfig
from sansip.transport.framing import (
    KeepAlivePing,
    KeepAlivePong,
    MessageReceived,
    MessageRejected,
    StreamBroken,
    StreamFramer,
)
from sansip.transport.routing import response_target
from sansip.transport.stateless import answer_malformed, error_response
from sansip.transport.types import Address, Datagram, Transport
from sansip.transport.via import add_received, make_via, new_branch

__all__ = [
    "KEEPALIVE_PONG_TIMEOUT",
    "CloseConnection",
    "Endpoint",
    "EndpointConfig",
    "EndpointEvent",
    "EndpointStats",
    "KeepAliveFailed",
    "StrayMessage",
    "TransactionUpdate",
]


class EndpointRandom(Protocol):
    """The randomness an endpoint needs (``random.Random`` fits, seeded in tests)."""

    def getrandbits(self, k: int, /) -> int:
        """An integer of ``k`` random bits."""
        ...


#: Seconds a connection nobody uses stays open (PJSIP closes after 33 s,
#: Kamailio's connection lifetime is 120 s).
DEFAULT_IDLE_TIMEOUT: Final = 60.0


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """Where the endpoint is and how it speaks.

    ``advertised`` is the address put in Via (and Contact) when it differs
    from the bound ``local`` address (NAT, 0.0.0.0 binds).
    """

    local: Address
    transport: Transport = Transport.UDP
    advertised: Address | None = None
    max_message_size: int = 65535
    timers: TimerConfig = field(default_factory=TimerConfig)
    #: Stream mode: seconds an unused, silent connection stays open (None: forever).
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT

    @property
    def sent_by(self) -> Address:
        """The address other elements should answer to."""
        return self.advertised or self.local


@dataclass(frozen=True, slots=True)
class TransactionUpdate:
    """Something happened in transaction ``key``: a request arrived that
    created it, a response arrived, it timed out, failed or ended."""

    key: TransactionKey
    event: TransactionEvent


@dataclass(frozen=True, slots=True)
class StrayMessage:
    """A message that matched no transaction: an ACK for a 2xx, or a 2xx
    retransmitted after its INVITE transaction ended (RFC 6026)."""

    message: Request | Response
    source: Address | None


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Stream mode: the driver should close its connection to ``addr``
    (the framing on it is lost, ``reason`` says how)."""

    addr: Address
    reason: str


#: How long a keep-alive ping waits for its pong (RFC 5626 §4.4.1).
KEEPALIVE_PONG_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class KeepAliveFailed:
    """Stream mode: no pong came back for a keep-alive ping on the connection
    to ``addr`` (RFC 5626 §4.4.1); the endpoint asked the driver to close it."""

    addr: Address


EndpointEvent: TypeAlias = TransactionUpdate | StrayMessage | MessageDropped | KeepAliveFailed


@dataclass(slots=True)
class EndpointStats:
    """Counters: what came in, and what was dropped."""

    received: int = 0
    malformed: int = 0
    answered_statelessly: int = 0
    dropped: int = 0
    #: Stream mode: connections whose framing was lost (closed on request).
    streams_broken: int = 0
    #: Stream mode: connections reported gone by the driver.
    connections_lost: int = 0
    #: Stream mode: connections closed because nothing used them.
    idle_closed: int = 0
    #: Stream mode: server transactions that answered over a new connection.
    responses_rerouted: int = 0
    #: Transport errors reported (:meth:`Endpoint.transport_error`).
    transport_errors: int = 0
    #: Server transactions answering an address a transport error named
    #: (datagrams: the response is retransmitted until timer H or J ends it).
    responses_undelivered: int = 0


class Endpoint:
    """One SIP endpoint on one socket (datagrams) or one listening address
    and its connections (streams), as a sans-IO machine."""

    def __init__(self, config: EndpointConfig, *, rng: EndpointRandom) -> None:
        self.config = config
        self._rng = rng
        self._reliable = config.transport.reliable
        self._layer = TransactionLayer(timers=config.timers)
        self._outbox: list[Datagram] = []
        self._events: deque[EndpointEvent] = deque()
        self._sources: dict[TransactionKey, Address] = {}  # server transactions
        self._dests: dict[TransactionKey, Address] = {}  # client transactions
        self._framers: dict[Address, StreamFramer] = {}
        self._closing: set[Address] = set()  # asked to close, not reported lost yet
        self._to_close: list[CloseConnection] = []
        # Keep-alives (RFC 5626 §4.4.1): peer -> [interval, next ping, pong deadline].
        self._keepalive: dict[Address, list[float | None]] = {}
        # Idle close: last traffic per connection, and a lazy heap of checks.
        self._idle_timeout = config.idle_timeout if self._reliable else None
        self._activity: dict[Address, float] = {}
        self._idle_checks: list[tuple[float, Address]] = []
        self._checked: set[Address] = set()  # connections with an entry in the heap
        self._pins: Counter[Address] = Counter()
        self._rerouted: set[TransactionKey] = set()
        self.stats = EndpointStats()

    @property
    def stream_mode(self) -> bool:
        """Whether the transport is a byte stream (TCP, TLS)."""
        return self._reliable

    # -- commands ------------------------------------------------------------
    def send_request(self, request: Request, dest: Address, now: float) -> ClientKey:
        """Put a fresh top Via on ``request`` and send it in a new client
        transaction to ``dest``; returns the transaction key."""
        host, port = self.config.sent_by
        via = make_via(self.config.transport, host, port, new_branch(self._rng))
        request.headers.prepend("Via", via)
        if "max-forwards" not in request.headers:
            request.headers.add("Max-Forwards", "70")
        key = self._layer.send_request(request, dest, reliable=self._reliable, now=now)
        self._dests[key] = dest
        self._drain(now)
        return key

    def respond(self, key: TransactionKey, response: Response, now: float) -> None:
        """Send ``response`` in server transaction ``key``."""
        self._layer.respond(key, response, now)
        self._drain(now)

    def send_stateless(self, message: Request | Response, dest: Address, now: float) -> None:
        """Send a message outside any transaction (the ACK of a 2xx, RFC 3261
        §13.2.2.4, keeps the Via it was given)."""
        self._outbox.append((bytes(message), dest))

    def send_ack(self, ack: Request, dest: Address, now: float) -> None:
        """Send the ACK of a 2xx with its own fresh branch (RFC 3261 §17.1.1.3)."""
        host, port = self.config.sent_by
        ack.headers.prepend("Via", make_via(self.config.transport, host, port,
                                            new_branch(self._rng)))  # fmt: skip
        if "max-forwards" not in ack.headers:
            ack.headers.add("Max-Forwards", "70")
        self._outbox.append((bytes(ack), dest))

    def cancel(self, invite_key: TransactionKey, now: float) -> ClientKey | None:
        """CANCEL the INVITE of client transaction ``invite_key`` (RFC 3261 §9.1):
        same Via branch, Request-URI, Call-ID, From, To and CSeq number, sent
        where the INVITE went.  Returns the CANCEL's key, or None when the
        INVITE got its final response meanwhile (nothing to cancel)."""
        tx = self._layer.get(invite_key)
        if not isinstance(tx, InviteClientTransaction):
            return None
        try:
            cancel = tx.cancel_request()
        except LocalProtocolError:
            return None
        key = self._layer.send_request(cancel, tx.dest, reliable=self._reliable, now=now)
        self._dests[key] = tx.dest
        self._drain(now)
        return key

    def keep_alive(self, addr: Address, interval: float, now: float) -> None:
        """Send a CRLF-CRLF ping to ``addr`` every 80-100 % of ``interval``
        seconds.  Stream mode: on the connection, expecting the single-CRLF
        pong within 10 s (RFC 5626 §4.4.1); a missing pong closes the
        connection and emits :class:`KeepAliveFailed`.  Datagram mode: a
        datagram that keeps the NAT binding towards ``addr`` open, no pong
        expected.  Calling it again changes the interval."""
        if interval <= 0:
            raise LocalProtocolError("the keep-alive interval must be positive")
        self._keepalive[addr] = [interval, now + self._jittered(interval), None]

    def stop_keep_alive(self, addr: Address) -> None:
        """No more pings to ``addr``."""
        self._keepalive.pop(addr, None)
        self._schedule_idle_check(addr)

    def pin_connection(self, addr: Address) -> None:
        """Keep the connection to ``addr`` open however idle (counted: each
        pin needs its :meth:`unpin_connection`)."""
        self._pins[addr] += 1

    def unpin_connection(self, addr: Address) -> None:
        """Release one pin of the connection to ``addr``."""
        if self._pins[addr] <= 1:
            self._pins.pop(addr, None)
            self._schedule_idle_check(addr)
        else:
            self._pins[addr] -= 1

    def _jittered(self, interval: float) -> float:
        return interval * (0.8 + 0.2 * self._rng.getrandbits(16) / 65535)

    def source_of(self, key: TransactionKey) -> Address | None:
        """Where the request of server transaction ``key`` came from."""
        return self._sources.get(key)

    def find_cancel_target(self, cancel: Request) -> TransactionKey | None:
        """The INVITE server transaction a CANCEL aims at (RFC 3261 §9.2)."""
        return self._layer.find_cancel_target(cancel)

    def find_merged(self, request: Request) -> TransactionKey | None:
        """Another live transaction with the same From tag, Call-ID and CSeq (482)."""
        return self._layer.find_merged(request)

    # -- network input ---------------------------------------------------------
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Take one datagram; never raises (datagram mode only)."""
        if self._reliable:
            raise LocalProtocolError("a stream endpoint takes receive_data, not datagrams")
        self.stats.received += 1
        if not data.strip(b"\r\n"):
            return  # a keep-alive
        try:
            message = parse(data, max_size=self.config.max_message_size)
        except ParseError as exc:
            self.stats.malformed += 1
            answer = answer_malformed(data, addr, max_message_size=self.config.max_message_size)
            if answer is not None:
                self.stats.answered_statelessly += 1
                self._outbox.append(answer)
            else:
                self.stats.dropped += 1
            self._events.append(MessageDropped(addr, exc.reason, answer is not None,
                                               DropKind.MALFORMED))  # fmt: skip
            return
        self._receive_message(message, addr, now)

    def receive_data(self, data: bytes, addr: Address, now: float) -> None:
        """Take octets read from the connection with peer ``addr`` (stream
        mode only); messages may be split across reads or share one.  Never
        raises on what the peer sends."""
        if not self._reliable:
            raise LocalProtocolError("a datagram endpoint takes receive_datagram, not streams")
        if addr in self._closing:
            return  # the framing is lost; the driver is closing this connection
        self._touch(addr, now)
        framer = self._framers.get(addr)
        if framer is None:
            framer = StreamFramer(max_message_size=self.config.max_message_size)
            self._framers[addr] = framer
        framer.receive_data(data, now)
        while (event := framer.next_event()) is not None:
            if isinstance(event, MessageReceived):
                self.stats.received += 1
                self._receive_message(event.message, addr, now)
            elif isinstance(event, MessageRejected):
                self.stats.received += 1
                self.stats.malformed += 1
                response = error_response(event.error, addr)
                if response is not None:
                    self.stats.answered_statelessly += 1
                    self._outbox.append((response.encode(), addr))
                else:
                    self.stats.dropped += 1
                answered = response is not None
                self._events.append(MessageDropped(addr, event.error.reason, answered,
                                                   DropKind.MALFORMED))  # fmt: skip
            elif isinstance(event, KeepAlivePing):
                pong = framer.data_to_send()
                if pong:
                    self._outbox.append((pong, addr))
            elif isinstance(event, StreamBroken):
                self.stats.streams_broken += 1
                del self._framers[addr]
                self._closing.add(addr)
                self._to_close.append(CloseConnection(addr, event.reason))
                self._events.append(MessageDropped(addr, event.reason, False,
                                                   DropKind.STREAM_BROKEN))  # fmt: skip
                break
            elif isinstance(event, KeepAlivePong):
                state = self._keepalive.get(addr)
                if state is not None and state[2] is not None:
                    state[2] = None  # the pong we waited for
                    state[1] = now + self._jittered(float(state[0] or 0))

    def connection_lost(self, addr: Address, now: float) -> None:
        """The connection with peer ``addr`` closed, broke, or could not be
        opened (stream mode): its transactions fail with ``TransportFailed``."""
        self._closing.discard(addr)
        self._activity.pop(addr, None)
        state = self._keepalive.get(addr)
        if state is not None:
            state[2] = None  # a new connection starts a new ping cycle
        framer = self._framers.pop(addr, None)
        if framer is not None and framer.buffered:
            self.stats.dropped += 1  # a message cut short
        self.stats.connections_lost += 1
        for key in [k for k, peer in self._sources.items() if peer == addr]:
            self._reroute(key, addr, now)
        for key in [k for k, peer in self._dests.items() if peer == addr]:
            self._layer.transport_error(key, now)
        self._drain(now)

    def _reroute(self, key: TransactionKey, lost: Address, now: float) -> None:
        """Answer server transaction ``key`` over a new connection to its
        Via's ``received`` address and sent-by port (RFC 3261 §18.2.2), or
        fail it when that was tried already or is not a numeric address."""
        request = self._layer.request_of(key)
        if request is not None and key not in self._rerouted:
            try:
                target = response_target(request.top_via, reliable=True)
            except ParseError:
                target = None
            if target is not None and not target.needs_dns:
                self._rerouted.add(key)
                self._layer.retarget(key, target.address)
                self._sources[key] = target.address
                self.stats.responses_rerouted += 1
                return
        self._layer.transport_error(key, now)

    def transport_error(self, addr: Address, now: float) -> None:
        """A message sent to ``addr`` could not be delivered (an ICMP port,
        host, network or protocol unreachable, RFC 3261 §18.4; a send the
        kernel refused): every client transaction whose destination is
        ``addr`` fails at once with ``TransportFailed`` (§17.1.1.2,
        §17.1.2.2).  Server transactions answering ``addr`` are only counted
        (``responses_undelivered``): a datagram response is retransmitted
        until its timer ends the transaction, and a lost connection is
        rerouted by :meth:`connection_lost` (§18.2.2).  Never raises."""
        self.stats.transport_errors += 1
        host = _canonical_host(addr[0])
        port = addr[1]

        def named(peer: Address) -> bool:
            return peer[1] == port and _canonical_host(peer[0]) == host

        self.stats.responses_undelivered += sum(1 for peer in self._sources.values()
                                                if named(peer))  # fmt: skip
        for key in [k for k, peer in self._dests.items() if named(peer)]:
            self._layer.transport_error(key, now)
        self._drain(now)

    def connections_to_close(self) -> list[CloseConnection]:
        """The connections the driver should close (their framing is lost); drains them."""
        out, self._to_close = self._to_close, []
        return out

    def _receive_message(self, message: Request | Response, addr: Address, now: float) -> None:
        if isinstance(message, Request):
            try:
                add_received(message, addr)
            except ParseError as exc:
                self.stats.dropped += 1
                self._events.append(MessageDropped(addr, exc.reason, False, DropKind.MALFORMED))
                return
            key = self._layer.receive_request(message, addr, reliable=self._reliable, now=now)
            if key is not None:
                self._sources.setdefault(key, addr)
            elif message.method != "ACK":
                self.stats.dropped += 1
                self._events.append(MessageDropped(addr, "unmatchable request", False,
                                                   DropKind.UNMATCHED))  # fmt: skip
        else:
            top = message.top_via
            host, port = self.config.sent_by
            if top.host.lower() != host.lower() or (top.port or 5060) != port:
                # RFC 3261 §18.1.2: a response whose top Via is not ours is discarded.
                self.stats.dropped += 1
                self._events.append(MessageDropped(addr, "response for another sent-by", False,
                                                   DropKind.MISROUTED))  # fmt: skip
                return
            self._layer.receive_response(message, now)
        self._drain(now, addr)

    # -- time and output -------------------------------------------------------
    def get_timer(self) -> float | None:
        """The earliest transaction or keep-alive deadline; pure."""
        deadlines = [t for t in (self._layer.get_timer(),) if t is not None]
        if self._idle_checks:
            deadlines.append(self._idle_checks[0][0])
        for _, ping_at, pong_by in self._keepalive.values():
            deadline = pong_by if pong_by is not None else ping_at
            if deadline is not None:
                deadlines.append(deadline)
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        """Fire due transaction timers and keep-alive pings."""
        self._layer.handle_timer(now)
        for addr, state in self._keepalive.items():
            interval, ping_at, pong_by = state
            if pong_by is not None and now >= pong_by:
                state[2] = None
                state[1] = now + self._jittered(float(interval or 0))
                if addr in self._framers and addr not in self._closing:
                    self._framers.pop(addr, None)
                    self._closing.add(addr)
                    self._to_close.append(CloseConnection(addr, "no keep-alive pong"))
                self._events.append(KeepAliveFailed(addr))
            elif pong_by is None and ping_at is not None and now >= ping_at:
                self._outbox.append((b"\r\n\r\n", addr))
                if self._reliable:
                    state[1] = None
                    state[2] = now + KEEPALIVE_PONG_TIMEOUT
                else:  # UDP: nothing to wait for
                    state[1] = now + self._jittered(float(interval or 0))
        self._close_idle(now)
        self._drain(now)

    def _touch(self, addr: Address, now: float) -> None:
        """Traffic on the connection to ``addr``: push back its idle close."""
        if self._idle_timeout is None:
            return
        self._activity[addr] = now
        self._schedule_idle_check(addr)

    def _schedule_idle_check(self, addr: Address) -> None:
        """Arm the idle check of a known connection that is not kept open
        on purpose (keep-alive, pin): those are checked when released."""
        timeout, last = self._idle_timeout, self._activity.get(addr)
        if timeout is None or last is None or addr in self._checked:
            return
        if addr in self._keepalive or addr in self._pins:
            return
        self._checked.add(addr)
        heapq.heappush(self._idle_checks, (last + timeout, addr))

    def _in_use(self, addr: Address) -> bool:
        return addr in self._sources.values() or addr in self._dests.values()

    def _close_idle(self, now: float) -> None:
        """Close the connections silent for ``idle_timeout`` that nothing uses."""
        timeout, checks = self._idle_timeout, self._idle_checks
        while timeout is not None and checks and checks[0][0] <= now:
            _, addr = heapq.heappop(checks)
            self._checked.discard(addr)
            last = self._activity.get(addr)
            if last is None or addr in self._keepalive or addr in self._pins:
                continue  # gone, or kept open: checked again when released
            if last + timeout > now or self._in_use(addr):
                self._checked.add(addr)
                due = last + timeout
                heapq.heappush(checks, (due if due > now else now + timeout, addr))
                continue
            del self._activity[addr]
            self._framers.pop(addr, None)
            if addr not in self._closing:
                self._closing.add(addr)
                self._to_close.append(CloseConnection(addr, "idle"))
                self.stats.idle_closed += 1

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Everything to send now."""
        out, self._outbox = self._outbox, []
        if self._idle_timeout is not None:
            for _, addr in out:
                self._touch(addr, now)
        return out

    def next_event(self) -> EndpointEvent | None:
        """The oldest event, or None."""
        return self._events.popleft() if self._events else None

    def _drain(self, now: float, source: Address | None = None) -> None:
        self._outbox += self._layer.datagrams_to_send(now)
        while (item := self._layer.next_event()) is not None:
            key, event = item
            if key is None:
                if isinstance(event, RequestReceived | ResponseReceived):
                    message = (
                        event.request if isinstance(event, RequestReceived) else event.response
                    )
                    self._events.append(StrayMessage(message, source))
                continue
            self._events.append(TransactionUpdate(key, event))
            if isinstance(event, Terminated):
                self._sources.pop(key, None)
                self._dests.pop(key, None)
                self._rerouted.discard(key)


def _canonical_host(host: str) -> str:
    """``host`` spelled one way: an IP address in its short form (an
    IPv4-mapped IPv6 address as IPv4), a name in lower case."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower()
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)
