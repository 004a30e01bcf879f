"""The audio processing of one call, chosen by the parameters of the phone
API (``plc``, ``vad``, ``aec``, ``agc``, ``denoise``, ``silencesuppress``,
``volumein``, ``volumeout``), in a fixed order:

- capture (microphone → network): ``volumein`` → echo cancellation against
  what was last played (``aec``) → noise suppression (``denoise`` 1-3) →
  gain control (``agc`` 1-3) → voice activity (``vad`` 3 or 4, or whenever
  silence suppression is on) → the silence suppressor's decision (send
  audio, a comfort noise update, or nothing);
- playback (network → loudspeaker): concealment of lost frames (``plc``, for
  codecs without their own) → noise suppression and gain control when their
  parameter is 2 (capture and playback) → ``volumeout``; the result is also
  the echo canceller's reference.

What the values mean: ``aec`` 0 no, 1 yes unless a headset is
known, 2 yes if supported, 3 forced; ``agc``/``denoise`` 0 off, 1 capture,
2 capture and playback, 3 auto (capture); ``vad`` 0 auto, 1 no, 2 playback
side, 3 capture side, 4 both; ``silencesuppress`` -1 auto (on only for a
low-bandwidth link), 0 off, 1 on.  Nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sansip.audio.aec import EchoCanceller
from sansip.audio.agc import AutomaticGainControl
from sansip.audio.cng import SilenceSuppressor, SuppressorAction, SuppressorDecision
from sansip.audio.denoise import NoiseSuppressor
from sansip.audio.frames import AudioFrame, as_frame
from sansip.audio.gain import VolumeControl
from sansip.audio.plc import PacketLossConcealer
from sansip.audio.vad import VoiceActivityDetector
from sansip.errors import LocalProtocolError

__all__ = ["AudioPipeline", "PipelineSettings"]

_AUDIO = SuppressorDecision(SuppressorAction.AUDIO)


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    value = params.get(name, "")
    if value == "":
        return default
    if value.lower() in ("true", "yes", "on"):
        return 1
    if value.lower() in ("false", "no", "off"):
        return 0
    try:
        return int(value)
    except ValueError:
        raise LocalProtocolError(f"parameter {name} must be a number, not {value!r}") from None


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """The parameters that shape the audio processing (defaults: the phone API's)."""

    plc: bool = True
    vad: int = 2
    aec: int = 1
    agc: int = 3
    denoise: int = 3
    silencesuppress: int = -1
    volumein: int = 50
    volumeout: int = 50
    #: A headset is in use (``aec`` 1 then leaves echo cancellation off).
    headset: bool = False
    #: The link is narrow (``silencesuppress`` -1 then turns suppression on).
    low_bandwidth: bool = False

    @classmethod
    def from_params(
        cls, params: Mapping[str, str], defaults: PipelineSettings | None = None
    ) -> PipelineSettings:
        """Settings from ``-p name=value`` parameters; missing ones come from
        ``defaults`` (this class's when None)."""
        d = defaults or cls()
        return cls(
            plc=bool(_int(params, "plc", int(d.plc))),
            vad=_int(params, "vad", d.vad),
            aec=_int(params, "aec", d.aec),
            agc=_int(params, "agc", d.agc),
            denoise=_int(params, "denoise", d.denoise),
            silencesuppress=_int(params, "silencesuppress", d.silencesuppress),
            volumein=_int(params, "volumein", d.volumein),
            volumeout=_int(params, "volumeout", d.volumeout),
            headset=d.headset,
            low_bandwidth=d.low_bandwidth,
        )

    @property
    def comfort_noise(self) -> bool:
        """Whether silence is suppressed (and RFC 3389 comfort noise offered)."""
        return self.silencesuppress == 1 or (self.silencesuppress == -1 and self.low_bandwidth)

    @property
    def echo_cancellation(self) -> bool:
        """Whether the echo canceller runs."""
        return self.aec in (2, 3) or (self.aec == 1 and not self.headset)

    @property
    def idle(self) -> bool:
        """Whether the pipeline would do nothing at all (no concealment, no
        VAD, echo cancelling, gain control, noise suppression, volume change
        or silence suppression): a stream then runs without one."""
        return (not self.plc and self.vad == 1 and not self.echo_cancellation
                and self.agc == 0 and self.denoise == 0 and self.volumein == 50
                and self.volumeout == 50 and not self.comfort_noise)  # fmt: skip

    def capture_side(self, value: int) -> bool:
        """For ``agc``/``denoise``: on for the microphone."""
        return value in (1, 2, 3)

    def playback_side(self, value: int) -> bool:
        """For ``agc``/``denoise``: on for the loudspeaker."""
        return value == 2


class AudioPipeline:
    """Capture and playback processing of one call at ``rate`` Hz in frames
    of ``frame_samples`` (see the module docstring for the order)."""

    def __init__(self, rate: int, frame_samples: int, settings: PipelineSettings | None = None):
        self.rate, self.frame_samples = rate, frame_samples
        self.settings = s = settings or PipelineSettings()
        self.volume_in = VolumeControl(s.volumein)
        self.volume_out = VolumeControl(s.volumeout)
        self.echo = EchoCanceller(rate, frame_samples) if s.echo_cancellation else None
        self.capture_denoise = NoiseSuppressor(rate) if s.capture_side(s.denoise) else None
        self.playback_denoise = NoiseSuppressor(rate) if s.playback_side(s.denoise) else None
        self.capture_agc = AutomaticGainControl(rate) if s.capture_side(s.agc) else None
        self.playback_agc = AutomaticGainControl(rate) if s.playback_side(s.agc) else None
        self.concealer = PacketLossConcealer(rate, frame_samples) if s.plc else None
        self.suppressor = SilenceSuppressor(rate, s.silencesuppress, low_bandwidth=s.low_bandwidth)
        capture_vad = s.vad in (3, 4) or self.suppressor.enabled
        self.capture_vad = VoiceActivityDetector(rate) if capture_vad else None
        self.playback_vad = VoiceActivityDetector(rate) if s.vad in (0, 2, 4) else None
        self._far: AudioFrame = np.zeros(frame_samples, dtype=np.int16)
        self.speech = True  # the capture VAD's last decision (True without a VAD)

    # -- capture ------------------------------------------------------------------------
    def capture(self, frame: AudioFrame) -> tuple[AudioFrame, SuppressorDecision]:
        """Process one microphone frame; returns it and what to send."""
        out = self.volume_in.process(as_frame(frame))
        if self.echo is not None and len(out) == self.frame_samples:
            out = self.echo.process(out, self._far)
        if self.capture_denoise is not None:
            out = self.capture_denoise.process(out)
        speech: bool | None = None
        if self.capture_vad is not None:
            speech = self.capture_vad.is_speech(out)
            self.speech = speech
        if self.capture_agc is not None:
            out = self.capture_agc.process(out, speech)
        if not self.suppressor.enabled:
            return out, _AUDIO
        return out, self.suppressor.decide(out, self.speech)

    # -- playback -----------------------------------------------------------------------
    def received(self, frame: AudioFrame) -> AudioFrame:
        """A decoded frame: keeps the concealer's history (and blends out of
        a concealment)."""
        if self.concealer is None:
            return frame
        return self.concealer.good(frame)

    def conceal(self, samples: int) -> AudioFrame | None:
        """Audio standing in for a lost frame, or None without ``plc`` (the
        decoder's own concealment is used then)."""
        if self.concealer is None:
            return None
        return self.concealer.conceal(samples)

    def playback(self, frame: AudioFrame) -> AudioFrame:
        """Process one frame on its way to the loudspeaker; it becomes the
        echo canceller's reference."""
        out = as_frame(frame)
        if self.playback_denoise is not None:
            out = self.playback_denoise.process(out)
        if self.playback_agc is not None:
            out = self.playback_agc.process(out)
        out = self.volume_out.process(out)
        if len(out) == self.frame_samples:
            self._far = out
        return out

    def is_silent_playback(self, frame: AudioFrame) -> bool:
        """The playback-side VAD's verdict (``vad`` 0, 2, 4): silence frames
        are the ones the jitter buffer may drop to shrink its delay."""
        return self.playback_vad is not None and not self.playback_vad.is_speech(frame)
