"""The simulation loop: jump from event to event on a virtual clock, never sleep."""

from __future__ import annotations

import math
from collections.abc import Callable

from sansip.errors import LocalProtocolError
from sansip.testing.clock import VirtualClock
from sansip.testing.network import DatagramNode, SimNetwork
from sansip.transport.types import Address

__all__ = ["Simulation"]


class Simulation:
    """Runs every node of a :class:`SimNetwork` on a :class:`VirtualClock`.

    Each *step* jumps the clock to the earliest pending event (a datagram
    arrival or a node's ``get_timer()``) and handles everything due at that
    instant: due datagrams first (arrival order), then due timers (attach
    order), repeatedly, since handling one input may make more due. After
    every input, the outbox of every node is collected and sent.

    Guards against machines that would spin a real driver forever:

    - a node whose ``get_timer()`` stays ``<= now`` after ``handle_timer(now)``
      with no output is retried ``stall_limit`` times, then deferred by
      ``epsilon`` seconds (a deadline lost to float rounding recovers); after
      ``stall_limit`` such deferrals without progress, the run raises
      :class:`~sansip.errors.LocalProtocolError`;
    - one call to :meth:`step`, :meth:`run_until` or :meth:`run_for` handles at
      most ``max_steps`` inputs, then raises
      :class:`~sansip.errors.LocalProtocolError` (e.g. two zero-delay nodes
      bouncing a datagram forever).

    Exceptions raised by a node propagate unchanged.
    """

    def __init__(
        self,
        clock: VirtualClock | None = None,
        network: SimNetwork | None = None,
        *,
        max_steps: int = 1_000_000,
        stall_limit: int = 8,
        epsilon: float = 1e-6,
    ) -> None:
        if max_steps < 1 or stall_limit < 1:
            raise LocalProtocolError("max_steps and stall_limit must be at least 1")
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise LocalProtocolError(f"epsilon must be a positive number, not {epsilon!r}")
        self.clock = clock if clock is not None else VirtualClock()
        self.network = network if network is not None else SimNetwork()
        self.max_steps = max_steps
        self.stall_limit = stall_limit
        self.epsilon = epsilon
        #: Inputs (deliveries and timer calls) handled since the simulation began.
        self.steps = 0
        self._budget = max_steps
        self._stuck: dict[Address, int] = {}
        self._defer: dict[Address, float] = {}

    @property
    def now(self) -> float:
        """The current simulated time (the clock's)."""
        return self.clock.now

    def attach(self, address: Address, node: DatagramNode) -> None:
        """Attach ``node`` to the network at ``address`` (see :meth:`SimNetwork.attach`)."""
        self.network.attach(address, node)

    def flush(self) -> int:
        """Collect and send every node's outbox now; return how many datagrams left.

        Call it after commanding a node between runs; every run also starts with it.
        """
        return sum(self._collect().values())

    def next_event_time(self) -> float | None:
        """When the next step would happen (never before ``now``), or None if idle."""
        times = [self._timer_of(address, node) for address, node in self.network.nodes.items()]
        times.append(self.network.next_arrival())
        pending = [t for t in times if t is not None]
        return max(min(pending), self.now) if pending else None

    def step(self) -> bool:
        """Jump to the next event and handle everything due then; False if idle."""
        self._begin()
        t = self.next_event_time()
        if t is None:
            return False
        self.clock.advance_to(t)
        self._run_instant(None)
        return True

    def run_until(self, predicate: Callable[[], bool], *, deadline: float) -> bool:
        """Run until ``predicate()`` is true or the absolute time ``deadline`` passes.

        The predicate is checked before running and after every input, so the
        clock stops at the instant it became true. Returns True if it did;
        otherwise returns False with the clock at ``deadline`` (if finite and
        not in the past). Events exactly at ``deadline`` are handled.
        """
        if math.isnan(deadline):
            raise LocalProtocolError("deadline must be a number, not NaN")
        self._begin()
        if predicate():
            return True
        while True:
            t = self.next_event_time()
            if t is None or t > deadline:
                if math.isfinite(deadline) and deadline > self.now:
                    self.clock.advance_to(deadline)
                return False
            self.clock.advance_to(t)
            if self._run_instant(predicate):
                return True

    def run_for(self, seconds: float) -> None:
        """Run every event of the next ``seconds`` seconds; the clock ends ``seconds`` later."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise LocalProtocolError(f"cannot run for {seconds!r} seconds")
        self.run_until(lambda: False, deadline=self.now + seconds)

    def run_until_idle(self, *, deadline: float = math.inf) -> bool:
        """Run until no datagram is in flight and no node has a timer; True if that happened."""
        return self.run_until(lambda: self.next_event_time() is None, deadline=deadline)

    # -- internals ----------------------------------------------------------------

    def _begin(self) -> None:
        self._budget = self.max_steps
        self.flush()

    def _timer_of(self, address: Address, node: DatagramNode) -> float | None:
        t = node.get_timer()
        if t is None:
            return None
        return max(t, self._defer.get(address, t))

    def _collect(self) -> dict[Address, int]:
        now = self.now
        counts: dict[Address, int] = {}
        for address, node in self.network.nodes.items():
            out = node.datagrams_to_send(now)
            for data, dst in out:
                self.network.send(data, address, dst, now)
            counts[address] = len(out)
        return counts

    def _spend(self, what: str) -> None:
        self.steps += 1
        self._budget -= 1
        if self._budget < 0:
            raise LocalProtocolError(
                f"simulation exceeded max_steps={self.max_steps} inputs in one run at "
                f"t={self.now!r} (last: {what}); a machine is looping, e.g. a timer that "
                "never moves on or datagrams bounced forever with zero delay"
            )

    def _run_instant(self, predicate: Callable[[], bool] | None) -> bool:
        """Handle all inputs due now; stop early (True) once ``predicate()`` holds."""
        now = self.now
        while True:
            entry = self.network.deliver_next(now)
            if entry is not None:
                self._spend(f"datagram {entry.src!r} -> {entry.dst!r}")
                self._collect()
            elif not self._fire_one_timer(now):
                return False
            if predicate is not None and predicate():
                return True

    def _fire_one_timer(self, now: float) -> bool:
        for address, node in self.network.nodes.items():
            t = self._timer_of(address, node)
            if t is None or t > now:
                continue
            before = node.get_timer()
            self._spend(f"timer of node at {address!r}, deadline {before!r}")
            node.handle_timer(now)
            sent = self._collect().get(address, 0)
            after = node.get_timer()
            if sent or after is None or after > now or after != before:
                self._stuck.pop(address, None)
                self._defer.pop(address, None)
            else:
                self._note_stall(address, node, after, now)
            return True
        return False

    def _note_stall(self, address: Address, node: DatagramNode, timer: float, now: float) -> None:
        stuck = self._stuck.get(address, 0) + 1
        self._stuck[address] = stuck
        if stuck >= self.stall_limit * self.stall_limit:
            raise LocalProtocolError(
                f"node {node!r} at {address!r} is stuck: get_timer() keeps returning "
                f"{timer!r} <= now={now!r} and handle_timer(now) changes nothing "
                f"({stuck} calls); the machine must move its deadline or clear it"
            )
        if stuck % self.stall_limit == 0:
            self._defer[address] = now + self.epsilon

    def __repr__(self) -> str:
        return f"Simulation(now={self.now!r}, steps={self.steps}, network={self.network!r})"
