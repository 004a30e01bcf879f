"""Parsing and serializing SDP bodies (RFC 8866)."""

from __future__ import annotations

import pytest

from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    SessionDescription,
    Setup,
    Timing,
    parse_sdp,
    serialize_sdp,
)
from tests.sdp.samples import (
    ALL_SAMPLES,
    ASTERISK_LIKE,
    BARESIP_LIKE,
    RTPENGINE_LIKE,
    SDES_LIKE,
    WEBRTC_LIKE,
)


@pytest.mark.parametrize("body", ALL_SAMPLES)
def test_samples_round_trip(body: bytes) -> None:
    sdp = parse_sdp(body)
    wire = serialize_sdp(sdp)
    assert wire.endswith(b"\r\n") and b"\n" not in wire.replace(b"\r\n", b"")
    assert parse_sdp(wire) == sdp
    # Every input line survives (order within a section is the RFC order).
    assert sorted(wire.decode().split("\r\n")[:-1]) == sorted(
        line.rstrip("\r") for line in body.decode().split("\n") if line.strip()
    )


def test_lf_and_crlf_give_the_same_model() -> None:
    assert parse_sdp(BARESIP_LIKE) == parse_sdp(BARESIP_LIKE.replace(b"\n", b"\r\n"))
    assert parse_sdp(BARESIP_LIKE.decode()) == parse_sdp(BARESIP_LIKE)


def test_baresip_like_fields() -> None:
    sdp = parse_sdp(BARESIP_LIKE)
    assert sdp.origin == Origin("-", "1743210987", 1743210988, "IN", "IP4", "192.168.1.20")
    assert sdp.connection == Connection("IN", "IP4", "192.168.1.20")
    assert sdp.attribute("tool") == Attribute("tool", "softphone 3.10")
    (audio,) = sdp.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 10004, "RTP/AVP")
    assert audio.formats == ("96", "9", "0", "8", "101")
    assert audio.bandwidths == (Bandwidth("AS", 128),)
    assert audio.rtpmaps()[96].encoding == "opus" and audio.rtpmaps()[96].channels == 2
    fmtp = audio.fmtps()[96]
    assert fmtp.get("USEINBANDFEC") == "1" and fmtp.get("maxplaybackrate") is None
    assert audio.fmtps()[101].params == (("0-15", None),)
    assert audio.rtcp_mux and audio.direction is Direction.SENDRECV
    ssrcs = audio.ssrcs()
    assert [(s.ssrc, s.attribute) for s in ssrcs] == [(3735928559, "cname"), (3735928559, "msid")]
    assert ssrcs[1].value == "- audio0"


def test_asterisk_like_fields() -> None:
    audio = parse_sdp(ASTERISK_LIKE).media[0]
    assert (audio.ptime, audio.maxptime) == (20, 150)
    assert audio.payload_types == [8, 0, 101]


def test_rtpengine_like_media_connection_and_rtcp() -> None:
    sdp = parse_sdp(RTPENGINE_LIKE)
    audio = sdp.media[0]
    assert sdp.connection_for(audio) == Connection("IN", "IP4", "198.51.100.77")
    rtcp = audio.rtcp
    assert rtcp is not None and (rtcp.port, rtcp.address) == (30011, "198.51.100.78")
    assert audio.ptime == 30


def test_webrtc_like_typed_attributes() -> None:
    sdp = parse_sdp(WEBRTC_LIKE)
    assert [(g.semantics, g.mids) for g in sdp.groups()] == [("BUNDLE", ("0", "1"))]
    audio, video = sdp.media
    assert audio.mid == "0" and video.mid == "1"
    assert audio.ice_ufrag == "Oyef" and audio.ice_pwd == "7nWSbBMgR+kvZaPSNJdJ3oZb"
    assert audio.ice_options == ("trickle", "renomination")
    assert audio.setup is Setup.ACTPASS
    fingerprint = audio.fingerprint
    assert fingerprint is not None and fingerprint.hash_function == "sha-256"
    assert len(fingerprint.digest) == 32 and fingerprint.digest[:2] == b"\x49\x66"
    host, srflx, tcp = audio.candidates()
    assert (host.type, host.generation, host.extensions) == ("host", 0, (("network-id", "1"),))
    assert (srflx.related_address, srflx.related_port) == ("192.0.2.44", 49203)
    assert srflx.priority == 1686052607 and srflx.component == 1
    assert tcp.transport == "tcp" and ("tcptype", "active") in tcp.extensions
    assert video.direction is Direction.RECVONLY
    assert sdp.connection_for(video) is not None and sdp.connection is None


