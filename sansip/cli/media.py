"""The audio of the command-line calls: sockets, offer/answer, what is
played and recorded, DTMF, hold and resume, and the statistics printed.

:class:`CallAudio` ties a call of the UA core to a
:class:`~sansip.media.CallMedia` and a
:class:`~sansip.media.engine.MediaPort` of the driver's media engine;
the commands (``call``, ``answer``, ``demo``) feed it the UA's events
through :meth:`CallAudio.handle` and the engine's through
:meth:`CallAudio.media_event`.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sansip.audio.codecs import available_codecs, unavailable_codecs
from sansip.audio.frames import EchoLoop, FrameSink, FrameSource, NullSink, SilenceSource
from sansip.audio.pipeline import PipelineSettings
from sansip.audio.player import FilePlayer, Ringback, Ringtone
from sansip.audio.recorder import CallRecorder, FileRecorder, recording_format
from sansip.audio.tones import ToneSource
from sansip.dialog.call import (
    Call,
    CallEvent,
    EarlyMediaReceived,
    ModificationFailed,
    OfferReceived,
    SessionUpdated,
)
from sansip.dialog.ua import UserAgent
from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.io.asyncio import AsyncioDatagramDriver
from sansip.io.audio_devices import AudioBackend, AudioDevices, RingPlayer
from sansip.io.file_writer import open_call_recorder, open_recorder
from sansip.media import CallMedia, MediaSettings, RecordingFailed
from sansip.media.engine import MediaEngineEvent, MediaPort, StreamFailed, StreamReported
from sansip.rtp import DtmfReceived, MediaTimedOut
from sansip.sdp import CodecPreferences, NegotiationFailed, UnknownCodec, codec_preferences

__all__ = ["PIPELINE_RATE", "CallAudio", "MediaOptions", "add_media_options", "check_codecs"]

#: The rate of what is played and recorded (wideband; G.711 is resampled).
PIPELINE_RATE = 16000
#: Audio processing of the commands: concealment on, capture-side blocks off.
CLI_PIPELINE_DEFAULTS = PipelineSettings(aec=0, agc=0, denoise=0, vad=1, silencesuppress=0)
#: Seconds after connecting before ``--dtmf`` digits go out.
DTMF_DELAY = 0.5


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """What the media of a command's calls does (from its arguments and -p)."""

    tone: float | None = None
    play: str | None = None
    record: str | None = None
    echo: bool = False
    dtmf: str = ""
    hold: tuple[float, float] | None = None
    record_call: str | None = None
    record_stereo: bool = False
    devices: bool = False
    enabled: bool = True
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_args(cls, args: argparse.Namespace, params: dict[str, str]) -> MediaOptions:
        """Options from the command line (see :func:`add_media_options`)."""
        hold = None
        if getattr(args, "hold", None):
            start, _, length = args.hold.partition(",")
            hold = (float(start), float(length or 1.0))
        return cls(tone=args.tone, play=args.play, record=args.record, echo=args.echo,
                   dtmf=args.dtmf or "", hold=hold, record_call=args.record_call,
                   record_stereo=args.stereo, devices=args.devices, enabled=not args.no_media,
                   params=tuple(params.items()))  # fmt: skip

    def param(self, name: str, default: str = "") -> str:
        """A ``-p`` parameter's value."""
        return dict(self.params).get(name, default)

    def codecs(self) -> CodecPreferences:
        """The preferences of ``-p codec=``, ``prefcodec=`` and ``use_<codec>=``;
        raises :class:`~sansip.sdp.UnknownCodec` for a name that is no codec."""
        return codec_preferences(
            codec=self.param("codec"), prefcodec=self.param("prefcodec"),
            use={k: v for k, v in self.params if k.startswith("use_")},
        )  # fmt: skip


