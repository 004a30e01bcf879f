"""The registrar (RFC 3261 §10.3) fed raw REGISTER requests, and sansip
user agents registering on the simulated network."""

from __future__ import annotations

import random

import pytest

from sansip.dialog.register import RegistrationState
from sansip.message import Challenge, Response, SipURI, parse
from sansip.message import headers as h
from sansip.message.digest import compute_response
from sansip.server import (
    AuthenticationFailed,
    BindingAdded,
    BindingExpired,
    BindingRefreshed,
    BindingRemoved,
    RegistrarProxy,
    ServerConfig,
    ServerEvent,
)
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address
from tests.server.helpers import SERVER, USERS, Phone, Server, network, registered

UA: Address = ("127.0.0.1", 5060)
SERVER_URI = SipURI("127.0.0.9")


def register(
    contacts: list[str], *, cseq: int = 1, call_id: str = "reg-1", expires: int | None = None,
    user: str = "alice", extra: tuple[str, ...] = (), branch: str = "",
) -> bytes:  # fmt: skip
    lines = [
        "REGISTER sip:127.0.0.9 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{branch or call_id}-{cseq};rport",
        "Max-Forwards: 70",
        f"From: <sip:{user}@127.0.0.9>;tag=f{cseq}",
        f"To: <sip:{user}@127.0.0.9>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        *(f"Contact: {c}" for c in contacts),
        *([f"Expires: {expires}"] if expires is not None else []),
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def exchange(server: RegistrarProxy, data: bytes, now: float, source: Address = UA) -> Response:
    server.receive_datagram(data, source, now)
    out = server.datagrams_to_send(now)
    assert len(out) == 1 and out[0][1] == source
    response = parse(out[0][0])
    assert isinstance(response, Response)
    return response


def make_server(**config: object) -> RegistrarProxy:
    return RegistrarProxy(EndpointConfig(SERVER), ServerConfig(**config),  # type: ignore[arg-type]
                          rng=random.Random(5))  # fmt: skip


def events(server: RegistrarProxy) -> list[ServerEvent]:
    out: list[ServerEvent] = []
    while (event := server.next_event()) is not None:
        out.append(event)
    return out


def test_bindings_are_added_listed_refreshed_and_removed() -> None:
    server = make_server()
    first = exchange(server, register(["<sip:alice@127.0.0.1:5060>;q=0.5"], expires=600), 0.0)
    assert first.status == 200 and first.to.tag
    assert [(str(c.uri), c.expires, c.q) for c in first.contacts] == [
        ("sip:alice@127.0.0.1:5060", 600, 0.5)
    ]
    # A second contact: the 200 lists both, each with the time it has left.
    second = exchange(server, register(["<sip:alice@127.0.0.1:6000>"], cseq=2), 100.0)
    assert sorted((str(c.uri), c.expires) for c in second.contacts) == [
        ("sip:alice@127.0.0.1:5060", 500), ("sip:alice@127.0.0.1:6000", 3600),
    ]  # fmt: skip
    assert [b.uri.port for b in server.location.lookup("alice")] == [6000, 5060]  # q order
    # Refresh, then remove one with expires=0.
    exchange(server, register(["<sip:alice@127.0.0.1:5060>;expires=60"], cseq=3), 200.0)
    removed = exchange(server, register(["<sip:alice@127.0.0.1:6000>;expires=0"], cseq=4), 201.0)
    assert [(c.uri.port, c.expires) for c in removed.contacts] == [(5060, 59)]  # type: ignore[union-attr]
    kinds = [type(e) for e in events(server) if not type(e).__name__.startswith("Request")]
    assert kinds == [BindingAdded, BindingAdded, BindingRefreshed, BindingRemoved]


def test_a_binding_disappears_exactly_when_it_expires() -> None:
    server = make_server()
    exchange(server, register(["<sip:alice@127.0.0.1:5060>"], expires=120), 10.0)
    assert server.location.next_expiry() == 130.0
    server.handle_timer(42.0)  # the REGISTER transaction ends (timer J)
    assert server.get_timer() == 130.0
    server.handle_timer(129.999)
    assert len(server.location) == 1
    server.handle_timer(130.0)
    assert len(server.location) == 0 and server.get_timer() is None
    assert [e for e in events(server) if isinstance(e, BindingExpired)] == [
        BindingExpired("alice", "sip:alice@127.0.0.1:5060")
    ]


def test_a_refresh_moves_the_expiry() -> None:
    server = make_server()
    exchange(server, register(["<sip:alice@127.0.0.1:5060>"], expires=120), 0.0)
    exchange(server, register(["<sip:alice@127.0.0.1:5060>"], expires=120, cseq=2), 100.0)
    server.handle_timer(132.0)
    assert len(server.location) == 1
    assert server.get_timer() == 220.0


def test_too_brief_gets_423_with_min_expires_and_max_is_capped() -> None:
    server = make_server(min_expires=60, max_expires=900)
    brief = exchange(server, register(["<sip:alice@127.0.0.1:5060>"], expires=30), 0.0)
    assert brief.status == 423 and brief.headers.parsed(h.MIN_EXPIRES) == 60
    assert len(server.location) == 0
    long = exchange(server, register(["<sip:alice@127.0.0.1:5060>"], expires=7200, cseq=2), 0.0)
    assert long.status == 200 and long.contacts[0].expires == 900


def test_star_removes_every_binding_only_with_expires_0() -> None:
    server = make_server()
    exchange(server, register(["<sip:alice@127.0.0.1:5060>", "<sip:alice@127.0.0.1:6000>"]), 0.0)
    assert len(server.location) == 2
    bad = exchange(server, register(["*"], cseq=2, expires=60), 1.0)
    assert bad.status == 400 and len(server.location) == 2
    done = exchange(server, register(["*"], cseq=3, expires=0), 2.0)
    assert done.status == 200 and done.contacts == [] and len(server.location) == 0


def test_an_older_register_with_the_same_call_id_is_refused() -> None:
    server = make_server()
    exchange(server, register(["<sip:alice@127.0.0.1:5060>"], cseq=5, expires=600), 0.0)
    stale = exchange(server, register(["<sip:alice@127.0.0.1:5060>"], cseq=4, expires=0), 1.0)
    assert stale.status == 500 and len(server.location) == 1
    # Another Call-ID (a rebooted client) may update it whatever its CSeq.
    other = exchange(server, register(["<sip:alice@127.0.0.1:5060>"], cseq=1, call_id="x",
                                      expires=0), 2.0)  # fmt: skip
    assert other.status == 200 and len(server.location) == 0


def test_instance_and_reg_id_identify_the_binding_and_are_kept() -> None:
    server = make_server()
    instance = '"<urn:uuid:00000000-0000-4000-8000-000000000001>"'
    contact = f"<sip:alice@10.0.0.5:5060>;+sip.instance={instance};reg-id=1"
    exchange(server, register([contact]), 0.0)
    moved = f"<sip:alice@10.0.0.6:5070>;+sip.instance={instance};reg-id=1"
    response = exchange(server, register([moved], cseq=2), 1.0)
    assert len(response.contacts) == 1
    (binding,) = server.location.lookup("alice")
    assert binding.uri.host == "10.0.0.6" and binding.instance == instance
    assert response.contacts[0].params.get("+sip.instance") == instance
    assert response.contacts[0].params.get("reg-id") == "1"


def test_a_query_lists_the_bindings_and_changes_nothing() -> None:
    server = make_server()
    exchange(server, register(["<sip:alice@127.0.0.1:5060>"], expires=300), 0.0)
    query = exchange(server, register([], cseq=2), 50.0)
    assert [c.expires for c in query.contacts] == [250]


def _authorized(challenge: Challenge, password: str, *, cseq: int, nc: int = 1,
                user: str = "alice") -> bytes:  # fmt: skip
    assert challenge.nonce is not None and challenge.realm is not None
    response = compute_response(algorithm="MD5", username=user, realm=challenge.realm,
                                password=password, method="REGISTER", uri="sip:127.0.0.9",
                                nonce=challenge.nonce, cnonce="c1", nc=nc, qop="auth")  # fmt: skip
    credentials = (f'Digest username="{user}", realm="{challenge.realm}", '
                   f'nonce="{challenge.nonce}", uri="sip:127.0.0.9", response="{response}", '
                   f"algorithm=MD5, cnonce=\"c1\", qop=auth, nc={nc:08x}")  # fmt: skip
    return register(["<sip:alice@127.0.0.1:5060>"], cseq=cseq, user="alice",
                    extra=(f"Authorization: {credentials}",))  # fmt: skip


def test_digest_nonces_expire_into_stale_challenges_and_replays_are_refused() -> None:
    server = make_server(users=USERS, realm="sansip.test", nonce_lifetime=30.0)
    first = exchange(server, register(["<sip:alice@127.0.0.1:5060>"]), 0.0)
    assert first.status == 401
    (challenge,) = first.headers.parsed(h.WWW_AUTHENTICATE) or []
    assert challenge.realm == "sansip.test" and challenge.qop_options == ["auth"]
    assert not challenge.stale
    assert exchange(server, _authorized(challenge, "alice-pw", cseq=2), 1.0).status == 200
    replay = exchange(server, _authorized(challenge, "alice-pw", cseq=3, nc=1), 2.0)
    assert replay.status == 401 and (replay.headers.parsed(h.WWW_AUTHENTICATE) or [])[0].stale
    late = exchange(server, _authorized(challenge, "alice-pw", cseq=4, nc=2), 31.0)
    (again,) = late.headers.parsed(h.WWW_AUTHENTICATE) or []
    assert late.status == 401 and again.stale and again.nonce != challenge.nonce
    wrong = exchange(server, _authorized(again, "nope", cseq=5), 32.0)
    assert wrong.status == 401
    assert not (wrong.headers.parsed(h.WWW_AUTHENTICATE) or [])[0].stale
    failures = [e for e in events(server) if isinstance(e, AuthenticationFailed)]
    assert [(f.username, f.status, f.reason) for f in failures] == [
        ("alice", 401, "wrong password")
    ]


# -- user agents on the simulated network ------------------------------------------------------


@pytest.mark.parametrize("auth", [False, True])
def test_a_user_agent_registers_and_unregisters(auth: bool) -> None:
    sim = network()
    server = Server(ServerConfig(users=USERS) if auth else None)
    alice = Phone("alice", UA, seed=1)
    sim.attach(SERVER, server)
    sim.attach(UA, alice)
    client = alice.register(sim.now, password="alice-pw" if auth else None, expires=600)
    assert registered(sim, client)
    assert client.expires == 600
    registers = [e for e in sim.network.trace if e.data.startswith(b"REGISTER")]
    assert len(registers) == (2 if auth else 1)  # challenged once with digest
    alice.ua.unregister(client, sim.now)
    sim.run_until(lambda: client.state is RegistrationState.UNREGISTERED, deadline=sim.now + 5)
    assert client.state is RegistrationState.UNREGISTERED and len(server.machine.location) == 0
    assert [type(e) for e in server.of(BindingAdded) + server.of(BindingRemoved)] == [
        BindingAdded, BindingRemoved,
    ]  # fmt: skip


def test_wrong_password_fails_with_401_and_another_users_aor_with_403() -> None:
    sim = network()
    server = Server(ServerConfig(users=USERS))
    alice = Phone("alice", UA, seed=1)
    mallory = Phone("carol", ("127.0.0.3", 5060), seed=3)
    sim.attach(SERVER, server)
    sim.attach(UA, alice)
    sim.attach(("127.0.0.3", 5060), mallory)
    wrong = alice.register(sim.now, password="guess")
    assert not registered(sim, wrong)
    assert wrong.state is RegistrationState.FAILED
    # carol's own credentials are right, but bob's address of record is not hers.
    theft = mallory.register(sim.now, password="carol-pw", aor_user="bob")
    assert not registered(sim, theft)
    failures = server.of(AuthenticationFailed)
    assert [(f.username, f.status) for f in failures] == [("alice", 401), ("carol", 403)]
    assert len(server.machine.location) == 0


def test_binding_expiry_on_the_virtual_clock_with_a_silent_client() -> None:
    sim = network()
    server = Server()
    alice = Phone("alice", UA, seed=1)
    sim.attach(SERVER, server)
    sim.attach(UA, alice)
    client = alice.register(sim.now, expires=60)
    assert registered(sim, client)
    registered_at = sim.now - 0.01  # the REGISTER reached the server one link delay earlier
    sim.network.set_link(UA, SERVER, loss=1.0)  # refreshes are lost from now on
    assert sim.run_until(lambda: bool(server.of(BindingExpired)), deadline=100)
    assert sim.now == pytest.approx(registered_at + 60)
