"""NAT boxes: RFC 4787 mapping, filtering, expiry, hairpinning; hole punching through two NATs."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError
from sansip.testing import (
    FULL_CONE,
    PORT_RESTRICTED,
    RESTRICTED,
    SYMMETRIC,
    DropReason,
    FilteringBehaviour,
    MappingBehaviour,
    Middlebox,
    Nat,
    NatBehaviour,
    SimNetwork,
    Simulation,
)
from sansip.transport.types import Address, Datagram
from tests.conftest import examples

NAT_A = "203.0.113.1"
NAT_B = "203.0.113.2"
A = ("10.0.1.2", 5000)
A2 = ("10.0.1.3", 5000)
B = ("10.0.2.2", 5000)
STUN = ("198.51.100.1", 3478)
STUN_OTHER_PORT = ("198.51.100.1", 3479)
OTHER_HOST = ("198.51.100.2", 3478)

PRESETS = {
    "full-cone": FULL_CONE,
    "restricted": RESTRICTED,
    "port-restricted": PORT_RESTRICTED,
    "symmetric": SYMMETRIC,
}


# -- test machines --------------------------------------------------------------------


class Host:
    """Sends what it is told to, records what arrives."""

    def __init__(self) -> None:
        self.received: list[tuple[float, bytes, Address]] = []
        self._outbox: list[Datagram] = []

    def send(self, data: bytes, dst: Address) -> None:
        self._outbox.append((data, dst))

    def sources(self) -> list[Address]:
        return [addr for _, _, addr in self.received]

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.received.append((now, data, addr))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


class StunLike(Host):
    """Answers ``bind`` with ``mapped host:port``: the source it saw (a simplified STUN Binding)."""

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        super().receive_datagram(data, addr, now)
        if data == b"bind":
            self.send(b"mapped %s:%d" % (addr[0].encode(), addr[1]), addr)


class Peer(Host):
    """Learns its public mapping from a :class:`StunLike`, then punches towards a peer.

    Repeats ``bind`` every ``rebind`` seconds until answered. Answers every
    ``punch`` with an ``ack`` to wherever it came from (as ICE answers a
    check to its source, learning a peer-reflexive address).
    """

    def __init__(self, stun: Address, *, rebind: float = 0.5) -> None:
        super().__init__()
        self.stun = stun
        self.mapped: Address | None = None
        self.heard: list[tuple[bytes, Address]] = []
        self._punches: list[tuple[float, Address]] = []
        self._rebind = rebind
        self._rebind_at: float | None = rebind
        self.send(b"bind", stun)

    def punch(self, peer: Address, now: float, *, count: int = 10, interval: float = 0.05) -> None:
        self._punches = [(now + i * interval, peer) for i in range(count)]

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        super().receive_datagram(data, addr, now)
        if addr == self.stun and data.startswith(b"mapped "):
            host, port = data[7:].decode().rsplit(":", 1)
            self.mapped = (host, int(port))
            self._rebind_at = None
        elif data in (b"punch", b"ack"):
            self.heard.append((data, addr))
            if data == b"punch":
                self.send(b"ack", addr)

    def get_timer(self) -> float | None:
        times = (self._rebind_at, self._punches[0][0] if self._punches else None)
        pending = [t for t in times if t is not None]
        return min(pending) if pending else None

    def handle_timer(self, now: float) -> None:
        if self._rebind_at is not None and self._rebind_at <= now:
            self.send(b"bind", self.stun)
            self._rebind_at = now + self._rebind
        while self._punches and self._punches[0][0] <= now:
            self.send(b"punch", self._punches.pop(0)[1])


class Scheduled(Host):
    """Sends ``out`` to each ``(time, destination)`` of its schedule at that time."""

    def __init__(self, schedule: list[tuple[float, Address]]) -> None:
        super().__init__()
        self._schedule = sorted(schedule)

    def get_timer(self) -> float | None:
        return self._schedule[0][0] if self._schedule else None

    def handle_timer(self, now: float) -> None:
        while self._schedule and self._schedule[0][0] <= now:
            self.send(b"out", self._schedule.pop(0)[1])


class Prober(Host):
    """Sends ``probe`` at the given times to wherever ``target()`` says then (if anywhere)."""

    def __init__(self, times: list[float], target: Callable[[float], Address | None]) -> None:
        super().__init__()
        self._times = sorted(times)
        self._target = target

    def get_timer(self) -> float | None:
        return self._times[0] if self._times else None

    def handle_timer(self, now: float) -> None:
        while self._times and self._times[0] <= now:
            self._times.pop(0)
            dst = self._target(now)
            if dst is not None:
                self.send(b"probe", dst)


# -- helpers ----------------------------------------------------------------------------


def _one_nat(
    behaviour: NatBehaviour, *, seed: int = 1, delay: float = 0.01
) -> tuple[Simulation, Nat, Host, dict[Address, Host]]:
    """Host ``A`` behind a NAT; public hosts at STUN, STUN_OTHER_PORT and OTHER_HOST."""
    net = SimNetwork(seed, delay=delay)
    nat = Nat(NAT_A, "10.0.1.0/24", behaviour, seed=seed)
    net.add_middlebox(nat)
    sim = Simulation(network=net)
    host = Host()
    sim.attach(A, host)
    public = {addr: Host() for addr in (STUN, STUN_OTHER_PORT, OTHER_HOST)}
    for addr, node in public.items():
        sim.attach(addr, node)
    return sim, nat, host, public


def _send(sim: Simulation, node: Host, data: bytes, dst: Address) -> None:
    node.send(data, dst)
    sim.flush()
    sim.run_until_idle()


def _mapped_source(sim: Simulation, nat: Nat, host: Host, public: dict[Address, Host]) -> Address:
    """Send from ``host`` to STUN and return the source STUN saw."""
    _send(sim, host, b"hello", STUN)
    seen = public[STUN].sources()[-1]
    assert seen[0] == NAT_A
    return seen


# -- behaviour and construction ---------------------------------------------------------


def test_presets_have_their_rfc4787_behaviours() -> None:
    eim, apdm = MappingBehaviour.ENDPOINT_INDEPENDENT, MappingBehaviour.ADDRESS_AND_PORT_DEPENDENT
    f = FilteringBehaviour
    assert (FULL_CONE.mapping, FULL_CONE.filtering) == (eim, f.ENDPOINT_INDEPENDENT)
    assert (RESTRICTED.mapping, RESTRICTED.filtering) == (eim, f.ADDRESS_DEPENDENT)
    assert (PORT_RESTRICTED.mapping, PORT_RESTRICTED.filtering) == (
        eim,
        f.ADDRESS_AND_PORT_DEPENDENT,
    )
    assert (SYMMETRIC.mapping, SYMMETRIC.filtering) == (apdm, f.ADDRESS_AND_PORT_DEPENDENT)
    for preset in PRESETS.values():
        assert not preset.hairpinning
        assert preset.mapping_lifetime == 120.0
    assert [p.name for p in PRESETS.values()] == [
        "full cone",
        "restricted cone",
        "port-restricted cone",
        "symmetric",
    ]
    odd = NatBehaviour(MappingBehaviour.ADDRESS_DEPENDENT, f.ENDPOINT_INDEPENDENT)
    assert odd.name == "address-dependent mapping, endpoint-independent filtering"
    assert replace(SYMMETRIC, hairpinning=True).name == "symmetric"


@pytest.mark.parametrize("lifetime", [0.0, -1.0, float("inf"), float("nan")])
def test_a_bad_mapping_lifetime_is_refused(lifetime: float) -> None:
    with pytest.raises(LocalProtocolError, match="mapping_lifetime"):
        replace(FULL_CONE, mapping_lifetime=lifetime)


@pytest.mark.parametrize("ports", [(0, 10), (2000, 1999), (1024, 70000)])
def test_a_bad_port_range_is_refused(ports: tuple[int, int]) -> None:
    with pytest.raises(LocalProtocolError, match="ports"):
        replace(FULL_CONE, ports=ports)


def test_nat_construction() -> None:
    nat = Nat(NAT_A, ["10.0.1.0/24", "lan-host"], FULL_CONE, hairpinning=True, mapping_lifetime=5)
    assert isinstance(nat, Middlebox)
    assert nat.behaviour == replace(FULL_CONE, hairpinning=True, mapping_lifetime=5.0)
    assert nat.is_inside("10.0.1.77") and nat.is_inside("lan-host")
    assert not nat.is_inside("10.0.2.1") and not nat.is_inside(NAT_A)
    assert not nat.is_inside("2001:db8::1") and not nat.is_inside("other-host")
    assert nat.receives((NAT_A, 1)) and not nat.receives(("10.0.1.2", 1))
    assert "full cone" in repr(nat)
    with pytest.raises(LocalProtocolError, match="inside"):
        Nat("10.0.1.1", "10.0.1.0/24")
    with pytest.raises(LocalProtocolError, match="at least one"):
        Nat(NAT_A, [])
    with pytest.raises(LocalProtocolError, match="not an IP network"):
        Nat(NAT_A, "10.0.1.0/33")
    v6 = Nat("2001:db8::1", "fd00::/64")
    assert v6.is_inside("fd00::2") and not v6.is_inside("10.0.1.2")


def test_a_box_is_added_once_and_listed() -> None:
    net = SimNetwork()
    nat = Nat(NAT_A, "10.0.1.0/24")
    net.add_middlebox(nat)
    assert net.middleboxes == [nat]
    with pytest.raises(LocalProtocolError, match="already"):
        net.add_middlebox(nat)


def test_a_box_that_keeps_rewriting_is_caught() -> None:
    class Spinner:
        def outbound(self, data: bytes, src: Address, dst: Address, now: float) -> Address:
            return (src[0], src[1] + 1)

        def receives(self, dst: Address) -> bool:
            return False

        def inbound(self, data: bytes, src: Address, dst: Address, now: float) -> Address | None:
            return None

    net = SimNetwork()
    net.add_middlebox(Spinner())
    with pytest.raises(LocalProtocolError, match="loop"):
        net.send(b"x", A, STUN, 0.0)


# -- outbound translation and mapping behaviour ------------------------------------------


def test_outbound_source_is_a_public_mapping() -> None:
    sim, nat, host, public = _one_nat(PORT_RESTRICTED)
    seen = _mapped_source(sim, nat, host, public)
    low, high = PORT_RESTRICTED.ports
    assert low <= seen[1] <= high
    [mapping] = nat.mappings(sim.now)
    assert mapping.internal == A and mapping.external == seen
    assert mapping.remotes == (STUN,)
    assert mapping.last_outbound == 0.0 and mapping.expires == 120.0
    assert nat.translated_out == 1
    # the wire carries the public source: link stats and trace use it
    assert sim.network.stats(seen, STUN).delivered == 1
    assert sim.network.stats(A, STUN).sent == 0
    assert sim.network.trace[-1].src == seen


@pytest.mark.parametrize("name", ["full-cone", "restricted", "port-restricted"])
def test_cone_nats_reuse_one_mapping_for_every_destination(name: str) -> None:
    sim, nat, host, public = _one_nat(PRESETS[name])
    for dst in (STUN, STUN_OTHER_PORT, OTHER_HOST, STUN):
        _send(sim, host, b"x", dst)
    sources = {addr for node in public.values() for addr in node.sources()}
    assert len(sources) == 1
    [mapping] = nat.mappings(sim.now)
    assert mapping.remotes == (STUN, STUN_OTHER_PORT, OTHER_HOST)


def test_symmetric_nat_makes_a_new_port_per_destination() -> None:
    sim, nat, host, public = _one_nat(SYMMETRIC)
    for dst in (STUN, STUN_OTHER_PORT, OTHER_HOST, STUN, OTHER_HOST):
        _send(sim, host, b"x", dst)
    per_destination = {dst: set(node.sources()) for dst, node in public.items()}
    assert all(len(sources) == 1 for sources in per_destination.values())  # reused per dst
    ports = {next(iter(s))[1] for s in per_destination.values()}
    assert len(ports) == 3
    assert [m.remotes for m in nat.mappings(sim.now)] == [
        (STUN,),
        (STUN_OTHER_PORT,),
        (OTHER_HOST,),
    ]


def test_address_dependent_mapping_shares_a_port_per_remote_host() -> None:
    behaviour = NatBehaviour(
        MappingBehaviour.ADDRESS_DEPENDENT, FilteringBehaviour.ADDRESS_DEPENDENT
    )
    sim, _, host, public = _one_nat(behaviour)
    for dst in (STUN, STUN_OTHER_PORT, OTHER_HOST):
        _send(sim, host, b"x", dst)
    assert public[STUN].sources() == public[STUN_OTHER_PORT].sources()
    assert public[STUN].sources() != public[OTHER_HOST].sources()


def test_inside_hosts_get_their_own_mappings_and_talk_directly() -> None:
    sim, nat, host, public = _one_nat(FULL_CONE)
    neighbour = Host()
    sim.attach(A2, neighbour)
    _send(sim, host, b"x", STUN)
    _send(sim, neighbour, b"y", STUN)
    first, second = public[STUN].sources()
    assert first[0] == second[0] == NAT_A and first[1] != second[1]
    _send(sim, host, b"lan", A2)  # same realm: no translation
    assert neighbour.received[-1][1:] == (b"lan", A)
    assert len(nat.mappings(sim.now)) == 2


# -- inbound filtering -------------------------------------------------------------------

#: Which senders get through to a mapping made by sending to STUN:
#: STUN itself, the same host from another port, another host.
FILTER_TABLE = {
    "full-cone": (True, True, True),
    "restricted": (True, True, False),
    "port-restricted": (True, False, False),
    "symmetric": (True, False, False),
}


@pytest.mark.parametrize("name", FILTER_TABLE)
def test_inbound_filtering(name: str) -> None:
    sim, nat, host, public = _one_nat(PRESETS[name])
    mapped = _mapped_source(sim, nat, host, public)
    for sender in (STUN, STUN_OTHER_PORT, OTHER_HOST):
        _send(sim, public[sender], b"from %d" % sender[1], mapped)
    got = set(host.sources())
    expected = FILTER_TABLE[name]
    assert (STUN in got, STUN_OTHER_PORT in got, OTHER_HOST in got) == expected
    refused = expected.count(False)
    assert nat.dropped == ({DropReason.FILTERED: refused} if refused else {})
    assert nat.forwarded_in == expected.count(True)
    # what a NAT refuses the network counts as unroutable on the wire's link
    if not expected[2]:
        assert sim.network.stats(OTHER_HOST, mapped).unroutable == 1


def test_a_delivery_through_a_nat_is_traced_at_the_inside_address() -> None:
    sim, nat, host, public = _one_nat(FULL_CONE)
    mapped = _mapped_source(sim, nat, host, public)
    _send(sim, public[OTHER_HOST], b"hi", mapped)
    entry = sim.network.trace[-1]
    assert (entry.src, entry.dst, entry.data) == (OTHER_HOST, A, b"hi")
    assert sim.network.stats(OTHER_HOST, mapped).delivered == 1


@pytest.mark.parametrize("name", PRESETS)
def test_inbound_to_a_port_without_mapping_is_dropped(name: str) -> None:
    sim, nat, host, public = _one_nat(PRESETS[name])
    mapped = _mapped_source(sim, nat, host, public)
    other_port = (NAT_A, mapped[1] + 1 if mapped[1] < 65535 else mapped[1] - 1)
    _send(sim, public[STUN], b"x", other_port)
    assert host.received == []
    assert nat.dropped == {DropReason.NO_MAPPING: 1}


def test_private_addresses_are_not_routed_from_outside() -> None:
    sim, nat, host, public = _one_nat(FULL_CONE)
    _send(sim, public[STUN], b"direct", A)
    assert host.received == []
    assert nat.dropped == {DropReason.PRIVATE_DESTINATION: 1}
    assert sim.network.stats(STUN, A).unroutable == 1


def test_an_attached_node_wins_over_the_nat() -> None:
    """A node attached on the public host (a forwarded port, the box's own service)."""
    sim, nat, _, public = _one_nat(PORT_RESTRICTED)
    service = Host()
    sim.attach((NAT_A, 80), service)
    _send(sim, public[OTHER_HOST], b"GET", (NAT_A, 80))
    assert service.sources() == [OTHER_HOST]
    assert nat.dropped == {}


# -- expiry -------------------------------------------------------------------------------


def test_mapping_expires_after_its_lifetime_without_outbound_traffic() -> None:
    sim, nat, host, public = _one_nat(replace(PORT_RESTRICTED, mapping_lifetime=30.0), delay=0.01)
    mapped = _mapped_source(sim, nat, host, public)  # leaves at t=0
    for at in (10.0, 20.0, 29.98):  # inbound traffic does not refresh
        sim.run_until(lambda: False, deadline=at)
        _send(sim, public[STUN], b"in", mapped)
    assert len(host.received) == 3  # the last arrived at 29.99 < 30
    sim.run_until(lambda: False, deadline=29.995)
    _send(sim, public[STUN], b"late", mapped)  # arrives at 30.005: gone
    assert len(host.received) == 3
    assert nat.dropped == {DropReason.NO_MAPPING: 1}
    assert nat.mappings(sim.now) == []
    # a new outbound datagram makes a new mapping (the old one was freed)
    again = _mapped_source(sim, nat, host, public)
    [mapping] = nat.mappings(sim.now)
    assert mapping.external == again and mapping.expires == pytest.approx(sim.now - 0.01 + 30.0)


def test_outbound_traffic_refreshes_the_mapping() -> None:
    sim, nat, host, public = _one_nat(replace(FULL_CONE, mapping_lifetime=30.0))
    mapped = _mapped_source(sim, nat, host, public)
    for at in (25.0, 50.0, 75.0):
        sim.run_until(lambda: False, deadline=at)
        _send(sim, host, b"keepalive", OTHER_HOST)  # any destination refreshes an EIM mapping
    assert _mapped_source(sim, nat, host, public) == mapped
    sim.run_until(lambda: False, deadline=100.0)
    _send(sim, public[STUN_OTHER_PORT], b"in", mapped)
    assert host.sources() == [STUN_OTHER_PORT]


def test_each_session_expires_on_its_own() -> None:
    """Port-restricted: the permission for STUN lapses while the mapping lives on."""
    sim, nat, host, public = _one_nat(replace(PORT_RESTRICTED, mapping_lifetime=30.0))
    mapped = _mapped_source(sim, nat, host, public)
    sim.run_until(lambda: False, deadline=20.0)
    _send(sim, host, b"x", OTHER_HOST)
    sim.run_until(lambda: False, deadline=40.0)
    _send(sim, public[STUN], b"too late", mapped)
    _send(sim, public[OTHER_HOST], b"fine", mapped)
    assert host.sources() == [OTHER_HOST]
    assert nat.dropped == {DropReason.FILTERED: 1}
    [mapping] = nat.mappings(sim.now)
    assert mapping.remotes == (OTHER_HOST,) and mapping.external == mapped


def test_reset_forgets_every_mapping() -> None:
    sim, nat, host, public = _one_nat(FULL_CONE)
    mapped = _mapped_source(sim, nat, host, public)
    nat.reset()
    assert nat.mappings(sim.now) == []
    _send(sim, public[STUN], b"x", mapped)
    assert host.received == [] and nat.dropped == {DropReason.NO_MAPPING: 1}


# -- ports ----------------------------------------------------------------------------------


def test_ports_come_from_the_seed() -> None:
    def ports(seed: int, public_host: str = NAT_A) -> list[int]:
        nat = Nat(public_host, "10.0.1.0/24", SYMMETRIC, seed=seed)
        out = [nat.outbound(b"", A, ("198.51.100.1", p), 0.0) for p in range(1, 20)]
        return [addr[1] for addr in out if addr is not None]

    assert ports(1) == ports(1)
    assert len(set(ports(1))) == 19
    assert ports(1) != ports(2)
    assert ports(1) != ports(1, NAT_B)  # two NATs on one network differ


def test_a_full_port_range_drops_new_mappings_until_one_expires() -> None:
    nat = Nat(NAT_A, "10.0.1.0/24", replace(SYMMETRIC, ports=(40000, 40003)), mapping_lifetime=10)
    remotes = [("198.51.100.1", p) for p in range(1, 6)]
    got = [nat.outbound(b"", A, r, 0.0) for r in remotes]
    assert sorted(a[1] for a in got[:4] if a is not None) == [40000, 40001, 40002, 40003]
    assert got[4] is None
    assert nat.dropped == {DropReason.PORTS_EXHAUSTED: 1}
    assert nat.outbound(b"", A, remotes[0], 5.0) == got[0]  # an existing mapping still works
    fresh = nat.outbound(b"", A, remotes[4], 10.0)  # the other three expired at t=10
    assert fresh is not None and fresh[1] in range(40000, 40004) and fresh != got[0]


# -- hairpinning -------------------------------------------------------------------------


def _two_inside(behaviour: NatBehaviour) -> tuple[Simulation, Nat, Peer, Peer]:
    net = SimNetwork(3, delay=0.01)
    nat = Nat(NAT_A, "10.0.1.0/24", behaviour)
    net.add_middlebox(nat)
    sim = Simulation(network=net)
    sim.attach(STUN, StunLike())
    one, two = Peer(STUN), Peer(STUN)
    sim.attach(A, one)
    sim.attach(A2, two)
    assert sim.run_until(lambda: one.mapped is not None and two.mapped is not None, deadline=1)
    return sim, nat, one, two


def test_hairpinning_is_off_by_default() -> None:
    sim, nat, one, two = _two_inside(FULL_CONE)
    assert two.mapped is not None
    one.punch(two.mapped, sim.now, count=1)
    sim.run_until_idle()
    assert two.heard == []
    assert nat.dropped == {DropReason.HAIRPIN: 1}


def test_hairpinning_delivers_with_the_senders_public_address() -> None:
    sim, nat, one, two = _two_inside(replace(FULL_CONE, hairpinning=True))
    assert one.mapped is not None and two.mapped is not None
    one.punch(two.mapped, sim.now, count=1)
    sim.run_until_idle()
    assert two.heard == [(b"punch", one.mapped)]  # RFC 4787 REQ-9: the external source
    assert one.heard == [(b"ack", two.mapped)]
    assert nat.dropped == {}


def test_hairpinning_still_filters() -> None:
    sim, nat, one, two = _two_inside(replace(PORT_RESTRICTED, hairpinning=True))
    assert one.mapped is not None and two.mapped is not None
    one.punch(two.mapped, sim.now, count=1)
    sim.run_until_idle()
    assert two.heard == [] and nat.dropped == {DropReason.FILTERED: 1}
    two.punch(one.mapped, sim.now, count=1)  # two opens its side; one's mapping now knows two
    sim.run_until_idle()
    assert one.heard == [(b"punch", two.mapped)] and two.heard == [(b"ack", one.mapped)]


# -- two NATs: hole punching ----------------------------------------------------------------

#: The pairs no punching gets through: the symmetric side's new port meets a
#: filter that admits only the port learnt from the server.
IMPOSSIBLE = {frozenset({"symmetric", "port-restricted"}), frozenset({"symmetric"})}


def _punch(
    name_a: str, name_b: str, *, seed: int = 5, loss: float = 0.0
) -> tuple[Peer, Peer, Nat, Nat]:
    net = SimNetwork(seed, delay=0.02, jitter=0.01, loss=loss)
    nat_a = Nat(NAT_A, "10.0.1.0/24", PRESETS[name_a], seed=seed)
    nat_b = Nat(NAT_B, "10.0.2.0/24", PRESETS[name_b], seed=seed)
    net.add_middlebox(nat_a)
    net.add_middlebox(nat_b)
    sim = Simulation(network=net)
    sim.attach(STUN, StunLike())
    alice, bob = Peer(STUN), Peer(STUN)
    sim.attach(A, alice)
    sim.attach(B, bob)
    assert sim.run_until(lambda: alice.mapped is not None and bob.mapped is not None, deadline=10)
    assert alice.mapped is not None and bob.mapped is not None
    assert alice.mapped[0] == NAT_A and bob.mapped[0] == NAT_B
    alice.punch(bob.mapped, sim.now, count=20)  # the addresses came through signalling
    bob.punch(alice.mapped, sim.now, count=20)
    sim.run_for(3.0)
    return alice, bob, nat_a, nat_b


@pytest.mark.parametrize(("name_a", "name_b"), list(itertools.product(PRESETS, PRESETS)))
def test_hole_punching_matrix(name_a: str, name_b: str) -> None:
    alice, bob, nat_a, nat_b = _punch(name_a, name_b)
    connected = bool(alice.heard) and bool(bob.heard)
    assert connected == (frozenset({name_a, name_b}) not in IMPOSSIBLE)
    if connected:
        assert {addr[0] for _, addr in alice.heard} == {NAT_B}
        assert {addr[0] for _, addr in bob.heard} == {NAT_A}
    else:
        assert (
            nat_a.dropped.get(DropReason.FILTERED, 0) + nat_b.dropped.get(DropReason.FILTERED, 0)
            >= 20
        )


def test_symmetric_side_is_heard_from_a_port_the_server_never_saw() -> None:
    alice, bob, _, _ = _punch("symmetric", "full-cone")
    assert {addr for _, addr in bob.heard} != {alice.mapped}  # a peer-reflexive address
    assert all(data == b"ack" for data, _ in alice.heard)  # bob's punches to the STUN port died


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cone_punching_survives_a_lossy_path(seed: int) -> None:
    alice, bob, _, _ = _punch("port-restricted", "restricted", seed=seed, loss=0.3)
    assert alice.heard and bob.heard


def test_the_same_seed_punches_the_same_way() -> None:
    first = _punch("restricted", "symmetric", seed=9, loss=0.2)
    second = _punch("restricted", "symmetric", seed=9, loss=0.2)
    assert [p.received for p in first[:2]] == [p.received for p in second[:2]]


def test_cross_realm_private_addresses_are_unreachable() -> None:
    """A host candidate of another realm (ICE will try it) goes nowhere."""
    net = SimNetwork(1)
    nat_a, nat_b = Nat(NAT_A, "10.0.1.0/24", FULL_CONE), Nat(NAT_B, "10.0.2.0/24", FULL_CONE)
    net.add_middlebox(nat_a)
    net.add_middlebox(nat_b)
    sim = Simulation(network=net)
    alice, bob = Host(), Host()
    sim.attach(A, alice)
    sim.attach(B, bob)
    _send(sim, alice, b"host candidate", B)
    assert bob.received == []
    assert nat_b.dropped == {DropReason.PRIVATE_DESTINATION: 1}
    assert len(nat_a.mappings(sim.now)) == 1  # alice's NAT translated it before it died


def test_double_nat() -> None:
    """A home NAT inside a carrier-grade NAT: the server sees the outer public address."""
    net = SimNetwork(4, delay=0.01)
    home = Nat("100.64.0.2", "192.168.1.0/24", PORT_RESTRICTED)
    carrier = Nat(NAT_A, "100.64.0.0/10", SYMMETRIC)
    net.add_middlebox(carrier)
    net.add_middlebox(home)
    sim = Simulation(network=net)
    server = StunLike()
    sim.attach(STUN, server)
    phone = Peer(STUN)
    sim.attach(("192.168.1.10", 5060), phone)
    assert sim.run_until(lambda: phone.mapped is not None, deadline=1.0)
    assert phone.mapped is not None and phone.mapped[0] == NAT_A
    [inner] = home.mappings(sim.now)
    [outer] = carrier.mappings(sim.now)
    assert inner.internal == ("192.168.1.10", 5060) and outer.internal == inner.external
    assert outer.external == phone.mapped


# -- properties ----------------------------------------------------------------------------

INSIDE = [("10.0.1.2", 5000), ("10.0.1.3", 6000)]
REMOTES = [
    ("198.51.100.1", 3478),
    ("198.51.100.1", 3479),
    ("198.51.100.2", 3478),
    ("198.51.100.3", 9),
]

nat_events = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.5, 3.0, 7.0, 10.0]),  # time since the previous event
        st.booleans(),  # outbound (True) or inbound
        st.sampled_from(INSIDE),
        st.sampled_from(REMOTES),
        st.integers(0, 7),  # which known public port an inbound datagram targets
    ),
    max_size=60,
)


