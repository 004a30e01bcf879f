"""Loss, duplication, reordering and fragmentation (RFC 6347 §4.1.2.6,
§4.2.3, §4.2.4) on virtual time."""

from __future__ import annotations

import random

import pytest

from sansip.dtls import ApplicationData, DtlsState, HandshakeComplete, HandshakeFailed
from sansip.dtls.records import parse_records
from tests.dtls.helpers import Tamper, drain, drop, make_pair, run


def completed(events: list[object]) -> bool:
    return any(isinstance(e, HandshakeComplete) for e in events)


def keys_agree(result_client: object, result_server: object) -> None:
    assert isinstance(result_client, HandshakeComplete)
    assert isinstance(result_server, HandshakeComplete)
    assert result_client.srtp_keying_material == result_server.srtp_keying_material


def test_timer_doubles_from_one_second_and_gives_up_after_six_retransmissions() -> None:
    client, _server = make_pair()
    client.start(0.0)
    sent = [len(client.datagrams_to_send(0.0))]
    fired = []
    while (at := client.get_timer()) is not None:
        fired.append(at)
        client.handle_timer(at - 0.001)  # early: nothing happens
        assert client.get_timer() == at
        client.handle_timer(at)
        sent.append(len(client.datagrams_to_send(at)))
    assert fired == [1.0, 3.0, 7.0, 15.0, 31.0, 63.0, 123.0]
    assert sent == [1, 1, 1, 1, 1, 1, 1, 0]
    assert drain(client) == [HandshakeFailed("timeout")]
    assert client.state is DtlsState.FAILED
    assert client.counters.retransmissions == 6


def test_timer_is_capped_at_sixty_seconds() -> None:
    client, _server = make_pair(client={"max_retransmissions": 10})
    client.start(0.0)
    gaps, last = [], 0.0
    while (at := client.get_timer()) is not None:
        gaps.append(at - last)
        last = at
        client.handle_timer(at)
    assert gaps == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]


@pytest.mark.parametrize(
    "lost",
    [
        {"client": {0}},  # first ClientHello
        {"server": {0}},  # HelloVerifyRequest
        {"client": {1}},  # ClientHello with cookie
        {"server": {1}},  # the server's flight
        {"client": {2}},  # the client's second flight
        {"server": {2}},  # the server's Finished: the client retransmits, the server answers
        {"client": {0, 1, 2}, "server": {1, 2, 3}},
    ],
)
def test_lost_flights_are_retransmitted(lost: dict[str, set[int]]) -> None:
    client, server = make_pair()
    result = run(client, server, tamper=drop(lost))
    assert completed(result.client_events) and completed(result.server_events)
    keys_agree(result.client_events[-1], result.server_events[-1])
    assert result.now >= 1.0
    assert client.counters.retransmissions + server.counters.retransmissions >= 1
    assert client.get_timer() is None and server.get_timer() is None


def test_lost_final_flight_is_resent_when_the_client_retransmits() -> None:
    client, server = make_pair()
    result = run(client, server, tamper=drop({"server": {2}}))
    assert server.counters.peer_retransmissions >= 1
    assert len(result.server_datagrams) == 4  # the final flight went twice
    assert completed(result.client_events)


def test_a_peer_that_stops_mid_handshake_times_out() -> None:
    client, server = make_pair()
    # everything the client sends after its second ClientHello is lost
    result = run(client, server, tamper=drop({"client": set(range(2, 100))}))
    assert result.server_events == [HandshakeFailed("timeout")]
    assert server.counters.retransmissions == 6
    # the client had finished its part and waits for the server's Finished: it gives up too
    assert result.client_events == [HandshakeFailed("timeout")]
    assert 100 < result.now < 200


def test_duplicated_datagrams_are_dropped_as_replays() -> None:
    client, server = make_pair()

    def twice(side: str, index: int, datagram: bytes) -> list[bytes]:
        return [datagram, datagram]

    result = run(client, server, tamper=twice)
    assert completed(result.client_events) and completed(result.server_events)
    assert client.counters.dropped_replayed > 0 and server.counters.dropped_replayed > 0
    client.send(b"once")
    (datagram,) = client.datagrams_to_send(0.0)
    server.receive_datagram(datagram, 0.0)
    server.receive_datagram(datagram, 0.0)
    assert drain(server) == [ApplicationData(b"once")]


