"""Locating a SIP server (RFC 3263 §4, with RFC 7118 for WebSocket), sans-IO.

``TargetResolver`` turns a SIP URI into an ordered list of
``(transport, address)`` targets: NAPTR -> SRV -> A/AAAA when nothing is
explicit, SRV when only the transport is known, A/AAAA when the port is
given, nothing at all for an IP address.  The caller tries the targets in
order and moves on after a transport error, a timeout or a 503 (§4.3).
DNS questions go out through :class:`~sansip.transport.dns.DnsQuery`
machines the resolver owns; randomness (query ids, SRV weights) comes from
the injected ``rng``.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass
from typing import Final, Protocol, TypeAlias

from sansip.message.uri import SipURI
from sansip.transport.dns import (
    DnsAnswered,
    DnsQuery,
    NaptrRecord,
    Record,
    RecordType,
    SrvRecord,
)
from sansip.transport.types import DEFAULT_PORTS, Address, Datagram, Transport

__all__ = [
    "ResolutionFailed",
    "ResolverEvent",
    "Target",
    "TargetResolver",
    "TargetsResolved",
    "order_srv",
]

# NAPTR services (RFC 3263 §4.1, RFC 7118 §5) and SRV prefixes per transport.
_NAPTR_SERVICES: Final = {
    "SIP+D2U": Transport.UDP,
    "SIP+D2T": Transport.TCP,
    "SIPS+D2T": Transport.TLS,
    "SIP+D2W": Transport.WS,
    "SIPS+D2W": Transport.WSS,
}
_SRV_PREFIX: Final = {
    Transport.UDP: "_sip._udp.",
    Transport.TCP: "_sip._tcp.",
    Transport.TLS: "_sips._tcp.",
    Transport.WS: "_sip._ws.",
    Transport.WSS: "_sips._ws.",
}


class ResolverRandom(Protocol):
    """The randomness the resolver needs (``random.Random`` fits, seeded in tests)."""

    def randrange(self, stop: int, /) -> int:
        """A random integer in ``range(stop)`` (DNS query ids)."""
        ...

    def randint(self, a: int, b: int, /) -> int:
        """A random integer in ``[a, b]`` (SRV weights)."""
        ...


@dataclass(frozen=True, slots=True)
class Target:
    """One place to send a request: transport, IP address and port, and the
    host name it came from (for TLS certificate checks and Host headers)."""

    transport: Transport
    address: Address
    hostname: str


@dataclass(frozen=True, slots=True)
class TargetsResolved:
    """The targets to try, in order."""

    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class ResolutionFailed:
    """No target could be found."""

    reason: str


ResolverEvent: TypeAlias = TargetsResolved | ResolutionFailed


def order_srv(records: list[SrvRecord], rng: ResolverRandom) -> list[SrvRecord]:
    """Order SRV records: by priority, then weighted random within a priority
    (RFC 2782); a lone ``.`` target means the service is not offered."""
    out: list[SrvRecord] = []
    for priority in sorted({r.priority for r in records}):
        group = [r for r in records if r.priority == priority and r.target not in ("", ".")]
        group.sort(key=lambda r: r.weight == 0, reverse=True)  # zero weights first (§ usage)
        while group:
            total = sum(r.weight for r in group)
            pick = rng.randint(0, total) if total else 0
            running = 0
            for i, record in enumerate(group):
                running += record.weight
                if running >= pick:
                    out.append(group.pop(i))
                    break
    return out


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class TargetResolver:
    """Resolve one SIP URI to targets (RFC 3263 §4.1-4.2).

    ``transports`` lists what this UA supports, in order of preference;
    ``hosts`` is a static table consulted before DNS (``localhost`` maps to
    the loopback addresses).  Ends with one :class:`TargetsResolved` or
    :class:`ResolutionFailed` event.
    """

    def __init__(
        self,
        uri: SipURI,
        *,
        servers: list[Address],
        now: float,
        rng: ResolverRandom,
        transports: tuple[Transport, ...] = (Transport.UDP, Transport.TCP, Transport.TLS),
        hosts: dict[str, list[str]] | None = None,
    ) -> None:
        self._servers = servers
        self._rng = rng
        self._hosts = {"localhost": ["127.0.0.1", "::1"], **(hosts or {})}
        self._queries: list[DnsQuery] = []
        self._events: deque[ResolverEvent] = deque()
        self._targets: list[Target] = []
        self._pending_addresses: list[tuple[Transport, int, str]] = []
        self._srv_queue: list[Transport] = []
        self._supported = transports
        self._allowed: list[Transport] = []
        self._host = uri.host
        self._srv_transport = transports[0] if transports else Transport.UDP
        self._known: dict[str, list[str]] = {}
        self._waiting: tuple[Transport, int, str] | None = None
        self._found_v4: list[str] = []
        self.done = False
        self._start(uri, now)

    # -- decisions -----------------------------------------------------------
    def _start(self, uri: SipURI, now: float) -> None:
        host = uri.params.get("maddr") or uri.host
        wanted = uri.transport
        if uri.secure:
            allowed = [t for t in self._transports_for(wanted) if t.secure]
        else:
            allowed = self._transports_for(wanted)
        if not allowed:
            self._fail(f"no supported transport for {uri}")
            return
        self._allowed = allowed
        self._host = host
        if _is_ip(host) or uri.port is not None:
            transport = allowed[0]
            port = uri.port or DEFAULT_PORTS[transport]
            self._pending_addresses.append((transport, port, host))
            self._resolve_addresses(now)
        elif wanted is not None:
            self._srv_queue = [allowed[0]]
            self._next_srv(now)
        else:
            self._ask(f"{host}", RecordType.NAPTR, now)

    def _transports_for(self, wanted: str | None) -> list[Transport]:
        supported = list(self._supported)
        if wanted is None:
            return supported
        try:
            transport = Transport(wanted.upper())
        except ValueError:
            return []
        return [transport] if transport in supported else []

    # -- DNS plumbing ----------------------------------------------------------
    def _ask(self, name: str, rtype: RecordType, now: float) -> None:
        query = DnsQuery(name, rtype, self._servers, now=now, query_id=self._rng.randrange(0x10000))
        self._queries.append(query)

    def _on_answer(self, query: DnsQuery, answer: DnsAnswered | None, now: float) -> None:
        records = list(answer.records) if answer else []
        extra = list(answer.additional) if answer else []
        if query.type == RecordType.NAPTR:
            self._on_naptr([r.data for r in records if isinstance(r.data, NaptrRecord)], now)
        elif query.type == RecordType.SRV:
            self._on_srv([r.data for r in records if isinstance(r.data, SrvRecord)], extra, now)
        else:
            self._on_address(query, records, now)

    def _on_naptr(self, rules: list[NaptrRecord], now: float) -> None:
        usable = [
            r for r in rules
            if r.flags.lower() == "s" and _NAPTR_SERVICES.get(r.service.upper()) in self._allowed
        ]  # fmt: skip
        usable.sort(key=lambda r: (r.order, r.preference))
        if usable:
            best = usable[0]
            self._srv_transport = _NAPTR_SERVICES[best.service.upper()]
            self._ask(best.replacement, RecordType.SRV, now)
            return
        # No NAPTR: SRV for each supported transport, in preference order (§4.1).
        self._srv_queue = list(self._allowed)
        self._next_srv(now)

    def _next_srv(self, now: float) -> None:
        if not self._srv_queue:
            # No SRV either: A/AAAA of the host with the default port (§4.2).
            transport = self._allowed[0]
            self._pending_addresses.append((transport, DEFAULT_PORTS[transport], self._host))
            self._resolve_addresses(now)
            return
        self._srv_transport = self._srv_queue.pop(0)
        self._ask(_SRV_PREFIX[self._srv_transport] + self._host, RecordType.SRV, now)

    def _on_srv(self, records: list[SrvRecord], extra: list[Record], now: float) -> None:
        ordered = order_srv(records, self._rng)
        if not ordered:
            self._next_srv(now)
            return
        self._srv_queue = []
        known: dict[str, list[str]] = {}
        for record in extra:
            if record.type in (RecordType.A, RecordType.AAAA) and isinstance(record.data, str):
                known.setdefault(record.name.lower(), []).append(record.data)
        for srv in ordered:
            self._pending_addresses.append((self._srv_transport, srv.port, srv.target))
        self._known = known
        self._resolve_addresses(now)

    def _resolve_addresses(self, now: float) -> None:
        """Turn each pending (transport, port, host) into targets, in order."""
        while self._pending_addresses:
            transport, port, host = self._pending_addresses[0]
            if _is_ip(host):
                addresses = [host]
            else:
                addresses = self._hosts.get(host.lower()) or self._known.get(host.lower(), [])
            if not addresses:
                self._waiting = (transport, port, host)
                self._ask(host, RecordType.A, now)
                return
            self._pending_addresses.pop(0)
            self._targets += [Target(transport, (a, port), host) for a in addresses]
        self._finish()

    def _on_address(self, query: DnsQuery, records: list[Record], now: float) -> None:
        assert self._waiting is not None
        transport, port, host = self._waiting
        found = [r.data for r in records if r.type == query.type and isinstance(r.data, str)]
        if query.type == RecordType.A:
            self._found_v4 = found
            self._ask(host, RecordType.AAAA, now)
            return
        self._pending_addresses.pop(0)
        for address in [*self._found_v4, *found]:
            self._targets.append(Target(transport, (address, port), host))
        self._resolve_addresses(now)

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        if self._targets:
            self._events.append(TargetsResolved(tuple(self._targets)))
        else:
            self._events.append(ResolutionFailed(f"no address found for {self._host}"))

    def _fail(self, reason: str) -> None:
        self.done = True
        self._events.append(ResolutionFailed(reason))

    # -- the machine shape -----------------------------------------------------
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Feed a datagram from the DNS socket."""
        for query in list(self._queries):
            query.receive_datagram(data, addr, now)
        self._collect(now)

    def handle_timer(self, now: float) -> None:
        """Retransmit or give up on due queries."""
        for query in list(self._queries):
            query.handle_timer(now)
        self._collect(now)

    def _collect(self, now: float) -> None:
        for query in list(self._queries):
            event = query.next_event()
            if event is None:
                continue
            self._queries.remove(query)
            if not self.done:
                self._on_answer(query, event if isinstance(event, DnsAnswered) else None, now)

    def get_timer(self) -> float | None:
        """The earliest DNS retransmission deadline."""
        deadlines = [t for q in self._queries if (t := q.get_timer()) is not None]
        return min(deadlines, default=None)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """DNS queries to send."""
        out: list[Datagram] = []
        for query in self._queries:
            out += query.datagrams_to_send(now)
        return out

    def next_event(self) -> ResolverEvent | None:
        """The result, once."""
        return self._events.popleft() if self._events else None
