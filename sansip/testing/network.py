"""An in-memory datagram network with seeded delay, jitter, loss, duplication and reordering."""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Protocol, TypeAlias, TypedDict, Unpack, runtime_checkable

from sansip.errors import LocalProtocolError
from sansip.transport.types import Address, Datagram

__all__ = [
    "DatagramNode",
    "HostOrAddress",
    "LinkOverrides",
    "LinkParams",
    "LinkStats",
    "Middlebox",
    "SimNetwork",
    "TraceEntry",
]

#: A host name (matches every port of that host) or an exact ``(host, port)`` address.
HostOrAddress: TypeAlias = str | Address


@runtime_checkable
class DatagramNode(Protocol):
    """Anything with sansip's sans-IO datagram machine shape (the methods below)."""

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Take one datagram that arrived from ``addr``."""

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """Drain the outbox: ``(payload, destination)`` pairs."""

    def get_timer(self) -> float | None:
        """The next absolute deadline, or None (must be pure)."""

    def handle_timer(self, now: float) -> None:
        """Fire what is due at ``now`` (must be safe to call early or twice)."""


@runtime_checkable
class Middlebox(Protocol):
    """A box on the path that rewrites or drops datagrams, e.g. a NAT (:mod:`sansip.testing.nat`).

    See :meth:`SimNetwork.add_middlebox`. A box keeps its own state and its
    own seeded randomness: adding one never changes the network's link draws.
    """

    def outbound(self, data: bytes, src: Address, dst: Address, now: float) -> Address | None:
        """On sending: the source the datagram leaves with (``src`` if not on its path), or None."""

    def receives(self, dst: Address) -> bool:
        """Whether datagrams sent to ``dst`` arrive at this box (its public side)."""

    def inbound(self, data: bytes, src: Address, dst: Address, now: float) -> Address | None:
        """On arrival at ``dst`` (one it :meth:`receives`): where to deliver it, or None to drop."""


@dataclass(frozen=True, slots=True)
class LinkParams:
    """How a one-way link treats datagrams.

    Each datagram takes ``delay`` plus a uniform draw in ``[0, jitter)`` seconds
    (jitter alone may reorder), is lost with probability ``loss``, otherwise gets
    one extra copy with probability ``duplicate`` (with its own latency draw) and
    is held back an extra ``reorder_delay`` seconds with probability ``reorder``
    (default ``reorder_delay``: ``delay + jitter``, at least 1 ms). Datagrams
    longer than ``mtu`` bytes are dropped (``None``: no limit).
    """

    delay: float = 0.01
    jitter: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float | None = None
    mtu: int | None = None

    def __post_init__(self) -> None:
        for name in ("delay", "jitter"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise LocalProtocolError(f"link {name} must be a finite number >= 0, not {value!r}")
        for name in ("loss", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise LocalProtocolError(f"link {name} is a probability in [0, 1], not {value!r}")
        rd = self.reorder_delay
        if rd is not None and (not math.isfinite(rd) or rd < 0):
            raise LocalProtocolError(f"link reorder_delay must be >= 0, not {rd!r}")
        if self.mtu is not None and self.mtu <= 0:
            raise LocalProtocolError(f"link mtu must be positive or None, not {self.mtu!r}")

    @property
    def hold_back(self) -> float:
        """The extra delay of a reordered datagram."""
        if self.reorder_delay is not None:
            return self.reorder_delay
        return max(self.delay + self.jitter, 0.001)


class LinkOverrides(TypedDict, total=False):
    """Keyword arguments of :meth:`SimNetwork.set_link`: any :class:`LinkParams` field."""

    delay: float
    jitter: float
    loss: float
    duplicate: float
    reorder: float
    reorder_delay: float | None
    mtu: int | None


@dataclass(slots=True)
class LinkStats:
    """Counters of one directed link (or of the whole network).

    ``sent`` counts datagrams handed to the link; each ends up ``lost``,
    ``partitioned``, ``oversized``, ``unroutable`` or delivered. ``duplicated``
    counts extra copies, so ``delivered`` may exceed ``sent``. ``reordered``
    counts datagrams held back to be overtaken.
    """

    sent: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    partitioned: int = 0
    oversized: int = 0
    unroutable: int = 0

    @property
    def dropped(self) -> int:
        """All datagrams that never arrived, whatever the reason."""
        return self.lost + self.partitioned + self.oversized + self.unroutable

    def add(self, other: LinkStats) -> None:
        """Add ``other``'s counters to these."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One delivered datagram: when it was sent and arrived, from where to where."""

    time: float
    sent_at: float
    src: Address
    dst: Address
    data: bytes
    seq: int
    duplicate: bool = False


