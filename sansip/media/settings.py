"""What shapes a :class:`~sansip.media.stream.MediaStream` (its
:class:`MediaSettings`) and what it reports (its :class:`MediaStatistics`)."""

from __future__ import annotations

from dataclasses import dataclass

from sansip.audio.jitter import JitterStats
from sansip.audio.pipeline import PipelineSettings
from sansip.rtp import RtpStatistics

__all__ = ["MediaSettings", "MediaStatistics"]


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """The call parameters that shape a stream: ``jittersize`` (0-6),
    ``natopenpackets``, ``mediatimeout`` (seconds, 0 off), the RTCP
    ``cname``, the wall clock offset for RTCP timestamps, and the audio
    processing (see :mod:`sansip.audio.pipeline`)."""

    jittersize: int = 3
    natopenpackets: int = 0
    mediatimeout: float = 0.0
    cname: str = "sansip"
    wall_clock_offset: float = 0.0
    dtmf_duration_ms: int = 100
    #: The audio processing (PLC, AEC, AGC, noise, VAD/CNG, volume); None: none.
    pipeline: PipelineSettings | None = None


@dataclass(frozen=True, slots=True)
class MediaStatistics:
    """What a stream sent, received and measured."""

    codec: str
    rtp: RtpStatistics
    jitter_buffer: JitterStats
    frames_played: int
    frames_concealed: int
