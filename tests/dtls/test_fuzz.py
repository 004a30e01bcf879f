"""Hostile input never raises out of ``receive_datagram``: random bytes,
mutated records and mutated handshakes end in a handshake, a failure or
dropped datagrams — never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.dtls import DtlsEvent, DtlsState, HandshakeComplete
from sansip.dtls.records import encode_record
from tests.conftest import examples
from tests.dtls.helpers import drain, make_pair, run


def assert_no_internal_error(events: list[DtlsEvent]) -> None:
    assert not any("internal error" in str(e) for e in events), events


_ENDED = (DtlsState.CONNECTED, DtlsState.FAILED, DtlsState.CLOSED, DtlsState.HANDSHAKING)


@settings(max_examples=examples(300))
@given(st.lists(st.binary(max_size=300), max_size=5))
def test_random_datagrams_never_raise(datagrams: list[bytes]) -> None:
    client, server = make_pair()
    client.start(0.0)
    for datagram in datagrams:
        client.receive_datagram(datagram, 0.5)
        server.receive_datagram(datagram, 0.5)
    assert client.state in _ENDED and server.state in _ENDED
    result = run(client, server, start=False, now=1.0)
    assert_no_internal_error(result.client_events + result.server_events)


@settings(max_examples=examples(300))
@given(
    st.integers(0, 3),
    st.integers(0, 255),
    st.integers(0, 1 << 48),
    st.binary(max_size=200),
)
def test_random_records_never_raise(ctype: int, epoch: int, sequence: int, body: bytes) -> None:
    client, server = make_pair()
    run(client, server)
    record = encode_record(20 + ctype, epoch % 3, sequence % (1 << 48), body)
    client.receive_datagram(record, 1.0)
    server.receive_datagram(record, 1.0)
    assert_no_internal_error(drain(client) + drain(server))
    assert client.state is DtlsState.CONNECTED or client.state is DtlsState.FAILED
    assert server.state is DtlsState.CONNECTED or server.state is DtlsState.FAILED


@settings(max_examples=examples(200))
@given(
    side=st.sampled_from(["client", "server"]),
    index=st.integers(0, 4),
    position=st.integers(0, 2000),
    change=st.one_of(
        st.integers(1, 255).map(lambda x: ("xor", x)),
        st.just(("truncate", 0)),
        st.binary(min_size=1, max_size=8).map(lambda b: ("insert", b)),
    ),
    mtu=st.sampled_from([200, 1200]),
)
def test_mutated_handshakes_never_raise(
    side: str, index: int, position: int, change: tuple[str, object], mtu: int
) -> None:
    client, server = make_pair(client={"mtu": mtu}, server={"mtu": mtu})

    def mutate(who: str, number: int, datagram: bytes) -> list[bytes]:
        if who != side or number != index:
            return [datagram]
        at = position % len(datagram)
        kind, value = change
        if kind == "xor":
            assert isinstance(value, int)
            return [datagram[:at] + bytes([datagram[at] ^ value]) + datagram[at + 1 :]]
        if kind == "truncate":
            return [datagram[:at]]
        assert isinstance(value, bytes)
        return [datagram[:at] + value + datagram[at:]]

    result = run(client, server, tamper=mutate)
    for machine in (client, server):
        assert machine.state in (DtlsState.CONNECTED, DtlsState.FAILED, DtlsState.CLOSED)
        assert machine.get_timer() is None
    done = [
        e for e in result.client_events + result.server_events if isinstance(e, HandshakeComplete)
    ]
    if len(done) == 2:
        assert done[0].srtp_keying_material == done[1].srtp_keying_material
    assert_no_internal_error(result.client_events + result.server_events)
