"""DTLS-SRTP in offer/answer (RFC 5763, RFC 8122): UDP/TLS/RTP/SAVP with
fingerprints, the setup roles, and what fails."""

from __future__ import annotations

import pytest

from sansip.errors import RemoteProtocolError
from sansip.sdp import LocalMedia, LocalStream, NegotiationFailed, Negotiator, parse_sdp
from sansip.sdp.attributes import Fingerprint, Setup
from sansip.sdp.fingerprints import answer_setup, dtls_agreement
from sansip.sdp.sdes import Encryption

ALICE_FP = Fingerprint("sha-256", ":".join(["AA"] * 32))
BOB_FP = Fingerprint("sha-256", ":".join(["BB"] * 32))


def _side(address: str, port: int, fingerprint: Fingerprint | None,
          encryption: Encryption = Encryption.DTLS) -> Negotiator:  # fmt: skip
    stream = LocalStream(port, encryption=encryption, fingerprint=fingerprint)
    return Negotiator(LocalMedia(address, (stream,)), session_id=port)


def test_the_offerer_is_actpass_and_the_answerer_starts_the_handshake() -> None:
    alice, bob = _side("127.0.0.1", 4000, ALICE_FP), _side("127.0.0.2", 5000, BOB_FP)
    offer = alice.create_offer()
    media = offer.media[0]
    assert media.proto == "UDP/TLS/RTP/SAVP" and media.setup is Setup.ACTPASS
    assert media.fingerprint == ALICE_FP and not media.cryptos()
    bob.receive_offer(offer.to_bytes())
    answer = bob.create_answer()
    assert answer.media[0].setup is Setup.ACTIVE and answer.media[0].fingerprint == BOB_FP
    ours = alice.receive_answer(answer.to_bytes()).audio
    theirs = bob.result.audio if bob.result else None
    assert ours is not None and theirs is not None
    assert ours.dtls is not None and theirs.dtls is not None
    assert (ours.dtls.client, ours.dtls.remote_fingerprint) == (False, BOB_FP)
    assert (theirs.dtls.client, theirs.dtls.remote_fingerprint) == (True, ALICE_FP)
    assert ours.encrypted and ours.srtp is None


def test_an_active_offerer_gets_a_passive_answer_and_a_session_level_fingerprint_counts() -> None:
    alice = _side("127.0.0.1", 4000, ALICE_FP)
    text = alice.create_offer().to_bytes().decode()
    fingerprint = f"a=fingerprint:sha-256 {ALICE_FP.fingerprint}\r\n"
    text = text.replace(fingerprint, "").replace("a=setup:actpass", "a=setup:active")
    text = text.replace("t=0 0\r\n", "t=0 0\r\n" + fingerprint)  # at session level
    bob = _side("127.0.0.2", 5000, BOB_FP)
    bob.receive_offer(text.encode())
    answer = bob.create_answer()
    assert answer.media[0].setup is Setup.PASSIVE
    media = bob.result.audio if bob.result else None
    assert media is not None and media.dtls is not None
    assert (media.dtls.client, media.dtls.remote_fingerprint) == (False, ALICE_FP)


def test_a_peer_without_dtls_refuses_the_offer_and_an_answer_without_a_fingerprint_fails() -> None:
    alice = _side("127.0.0.1", 4000, ALICE_FP)
    plain = _side("127.0.0.2", 5000, None, Encryption.OFF)
    offer = alice.create_offer()
    with pytest.raises(NegotiationFailed) as refused:
        plain.receive_offer(offer.to_bytes())
    assert refused.value.warn_code == 302
    text = offer.to_bytes().decode()
    answer = text.replace(f"a=fingerprint:sha-256 {ALICE_FP.fingerprint}\r\n", "")
    answer = answer.replace("a=setup:actpass", "a=setup:active").replace("127.0.0.1", "127.0.0.2")
    with pytest.raises(NegotiationFailed) as failed:
        alice.receive_answer(answer.encode())
    assert failed.value.srtp


def test_a_dtls_phone_refuses_a_plain_offer_with_srtp_fail() -> None:
    plain = _side("127.0.0.1", 4000, None, Encryption.OFF)
    bob = _side("127.0.0.2", 5000, BOB_FP)
    with pytest.raises(NegotiationFailed) as failed:
        bob.receive_offer(plain.create_offer().to_bytes())
    assert failed.value.srtp


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("active", "active"), ("passive", "passive"), ("actpass", "actpass"), ("active", "holdconn")],
)
def test_roles_that_cannot_both_hold_are_refused(ours: str, theirs: str) -> None:
    def sdp(setup: str, fp: Fingerprint) -> str:
        return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio 4000 UDP/TLS/RTP/SAVP 0\r\na=setup:{setup}\r\n"
                f"a=fingerprint:sha-256 {fp.fingerprint}\r\n")  # fmt: skip

    local, remote = parse_sdp(sdp(ours, ALICE_FP)), parse_sdp(sdp(theirs, BOB_FP))
    with pytest.raises(RemoteProtocolError):
        dtls_agreement(local, local.media[0], remote, remote.media[0])


def test_answer_setup() -> None:
    assert answer_setup(None) is Setup.ACTIVE
    assert answer_setup(Setup.PASSIVE) is Setup.ACTIVE
    assert answer_setup(Setup.ACTIVE) is Setup.PASSIVE
