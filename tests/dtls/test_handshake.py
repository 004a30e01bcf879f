"""DTLS 1.2 client and server in memory: the handshake, its options and
what they agree on (RFC 6347, RFC 5764, RFC 7627)."""

from __future__ import annotations

import random

import pytest

from sansip.dtls import (
    CIPHER_SUITES,
    SRTP_PROFILES,
    AlertDescription,
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    DtlsClient,
    DtlsServer,
    DtlsState,
    HandshakeComplete,
    HandshakeFailed,
    NamedGroup,
)
from sansip.dtls.records import parse_records
from sansip.dtls.suites import ContentType, HandshakeType
from sansip.errors import LocalProtocolError
from tests.dtls.helpers import drain, ecdsa_certificate, make_pair, rsa_certificate, run


def completes(events: list[object]) -> HandshakeComplete:
    done = [e for e in events if isinstance(e, HandshakeComplete)]
    assert len(done) == 1, events
    return done[0]


def test_handshake_agrees_on_keys_and_authenticates_both_sides() -> None:
    client, server = make_pair()
    result = run(client, server)
    c, s = completes(result.client_events), completes(result.server_events)
    assert client.state is server.state is DtlsState.CONNECTED
    assert c.cipher_suite == s.cipher_suite == CIPHER_SUITES[0]
    assert c.srtp_profile == s.srtp_profile == SRTP_PROFILES[0]
    assert c.srtp_keying_material == s.srtp_keying_material
    assert c.srtp_keying_material is not None and len(c.srtp_keying_material) == 60
    assert c.peer_fingerprint == ecdsa_certificate(2).fingerprint
    assert s.peer_fingerprint == ecdsa_certificate(1).fingerprint
    assert client.export_keying_material("EXPERIMENTAL-x", 40, b"ctx") == (
        server.export_keying_material("EXPERIMENTAL-x", 40, b"ctx")
    )
    assert client.export_keying_material("a", 16) != client.export_keying_material("b", 16)
    assert result.now == 0.0  # nothing lost: no timer fired
    assert client.get_timer() is None and server.get_timer() is None


def test_application_data_both_ways_and_close_notify() -> None:
    client, server = make_pair()
    run(client, server)
    client.send(b"ping")
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.0)
    assert drain(server) == [ApplicationData(b"ping")]
    server.send(b"pong")
    for datagram in server.datagrams_to_send(0.0):
        client.receive_datagram(datagram, 0.0)
    assert drain(client) == [ApplicationData(b"pong")]
    client.close()
    assert drain(client) == [ConnectionClosed("closed locally")]
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.0)
    assert drain(server) == [AlertReceived(1, 0), ConnectionClosed("close_notify")]
    assert server.state is DtlsState.CLOSED and client.state is DtlsState.CLOSED
    with pytest.raises(LocalProtocolError):
        client.send(b"late")


def test_commands_in_the_wrong_state_raise() -> None:
    client, _server = make_pair()
    with pytest.raises(LocalProtocolError):
        client.send(b"early")
    with pytest.raises(LocalProtocolError):
        client.export_keying_material("EXTRACTOR-dtls_srtp", 60)
    client.start(0.0)
    with pytest.raises(LocalProtocolError):
        client.start(0.0)


@pytest.mark.parametrize("suite", CIPHER_SUITES, ids=lambda s: s.name)
def test_each_cipher_suite(suite: object) -> None:
    certificate = rsa_certificate() if "RSA" in suite.name else ecdsa_certificate(2)  # type: ignore[attr-defined]
    client, server = make_pair(
        server_certificate=certificate,
        client={"cipher_suites": [suite]},
    )
    result = run(client, server)
    assert completes(result.client_events).cipher_suite == suite
    assert completes(result.server_events).cipher_suite == suite
    assert client.export_keying_material("x", 32) == server.export_keying_material("x", 32)


def test_rsa_client_certificate() -> None:
    client, server = make_pair(client_certificate=rsa_certificate())
    result = run(client, server)
    assert completes(result.server_events).peer_fingerprint == rsa_certificate().fingerprint


@pytest.mark.parametrize("group", list(NamedGroup), ids=lambda g: g.name)
def test_each_group(group: NamedGroup) -> None:
    client, server = make_pair(client={"groups": [group]})
    result = run(client, server)
    completes(result.client_events)
    completes(result.server_events)


