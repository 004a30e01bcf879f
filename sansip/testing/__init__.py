"""Deterministic simulation of sans-IO machines: a virtual clock and an in-memory network.

Any object with the datagram machine shape (:class:`DatagramNode`:
``receive_datagram``, ``datagrams_to_send``, ``get_timer``, ``handle_timer``)
can be attached to a :class:`SimNetwork`. A :class:`Simulation` then jumps
from event to event on a :class:`VirtualClock`: no sockets, no sleeps, no
threads, and every random choice comes from ``random.Random(seed)``, so a run
is reproducible from its seed. Example::

    from sansip.testing import SimNetwork, Simulation, VirtualClock

    network = SimNetwork(seed=7, delay=0.02, jitter=0.01, loss=0.2)
    network.set_link("127.0.0.1", "127.0.0.3", loss=1.0)     # a dead path
    sim = Simulation(VirtualClock(), network)
    sim.attach(("127.0.0.1", 5060), alice)                   # your sans-IO machines
    sim.attach(("127.0.0.2", 5060), bob)
    alice.send_request(invite, sim.now)                      # a command between runs
    assert sim.run_until(lambda: alice.established, deadline=32.0)
    print(sim.now, network.stats(("127.0.0.1", 5060), ("127.0.0.2", 5060)))
    sim.run_for(5.0)                                         # let retransmissions settle

The same seed and the same commands give the same ``network.trace``; a
machine that loops (a timer that never moves on, zero-delay ping-pong) makes
the run raise :class:`~sansip.errors.LocalProtocolError` instead of hanging.

:mod:`sansip.testing.nat` puts NATs (full cone, restricted, port-restricted,
symmetric, or any RFC 4787 mix) in front of private hosts on such a network.
"""

from __future__ import annotations

from sansip.testing.clock import VirtualClock
from sansip.testing.nat import (
    FULL_CONE,
    PORT_RESTRICTED,
    RESTRICTED,
    SYMMETRIC,
    DropReason,
    FilteringBehaviour,
    MappingBehaviour,
    Nat,
    NatBehaviour,
    NatMapping,
)
from sansip.testing.network import (
    DatagramNode,
    HostOrAddress,
    LinkOverrides,
    LinkParams,
    LinkStats,
    Middlebox,
    SimNetwork,
    TraceEntry,
)
from sansip.testing.runner import Simulation

__all__ = [
    "FULL_CONE",
    "PORT_RESTRICTED",
    "RESTRICTED",
    "SYMMETRIC",
    "DatagramNode",
    "DropReason",
    "FilteringBehaviour",
    "HostOrAddress",
    "LinkOverrides",
    "LinkParams",
    "LinkStats",
    "MappingBehaviour",
    "Middlebox",
    "Nat",
    "NatBehaviour",
    "NatMapping",
    "SimNetwork",
    "Simulation",
    "TraceEntry",
    "VirtualClock",
]