@pytest.mark.parametrize("mtu", [128, 200, 576])
def test_small_mtu_fragments_every_flight(mtu: int) -> None:
    client, server = make_pair(client={"mtu": mtu}, server={"mtu": mtu})
    result = run(client, server)
    assert completed(result.client_events) and completed(result.server_events)
    assert max(map(len, result.client_datagrams + result.server_datagrams)) <= mtu
    assert len(result.server_datagrams) > 3  # the certificate flight needed several datagrams


def test_reordered_fragments_are_reassembled() -> None:
    client, server = make_pair(client={"mtu": 150}, server={"mtu": 150})
    result = run(client, server, reverse=True)
    assert completed(result.client_events) and completed(result.server_events)
    keys_agree(result.client_events[-1], result.server_events[-1])
    assert result.now == 0.0


def chaos(rng: random.Random) -> Tamper:
    """Lose 20 % of the datagrams, hold 15 % back until the next one of the
    same side, and deliver what goes in random order."""
    held: dict[str, list[bytes]] = {"client": [], "server": []}

    def tamper(side: str, index: int, datagram: bytes) -> list[bytes]:
        roll = rng.random()
        if roll < 0.2:
            return []
        if roll < 0.35:
            held[side].append(datagram)
            return []
        out = [datagram, *held[side]]
        held[side].clear()
        return out if rng.random() < 0.5 else out[::-1]

    return tamper


@pytest.mark.parametrize("seed", range(100))
def test_random_loss_and_reordering_still_completes(seed: int) -> None:
    options = {"mtu": 300, "max_retransmissions": 12}
    client, server = make_pair(seed, client=options, server=options)
    result = run(client, server, tamper=chaos(random.Random(seed)))
    assert completed(result.client_events), result.client_events
    assert completed(result.server_events), result.server_events
    keys_agree(
        next(e for e in result.client_events if isinstance(e, HandshakeComplete)),
        next(e for e in result.server_events if isinstance(e, HandshakeComplete)),
    )


def test_application_data_overtaking_the_finished_is_delivered_after_it() -> None:
    client, server = make_pair(server={"cookie_exchange": False})
    client.start(0.0)
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.0)
    for datagram in server.datagrams_to_send(0.0):
        client.receive_datagram(datagram, 0.0)
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.0)
    assert server.state is DtlsState.CONNECTED
    final_flight = server.datagrams_to_send(0.0)
    server.send(b"early")
    (data,) = server.datagrams_to_send(0.0)
    assert parse_records(data)[0][0].epoch == 1
    client.receive_datagram(data, 0.1)
    assert client.state is DtlsState.HANDSHAKING
    assert drain(client) == []
    for datagram in final_flight:
        client.receive_datagram(datagram, 0.2)
    events = drain(client)
    assert isinstance(events[0], HandshakeComplete)
    assert events[1:] == [ApplicationData(b"early")]


def test_a_flight_we_already_answered_makes_us_answer_again() -> None:
    client, server = make_pair(server={"cookie_exchange": False})
    client.start(0.0)
    hello = client.datagrams_to_send(0.0)
    for datagram in hello:
        server.receive_datagram(datagram, 0.0)
    first = server.datagrams_to_send(0.0)
    for datagram in hello:  # the client did not get our flight and resent its hello
        server.receive_datagram(datagram, 0.5)
    assert len(server.datagrams_to_send(0.5)) == len(first)
    assert server.counters.peer_retransmissions == 1


def test_sides_answering_repetitions_with_repetitions_do_not_loop() -> None:
    """A damaged message_seq in the second ClientHello (not covered by the
    cookie) leaves both sides seeing each other's flights as old ones."""
    client, server = make_pair()

    def damage(side: str, index: int, datagram: bytes) -> list[bytes]:
        if side == "client" and index == 1:  # byte 17: high byte of message_seq
            return [datagram[:17] + bytes([datagram[17] ^ 5]) + datagram[18:]]
        return [datagram]

    result = run(client, server, tamper=damage)
    assert len(result.client_datagrams) + len(result.server_datagrams) < 60
    assert client.state is DtlsState.FAILED and server.state is DtlsState.FAILED
