"""Local media configuration and the per-stream rules of offer/answer (RFC 3264).

Pure functions used by :class:`sansip.sdp.Negotiator`: which formats a
peer's m-line carries, which formats to offer or answer, how to write our
m-line, and what a pair of m-lines (ours and theirs) negotiated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from sansip.errors import LocalProtocolError
from sansip.sdp.attributes import (
    Attribute,
    Crypto,
    Direction,
    Fingerprint,
    Fmtp,
    RtcpAttribute,
    Setup,
    bad_sdp,
)
from sansip.sdp.codecs import (
    AUDIO_CODECS,
    CN,
    CodecPreferences,
    CodecSpec,
    codec_preferences,
    find_codec,
    telephone_event_for,
)
from sansip.sdp.fingerprints import DTLS_PROTOS, dtls_agreement
from sansip.sdp.model import Bandwidth, MediaDescription, SessionDescription
from sansip.sdp.result import NegotiatedCodec, NegotiatedMedia
from sansip.sdp.sdes import Encryption, agreed_keys

__all__ = ["LocalMedia", "LocalStream", "PayloadFormat", "formats_of"]

#: The m-line protocols of SRTP (RFC 3711 §12, RFC 5124).
SECURE_PROTOS: Final = ("RTP/SAVP", "RTP/SAVPF")
#: Static payload types understood without an rtpmap (RFC 3551).
STATIC_FORMATS: Final = {c.static_pt: c for c in (*AUDIO_CODECS, CN) if c.static_pt is not None}
#: Default packetisation time when neither side gives one (ms).
DEFAULT_PTIME: Final = 20


@dataclass(frozen=True, slots=True)
class LocalStream:
    """One local audio stream: what we receive on and what we accept.

    ``direction`` is the stream's wish before any hold; ``rtcp_port`` adds
    ``a=rtcp`` (when RTCP is not on port+1); ``rtcp_mux`` offers/accepts
    RFC 5761 muxing; ``accepted_protos`` are the m-line protocols we answer;
    ``bandwidth_kbps`` adds ``b=AS``; ``extra_attributes`` are appended to
    our m-line (ICE, ... supplied by other layers).  ``crypto`` are our SDES
    lines (RFC 4568, see :mod:`sansip.sdp.sdes`) and ``encryption`` says
    whether SRTP is off, taken when the peer does it, or required.
    """

    port: int
    codecs: CodecPreferences = field(default_factory=codec_preferences)
    direction: Direction = Direction.SENDRECV
    telephone_event: bool = True
    comfort_noise: bool = False
    ptime: int | None = DEFAULT_PTIME
    rtcp_mux: bool = False
    rtcp_port: int | None = None
    proto: str = "RTP/AVP"
    accepted_protos: tuple[str, ...] = ("RTP/AVP", "RTP/AVPF")
    bandwidth_kbps: int | None = None
    answer_all_codecs: bool = True
    extra_attributes: tuple[Attribute, ...] = ()
    crypto: tuple[Crypto, ...] = ()
    encryption: Encryption = Encryption.OFF
    fingerprint: Fingerprint | None = None

    @property
    def dtls(self) -> bool:
        """Whether the stream is keyed by DTLS-SRTP (with our fingerprint)."""
        return self.encryption is Encryption.DTLS and self.fingerprint is not None

    @property
    def offer_proto(self) -> str:
        """The m-line protocol of our offers: RTP/SAVP when SRTP is required,
        UDP/TLS/RTP/SAVP with DTLS-SRTP."""
        feedback = self.proto.upper().endswith("F")
        if self.dtls:
            return DTLS_PROTOS[feedback]
        if self.encryption is Encryption.MANDATORY and self.crypto:
            return SECURE_PROTOS[feedback]
        return self.proto

    def accepts(self, proto: str) -> bool:
        """Whether an offered m-line protocol can be answered (RTP/SAVP and
        RTP/SAVPF only with SRTP keys of ours, UDP/TLS/RTP/SAVP(F) only
        with DTLS-SRTP)."""
        upper = proto.upper()
        listed = upper in (p.upper() for p in self.accepted_protos)
        if upper in DTLS_PROTOS:
            return self.dtls or listed  # listed: another layer keys it (extra_attributes)
        if upper in SECURE_PROTOS:
            return (bool(self.crypto) and self.encryption is not Encryption.OFF) or listed
        return listed

    def offer_attributes(self) -> tuple[Attribute, ...]:
        """What keys our offers: SDES lines, or our fingerprint and actpass."""
        if self.dtls:
            assert self.fingerprint is not None
            return (self.fingerprint.to_attribute(), Setup.ACTPASS.to_attribute())
        if self.encryption is not Encryption.OFF:
            return tuple(line.to_attribute() for line in self.crypto)
        return ()


@dataclass(frozen=True, slots=True)
class LocalMedia:
    """Our side of the session: the address in ``c=``/``o=`` and the audio streams."""

    address: str
    streams: tuple[LocalStream, ...]
    username: str = "-"
    session_name: str = "sansip"


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """A format of an m-line that sansip knows: payload type, codec, fmtp text."""

    payload_type: int
    spec: CodecSpec
    fmtp: str = ""


def is_voice(spec: CodecSpec) -> bool:
    """Whether ``spec`` is a voice codec (not telephone-event or CN)."""
    return spec.key not in ("telephone-event", "cn")


def formats_of(media: MediaDescription) -> list[PayloadFormat]:
    """The known formats of ``media`` in m-line order (rtpmap matched
    case-insensitively; static types without rtpmap from RFC 3551)."""
    rtpmaps = media.rtpmaps()
    fmtps = media.fmtps()
    found: list[PayloadFormat] = []
    for pt in dict.fromkeys(media.payload_types):
        rtpmap = rtpmaps.get(pt)
        if rtpmap is not None:
            spec = find_codec(rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels)
        else:
            spec = STATIC_FORMATS.get(pt)
        if spec is not None:
            fmtp = fmtps.get(pt)
            found.append(PayloadFormat(pt, spec, fmtp.raw if fmtp else ""))
    return found


def offer_specs(stream: LocalStream) -> list[CodecSpec]:
    """The formats to offer: voice codecs, one telephone-event per clock rate, CN."""
    voice = list(stream.codecs.offered)
    if not voice and stream.codecs.unavailable:
        names = ", ".join(c.name for c in stream.codecs.unavailable)
        raise LocalProtocolError(f"no codec to offer: {names} cannot run here")
    if not voice:
        raise LocalProtocolError("no codec to offer (every codec is disabled or accept-only)")
    specs = list(voice)
    if stream.telephone_event:
        specs += [telephone_event_for(rate) for rate in dict.fromkeys(c.clock_rate for c in voice)]
    if stream.comfort_noise:
        specs.append(CN)
    return specs


def answer_formats(stream: LocalStream, offered: Sequence[PayloadFormat]) -> list[PayloadFormat]:
    """Formats for our answer, in our preference order with the offerer's
    payload numbers; empty when no voice codec is common.  telephone-event
    is answered at each common codec's clock rate, else at the first
    offered rate (peers pair opus with telephone-event/8000)."""
    common: list[PayloadFormat] = []
    for spec in stream.codecs.accepted:
        match = next((f for f in offered if f.spec == spec), None)
        if match is not None:
            common.append(match)
    if not common:
        return []
    if not stream.answer_all_codecs:
        common = common[:1]
    rates = {f.spec.clock_rate for f in common}
    if stream.telephone_event:
        events = [f for f in offered if f.spec.key == "telephone-event"]
        matched = [f for f in events if f.spec.clock_rate in rates]
        # One per clock rate; with no rate matching (opus with telephone-event/8000
        # is common), the first offered one.
        for f in matched:
            if f.spec.clock_rate in rates:
                rates.discard(f.spec.clock_rate)
                common.append(f)
        if events and not matched:
            common.append(events[0])
    if stream.comfort_noise:
        common += [f for f in offered if f.spec == CN][:1]
    return common


def answer_direction(offered: Direction, wish: Direction) -> Direction:
    """RFC 3264 §6.1: send only if the offerer receives, receive only if it sends."""
    return Direction.from_flags(wish.sends and offered.receives, wish.receives and offered.sends)


def build_media(
    stream: LocalStream,
    formats: Sequence[tuple[int, CodecSpec]],
    direction: Direction,
    *,
    proto: str | None = None,
    rtcp_mux: bool = False,
    keying: Sequence[Attribute] = (),
) -> MediaDescription:
    """Our audio m-line with rtpmap/fmtp for each format, ptime, RTCP and direction."""
    attributes: list[Attribute] = []
    for pt, spec in formats:
        attributes.append(spec.rtpmap(pt).to_attribute())
        if spec.default_fmtp:
            attributes.append(Fmtp.from_params(pt, spec.default_fmtp).to_attribute())
    if stream.ptime:
        attributes.append(Attribute("ptime", str(stream.ptime)))
    if stream.rtcp_port is not None and not rtcp_mux:
        attributes.append(RtcpAttribute(stream.rtcp_port).to_attribute())
    if rtcp_mux:
        attributes.append(Attribute("rtcp-mux"))
    attributes.append(direction.to_attribute())
    attributes += keying
    attributes += stream.extra_attributes
    bandwidths = (Bandwidth("AS", stream.bandwidth_kbps),) if stream.bandwidth_kbps else ()
    return MediaDescription(
        media="audio",
        port=stream.port,
        proto=proto or stream.proto,
        formats=tuple(str(pt) for pt, _ in formats),
        bandwidths=bandwidths,
        attributes=tuple(attributes),
    )


def disabled(media: MediaDescription) -> MediaDescription:
    """``media`` rejected or disabled: port 0, same type, protocol and formats."""
    return MediaDescription(media.media, 0, media.proto, media.formats or ("0",))


def remote_direction(sdp: SessionDescription, media: MediaDescription) -> Direction:
    """The peer's direction for ``media``; ``c=0.0.0.0`` (old hold) means it
    does not receive.  Raises 400 when no ``c=`` applies."""
    connection = sdp.connection_for(media)
    if connection is None:
        raise bad_sdp(f"no c= line for the {media.media} stream")
    direction = sdp.direction_for(media)
    if connection.is_unspecified:
        return Direction.from_flags(direction.sends, False)
    return direction


def negotiate_stream(
    index: int,
    local_sdp: SessionDescription,
    local: MediaDescription,
    remote_sdp: SessionDescription,
    remote: MediaDescription,
    *,
    we_offered: bool,
    local_hold: bool,
) -> NegotiatedMedia | None:
    """What our m-line and the peer's agree on, or None without a common voice codec.

    The answer's codec order decides: the peer's when we offered, ours when
    we answered.  The chosen codec is the first common one.
    """
    ours = formats_of(local)
    theirs = formats_of(remote)
    our_pt: dict[CodecSpec, int] = {}
    for f in ours:
        our_pt.setdefault(f.spec, f.payload_type)
    their_fmt: dict[CodecSpec, PayloadFormat] = {}
    for f in theirs:
        their_fmt.setdefault(f.spec, f)
    codecs: list[NegotiatedCodec] = []
    for f in theirs if we_offered else ours:
        spec = f.spec
        if not is_voice(spec) or spec not in our_pt or spec not in their_fmt:
            continue
        if any(c.spec == spec for c in codecs):
            continue
        peer = their_fmt[spec]
        codecs.append(NegotiatedCodec(spec.name, peer.payload_type, our_pt[spec], spec.clock_rate,
                                      spec.channels, peer.fmtp, spec))  # fmt: skip
    if not codecs:
        return None
    codec = codecs[0]
    events = [f.spec for f in theirs if f.spec.key == "telephone-event" and f.spec in our_pt]
    matching = telephone_event_for(codec.clock_rate)
    event = matching if matching in events else next(iter(events), None)
    cn_pt = their_fmt[CN].payload_type if CN in their_fmt and CN in our_pt else None
    peer_direction = remote_direction(remote_sdp, remote)
    connection = remote_sdp.connection_for(remote)
    address = connection.host if connection else ""
    mux = local.rtcp_mux and remote.rtcp_mux
    rtcp = remote.rtcp
    if mux:
        rtcp_address, rtcp_port = address, remote.port
    elif rtcp is not None:
        rtcp_address, rtcp_port = rtcp.address or address, rtcp.port
    else:
        rtcp_address, rtcp_port = address, remote.port + 1
    our_direction = local_sdp.direction_for(local)
    return NegotiatedMedia(
        index=index,
        local_port=local.port,
        remote_address=address,
        remote_port=remote.port,
        remote_rtcp_address=rtcp_address,
        remote_rtcp_port=rtcp_port,
        rtcp_mux=mux,
        codec=codec,
        codecs=tuple(codecs),
        telephone_event_pt=their_fmt[event].payload_type if event else None,
        telephone_event_clock_rate=event.clock_rate if event else None,
        cn_pt=cn_pt if codec.clock_rate == CN.clock_rate else None,
        ptime=remote.ptime or local.ptime or DEFAULT_PTIME,
        local_direction=our_direction,
        remote_direction=peer_direction,
        local_hold=local_hold,
        remote_hold=not peer_direction.receives and (not we_offered or our_direction.sends),
        remote_attributes=remote.attributes,
        srtp=agreed_keys(local.cryptos(), remote.cryptos()) if local.cryptos() else None,
        dtls=dtls_agreement(local_sdp, local, remote_sdp, remote),
    )
