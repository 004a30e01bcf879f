"""Shared pieces of the server tests: phones (user agents with a policy for
incoming calls) and the server, on the simulated network."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from sansip.dialog.call import Call, CallState, CallStateChanged, IncomingCall
from sansip.dialog.register import RegisterClient, RegistrationState
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import Request, SipURI, parse
from sansip.server import RegistrarProxy, ServerConfig, ServerEvent
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Datagram

SERVER: Address = ("127.0.0.9", 5060)
DOMAIN = SipURI("127.0.0.9")
SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)
USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}

Policy = Callable[[UserAgent, Call, float], None]
E = TypeVar("E")


def answer(ua: UserAgent, call: Call, now: float) -> None:
    """Ring, then answer at once."""
    ua.ring(call, now)
    ua.answer(call, now, sdp=SDP)


def ring_only(ua: UserAgent, call: Call, now: float) -> None:
    """Ring and never answer."""
    ua.ring(call, now)


def busy(ua: UserAgent, call: Call, now: float) -> None:
    """Reject with 486."""
    ua.reject(call, now, 486)


class Phone:
    """A user agent, a policy for its incoming calls and its event log."""

    def __init__(
        self,
        user: str,
        address: Address,
        *,
        seed: int,
        policy: Policy = answer,
        advertised: Address | None = None,
        password: str | None = None,
    ) -> None:
        self.user = user
        self.ua = UserAgent(
            EndpointConfig(address, advertised=advertised),
            UAConfig(user=user, auth_username=user, auth_password=password),
            rng=random.Random(seed),
        )
        self.policy = policy
        self.log: list[str] = []
        self.incoming: list[Call] = []

    def process(self, now: float) -> None:
        """Drain the UA's events (a driver does it after every input)."""
        while (event := self.ua.next_event()) is not None:
            if isinstance(event, IncomingCall):
                self.incoming.append(event.call)
                self.policy(self.ua, event.call, now)
            elif isinstance(event, CallStateChanged):
                self.log.append(f"{event.new.value}{':' + event.reason if event.reason else ''}")

    def register(self, now: float, *, password: str | None = None, aor_user: str | None = None,
                 expires: int = 3600) -> RegisterClient:  # fmt: skip
        """Register at the server (as ``aor_user``, default the phone's user)."""
        aor = SipURI("127.0.0.9", aor_user or self.user)
        client = self.ua.register(DOMAIN, now, username=self.user, password=password,
                                  expires=expires, aor=aor)  # fmt: skip
        self.process(now)
        return client

    def call(self, user: str, now: float) -> Call:
        """Call ``user`` through the server."""
        call = self.ua.call(SipURI("127.0.0.9", user), now, sdp=SDP)
        self.process(now)
        return call

    def hangup(self, call: Call, now: float) -> None:
        """Hang up ``call``."""
        self.ua.hangup(call, now)
        self.process(now)

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


class Server:
    """The registrar/proxy on the simulated network, with its event log."""

    def __init__(self, config: ServerConfig | None = None, *, seed: int = 99) -> None:
        self.machine = RegistrarProxy(EndpointConfig(SERVER), config, rng=random.Random(seed))
        self.events: list[ServerEvent] = []

    def _drain(self) -> None:
        while (event := self.machine.next_event()) is not None:
            self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        """The events of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.machine.receive_datagram(data, addr, now)
        self._drain()

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        return self.machine.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        return self.machine.get_timer()

    def handle_timer(self, now: float) -> None:
        self.machine.handle_timer(now)
        self._drain()


def network(seed: int = 1, **link: float) -> Simulation:
    """A simulation with 10 ms links unless told otherwise."""
    link.setdefault("delay", 0.01)
    return Simulation(VirtualClock(), SimNetwork(seed=seed, **link))  # type: ignore[arg-type]


def registered(sim: Simulation, client: RegisterClient, deadline: float = 10.0) -> bool:
    """Run until ``client`` is registered (or failed); whether it registered."""
    sim.run_until(lambda: client.state in (RegistrationState.REGISTERED, RegistrationState.FAILED),
                  deadline=sim.now + deadline)  # fmt: skip
    return client.state is RegistrationState.REGISTERED


def connected(sim: Simulation, call: Call, deadline: float = 10.0) -> bool:
    """Run until ``call`` is connected or over; whether it connected."""
    sim.run_until(lambda: call.state in (CallState.CONNECTED, CallState.DISCONNECTED),
                  deadline=sim.now + deadline)  # fmt: skip
    return call.state is CallState.CONNECTED


def sent_requests(sim: Simulation, method: str, src: Address | None = None,
                  dst: Address | None = None) -> list[Request]:  # fmt: skip
    """The ``method`` requests the network carried (from ``src``, to ``dst``)."""
    out = []
    for entry in sim.network.trace:
        if (src is not None and entry.src != src) or (dst is not None and entry.dst != dst):
            continue
        try:
            message = parse(entry.data)
        except Exception:
            continue
        if isinstance(message, Request) and message.method == method:
            out.append(message)
    return out
