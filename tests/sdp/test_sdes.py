"""SDES (RFC 4568): SRTP keys in a=crypto, chosen and agreed through the
negotiator, with the three encryption policies and their failures."""

from __future__ import annotations

import base64
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansip.errors import RemoteProtocolError
from sansip.rtp.srtp import SrtpTransform
from sansip.sdp import (
    LocalMedia,
    LocalStream,
    NegotiationFailed,
    Negotiator,
    NegotiatorState,
    parse_sdp,
)
from sansip.sdp.attributes import Crypto
from sansip.sdp.sdes import (
    SDES_SUITES,
    Encryption,
    agreed_keys,
    answer_crypto,
    offer_cryptos,
)

CM80, CM32, GCM128 = "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"


def _keys(seed: int) -> random.Random:
    return random.Random(seed)


def _negotiator(address: str, port: int, encryption: Encryption, suites: tuple[str, ...],
                seed: int) -> Negotiator:  # fmt: skip
    crypto = offer_cryptos(suites, _keys(seed).randbytes) if suites else ()
    stream = LocalStream(port, crypto=crypto, encryption=encryption)
    return Negotiator(LocalMedia(address, (stream,)), session_id=seed)


def _line(
    tag: int, suite: str, length: int, extra: str = "", session: tuple[str, ...] = ()
) -> Crypto:
    key = base64.b64encode(bytes(range(length))).decode()
    return Crypto(tag, suite, (f"inline:{key}{extra}",), session)


def test_offered_lines_carry_a_fresh_key_per_suite() -> None:
    lines = offer_cryptos((CM80, GCM128), _keys(1).randbytes)
    assert [(c.tag, c.suite) for c in lines] == [(1, CM80), (2, GCM128)]
    keys = [base64.b64decode(c.inline_keys()[0].key_salt) for c in lines]
    assert [len(k) for k in keys] == [30, 28] and keys[0][:16] != keys[1][:16]
    with pytest.raises(ValueError, match="unknown SRTP suite"):
        offer_cryptos(("NULL_HMAC_SHA1_80",), _keys(1).randbytes)


def test_a_required_offer_is_rtp_savp_and_both_sides_agree_on_the_first_suite() -> None:
    alice = _negotiator("127.0.0.1", 4000, Encryption.MANDATORY, (CM80, CM32), 1)
    bob = _negotiator("127.0.0.2", 5000, Encryption.OPTIONAL, (CM32, CM80), 2)
    offer = alice.create_offer()
    assert offer.media[0].proto == "RTP/SAVP" and len(offer.media[0].cryptos()) == 2
    bob.receive_offer(offer.to_bytes())
    answer = bob.create_answer()
    [line] = answer.media[0].cryptos()
    assert (line.tag, line.suite, answer.media[0].proto) == (1, CM80, "RTP/SAVP")
    theirs = alice.receive_answer(answer.to_bytes()).audio
    ours = bob.result.audio if bob.result else None
    assert theirs is not None and ours is not None
    assert theirs.srtp is not None and ours.srtp is not None
    assert theirs.srtp.suite == ours.srtp.suite == CM80
    assert theirs.srtp.local_key == ours.srtp.remote_key
    assert theirs.srtp.remote_key == ours.srtp.local_key
    assert theirs.srtp.local_key != theirs.srtp.remote_key
    assert "<keys>" in repr(theirs.srtp)  # keys stay out of logs


def test_an_optional_offer_falls_back_to_plain_rtp_with_a_peer_without_srtp() -> None:
    alice = _negotiator("127.0.0.1", 4000, Encryption.OPTIONAL, (CM80,), 1)
    bob = _negotiator("127.0.0.2", 5000, Encryption.OFF, (), 2)
    offer = alice.create_offer()
    assert offer.media[0].proto == "RTP/AVP" and offer.media[0].cryptos()
    bob.receive_offer(offer.to_bytes())
    answer = bob.create_answer()
    assert not answer.media[0].cryptos()
    media = alice.receive_answer(answer.to_bytes()).audio
    assert media is not None and media.srtp is None


def test_a_peer_without_srtp_refuses_an_rtp_savp_offer() -> None:
    alice = _negotiator("127.0.0.1", 4000, Encryption.MANDATORY, (CM80,), 1)
    bob = _negotiator("127.0.0.2", 5000, Encryption.OFF, (), 2)
    with pytest.raises(NegotiationFailed) as failed:
        bob.receive_offer(alice.create_offer().to_bytes())
    assert failed.value.status == 488 and failed.value.warn_code == 302 and not failed.value.srtp


