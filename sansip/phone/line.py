"""One call on one line of the phone, sans-IO: its signalling call, its
media port and offer/answer, the state the phone reports and the facts of
its CDR.

:class:`PhoneCall` owns the glue between the UA core's SDP and the
:class:`~sansip.media.CallMedia` of the call: our offer (or our answer, or
our offer in a 2xx when the INVITE had none, answered in the ACK), early
media from a 18x, re-INVITEs both ways with rollback when a re-offer is
refused, and starting the stream on the media engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sansip.audio.codecs import available_codecs
from sansip.audio.frames import AudioFrame
from sansip.audio.player import LocalPlayback, MixedSource
from sansip.dialog.call import Call
from sansip.dtls import DtlsCertificate
from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.media import CallMedia, MediaSettings
from sansip.media.call_media import DEFAULT_SUITES
from sansip.media.engine import MediaEngine, MediaPort
from sansip.phone.events import DISC_UNKNOWN, OUTGOING
from sansip.phone.history import CallRecord
from sansip.rtp import RandomSource
from sansip.sdp import CodecPreferences, LocalMedia, LocalStream, NegotiationFailed, Negotiator
from sansip.sdp.attributes import Fingerprint
from sansip.sdp.sdes import Encryption, offer_cryptos

__all__ = ["MediaOptions", "PhoneCall", "merge_headers", "offer_refusal", "reason_text"]

#: Stand-in keys for checking an offer before ringing (never sent).
_PROBE_CRYPTO = offer_cryptos(DEFAULT_SUITES, bytes)
_PROBE_FINGERPRINT = Fingerprint("sha-256", ":".join(["00"] * 32))


def offer_refusal(offer: bytes, options: MediaOptions, host: str) -> RemoteProtocolError | None:
    """Why an incoming ``offer`` cannot be answered under ``options``'
    encryption (SRTP required and none offered, SRTP offered and none
    here, no common codec), found before the phone rings; None when it can
    (the answer itself is made when the call is accepted)."""
    encryption = options.encryption
    stream = LocalStream(
        9, codecs=options.codecs.restrict(available_codecs()), encryption=encryption,
        crypto=_PROBE_CRYPTO if encryption in (Encryption.OPTIONAL, Encryption.MANDATORY) else (),
        fingerprint=_PROBE_FINGERPRINT if encryption is Encryption.DTLS else None,
    )  # fmt: skip
    try:
        Negotiator(LocalMedia(host, (stream,)), session_id=0).receive_offer(offer)
    except RemoteProtocolError as error:
        return error
    return None


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """How the calls' media is built: where RTP listens, which codecs, the
    stream settings, and the rate of what is played and recorded."""

    host: str
    codecs: CodecPreferences
    settings: MediaSettings = field(default_factory=MediaSettings)
    sample_rate: int = 16000
    #: SRTP keyed by SDES (off, when the peer does it, required) or by DTLS.
    encryption: Encryption = Encryption.OFF
    #: What DTLS-SRTP presents (the phone makes one when it starts).
    certificate: DtlsCertificate | None = None


class PhoneCall:
    """One call of the phone on ``line`` (see the module docstring)."""

    def __init__(self, line: int, direction: int, peername: str, peerdisplayname: str,
                 *, now: float) -> None:  # fmt: skip
        self.line = line
        self.direction = direction
        self.peername = peername
        self.peerdisplayname = peerdisplayname
        self.sip: Call | None = None
        self.port: MediaPort | None = None
        self.media: CallMedia | None = None
        self.state = "setup"
        self.reason = ""
        self.discparty = DISC_UNKNOWN
        self.started = now
        self.connected_at: float | None = None
        self.ended_at: float | None = None
        self.deadline: float | None = None  # ring or setup timeout
        self.digits = ""  # sent after connect (a dial string's ",digits")
        self.digits_at: float | None = None
        self.answer_in_ack = False  # our offer went in the 2xx: the answer comes in the ACK
        self.hold_pending: str | None = None  # "hold"/"resume" re-offer in flight
        self.on_hold = False
        self.mute_out = self.mute_in = False  # silence towards the peer / towards us
        self.accept_requested = False  # accept() came before the media was ready
        self.media_started = False
        self.target: object = None  # an outgoing call's URI, until its INVITE goes
        self.to_peer: MixedSource | None = None
        self.to_us: LocalPlayback | None = None
        self.recorder: Any = None  # a call recorder (both directions), while recording
        #: The addresses an outgoing call's URI resolved to (RFC 3263), if a name.
        self.targets: list[Any] | None = None
        self.explicit_uri = False  # placed to a sip: URI, not to a number at the server
        self.join_conference = False  # joins the local conference once connected
        self.answer_at: float | None = None  # answered by itself then (answer-after)
        self.invite_headers: tuple[tuple[str, str], ...] = ()  # Replaces, Referred-By, ...
        self.replacing: PhoneCall | None = None  # the call an INVITE with Replaces ends
        self.early_sdp = b""  # our answer, sent in a 183 before the call was accepted
        self.holds = self.resumes = 0  # our hold / resume re-offers the peer accepted
        self.media_timed_out = False
        self.media_failure = ""
        self.recording_failure = ""
        self.final_stats: dict[str, Any] | None = None  # stats() when the call ended

    @property
    def muted(self) -> bool:
        """Whether either direction is muted."""
        return self.mute_out or self.mute_in

    @property
    def callid(self) -> str:
        """The SIP Call-ID (empty until the INVITE is sent or received)."""
        return self.sip.call_id if self.sip is not None else ""

    # -- offer/answer ------------------------------------------------------------------
    def build_media(self, options: MediaOptions, port: MediaPort, rng: RandomSource,
                    source: object, sink: object) -> None:  # fmt: skip
        """The call's offer/answer side on ``port`` (the source and sink go
        through the call's mute switches)."""
        self.port = port
        #: Files played into what is sent, and into what is heard.
        self.to_peer = MixedSource(source)  # type: ignore[arg-type]
        self.to_us = LocalPlayback(sink)  # type: ignore[arg-type]
        self.media = CallMedia(
            options.host, port.rtp_port, options.codecs, rng=rng,
            source=_MutedSource(self, self.to_peer), sink=_MutedSink(self, self.to_us),
            settings=options.settings, sample_rate=options.sample_rate,
            encryption=options.encryption, certificate=options.certificate,
        )  # fmt: skip

    def answer_sdp(self, offer: bytes, now: float) -> bytes:
        """Our answer to an incoming offer (our offer when there was none);
        raises :class:`~sansip.errors.RemoteProtocolError` (488/400) when it
        cannot be used."""
        assert self.media is not None
        if not offer:
            self.answer_in_ack = True
            return self.media.offer()
        return self.media.answer(offer, now)

    def take_answer(self, sdp: bytes, now: float, *, replace: bool = False) -> str | None:
        """The peer's answer to our offer (``replace``: another answer to the
        offer answered last); None, or why it is unusable."""
        assert self.media is not None
        try:
            if replace:
                self.media.replace_answer(sdp, now)
            else:
                self.media.receive_answer(sdp, now)
        except RemoteProtocolError as exc:
            return exc.reason
        return None

    def start_media(self, engine: MediaEngine, now: float) -> bool:
        """Start the negotiated stream on the engine (once); whether it started now."""
        media, port = self.media, self.port
        if self.media_started or media is None or port is None or media.stream is None:
            return False
        self.media_started = True
        engine.start(port, media.stream, now)
        return True

    @staticmethod
    def refusal(error: RemoteProtocolError) -> str:
        """The disconnect reason of an offer we refused: ``srtp fail`` when
        SRTP was required and not offered, else the status and why."""
        if isinstance(error, NegotiationFailed) and error.srtp:
            return "srtp fail"
        return f"{error.status} {error.reason}"

    @staticmethod
    def unusable(problem: str) -> str:
        """The disconnect reason of an answer :meth:`take_answer` refused."""
        return "srtp fail" if problem.startswith("srtp fail") else "failed media"

    @staticmethod
    def warning(error: RemoteProtocolError, host: str) -> str:
        """The Warning header value for refusing an offer (RFC 3261 §20.43)."""
        if isinstance(error, NegotiationFailed):
            return error.warning
        reason = error.reason.replace('"', "'")
        return f'399 {host} "{reason}"'

    def play(self, source: object | None, *, to_peer: bool = True) -> None:
        """Play ``source`` into what is sent (``to_peer``) or heard; None stops."""
        overlay = self.to_peer if to_peer else self.to_us
        if overlay is None:
            raise LocalProtocolError(f"no media on line {self.line} yet")
        if source is None:
            overlay.stop()
        else:
            overlay.play(source)  # type: ignore[arg-type]

    def set_recorder(self, recorder: object | None) -> object | None:
        """Record both directions with ``recorder`` (None stops); the one in use before."""
        stream = self.media.stream if self.media is not None else None
        if stream is None:
            raise LocalProtocolError(f"no media on line {self.line} yet")
        previous: object | None = self.recorder
        self.recorder = recorder
        stream.recorder = recorder  # type: ignore[assignment]
        return previous

    def stats(self, now: float) -> dict[str, Any]:
        """The media figures (see ``Call.stats``); those at the end once ended."""
        if self.final_stats is not None:
            return self.final_stats
        stream = self.media.stream if self.media is not None else None
        if stream is None:
            return {}
        stats = stream.statistics(now)
        rtp = stats.rtp
        return {
            "codec": stream.codec, "sent": rtp.packets_sent, "received": rtp.packets_received,
            "lost": rtp.packets_lost, "jitter_ms": round(rtp.jitter * 1000, 2),
            "rtt_ms": None if rtp.rtt is None else round(rtp.rtt * 1000, 2),
            "mos": None if rtp.mos is None else round(rtp.mos, 2),
            "concealed": stats.frames_concealed, "rejected": rtp.rejected,
            "srtp": stream.srtp_suite,
        }  # fmt: skip

    # -- the end ----------------------------------------------------------------------
    def record(self, account: str, wall_clock_offset: float = 0.0) -> CallRecord:
        """The CDR of the call (call once it ended); its times are wall-clock
        seconds (``now`` plus ``wall_clock_offset``)."""
        stream = self.media.stream if self.media is not None else None
        ended = self.ended_at if self.ended_at is not None else self.started
        rtp: dict[str, Any] = {}
        codec = None
        if stream is not None:
            stats = stream.statistics(ended).rtp
            codec = stream.codec
            rtp = {"rtp_sent": stats.packets_sent, "rtp_received": stats.packets_received,
                   "rtp_lost": max(0, stats.packets_lost),
                   "jitter_ms": round(stats.jitter * 1000, 2),
                   "rtt_ms": None if stats.rtt is None else round(stats.rtt * 1000, 2),
                   "mos": None if stats.mos is None else round(stats.mos, 2)}  # fmt: skip
        me, peer = account, self.peername
        caller, called = (me, peer) if self.direction == OUTGOING else (peer, me)
        connected = self.connected_at
        duration = 0.0 if connected is None else max(0.0, ended - connected)
        wall = wall_clock_offset
        return CallRecord(
            callid=self.callid, line=self.line, direction=self.direction, caller=caller,
            called=called, peerdisplayname=self.peerdisplayname, account=account,
            started=self.started + wall, connected=None if connected is None else connected + wall,
            ended=ended + wall, duration=duration, reason=self.reason, discparty=self.discparty,
            codec=codec, **rtp,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<PhoneCall line={self.line} {self.state} {self.peername}>"


class _MutedSource:
    """The call's source, or silence while it is muted towards the peer."""

    def __init__(self, call: PhoneCall, source: Any) -> None:
        self._call, self._source = call, source

    def read(self, now: float | None = None) -> AudioFrame:
        frame: AudioFrame = self._source.read(now)
        return np.zeros_like(frame) if self._call.mute_out else frame


class _MutedSink:
    """The call's sink, given silence while what we hear is muted."""

    def __init__(self, call: PhoneCall, sink: Any) -> None:
        self._call, self._sink = call, sink

    def write(self, frame: AudioFrame) -> None:
        self._sink.write(np.zeros_like(frame) if self._call.mute_in else frame)


def merge_headers(current: tuple[tuple[str, str], ...], text: str) -> tuple[tuple[str, str], ...]:
    """``current`` extra headers changed by ``text`` (the reference's
    ``setsipheader``): ``"Name: value"`` items separated by ``;`` or line
    ends add or replace; ``"Name:"`` removes one; ``""`` removes all."""
    headers = dict(current)
    if not text.strip():
        headers.clear()
    for item in text.replace("\r\n", ";").replace("\n", ";").split(";"):
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            continue
        if value.strip():
            headers[name.strip()] = value.strip()
        else:
            headers.pop(name.strip(), None)
    return tuple(headers.items())


def reason_text(sip: Call | None, reason: str) -> str:
    """``"<code> <text>"``: the final status (or -1) and the reason."""
    if reason[:3].isdigit():
        return reason  # already "<code> <phrase>"
    status = sip.status if sip is not None else None
    code = status if status is not None and status >= 300 else None
    if reason in ("bye received", "User Hung Up") or code is None:
        code = 200 if sip is not None and sip.connected_at is not None else -1
    return f"{code} {reason}".strip()