def _filter_admits(filtering: FilteringBehaviour, contacted: Address, src: Address) -> bool:
    if filtering is FilteringBehaviour.ENDPOINT_INDEPENDENT:
        return True
    if filtering is FilteringBehaviour.ADDRESS_DEPENDENT:
        return contacted[0] == src[0]
    return contacted == src


def _mapping_key(mapping: MappingBehaviour, internal: Address, remote: Address) -> object:
    if mapping is MappingBehaviour.ENDPOINT_INDEPENDENT:
        return internal
    if mapping is MappingBehaviour.ADDRESS_DEPENDENT:
        return (internal, remote[0])
    return (internal, remote)


@settings(max_examples=examples(150))
@given(
    mapping=st.sampled_from(MappingBehaviour),
    filtering=st.sampled_from(FilteringBehaviour),
    lifetime=st.sampled_from([5.0, 12.0]),
    events=nat_events,
)
def test_nat_matches_the_rfc4787_model(
    mapping: MappingBehaviour,
    filtering: FilteringBehaviour,
    lifetime: float,
    events: list[tuple[float, bool, Address, Address, int]],
) -> None:
    """Every decision equals a from-scratch model over the log of outbound datagrams."""
    nat = Nat(NAT_A, "10.0.1.0/24", NatBehaviour(mapping, filtering), mapping_lifetime=lifetime)
    log: list[tuple[float, Address, Address, int]] = []  # time, internal, remote, public port
    ports_seen: list[int] = [1]
    now = 0.0
    drops = {DropReason.NO_MAPPING: 0, DropReason.FILTERED: 0}
    for gap, outbound, internal, remote, pick in events:
        now += gap
        alive = [entry for entry in log if entry[0] + lifetime > now]
        if outbound:
            key = _mapping_key(mapping, internal, remote)
            same = [e for e in alive if _mapping_key(mapping, e[1], e[2]) == key]
            got = nat.outbound(b"", internal, remote, now)
            assert got is not None and got[0] == NAT_A
            if same:
                assert got[1] == same[0][3]  # the live mapping is reused
            else:
                assert got[1] not in {e[3] for e in alive}  # a fresh port
            log.append((now, internal, remote, got[1]))
            ports_seen.append(got[1])
        else:
            port = ports_seen[pick % len(ports_seen)]
            on_port = [e for e in alive if e[3] == port]
            admitted = [e for e in on_port if _filter_admits(filtering, e[2], remote)]
            got = nat.inbound(b"", remote, (NAT_A, port), now)
            if admitted:
                assert got == admitted[0][1]
            else:
                assert got is None
                drops[DropReason.FILTERED if on_port else DropReason.NO_MAPPING] += 1
        live_ports = {e[3] for e in log if e[0] + lifetime > now}
        assert {m.external[1] for m in nat.mappings(now)} == live_ports
    assert nat.dropped == {reason: n for reason, n in drops.items() if n}


