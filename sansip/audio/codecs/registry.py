"""Creating encoders and decoders by their SDP encoding name."""

from __future__ import annotations

from sansip.audio.codecs.base import Decoder, Encoder
from sansip.audio.codecs.g711 import G711Decoder, G711Encoder
from sansip.audio.codecs.g722 import G722Decoder, G722Encoder
from sansip.audio.codecs.l16 import L16Decoder, L16Encoder
from sansip.audio.codecs.opus import OpusDecoder, OpusEncoder, opus_unavailable_reason
from sansip.errors import LocalProtocolError

__all__ = [
    "CODEC_NAMES",
    "available_codecs",
    "create_decoder",
    "create_encoder",
    "unavailable_codecs",
]

#: Every codec sansip knows, by canonical name (names are matched case-insensitively).
CODEC_NAMES = ("PCMU", "PCMA", "G722", "opus", "L16")
_CANONICAL = {name.lower(): name for name in CODEC_NAMES}
#: Rates an L16 stream may run at (RFC 3551 defines 44100; the others are common).
L16_RATES = (8000, 16000, 32000, 44100, 48000)
_FIXED_CLOCK = {"PCMU": 8000, "PCMA": 8000, "G722": 8000, "opus": 48000}


def unavailable_codecs() -> dict[str, str]:
    """The codecs that cannot be created here, by name, with the reason and
    what to install (Opus when pyogg does not find libopus)."""
    reason = opus_unavailable_reason()
    return {} if reason is None else {"opus": reason}


def available_codecs() -> tuple[str, ...]:
    """The codec names that can be created here (Opus only if libopus loads)."""
    missing = unavailable_codecs()
    return tuple(name for name in CODEC_NAMES if name not in missing)


def _canonical(name: str, clock_rate: int | None) -> str:
    canonical = _CANONICAL.get(name.strip().lower())
    if canonical is None:
        raise LocalProtocolError(f"unknown codec {name!r}; known: {', '.join(CODEC_NAMES)}")
    expected = _FIXED_CLOCK.get(canonical)
    if clock_rate is not None and expected is not None and clock_rate != expected:
        raise LocalProtocolError(f"{canonical} has an RTP clock of {expected}, not {clock_rate}")
    if canonical == "L16" and clock_rate is not None and clock_rate not in L16_RATES:
        raise LocalProtocolError(f"L16 runs at one of {L16_RATES}, not {clock_rate}")
    return canonical


def create_encoder(
    name: str,
    *,
    fmtp: dict[str, str] | None = None,
    ptime: int = 20,
    clock_rate: int | None = None,
    sample_rate: int | None = None,
) -> Encoder:
    """An encoder for the codec ``name`` ("PCMU", "PCMA", "G722", "opus", "L16").

    ``clock_rate`` is the rate of the SDP rtpmap (it picks the L16 rate,
    16000 by default; for the others it is only checked).  ``sample_rate``
    picks the PCM rate of Opus (48000 by default).  ``fmtp`` holds the
    peer's format parameters (used by Opus).
    """
    canonical = _canonical(name, clock_rate)
    if canonical in ("PCMU", "PCMA"):
        return G711Encoder(canonical, ptime=ptime)
    if canonical == "G722":
        return G722Encoder(ptime=ptime)
    if canonical == "L16":
        return L16Encoder(sample_rate=clock_rate or 16000, ptime=ptime)
    return OpusEncoder(sample_rate=sample_rate or 48000, ptime=ptime, fmtp=fmtp)


def create_decoder(
    name: str,
    *,
    fmtp: dict[str, str] | None = None,
    ptime: int = 20,
    clock_rate: int | None = None,
    sample_rate: int | None = None,
) -> Decoder:
    """A decoder for the codec ``name``; the arguments are those of create_encoder."""
    canonical = _canonical(name, clock_rate)
    del fmtp  # no decoder needs the peer's parameters
    if canonical in ("PCMU", "PCMA"):
        return G711Decoder(canonical, ptime=ptime)
    if canonical == "G722":
        return G722Decoder(ptime=ptime)
    if canonical == "L16":
        return L16Decoder(sample_rate=clock_rate or 16000, ptime=ptime)
    return OpusDecoder(sample_rate=sample_rate or 48000, ptime=ptime)
