"""Stream mode (TCP): requests reach a client over the connection it
registered on while that connection is open, at its Contact afterwards."""

from __future__ import annotations

import random

from sansip.message import Request, Response, parse
from sansip.server import RegistrarProxy
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Transport
from tests.server.helpers import SERVER

BOB_FLOW: Address = ("127.0.0.2", 41000)  # the connection bob opened
ALICE_FLOW: Address = ("127.0.0.1", 42000)


def _request(method: str, uri: str, user: str, *, cseq: int = 1, extra: str = "") -> bytes:
    via = f"SIP/2.0/TCP 127.0.0.1:6000;branch=z9hG4bK{user}{cseq};rport"
    return (
        f"{method} {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n"
        f"From: <sip:{user}@127.0.0.9>;tag={user}\r\nTo: <sip:bob@127.0.0.9>\r\n"
        f"Call-ID: {user}-call\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    ).encode()


def _sent(server: RegistrarProxy) -> list[tuple[Request | Response, Address]]:
    return [(parse(data), addr) for data, addr in server.datagrams_to_send(0.0)]


def test_invites_follow_the_registration_connection_then_the_contact() -> None:
    server = RegistrarProxy(EndpointConfig(SERVER, Transport.TCP), rng=random.Random(1))
    server.receive_data(_request("REGISTER", "sip:127.0.0.9", "bob",
                                 extra="Contact: <sip:bob@127.0.0.2:5070;transport=tcp>\r\n"),
                        BOB_FLOW, 0.0)  # fmt: skip
    ((ok, where),) = _sent(server)
    assert isinstance(ok, Response) and ok.status == 200 and where == BOB_FLOW
    server.receive_data(_request("INVITE", "sip:bob@127.0.0.9", "alice"), ALICE_FLOW, 1.0)
    out = _sent(server)
    assert [(getattr(m, "status", None), addr) for m, addr in out] == [
        (100, ALICE_FLOW), (None, BOB_FLOW),
    ]  # fmt: skip
    invite = out[1][0]
    assert isinstance(invite, Request) and invite.top_via.transport == "TCP"
    assert invite.record_routes[0].uri.params.get("transport") == "tcp"  # type: ignore[union-attr]
    server.connection_lost(BOB_FLOW, 2.0)
    server.receive_data(_request("INVITE", "sip:bob@127.0.0.9", "carol"), ALICE_FLOW, 3.0)
    out = _sent(server)
    assert [addr for _, addr in out][-1] == ("127.0.0.2", 5070)