@pytest.mark.parametrize("profile", SRTP_PROFILES, ids=lambda p: p.name)
def test_each_srtp_profile(profile: object) -> None:
    client, server = make_pair(client={"srtp_profiles": [profile]})
    result = run(client, server)
    c, s = completes(result.client_events), completes(result.server_events)
    assert c.srtp_profile == s.srtp_profile == profile
    assert c.srtp_keying_material == s.srtp_keying_material
    assert c.srtp_keying_material is not None
    assert len(c.srtp_keying_material) == profile.keying_material_length  # type: ignore[attr-defined]


def test_server_preference_and_no_common_srtp_profile() -> None:
    client, server = make_pair(
        client={"srtp_profiles": SRTP_PROFILES[::-1]},
        server={"srtp_profiles": SRTP_PROFILES[2:3]},
    )
    assert completes(run(client, server).client_events).srtp_profile == SRTP_PROFILES[2]
    client, server = make_pair(client={"srtp_profiles": []})
    c = completes(run(client, server).client_events)
    assert c.srtp_profile is None and c.srtp_keying_material is None


def test_hello_verify_request_cookie_exchange() -> None:
    client, server = make_pair()
    result = run(client, server)
    first_answer = parse_records(result.server_datagrams[0])[0][0]
    assert first_answer.content_type == ContentType.HANDSHAKE
    assert first_answer.fragment[0] == HandshakeType.HELLO_VERIFY_REQUEST
    # the second ClientHello carries the cookie and message_seq 1
    second_hello = parse_records(result.client_datagrams[1])[0][0].fragment
    assert second_hello[0] == HandshakeType.CLIENT_HELLO and second_hello[4:6] == b"\x00\x01"
    completes(result.client_events)


def test_without_cookie_exchange_the_server_answers_at_once() -> None:
    client, server = make_pair(server={"cookie_exchange": False})
    result = run(client, server)
    first_answer = parse_records(result.server_datagrams[0])[0][0]
    assert first_answer.fragment[0] == HandshakeType.SERVER_HELLO
    completes(result.server_events)


def test_a_forged_cookie_gets_a_new_hello_verify_request() -> None:
    client, server = make_pair()

    def forge(side: str, index: int, datagram: bytes) -> list[bytes]:
        if side == "server" and index == 0:  # the HelloVerifyRequest: corrupt its cookie
            return [datagram[:-1] + bytes([datagram[-1] ^ 1])]
        return [datagram]

    result = run(client, server, tamper=forge)
    second_answer = parse_records(result.server_datagrams[1])[0][0]
    assert second_answer.fragment[0] == HandshakeType.HELLO_VERIFY_REQUEST
    completes(result.client_events)
    completes(result.server_events)


def test_same_seeds_same_handshake_bytes() -> None:
    first = run(*make_pair(seed=3))
    second = run(*make_pair(seed=3))
    assert first.client_datagrams == second.client_datagrams
    assert first.server_datagrams == second.server_datagrams
    assert run(*make_pair(seed=4)).client_datagrams[0] != first.client_datagrams[0]


def test_client_rejects_a_wrong_server_fingerprint() -> None:
    client, server = make_pair(client={"expected_fingerprint": ecdsa_certificate(9).fingerprint})
    result = run(client, server)
    assert result.client_events == [HandshakeFailed("fingerprint mismatch")]
    assert result.server_events == [
        AlertReceived(2, 42),
        HandshakeFailed("alert bad_certificate"),
    ]
    assert client.state is server.state is DtlsState.FAILED
    assert client.get_timer() is None and server.get_timer() is None


def test_server_rejects_a_wrong_client_fingerprint() -> None:
    client, server = make_pair(server={"expected_fingerprint": "sha-256 00:11"})
    result = run(client, server)
    assert result.server_events == [HandshakeFailed("fingerprint mismatch")]
    assert result.client_events[-1] == HandshakeFailed("alert bad_certificate")


def test_fingerprint_check_ignores_case_and_accepts_any_of_several() -> None:
    expected = ecdsa_certificate(2).fingerprint.lower().replace("sha-256", "SHA-256")
    client, server = make_pair(
        client={"expected_fingerprint": ["sha-1 00", expected]},
        server={"expected_fingerprint": None},
    )
    result = run(client, server)
    completes(result.client_events)
    assert completes(result.server_events).peer_certificate is not None