def test_sdes_like_session_fields_and_crypto() -> None:
    sdp = parse_sdp(SDES_LIKE)
    assert sdp.information == "A call with keys" and sdp.uri == "http://example.com/call"
    assert sdp.emails == ("alice@example.com",) and sdp.phones == ("+1 555 0100",)
    assert sdp.timings == (Timing(2873397496, 2873404696, ("7d 1h 0 25h",)),)
    assert sdp.zone == "2882844526 -1h 2898848070 0"
    assert sdp.bandwidths == (Bandwidth("CT", 256),)
    first, second = sdp.media[0].cryptos()
    assert (first.tag, first.suite) == (1, "AES_CM_128_HMAC_SHA1_80")
    assert first.session_params == ("KDR=1", "UNENCRYPTED_SRTCP")
    (key,) = first.inline_keys()
    assert (key.lifetime, key.mki, key.mki_length) == ("2^20", 1, 32)
    assert second.inline_keys()[0].mki is None


def test_unknown_lines_and_attributes_are_kept() -> None:
    body = (
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\ny=vendor session\r\n"
        b"a=x-custom:42\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.1\r\n"
        b"y=vendor media\r\na=x-flag\r\na=x-empty:\r\n"
    )
    sdp = parse_sdp(body)
    assert sdp.extra_lines == (("y", "vendor session"),)
    media = sdp.media[0]
    assert media.extra_lines == (("y", "vendor media"),)
    assert media.attributes == (Attribute("x-flag"), Attribute("x-empty", ""))
    assert serialize_sdp(sdp) == body


def test_blank_lines_and_missing_optional_lines_are_tolerated() -> None:
    sdp = parse_sdp(b"v=0\n\no=- 1 1 IN IP4 10.0.0.1\nm=audio 0 RTP/AVP\n\n")
    assert sdp.session_name == "-" and sdp.timings == (Timing(),)
    assert sdp.media[0].formats == () and sdp.media[0].port == 0


def test_malformed_typed_attributes_are_skipped_by_accessors() -> None:
    sdp = parse_sdp(
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 96\r\n"
        b"a=rtpmap:96 broken\r\na=rtpmap:abc PCMU/8000\r\na=ptime:fast\r\na=rtcp:x\r\n"
    )
    media = sdp.media[0]
    assert media.rtpmaps() == {} and media.ptime is None and media.rtcp is None
    assert len(media.attributes) == 4


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "v=0"),
        (b"o=- 1 1 IN IP4 a\r\nv=0\r\n", "v=0"),
        (b"v=1\r\no=- 1 1 IN IP4 a\r\n", "v=0"),
        (b"v=0\r\ns=-\r\n", "o="),
        (b"v=0\r\no=- 1 IN IP4 a\r\n", "o="),
        (b"v=0\r\no=- 1 x IN IP4 a\r\n", "version"),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\no=- 1 1 IN IP4 a\r\n", "two o="),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4\r\n", "c="),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\nb=AS\r\n", "b="),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\nb=AS:lots\r\n", "bandwidth"),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\nt=0\r\n", "t="),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\nr=1d 1h 0\r\n", "r="),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio RTP/AVP\r\n", "m="),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 70000 RTP/AVP 0\r\n", "port"),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 1/x RTP/AVP 0\r\n", "port count"),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\na=:x\r\n", "attribute name"),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\nnonsense\r\n", "bad SDP line"),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\n1=x\r\n", "bad SDP line"),
        (b"v=0\r\no=- 1 1 IN IP4 a\r\ns=a\rb\r\n", "control"),
        (b"v=0\r\no=- 1 1 IN IP4 \xff\r\n", "UTF-8"),
        (b"v=0\r\no=- 1 99999999999999999999999 IN IP4 a\r\n", "version"),
    ],
)
def test_bad_sdp_raises_400(body: bytes, fragment: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_sdp(body)
    assert caught.value.status == 400
    assert fragment in caught.value.reason


def test_oversized_sdp_is_rejected() -> None:
    with pytest.raises(RemoteProtocolError):
        parse_sdp(b"v=0\r\n" + b"a=x\r\n" * 20000)


def test_serialize_refuses_line_breaks_in_values() -> None:
    sdp = SessionDescription(origin=Origin("-", "1", 1), session_name="a\r\nm=audio 1 X 0")
    with pytest.raises(LocalProtocolError):
        serialize_sdp(sdp)
    with pytest.raises(LocalProtocolError):
        serialize_sdp(SessionDescription(origin=Origin("-", "1", 1), session_name="\ud800"))


def test_serialize_writes_rfc_order() -> None:
    sdp = SessionDescription(
        origin=Origin("bob", "7", 3, "IN", "IP6", "::1"),
        connection=Connection.for_host("::1"),
        attributes=(Direction.SENDONLY.to_attribute(),),
        media=(MediaDescription("audio", 5000, "RTP/AVP", ("0",), port_count=2),),
    )
    assert sdp.to_bytes() == (
        b"v=0\r\no=bob 7 3 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\na=sendonly\r\n"
        b"m=audio 5000/2 RTP/AVP 0\r\n"
    )
    assert parse_sdp(sdp.to_bytes()).direction_for(sdp.media[0]) is Direction.SENDONLY
