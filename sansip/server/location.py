"""The location service of the registrar (RFC 3261 §10.3): address-of-record
to contact bindings, in memory, expiring on the caller's clock.

An address of record is keyed by its user part: the server is responsible
for one domain, whatever name or address the clients use for it (the
``usrloc`` behaviour without domains).  A binding is identified by its
``+sip.instance`` and ``reg-id`` when it has them (RFC 5626 §6), else by its
contact URI compared with the rules of §19.1.4.  Each binding keeps where
its REGISTER came from, so requests can be routed back over that flow to a
client behind a NAT.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

from sansip.message import NameAddr, SipURI, TelURI
from sansip.message.uri import URI
from sansip.transport.types import Address, Transport

__all__ = ["Binding", "LocationService", "aor_key"]


def aor_key(uri: URI) -> str | None:
    """The location-service key of an address of record: its user part
    (a ``tel:`` number as is); None for a URI without one."""
    if isinstance(uri, SipURI):
        return uri.user or None
    if isinstance(uri, TelURI):
        return uri.number
    return None


@dataclass(eq=False, slots=True)
class Binding:
    """One contact registered for an address of record."""

    aor: str
    #: The Contact as registered, without its ``expires`` parameter.
    contact: NameAddr
    uri: SipURI
    expires_at: float
    q: float
    call_id: str
    cseq: int
    #: Where the REGISTER came from (the flow: a UDP peer or a connection).
    source: Address
    transport: Transport
    registered_at: float
    instance: str | None = None
    reg_id: str | None = None
    #: False once the connection the REGISTER came over is gone.
    flow_alive: bool = True

    def remaining(self, now: float) -> int:
        """Whole seconds left before the binding expires (at least 0)."""
        return max(0, round(self.expires_at - now))

    def matches(self, uri: SipURI, instance: str | None, reg_id: str | None) -> bool:
        """Whether a Contact with ``uri``/``instance``/``reg_id`` names this binding."""
        if instance is not None or self.instance is not None:
            return instance == self.instance and reg_id == self.reg_id
        return self.uri.equivalent(uri)


class LocationService:
    """Bindings per address of record, with their expiry (sans-IO)."""

    def __init__(self) -> None:
        self._bindings: dict[str, list[Binding]] = {}
        self._heap: list[tuple[float, int, Binding]] = []
        self._seq = count()
        #: Addresses of record that have had a binding (for 480 versus 404).
        self.known: set[str] = set()

    def __len__(self) -> int:
        """How many bindings there are."""
        return sum(len(b) for b in self._bindings.values())

    def __iter__(self) -> Iterator[Binding]:
        for bindings in self._bindings.values():
            yield from bindings

    def lookup(self, aor: str) -> list[Binding]:
        """The live bindings of ``aor``, best first: highest q, then the most
        recently registered."""
        bindings = self._bindings.get(aor, [])
        return sorted(bindings, key=lambda b: (-b.q, -b.registered_at))

    def find(
        self, aor: str, uri: SipURI, instance: str | None, reg_id: str | None
    ) -> Binding | None:
        """The binding of ``aor`` a Contact names, or None."""
        for binding in self._bindings.get(aor, ()):
            if binding.matches(uri, instance, reg_id):
                return binding
        return None

    def by_contact(self, uri: SipURI) -> Binding | None:
        """The binding whose contact is ``uri`` (for requests within a dialog
        that target a registered client), or None."""
        for binding in self:
            if binding.uri.equivalent(uri):
                return binding
        return None

    def save(self, binding: Binding) -> None:
        """Add ``binding``, or re-arm its expiry after it was updated in place."""
        bindings = self._bindings.setdefault(binding.aor, [])
        if not any(b is binding for b in bindings):
            bindings.append(binding)
        self.known.add(binding.aor)
        heapq.heappush(self._heap, (binding.expires_at, next(self._seq), binding))
        self._prune()

    def remove(self, binding: Binding) -> None:
        """Forget ``binding`` (its heap entry is dropped lazily)."""
        bindings = self._bindings.get(binding.aor)
        if bindings is None:
            return
        bindings[:] = [b for b in bindings if b is not binding]
        if not bindings:
            del self._bindings[binding.aor]
        self._prune()

    def flow_lost(self, source: Address) -> None:
        """The connection some REGISTERs came over is gone."""
        for binding in self:
            if binding.source == source:
                binding.flow_alive = False

    def flow_seen(self, source: Address) -> None:
        """Something arrived over the connection with ``source`` again."""
        for binding in self:
            if binding.source == source:
                binding.flow_alive = True

    def next_expiry(self) -> float | None:
        """When the next binding expires, or None; pure."""
        return self._heap[0][0] if self._heap else None

    def expire(self, now: float) -> list[Binding]:
        """Remove and return the bindings whose time is up at ``now``."""
        expired: list[Binding] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, binding = heapq.heappop(heap)
            live = any(b is binding for b in self._bindings.get(binding.aor, ()))
            if live and binding.expires_at == at:
                self.remove(binding)
                expired.append(binding)
        self._prune()
        return expired

    def _prune(self) -> None:
        """Drop stale heap entries so the top is a live deadline."""
        heap = self._heap
        while heap:
            at, _, binding = heap[0]
            live = any(b is binding for b in self._bindings.get(binding.aor, ()))
            if live and binding.expires_at == at:
                return
            heapq.heappop(heap)
