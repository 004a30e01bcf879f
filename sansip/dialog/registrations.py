"""The registrations of a user agent: REGISTER clients wired to its endpoint.

:class:`Registrations` sends what each :class:`RegisterClient` asks for
through the endpoint's client transactions, routes their final responses
and failures back, and merges their timers and events.
"""

from __future__ import annotations

from collections import deque

from sansip.dialog.endpoint import Endpoint
from sansip.dialog.register import RegisterClient, RegisterEvent
from sansip.message import Response
from sansip.transaction import TransactionKey
from sansip.transport.types import Address

__all__ = ["Registrations"]


class Registrations:
    """Every REGISTER client of one UA, and where its requests go."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._clients: dict[RegisterClient, Address] = {}
        self._keys: dict[TransactionKey, RegisterClient] = {}
        self.events: deque[tuple[RegisterClient, RegisterEvent]] = deque()

    def add(self, client: RegisterClient, dest: Address) -> None:
        """Manage ``client``; its requests go to ``dest``."""
        self._clients[client] = dest

    @property
    def clients(self) -> list[RegisterClient]:
        """The managed clients."""
        return list(self._clients)

    def flush(self, now: float) -> None:
        """Send every request the clients queued; collect their events."""
        for client, dest in self._clients.items():
            for request in client.requests_to_send():
                self._keys[self._endpoint.send_request(request, dest, now)] = client
            while (event := client.next_event()) is not None:
                self.events.append((client, event))

    def on_response(self, key: TransactionKey, response: Response, now: float) -> bool:
        """Give a response to the client that sent the request; False if none did."""
        client = self._keys.get(key)
        if client is None:
            return False
        if response.status >= 200:
            del self._keys[key]
            client.receive_response(response, now)
            self.flush(now)
        return True

    def on_failure(self, key: TransactionKey, now: float) -> bool:
        """A REGISTER transaction timed out or could not be sent."""
        client = self._keys.pop(key, None)
        if client is None:
            return False
        client.transaction_failed(now)
        self.flush(now)
        return True

    def get_timer(self) -> float | None:
        """The earliest refresh or retry deadline; pure."""
        deadlines = [t for c in self._clients if (t := c.get_timer()) is not None]
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        """Refresh or retry what is due."""
        for client in self._clients:
            client.handle_timer(now)
        self.flush(now)
