"""NAT boxes for the simulated network: RFC 4787 mapping and filtering on virtual time.

A :class:`Nat` has one public host (e.g. ``203.0.113.1``) and an inside
realm (private hosts or prefixes, e.g. ``10.0.1.0/24``). It is not a node:
it is a :class:`~sansip.testing.network.Middlebox` that sits on the paths of
one :class:`~sansip.testing.network.SimNetwork`, which asks it

- when a datagram is *sent* from an inside host to anywhere outside the
  realm: the public source it leaves with (creating or refreshing a mapping;
  that is where the NAT is, next to its hosts), or to drop it;
- when a datagram *arrives* at the public host: which inside address gets
  it, or to drop it (the filter is judged on arrival, so a punch crossing an
  outbound packet in flight behaves as on a real path).

Why a box and not a node attached twice (a public and a private network):
a node sends from its one attached address and receives at exactly it,
while a NAT sends from and receives at ports it picks as it goes; and one
:class:`~sansip.testing.runner.Simulation` drives one network. So every host,
public or private, is attached to the same network (one address space:
give each realm its own prefix, as ``10.0.1.0/24`` and ``10.0.2.0/24``),
link delay, loss and statistics apply to the addresses *on the wire* (the
public ones after translation), and datagrams inside a realm go straight
from host to host. A datagram from outside a realm straight to an inside
address is dropped: private addresses are not routed. NATs nest (double
NAT): an inner NAT's public host may lie in an outer NAT's realm.

Behaviour (RFC 4787), see :class:`NatBehaviour` and the four classic presets
:data:`FULL_CONE`, :data:`RESTRICTED`, :data:`PORT_RESTRICTED` and
:data:`SYMMETRIC`:

- *mapping*: which outbound datagrams share a public port (section 4.1);
- *filtering*: which inbound datagrams a mapping lets in (section 5);
- each (mapping, remote endpoint) session lasts ``mapping_lifetime``
  seconds after the last datagram sent on it, and refreshes on outbound
  traffic only (REQ-6); a mapping lives while one of its sessions does;
- public ports are drawn from a ``random.Random`` seeded with the public host
  and ``seed``: deterministic, and different for different NATs;
- hairpinning (REQ-9, off by default): an inside host may send to a public
  mapping of its own NAT and the peer sees the sender's public address;
- :attr:`Nat.dropped` counts what the NAT dropped, by :class:`DropReason`.

Example::

    from sansip.testing import PORT_RESTRICTED, SYMMETRIC, Nat, SimNetwork, Simulation

    network = SimNetwork(seed=1, delay=0.02)
    nat_a = Nat("203.0.113.1", "10.0.1.0/24", PORT_RESTRICTED)
    nat_b = Nat("203.0.113.2", "10.0.2.0/24", SYMMETRIC, hairpinning=True)
    network.add_middlebox(nat_a)
    network.add_middlebox(nat_b)
    sim = Simulation(network=network)
    sim.attach(("10.0.1.2", 5000), alice)          # behind nat_a
    sim.attach(("10.0.2.2", 5000), bob)            # behind nat_b
    sim.attach(("198.51.100.1", 3478), stun)       # public: sees 203.0.113.x sources
    sim.run_for(1.0)
    print(nat_a.mappings(sim.now), nat_b.dropped)
"""

from __future__ import annotations

import ipaddress
import math
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum

from sansip.errors import LocalProtocolError
from sansip.transport.types import Address

__all__ = [
    "FULL_CONE",
    "PORT_RESTRICTED",
    "RESTRICTED",
    "SYMMETRIC",
    "DropReason",
    "FilteringBehaviour",
    "MappingBehaviour",
    "Nat",
    "NatBehaviour",
    "NatMapping",
]


class MappingBehaviour(Enum):
    """Which outbound datagrams of one inside address share a public port (RFC 4787 4.1)."""

    #: One public port for every destination (the cone NATs).
    ENDPOINT_INDEPENDENT = "endpoint-independent"
    #: One public port per destination host.
    ADDRESS_DEPENDENT = "address-dependent"
    #: One public port per destination host and port (the symmetric NAT).
    ADDRESS_AND_PORT_DEPENDENT = "address-and-port-dependent"


