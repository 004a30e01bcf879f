"""SDP for sansip, sans-IO: the session model, parser and serializer
(RFC 8866), typed attributes, the codec table with the user's codec
preferences, and the offer/answer negotiator (RFC 3264).

>>> from sansip.sdp import LocalMedia, LocalStream, Negotiator, parse_sdp
>>> alice = Negotiator(LocalMedia("192.0.2.1", (LocalStream(4000),)), session_id=1)
>>> bob = Negotiator(LocalMedia("192.0.2.2", (LocalStream(5000),)), session_id=2)
>>> bob.receive_offer(alice.create_offer().to_bytes())
>>> result = alice.receive_answer(bob.create_answer().to_bytes())
>>> result.audio.codec.name, result.audio.remote_port
('opus', 5000)
"""

from __future__ import annotations

from sansip.sdp.attributes import (
    Attribute,
    Candidate,
    Crypto,
    Direction,
    Fingerprint,
    Fmtp,
    Group,
    InlineKey,
    RtcpAttribute,
    RtpMap,
    Setup,
    Ssrc,
    parse_candidate,
    parse_crypto,
    parse_fingerprint,
    parse_fmtp,
    parse_group,
    parse_ice_options,
    parse_inline_key,
    parse_ptime,
    parse_rtcp,
    parse_rtpmap,
    parse_setup,
    parse_ssrc,
)
from sansip.sdp.codecs import (
    AUDIO_CODECS,
    CN,
    G722,
    L16,
    OPUS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    TELEPHONE_EVENT_48K,
    CodecPreferences,
    CodecSpec,
    UnknownCodec,
    codec_preferences,
    find_codec,
    telephone_event_for,
)
from sansip.sdp.model import (
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)
from sansip.sdp.negotiate import (
    HoldMode,
    Negotiator,
    NegotiatorState,
    RandomSource,
    new_session_id,
)
from sansip.sdp.parse import parse_sdp, serialize_sdp
from sansip.sdp.result import (
    NegotiatedCodec,
    NegotiatedMedia,
    NegotiationFailed,
    NegotiationResult,
)
from sansip.sdp.streams import LocalMedia, LocalStream, PayloadFormat, formats_of

__all__ = [
    "AUDIO_CODECS",
    "CN",
    "G722",
    "L16",
    "OPUS",
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "TELEPHONE_EVENT_48K",
    "Attribute",
    "Bandwidth",
    "Candidate",
    "CodecPreferences",
    "CodecSpec",
    "Connection",
    "Crypto",
    "Direction",
    "Fingerprint",
    "Fmtp",
    "Group",
    "HoldMode",
    "InlineKey",
    "LocalMedia",
    "LocalStream",
    "MediaDescription",
    "NegotiatedCodec",
    "NegotiatedMedia",
    "NegotiationFailed",
    "NegotiationResult",
    "Negotiator",
    "NegotiatorState",
    "Origin",
    "PayloadFormat",
    "RandomSource",
    "RtcpAttribute",
    "RtpMap",
    "SessionDescription",
    "Setup",
    "Ssrc",
    "Timing",
    "UnknownCodec",
    "codec_preferences",
    "find_codec",
    "formats_of",
    "new_session_id",
    "parse_candidate",
    "parse_crypto",
    "parse_fingerprint",
    "parse_fmtp",
    "parse_group",
    "parse_ice_options",
    "parse_inline_key",
    "parse_ptime",
    "parse_rtcp",
    "parse_rtpmap",
    "parse_sdp",
    "parse_setup",
    "parse_ssrc",
    "serialize_sdp",
    "telephone_event_for",
]
