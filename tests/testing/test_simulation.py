"""Simulation: event-to-event jumps, run_until/run_for, loop protection, determinism."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError
from sansip.testing import SimNetwork, Simulation, TraceEntry, VirtualClock
from sansip.transport.types import Address, Datagram
from tests.conftest import examples
from tests.testing.machines import EchoServer, PingClient, Sink, StrictTimer, StuckTimer

CLIENT = ("192.0.2.1", 5060)
SERVER = ("192.0.2.2", 5060)


def _ping_pair(network: SimNetwork, **client: float) -> tuple[Simulation, PingClient, EchoServer]:
    sim = Simulation(VirtualClock(), network)
    ping = PingClient(SERVER, sim.now, **client)
    echo = EchoServer()
    sim.attach(CLIENT, ping)
    sim.attach(SERVER, echo)
    return sim, ping, echo


def test_ping_pong_round_trip() -> None:
    sim, ping, echo = _ping_pair(SimNetwork(1, delay=0.03))
    assert sim.run_until(lambda: ping.pong_at is not None, deadline=10.0)
    assert sim.now == ping.pong_at == 0.03 + 0.03
    assert echo.received == [(0.03, b"ping", CLIENT)]
    assert ping.sent_at == [0.0]
    assert sim.steps == 2
    assert not sim.step()  # nothing left to do
    assert sim.next_event_time() is None


def test_run_until_jumps_straight_to_the_timers() -> None:
    sim, ping, echo = _ping_pair(SimNetwork(1, loss=1.0))
    assert not sim.run_until(lambda: ping.pong_at is not None, deadline=4.0)
    assert ping.sent_at == [0.0, 0.5, 1.5, 3.5]
    assert ping.timer_calls == [0.5, 1.5, 3.5]
    assert sim.steps == 3
    assert sim.now == 4.0  # a failed run ends at its deadline
    assert echo.received == []
    assert sim.next_event_time() == 7.5


def test_step_handles_one_instant() -> None:
    sim, ping, _ = _ping_pair(SimNetwork(1, loss=1.0))
    assert sim.step() and sim.now == 0.5
    assert sim.step() and sim.now == 1.5
    assert ping.sent_at == [0.0, 0.5, 1.5]


def test_run_until_edges() -> None:
    sim, ping, _ = _ping_pair(SimNetwork(1, delay=0.5))
    assert sim.run_until(lambda: True, deadline=100.0) and sim.now == 0.0
    assert not sim.run_until(lambda: False, deadline=0.5 - 1e-9)
    assert sim.now == 0.5 - 1e-9
    assert ping.pong_at is None
    assert sim.run_until(lambda: ping.pong_at is not None, deadline=1.0)  # inclusive
    assert sim.now == 1.0
    assert not sim.run_until(lambda: False, deadline=0.2)  # in the past: clock stays
    assert sim.now == 1.0
    assert not sim.run_until(lambda: False, deadline=math.inf)  # idle: returns at once
    with pytest.raises(LocalProtocolError):
        sim.run_until(lambda: False, deadline=math.nan)


def test_run_for_moves_the_clock_by_exactly_that_much() -> None:
    sim, ping, _ = _ping_pair(SimNetwork(1, loss=1.0))
    sim.run_for(2.0)
    assert sim.now == 2.0 and ping.sent_at == [0.0, 0.5, 1.5]
    sim.run_for(0.0)
    assert sim.now == 2.0
    with pytest.raises(LocalProtocolError):
        sim.run_for(-1.0)


def test_commands_between_runs_are_flushed() -> None:
    sim = Simulation(network=SimNetwork(1, delay=0.1))
    sink = Sink()
    sim.attach(SERVER, sink)
    sim.run_for(1.0)
    sim.attach(CLIENT, PingClient(SERVER, sim.now, interval=100.0))  # queued a ping at 1.0
    sim.run_for(1.0)
    assert sink.received == [(1.1, b"ping", CLIENT)]


class _Bouncer(EchoServer):
    """Echoes to a fixed peer, forever."""

    def __init__(self, peer: Address, start: bool) -> None:
        super().__init__()
        self._outbox = [(b"ball", peer)] if start else []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self._outbox.append((data, addr))


def test_max_steps_stops_a_zero_delay_livelock() -> None:
    sim = Simulation(network=SimNetwork(1, delay=0.0), max_steps=1000)
    sim.attach(CLIENT, _Bouncer(SERVER, start=True))
    sim.attach(SERVER, _Bouncer(CLIENT, start=False))
    with pytest.raises(LocalProtocolError, match="max_steps=1000"):
        sim.run_for(1.0)
    assert sim.now == 0.0
    with pytest.raises(LocalProtocolError, match="max_steps"):
        sim.step()


def test_a_stuck_timer_raises_instead_of_spinning() -> None:
    sim = Simulation(network=SimNetwork(), stall_limit=4)
    node = StuckTimer(1.0)
    sim.attach(CLIENT, node)
    with pytest.raises(LocalProtocolError, match="stuck"):
        sim.run_until(lambda: False, deadline=10.0)
    assert node.calls == 16
    assert 1.0 < sim.now < 1.0 + 1e-5  # only nudged by epsilon

    sim = Simulation(network=SimNetwork(), stall_limit=100, max_steps=50)
    sim.attach(CLIENT, StuckTimer(1.0))
    with pytest.raises(LocalProtocolError, match="max_steps=50"):
        sim.run_for(10.0)


def test_a_deadline_lost_to_rounding_recovers_after_epsilon() -> None:
    sim = Simulation(network=SimNetwork(), stall_limit=8, epsilon=1e-6)
    node = StrictTimer(1.0)
    sim.attach(CLIENT, node)
    assert sim.run_until(lambda: node.fired_at is not None, deadline=2.0)
    assert node.fired_at == sim.now == 1.0 + 1e-6
    assert node.calls == 9


class _Recorder:
    """Records every ``now`` it is given; its timer is set in the past once."""

    def __init__(self, timer: float) -> None:
        self.times: list[float] = []
        self._timer: float | None = timer

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.times.append(now)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        self.times.append(now)
        return []

    def get_timer(self) -> float | None:
        return self._timer

    def handle_timer(self, now: float) -> None:
        self.times.append(now)
        self._timer = None


def test_the_clock_never_goes_backwards() -> None:
    clock = VirtualClock(5.0)
    sim = Simulation(clock, SimNetwork(3, delay=0.05, jitter=0.2, duplicate=0.3, reorder=0.3))
    late = _Recorder(timer=1.0)  # overdue: fired at 5.0, not at 1.0
    sim.attach(("192.0.2.9", 1), late)
    ping = PingClient(SERVER, sim.now, interval=0.1)
    sim.attach(CLIENT, ping)
    sim.attach(SERVER, EchoServer())
    sim.run_for(3.0)
    assert late.times[0] == 5.0 and 5.0 in late.times
    assert late.times == sorted(late.times)
    assert ping.timer_calls == sorted(ping.timer_calls)
    assert [e.time for e in sim.network.trace] == sorted(e.time for e in sim.network.trace)
    assert sim.now == 8.0


def test_simulation_rejects_bad_configuration() -> None:
    with pytest.raises(LocalProtocolError):
        Simulation(max_steps=0)
    with pytest.raises(LocalProtocolError):
        Simulation(epsilon=0.0)
    assert "steps=0" in repr(Simulation())


network_params = st.fixed_dictionaries(
    {
        "delay": st.floats(0.0, 0.5),
        "jitter": st.floats(0.0, 0.5),
        "loss": st.floats(0.0, 0.8),
        "duplicate": st.floats(0.0, 1.0),
        "reorder": st.floats(0.0, 1.0),
    }
)


def _run_ping(seed: int, params: dict[str, float]) -> tuple[float | None, list[TraceEntry]]:
    network = SimNetwork(
        seed,
        delay=params["delay"],
        jitter=params["jitter"],
        loss=params["loss"],
        duplicate=params["duplicate"],
        reorder=params["reorder"],
    )
    sim, ping, _ = _ping_pair(network, interval=0.5, cap=2.0)
    sim.run_until(lambda: ping.pong_at is not None, deadline=3600.0)
    sim.run_for(1.0)  # let duplicates land too
    return ping.pong_at, sim.network.trace


@settings(max_examples=examples(40))
@given(seed=st.integers(0, 2**32), params=network_params)
def test_ping_eventually_gets_its_pong_and_runs_replay(seed: int, params: dict[str, float]) -> None:
    pong_at, trace = _run_ping(seed, params)
    assert pong_at is not None
    assert _run_ping(seed, params) == (pong_at, trace)