def _matches(spec: HostOrAddress, addr: Address) -> bool:
    return spec == addr[0] if isinstance(spec, str) else spec == addr


def _specificity(a: HostOrAddress, b: HostOrAddress) -> int:
    return (0 if isinstance(a, str) else 1) + (0 if isinstance(b, str) else 1)


class SimNetwork:
    """An in-memory network between sans-IO machines, deterministic for a seed.

    Nodes are attached at an address; what a node sends comes from that address.
    Every random decision is drawn from one ``random.Random(seed)`` in the order
    datagrams are sent, so the same seed and the same inputs give the same run.
    Datagrams arrive in order of arrival time, then of sending (a sequence
    number). Partitions and the ``mtu`` apply when a datagram is sent; a
    destination must be attached both when sending and on arrival.

    :meth:`add_middlebox` puts boxes such as NATs on the paths: a box rewrites
    the source of what it forwards when the datagram is sent (delay, loss,
    partitions and statistics then use the rewritten source) and decides on
    arrival where a datagram to its public side goes; what a box drops counts
    as ``unroutable``. Without boxes nothing changes.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        delay: float = 0.01,
        jitter: float = 0.0,
        loss: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        reorder_delay: float | None = None,
        mtu: int | None = None,
        trace: int = 10_000,
    ) -> None:
        if trace < 0:
            raise LocalProtocolError(f"trace keeps a number of entries >= 0, not {trace!r}")
        self.seed = seed
        self.default = LinkParams(delay, jitter, loss, duplicate, reorder, reorder_delay, mtu)
        self._rng = random.Random(seed)
        self._nodes: dict[Address, DatagramNode] = {}
        self._overrides: list[tuple[HostOrAddress, HostOrAddress, LinkOverrides]] = []
        self._resolved: dict[tuple[Address, Address], LinkParams] = {}
        self._partitions: list[tuple[frozenset[HostOrAddress], frozenset[HostOrAddress]]] = []
        self._queue: list[tuple[float, int, float, Address, Address, bytes, bool]] = []
        self._seq = 0
        self._stats: dict[tuple[Address, Address], LinkStats] = {}
        self._trace: deque[TraceEntry] = deque(maxlen=trace)
        self._tracing = trace > 0
        self._middleboxes: list[Middlebox] = []

    # -- topology ---------------------------------------------------------------

    def attach(self, address: Address, node: DatagramNode) -> None:
        """Put ``node`` on the network at ``address`` (one address per node)."""
        if address in self._nodes:
            raise LocalProtocolError(f"address {address!r} is already attached")
        if any(n is node for n in self._nodes.values()):
            raise LocalProtocolError(f"{node!r} is already attached at another address")
        self._nodes[address] = node

    def detach(self, address: Address) -> DatagramNode:
        """Remove and return the node at ``address``; datagrams to it become unroutable."""
        try:
            return self._nodes.pop(address)
        except KeyError:
            raise LocalProtocolError(f"no node is attached at {address!r}") from None

    def add_middlebox(self, box: Middlebox) -> None:
        """Put ``box`` on the paths of every datagram sent from now on (see :class:`Middlebox`).

        On sending, boxes are asked in the order added, and all again after
        each rewrite (a box behind another box: double NAT). On arrival at an
        address no node is attached at, the box that :meth:`~Middlebox.receives`
        it picks the next destination, repeatedly. An attached node wins.
        """
        if any(b is box for b in self._middleboxes):
            raise LocalProtocolError(f"{box!r} is already on this network")
        self._middleboxes.append(box)

    @property
    def middleboxes(self) -> list[Middlebox]:
        """The boxes on the paths, in the order added."""
        return list(self._middleboxes)

    @property
    def nodes(self) -> Mapping[Address, DatagramNode]:
        """The attached nodes by address, in attach order (read-only view)."""
        return dict(self._nodes)

    def set_link(
        self,
        a: HostOrAddress,
        b: HostOrAddress,
        *,
        both_ways: bool = True,
        **params: Unpack[LinkOverrides],
    ) -> None:
        """Override link parameters for datagrams from ``a`` to ``b`` (and back).

        ``a`` and ``b`` are hosts or exact addresses. Fields not given keep their
        value; when several overrides match, the more specific (addresses over
        hosts) wins, then the later one.
        """
        replace(self.default, **params)  # validate now, not on the first datagram
        pairs = [(a, b), (b, a)] if both_ways and a != b else [(a, b)]
        for src, dst in pairs:
            self._overrides.append((src, dst, LinkOverrides(**params)))
        self._resolved.clear()

    def reset_links(self) -> None:
        """Forget every :meth:`set_link` override."""
        self._overrides.clear()
        self._resolved.clear()

    def link(self, src: Address, dst: Address) -> LinkParams:
        """The effective parameters of the directed link ``src -> dst``."""
        key = (src, dst)
        params = self._resolved.get(key)
        if params is None:
            matching = [
                (_specificity(a, b), i, o)
                for i, (a, b, o) in enumerate(self._overrides)
                if _matches(a, src) and _matches(b, dst)
            ]
            params = self.default
            for _, _, o in sorted(matching, key=lambda m: (m[0], m[1])):
                params = replace(params, **o)
            self._resolved[key] = params
        return params

    def partition(self, group_a: Iterable[HostOrAddress], group_b: Iterable[HostOrAddress]) -> None:
        """Drop every datagram sent between the two groups, both ways, until :meth:`heal`."""
        self._partitions.append((frozenset(group_a), frozenset(group_b)))

    def heal(self) -> None:
        """Remove every partition."""
        self._partitions.clear()

    def partitioned(self, src: Address, dst: Address) -> bool:
        """Whether a partition currently separates ``src`` from ``dst``."""
        for ga, gb in self._partitions:
            in_a = any(_matches(s, src) for s in ga) and any(_matches(s, dst) for s in gb)
            in_b = any(_matches(s, src) for s in gb) and any(_matches(s, dst) for s in ga)
            if in_a or in_b:
                return True
        return False

    # -- traffic ------------------------------------------------------------------

    def send(self, data: bytes, src: Address, dst: Address, now: float) -> None:
        """Hand one datagram from ``src`` to the network at time ``now``."""
        routed = self._route_out(data, src, dst, now) if self._middleboxes else src
        stats = self._link_stats(src if routed is None else routed, dst)
        stats.sent += 1
        if routed is None:
            stats.unroutable += 1
            return
        src = routed
        if dst not in self._nodes and self._box_receiving(dst) is None:
            stats.unroutable += 1
            return
        if self.partitioned(src, dst):
            stats.partitioned += 1
            return
        params = self.link(src, dst)
        if params.mtu is not None and len(data) > params.mtu:
            stats.oversized += 1
            return
        rng = self._rng
        if params.loss and rng.random() < params.loss:
            stats.lost += 1
            return
        copies = 1
        if params.duplicate and rng.random() < params.duplicate:
            stats.duplicated += 1
            copies = 2
        for copy in range(copies):
            arrival = now + params.delay
            if params.jitter:
                arrival += rng.random() * params.jitter
            if copy == 0 and params.reorder and rng.random() < params.reorder:
                stats.reordered += 1
                arrival += params.hold_back
            self._seq += 1
            entry = (arrival, self._seq, now, src, dst, bytes(data), copy > 0)
            heapq.heappush(self._queue, entry)

    def collect(self, now: float) -> int:
        """Send what every node has in its outbox (in attach order); return the count."""
        count = 0
        for address, node in list(self._nodes.items()):
            for data, dst in node.datagrams_to_send(now):
                self.send(data, address, dst, now)
                count += 1
        return count

    def next_arrival(self) -> float | None:
        """The arrival time of the next datagram in flight, or None."""
        return self._queue[0][0] if self._queue else None

    @property
    def in_flight(self) -> int:
        """How many datagrams are on their way."""
        return len(self._queue)

    def deliver_next(self, now: float) -> TraceEntry | None:
        """Deliver the next datagram due at or before ``now``; None if none is due.

        Returns the trace entry of a delivery, or of a datagram dropped because
        its destination was detached in flight or a middlebox dropped it (then
        ``dst`` is not attached). Through a middlebox, ``dst`` is where it went.
        """
        if not self._queue or self._queue[0][0] > now:
            return None
        arrival, seq, sent_at, src, dst, data, dup = heapq.heappop(self._queue)
        stats = self._link_stats(src, dst)
        node = self._nodes.get(dst)
        hops = 0
        while node is None and hops <= len(self._middleboxes):
            box = self._box_receiving(dst)
            routed = None if box is None else box.inbound(data, src, dst, now)
            if routed is None:
                break
            dst, node, hops = routed, self._nodes.get(routed), hops + 1
        entry = TraceEntry(arrival, sent_at, src, dst, data, seq, dup)
        if node is None:
            stats.unroutable += 1
            return entry
        stats.delivered += 1
        if self._tracing:
            self._trace.append(entry)
        node.receive_datagram(data, src, now)
        return entry

    def _route_out(self, data: bytes, src: Address, dst: Address, now: float) -> Address | None:
        """The source after every box on the path rewrote it, or None if one dropped it."""
        for _ in range(len(self._middleboxes) + 1):
            for box in self._middleboxes:
                routed = box.outbound(data, src, dst, now)
                if routed is None:
                    return None
                if routed != src:
                    src = routed
                    break
            else:
                return src
        raise LocalProtocolError(f"middleboxes keep rewriting {src!r} -> {dst!r}; they loop")

    def _box_receiving(self, dst: Address) -> Middlebox | None:
        for box in self._middleboxes:
            if box.receives(dst):
                return box
        return None

    # -- observation --------------------------------------------------------------

    def _link_stats(self, src: Address, dst: Address) -> LinkStats:
        stats = self._stats.get((src, dst))
        if stats is None:
            stats = self._stats[(src, dst)] = LinkStats()
        return stats

    def stats(self, src: Address, dst: Address) -> LinkStats:
        """A copy of the counters of the directed link ``src -> dst``."""
        return replace(self._stats.get((src, dst), LinkStats()))

    @property
    def link_stats(self) -> dict[tuple[Address, Address], LinkStats]:
        """Copies of the counters of every link that carried traffic."""
        return {key: replace(value) for key, value in self._stats.items()}

    @property
    def total(self) -> LinkStats:
        """The counters summed over all links."""
        total = LinkStats()
        for stats in self._stats.values():
            total.add(stats)
        return total

    @property
    def unroutable(self) -> int:
        """Datagrams dropped because no node was attached at their destination."""
        return sum(s.unroutable for s in self._stats.values())

    @property
    def trace(self) -> list[TraceEntry]:
        """The most recent deliveries, oldest first (bounded by ``trace``)."""
        return list(self._trace)

    def clear_trace(self) -> None:
        """Forget the recorded deliveries."""
        self._trace.clear()

    def __repr__(self) -> str:
        return (
            f"SimNetwork(seed={self.seed!r}, nodes={len(self._nodes)}, "
            f"in_flight={len(self._queue)}, default={self.default!r})"
        )
