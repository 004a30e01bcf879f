"""Small datagram machines the driver tests run over real sockets."""

from __future__ import annotations

from collections import deque

from sansip.transport.types import Address, Datagram


class Echo:
    """Answers every datagram with the same bytes; raises on b"boom"."""

    def __init__(self) -> None:
        self.outbox: list[Datagram] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        if data == b"boom":
            raise RuntimeError("a machine bug")
        self.outbox.append((data, addr))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


class Pinger:
    """Sends b"ping" every 50 ms until it has seen three echoes."""

    def __init__(self, peer: Address, start: float) -> None:
        self.peer = peer
        self.next_send: float | None = start
        self.sent_at: list[float] = []
        self.echoes: deque[bytes] = deque()
        self.outbox: list[Datagram] = []

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.echoes.append(data)
        if len(self.echoes) >= 3:
            self.next_send = None

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return self.next_send

    def handle_timer(self, now: float) -> None:
        if self.next_send is not None and now >= self.next_send:
            self.outbox.append((b"ping", self.peer))
            self.sent_at.append(now)
            self.next_send = now + 0.05
