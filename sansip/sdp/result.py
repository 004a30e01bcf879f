"""What an offer/answer exchange produced, and how it fails (RFC 3264)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sansip.errors import RemoteProtocolError
from sansip.sdp.attributes import Attribute, Direction
from sansip.sdp.codecs import CodecSpec
from sansip.sdp.fingerprints import DtlsAgreement
from sansip.sdp.model import SessionDescription
from sansip.sdp.sdes import SrtpKeys

__all__ = [
    "WARN_INCOMPATIBLE_FORMAT",
    "WARN_INCOMPATIBLE_TRANSPORT",
    "WARN_MEDIA_TYPE_UNAVAILABLE",
    "NegotiatedCodec",
    "NegotiatedMedia",
    "NegotiationFailed",
    "NegotiationResult",
]

#: RFC 3261 §20.43 warning codes used for a failed negotiation.
WARN_INCOMPATIBLE_TRANSPORT: Final = 302
WARN_MEDIA_TYPE_UNAVAILABLE: Final = 304
WARN_INCOMPATIBLE_FORMAT: Final = 305
_WARN_TEXT: Final = {
    WARN_INCOMPATIBLE_TRANSPORT: "Incompatible transport protocol",
    WARN_MEDIA_TYPE_UNAVAILABLE: "Media type not available",
    WARN_INCOMPATIBLE_FORMAT: "Incompatible media format",
}


class NegotiationFailed(RemoteProtocolError):
    """No usable media in the peer's SDP: answer 488 with ``warning`` as the
    Warning header value (``305 host "Incompatible media format"``; a
    ``detail`` follows the standard text: ``"Incompatible media format:
    opus not available here"``)."""

    def __init__(
        self, reason: str, warn_code: int, host: str, detail: str = "", *, srtp: bool = False
    ) -> None:
        super().__init__(reason, 488)
        self.warn_code = warn_code
        #: The negotiation failed for want of SRTP keys (a call that requires
        #: SRTP met plain RTP, or no offered key could be used).
        self.srtp = srtp
        agent = f"[{host}]" if ":" in host and not host.startswith("[") else host
        text = _WARN_TEXT.get(warn_code, reason) + (f": {detail}" if detail else "")
        text = text.replace('"', "'")  # the warn-text is a quoted-string
        self.warning = f'{warn_code} {agent or "-"} "{text}"'

    def __repr__(self) -> str:
        return f"NegotiationFailed({self.reason!r}, warning={self.warning!r})"


@dataclass(frozen=True, slots=True)
class NegotiatedCodec:
    """A format both sides can use: ``payload_type`` is the number to send
    with (the peer's), ``local_payload_type`` the one we receive."""

    name: str
    payload_type: int
    local_payload_type: int
    clock_rate: int
    channels: int
    fmtp: str
    spec: CodecSpec


@dataclass(frozen=True, slots=True)
class NegotiatedMedia:
    """One negotiated audio stream.

    Directions are as each side wrote them (``remote_direction`` already
    loses "receives" for an old-style ``c=0.0.0.0`` hold).  ``local_hold``
    says we asked for hold, ``remote_hold`` that the peer does not want our
    media although we offered it (or it offered sendonly/inactive).
    ``telephone_event_pt`` is the RFC 4733 type at the codec's clock rate
    when both sides have one, else at another common rate (its clock is in
    ``telephone_event_clock_rate``), else None.  ``ptime`` is the peer's
    ``a=ptime`` (what to send with), else ours, else 20.  ``srtp`` holds
    the SDES keys when the stream is encrypted (RFC 4568), else None;
    ``dtls`` the DTLS-SRTP roles and the peer's fingerprint (RFC 5763).
    """

    index: int
    local_port: int
    remote_address: str
    remote_port: int
    remote_rtcp_address: str
    remote_rtcp_port: int
    rtcp_mux: bool
    codec: NegotiatedCodec
    codecs: tuple[NegotiatedCodec, ...]
    telephone_event_pt: int | None
    telephone_event_clock_rate: int | None
    cn_pt: int | None
    ptime: int
    local_direction: Direction
    remote_direction: Direction
    local_hold: bool
    remote_hold: bool
    remote_attributes: tuple[Attribute, ...] = ()
    srtp: SrtpKeys | None = None
    dtls: DtlsAgreement | None = None

    @property
    def encrypted(self) -> bool:
        """Whether the stream is SRTP (keyed by SDES, or by DTLS once its
        handshake is done)."""
        return self.srtp is not None or self.dtls is not None

    @property
    def sending(self) -> bool:
        """Whether we should send RTP."""
        return self.local_direction.sends and self.remote_direction.receives

    @property
    def receiving(self) -> bool:
        """Whether we should expect RTP."""
        return self.local_direction.receives and self.remote_direction.sends

    @property
    def on_hold(self) -> bool:
        """Held by either side."""
        return self.local_hold or self.remote_hold


@dataclass(frozen=True, slots=True)
class NegotiationResult:
    """The accepted streams (in m-line order) and the two SDPs they came from."""

    streams: tuple[NegotiatedMedia, ...]
    local: SessionDescription
    remote: SessionDescription

    @property
    def audio(self) -> NegotiatedMedia | None:
        """The first accepted audio stream."""
        return self.streams[0] if self.streams else None
