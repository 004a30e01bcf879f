"""Audio codecs: G.711 (PCMU/PCMA), G.722, Opus (via libopus) and L16.

Every codec is an Encoder/Decoder pair over mono int16 numpy frames; create
them by SDP encoding name with create_encoder/create_decoder.
"""

from sansip.audio.codecs.base import Codec, Decoder, Encoder
from sansip.audio.codecs.concealment import RepeatFadeConcealer
from sansip.audio.codecs.g711 import G711Decoder, G711Encoder
from sansip.audio.codecs.g722 import G722Decoder, G722Encoder
from sansip.audio.codecs.l16 import L16Decoder, L16Encoder
from sansip.audio.codecs.opus import OpusDecoder, OpusEncoder, opus_unavailable_reason
from sansip.audio.codecs.registry import (
    CODEC_NAMES,
    available_codecs,
    create_decoder,
    create_encoder,
    unavailable_codecs,
)

__all__ = [
    "CODEC_NAMES",
    "Codec",
    "Decoder",
    "Encoder",
    "G711Decoder",
    "G711Encoder",
    "G722Decoder",
    "G722Encoder",
    "L16Decoder",
    "L16Encoder",
    "OpusDecoder",
    "OpusEncoder",
    "RepeatFadeConcealer",
    "available_codecs",
    "create_decoder",
    "create_encoder",
    "opus_unavailable_reason",
    "unavailable_codecs",
]
