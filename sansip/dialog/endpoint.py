"""The SIP endpoint: parsing, Via and transactions glued together, sans-IO
(the pjsip "endpoint" and baresip's ``struct sip``).

``Endpoint.receive_datagram`` parses once, answers malformed requests
statelessly (400/505/513) and drops what cannot be answered (counted),
stamps ``received``/``rport`` on requests (RFC 3261 §18.2.1, RFC 3581) and
hands the message to its :class:`~sansip.transaction.TransactionLayer`.
Commands add the top Via with a fresh branch.  The UA logic above it
(registration, calls, OPTIONS answers) reads :meth:`next_event`.

When ``EndpointConfig.transport`` is reliable (TCP, TLS) the endpoint is in
*stream mode*: the driver feeds each connection's octets with
``receive_data(data, addr, now)`` (``addr`` names the connection: its peer),
one :class:`~sansip.transport.framing.StreamFramer` per connection splits
them into messages (RFC 3261 §18.3), transactions run without
retransmissions, and :meth:`Endpoint.connection_lost` fails the transactions
bound to that peer.  Output is the same ``datagrams_to_send``: "write these
octets on the connection to ``addr``, opening one if there is none"; a
connection whose framing is lost is listed by
:meth:`Endpoint.connections_to_close`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from sansip.errors import LocalProtocolError
from sansip.message import ParseError, Request, Response, parse
from sansip.transaction import (
    InviteClientTransaction,
    RequestReceived,
    ResponseReceived,
    Terminated,
    TimerConfig,
    TransactionEvent,
    TransactionKey,
    TransactionLayer,
)
from sansip.transaction.matching import ClientKey
from sansip.transport.framing import (
    KeepAlivePing,
    MessageReceived,
    MessageRejected,
    StreamBroken,
    StreamFramer,
)
from sansip.transport.stateless import answer_malformed, error_response
from sansip.transport.types import Address, Datagram, Transport
from sansip.transport.via import add_received, make_via, new_branch

__all__ = [
    "CloseConnection",
    "Endpoint",
    "EndpointConfig",
    "EndpointEvent",
    "EndpointStats",
    "MessageDropped",
    "StrayMessage",
    "TransactionUpdate",
]


class EndpointRandom(Protocol):
    """The randomness an endpoint needs (``random.Random`` fits, seeded in tests)."""

    def getrandbits(self, k: int, /) -> int:
        """An integer of ``k`` random bits."""
        ...


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
class MessageDropped:
    """A datagram that was not processed, and why (answered or not)."""

    source: Address
    reason: str
    answered: bool


EndpointEvent: TypeAlias = TransactionUpdate | StrayMessage | MessageDropped


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Stream mode: the driver should close its connection to ``addr``
    (the framing on it is lost, ``reason`` says how)."""

    addr: Address
    reason: str


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
            self._events.append(MessageDropped(addr, exc.reason, answer is not None))
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
                self._events.append(MessageDropped(addr, event.error.reason, response is not None))
            elif isinstance(event, KeepAlivePing):
                pong = framer.data_to_send()
                if pong:
                    self._outbox.append((pong, addr))
            elif isinstance(event, StreamBroken):
                self.stats.streams_broken += 1
                del self._framers[addr]
                self._closing.add(addr)
                self._to_close.append(CloseConnection(addr, event.reason))
                self._events.append(MessageDropped(addr, event.reason, False))
                break
            # A pong (a single CRLF) needs nothing.

    def connection_lost(self, addr: Address, now: float) -> None:
        """The connection with peer ``addr`` closed, broke, or could not be
        opened (stream mode): its transactions fail with ``TransportFailed``."""
        self._closing.discard(addr)
        framer = self._framers.pop(addr, None)
        if framer is not None and framer.buffered:
            self.stats.dropped += 1  # a message cut short
        self.stats.connections_lost += 1
        bound = [k for k, peer in self._sources.items() if peer == addr]
        bound += [k for k, peer in self._dests.items() if peer == addr]
        for key in bound:
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
                self._events.append(MessageDropped(addr, exc.reason, False))
                return
            key = self._layer.receive_request(message, addr, reliable=self._reliable, now=now)
            if key is not None:
                self._sources.setdefault(key, addr)
            elif message.method != "ACK":
                self.stats.dropped += 1
                self._events.append(MessageDropped(addr, "unmatchable request", False))
        else:
            top = message.top_via
            host, port = self.config.sent_by
            if top.host.lower() != host.lower() or (top.port or 5060) != port:
                # RFC 3261 §18.1.2: a response whose top Via is not ours is discarded.
                self.stats.dropped += 1
                self._events.append(MessageDropped(addr, "response for another sent-by", False))
                return
            self._layer.receive_response(message, now)
        self._drain(now, addr)

    # -- time and output -------------------------------------------------------
    def get_timer(self) -> float | None:
        """The earliest transaction deadline; pure."""
        return self._layer.get_timer()

    def handle_timer(self, now: float) -> None:
        """Fire due transaction timers."""
        self._layer.handle_timer(now)
        self._drain(now)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Everything to send now."""
        out, self._outbox = self._outbox, []
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
