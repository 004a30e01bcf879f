"""A user agent registering through its endpoint, against a small registrar
written here with the message layer (digest challenge, then 200 OK)."""

from __future__ import annotations

import random

from sansip.dialog.register import Registered, RegistrationFailed, RegistrationState
from sansip.dialog.ua import UAConfig, UserAgent
from sansip.message import Challenge, Request, SipURI, make_response, parse
from sansip.message import headers as h
from sansip.message.digest import verify
from sansip.testing import SimNetwork, Simulation, VirtualClock
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Datagram

UA_ADDR: Address = ("127.0.0.1", 5060)
REGISTRAR: Address = ("127.0.0.9", 5060)
PASSWORD = "secret"


class TinyRegistrar:
    """Challenges every REGISTER without valid credentials; binds the rest."""

    def __init__(self) -> None:
        self.outbox: list[Datagram] = []
        self.bindings: dict[str, int] = {}
        self.registers = 0
        self.nonce = 0

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        request = parse(data)
        assert isinstance(request, Request) and request.method == "REGISTER"
        self.registers += 1
        credentials = request.headers.parsed(h.AUTHORIZATION)
        if not credentials or not verify(credentials[0], method="REGISTER", password=PASSWORD):
            self.nonce += 1
            challenge = Challenge.digest(realm="127.0.0.9", nonce=f"n{self.nonce}", qop="auth",
                                         algorithm="MD5")  # fmt: skip
            response = make_response(request, 401, to_tag="reg",
                                      headers=[("WWW-Authenticate", challenge)])  # fmt: skip
        else:
            expires = request.expires if request.expires is not None else 3600
            contact = request.contacts[0]
            self.bindings[str(contact.uri)] = expires
            granted = min(expires, 120)
            bound = contact.with_params(expires=str(granted))
            response = make_response(request, 200, to_tag="reg", headers=[("Contact", bound)])
        self.outbox.append((bytes(response), addr))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        pass


def _setup(password: str = PASSWORD) -> tuple[Simulation, UserAgent, TinyRegistrar, object]:
    sim = Simulation(VirtualClock(), SimNetwork(seed=3, delay=0.01))
    ua = UserAgent(EndpointConfig(UA_ADDR), UAConfig(user="alice"), rng=random.Random(1))
    registrar = TinyRegistrar()
    sim.attach(UA_ADDR, ua)
    sim.attach(REGISTRAR, registrar)
    client = ua.register(SipURI("127.0.0.9"), sim.now, username="alice", password=password,
                         expires=3600)  # fmt: skip
    return sim, ua, registrar, client


def test_register_with_digest_then_refresh() -> None:
    sim, ua, registrar, client = _setup()
    assert sim.run_until(lambda: client.state is RegistrationState.REGISTERED, deadline=5)  # type: ignore[attr-defined]
    assert registrar.registers == 2  # challenged once, then accepted
    events = []
    while (event := ua.next_event()) is not None:
        events.append(event)
    granted = [e for e in events if isinstance(e, Registered)]
    assert all(e.registration is client for e in granted)
    assert granted and granted[0].expires == 120
    # Refreshed before the 120 s expire: 0.9 * 120 = 108 s after the 200.
    before = registrar.registers
    sim.run_until(lambda: registrar.registers > before, deadline=200)
    assert 108 <= sim.now < 120


def test_wrong_password_fails_without_looping() -> None:
    sim, ua, registrar, client = _setup(password="wrong")
    assert sim.run_until(lambda: client.state is RegistrationState.FAILED, deadline=5)  # type: ignore[attr-defined]
    failures = []
    while (event := ua.next_event()) is not None:
        if isinstance(event, RegistrationFailed):
            failures.append(event)
    assert failures and failures[0].status == 401 and failures[0].retry_at is None
    assert registrar.registers == 2


def test_outbound_registration_carries_instance_and_reg_id() -> None:
    sim = Simulation(VirtualClock(), SimNetwork(seed=3, delay=0.01))
    instance = "5f0e6a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    ua = UserAgent(EndpointConfig(UA_ADDR), UAConfig(user="alice", instance_id=instance),
                   rng=random.Random(1))  # fmt: skip
    registrar = TinyRegistrar()
    sim.attach(UA_ADDR, ua)
    sim.attach(REGISTRAR, registrar)
    client = ua.register(SipURI("127.0.0.9"), sim.now, username="alice", password=PASSWORD)
    assert sim.run_until(lambda: client.state is RegistrationState.REGISTERED, deadline=5)
    request = parse(sim.network.trace[0].data)
    contact = request.contacts[0]
    assert contact.params.get("+sip.instance") == f'"<urn:uuid:{instance}>"'
    assert contact.params.get("reg-id") == "1"
    assert "outbound" in (request.headers.get("Supported") or "")
