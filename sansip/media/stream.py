"""One audio stream of a call, sans-IO: a negotiated SDP stream bound to an
RTP session, an encoder and decoder, a jitter buffer, and a frame source
and sink.

The media clock (in the io adapters) calls :meth:`MediaStream.tick` every
20 ms: the stream reads one frame from its source, encodes and sends it
once a packet's worth (``ptime``) is collected, and writes one frame to
its sink, decoded from the jitter buffer or concealed when a packet is
missing or late.  Network input goes to :meth:`receive_datagram` (RTP and
RTCP; ``rtcp=True`` for the separate RTCP port), output comes from
:meth:`datagrams_to_send` (RTCP packets are told apart with
:func:`sansip.rtp.is_rtcp` when RTP and RTCP use separate ports), and
RTCP, DTMF pacing and the media timeout run on :meth:`get_timer` /
:meth:`handle_timer`, like every machine here.

The pipeline runs at ``sample_rate`` (default: the codec's PCM rate);
when the codec's rate differs, frames are converted on the way by one
streaming polyphase resampler per direction
(:class:`~sansip.audio.resample.Resampler`: captured audio from
``sample_rate`` to the codec's rate before encoding, decoded audio back
to ``sample_rate`` before the sink and the recorder).  They keep their
state from frame to frame, so the frame edges leave no mark, and each adds
its filter delay (about 4 ms for 8 <-> 16 kHz).  A re-INVITE that changes
the remote address, direction or codec is applied with :meth:`update`
(a new codec rate gets new resamplers).

Recording: the call recorder (:attr:`MediaStream.recorder`) and a file
recorder used as the sink write through a byte sink that may fail (a full
disk); the tick after it did, the stream emits :class:`RecordingFailed`
once per recording, and the stream and the call go on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias

import numpy as np
from numpy.typing import NDArray

from sansip.audio.cng import (
    ComfortNoiseGenerator,
    NoiseDescription,
    SuppressorAction,
    SuppressorDecision,
)
from sansip.audio.codecs import Decoder, Encoder, create_decoder, create_encoder
from sansip.audio.codecs.g711 import G711Decoder, G711Encoder
from sansip.audio.codecs.opus import OpusDecoder
from sansip.audio.frames import FrameSink, FrameSource
from sansip.audio.jitter import Empty, JitterBuffer, Missing
from sansip.audio.pipeline import AudioPipeline
from sansip.audio.recorder import FileRecorder
from sansip.audio.resample import Resampler
from sansip.errors import LocalProtocolError
from sansip.media.security import (
    EncryptionFailed,
    MediaDtls,
    SplitTransform,
    is_dtls,
    srtp_transform,
)
from sansip.media.settings import MediaSettings, MediaStatistics
from sansip.rtp import (
    ByeReceived,
    DtmfReceived,
    Latched,
    MediaTimedOut,
    RandomSource,
    RemoteSourceChanged,
    RtpConfig,
    RtpReceived,
    RtpSession,
    SsrcCollided,
    is_rtcp,
)
from sansip.rtp.types import Address, Datagram
from sansip.sdp import NegotiatedMedia

if TYPE_CHECKING:
    from sansip.dtls import DtlsCertificate
    from sansip.media.batch import CodecBatch
    from sansip.rtp.srtp import SrtpTransform

__all__ = [
    "FRAME_DURATION",
    "CallTap",
    "MediaEvent",
    "MediaSettings",
    "MediaStatistics",
    "MediaStream",
    "RecordingFailed",
]

#: The media clock's tick (seconds): one frame in and out per tick.
FRAME_DURATION: Final = 0.020


class CallTap(Protocol):
    """What a call recorder takes: the frame sent and the frame heard, per tick."""

    def sent(self, frame: NDArray[np.int16]) -> None:
        """The frame that went to the peer (silence while held or muted)."""

    def received(self, frame: NDArray[np.int16]) -> None:
        """The frame that went to the loudspeaker."""

    def end_tick(self) -> None:
        """Both directions of this tick were given."""

    @property
    def path(self) -> PurePath:
        """The file being written (named in :class:`RecordingFailed`)."""

    @property
    def failure(self) -> str | None:
        """Why the recording stopped early (writing failed), else None."""


@dataclass(frozen=True, slots=True)
class RecordingFailed:
    """Writing a recording of the stream failed (``reason``, e.g. a full
    disk): the recording stopped, the stream and the call go on."""

    path: str
    reason: str


MediaEvent: TypeAlias = (
    DtmfReceived | MediaTimedOut | Latched | ByeReceived | RemoteSourceChanged | SsrcCollided
    | RecordingFailed | EncryptionFailed
)  # fmt: skip


#: An empty frame (nothing decoded ahead); never written to.
_NOTHING: Final[NDArray[np.int16]] = np.zeros(0, dtype=np.int16)
_INT16: Final = np.dtype(np.int16)


class MediaStream:
    """The audio of one call on one RTP session (see the module docstring)."""

    # Slots: every tick reads and writes a few dozen of these (no instance dict).
    __slots__ = (
        "_capture_resampler", "_certificate", "_cn_pt", "_comfort", "_concealed", "_decoded",
        "_decoder", "_dtls", "_encoder", "_events", "_failed_recordings", "_farewell", "_frame",
        "_g711", "_jitter", "_law", "_local_hold", "_marker", "_media", "_own_plc", "_packet",
        "_packet_advance", "_peer_silent", "_pending", "_pending_samples", "_pipeline",
        "_playback_resampler", "_played", "_playing", "_rate_ratio", "_receive_pts", "_receiving",
        "_rng", "_send_pt", "_sending", "_srtp", "_srtp_partial", "_suppressing", "recorder", "rtp",
        "sample_rate", "settings", "sink", "source",
    )  # fmt: skip

    def __init__(
        self,
        media: NegotiatedMedia,
        *,
        rng: RandomSource,
        now: float,
        source: FrameSource,
        sink: FrameSink,
        settings: MediaSettings | None = None,
        sample_rate: int | None = None,
        certificate: DtlsCertificate | None = None,
    ) -> None:
        self.settings = settings or MediaSettings()
        self.source = source
        self.sink = sink
        self._rng = rng
        self._events: deque[MediaEvent] = deque()
        self._played = 0
        self._concealed = 0
        self._playing = False
        self.media = media
        self._open_codec(media)
        self.sample_rate = sample_rate or self._encoder.sample_rate
        self._capture_resampler: Resampler | None = None  # sample_rate -> codec rate
        self._playback_resampler: Resampler | None = None  # codec rate -> sample_rate
        self._open_resamplers()
        #: Gets both directions at ``sample_rate`` each tick (call recording).
        self.recorder: CallTap | None = None
        self._failed_recordings: list[object] = []  # reported with RecordingFailed
        self._farewell: list[Datagram] = []  # the old session's last RTCP (BYE) after a switch
        self._srtp: SrtpTransform | SplitTransform | None = srtp_transform(media)
        self._certificate = certificate
        self._srtp_partial = False  # DTLS: RTP keyed, RTCP's own association not yet
        self._dtls = self._dtls_for(media, now)
        self.rtp = self._open_session(media, now)

    @property
    def media(self) -> NegotiatedMedia:
        """The negotiated stream in use (see :meth:`update`)."""
        return self._media

    @media.setter
    def media(self, media: NegotiatedMedia) -> None:
        self._media = media
        # Read once per tick and packet: kept as plain attributes.
        self._sending = media.sending
        self._receiving = media.receiving
        self._local_hold = media.local_hold

    # -- configuration -----------------------------------------------------------------
    def _open_codec(self, media: NegotiatedMedia) -> None:
        codec = media.codec
        fmtp = dict(p.split("=", 1) for p in codec.fmtp.replace(" ", "").split(";") if "=" in p)
        rate = codec.spec.sample_rate or None
        self._encoder: Encoder = create_encoder(
            codec.name, fmtp=fmtp, ptime=media.ptime, clock_rate=codec.clock_rate,
            sample_rate=rate,
        )  # fmt: skip
        self._decoder: Decoder = create_decoder(
            codec.name, ptime=media.ptime, clock_rate=codec.clock_rate, sample_rate=rate
        )
        codec_rate = self._encoder.sample_rate
        # PCMU or PCMA: a CodecBatch may encode and decode for the stream.
        decoder, g711 = self._decoder, isinstance(self._encoder, G711Encoder)
        self._g711 = decoder if g711 and isinstance(decoder, G711Decoder) else None
        self._law = self._encoder.name if self._g711 is not None else None
        self._frame = round(codec_rate * FRAME_DURATION)  # codec samples per tick
        self._packet = max(self._frame, round(codec_rate * media.ptime / 1000))
        self._send_pt = codec.payload_type
        self._receive_pts = {codec.payload_type, codec.local_payload_type}
        self._pending: list[NDArray[np.int16]] = []  # source audio not yet sent
        self._pending_samples = 0
        self._packet_advance = self._encoder.timestamp_increment(self._packet)
        self._decoded: NDArray[np.int16] = _NOTHING
        self._rate_ratio = self._encoder.sample_rate / codec.clock_rate
        self._marker = True  # the first packet of a talkspurt
        self._jitter = JitterBuffer(
            codec.clock_rate,
            frame_samples=self._encoder.timestamp_increment(self._frame),
            packet_duration=media.ptime / 1000,
            jittersize=self.settings.jittersize,
        )
        # Audio processing at the codec's rate.  Opus conceals on its own, so
        # the pitch concealer (and its look-ahead delay) stays out of its way.
        self._own_plc = isinstance(self._decoder, OpusDecoder)
        pipeline = self.settings.pipeline
        if pipeline is not None and self._own_plc and pipeline.plc:
            pipeline = replace(pipeline, plc=False)
        self._pipeline = None if pipeline is None else AudioPipeline(
            codec_rate, self._frame, pipeline)  # fmt: skip
        self._cn_pt = media.cn_pt
        self._comfort = ComfortNoiseGenerator(codec_rate, self._frame)
        self._peer_silent = False  # the peer's last packet was comfort noise
        self._suppressing = False  # we are sending no audio (silence suppression)

    def _open_resamplers(self) -> None:
        """One stateful converter per direction when ``sample_rate`` is not the
        codec's rate (raises LocalProtocolError for a rate it cannot convert)."""
        codec_rate, rate = self._encoder.sample_rate, self.sample_rate
        if rate == codec_rate:
            self._capture_resampler = self._playback_resampler = None
            return
        self._capture_resampler = Resampler(rate, codec_rate)
        self._playback_resampler = Resampler(codec_rate, rate)

    def _open_session(self, media: NegotiatedMedia, now: float) -> RtpSession:
        session = RtpSession(
            self._rtp_config(media), self._rng, now,
            (media.remote_address, media.remote_port),
            remote_rtcp=(media.remote_rtcp_address, media.remote_rtcp_port),
        )  # fmt: skip
        session.set_receiving(media.receiving, now)
        session.set_transform(self._srtp)
        # Media packets come straight to the jitter buffer, not as events.
        session.media_handler = self._on_media
        return session

    def _rtp_config(self, media: NegotiatedMedia) -> RtpConfig:
        codec = media.codec
        return RtpConfig(
            payload_types=frozenset({codec.payload_type, codec.local_payload_type}),
            clock_rate=codec.clock_rate,
            ptime=media.ptime / 1000,
            codec=codec.name,
            dtmf_payload_type=media.telephone_event_pt,
            cn_payload_type=media.cn_pt,
            cname=self.settings.cname,
            rtcp_mux=media.rtcp_mux,
            natopenpackets=self.settings.natopenpackets,
            mediatimeout=self.settings.mediatimeout,
            wall_clock_offset=self.settings.wall_clock_offset,
        )

    def _dtls_for(self, media: NegotiatedMedia, now: float) -> MediaDtls | None:
        if media.dtls is None or self._certificate is None:
            return None
        return MediaDtls(self._certificate, media.dtls, rng=self._rng, now=now,
                         rtcp=not media.rtcp_mux)  # fmt: skip

    def _dtls_progress(self) -> None:
        """Key the session once the handshake is done; report a failure once."""
        dtls = self._dtls
        assert dtls is not None
        if dtls.keyed and (self._srtp is None or (dtls.rtcp_keyed and self._srtp_partial)):
            self._srtp = dtls.transform
            self._srtp_partial = not dtls.rtcp_keyed  # RTCP's own keys still to come
            self.rtp.set_transform(self._srtp)
        elif dtls.failure is not None and not dtls.rtp.reported:
            dtls.rtp.reported = True
            self._events.append(EncryptionFailed(dtls.failure))

    @property
    def encrypted(self) -> bool:
        """Whether the packets are SRTP (SDES keys, or DTLS once keyed)."""
        return self._srtp is not None

    @property
    def srtp_suite(self) -> str | None:
        """The SRTP protection profile in use (its SDES name), or None."""
        return None if self._srtp is None else self._srtp.profile.name

    @property
    def codec(self) -> str:
        """The codec in use (the SDP encoding name)."""
        return self.media.codec.name

    @property
    def sending(self) -> bool:
        """Whether audio goes out (not on hold, not recvonly)."""
        return self.media.sending

    @property
    def receiving(self) -> bool:
        """Whether audio is expected from the peer."""
        return self.media.receiving

    def update(self, media: NegotiatedMedia, now: float) -> None:
        """Apply a new negotiation (re-INVITE): address, direction, codec.

        A new codec or clock rate starts a new RTP session (new SSRC and
        sequence, as a changed stream is a new source); a new address only
        moves where packets go."""
        old = self.media
        self.media = media
        if media.srtp != old.srtp:  # SDES re-keyed (or SRTP started or ended) by this exchange
            self._srtp = srtp_transform(media)
            self.rtp.set_transform(self._srtp)
        if media.dtls != old.dtls:  # a new DTLS association (RFC 5763 §6.7.1)
            self._dtls = self._dtls_for(media, now)
        if (media.codec.name, media.codec.clock_rate, media.ptime, media.rtcp_mux) != (
            old.codec.name, old.codec.clock_rate, old.ptime, old.rtcp_mux
        ) or media.telephone_event_pt != old.telephone_event_pt:  # fmt: skip
            # The old source says goodbye (RFC 3550 §6.6) before the new one starts.
            self.rtp.bye(now, "codec change", wall_time=self._wall(now))
            self._farewell += self.rtp.datagrams_to_send(now)
            self._open_codec(media)
            self._open_resamplers()
            self.rtp = self._open_session(media, now)
        elif (media.remote_address, media.remote_port) != (old.remote_address, old.remote_port):
            self.rtp.set_remote(
                (media.remote_address, media.remote_port),
                (media.remote_rtcp_address, media.remote_rtcp_port),
            )
        if media.sending and not old.sending:
            self._marker = True
        self.rtp.set_receiving(media.receiving, now)

    # -- the machine shape -------------------------------------------------------------
    def receive_datagram(
        self, data: bytes, addr: Address, now: float, *, rtcp: bool = False
    ) -> None:
        """Take one RTP or RTCP datagram (or a DTLS record); never raises."""
        dtls = self._dtls
        if dtls is not None and (is_dtls(data) or not (dtls.rtcp_keyed if rtcp else dtls.keyed)):
            if is_dtls(data):
                dtls.receive_datagram(data, now, rtcp=rtcp)
                self._dtls_progress()
            else:  # plain media (or RTCP) before its keys: not taken
                dtls.rtp.held_back += 1
            return
        rtp = self.rtp
        rtp.receive_datagram(data, addr, now, rtcp=rtcp,
                             wall_time=now + self.settings.wall_clock_offset)  # fmt: skip
        if rtp.has_events:
            self._drain(now)

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """RTP and RTCP to send (RTCP: see :func:`sansip.rtp.is_rtcp`), and
        DTLS records with DTLS-SRTP."""
        out = self.rtp.datagrams_to_send(now)
        if self._farewell:
            out, self._farewell = self._farewell + out, []
        dtls = self._dtls
        if dtls is not None:
            if not dtls.keyed:
                dtls.rtp.held_back += len(out)  # nothing leaves in plain RTP
                out = []
            elif not dtls.rtcp_keyed:  # RTCP waits for its own keys
                kept = [d for d in out if not is_rtcp(d[0])]
                dtls.rtp.held_back += len(out) - len(kept)
                out = kept
            media = self.media
            out += dtls.datagrams_to_send(now, (media.remote_address, media.remote_port),
                                          self.rtcp_peer)  # fmt: skip
        return out

    @property
    def rtcp_peer(self) -> Address:
        """Where RTCP goes (the RTP address with rtcp-mux)."""
        media = self.media
        if media.rtcp_mux:
            return (media.remote_address, media.remote_port)
        return (media.remote_rtcp_address, media.remote_rtcp_port)

    def get_timer(self) -> float | None:
        """The next RTCP, DTMF, media-timeout or DTLS deadline (not the media clock)."""
        deadline = self.rtp.get_timer()
        if self._dtls is not None and (handshake := self._dtls.get_timer()) is not None:
            return handshake if deadline is None else min(deadline, handshake)
        return deadline

    def handle_timer(self, now: float) -> None:
        """Fire what is due."""
        dtls = self._dtls
        if dtls is not None and (handshake := dtls.get_timer()) is not None and handshake <= now:
            dtls.handle_timer(now)
            self._dtls_progress()
        self.rtp.handle_timer(now, wall_time=self._wall(now))
        self._drain(now)

    def service(self, now: float) -> list[Datagram]:
        """What the media clock does after a tick: :meth:`handle_timer` if a
        timer is due at ``now``, then :meth:`datagrams_to_send`."""
        rtp = self.rtp
        deadline = rtp.get_timer() if self._dtls is None else self.get_timer()
        if deadline is not None and deadline <= now:
            self.handle_timer(now)
        if self._farewell or self._dtls is not None:
            return self.datagrams_to_send(now)
        return rtp.datagrams_to_send(now)

    def next_event(self) -> MediaEvent | None:
        """DTMF received, media timeout, latching, source changes and failed recordings."""
        return self._events.popleft() if self._events else None

    # -- commands ----------------------------------------------------------------------
    def tick(self, now: float, batch: CodecBatch | None = None) -> None:
        """One media clock tick: one frame in from the source, one frame out
        to the sink.  A G.711 stream leaves its coding to a ``batch`` (see
        :mod:`sansip.media.batch`), whose ``run`` then finishes the tick."""
        if self.rtp.closed:
            return
        batch = batch if self._law is not None else None
        self._send_side(now, batch)
        if self._receive_side(now, batch) and (
            self.recorder is not None or isinstance(self.sink, FileRecorder)
        ):
            self._end_tick()

    def _end_tick(self) -> None:
        """The recorders' end of the tick (and their failures reported)."""
        recorder = self.recorder
        if recorder is not None:
            recorder.end_tick()
            if recorder.failure is not None:
                self._recording_failed(recorder, recorder.path, recorder.failure)
        sink = self.sink
        if isinstance(sink, FileRecorder) and sink.failure is not None:
            self._recording_failed(sink, sink.path, sink.failure)

    def send_dtmf(self, digits: str, now: float, duration_ms: int | None = None) -> None:
        """Send ``digits`` as RFC 4733 events (raises LocalProtocolError when
        the peer did not accept telephone-event)."""
        duration = duration_ms or self.settings.dtmf_duration_ms
        self.rtp.send_dtmf(digits, now, duration)

    @property
    def dtmf_supported(self) -> bool:
        """Whether RFC 4733 events were negotiated."""
        return self.media.telephone_event_pt is not None

    def close(self, now: float) -> None:
        """Send the final RTCP report with BYE (and DTLS close_notify); the stream stops."""
        self.rtp.bye(now, "call ended", wall_time=self._wall(now))
        if self._dtls is not None:
            self._dtls.close()

    def statistics(self, now: float) -> MediaStatistics:
        """A snapshot of RTP, jitter buffer and playout counters."""
        return MediaStatistics(self.codec, self.rtp.statistics(now), self._jitter.stats(),
                               self._played, self._concealed)  # fmt: skip

    # -- internals -----------------------------------------------------------------------
    def _recording_failed(self, recording: object, path: PurePath, reason: str) -> None:
        """Report a recording's failure once."""
        if not any(recording is failed for failed in self._failed_recordings):
            self._failed_recordings.append(recording)
            self._events.append(RecordingFailed(str(path), reason))

    def _wall(self, now: float) -> float:
        return now + self.settings.wall_clock_offset

    def _on_media(  # noqa: PLR0917 - the session's media handler: fields, no packet object
        self, payload_type: int, seq: int, timestamp: int, payload: bytes, marker: bool, now: float
    ) -> None:
        """A media packet the RTP session accepted: into the jitter buffer
        (comfort noise updates the noise played while the peer is silent)."""
        if payload_type in self._receive_pts and self._receiving:
            self._peer_silent = False
            self._jitter.push(seq, timestamp, payload, now, marker=marker)
        elif payload_type == self._cn_pt and payload and self._receiving:
            self._peer_silent = True
            description = NoiseDescription.from_payload(payload)
            self._comfort.update(description.level, description.coefficients)

    def _drain(self, now: float) -> None:
        rtp = self.rtp
        while (event := rtp.next_event()) is not None:
            if isinstance(event, RtpReceived):  # a session without the media handler
                packet = event.packet
                self._on_media(packet.payload_type, packet.sequence_number, packet.timestamp,
                               packet.payload, packet.marker, now)  # fmt: skip
            elif isinstance(event, DtmfReceived | MediaTimedOut | Latched | ByeReceived
                            | RemoteSourceChanged | SsrcCollided):  # fmt: skip
                self._events.append(event)

    def _send_side(self, now: float, batch: CodecBatch | None) -> None:
        frame = self.source.read(now)
        recorder = self.recorder
        if recorder is not None:
            held = not self._sending or self._local_hold
            recorder.sent(np.zeros(len(frame), dtype=np.int16) if held else frame)
        if not self._sending:
            self._pending, self._pending_samples = [], 0
            return
        if self._local_hold:
            # Holding with sendonly: the line stays open (no media timeout at
            # the peer) but carries silence, not our microphone.
            frame = np.zeros(len(frame), dtype=np.int16)
        resampler = self._capture_resampler
        if resampler is not None:  # frames pass through at the codec's rate
            frame = resampler.process(frame)
        size = self._frame
        if len(frame) != size:
            frame = np.resize(frame, size).astype(np.int16) if len(frame) else (
                np.zeros(size, dtype=np.int16))  # fmt: skip
        rtp = self.rtp
        pipeline = self._pipeline
        if pipeline is not None and size == pipeline.frame_samples:
            frame, decision = pipeline.capture(frame)
            if decision.action is not SuppressorAction.AUDIO and self._pending_samples == 0:
                self._silent_frame(decision, now)
                return
            if self._suppressing:
                self._suppressing, self._marker = False, True  # a new talkspurt
        if rtp.dtmf_active:
            # The events stand in for the audio (the session moves the RTP
            # timestamp past each event); audio resumes as a new talkspurt.
            self._pending, self._pending_samples = [], 0
            self._marker = True
            return
        if not self._pending_samples and size >= self._packet:
            pcm = frame  # one frame is one packet (ptime 20): nothing to collect
        else:
            self._pending.append(frame)
            self._pending_samples += size
            if self._pending_samples < self._packet:
                return
            pcm = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending, self._pending_samples = [], 0
        if batch is not None and type(pcm) is np.ndarray and pcm.dtype is _INT16 and pcm.ndim == 1:
            batch.encode(self, pcm)  # it calls _send_encoded
            return
        try:
            payload = self._encoder.encode(pcm)
        except LocalProtocolError:
            return
        self._send_encoded(payload, len(pcm), now)

    def _send_encoded(self, payload: bytes, count: int, now: float) -> None:
        advance = (self._packet_advance if count == self._packet
                   else self._encoder.timestamp_increment(count))  # fmt: skip
        self.rtp.send_payload(payload, self._send_pt, now, marker=self._marker,
                              timestamp_advance=advance)  # fmt: skip
        self._marker = False

    def _silent_frame(self, decision: SuppressorDecision, now: float) -> None:
        """Silence suppression: a comfort noise update, or nothing; the RTP
        timestamp moves on either way."""
        self._suppressing = True
        advance = self._encoder.timestamp_increment(self._frame)
        noise = decision.noise
        if (
            decision.action is SuppressorAction.COMFORT_NOISE
            and noise is not None
            and (self._cn_pt is not None)
        ):
            self.rtp.send_comfort_noise(noise.level, now, coefficients=noise.coefficients,
                                        timestamp_advance=advance)  # fmt: skip
        else:
            self.rtp.skip(advance)

    def _receive_side(self, now: float, batch: CodecBatch | None) -> bool:
        """Play one frame; False when ``batch`` decodes it (see :meth:`_batch_decoded`)."""
        piece = None
        if len(self._decoded) < self._frame and self._receiving:
            item = self._jitter.pop_payload(now)
            if batch is not None and type(item) is bytes and item:
                self._playing = True
                batch.decode(self, item)  # it calls _batch_decoded
                return False
            piece = self._piece(item)
        self._receive_piece(piece, now)
        return True

    def _batch_decoded(self, pcm: NDArray[np.int16], now: float) -> None:
        """The rest of the tick once a CodecBatch decoded this tick's payload."""
        self._g711.remember(pcm)  # type: ignore[union-attr]  # G.711 (with a _law)
        pipeline = self._pipeline
        if pipeline is None and len(pcm) == self._frame and not len(self._decoded):
            self._played += 1  # the usual case, as in _receive_piece
            self._write(pcm)
        else:
            self._receive_piece(pcm if pipeline is None else pipeline.received(pcm), now)
        if self.recorder is not None or isinstance(self.sink, FileRecorder):
            self._end_tick()

    def _receive_piece(self, piece: NDArray[np.int16] | None, now: float) -> None:
        """Play one frame, starting with ``piece`` (None: nothing decoded)."""
        size = self._frame
        decoded = self._decoded
        if piece is not None and not len(decoded) and len(piece) == size:
            # The usual case: one decoded packet is exactly one frame.
            self._played += 1
            self._write(piece)
            return
        while piece is not None:
            decoded = np.concatenate((decoded, piece))
            if len(decoded) >= size:
                break
            piece = self._next_piece(now)
        if len(decoded) >= size:
            out, self._decoded = decoded[:size], decoded[size:]
            self._played += 1
        else:
            out = np.zeros(size, dtype=np.int16)
            self._decoded = _NOTHING
        self._write(out)

    def _write(self, frame: NDArray[np.int16]) -> None:
        if self._pipeline is not None:
            frame = self._pipeline.playback(frame)
        resampler = self._playback_resampler
        if resampler is not None:
            frame = resampler.process(frame)
        self.sink.write(frame)
        if self.recorder is not None:
            self.recorder.received(frame)

    def _next_piece(self, now: float) -> NDArray[np.int16] | None:
        """The next decoded audio from the jitter buffer; None when there is
        nothing to play this tick (silence is written instead)."""
        return self._piece(self._jitter.pop_payload(now)) if self._receiving else None

    def _piece(self, item: bytes | Missing | Empty) -> NDArray[np.int16] | None:
        """The audio for what the jitter buffer gave (see :meth:`_next_piece`)."""
        pipeline = self._pipeline
        if type(item) is bytes:
            self._playing = True
            pcm = self._decoder.decode(item)
            return pcm if pipeline is None else pipeline.received(pcm)
        if self._peer_silent:  # the peer suppresses silence: play its comfort noise
            noise = self._comfort.generate(self._frame)
            return noise if pipeline is None else pipeline.received(noise)
        if isinstance(item, Missing):
            self._concealed += 1
            samples = max(1, round(item.duration * self._rate_ratio))
            following = self._jitter.peek()
            if (isinstance(self._decoder, OpusDecoder) and following is not None
                    and following.seq == item.seq + 1):  # fmt: skip
                return self._decoder.decode_fec(following.payload, samples)
            return self._conceal(samples)
        if self._playing:  # an underrun while playing: conceal one tick
            self._concealed += 1
            return self._conceal(self._frame)
        return None

    def _conceal(self, samples: int) -> NDArray[np.int16]:
        """Stand-in audio for a lost frame: the pipeline's pitch-based
        concealment (``plc``), else the decoder's own."""
        pipeline = self._pipeline
        if pipeline is not None and not self._own_plc:
            concealed = pipeline.conceal(samples)
            if concealed is not None:
                return concealed
        return self._decoder.conceal(samples)