NEVER_CONTACTED = [("198.51.100.1", 4000), ("198.51.100.9", 3478), ("192.0.2.7", 3478)]


@settings(max_examples=examples(40))
@given(
    seed=st.integers(0, 2**16),
    outbound=st.lists(
        st.tuples(st.floats(0.0, 60.0), st.sampled_from(REMOTES[:3])), min_size=1, max_size=15
    ),
    probes=st.lists(st.lists(st.floats(0.0, 60.0), max_size=8), min_size=6, max_size=6),
)
def test_port_restricted_never_lets_in_an_endpoint_never_contacted(
    seed: int, outbound: list[tuple[float, Address]], probes: list[list[float]]
) -> None:
    net = SimNetwork(seed, delay=0.02, jitter=0.03, loss=0.1)
    nat = Nat(NAT_A, "10.0.1.0/24", PORT_RESTRICTED, mapping_lifetime=10.0, seed=seed)
    net.add_middlebox(nat)
    sim = Simulation(network=net)
    schedule = sorted(outbound)
    host = Scheduled(schedule)
    sim.attach(A, host)

    def mapping_of_a(now: float) -> Address | None:
        live = nat.mappings(now)
        return live[0].external if live else None

    for addr, times in zip(REMOTES[:3] + NEVER_CONTACTED, probes, strict=True):
        sim.attach(addr, Prober(times, mapping_of_a))
    sim.run_for(75.0)
    contacted = {dst: [t for t, d in schedule if d == dst] for _, dst in schedule}
    for arrived, _, src in host.received:
        assert src in contacted  # never from an endpoint the host did not send to
        assert any(t <= arrived < t + 10.0 for t in contacted[src])  # and not after it lapsed
