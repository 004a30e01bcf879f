"""The registrations of a user agent: REGISTER clients wired to its endpoint.

:class:`Registrations` sends what each :class:`RegisterClient` asks for
through the endpoint's client transactions, routes their final responses
and failures back, merges their timers and queues their events (each
names its client) with the UA's other events.

It also owns where the requests go.  A client may have several targets
(the registrar's addresses from RFC 3263, in order): when a REGISTER times
out (timer F), meets a transport error or is answered with a 503 (any 503:
a Retry-After speaks for that server only), the same request — identical
but for a new Via branch, as RFC 3263 §4.3 words it, so the client still
matches the answer to its CSeq — goes to the next target, each tried at
most once per request.  Only when every target failed does the client see
the failure (the last timeout as a 408, the last transport error or 503 as
a 503, RFC 3261 §8.1.3.1).  The target that answered is kept for the next
requests (refreshes, challenges); after a failure of all of them the next
request starts again at the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sansip.dialog.events import UAEventQueue
from sansip.dialog.register import TRANSPORT_ERROR, RegisterClient, RegistrationState
from sansip.message import Request, Response
from sansip.transaction import TransactionKey
from sansip.transaction.endpoint import Endpoint
from sansip.transport.types import Address

__all__ = ["Registrations"]


@dataclass(slots=True)
class _Targets:
    """Where one client's requests go: ``addresses[current]`` first."""

    addresses: list[Address]
    current: int = 0


@dataclass(frozen=True, slots=True)
class _Sent:
    """One REGISTER transaction: its client, a Via-less copy of the request
    (for failover) and how many targets this request has tried."""

    client: RegisterClient
    request: Request
    tried: int


def _fresh_copy(request: Request) -> Request:
    """``request`` without its Via (the endpoint adds one with a new branch)."""
    headers: list[tuple[str, object]] = [
        (name, value)
        for name, value in request.headers.items()
        if name.lower() not in ("via", "v", "content-length", "l")
    ]
    return Request(request.method, request.uri, headers, request.body)


class Registrations:
    """Every REGISTER client of one UA, and where its requests go."""

    def __init__(self, endpoint: Endpoint, events: UAEventQueue) -> None:
        self._endpoint = endpoint
        self._clients: dict[RegisterClient, _Targets] = {}
        self._keys: dict[TransactionKey, _Sent] = {}
        self._events = events

    def add(
        self, client: RegisterClient, dest: Address, *, alternatives: Sequence[Address] = ()
    ) -> None:
        """Manage ``client``; its requests go to ``dest``, then to the
        ``alternatives`` in order when ``dest`` fails (RFC 3263 §4.3)."""
        self._clients[client] = _Targets([dest, *alternatives])

    @property
    def clients(self) -> list[RegisterClient]:
        """The managed clients."""
        return list(self._clients)

    def targets(self, client: RegisterClient) -> list[Address]:
        """Where the requests of ``client`` may go, in order of preference."""
        return list(self._clients[client].addresses)

    def current_target(self, client: RegisterClient) -> Address:
        """Where the next request of ``client`` goes."""
        targets = self._clients[client]
        return targets.addresses[targets.current]

    def flush(self, now: float) -> None:
        """Send every request the clients queued; collect their events."""
        for client, targets in self._clients.items():
            for request in client.requests_to_send():
                self._send(client, request, targets.addresses[targets.current], 1, now)
            while (event := client.next_event()) is not None:
                self._events.append(event)

    def _send(
        self, client: RegisterClient, request: Request, dest: Address, tried: int, now: float
    ) -> None:
        copy = _fresh_copy(request) if len(self._clients[client].addresses) > 1 else request
        key = self._endpoint.send_request(request, dest, now)
        self._keys[key] = _Sent(client, copy, tried)

    def _failover(self, sent: _Sent, now: float) -> bool:
        """Send the request of ``sent`` to the client's next target; True if sent."""
        targets = self._clients.get(sent.client)
        if targets is None or sent.tried >= len(targets.addresses):
            if targets is not None:
                targets.current = 0  # all failed: start over next time
            return False
        targets.current = (targets.current + 1) % len(targets.addresses)
        request = _fresh_copy(sent.request)
        self._send(sent.client, request, targets.addresses[targets.current], sent.tried + 1, now)
        return True

    def on_response(self, key: TransactionKey, response: Response, now: float) -> bool:
        """Give a response to the client that sent the request; False if none did."""
        sent = self._keys.get(key)
        if sent is None:
            return False
        if response.status >= 200:
            del self._keys[key]
            if response.status == 503 and self._failover(sent, now):
                return True
            sent.client.receive_response(response, now)
            self.flush(now)
        return True

    def on_failure(self, key: TransactionKey, now: float, status: int = 408) -> bool:
        """A REGISTER transaction timed out (``status`` 408) or met a
        transport error (503); False if ``key`` is not one."""
        sent = self._keys.pop(key, None)
        if sent is None:
            return False
        if self._failover(sent, now):
            return True
        if status == 503:
            sent.client.transaction_failed(now, TRANSPORT_ERROR, status=503)
        else:
            sent.client.transaction_failed(now)
        self.flush(now)
        return True

    def flow_failed(self, addr: Address, now: float) -> None:
        """The connection to ``addr`` is gone: register again at once, on a new
        connection, every client registered through it (RFC 5626 §4.4)."""
        for client in self._clients:
            if self.current_target(client) == addr and client.state is RegistrationState.REGISTERED:
                client.register(now)
        self.flush(now)

    def get_timer(self) -> float | None:
        """The earliest refresh or retry deadline; pure."""
        deadlines = [t for c in self._clients if (t := c.get_timer()) is not None]
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        """Refresh or retry what is due."""
        for client in self._clients:
            client.handle_timer(now)
        self.flush(now)
