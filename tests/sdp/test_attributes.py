"""Typed SDP attributes: parsing, formatting and errors."""

from __future__ import annotations

import pytest

from sansip.errors import RemoteProtocolError
from sansip.sdp import (
    Candidate,
    Crypto,
    Direction,
    Fingerprint,
    Fmtp,
    Group,
    RtcpAttribute,
    RtpMap,
    Setup,
    Ssrc,
    parse_candidate,
    parse_crypto,
    parse_fingerprint,
    parse_fmtp,
    parse_group,
    parse_inline_key,
    parse_ptime,
    parse_rtcp,
    parse_rtpmap,
    parse_setup,
    parse_ssrc,
)


def test_rtpmap() -> None:
    assert parse_rtpmap("111 opus/48000/2") == RtpMap(111, "opus", 48000, 2)
    assert parse_rtpmap("0  PCMU/8000 ") == RtpMap(0, "PCMU", 8000)
    assert RtpMap(9, "G722", 8000).to_attribute().value == "9 G722/8000"


def test_fmtp_keeps_order_and_raw_text() -> None:
    fmtp = parse_fmtp("111 minptime=10; useinbandfec=1;;stereo")
    assert fmtp.params == (("minptime", "10"), ("useinbandfec", "1"), ("stereo", None))
    assert fmtp.raw == "minptime=10; useinbandfec=1;;stereo"
    assert fmtp.get("MINPTIME") == "10"
    assert parse_fmtp(fmtp.value) == fmtp
    assert Fmtp.from_params(101, "0-16").params == (("0-16", None),)
    assert parse_fmtp("13") == Fmtp(13, (), "")


def test_ptime() -> None:
    assert parse_ptime("20") == 20
    assert parse_ptime(" 30 ") == 30
    assert parse_ptime("22.5") == 23
    assert parse_ptime("20.0") == 20


def test_direction_helpers() -> None:
    assert Direction.SENDONLY.reversed() is Direction.RECVONLY
    assert Direction.INACTIVE.reversed() is Direction.INACTIVE
    assert Direction.from_flags(True, True) is Direction.SENDRECV
    assert not Direction.RECVONLY.sends and Direction.RECVONLY.receives


def test_rtcp_ssrc_group() -> None:
    assert parse_rtcp("53020") == RtcpAttribute(53020)
    full = parse_rtcp("53020 IN IP6 2001:db8::9")
    assert full.address == "2001:db8::9" and parse_rtcp(full.value) == full
    ssrc = parse_ssrc("12345 cname:user@host")
    assert ssrc == Ssrc(12345, "cname", "user@host")
    assert parse_ssrc("1 x-flag") == Ssrc(1, "x-flag")
    assert parse_group("LS 1 2") == Group("LS", ("1", "2"))
    assert parse_group(Group("BUNDLE", ("a",)).to_attribute().value or "") == Group(
        "BUNDLE", ("a",)
    )


def test_crypto_and_inline_keys() -> None:
    crypto = parse_crypto(
        "7 AES_256_CM_HMAC_SHA1_80 inline:abc==|2^31;inline:def==|2^31 FEC_ORDER=SRTP"
    )
    assert crypto.tag == 7 and len(crypto.key_params) == 2
    assert crypto.session_params == ("FEC_ORDER=SRTP",)
    assert [k.key_salt for k in crypto.inline_keys()] == ["abc==", "def=="]
    assert parse_crypto(crypto.value) == crypto
    assert parse_inline_key("inline:k|3:4").mki == 3
    assert Crypto(1, "S", ("inline:x",)).value == "1 S inline:x"


def test_fingerprint_setup() -> None:
    fp = parse_fingerprint("SHA-1 0A:bc:12")
    assert fp == Fingerprint("sha-1", "0A:bc:12") and fp.digest == b"\x0a\xbc\x12"
    assert parse_setup("ACTIVE") is Setup.ACTIVE
    assert Setup.HOLDCONN.to_attribute().value == "holdconn"


def test_candidate_round_trip() -> None:
    text = "a1 2 UDP 2130706431 10.0.1.1 8998 typ relay raddr 192.0.2.3 rport 45664 generation 2"
    cand = parse_candidate(text)
    assert cand == Candidate("a1", 2, "UDP", 2130706431, "10.0.1.1", 8998, "relay",
                             "192.0.2.3", 45664, 2)  # fmt: skip
    assert cand.value == text
    assert parse_candidate(cand.value) == cand


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (parse_rtpmap, "x PCMU/8000"),
        (parse_rtpmap, "128 PCMU/8000"),
        (parse_rtpmap, "0 PCMU"),
        (parse_rtpmap, "0 PCMU/8000/1/2"),
        (parse_rtpmap, "0 /8000"),
        (parse_rtpmap, "0"),
        (parse_fmtp, ""),
        (parse_fmtp, "x a=b"),
        (parse_ptime, "0"),
        (parse_ptime, "-20"),
        (parse_ptime, "twenty"),
        (parse_rtcp, "1 IN IP4"),
        (parse_rtcp, "99999"),
        (parse_ssrc, "1"),
        (parse_ssrc, "4294967296 cname:x"),
        (parse_group, " "),
        (parse_crypto, "1 AES_CM_128_HMAC_SHA1_80"),
        (parse_crypto, "1 AES_CM_128_HMAC_SHA1_80 nokeymethod"),
        (parse_inline_key, "uri:http://x"),
        (parse_inline_key, "inline:|1"),
        (parse_inline_key, "inline:k|x:4"),
        (parse_fingerprint, "sha-256"),
        (parse_fingerprint, "sha-256 GG:00"),
        (parse_fingerprint, "sha-256 0:00"),
        (parse_setup, "both"),
        (parse_candidate, "1 1 udp 1 10.0.0.1 5000 host"),
        (parse_candidate, "1 1 udp 1 10.0.0.1 5000 typ host raddr"),
        (parse_candidate, "1 1 udp 1 10.0.0.1 port typ host"),
        (parse_candidate, "1 1 udp 1 10.0.0.1 5000 typ host rport x"),
        (parse_candidate, "1 1 udp 99999999999 10.0.0.1 5000 typ host"),
    ],
)
def test_bad_values_raise_400(parse: object, value: str) -> None:
    assert callable(parse)
    with pytest.raises(RemoteProtocolError) as caught:
        parse(value)
    assert caught.value.status == 400 and caught.value.reason
