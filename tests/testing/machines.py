"""Tiny test-only machines with the sans-IO datagram shape."""

from __future__ import annotations

from sansip.transport.types import Address, Datagram


class PingClient:
    """Sends ``ping`` and retransmits with exponential backoff until a ``pong`` arrives."""

    def __init__(
        self, server: Address, now: float, *, interval: float = 0.5, cap: float = 64.0
    ) -> None:
        self.server = server
        self.sent_at: list[float] = []
        self.timer_calls: list[float] = []
        self.pong_at: float | None = None
        self._outbox: list[Datagram] = [(b"ping", server)]
        self._interval = interval
        self._cap = cap
        self._deadline: float | None = now + interval

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        if data.startswith(b"pong") and addr == self.server and self.pong_at is None:
            self.pong_at = now
            self._deadline = None

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self._outbox = self._outbox, []
        self.sent_at.extend(now for _ in out)
        return out

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> None:
        self.timer_calls.append(now)
        if self._deadline is None or now < self._deadline:
            return  # early or after the pong: nothing to do
        self._outbox.append((b"ping", self.server))
        self._interval = min(self._interval * 2, self._cap)
        self._deadline = now + self._interval


class EchoServer:
    """Answers every datagram ``x`` with ``pong:x``; no timers."""

    def __init__(self) -> None:
        self.received: list[tuple[float, bytes, Address]] = []
        self._outbox: list[Datagram] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.received.append((now, data, addr))
        self._outbox.append((b"pong:" + data, addr))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


class Sink:
    """Records what arrives; sends nothing."""

    def __init__(self) -> None:
        self.received: list[tuple[float, bytes, Address]] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.received.append((now, data, addr))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        return []

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


class Blaster:
    """Sends ``(time, payload, destination)`` items at their scheduled times."""

    def __init__(self, schedule: list[tuple[float, bytes, Address]]) -> None:
        self._schedule = sorted(schedule, key=lambda item: item[0])
        self._outbox: list[Datagram] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        pass

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        return self._schedule[0][0] if self._schedule else None

    def handle_timer(self, now: float) -> None:
        while self._schedule and self._schedule[0][0] <= now:
            _, data, dst = self._schedule.pop(0)
            self._outbox.append((data, dst))


class StuckTimer:
    """A buggy machine: its deadline never moves and handle_timer does nothing."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.calls = 0

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        pass

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        return []

    def get_timer(self) -> float | None:
        return self.deadline

    def handle_timer(self, now: float) -> None:
        self.calls += 1


class StrictTimer(StuckTimer):
    """Fires only strictly after its deadline (as if ``now`` were rounded down)."""

    def __init__(self, deadline: float) -> None:
        super().__init__(deadline)
        self.fired_at: float | None = None

    def get_timer(self) -> float | None:
        return None if self.fired_at is not None else self.deadline

    def handle_timer(self, now: float) -> None:
        self.calls += 1
        if now > self.deadline:
            self.fired_at = now
