"""Offer/answer negotiation (RFC 3264) between sansip negotiators and real-world SDP."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.sdp import (
    Direction,
    HoldMode,
    LocalMedia,
    LocalStream,
    NegotiatedMedia,
    NegotiationFailed,
    Negotiator,
    NegotiatorState,
    SessionDescription,
    codec_preferences,
    formats_of,
    new_session_id,
    parse_sdp,
)
from tests.sdp.samples import ASTERISK_LIKE, BARESIP_LIKE, RTPENGINE_LIKE, WEBRTC_LIKE

ALICE = "192.0.2.1"
BOB = "192.0.2.2"


def negotiator(address: str = BOB, port: int = 5000, **options: Any) -> Negotiator:
    stream = LocalStream(port, **options)
    return Negotiator(LocalMedia(address, (stream,)), session_id=42)


def answer_of(offer: bytes, **options: Any) -> tuple[SessionDescription, NegotiatedMedia]:
    bob = negotiator(**options)
    bob.receive_offer(offer)
    answer = bob.create_answer()
    assert bob.state is NegotiatorState.DONE and bob.result is not None
    audio = bob.result.audio
    assert audio is not None
    return parse_sdp(answer.to_bytes()), audio


def exchange(offerer: Negotiator, answerer: Negotiator, offer: SessionDescription) -> None:
    answerer.receive_offer(offer.to_bytes())
    offerer.receive_answer(answerer.create_answer().to_bytes())


def audio(neg: Negotiator) -> NegotiatedMedia:
    assert neg.result is not None and neg.result.audio is not None
    return neg.result.audio


def test_two_negotiators_agree() -> None:
    alice, bob = negotiator(ALICE, 4000), negotiator(BOB, 5000)
    offer = alice.create_offer()
    assert alice.state is NegotiatorState.LOCAL_OFFER
    assert offer.media[0].formats == ("96", "9", "0", "8", "97", "98")
    exchange(alice, bob, offer)
    a, b = audio(alice), audio(bob)
    assert (a.codec.name, a.codec.payload_type, a.codec.clock_rate, a.codec.channels) == (
        "opus", 96, 48000, 2)  # fmt: skip
    assert "useinbandfec=1" in a.codec.fmtp
    assert [c.name for c in a.codecs] == ["opus", "G722", "PCMU", "PCMA"]
    assert (a.remote_address, a.remote_port) == (BOB, 5000)
    assert (a.remote_rtcp_address, a.remote_rtcp_port, a.rtcp_mux) == (BOB, 5001, False)
    assert (b.remote_address, b.remote_port, b.local_port) == (ALICE, 4000, 5000)
    assert a.telephone_event_pt == b.telephone_event_pt == 97  # the 48 kHz one, for opus
    assert a.cn_pt is None and a.ptime == 20
    assert a.sending and a.receiving and not a.on_hold
    assert a.local_direction is b.remote_direction is Direction.SENDRECV


def test_answer_uses_offerer_numbers_and_our_order() -> None:
    answer, result = answer_of(BARESIP_LIKE, codecs=codec_preferences(codec="pcma,pcmu"))
    media = answer.media[0]
    assert media.formats == ("8", "0", "101")
    assert media.rtpmaps()[101].encoding == "telephone-event"
    assert (result.codec.name, result.codec.payload_type) == ("PCMA", 8)
    assert [c.payload_type for c in result.codecs] == [8, 0]
    assert result.telephone_event_pt == 101
    assert (result.remote_address, result.remote_port) == ("192.168.1.20", 10004)
    assert not result.rtcp_mux and result.remote_rtcp_port == 10005


def test_answer_single_codec_and_rtcp_mux() -> None:
    answer, result = answer_of(BARESIP_LIKE, answer_all_codecs=False, rtcp_mux=True)
    # Only opus is answered; the offer has no 48 kHz telephone-event, so the 8 kHz one is used.
    assert answer.media[0].formats == ("96", "101") and answer.media[0].rtcp_mux
    assert (result.telephone_event_pt, result.telephone_event_clock_rate) == (101, 8000)
    assert result.rtcp_mux and result.remote_rtcp_port == 10004
    assert result.codec.fmtp == "stereo=1;sprop-stereo=1;useinbandfec=1"
    assert answer.media[0].fmtps()[96].get("stereo") == "0"


def test_dynamic_payload_type_is_taken_from_the_offer() -> None:
    offer = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
             b"m=audio 7000 RTP/AVP 109 0 100\r\na=rtpmap:109 OPUS/48000/2\r\n"
             b"a=rtpmap:100 telephone-event/48000\r\n")  # fmt: skip
    bob = negotiator()
    bob.receive_offer(offer)
    bob.create_answer()
    assert audio(bob).codec.payload_type == audio(bob).codec.local_payload_type == 109
    assert audio(bob).telephone_event_pt == 100
    reoffer = bob.create_offer().media[0]
    pts = {
        f.spec.name.lower() + str(f.spec.clock_rate): f.payload_type for f in formats_of(reoffer)
    }
    assert pts["opus48000"] == 109 and pts["telephone-event48000"] == 100
    assert len(set(pts.values())) == len(pts)


def test_offer_allocation_avoids_the_peers_numbers() -> None:
    offer = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
             b"m=audio 7000 RTP/AVP 96 0 101\r\na=rtpmap:96 AMR/8000\r\n"
             b"a=rtpmap:101 telephone-event/8000\r\n")  # fmt: skip
    bob = negotiator()
    bob.receive_offer(offer)
    bob.create_answer()
    formats = formats_of(bob.create_offer().media[0])
    by_name = {(f.spec.key, f.spec.clock_rate): f.payload_type for f in formats}
    assert by_name[("telephone-event", 8000)] == 101
    assert 96 not in by_name.values() and by_name[("opus", 48000)] == 97


def test_static_payload_types_without_rtpmap_and_case_insensitive_names() -> None:
    offer = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
             b"m=audio 7000 RTP/AVP 3 8 0\r\n")  # fmt: skip
    _, result = answer_of(offer, codecs=codec_preferences(codec="pcmu,pcma"))
    assert [c.name for c in result.codecs] == ["PCMU", "PCMA"]
    assert result.telephone_event_pt is None
    lower = offer.replace(b"3 8 0\r\n", b"8\r\na=rtpmap:8 pcma/8000\r\n")
    assert answer_of(lower)[1].codec.name == "PCMA"


def test_telephone_event_prefers_the_codec_clock_rate() -> None:
    offer = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
             b"m=audio 7000 RTP/AVP 0 110 101\r\na=rtpmap:110 telephone-event/48000\r\n"
             b"a=rtpmap:101 telephone-event/8000\r\n")  # fmt: skip
    answer, result = answer_of(offer)
    assert (result.telephone_event_pt, result.telephone_event_clock_rate) == (101, 8000)
    assert answer.media[0].formats == ("0", "101")
    answer, result = answer_of(offer.replace(b"0 110 101", b"0 110"))
    assert (result.telephone_event_pt, result.telephone_event_clock_rate) == (110, 48000)
    assert answer.media[0].formats == ("0", "110")
    answer, result = answer_of(ASTERISK_LIKE, telephone_event=False)
    assert result.telephone_event_pt is None and "101" not in answer.media[0].formats
    alice, bob = negotiator(ALICE, telephone_event=False), negotiator(BOB)
    exchange(alice, bob, alice.create_offer())
    assert audio(alice).telephone_event_pt is None and audio(bob).telephone_event_pt is None


def test_comfort_noise_and_remote_ptime() -> None:
    offer = ASTERISK_LIKE.replace(b"8 0 101", b"8 0 13 101").replace(b"ptime:20", b"ptime:30")
    _, result = answer_of(offer, comfort_noise=True)
    assert result.cn_pt == 13 and result.ptime == 30
    assert answer_of(offer)[1].cn_pt is None


def test_rtpengine_like_media_connection_and_rtcp() -> None:
    _, result = answer_of(RTPENGINE_LIKE)
    assert (result.remote_address, result.remote_port) == ("198.51.100.77", 30000)
    assert (result.remote_rtcp_address, result.remote_rtcp_port) == ("198.51.100.78", 30011)
    assert result.codec.name == "PCMU" and result.ptime == 30


def test_webrtc_like_offer() -> None:
    with pytest.raises(NegotiationFailed) as caught:
        answer_of(WEBRTC_LIKE)
    assert caught.value.status == 488
    assert caught.value.warning == f'302 {BOB} "Incompatible transport protocol"'
    protos = ("UDP/TLS/RTP/SAVPF",)
    answer, result = answer_of(WEBRTC_LIKE, accepted_protos=protos, rtcp_mux=True)
    first, video = answer.media
    assert first.proto == "UDP/TLS/RTP/SAVPF" and (video.media, video.port) == ("video", 0)
    assert first.formats == ("111", "9", "0", "8", "110", "126")
    assert (result.codec.name, result.codec.payload_type) == ("opus", 111)
    assert result.telephone_event_pt == 110 and result.rtcp_mux
    assert any(a.name == "fingerprint" for a in result.remote_attributes)


def test_rejected_streams_keep_order_and_count() -> None:
    offer = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
             b"m=audio 0 RTP/AVP 0\r\nm=video 7002 RTP/AVP 31\r\n"
             b"m=audio 7000 RTP/SAVP 0\r\nm=audio 7004 RTP/AVP 8\r\n"
             b"m=text 7006 RTP/AVP 98\r\n")  # fmt: skip
    bob = negotiator()
    bob.receive_offer(offer)
    answer = bob.create_answer()
    assert [(m.media, m.port) for m in answer.media] == [
        ("audio", 0), ("video", 0), ("audio", 0), ("audio", 5000), ("text", 0)]  # fmt: skip
    assert answer.media[1].formats == ("31",) and answer.media[2].proto == "RTP/SAVP"
    assert bob.result is not None and [s.index for s in bob.result.streams] == [3]
    reoffer = bob.create_offer()
    assert [(m.media, m.port) for m in reoffer.media] == [
        ("audio", 0), ("video", 0), ("audio", 0), ("audio", 5000), ("text", 0)]  # fmt: skip


@pytest.mark.parametrize(
    ("media", "code", "text"),
    [
        (b"m=audio 7000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n", 305, "Incompatible media format"),
        (b"m=video 7000 RTP/AVP 31\r\n", 304, "Media type not available"),
        (b"", 304, "Media type not available"),
        (b"m=audio 0 RTP/AVP 0\r\n", 304, "Media type not available"),
    ],
)
def test_nothing_acceptable_is_488_with_warning(media: bytes, code: int, text: str) -> None:
    offer = b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n" + media
    bob = negotiator()
    with pytest.raises(NegotiationFailed) as caught:
        bob.receive_offer(offer)
    assert isinstance(caught.value, RemoteProtocolError)
    assert caught.value.status == 488 and caught.value.warn_code == code
    assert caught.value.warning == f'{code} {BOB} "{text}"'
    assert bob.state is NegotiatorState.IDLE


def test_an_offer_of_codecs_that_cannot_run_here_is_488_saying_so() -> None:
    offer = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
             b"m=audio 7000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n"
             b"a=rtpmap:101 telephone-event/48000\r\n")  # fmt: skip
    no_opus = codec_preferences().restrict({"pcmu", "pcma", "g722", "l16"})
    bob = negotiator(codecs=no_opus)
    with pytest.raises(NegotiationFailed) as caught:
        bob.receive_offer(offer)
    assert caught.value.status == 488 and caught.value.warn_code == 305
    assert caught.value.warning == f'305 {BOB} "Incompatible media format: opus not available here"'
    assert "opus not available here" in caught.value.reason
    # An offer we cannot run for other reasons keeps the plain text.
    with pytest.raises(NegotiationFailed) as caught:
        bob.receive_offer(offer.replace(b"opus/48000/2", b"G729/8000"))
    assert caught.value.warning == f'305 {BOB} "Incompatible media format"'


def test_nothing_to_offer_names_the_codecs_that_cannot_run() -> None:
    alice = negotiator(ALICE, codecs=codec_preferences(codec="opus").restrict({"pcmu"}))
    with pytest.raises(LocalProtocolError, match="opus cannot run here"):
        alice.create_offer()


def test_warning_host_for_ipv6() -> None:
    bob = negotiator("2001:db8::5")
    with pytest.raises(NegotiationFailed) as caught:
        bob.receive_offer(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n")
    assert caught.value.warning.startswith("304 [2001:db8::5] ")


def test_bad_offer_is_400_and_keeps_state() -> None:
    bob = negotiator()
    with pytest.raises(RemoteProtocolError) as caught:
        bob.receive_offer(b"garbage")
    assert caught.value.status == 400
    no_connection = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n"
    with pytest.raises(RemoteProtocolError) as caught:
        bob.receive_offer(no_connection)
    assert caught.value.status == 400 and "c=" in caught.value.reason
    assert bob.state is NegotiatorState.IDLE


def test_hold_and_resume_with_sendonly() -> None:
    alice, bob = negotiator(ALICE, 4000), negotiator(BOB, 5000)
    exchange(alice, bob, alice.create_offer())
    hold = alice.hold()
    assert hold.media[0].direction is Direction.SENDONLY and alice.hold_mode is HoldMode.SENDONLY
    exchange(alice, bob, hold)
    assert bob.local_sdp is not None and bob.local_sdp.media[0].direction is Direction.RECVONLY
    a, b = audio(alice), audio(bob)
    assert a.local_hold and not a.remote_hold and a.sending and not a.receiving
    assert b.remote_hold and not b.local_hold and b.receiving and not b.sending
    exchange(alice, bob, alice.resume())
    a, b = audio(alice), audio(bob)
    assert a.local_direction is b.local_direction is Direction.SENDRECV
    assert not (a.on_hold or b.on_hold)


def test_inactive_hold_and_both_sides_holding() -> None:
    alice, bob = negotiator(ALICE, 4000), negotiator(BOB, 5000)
    exchange(alice, bob, alice.create_offer())
    exchange(alice, bob, alice.hold(inactive=True))
    assert audio(bob).local_direction is Direction.INACTIVE and audio(bob).remote_hold
    assert not audio(alice).remote_hold
    bob.set_hold(HoldMode.SENDONLY)
    exchange(alice, bob, alice.hold())  # sendonly offer, answerer holding too
    assert audio(bob).local_direction is Direction.INACTIVE
    assert audio(bob).local_hold and audio(bob).remote_hold
    exchange(bob, alice, bob.create_offer())  # bob re-offers sendonly; alice still holds
    assert audio(alice).local_direction is Direction.INACTIVE
    assert audio(alice).remote_hold and audio(alice).local_hold


def test_old_style_hold_with_zero_address() -> None:
    offer = ASTERISK_LIKE.replace(b"c=IN IP4 203.0.113.5", b"c=IN IP4 0.0.0.0")
    answer, result = answer_of(offer)
    assert answer.media[0].direction is Direction.RECVONLY
    assert result.remote_hold and not result.sending and result.receiving
    assert result.remote_direction is Direction.SENDONLY


def test_recvonly_offer_gets_sendonly_answer() -> None:
    offer = ASTERISK_LIKE.replace(b"a=sendrecv", b"a=recvonly")
    answer, result = answer_of(offer)
    assert answer.media[0].direction is Direction.SENDONLY
    assert not result.remote_hold and result.sending


def test_origin_versioning() -> None:
    alice, bob = negotiator(ALICE, 4000), negotiator(BOB, 5000)
    first = alice.create_offer()
    exchange(alice, bob, first)
    bob_first = bob.local_sdp
    assert bob_first is not None
    same = alice.create_offer()
    assert same.origin == first.origin and same == first
    exchange(alice, bob, same)
    assert bob.local_sdp == bob_first  # unchanged answer keeps its version
    held = alice.hold()
    assert held.origin.session_version == first.origin.session_version + 1
    exchange(alice, bob, held)
    assert bob.local_sdp is not None
    assert bob.local_sdp.origin.session_version == bob_first.origin.session_version + 1
    resumed = alice.resume()
    assert resumed.origin.session_version == first.origin.session_version + 2
    assert {o.origin.username for o in (first, held, resumed)} == {"-"}
    assert {o.origin.session_id for o in (first, held, resumed)} == {"42"}


def test_offerer_follows_the_answer_order_and_numbers() -> None:
    alice = negotiator(ALICE, 4000)
    offer = alice.create_offer()
    answer = (b"v=0\r\no=- 9 9 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n"
              b"m=audio 6000 RTP/AVP 8 0 97\r\na=rtpmap:97 telephone-event/8000\r\n"
              b"a=rtcp:6010\r\na=ptime:40\r\n")  # fmt: skip
    result = alice.receive_answer(answer)
    assert alice.state is NegotiatorState.DONE and result.remote == parse_sdp(answer)
    a = result.audio
    assert a is not None and offer.media[0].port == 4000
    assert [c.name for c in a.codecs] == ["PCMA", "PCMU"] and a.telephone_event_pt == 97
    assert (a.remote_rtcp_address, a.remote_rtcp_port, a.ptime) == ("10.1.1.1", 6010, 40)


def test_bad_answers() -> None:
    alice = negotiator(ALICE, 4000)
    alice.create_offer()
    head = b"v=0\r\no=- 9 9 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n"
    with pytest.raises(RemoteProtocolError) as caught:
        alice.receive_answer(head)
    assert caught.value.status == 400
    with pytest.raises(NegotiationFailed) as failed:
        alice.receive_answer(head + b"m=audio 0 RTP/AVP 0\r\n")
    assert failed.value.warn_code == 304
    with pytest.raises(NegotiationFailed) as failed:
        alice.receive_answer(head + b"m=audio 6000 RTP/AVP 18\r\n")
    assert failed.value.warn_code == 305
    assert alice.state is NegotiatorState.LOCAL_OFFER
    alice.cancel_offer()
    assert alice.state in (NegotiatorState.IDLE,)


def test_illegal_calls_raise_local_protocol_error() -> None:
    alice, bob = negotiator(ALICE, 4000), negotiator(BOB, 5000)
    for call in (alice.create_answer, alice.cancel_offer, alice.reject_offer):
        with pytest.raises(LocalProtocolError):
            call()
    with pytest.raises(LocalProtocolError):
        alice.receive_answer(ASTERISK_LIKE)
    offer = alice.create_offer()
    for call in (alice.create_offer, alice.hold, alice.resume, alice.create_answer):
        with pytest.raises(LocalProtocolError):
            call()
    with pytest.raises(LocalProtocolError):
        alice.receive_offer(offer)
    bob.receive_offer(offer)
    with pytest.raises(LocalProtocolError):
        bob.create_offer()
    with pytest.raises(LocalProtocolError):
        bob.receive_answer(offer)
    bob.reject_offer()
    assert bob.state is NegotiatorState.IDLE and bob.result is None


def test_reject_and_cancel_return_to_done() -> None:
    alice, bob = negotiator(ALICE, 4000), negotiator(BOB, 5000)
    exchange(alice, bob, alice.create_offer())
    previous = alice.result
    alice.hold()
    alice.cancel_offer()
    assert alice.state is NegotiatorState.DONE and alice.result is previous
    bob.receive_offer(alice.create_offer())
    bob.reject_offer()
    assert bob.state is NegotiatorState.DONE


def test_offer_with_nothing_to_offer() -> None:
    use = {"use_pcmu": 1, "use_pcma": 1, "use_g722": 0, "use_opus": 0}
    alice = negotiator(ALICE, codecs=codec_preferences(use=use))
    with pytest.raises(LocalProtocolError):
        alice.create_offer()
    assert alice.state is NegotiatorState.IDLE
    assert answer_of(ASTERISK_LIKE, codecs=alice.local_media.streams[0].codecs)[1].codec.name


def test_set_local_media_changes_the_answer_port() -> None:
    bob = negotiator()
    bob.receive_offer(ASTERISK_LIKE)
    bob.set_local_media(LocalMedia("192.0.2.99", (LocalStream(6000, ptime=None),)))
    answer = bob.create_answer()
    assert answer.media[0].port == 6000 and answer.origin.address == "192.0.2.99"
    assert answer.media[0].ptime is None


def test_session_id_from_injected_randomness() -> None:
    assert new_session_id(random.Random(1)) == new_session_id(random.Random(1))
    assert 0 <= new_session_id(random.Random(2)) < 2**62


def test_another_answer_to_the_same_offer_replaces_the_session() -> None:
    """A forked INVITE: the early media's answer first, then a 2xx from
    another fork answering the same offer otherwise (RFC 3261 §13.2.2.4)."""
    alice = negotiator(ALICE, 4000)
    offer = alice.create_offer()
    first = negotiator(BOB, 5000)
    second = negotiator("192.0.2.3", 6000, codecs=codec_preferences(codec="pcmu"))
    first.receive_offer(offer.to_bytes())
    alice.receive_answer(first.create_answer().to_bytes())
    assert audio(alice).remote_port == 5000
    second.receive_offer(offer.to_bytes())
    alice.replace_answer(second.create_answer().to_bytes())
    assert (audio(alice).remote_address, audio(alice).remote_port) == ("192.0.2.3", 6000)
    assert audio(alice).codec.name == "PCMU" and alice.state is NegotiatorState.DONE
    with pytest.raises(RemoteProtocolError):  # an unusable one leaves the session as it was
        alice.replace_answer(b"v=0\r\nnot sdp")
    assert audio(alice).remote_port == 6000 and alice.state is NegotiatorState.DONE
    exchange(first, alice, first.create_offer())  # the peer offered since: nothing to re-answer
    with pytest.raises(LocalProtocolError):
        alice.replace_answer(second.create_answer().to_bytes())