def test_server_without_a_common_suite_fails_the_handshake() -> None:
    ecdsa_only = [s for s in CIPHER_SUITES if "ECDSA" in s.name]
    client, server = make_pair(server_certificate=rsa_certificate(),
                               client={"cipher_suites": ecdsa_only})  # fmt: skip
    result = run(client, server)
    assert result.server_events == [HandshakeFailed("no cipher suite in common")]
    assert result.client_events[-1] == HandshakeFailed("alert handshake_failure")


def test_rng_is_the_only_randomness_of_the_hello() -> None:
    certificate = ecdsa_certificate(1)
    client = DtlsClient(certificate, rng=random.Random(5))
    server = DtlsServer(ecdsa_certificate(2), rng=random.Random(6), cookie_exchange=False)
    client.start(0.0)
    hello = client.datagrams_to_send(0.0)
    assert len(hello) == 1
    for datagram in hello:
        server.receive_datagram(datagram, 0.0)
    assert server.state is DtlsState.HANDSHAKING
    assert server.client_random == client.client_random


def test_an_out_of_order_message_fails_the_handshake_with_an_alert() -> None:
    from sansip.dtls.fragments import encode_handshake
    from sansip.dtls.records import encode_record

    client, _server = make_pair()
    client.start(0.0)
    client.datagrams_to_send(0.0)
    hello_done = encode_handshake(HandshakeType.SERVER_HELLO_DONE, 0, b"")
    client.receive_datagram(encode_record(ContentType.HANDSHAKE, 0, 0, hello_done), 0.1)
    assert drain(client) == [
        HandshakeFailed("unexpected SERVER_HELLO_DONE waiting for hello"),
    ]
    (alert,) = client.datagrams_to_send(0.1)
    assert alert == encode_record(ContentType.ALERT, 0, 1, bytes((2, 10)))
    assert client.get_timer() is None


def test_a_malformed_message_is_a_decode_error() -> None:
    from sansip.dtls.fragments import encode_handshake
    from sansip.dtls.records import encode_record

    client, _server = make_pair()
    client.start(0.0)
    bad_hello = encode_handshake(HandshakeType.SERVER_HELLO, 0, b"\xfe\xfd\x00")
    client.receive_datagram(encode_record(ContentType.HANDSHAKE, 0, 0, bad_hello), 0.1)
    assert drain(client) == [HandshakeFailed("malformed SERVER_HELLO")]
    assert client.datagrams_to_send(0.1)[-1].endswith(bytes((2, 50)))


def test_closing_during_the_handshake() -> None:
    client, server = make_pair(server={"cookie_exchange": False})
    client.start(0.0)
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.0)
    client.close()
    assert drain(client) == [HandshakeFailed("closed locally")]
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.0)
    assert drain(server) == [AlertReceived(1, 0), HandshakeFailed("close_notify")]
    assert server.get_timer() is None


def test_a_fatal_alert_after_the_handshake_closes_the_connection() -> None:
    client, server = make_pair()
    run(client, server)
    server._fail(AlertDescription.INTERNAL_ERROR, "test")  # the server aborts
    assert drain(server) == [ConnectionClosed("test")]
    for datagram in server.datagrams_to_send(0.0):
        client.receive_datagram(datagram, 0.0)
    assert drain(client) == [AlertReceived(2, 80), ConnectionClosed("alert internal_error")]
    assert client.state is DtlsState.FAILED


def test_unprotected_alerts_after_the_handshake_are_ignored() -> None:
    from sansip.dtls.records import encode_record

    client, server = make_pair()
    run(client, server)
    client.receive_datagram(encode_record(ContentType.ALERT, 0, 99, bytes((2, 40))), 1.0)
    assert client.state is DtlsState.CONNECTED
    assert client.counters.dropped_epoch == 1


def test_a_new_handshake_after_completion_is_ignored() -> None:
    client, server = make_pair()
    run(client, server)
    other, _ = make_pair(seed=99)
    other.start(1.0)
    for datagram in other.datagrams_to_send(1.0):
        server.receive_datagram(datagram, 1.0)
    assert server.state is DtlsState.CONNECTED
    assert drain(server) == []


def test_events_are_bounded() -> None:
    client, server = make_pair(server={"max_events": 3})
    run(client, server)
    for n in range(5):
        client.send(bytes([n]))
    for datagram in client.datagrams_to_send(0.0):
        server.receive_datagram(datagram, 0.0)
    assert drain(server) == [ApplicationData(bytes([n])) for n in range(3)]
    assert server.counters.dropped_events == 2


