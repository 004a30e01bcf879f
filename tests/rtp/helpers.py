"""Shared helpers: session factories, event draining and a two-session wire."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import replace

from sansip.rtp import Address, RtpConfig, RtpEvent, RtpSession

A_ADDR: Address = ("127.0.0.1", 40000)
B_ADDR: Address = ("127.0.0.1", 50000)
CONFIG = RtpConfig(payload_types=frozenset({0}), cname="test@127.0.0.1")


def session(
    seed: int = 1, now: float = 0.0, remote: Address = B_ADDR, **changes: object
) -> RtpSession:
    """A session with the default test config, ``changes`` applied."""
    config = replace(CONFIG, **changes)  # type: ignore[arg-type]
    return RtpSession(config, random.Random(seed), now, remote)


def drain(s: RtpSession) -> list[RtpEvent]:
    """Every queued event, in order."""
    events = []
    while (event := s.next_event()) is not None:
        events.append(event)
    return events


class Wire:
    """Two sessions whose datagrams reach each other after ``delay`` seconds.

    RTCP is recognised by destination port (odd ports are RTCP, as RTP uses
    even ones) unless rtcp-mux is on.  ``drop`` decides per datagram whether
    it is lost (``(data, src) -> bool``).
    """

    def __init__(
        self,
        a: RtpSession,
        b: RtpSession,
        delay: float = 0.05,
        drop: Callable[[bytes, Address], bool] | None = None,
    ) -> None:
        self.a, self.b, self.delay = a, b, delay
        self.drop = drop or (lambda data, src: False)
        self._queue: list[tuple[float, int, bytes, Address, Address]] = []
        self._order = 0

    def flush(self, now: float) -> None:
        """Put everything both sessions want to send on the wire."""
        for node, src in ((self.a, A_ADDR), (self.b, B_ADDR)):
            for data, dst in node.datagrams_to_send(now):
                if self.drop(data, src):
                    continue
                rtcp_src = (src[0], src[1] + 1) if dst[1] % 2 else src
                self._order += 1
                heapq.heappush(self._queue, (now + self.delay, self._order, data, rtcp_src, dst))

    def deliver(self, now: float) -> None:
        """Hand over everything due by ``now``."""
        while self._queue and self._queue[0][0] <= now + 1e-9:
            _, _, data, src, dst = heapq.heappop(self._queue)
            node = self.a if dst[1] in (A_ADDR[1], A_ADDR[1] + 1) else self.b
            node.receive_datagram(data, src, now, rtcp=bool(dst[1] % 2))

    def run(self, until: float, step: float = 0.001, media: bool = True) -> None:
        """Step virtual time by ``step``; both send one 20 ms packet every 20 ms."""
        ticks = round(until / step)
        every = round(0.02 / step)
        for tick in range(ticks + 1):
            now = tick * step
            self.deliver(now)
            for node in (self.a, self.b):
                if media and tick % every == 0 and not node.closed:
                    node.send_payload(bytes(160), 0, now)
                timer = node.get_timer()
                if timer is not None and timer <= now:
                    node.handle_timer(now)
            self.flush(now)
