"""A :class:`~sansip.dialog.ua.UserAgent` as a node of the simulated
network: after every input (a datagram, a timer) its events (every
:data:`~sansip.dialog.events.UAEvent`: call, registration and drop events)
are drained into :attr:`UserAgentNode.events` and handed to
:meth:`on_event`, which a test overrides to act like a phone (answer,
reject, accept offers)::

    class Answering(UserAgentNode):
        def on_event(self, event, now):
            if isinstance(event, IncomingCall):
                self.ua.answer(event.call, now, sdp=SDP)

    sim.attach(("127.0.0.2", 5060), Answering(bob_ua))
"""

from __future__ import annotations

from sansip.dialog.events import UAEvent
from sansip.dialog.ua import UserAgent
from sansip.transport.types import Address, Datagram

__all__ = ["UserAgentNode"]


class UserAgentNode:
    """A UA with the datagram node shape and an event log."""

    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua
        self.events: list[UAEvent] = []

    def on_event(self, event: UAEvent, now: float) -> None:
        """Called for every event of the UA (override to act on them)."""

    def process(self, now: float) -> None:
        """Drain the UA's events (call it after a command between runs)."""
        while (event := self.ua.next_event()) is not None:
            self.events.append(event)
            self.on_event(event, now)

    def of(self, kind: type) -> list[UAEvent]:
        """The events of one type, oldest first."""
        return [e for e in self.events if isinstance(e, kind)]

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.ua.receive_datagram(data, addr, now)
        self.process(now)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        return self.ua.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        return self.ua.get_timer()

    def handle_timer(self, now: float) -> None:
        self.ua.handle_timer(now)
        self.process(now)