def test_the_cookie_is_stateless_and_bound_to_its_context() -> None:
    def server_with(context: bytes) -> DtlsServer:
        return make_pair(server={"cookie_secret": b"k" * 32, "cookie_context": context})[1]

    client, first = make_pair(server={"cookie_secret": b"k" * 32, "cookie_context": b"a:1"})
    client.start(0.0)
    for datagram in client.datagrams_to_send(0.0):
        first.receive_datagram(datagram, 0.0)
    for datagram in first.datagrams_to_send(0.0):
        client.receive_datagram(datagram, 0.0)
    hello_with_cookie = client.datagrams_to_send(0.0)
    same, other = server_with(b"a:1"), server_with(b"b:2")
    for server in (same, other):
        for datagram in hello_with_cookie:
            server.receive_datagram(datagram, 0.0)
    answer = parse_records(same.datagrams_to_send(0.0)[0])[0][0].fragment[0]
    assert answer == HandshakeType.SERVER_HELLO
    answer = parse_records(other.datagrams_to_send(0.0)[0])[0][0].fragment[0]
    assert answer == HandshakeType.HELLO_VERIFY_REQUEST


@pytest.mark.parametrize("version", [0xFEFF, 0x0303])
def test_server_refuses_a_client_without_dtls_1_2(version: int) -> None:
    from sansip.dtls.fragments import encode_handshake
    from sansip.dtls.messages import ClientHello
    from sansip.dtls.records import encode_record

    _client, server = make_pair(server={"cookie_exchange": False})
    hello = ClientHello(bytes(32), cipher_suites=(0xC02B,), version=version).encode()
    record = encode_record(ContentType.HANDSHAKE, 0, 0, encode_handshake(1, 0, hello))
    server.receive_datagram(record, 0.0)
    assert drain(server) == [HandshakeFailed("client does not offer DTLS 1.2")]
    assert server.datagrams_to_send(0.0)[-1].endswith(bytes((2, 70)))


@pytest.mark.parametrize(
    ("extensions", "reason"),
    [
        ([(0xFF01, b"\x00")], "client does not offer the extended master secret"),
        ([(23, b""), (0xFF01, b"\x01\x00")], "bad renegotiation_info"),
    ],
)
def test_server_requires_extended_master_secret_and_a_first_handshake(
    extensions: list[tuple[int, bytes]], reason: str
) -> None:
    from sansip.dtls.fragments import encode_handshake
    from sansip.dtls.messages import ClientHello
    from sansip.dtls.records import encode_record

    _client, server = make_pair(server={"cookie_exchange": False})
    hello = ClientHello(bytes(32), cipher_suites=(0xC02B,), extensions=extensions).encode()
    record = encode_record(ContentType.HANDSHAKE, 0, 0, encode_handshake(1, 0, hello))
    server.receive_datagram(record, 0.0)
    assert drain(server) == [HandshakeFailed(reason)]
    assert server.datagrams_to_send(0.0)[-1].endswith(bytes((2, 40)))


@pytest.mark.parametrize(
    ("suite", "extensions", "alert", "reason"),
    [
        (0xC02B, [(0xFF01, b"\x00")], 40, "server does not support the extended master secret"),
        (0x002F, [(23, b"")], 47, "server chose a cipher suite not offered"),
        (0xC02B, [(23, b""), (14, b"\x00\x02\x00\x05\x00")], 47,
         "server chose an SRTP profile not offered"),
        (0xC02B, [(23, b""), (0x1234, b"")], 110, "server sent extension 4660 not offered"),
    ],
)  # fmt: skip
def test_client_checks_the_server_hello(
    suite: int, extensions: list[tuple[int, bytes]], alert: int, reason: str
) -> None:
    from sansip.dtls.fragments import encode_handshake
    from sansip.dtls.messages import ServerHello
    from sansip.dtls.records import encode_record

    client, _server = make_pair()
    client.start(0.0)
    client.datagrams_to_send(0.0)
    hello = ServerHello(bytes(32), b"", suite, 0, extensions).encode()
    record = encode_record(ContentType.HANDSHAKE, 0, 0, encode_handshake(2, 0, hello))
    client.receive_datagram(record, 0.1)
    assert drain(client) == [HandshakeFailed(reason)]
    assert client.datagrams_to_send(0.1)[-1].endswith(bytes((2, alert)))
