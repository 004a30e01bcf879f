"""Hypothesis properties: round trips, and no crash on any input."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import RemoteProtocolError
from sansip.sdp import (
    AUDIO_CODECS,
    Attribute,
    Bandwidth,
    Candidate,
    Connection,
    Crypto,
    Fingerprint,
    Fmtp,
    LocalMedia,
    LocalStream,
    MediaDescription,
    NegotiationFailed,
    Negotiator,
    Origin,
    RtcpAttribute,
    RtpMap,
    SessionDescription,
    Ssrc,
    Timing,
    codec_preferences,
    parse_candidate,
    parse_crypto,
    parse_fingerprint,
    parse_fmtp,
    parse_rtcp,
    parse_rtpmap,
    parse_sdp,
    parse_ssrc,
    serialize_sdp,
)
from tests.conftest import examples
from tests.sdp.samples import ALL_SAMPLES

TOKEN = st.text(string.ascii_letters + string.digits + "-./_+*", min_size=1, max_size=12)
TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20)
NAME = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), exclude_characters=":"), min_size=1, max_size=12
)
UINT = st.integers(0, 2**64 - 1)
PORT = st.integers(0, 65535)
PT = st.integers(0, 127)
SESSION_ONLY = "vosiuepcbtrzkam"
MEDIA_ONLY = "micbka"


def extra_lines(known: str) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    kinds = st.sampled_from([c for c in string.ascii_letters if c not in known])
    return st.lists(st.tuples(kinds, TEXT), max_size=2).map(tuple)


attributes = st.lists(st.builds(Attribute, NAME, st.none() | TEXT), max_size=4).map(tuple)
connections = st.builds(Connection, TOKEN, TOKEN, TOKEN)
bandwidths = st.lists(st.builds(Bandwidth, TOKEN, UINT), max_size=2).map(tuple)

media_descriptions = st.builds(
    MediaDescription,
    media=TOKEN,
    port=PORT,
    proto=TOKEN,
    formats=st.lists(TOKEN, max_size=5).map(tuple),
    port_count=st.none() | PORT,
    title=st.none() | TEXT,
    connections=st.lists(connections, max_size=2).map(tuple),
    bandwidths=bandwidths,
    key=st.none() | TEXT,
    attributes=attributes,
    extra_lines=extra_lines(MEDIA_ONLY),
)

sessions = st.builds(
    SessionDescription,
    origin=st.builds(Origin, TOKEN, TOKEN, UINT, TOKEN, TOKEN, TOKEN),
    session_name=TEXT,
    information=st.none() | TEXT,
    uri=st.none() | TEXT,
    emails=st.lists(TEXT, max_size=2).map(tuple),
    phones=st.lists(TEXT, max_size=2).map(tuple),
    connection=st.none() | connections,
    bandwidths=bandwidths,
    timings=st.lists(
        st.builds(Timing, UINT, UINT, st.lists(TEXT, max_size=2).map(tuple)), min_size=1, max_size=2
    ).map(tuple),
    zone=st.none() | TEXT,
    key=st.none() | TEXT,
    attributes=attributes,
    media=st.lists(media_descriptions, max_size=3).map(tuple),
    extra_lines=extra_lines(SESSION_ONLY),
)


@settings(max_examples=examples(150))
@given(sessions)
def test_model_round_trip(sdp: SessionDescription) -> None:
    wire = serialize_sdp(sdp)
    assert parse_sdp(wire) == sdp
    assert parse_sdp(wire.replace(b"\r\n", b"\n")) == sdp


def _only_remote_errors(data: bytes) -> SessionDescription | None:
    try:
        return parse_sdp(data)
    except RemoteProtocolError as error:
        assert error.status == 400 and error.reason
        return None


@settings(max_examples=examples(300))
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    _only_remote_errors(data)
    _only_remote_errors(b"v=0\r\n" + data)
    _only_remote_errors(b"v=0\r\no=- 1 1 IN IP4 a\r\n" + data)


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    lines = draw(st.sampled_from(ALL_SAMPLES)).split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "bytes", "cut", "swap", "number"]))
        line = lines[index]
        if action == "drop":
            del lines[index]
        elif action == "dup":
            lines.insert(index, line)
        elif action == "bytes":
            at = draw(st.integers(0, len(line)))
            lines[index] = line[:at] + draw(st.binary(min_size=1, max_size=4)) + line[at:]
        elif action == "cut":
            lines[index] = line[: draw(st.integers(0, len(line)))]
        elif action == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], line
        else:
            number = draw(st.sampled_from([b"0", b"-1", b"65536", b"128", b"x", b"9" * 30]))
            lines[index] = line.replace(draw(st.sampled_from([b"0", b"8", b"1", b"9"])), number, 1)
        if not lines:
            lines = [b""]
    return b"\n".join(lines)


@settings(max_examples=examples(300))
@given(mutated_samples())
def test_mutated_sdp_never_crashes_parser_or_negotiator(data: bytes) -> None:
    sdp = _only_remote_errors(data)
    if sdp is None:
        return
    assert parse_sdp(serialize_sdp(sdp)) == sdp
    stream = LocalStream(5000, accepted_protos=("RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF"))
    negotiator = Negotiator(LocalMedia("192.0.2.2", (stream,)), session_id=1)
    try:
        negotiator.receive_offer(data)
    except NegotiationFailed as failure:
        assert failure.status == 488 and failure.warning
        return
    except RemoteProtocolError as error:
        assert error.status == 400
        return
    answer = negotiator.create_answer()
    assert len(answer.media) == len(sdp.media)
    assert parse_sdp(serialize_sdp(answer)) == answer
    assert negotiator.result is not None and negotiator.result.streams


codec_keys = st.lists(st.sampled_from([c.key for c in AUDIO_CODECS]), unique=True, max_size=5)


@settings(max_examples=examples(150))
@given(codec_keys, codec_keys, st.booleans(), st.booleans())
def test_two_negotiators_agree_or_fail_with_488(
    offered: list[str], accepted: list[str], events: bool, mux: bool
) -> None:
    alice_prefs = codec_preferences(
        use=dict.fromkeys(offered, 3) | {c.key: 0 for c in AUDIO_CODECS if c.key not in offered}
    )
    bob_prefs = codec_preferences(
        use=dict.fromkeys(accepted, 1) | {c.key: 0 for c in AUDIO_CODECS if c.key not in accepted}
    )
    alice = Negotiator(
        LocalMedia(
            "10.0.0.1", (LocalStream(4000, alice_prefs, rtcp_mux=mux, telephone_event=events),)
        ),
        session_id=1,
    )
    bob = Negotiator(LocalMedia("10.0.0.2", (LocalStream(6000, bob_prefs),)), session_id=2)
    if not offered:
        return
    offer = alice.create_offer()
    common = [c for c in bob_prefs.accepted if c.key in offered]
    try:
        bob.receive_offer(offer.to_bytes())
    except NegotiationFailed as failure:
        assert not common and failure.warn_code == 305
        return
    assert common
    result = alice.receive_answer(bob.create_answer().to_bytes())
    a, b = result.audio, bob.result.audio if bob.result else None
    assert a is not None and b is not None
    assert a.codec.spec == b.codec.spec == common[0]
    assert a.codec.payload_type == b.codec.payload_type
    assert [c.spec for c in a.codecs] == [c.spec for c in b.codecs] == common
    assert (a.telephone_event_pt is not None) == events
    assert a.telephone_event_pt == b.telephone_event_pt
    assert not a.rtcp_mux and (a.remote_port, b.remote_port) == (6000, 4000)


@settings(max_examples=examples(100))
@given(
    st.builds(RtpMap, PT, TOKEN.filter(lambda t: "/" not in t), UINT, st.none() | UINT),
    st.builds(
        lambda pt, params: Fmtp.from_params(pt, ";".join(params)),
        PT,
        st.lists(st.from_regex(r"[a-z0-9-]{1,8}(=[a-z0-9]{1,5})?", fullmatch=True), max_size=4),
    ),
    st.builds(
        Crypto,
        st.integers(0, 999_999_999),
        TOKEN,
        st.lists(TOKEN.map(lambda t: "inline:" + t.replace(";", "")), min_size=1, max_size=2).map(
            tuple
        ),
        st.lists(TOKEN, max_size=2).map(tuple),
    ),
    st.builds(
        Candidate,
        TOKEN,
        st.integers(1, 256),
        TOKEN,
        st.integers(0, 2**32 - 1),
        TOKEN,
        PORT,
        TOKEN,
        st.none() | TOKEN,
        st.none() | PORT,
        st.none() | UINT,
        st.lists(
            st.tuples(TOKEN.filter(lambda t: t not in ("raddr", "rport", "generation")), TOKEN),
            max_size=2,
        ).map(tuple),
    ),
)
def test_typed_attribute_round_trips(
    rtpmap: RtpMap, fmtp: Fmtp, crypto: Crypto, candidate: Candidate
) -> None:
    assert parse_rtpmap(rtpmap.value) == rtpmap
    assert parse_fmtp(fmtp.value) == fmtp
    assert parse_crypto(crypto.value) == crypto
    assert parse_candidate(candidate.value) == candidate


@settings(max_examples=examples(100))
@given(
    st.builds(RtcpAttribute, PORT) | st.builds(RtcpAttribute, PORT, TOKEN, TOKEN, TOKEN),
    st.builds(
        Ssrc,
        st.integers(0, 2**32 - 1),
        TOKEN.filter(lambda t: ":" not in t),
        st.none() | TEXT.map(str.strip),
    ),
    st.builds(
        Fingerprint,
        TOKEN.map(str.lower),
        st.lists(st.binary(min_size=1, max_size=1), min_size=1, max_size=8).map(
            lambda bs: ":".join(b.hex().upper() for b in bs)
        ),
    ),
)
def test_more_typed_attribute_round_trips(
    rtcp: RtcpAttribute, ssrc: Ssrc, fingerprint: Fingerprint
) -> None:
    assert parse_rtcp(rtcp.value) == rtcp
    ssrc_value = ssrc.to_attribute().value
    assert ssrc_value is not None and parse_ssrc(ssrc_value) == ssrc
    fingerprint_value = fingerprint.to_attribute().value
    assert fingerprint_value is not None and parse_fingerprint(fingerprint_value) == fingerprint


@settings(max_examples=examples(200))
@given(st.text(max_size=80))
def test_typed_parsers_raise_only_remote_errors(text: str) -> None:
    for parse in (
        parse_rtpmap,
        parse_fmtp,
        parse_crypto,
        parse_candidate,
        parse_rtcp,
        parse_ssrc,
        parse_fingerprint,
    ):
        try:
            parse(text)
        except RemoteProtocolError as error:
            assert error.status == 400
