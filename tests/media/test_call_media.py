"""Two calls' media wired back to back on a virtual clock: offer/answer,
audio both ways (each side hears the other's tone), RFC 4733 DTMF, hold and
resume, and loss on the way — for every codec sansip has."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sansip.audio.analysis import dominant_frequency, rms_dbfs
from sansip.audio.codecs import available_codecs
from sansip.audio.frames import CollectSink
from sansip.audio.tones import ToneSource
from sansip.dtls import DtlsCertificate, generate_certificate
from sansip.media import FRAME_DURATION, CallMedia
from sansip.media.security import EncryptionFailed, SplitTransform
from sansip.rtp import Bye, DtmfReceived, is_rtcp, parse_rtcp
from sansip.rtp.srtp import SrtpTransform
from sansip.sdp import NegotiationFailed, codec_preferences
from sansip.sdp.sdes import Encryption

ALICE_PORT, BOB_PORT = 40000, 42000
ALICE_HZ, BOB_HZ = 440.0, 1000.0


class Link:
    """Both sides, a virtual clock ticking every 20 ms, and a network that
    delivers after ``delay`` seconds and drops a seeded share of packets."""

    def __init__(self, codec: str, *, loss: float = 0.0, delay: float = 0.03, rate: int = 16000,
                 bob_codec: str | None = None, encryption: Encryption = Encryption.OFF,
                 certificates: tuple[DtlsCertificate, DtlsCertificate] | None = None,
                 ) -> None:  # fmt: skip
        self.now = 0.0
        self.loss, self.delay = loss, delay
        self.random = random.Random(7)
        self.in_flight: list[tuple[float, bytes, tuple[str, int], tuple[str, int]]] = []
        self.heard = {
            "alice": CollectSink(max_frames=100_000),
            "bob": CollectSink(max_frames=100_000),
        }
        self.rate = rate

        def side(name: str, port: int, hz: float, prefs: str,
                 certificate: DtlsCertificate | None) -> CallMedia:  # fmt: skip
            return CallMedia("127.0.0.1", port, codec_preferences(codec=prefs),
                             rng=random.Random(port), source=ToneSource(hz, rate),
                             sink=self.heard[name], sample_rate=rate,
                             encryption=encryption, certificate=certificate)  # fmt: skip

        ours, theirs = certificates or (None, None)
        self.alice = side("alice", ALICE_PORT, ALICE_HZ, codec, ours)
        self.bob = side("bob", BOB_PORT, BOB_HZ, bob_codec or codec, theirs)
        self.bob_digits: list[str] = []
        self.bob_events: list[object] = []

    def connect(self) -> None:
        answer = self.bob.answer(self.alice.offer(), self.now)
        self.alice.receive_answer(answer, self.now)

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = round(self.now + FRAME_DURATION, 6)
            for media, port in ((self.alice, ALICE_PORT), (self.bob, BOB_PORT)):
                stream = media.stream
                assert stream is not None
                stream.handle_timer(self.now)
                stream.tick(self.now)
                for data, dest in stream.datagrams_to_send(self.now):
                    source_port = port + 1 if is_rtcp(data) and dest[1] % 2 else port
                    if self.random.random() >= self.loss:
                        self.in_flight.append((self.now + self.delay, data,
                                               ("127.0.0.1", source_port), dest))  # fmt: skip
            due = [p for p in self.in_flight if p[0] <= self.now]
            self.in_flight = [p for p in self.in_flight if p[0] > self.now]
            for _, data, src, dest in due:
                media = self.alice if dest[1] in (ALICE_PORT, ALICE_PORT + 1) else self.bob
                assert media.stream is not None
                media.stream.receive_datagram(data, src, self.now, rtcp=dest[1] % 2 == 1)
            assert self.bob.stream is not None
            while (event := self.bob.stream.next_event()) is not None:
                self.bob_events.append(event)
                if isinstance(event, DtmfReceived):
                    self.bob_digits.append(event.digit)

    def last(self, name: str, seconds: float) -> np.ndarray:
        samples = self.heard[name].samples()
        return samples[-round(seconds * self.rate) :]


CODECS = [c for c in ("PCMU", "PCMA", "G722", "opus") if c.lower() in
          {a.lower() for a in available_codecs()}]  # fmt: skip


@pytest.mark.parametrize("codec", CODECS)
def test_each_side_hears_the_other(codec: str) -> None:
    link = Link(codec)
    link.connect()
    assert link.alice.stream is not None and link.alice.stream.codec.lower() == codec.lower()
    link.run(1.5)
    assert dominant_frequency(link.last("alice", 1.0), link.rate) == pytest.approx(BOB_HZ, abs=15)
    assert dominant_frequency(link.last("bob", 1.0), link.rate) == pytest.approx(ALICE_HZ, abs=15)
    stats = link.bob.stream.statistics(link.now)  # type: ignore[union-attr]
    assert stats.rtp.packets_received >= 70 and stats.rtp.packets_lost == 0
    assert stats.frames_played >= 60


def test_audio_survives_ten_percent_loss_with_concealment() -> None:
    link = Link("PCMU", loss=0.10)
    link.connect()
    link.run(3.0)
    stats = link.bob.stream.statistics(link.now)  # type: ignore[union-attr]
    assert stats.rtp.packets_lost > 5 and stats.frames_concealed > 5
    assert dominant_frequency(link.last("bob", 2.0), link.rate) == pytest.approx(ALICE_HZ, abs=15)


def test_dtmf_reaches_the_other_side_once_per_digit() -> None:
    link = Link("PCMU")
    link.connect()
    link.run(0.5)
    link.alice.stream.send_dtmf("1234#", link.now)  # type: ignore[union-attr]
    link.run(2.0)
    assert "".join(link.bob_digits) == "1234#"


def test_hold_stops_the_audio_and_resume_brings_it_back() -> None:
    link = Link("PCMU")
    link.connect()
    link.run(1.0)
    answer = link.bob.answer(link.alice.hold(), link.now)
    link.alice.receive_answer(answer, link.now)
    assert link.alice.on_hold and link.bob.on_hold
    link.run(1.0)
    assert rms_dbfs(link.last("bob", 0.6)) < -60  # alice holds: she sends silence
    assert rms_dbfs(link.last("alice", 0.6)) < -60  # bob answered recvonly: he sends nothing
    link.alice.receive_answer(link.bob.answer(link.alice.resume(), link.now), link.now)
    link.run(1.0)
    assert dominant_frequency(link.last("bob", 0.5), link.rate) == pytest.approx(ALICE_HZ, abs=15)
    assert dominant_frequency(link.last("alice", 0.5), link.rate) == pytest.approx(BOB_HZ, abs=15)


def test_no_common_codec_is_488_with_a_warning() -> None:
    link = Link("PCMU", bob_codec="PCMA")
    with pytest.raises(NegotiationFailed) as failure:
        link.connect()
    assert failure.value.status == 488 and failure.value.warning
    assert link.bob.stream is None


def test_a_reoffer_with_another_codec_switches_the_stream() -> None:
    link = Link("PCMU,PCMA")
    link.connect()
    link.run(0.5)
    assert link.alice.stream is not None and link.alice.stream.codec == "PCMU"
    # Bob re-offers with only PCMA.
    bob = CallMedia("127.0.0.1", BOB_PORT, codec_preferences(codec="PCMA"),
                    rng=random.Random(3), source=ToneSource(BOB_HZ, link.rate),
                    sink=link.heard["bob"], sample_rate=link.rate)  # fmt: skip
    old_ssrc = link.alice.stream.rtp.ssrc
    link.alice.answer(bob.offer(), link.now)
    assert link.alice.stream.codec == "PCMA"
    # The old source's BYE goes out before anything of the new one (RFC 3550 §6.6).
    out = link.alice.stream.datagrams_to_send(link.now)
    byes = [p for data, _ in out if is_rtcp(data) for p in parse_rtcp(data) if isinstance(p, Bye)]
    assert byes and old_ssrc in byes[0].ssrcs
    assert link.alice.stream.rtp.ssrc != old_ssrc


def _srtp(media: CallMedia) -> SrtpTransform | SplitTransform:
    assert media.stream is not None
    transform = media.stream.rtp.transform
    assert isinstance(transform, SrtpTransform | SplitTransform)
    return transform


def test_srtp_carries_the_audio_and_a_reoffer_rekeys_it() -> None:
    """SDES-keyed SRTP both ways; then bob re-offers with fresh keys (a new
    CallMedia on the same port): both streams take the new keys and each
    side still hears the other."""
    link = Link("PCMU", encryption=Encryption.MANDATORY)
    link.connect()
    assert link.alice.encrypted and link.bob.encrypted
    link.run(1.0)
    first = _srtp(link.alice)
    assert dominant_frequency(link.last("bob", 0.5), link.rate) == pytest.approx(ALICE_HZ, abs=15)
    bob = CallMedia("127.0.0.1", BOB_PORT, codec_preferences(codec="PCMU"),
                    rng=random.Random(99), source=ToneSource(BOB_HZ, link.rate),
                    sink=link.heard["bob"], sample_rate=link.rate,
                    encryption=Encryption.MANDATORY)  # fmt: skip
    bob.receive_answer(link.alice.answer(bob.offer(), link.now), link.now)
    link.bob = bob
    assert _srtp(link.alice) is not first  # re-keyed
    link.run(1.0)
    assert dominant_frequency(link.last("alice", 0.5), link.rate) == pytest.approx(BOB_HZ, abs=15)
    assert dominant_frequency(link.last("bob", 0.5), link.rate) == pytest.approx(ALICE_HZ, abs=15)
    # Only what was in flight under the old keys (30 ms: a packet or two
    # and an RTCP) is dropped by alice's new context.
    assert _srtp(link.alice).dropped_total <= 3 and _srtp(link.bob).dropped_total == 0


def _certificates() -> tuple[DtlsCertificate, DtlsCertificate]:
    return generate_certificate(random.Random(1)), generate_certificate(random.Random(2))


def test_dtls_srtp_keys_the_audio_after_a_handshake_on_the_media_path() -> None:
    """UDP/TLS/RTP/SAVP: bob (the answerer, active) starts the DTLS handshake
    on the RTP port; once keyed both sides talk SRTP and hear each other;
    nothing went out in plain RTP before."""
    link = Link("PCMU", encryption=Encryption.DTLS, certificates=_certificates())
    link.connect()
    assert not link.alice.encrypted  # keys come from the handshake
    link.run(2.0)
    assert link.alice.encrypted and link.bob.encrypted
    # No rtcp-mux: RTCP got keys from its own association on the RTCP ports.
    assert isinstance(_srtp(link.alice), SplitTransform)
    assert isinstance(_srtp(link.bob), SplitTransform)
    assert _srtp(link.alice).dropped_total == 0 and _srtp(link.bob).dropped_total == 0
    link.run(6.0)  # long enough for RTCP reports both ways
    for media in (link.alice, link.bob):
        stats = media.stream.statistics(link.now)  # type: ignore[union-attr]
        assert stats.rtp.rtcp_received > 0 and stats.rtp.rtt is not None
    assert _srtp(link.alice).dropped_total == 0 and _srtp(link.bob).dropped_total == 0
    assert dominant_frequency(link.last("alice", 0.5), link.rate) == pytest.approx(BOB_HZ, abs=15)
    assert dominant_frequency(link.last("bob", 0.5), link.rate) == pytest.approx(ALICE_HZ, abs=15)


def test_a_dtls_certificate_that_is_not_the_fingerprint_fails_the_stream() -> None:
    ours, theirs = _certificates()
    link = Link("PCMU", encryption=Encryption.DTLS, certificates=(ours, theirs))
    offer = link.alice.offer()
    answer = link.bob.answer(offer, link.now)
    impostor = generate_certificate(random.Random(3)).fingerprint.split(" ")[1]
    forged = answer.replace(theirs.fingerprint.split(" ")[1].encode(), impostor.encode())
    link.alice.receive_answer(forged, link.now)
    link.run(2.0)
    assert link.alice.stream is not None and not link.alice.encrypted
    events = []
    while (event := link.alice.stream.next_event()) is not None:
        events.append(event)
    failures = [e.reason for e in events if isinstance(e, EncryptionFailed)]
    assert failures == ["fingerprint mismatch"]
    assert rms_dbfs(link.last("bob", 1.0)) < -60  # not a frame of the tone reached bob
    assert rms_dbfs(link.last("alice", 1.0)) < -60


def test_a_dtls_peer_that_goes_silent_fails_the_stream_after_the_retransmissions() -> None:
    """Nothing arrives: bob (the DTLS client) retransmits into the void and
    gives up after the retransmission limit, alice (the server, waiting for
    a ClientHello) at the handshake deadline; on the virtual clock, with a
    clear reason."""
    link = Link("PCMU", encryption=Encryption.DTLS, certificates=_certificates(), loss=1.0)
    link.connect()
    link.run(130.0)  # 6 retransmissions 1, 2, 4 ... 32 s apart, then 60 s more: the limit
    assert link.alice.stream is not None
    assert [e.reason for e in link.bob_events if isinstance(e, EncryptionFailed)] == ["timeout"]
    theirs = []
    while (event := link.alice.stream.next_event()) is not None:
        theirs.append(event)
    assert [e.reason for e in theirs if isinstance(e, EncryptionFailed)] == ["timeout"]
    assert not link.alice.encrypted and not link.bob.encrypted
