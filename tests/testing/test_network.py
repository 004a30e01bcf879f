"""SimNetwork: delay, jitter, loss, duplication, reordering, partitions, statistics."""

from __future__ import annotations

import math

import pytest

from sansip.errors import LocalProtocolError
from sansip.testing import DatagramNode, LinkParams, SimNetwork, Simulation, TraceEntry
from tests.testing.machines import Blaster, EchoServer, PingClient, Sink

A = ("10.0.0.1", 5060)
B = ("10.0.0.2", 5060)
C = ("10.0.0.3", 5070)


def _blast(network: SimNetwork, count: int, *, gap: float = 0.0) -> tuple[Simulation, Sink]:
    sim = Simulation(network=network)
    sink = Sink()
    sim.attach(A, Blaster([(i * gap, b"%d" % i, B) for i in range(count)]))
    sim.attach(B, sink)
    sim.run_until_idle()
    return sim, sink


def _within_sigmas(observed: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_test_machines_have_the_datagram_node_shape() -> None:
    for node in (PingClient(B, 0.0), EchoServer(), Sink(), Blaster([])):
        assert isinstance(node, DatagramNode)


def test_fixed_delay_gives_exact_delivery_times() -> None:
    sim, sink = _blast(SimNetwork(1, delay=0.05), 0)
    sim.attach(C, Blaster([(0.0, b"a", B), (0.1, b"b", B), (0.25, b"c", B)]))
    sim.run_until_idle()
    assert sink.received == [
        (0.0 + 0.05, b"a", C),
        (0.1 + 0.05, b"b", C),
        (0.25 + 0.05, b"c", C),
    ]
    trace = sim.network.trace
    assert [e.time - e.sent_at for e in trace] == pytest.approx([0.05] * 3)
    assert [e.time for e in trace] == [0.05, 0.1 + 0.05, 0.25 + 0.05]
    assert sim.network.stats(C, B).delivered == 3


def test_same_arrival_time_keeps_sending_order() -> None:
    _, sink = _blast(SimNetwork(1, delay=0.02), 50)
    assert [data for _, data, _ in sink.received] == [b"%d" % i for i in range(50)]
    assert {t for t, _, _ in sink.received} == {0.02}


def test_jitter_is_bounded_and_reproducible() -> None:
    def run(seed: int) -> list[TraceEntry]:
        sim, sink = _blast(SimNetwork(seed, delay=0.1, jitter=0.05), 500, gap=0.001)
        assert len(sink.received) == 500
        return sim.network.trace

    trace = run(42)
    latencies = [e.time - e.sent_at for e in trace]
    assert all(0.1 <= lat < 0.15 + 1e-12 for lat in latencies)
    assert max(latencies) - min(latencies) > 0.04  # the draws spread over the range
    assert run(42) == trace
    assert run(43) != trace


def test_total_loss_delivers_nothing() -> None:
    sim, sink = _blast(SimNetwork(3, loss=1.0), 200)
    assert sink.received == []
    stats = sim.network.stats(A, B)
    assert (stats.sent, stats.lost, stats.delivered, stats.dropped) == (200, 200, 0, 200)
    assert sim.network.trace == []


def test_partial_loss_is_binomial_and_deterministic() -> None:
    network = SimNetwork(2024, loss=0.3)
    network.attach(B, Sink())
    for _ in range(10_000):
        network.send(b"x", A, B, 0.0)
    lost = network.stats(A, B).lost
    assert _within_sigmas(lost, 10_000, 0.3)
    again = SimNetwork(2024, loss=0.3)
    again.attach(B, Sink())
    for _ in range(10_000):
        again.send(b"x", A, B, 0.0)
    assert again.stats(A, B).lost == lost
    assert network.in_flight == 10_000 - lost


def test_duplication_is_observed_and_counted() -> None:
    sim, sink = _blast(SimNetwork(5, duplicate=1.0), 100)
    assert len(sink.received) == 200
    stats = sim.network.stats(A, B)
    assert (stats.sent, stats.duplicated, stats.delivered) == (100, 100, 200)
    assert sum(e.duplicate for e in sim.network.trace) == 100

    sim, sink = _blast(SimNetwork(6, duplicate=0.25, jitter=0.01), 4000)
    stats = sim.network.stats(A, B)
    assert _within_sigmas(stats.duplicated, 4000, 0.25)
    assert len(sink.received) == stats.delivered == 4000 + stats.duplicated


def test_reordering_is_observed_and_counted() -> None:
    _, sink = _blast(SimNetwork(9, delay=0.01), 300, gap=0.001)
    assert [int(d) for _, d, _ in sink.received] == list(range(300))

    sim, sink = _blast(SimNetwork(9, delay=0.01, reorder=0.2), 1000, gap=0.001)
    order = [int(d) for _, d, _ in sink.received]
    assert sorted(order) == list(range(1000))
    overtaken = sum(1 for i, n in enumerate(order) if any(m > n for m in order[max(0, i - 30) : i]))
    reordered = sim.network.stats(A, B).reordered
    assert _within_sigmas(reordered, 1000, 0.2)
    assert reordered - 10 <= overtaken <= reordered  # only the last few have no one to pass


def test_reorder_delay_is_the_hold_back() -> None:
    assert LinkParams(delay=0.02, jitter=0.01).hold_back == pytest.approx(0.03)
    assert LinkParams(delay=0.0).hold_back == 0.001
    _, sink = _blast(SimNetwork(1, delay=0.01, reorder=1.0, reorder_delay=0.5), 3)
    assert [t for t, _, _ in sink.received] == [0.51] * 3


def test_mtu_drops_oversized_datagrams() -> None:
    sim = Simulation(network=SimNetwork(1, mtu=4))
    sink = Sink()
    sim.attach(A, Blaster([(0.0, b"1234", B), (0.0, b"12345", B)]))
    sim.attach(B, sink)
    sim.run_until_idle()
    assert [d for _, d, _ in sink.received] == [b"1234"]
    assert sim.network.stats(A, B).oversized == 1


def test_unknown_and_detached_destinations_are_dropped_and_counted() -> None:
    sim = Simulation(network=SimNetwork(1, delay=1.0))
    sim.attach(A, Blaster([(0.0, b"x", C), (0.0, b"y", B)]))
    sim.attach(B, Sink())
    sim.run_for(0.5)
    assert sim.network.unroutable == 1  # C was never attached
    sim.network.detach(B)  # y is in flight
    sim.run_until_idle()
    assert sim.network.unroutable == 2
    assert sim.network.stats(A, B).unroutable == 1
    assert sim.network.total.dropped == 2
    with pytest.raises(LocalProtocolError):
        sim.network.detach(B)


def test_partition_drops_both_ways_until_healed() -> None:
    network = SimNetwork(1, delay=0.01)
    sim = Simulation(network=network)
    client = PingClient(B, 0.0, interval=0.5, cap=0.5)
    server = EchoServer()
    sim.attach(A, client)
    sim.attach(B, server)
    network.partition(["10.0.0.1"], [B])
    assert network.partitioned(A, B) and network.partitioned(B, A)
    assert not sim.run_until(lambda: client.pong_at is not None, deadline=3.0)
    network.send(b"hello", B, A, sim.now)  # the other way is cut too
    assert server.received == []
    assert network.stats(A, B).partitioned == len(client.sent_at) == 7  # 0, 0.5, ..., 3.0
    assert network.stats(B, A).partitioned == 1
    network.heal()
    assert sim.run_until(lambda: client.pong_at is not None, deadline=10.0)
    assert client.pong_at == pytest.approx(3.5 + 0.02)


def test_attach_rejects_reuse() -> None:
    network = SimNetwork()
    node = Sink()
    network.attach(A, node)
    with pytest.raises(LocalProtocolError):
        network.attach(A, Sink())
    with pytest.raises(LocalProtocolError):
        network.attach(B, node)
    assert list(network.nodes) == [A]


def test_link_overrides_by_specificity_and_direction() -> None:
    network = SimNetwork(delay=0.01, loss=0.1)
    network.set_link("10.0.0.1", "10.0.0.2", delay=0.1)
    network.set_link(A, B, both_ways=False, loss=0.5)
    assert network.link(A, B) == LinkParams(delay=0.1, loss=0.5)
    assert network.link(B, A) == LinkParams(delay=0.1, loss=0.1)
    assert network.link(("10.0.0.1", 1), ("10.0.0.2", 2)).delay == 0.1
    assert network.link(A, C) == network.default
    network.set_link("10.0.0.1", "10.0.0.2", delay=0.3)  # later host rule beats earlier one
    assert network.link(A, B) == LinkParams(delay=0.3, loss=0.5)
    network.reset_links()
    assert network.link(A, B) == network.default


@pytest.mark.parametrize(
    "params",
    [{"loss": 1.5}, {"duplicate": -0.1}, {"delay": -1.0}, {"jitter": math.inf}, {"mtu": 0}],
)
def test_invalid_link_parameters_are_rejected(params: dict[str, float]) -> None:
    with pytest.raises(LocalProtocolError):
        SimNetwork(**params)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        SimNetwork().set_link(A, B, **params)  # type: ignore[arg-type]


def test_trace_is_bounded_and_optional() -> None:
    sim, _ = _blast(SimNetwork(1, trace=5), 20)
    assert [e.data for e in sim.network.trace] == [b"%d" % i for i in range(15, 20)]
    sim.network.clear_trace()
    assert sim.network.trace == []
    sim, sink = _blast(SimNetwork(1, trace=0), 20)
    assert sim.network.trace == [] and len(sink.received) == 20
    with pytest.raises(LocalProtocolError):
        SimNetwork(trace=-1)
