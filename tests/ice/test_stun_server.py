"""The Binding responder, alone and against the client on the simulated network."""

from __future__ import annotations

import random

import pytest

from sansip.ice import (
    ErrorCode,
    Integrity,
    MessageClass,
    Method,
    Software,
    StunAttribute,
    StunClient,
    StunClientEvent,
    StunErrorResponse,
    StunMessage,
    StunResponder,
    StunResponse,
    StunTimeout,
    UnknownAttribute,
    UnknownAttributes,
    Username,
    Verdict,
    XorMappedAddress,
    answer_binding,
    check_integrity,
    encode_message,
    parse_message,
    short_term_key,
)
from sansip.testing import SimNetwork, Simulation, VirtualClock

CLIENT = ("192.0.2.1", 50000)
CLIENT6 = ("2001:db8::1", 50001)
SERVER = ("192.0.2.10", 3478)
TID = bytes(range(12))
KEY = short_term_key("server-pass")


def keys(username: str) -> bytes | None:
    return KEY if username == "server:client" else None


def request(*attributes: StunAttribute, method: int = Method.BINDING) -> StunMessage:
    return StunMessage(method, MessageClass.REQUEST, TID, attributes)


def answered(data: bytes, source: tuple[str, int] = CLIENT, **options: object) -> StunMessage:
    wire, _ = answer_binding(data, source, **options)  # type: ignore[arg-type]
    assert wire is not None
    response = parse_message(wire)
    assert response.fingerprint_ok is True
    assert response.transaction_id == TID
    return response


@pytest.mark.parametrize("source", [CLIENT, CLIENT6])
def test_a_binding_request_gets_the_source_address(source: tuple[str, int]) -> None:
    response = answered(encode_message(request()), source, software="sansip test")
    assert response.message_class is MessageClass.SUCCESS
    assert response.attributes == (XorMappedAddress(*source), Software("sansip test"))
    assert not response.has_integrity


def test_credentials_are_checked_and_the_answer_protected() -> None:
    good = encode_message(request(Username("server:client")), key=KEY, fingerprint=True)
    response = answered(good, key_for=keys)
    assert response.message_class is MessageClass.SUCCESS
    assert check_integrity(response, KEY)
    sha256 = encode_message(request(Username("server:client")), key=KEY, integrity=Integrity.BOTH)
    assert check_integrity(answered(sha256, key_for=keys), KEY, sha256=True)


@pytest.mark.parametrize(
    ("data", "code", "verdict"),
    [
        (encode_message(request()), 400, Verdict.BAD_REQUEST),
        (encode_message(request(Username("server:client"))), 400, Verdict.BAD_REQUEST),
        (encode_message(request(), key=KEY), 400, Verdict.BAD_REQUEST),
        (encode_message(request(Username("nobody")), key=KEY), 401, Verdict.UNAUTHORIZED),
        (
            encode_message(request(Username("server:client")), key=short_term_key("x")),
            401,
            Verdict.UNAUTHORIZED,
        ),
        (encode_message(request(method=Method.ALLOCATE)), 400, Verdict.UNSUPPORTED_METHOD),
    ],
)
def test_refusals_are_error_responses(data: bytes, code: int, verdict: Verdict) -> None:
    wire, found = answer_binding(data, CLIENT, key_for=keys)
    assert found is verdict and wire is not None
    response = parse_message(wire)
    assert response.message_class is MessageClass.ERROR
    assert response.error_code is not None and response.error_code.code == code
    assert not response.has_integrity and response.fingerprint_ok


def test_unknown_comprehension_required_attributes_get_420() -> None:
    unknown = request(
        Username("server:client"), UnknownAttribute(0x0031, b"x"), UnknownAttribute(0x8031, b"")
    )
    response = answered(encode_message(unknown, key=KEY), key_for=keys)
    assert response.error_code == ErrorCode(420, "Unknown Attribute")
    assert response.get(UnknownAttributes) == UnknownAttributes((0x0031,))
    assert check_integrity(response, KEY)
    # Without credentials the check comes first: 420 only for an authenticated request.
    _, verdict = answer_binding(encode_message(unknown), CLIENT, key_for=keys)
    assert verdict is Verdict.BAD_REQUEST


