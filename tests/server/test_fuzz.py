"""Whatever arrives, the registrar/proxy never raises: random bytes, and
valid messages with random damage, in datagram and stream mode."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.server import RegistrarProxy, ServerConfig
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Transport
from tests.conftest import examples
from tests.server.helpers import SERVER, USERS

SAMPLES = [
    b"REGISTER sip:127.0.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKr1;rport\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.9>;tag=1\r\nTo: <sip:alice@127.0.0.9>\r\n"
    b"Call-ID: r1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@127.0.0.1:5060>;expires=60\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"INVITE sip:alice@127.0.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKi1\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.9>;tag=2\r\nTo: <sip:alice@127.0.0.9>\r\n"
    b"Call-ID: i1\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.2:5060>\r\n"
    b"Route: <sip:f7f@127.0.0.9:5060;lr>\r\nContent-Length: 0\r\n\r\n",
    b"BYE sip:alice@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKb1\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.9>;tag=2\r\nTo: <sip:alice@127.0.0.9>;tag=3\r\n"
    b"Call-ID: i1\r\nCSeq: 2 BYE\r\nRoute: <sip:f3132372e302e302e3120353036@127.0.0.9;lr>\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKx\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKi1\r\nFrom: <sip:bob@127.0.0.9>;tag=2\r\n"
    b"To: <sip:alice@127.0.0.9>;tag=3\r\nCall-ID: i1\r\nCSeq: 1 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"ACK sip:alice@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKa1\r\n"
    b"From: <sip:bob@127.0.0.9>;tag=2\r\nTo: <sip:alice@127.0.0.9>;tag=3\r\nCall-ID: i1\r\n"
    b"CSeq: 1 ACK\r\nRoute: <sip:127.0.0.9;lr>, <sip:x@127.0.0.7;lr>\r\nContent-Length: 0\r\n\r\n",
]


def _server(transport: Transport = Transport.UDP) -> RegistrarProxy:
    config = EndpointConfig(SERVER, transport)
    return RegistrarProxy(config, ServerConfig(users=USERS), rng=random.Random(0))


def _exercise(server: RegistrarProxy, now: float) -> None:
    server.datagrams_to_send(now)
    while server.next_event() is not None:
        pass
    timer = server.get_timer()
    if timer is not None:
        server.handle_timer(max(timer, now))


@settings(max_examples=examples(200))
@given(st.lists(st.binary(max_size=600), max_size=6))
def test_random_bytes_never_raise(packets: list[bytes]) -> None:
    server = _server()
    for i, data in enumerate(packets):
        server.receive_datagram(data, ("127.0.0.1", 5060 + i), float(i))
        _exercise(server, float(i))


@settings(max_examples=examples(300))
@given(
    st.lists(
        st.tuples(st.sampled_from(SAMPLES), st.integers(0, 400), st.binary(min_size=0, max_size=8)),
        min_size=1,
        max_size=6,
    )
)
def test_damaged_messages_never_raise(edits: list[tuple[bytes, int, bytes]]) -> None:
    server = _server()
    for i, (sample, at, junk) in enumerate(edits):
        at = min(at, len(sample))
        data = sample[:at] + junk + sample[at + len(junk) :]
        server.receive_datagram(data, ("127.0.0.2", 5060), float(i))
        _exercise(server, float(i))


@settings(max_examples=examples(100))
@given(st.lists(st.binary(max_size=300), max_size=6), st.sampled_from(SAMPLES))
def test_stream_mode_never_raises(chunks: list[bytes], sample: bytes) -> None:
    server = _server(Transport.TCP)
    peer = ("127.0.0.1", 40000)
    server.receive_data(sample, peer, 0.0)
    for i, data in enumerate(chunks):
        server.receive_data(data, peer, float(i))
        _exercise(server, float(i))
    server.connection_lost(peer, 10.0)
    server.connections_to_close()
    _exercise(server, 10.0)