def test_srtp_required_refuses_a_plain_offer_with_srtp_fail() -> None:
    alice = _negotiator("127.0.0.1", 4000, Encryption.OFF, (), 1)
    bob = _negotiator("127.0.0.2", 5000, Encryption.MANDATORY, (CM80,), 2)
    with pytest.raises(NegotiationFailed) as failed:
        bob.receive_offer(alice.create_offer().to_bytes())
    assert failed.value.srtp and failed.value.reason.startswith("srtp fail")
    assert "SRTP required" in failed.value.warning


def test_srtp_required_refuses_an_answer_without_keys() -> None:
    alice = _negotiator("127.0.0.1", 4000, Encryption.MANDATORY, (CM80,), 1)
    offer = alice.create_offer()
    plain = offer.to_bytes().decode().replace("RTP/SAVP", "RTP/AVP")
    plain = "".join(line + "\r\n" for line in plain.split("\r\n")
                    if line and not line.startswith("a=crypto"))  # fmt: skip
    with pytest.raises(NegotiationFailed) as failed:
        alice.receive_answer(plain.replace("127.0.0.1", "127.0.0.2").encode())
    assert failed.value.srtp
    assert alice.state is NegotiatorState.LOCAL_OFFER  # unchanged, as for any failed answer


@pytest.mark.parametrize(
    "unusable",
    [_line(1, "AES_256_CM_HMAC_SHA1_80", 46), _line(1, CM80, 30, "|2^20|1:9"),
     _line(1, CM80, 30, "|300:1"),
     _line(1, CM80, 29), _line(1, CM80, 30, session=("UNENCRYPTED_SRTP",)),
     Crypto(1, CM80, ("inline:!!notbase64!!",))],
)  # fmt: skip
def test_unusable_offered_lines_are_skipped(unusable: Crypto) -> None:
    ours = offer_cryptos((CM80, CM32), _keys(3).randbytes)
    good = _line(2, CM32, 30)
    chosen = answer_crypto([unusable, good], ours)
    assert chosen is not None and (chosen.tag, chosen.suite) == (2, CM32)
    assert chosen.key_params == ours[1].key_params
    assert answer_crypto([unusable], ours) is None


def test_an_answer_naming_a_line_we_did_not_offer_is_a_400() -> None:
    ours = offer_cryptos((CM80,), _keys(3).randbytes)
    with pytest.raises(RemoteProtocolError) as bad:
        agreed_keys(ours, [_line(7, CM80, 30)])
    assert bad.value.status == 400
    with pytest.raises(RemoteProtocolError):
        agreed_keys(ours, [_line(1, CM80, 12)])  # our tag, a key of the wrong length


def test_a_crypto_line_in_a_parsed_sdp_is_read_back() -> None:
    alice = _negotiator("127.0.0.1", 4000, Encryption.MANDATORY, (GCM128,), 1)
    sdp = parse_sdp(alice.create_offer().to_bytes())
    [line] = sdp.media[0].cryptos()
    assert line.suite == GCM128 and len(base64.b64decode(line.inline_keys()[0].key_salt)) == 28


@given(
    suite=st.sampled_from([*SDES_SUITES, "F8_128_HMAC_SHA1_80", "x"]),
    key=st.text(max_size=80),
    params=st.lists(st.text(min_size=1, max_size=20).filter(lambda t: " " not in t), max_size=2),
)
def test_any_offered_line_is_answered_or_skipped_never_raising(
    suite: str, key: str, params: list[str]
) -> None:
    ours = offer_cryptos(tuple(SDES_SUITES), _keys(5).randbytes)
    offered = Crypto(1, suite, (f"inline:{key}",), tuple(params))
    chosen = answer_crypto([offered], ours)
    if chosen is not None:
        keys = agreed_keys([chosen], [offered])
        assert keys is not None and len(keys.remote_key) == SDES_SUITES[suite]


def test_an_offered_mki_is_taken_and_its_packets_unprotected() -> None:
    """RFC 4568 ``inline:key|lifetime|MKI:length``: the peer's packets carry
    the MKI, ours none; the transform built from the keys checks it."""
    ours = offer_cryptos((CM80,), _keys(3).randbytes)
    theirs = _line(1, CM80, 30, "|2^20|7:2")
    chosen = answer_crypto([theirs], ours)
    assert chosen is not None
    keys = agreed_keys([chosen], [theirs])
    assert keys is not None and (keys.remote_mki, keys.local_mki) == (b"\x00\x07", b"")
    sender = SrtpTransform(CM80, keys.remote_key, keys.local_key, mki=b"\x00\x07")
    receiver = SrtpTransform(CM80, keys.local_key, keys.remote_key, remote_mki=keys.remote_mki)
    packet = bytes([0x80, 0, 0, 1]) + bytes(8) + b"voice" * 32
    assert receiver.unprotect_rtp(sender.protect_rtp(packet)) == packet
