"""The media side of one call, sans-IO: SDP offer/answer (RFC 3264) through
a :class:`~sansip.sdp.Negotiator`, and the :class:`MediaStream` it starts
and updates.

The UA core carries SDP bodies; this object produces and consumes them:

- outgoing call: :meth:`CallMedia.offer` for the INVITE, then
  :meth:`receive_answer` with the 2xx's SDP;
- incoming call: :meth:`answer` with the INVITE's offer (raises
  :class:`~sansip.sdp.NegotiationFailed`, status 488 with a Warning, when
  nothing matches);
- re-INVITE from the peer: :meth:`answer` again (or :meth:`offer` when it
  carried none, then :meth:`receive_answer` with the ACK's SDP);
- hold and resume: :meth:`hold` / :meth:`resume` give the re-offer, the
  answer goes to :meth:`receive_answer`.

Only codecs that can run here are offered and accepted: Opus needs libopus,
which pyogg loads at run time.  Without it Opus is left out and one
warning per process, on the ``sansip.media`` logger, says what to install.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Final

from sansip.audio.codecs import available_codecs, unavailable_codecs
from sansip.audio.frames import FrameSink, FrameSource
from sansip.dtls import DtlsCertificate
from sansip.errors import LocalProtocolError
from sansip.media.stream import MediaSettings, MediaStream
from sansip.rtp import RandomSource
from sansip.sdp import (
    CodecPreferences,
    LocalMedia,
    LocalStream,
    NegotiationResult,
    Negotiator,
    NegotiatorState,
    new_session_id,
    serialize_sdp,
)
from sansip.sdp.attributes import parse_fingerprint
from sansip.sdp.sdes import Encryption, KeySource, offer_cryptos

__all__ = ["DEFAULT_SUITES", "CallMedia"]

#: The SRTP suites our offers key, in order of preference (RFC 4568, RFC 7714).
DEFAULT_SUITES: Final = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32",
                         "AEAD_AES_128_GCM", "AEAD_AES_256_GCM")  # fmt: skip

log = logging.getLogger("sansip.media")
#: Codecs whose absence was logged already (one warning per process).
_warned: set[str] = set()


def _warn_unavailable(codecs: CodecPreferences) -> None:
    """Log once per codec and process why a wanted codec is left out.

    A logging warning rather than :func:`warnings.warn`: a missing system
    library is the machine's state, not a misuse the calling code can fix,
    and ``-W error`` must not turn it into a failed call.  Without logging
    configured, Python prints it on stderr.
    """
    reasons = unavailable_codecs()
    for spec in codecs.unavailable:
        reason = reasons.get(spec.name)
        if reason is not None and spec.name not in _warned:
            _warned.add(spec.name)
            log.warning("%s is left out of offers and answers: %s", spec.name, reason)


class CallMedia:
    """Offer/answer and the audio stream of one call.

    ``address``/``port``: where we receive RTP (the RTCP port is ``port + 1``
    unless ``rtcp_mux``).  ``codecs``: preferences from the parameters (see
    :func:`sansip.sdp.codec_preferences`), restricted to ``available``, the
    codec names that can run (default:
    :func:`sansip.audio.codecs.available_codecs`; a wanted codec left out
    for a missing library is logged once).  ``source`` and ``sink`` are
    the audio in and out, at ``sample_rate`` (default: the codec's rate).
    ``encryption`` asks for SRTP keyed by SDES (RFC 4568) with
    ``srtp_suites`` in order of preference; the keys of this call come from
    ``key_source`` (random bytes; default: ``rng``, which must then be a
    cryptographic source such as ``secrets.SystemRandom()``, as the
    phone's is).  ``certificate`` is what DTLS-SRTP presents (its
    fingerprint goes in our SDP; needed with ``Encryption.DTLS``).
    """

    def __init__(
        self,
        address: str,
        port: int,
        codecs: CodecPreferences,
        *,
        rng: RandomSource,
        source: FrameSource,
        sink: FrameSink,
        settings: MediaSettings | None = None,
        sample_rate: int | None = None,
        ptime: int = 20,
        rtcp_mux: bool = False,
        username: str = "-",
        available: Collection[str] | None = None,
        encryption: Encryption = Encryption.OFF,
        srtp_suites: Sequence[str] = DEFAULT_SUITES,
        key_source: KeySource | None = None,
        certificate: DtlsCertificate | None = None,
    ) -> None:
        codecs = codecs.restrict(available_codecs() if available is None else available)
        if codecs.unavailable:
            _warn_unavailable(codecs)
        # RFC 3389 comfort noise is always accepted (the stream plays it); it
        # is sent only when silence suppression is on.
        keys = key_source or (lambda n: rng.getrandbits(8 * n).to_bytes(n, "big"))
        crypto = offer_cryptos(srtp_suites, keys) if encryption else ()
        if encryption is Encryption.DTLS and certificate is None:
            raise LocalProtocolError("DTLS-SRTP needs a certificate")
        fingerprint = parse_fingerprint(certificate.fingerprint) if certificate else None
        self._certificate = certificate
        stream = LocalStream(port, codecs=codecs, ptime=ptime, rtcp_mux=rtcp_mux,
                             comfort_noise=True, crypto=crypto, encryption=encryption,
                             fingerprint=fingerprint)  # fmt: skip
        self._local = LocalMedia(address, (stream,), username=username)
        self._negotiator = Negotiator(self._local, session_id=new_session_id(rng))
        self._rng = rng
        self.source = source
        self.sink = sink
        self.settings = settings or MediaSettings()
        self.sample_rate = sample_rate
        self.stream: MediaStream | None = None

    @property
    def negotiator(self) -> Negotiator:
        """The offer/answer state machine."""
        return self._negotiator

    @property
    def encrypted(self) -> bool:
        """Whether the stream's packets are SRTP (with DTLS: once keyed)."""
        return self.stream is not None and self.stream.encrypted

    @property
    def on_hold(self) -> bool:
        """Whether the last negotiation put the call on hold (either side)."""
        result = self._negotiator.result
        return bool(result and result.audio and result.audio.on_hold)

    def offer(self) -> bytes:
        """Our SDP offer (first INVITE, or an offer-less re-INVITE's 2xx)."""
        if self._negotiator.state is NegotiatorState.LOCAL_OFFER:
            self._negotiator.cancel_offer()
        return serialize_sdp(self._negotiator.create_offer())

    def receive_answer(self, sdp: bytes, now: float) -> None:
        """The peer's answer to our offer: start or update the stream.
        Raises :class:`~sansip.sdp.NegotiationFailed` or a 400
        :class:`~sansip.errors.RemoteProtocolError` when it is unusable."""
        self._apply(self._negotiator.receive_answer(sdp), now)

    def replace_answer(self, sdp: bytes, now: float) -> None:
        """Another answer to our offer (a forked call's 2xx whose SDP differs
        from the early media's): the stream follows it.  Raises like
        :meth:`receive_answer`; the session stays as it was then."""
        self._apply(self._negotiator.replace_answer(sdp), now)

    def answer(self, offer: bytes, now: float) -> bytes:
        """Our answer to the peer's ``offer``; starts or updates the stream.
        Raises :class:`~sansip.sdp.NegotiationFailed` (488) or a 400
        :class:`~sansip.errors.RemoteProtocolError`; the state is unchanged then."""
        if self._negotiator.state is NegotiatorState.LOCAL_OFFER:
            self._negotiator.cancel_offer()
        self._negotiator.receive_offer(offer)
        try:
            sdp = serialize_sdp(self._negotiator.create_answer())
        except Exception:
            if self._negotiator.state is NegotiatorState.REMOTE_OFFER:
                self._negotiator.reject_offer()
            raise
        result = self._negotiator.result
        assert result is not None
        self._apply(result, now)
        return sdp

    def hold(self, *, inactive: bool = False) -> bytes:
        """The re-offer that puts the call on hold (sendonly, or inactive)."""
        self._require_done()
        return serialize_sdp(self._negotiator.hold(inactive=inactive))

    def resume(self) -> bytes:
        """The re-offer that takes the call off hold."""
        self._require_done()
        return serialize_sdp(self._negotiator.resume())

    def cancel_offer(self) -> None:
        """Our re-offer was refused: the previous session stays."""
        if self._negotiator.state is NegotiatorState.LOCAL_OFFER:
            self._negotiator.cancel_offer()

    def close(self, now: float) -> None:
        """End the media: final RTCP with BYE."""
        if self.stream is not None:
            self.stream.close(now)

    def _require_done(self) -> None:
        if self._negotiator.state is not NegotiatorState.DONE:
            raise LocalProtocolError("no negotiated session to modify")

    def _apply(self, result: NegotiationResult, now: float) -> None:
        media = result.audio
        if media is None:
            return
        if self.stream is None:
            self.stream = MediaStream(
                media, rng=self._rng, now=now, source=self.source, sink=self.sink,
                settings=self.settings, sample_rate=self.sample_rate,
                certificate=self._certificate,
            )  # fmt: skip
        else:
            self.stream.update(media, now)
