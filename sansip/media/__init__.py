"""sansip.media: the audio of calls, sans-IO — a negotiated SDP stream bound
to an RTP session, codecs, a jitter buffer and frame sources and sinks
(:class:`MediaStream`), and the offer/answer side of a call
(:class:`CallMedia`)."""

from sansip.media.call_media import CallMedia
from sansip.media.stream import (
    FRAME_DURATION,
    MediaEvent,
    MediaSettings,
    MediaStatistics,
    MediaStream,
    RecordingFailed,
)

__all__ = [
    "FRAME_DURATION",
    "CallMedia",
    "MediaEvent",
    "MediaSettings",
    "MediaStatistics",
    "MediaStream",
    "RecordingFailed",
]