def test_what_gets_no_answer() -> None:
    indication = StunMessage(Method.BINDING, MessageClass.INDICATION, TID)
    success = StunMessage(Method.BINDING, MessageClass.SUCCESS, TID)
    bad_fingerprint = bytearray(encode_message(request(), fingerprint=True))
    bad_fingerprint[-1] ^= 0xFF
    cases = [
        (b"\x80\x00" + bytes(30), CLIENT, Verdict.NOT_STUN),
        (encode_message(request())[:-4] + bytes(8), CLIENT, Verdict.MALFORMED),
        (bytes(bad_fingerprint), CLIENT, Verdict.BAD_FINGERPRINT),
        (encode_message(indication), CLIENT, Verdict.NOT_A_REQUEST),
        (encode_message(success), CLIENT, Verdict.NOT_A_REQUEST),
        (encode_message(request()), ("client.example", 5), Verdict.UNMAPPABLE),
    ]
    responder = StunResponder()
    for data, source, verdict in cases:
        assert answer_binding(data, source) == (None, verdict)
        responder.receive_datagram(data, source, 0.0)
    assert responder.datagrams_to_send(0.0) == []
    assert responder.refused == len(cases) and responder.answered == 0
    assert responder.get_timer() is None


def _simulation(seed: int, loss: float, **responder: object) -> tuple[Simulation, StunClient]:
    sim = Simulation(VirtualClock(), SimNetwork(seed=seed, delay=0.02, loss=loss))
    stun = StunClient(rng=random.Random(seed))
    sim.attach(CLIENT, stun)
    sim.attach(SERVER, StunResponder(**responder))  # type: ignore[arg-type]
    return sim, stun


def _events(stun: StunClient) -> list[StunClientEvent]:
    return list(iter(stun.next_event, None))


def test_the_client_learns_its_address_from_the_responder() -> None:
    sim, stun = _simulation(1, 0.0, software="sansip")
    tid = stun.send_request(binding_request(), SERVER, sim.now)
    assert sim.run_until_idle(deadline=60.0)
    [event] = _events(stun)
    assert isinstance(event, StunResponse) and event.transaction_id == tid
    assert event.response.get(XorMappedAddress) == XorMappedAddress(*CLIENT)
    assert event.rtt == pytest.approx(0.04) and sim.now == pytest.approx(0.04)


def test_retransmissions_get_through_a_lossy_network() -> None:
    sim, stun = _simulation(7, 0.25)  # each way: a round trip fails with p = 0.44
    for _ in range(50):
        stun.send_request(binding_request(), SERVER, sim.now)
    assert sim.run_until_idle(deadline=60.0)
    events = _events(stun)
    responses = [e for e in events if isinstance(e, StunResponse)]
    assert len(responses) == len(events) == 50  # seven failed round trips: p = 0.003
    assert {e.response.get(XorMappedAddress) for e in responses} == {XorMappedAddress(*CLIENT)}
    assert any(e.rtt is None for e in responses)  # some needed a retransmission
    sent = sim.network.stats(CLIENT, SERVER).sent
    assert 50 < sent <= 50 * 7


def test_a_dead_server_times_out_at_39_5_seconds() -> None:
    sim, stun = _simulation(3, 1.0)
    stun.send_request(binding_request(), SERVER, sim.now)
    assert sim.run_until_idle(deadline=100.0)
    [event] = _events(stun)
    assert isinstance(event, StunTimeout)
    assert sim.now == pytest.approx(39.5)
    assert sim.network.stats(CLIENT, SERVER).sent == 7


def test_short_term_credentials_end_to_end() -> None:
    sim, stun = _simulation(5, 0.0, key_for=keys)
    ok = stun.send_request(binding_request(Username("server:client")), SERVER, sim.now, key=KEY)
    wrong = stun.send_request(
        binding_request(Username("server:client")), SERVER, sim.now, key=short_term_key("guess")
    )
    assert sim.run_until_idle(deadline=60.0)
    events = {e.transaction_id: e for e in _events(stun)}
    accepted = events[ok]
    assert isinstance(accepted, StunResponse)
    assert check_integrity(accepted.response, KEY)
    refused = events[wrong]
    assert isinstance(refused, StunErrorResponse) and refused.code == 401


def binding_request(*attributes: StunAttribute) -> StunMessage:
    """A Binding request without a transaction id: the client draws one."""
    return StunMessage(Method.BINDING, MessageClass.REQUEST, b"", attributes)