class FilteringBehaviour(Enum):
    """Which inbound datagrams to a live mapping get through (RFC 4787 section 5)."""

    #: From anyone (full cone).
    ENDPOINT_INDEPENDENT = "endpoint-independent"
    #: From a host the inside address sent to, any port (restricted cone).
    ADDRESS_DEPENDENT = "address-dependent"
    #: From exactly a host and port it sent to (port-restricted cone, symmetric).
    ADDRESS_AND_PORT_DEPENDENT = "address-and-port-dependent"


class DropReason(Enum):
    """Why a :class:`Nat` dropped a datagram (the keys of :attr:`Nat.dropped`)."""

    #: Inbound to a public port with no live mapping (never made, or expired).
    NO_MAPPING = "no-mapping"
    #: Inbound to a live mapping from a sender its filtering refuses.
    FILTERED = "filtered"
    #: Outbound from inside to the NAT's own public host while hairpinning is off.
    HAIRPIN = "hairpin"
    #: Outbound needing a new mapping while every public port is taken.
    PORTS_EXHAUSTED = "ports-exhausted"
    #: Sent from outside the realm straight to an inside (private) address.
    PRIVATE_DESTINATION = "private-destination"


@dataclass(frozen=True, slots=True)
class NatBehaviour:
    """How a :class:`Nat` maps, filters, hairpins and times out.

    ``mapping_lifetime`` (seconds, > 0) is how long a session stays after the
    last outbound datagram on it; public ports are drawn from ``ports``
    (``(low, high)``, both included). Derive variants with
    :func:`dataclasses.replace`, e.g. ``replace(SYMMETRIC, hairpinning=True)``.
    """

    mapping: MappingBehaviour
    filtering: FilteringBehaviour
    hairpinning: bool = False
    mapping_lifetime: float = 120.0
    ports: tuple[int, int] = (1024, 65535)

    def __post_init__(self) -> None:
        life = self.mapping_lifetime
        if not (math.isfinite(life) and life > 0):
            raise LocalProtocolError(f"mapping_lifetime must be a positive number, not {life!r}")
        low, high = self.ports
        if not 1 <= low <= high <= 65535:
            raise LocalProtocolError(f"ports must be (low, high) in 1..65535, not {self.ports!r}")

    @property
    def name(self) -> str:
        """The classic name of this mapping/filtering pair, or RFC 4787's terms."""
        for preset_name, preset in _PRESETS.items():
            if (preset.mapping, preset.filtering) == (self.mapping, self.filtering):
                return preset_name
        return f"{self.mapping.value} mapping, {self.filtering.value} filtering"


_EIM = MappingBehaviour.ENDPOINT_INDEPENDENT
_APDM = MappingBehaviour.ADDRESS_AND_PORT_DEPENDENT

#: Full cone: one port per inside address, anyone may send to it.
FULL_CONE = NatBehaviour(_EIM, FilteringBehaviour.ENDPOINT_INDEPENDENT)
#: Restricted cone: one port per inside address, open to hosts it sent to.
RESTRICTED = NatBehaviour(_EIM, FilteringBehaviour.ADDRESS_DEPENDENT)
#: Port-restricted cone: one port per inside address, open to host:ports it sent to.
PORT_RESTRICTED = NatBehaviour(_EIM, FilteringBehaviour.ADDRESS_AND_PORT_DEPENDENT)
#: Symmetric: a new port per destination host:port, open only to that destination.
SYMMETRIC = NatBehaviour(_APDM, FilteringBehaviour.ADDRESS_AND_PORT_DEPENDENT)

_PRESETS = {
    "full cone": FULL_CONE,
    "restricted cone": RESTRICTED,
    "port-restricted cone": PORT_RESTRICTED,
    "symmetric": SYMMETRIC,
}


@dataclass(frozen=True, slots=True)
class NatMapping:
    """A snapshot of one live mapping (see :meth:`Nat.mappings`).

    ``remotes`` are the endpoints the inside address sent to through it whose
    sessions are alive, in the order first contacted; ``expires`` is when the
    mapping dies unless more is sent on it.
    """

    internal: Address
    external: Address
    remotes: tuple[Address, ...]
    last_outbound: float
    expires: float