def check_codecs(command: str, options: MediaOptions, *, offering: bool) -> bool:
    """Whether the codec parameters can make calls, checked before any call.

    An unknown codec name, or no codec that can run here to offer
    (``offering``) or to accept, is printed as ``command: ...`` on stderr
    and gives False (the command exits 2); warnings (a codec sansip does
    not have) are printed and give True.
    """
    try:
        codecs = options.codecs()
    except UnknownCodec as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return False
    for warning in codecs.warnings:
        print(f"{command}: warning: {warning}", file=sys.stderr)
    runnable = codecs.restrict(available_codecs())
    if options.enabled and not (runnable.offered if offering else runnable.accepted):
        reasons = unavailable_codecs()
        why = "; ".join(f"{c.name} cannot run here: {reasons.get(c.name, 'unavailable')}"
                        for c in runnable.unavailable)  # fmt: skip
        what = "offer" if offering else "accept"
        print(f"{command}: no codec to {what}" + (f" ({why})" if why else ""), file=sys.stderr)
        return False
    return True


def add_media_options(parser: argparse.ArgumentParser) -> None:
    """The audio options shared by ``call`` and ``answer``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--tone", type=float, default=None, metavar="HZ",
                        help="send a sine tone (-10 dBFS)")  # fmt: skip
    source.add_argument("--play", default=None, metavar="FILE",
                        help="send a WAV or Ogg Opus file (looped)")  # fmt: skip
    source.add_argument("--echo", action="store_true", help="send back what is received")
    source.add_argument("--devices", action="store_true",
                        help="talk through the sound card (-p audiodevicein=...)")  # fmt: skip
    parser.add_argument("--record", default=None, metavar="FILE",
                        help="record what is received (16 kHz mono, .wav or .ogg)")  # fmt: skip
    parser.add_argument("--record-call", default=None, metavar="FILE",
                        help="record both directions mixed (.wav or .ogg)")  # fmt: skip
    parser.add_argument("--stereo", action="store_true",
                        help="--record-call: sent audio left, received right")  # fmt: skip
    parser.add_argument("--dtmf", default=None, metavar="DIGITS",
                        help="send RFC 4733 DTMF digits 0.5 s after connecting")  # fmt: skip
    parser.add_argument("--no-media", action="store_true",
                        help="signalling only: offer/answer SDP but open no RTP ports")  # fmt: skip


class CallAudio:
    """The media of one call of a command."""

    def __init__(
        self,
        options: MediaOptions,
        host: str,
        driver: AsyncioDatagramDriver,
        rng: random.Random,
        index: int = 1,
        *,
        sink: FrameSink | None = None,
        backend: AudioBackend | None = None,
    ) -> None:
        self.options = options
        self.host = host
        self.driver = driver
        self.port: MediaPort | None = None
        self._started_media = False
        self.dtmf_received = ""
        self.media_timed_out = False
        self.recording_failure: str | None = None
        #: Called once when ``mediatimeout`` expires (the command hangs up).
        self.on_timeout: Callable[[], None] | None = None
        self.holds = 0  # hold re-INVITEs that went through
        self.resumes = 0
        self._rng = rng
        self._index = index
        self._answer_in_ack = False
        self._hold_pending: str | None = None  # "hold"/"resume" re-offer in flight
        self.media: CallMedia | None = None
        self.recorder: FileRecorder | None = None
        self.call_recorder: CallRecorder | None = None
        self.devices: AudioDevices | None = None
        self._speaker: FrameSink | None = None
        self._ringback: _LocalTone | None = None
        self._ringtone: RingPlayer | None = None
        self.failure: str | None = None
        self._sink = sink  # instead of the recording (the demo analyses what it hears)
        self._backend = backend  # the sound card's (tests pass a loopback one)

    async def open(self) -> None:
        """Bind the RTP/RTCP ports and build the offer/answer side (a
        recording path of no known format is refused here, before the call)."""
        if self.options.record_call:
            recording_format(self.options.record_call)
        codecs = self.options.codecs()  # an unknown codec name raises before the ports open
        self.port = self.driver.open_media(self.host)
        opts = self.options
        settings = MediaSettings(
            jittersize=int(opts.param("jittersize", "3") or 3),
            natopenpackets=int(opts.param("natopenpackets", "0") or 0),
            mediatimeout=float(opts.param("mediatimeout", "0") or 0),
            # Files and tones are not microphones: their capture processing
            # (aec, agc, denoise, vad) only when asked for; a sound card gets
            # PipelineSettings' defaults.
            pipeline=PipelineSettings.from_params(
                dict(opts.params), None if opts.devices else CLI_PIPELINE_DEFAULTS
            ),
        )
        sink: FrameSink
        source: FrameSource
        echo = EchoLoop(PIPELINE_RATE) if opts.echo else None
        if opts.devices:
            self.devices = AudioDevices(
                self._backend,
                rate=PIPELINE_RATE,
                audiodevicein=opts.param("audiodevicein", "Default") or "Default",
                audiodeviceout=opts.param("audiodeviceout", "Default") or "Default",
                volumein=int(opts.param("volumein", "50") or 50),
                volumeout=int(opts.param("volumeout", "50") or 50),
            )  # fmt: skip
            source, sink = self.devices.open_capture(), self.devices.open_playback()
            self._speaker = sink
        elif self._sink is not None:
            sink = self._sink
        elif opts.record:
            self.recorder = open_recorder(self._numbered(opts.record), PIPELINE_RATE,
                                          max_duration=3600)  # fmt: skip
            sink = self.recorder
        else:
            sink = echo if echo is not None else NullSink()  # (an empty EchoLoop is falsy)
        if opts.devices:
            pass  # both ends are the sound card
        elif echo is not None:
            source = echo
            if self.recorder is not None:
                sink = _Tee(self.recorder, echo)
        elif opts.tone:
            source = ToneSource(opts.tone, PIPELINE_RATE)
        elif opts.play:
            source = FilePlayer(opts.play, PIPELINE_RATE, loop=True)
        else:
            source = SilenceSource(PIPELINE_RATE)
        self.media = CallMedia(self.host, self.port.rtp_port, codecs, rng=self._rng,
                               source=source, sink=sink, settings=settings,
                               sample_rate=PIPELINE_RATE)  # fmt: skip

    def _numbered(self, path: str) -> str:
        if self._index <= 1:
            return path
        p = Path(path)
        return str(p.with_name(f"{p.stem}-{self._index}{p.suffix}"))

    # -- offer/answer ------------------------------------------------------------------
    def offer(self) -> bytes:
        """The SDP offer of an outgoing call."""
        assert self.media is not None
        return self.media.offer()

    def answer(self, offer: bytes, now: float) -> bytes | RemoteProtocolError:
        """The SDP answer to an incoming call's offer (our offer when it has
        none), or why it cannot be answered (488, or 400 for bad SDP; see
        :meth:`warning`)."""
        assert self.media is not None
        if not offer:
            self._answer_in_ack = True
            return self.media.offer()
        try:
            answer = self.media.answer(offer, now)
        except RemoteProtocolError as exc:
            return exc
        self._started()
        return answer

    def warning(self, error: RemoteProtocolError) -> str:
        """The Warning header value for refusing an offer (RFC 3261 §20.43)."""
        if isinstance(error, NegotiationFailed):
            return error.warning
        reason = error.reason.replace('"', "'")
        return f'399 {self.host} "{reason}"'

    def connected(self, call: Call, now: float) -> bool:
        """The call is up: for an outgoing call, take the answer in the 2xx.
        False (and ``failure`` says why) when the answer is unusable."""
        assert self.media is not None
        self.ringtone(False)
        if self.media.stream is None and not self._answer_in_ack:
            try:
                self.media.receive_answer(call.remote_sdp, now)
            except RemoteProtocolError as exc:
                self.failure = f"bad SDP answer: {exc.reason}"
                return False
            self._started()
        return True

    def _started(self) -> None:
        assert self.media is not None
        self.ringback(False)
        if self.media.stream is not None and not self._started_media and self.port is not None:
            if self.options.record_call:
                self.call_recorder = open_call_recorder(
                    self._numbered(self.options.record_call), PIPELINE_RATE,
                    mode="stereo" if self.options.record_stereo else "mixed", max_duration=3600,
                )  # fmt: skip
                self.media.stream.recorder = self.call_recorder
            self._started_media = True
            self.driver.start_media(self.port, self.media.stream)

    # -- local tones (with --devices) ----------------------------------------------------
    def ringback(self, on: bool) -> None:
        """Start or stop the local ringback of an outgoing call on the
        loudspeaker (``playing`` 2, the default; ``ringback=FILE`` replaces
        the built-in cadence)."""
        if (
            on
            and self._ringback is None
            and self._speaker is not None
            and (self.options.param("playing", "2") == "2" and not self._started_media)
        ):
            tone = Ringback(PIPELINE_RATE, file=self.options.param("ringback") or None)
            self._ringback = _LocalTone(tone, self._speaker)
            self.driver.media.add_ticker(self._ringback, self.driver.now())
            self.driver.wake()
        elif not on and self._ringback is not None:
            self.driver.media.remove_ticker(self._ringback)
            self._ringback = None

    def ringtone(self, on: bool) -> None:
        """Start or stop ringing an incoming call on the ringer device
        (``playing`` 0 silences it; ``ringtone=FILE`` replaces the built-in ring)."""
        if (
            on
            and self._ringtone is None
            and self.devices is not None
            and (self.options.param("playing", "2") != "0")
        ):
            tone = Ringtone(PIPELINE_RATE, file=self.options.param("ringtone") or None)
            self._ringtone = self.devices.ring_player(tone)
            self._ringtone.start()
        elif not on and self._ringtone is not None:
            self._ringtone.stop()
            self._ringtone.close()
            self._ringtone = None

    # -- events ------------------------------------------------------------------------
    def handle(self, ua: UserAgent, event: CallEvent, now: float) -> None:
        """Take a UA event about this call (re-INVITEs and their outcome)."""
        media = self.media
        if media is None:
            return
        if isinstance(event, EarlyMediaReceived):
            # Early media (RFC 3261 §13.2.1): play the peer's announcements or
            # ringback before the answer; the 2xx normally repeats this SDP.
            self.ringback(False)  # early media replaces the local ringback
            if media.stream is None:
                try:
                    media.receive_answer(event.sdp, now)
                except RemoteProtocolError as exc:
                    self.failure = f"bad SDP in early media: {exc.reason}"
                    return
                self._started()
            return
        if isinstance(event, OfferReceived):
            if not event.sdp:
                self._answer_in_ack = True
                ua.accept_offer(event.call, media.offer(), now)
                return
            try:
                ua.accept_offer(event.call, media.answer(event.sdp, now), now)
            except RemoteProtocolError as exc:
                ua.reject_offer(event.call, now, exc.status, self.warning(exc))
            self._started()
        elif isinstance(event, SessionUpdated):
            if event.by_peer and self._answer_in_ack:
                self._answer_in_ack = False
                try:
                    media.receive_answer(event.remote_sdp, now)
                except RemoteProtocolError as exc:
                    self.failure = f"bad SDP answer in ACK: {exc.reason}"
                self._started()
            elif not event.by_peer:
                try:
                    media.receive_answer(event.remote_sdp, now)
                    if self._hold_pending == "hold":
                        self.holds += 1
                    elif self._hold_pending == "resume":
                        self.resumes += 1
                except RemoteProtocolError as exc:
                    self.failure = f"bad SDP answer to re-INVITE: {exc.reason}"
                self._hold_pending = None
        elif isinstance(event, ModificationFailed):
            media.cancel_offer()
            self._hold_pending = None

    def hold(self, ua: UserAgent, call: Call, now: float, *, resume: bool = False) -> None:
        """Send the hold (or resume) re-INVITE."""
        if self.media is None:
            return
        try:
            sdp = self.media.resume() if resume else self.media.hold()
            ua.reinvite(call, sdp, now)
        except LocalProtocolError:
            self.media.cancel_offer()
            return
        self._hold_pending = "resume" if resume else "hold"

    def send_dtmf(self, digits: str, now: float) -> bool:
        """Send RFC 4733 digits; False when the peer did not accept them."""
        stream = self.media.stream if self.media else None
        if stream is None or not stream.dtmf_supported or self.port is None:
            return False
        self.driver.media_command(self.port, lambda s: s.send_dtmf(digits, now))
        return True

    def media_event(self, event: MediaEngineEvent) -> None:
        """An event of this call's media port (DTMF, media timeout, failure)."""
        if isinstance(event, StreamFailed):
            self.failure = f"media stream failed: {event.reason}"
        elif isinstance(event, StreamReported):
            inner = event.event
            if isinstance(inner, DtmfReceived):
                self.dtmf_received += inner.digit
            elif isinstance(inner, MediaTimedOut) and not self.media_timed_out:
                # ``mediatimeout``: no RTP for that long ends the call.
                self.media_timed_out = True
                if self.on_timeout is not None:
                    self.on_timeout()
            elif isinstance(inner, RecordingFailed):
                # The recording stops; the call goes on.
                self.recording_failure = f"{inner.path}: {inner.reason}"
                print(f"sansip: recording stopped: {self.recording_failure}", file=sys.stderr)

    # -- the end -----------------------------------------------------------------------
    def close(self, now: float) -> None:
        """Final RTCP BYE, stop ticking, close sockets and the recording."""
        self.ringback(False)
        self.ringtone(False)
        if self.port is not None:
            self.driver.close_media(self.port)  # the stream's final RTCP BYE too
        if self.recorder is not None:
            self.recorder.close()
        if self.call_recorder is not None:
            self.call_recorder.close()
        if self.devices is not None:
            self.devices.close()

    def summary(self, now: float) -> dict[str, object]:
        """The media fields of the CDR."""
        stream = self.media.stream if self.media else None
        if stream is None:
            return {"codec": None, "dtmf_received": self.dtmf_received, "holds": self.holds,
                    "resumes": self.resumes, "rtp": None}  # fmt: skip
        stats = stream.statistics(now)
        rtp = stats.rtp
        return {
            "codec": stream.codec,
            "dtmf_received": self.dtmf_received,
            "holds": self.holds,
            "resumes": self.resumes,
            "media_timeout": self.media_timed_out,
            "recording_failed": self.recording_failure,
            "rtp": {
                "sent": rtp.packets_sent,
                "received": rtp.packets_received,
                "lost": rtp.packets_lost,
                "jitter_ms": round(rtp.jitter * 1000, 2),
                "rtt_ms": None if rtp.rtt is None else round(rtp.rtt * 1000, 2),
                "mos": None if rtp.mos is None else round(rtp.mos, 2),
                "concealed": stats.frames_concealed,
                "rejected": rtp.rejected,
            },
        }


class _LocalTone:
    """A tone (ringback) played to the loudspeaker on the media clock."""

    def __init__(self, source: FrameSource, sink: FrameSink) -> None:
        self.source, self.sink = source, sink

    def tick(self, now: float) -> None:
        self.sink.write(self.source.read(now))


class _Tee:
    """A sink writing to two sinks (record and echo)."""

    def __init__(self, first: FrameSink, second: FrameSink) -> None:
        self._first, self._second = first, second

    def write(self, frame: object) -> None:
        self._first.write(frame)  # type: ignore[arg-type]
        self._second.write(frame)  # type: ignore[arg-type]