@dataclass(slots=True)
class _Binding:
    internal: Address
    port: int
    key: tuple[Address, str | None, int | None]
    #: remote endpoint -> time of the last outbound datagram to it
    sessions: dict[Address, float] = field(default_factory=dict)


_Inside = ipaddress.IPv4Network | ipaddress.IPv6Network | str


def _parse_inside(spec: str) -> _Inside:
    if "/" not in spec:
        return spec
    try:
        return ipaddress.ip_network(spec, strict=False)
    except ValueError:
        raise LocalProtocolError(f"inside prefix {spec!r} is not an IP network") from None


class Nat:
    """A NAT with one public host in front of an inside realm (see the module docstring).

    ``inside`` is a host, a prefix such as ``"10.0.1.0/24"``, or several of
    them. ``hairpinning`` and ``mapping_lifetime``, when given, override those
    of ``behaviour``. Put it on a network with
    :meth:`~sansip.testing.network.SimNetwork.add_middlebox`. Expiry is lazy
    (checked whenever a datagram crosses or :meth:`mappings` is asked), so
    the NAT needs no timer; ``now`` must never go backwards.
    """

    def __init__(
        self,
        public_host: str,
        inside: str | Iterable[str],
        behaviour: NatBehaviour = PORT_RESTRICTED,
        *,
        hairpinning: bool | None = None,
        mapping_lifetime: float | None = None,
        seed: int = 0,
    ) -> None:
        if hairpinning is not None:
            behaviour = replace(behaviour, hairpinning=hairpinning)
        if mapping_lifetime is not None:
            behaviour = replace(behaviour, mapping_lifetime=mapping_lifetime)
        specs = (inside,) if isinstance(inside, str) else tuple(inside)
        if not specs:
            raise LocalProtocolError("a NAT needs at least one inside host or prefix")
        self.public_host = public_host
        self.behaviour = behaviour
        self.inside = specs
        self.seed = seed
        self._inside = [_parse_inside(spec) for spec in specs]
        self._inside_cache: dict[str, bool] = {}
        if self.is_inside(public_host):
            raise LocalProtocolError(f"public host {public_host!r} lies inside {specs!r}")
        self._rng = random.Random(f"nat:{public_host}:{seed}")
        self._by_key: dict[tuple[Address, str | None, int | None], _Binding] = {}
        self._by_port: dict[int, _Binding] = {}
        self._next_expiry = math.inf
        self._dropped: Counter[DropReason] = Counter()
        #: Datagrams translated on the way out, and let in on the way in.
        self.translated_out = 0
        self.forwarded_in = 0

    # -- the realm ------------------------------------------------------------------

    def is_inside(self, host: str) -> bool:
        """Whether ``host`` is in this NAT's inside realm."""
        known = self._inside_cache.get(host)
        if known is None:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                ip = None  # a host name: only an exact inside entry matches it
            known = any(
                spec == host if isinstance(spec, str) else ip is not None and ip in spec
                for spec in self._inside
            )
            self._inside_cache[host] = known
        return known

    # -- the Middlebox protocol ---------------------------------------------------

    def outbound(self, data: bytes, src: Address, dst: Address, now: float) -> Address | None:
        """The public source of a datagram leaving the realm (``src`` if it is not).

        Creates or refreshes the mapping and its session with ``dst``; None
        (and a count in :attr:`dropped`) for a datagram from outside straight
        to an inside address, to the public host with hairpinning off, or
        when no public port is free.
        """
        if not self.is_inside(src[0]):
            if self.is_inside(dst[0]):
                self._dropped[DropReason.PRIVATE_DESTINATION] += 1
                return None
            return src
        if self.is_inside(dst[0]):
            return src  # inside the realm: host to host, no translation
        if dst[0] == self.public_host and not self.behaviour.hairpinning:
            self._dropped[DropReason.HAIRPIN] += 1
            return None
        self._expire(now)
        key = self._mapping_key(src, dst)
        binding = self._by_key.get(key)
        if binding is None:
            port = self._allocate_port()
            if port is None:
                self._dropped[DropReason.PORTS_EXHAUSTED] += 1
                return None
            binding = _Binding(src, port, key)
            self._by_key[key] = binding
            self._by_port[port] = binding
        binding.sessions[dst] = now
        self._next_expiry = min(self._next_expiry, now + self.behaviour.mapping_lifetime)
        self.translated_out += 1
        return (self.public_host, binding.port)

    def receives(self, dst: Address) -> bool:
        """Whether ``dst`` is on this NAT's public host (any port)."""
        return dst[0] == self.public_host

    def inbound(self, data: bytes, src: Address, dst: Address, now: float) -> Address | None:
        """The inside address a datagram arriving at public ``dst`` goes to, or None.

        None (and a count in :attr:`dropped`) when the port has no live
        mapping or the mapping's filtering refuses ``src``. Inbound traffic
        never refreshes a mapping.
        """
        self._expire(now)
        binding = self._by_port.get(dst[1])
        if binding is None:
            self._dropped[DropReason.NO_MAPPING] += 1
            return None
        if not self._permits(binding, src):
            self._dropped[DropReason.FILTERED] += 1
            return None
        self.forwarded_in += 1
        return binding.internal

    # -- observation and control --------------------------------------------------

    @property
    def dropped(self) -> dict[DropReason, int]:
        """How many datagrams the NAT dropped, by reason (a copy; absent reasons: none)."""
        return dict(self._dropped)

    def mappings(self, now: float) -> list[NatMapping]:
        """The mappings alive at ``now``, in the order they were made."""
        self._expire(now)
        life = self.behaviour.mapping_lifetime
        snapshots = []
        for binding in self._by_key.values():
            last = max(binding.sessions.values())
            snapshots.append(
                NatMapping(
                    binding.internal,
                    (self.public_host, binding.port),
                    tuple(binding.sessions),
                    last,
                    last + life,
                )
            )
        return snapshots

    def reset(self) -> None:
        """Forget every mapping at once, as a NAT that reboots (the counters stay)."""
        self._by_key.clear()
        self._by_port.clear()
        self._next_expiry = math.inf

    # -- internals ----------------------------------------------------------------

    def _mapping_key(self, src: Address, dst: Address) -> tuple[Address, str | None, int | None]:
        mapping = self.behaviour.mapping
        if mapping is MappingBehaviour.ENDPOINT_INDEPENDENT:
            return (src, None, None)
        if mapping is MappingBehaviour.ADDRESS_DEPENDENT:
            return (src, dst[0], None)
        return (src, dst[0], dst[1])

    def _permits(self, binding: _Binding, src: Address) -> bool:
        filtering = self.behaviour.filtering
        if filtering is FilteringBehaviour.ENDPOINT_INDEPENDENT:
            return True
        if filtering is FilteringBehaviour.ADDRESS_DEPENDENT:
            return any(remote[0] == src[0] for remote in binding.sessions)
        return src in binding.sessions

    def _allocate_port(self) -> int | None:
        low, high = self.behaviour.ports
        size = high - low + 1
        if len(self._by_port) >= size:
            return None
        rng = self._rng
        for _ in range(8):
            port = low + rng.randrange(size)
            if port not in self._by_port:
                return port
        start = rng.randrange(size)  # a crowded range: scan from a random place
        for i in range(size):
            port = low + (start + i) % size
            if port not in self._by_port:
                return port
        raise AssertionError("unreachable: a free port was counted")  # pragma: no cover

    def _expire(self, now: float) -> None:
        """Drop the sessions idle for ``mapping_lifetime``, then the mappings left empty."""
        if now < self._next_expiry:
            return
        life = self.behaviour.mapping_lifetime
        next_expiry = math.inf
        for key, binding in list(self._by_key.items()):
            sessions = {r: t for r, t in binding.sessions.items() if t + life > now}
            if sessions:
                binding.sessions = sessions
                next_expiry = min(next_expiry, *(t + life for t in sessions.values()))
            else:
                del self._by_key[key]
                del self._by_port[binding.port]
        self._next_expiry = next_expiry

    def __repr__(self) -> str:
        return (
            f"Nat({self.public_host!r}, inside={self.inside!r}, "
            f"{self.behaviour.name}, mappings={len(self._by_key)})"
        )
