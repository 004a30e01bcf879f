"""The offer/answer negotiator (RFC 3264), one per SIP session.

A sans-IO state machine like pjmedia's SDP negotiator::

    IDLE --create_offer--> LOCAL_OFFER --receive_answer--> DONE
    IDLE --receive_offer--> REMOTE_OFFER --create_answer--> DONE
    DONE --create_offer / hold / resume / receive_offer--> (as from IDLE)
    LOCAL_OFFER --cancel_offer--> IDLE or DONE   (re-INVITE rejected)
    REMOTE_OFFER --reject_offer--> IDLE or DONE  (we answered 488)

A call that is illegal in the current state raises LocalProtocolError.
Bad SDP raises RemoteProtocolError (400) and a negotiation without common
media raises :class:`NegotiationFailed` (488 plus a Warning value); both
leave the state unchanged.

The o= line keeps one username and session id; its version grows by one
whenever our SDP changes and stays when an unchanged SDP is sent again.
Dynamic payload types are allocated from 96 and kept for the session.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol

from sansip.errors import LocalProtocolError
from sansip.sdp.attributes import Attribute, Direction, bad_sdp
from sansip.sdp.codecs import CodecSpec
from sansip.sdp.fingerprints import DTLS_PROTOS, answer_setup, fingerprint_of
from sansip.sdp.model import Connection, MediaDescription, Origin, SessionDescription, Timing
from sansip.sdp.parse import parse_sdp
from sansip.sdp.result import (
    WARN_INCOMPATIBLE_FORMAT,
    WARN_INCOMPATIBLE_TRANSPORT,
    WARN_MEDIA_TYPE_UNAVAILABLE,
    NegotiatedMedia,
    NegotiationFailed,
    NegotiationResult,
)
from sansip.sdp.sdes import Encryption, answer_crypto
from sansip.sdp.streams import (
    SECURE_PROTOS,
    LocalMedia,
    LocalStream,
    answer_direction,
    answer_formats,
    build_media,
    disabled,
    formats_of,
    is_voice,
    negotiate_stream,
    offer_specs,
    remote_direction,
)

__all__ = ["HoldMode", "Negotiator", "NegotiatorState", "RandomSource", "new_session_id"]

_DYNAMIC = range(96, 128)


class RandomSource(Protocol):
    """Where a session id gets its randomness (``random.Random`` fits)."""

    def getrandbits(self, k: int, /) -> int:
        """A non-negative integer of ``k`` random bits."""
        ...


def new_session_id(rng: RandomSource) -> int:
    """A fresh o= session id (62 random bits, fits a signed 64-bit integer)."""
    return rng.getrandbits(62)


class NegotiatorState(Enum):
    """Where the offer/answer exchange stands."""

    IDLE = "idle"
    LOCAL_OFFER = "local-offer"
    REMOTE_OFFER = "remote-offer"
    DONE = "done"


class HoldMode(Enum):
    """Our hold wish: none, hold with sendonly (RFC 3264 §8.4), or inactive."""

    NONE = "none"
    SENDONLY = "sendonly"
    INACTIVE = "inactive"


def _coerce(sdp: bytes | str | SessionDescription) -> SessionDescription:
    return sdp if isinstance(sdp, SessionDescription) else parse_sdp(sdp)


class Negotiator:
    """Builds our offers and answers and negotiates the peer's (see module doc).

    ``session_id`` comes from the caller (see :func:`new_session_id`);
    ``session_version`` is the o= version of the first SDP we send.
    """

    def __init__(self, local: LocalMedia, *, session_id: int, session_version: int = 0) -> None:
        self._local = local
        self._session_id = str(session_id)
        self._version = session_version
        self._state = NegotiatorState.IDLE
        self._hold = HoldMode.NONE
        self._last_local: SessionDescription | None = None
        self._pending_offer: SessionDescription | None = None
        #: Our offer the last answer answered (None once the peer offered since).
        self._answered_offer: SessionDescription | None = None
        self._remote_offer: SessionDescription | None = None
        self._remote: SessionDescription | None = None
        self._result: NegotiationResult | None = None
        self._pt_map: dict[CodecSpec, int] = {}

    # -- read-only state -------------------------------------------------------------

    @property
    def state(self) -> NegotiatorState:
        """The current state."""
        return self._state

    @property
    def result(self) -> NegotiationResult | None:
        """What the last completed exchange negotiated (None before the first)."""
        return self._result

    @property
    def local_sdp(self) -> SessionDescription | None:
        """The last SDP we produced (offer or answer)."""
        return self._last_local

    @property
    def remote_sdp(self) -> SessionDescription | None:
        """The peer's SDP of the last completed exchange."""
        return self._remote

    @property
    def local_media(self) -> LocalMedia:
        """Our media configuration."""
        return self._local

    @property
    def hold_mode(self) -> HoldMode:
        """Our current hold wish."""
        return self._hold

    # -- configuration ---------------------------------------------------------------

    def set_local_media(self, local: LocalMedia) -> None:
        """Use ``local`` for the next offer or answer (new port, codecs, ...)."""
        self._local = local

    def set_hold(self, mode: HoldMode) -> None:
        """Set the hold wish used by the next offer or answer."""
        self._hold = mode

    # -- commands --------------------------------------------------------------------

    def create_offer(self) -> SessionDescription:
        """Our offer (initial or re-offer); moves to LOCAL_OFFER.

        A re-offer keeps every m-line of our previous SDP in order (disabled
        ones stay at port 0) and the session's payload type numbers.
        """
        self._require(NegotiatorState.IDLE, NegotiatorState.DONE, action="create an offer")
        streams = list(self._local.streams)
        media: list[MediaDescription] = []
        for previous in self._last_local.media if self._last_local else ():
            if previous.media == "audio" and previous.port != 0 and streams:
                media.append(self._offer_stream(streams.pop(0), media))
            else:
                media.append(disabled(previous))
        for stream in streams:
            media.append(self._offer_stream(stream, media))
        offer = self._stamp(media)
        self._pending_offer = offer
        self._state = NegotiatorState.LOCAL_OFFER
        return offer

    def hold(self, *, inactive: bool = False) -> SessionDescription:
        """Put the call on hold: a re-offer with sendonly (or inactive)."""
        self._require(NegotiatorState.IDLE, NegotiatorState.DONE, action="hold")
        self._hold = HoldMode.INACTIVE if inactive else HoldMode.SENDONLY
        return self.create_offer()

    def resume(self) -> SessionDescription:
        """Take the call off hold: a re-offer with the streams' own direction."""
        self._require(NegotiatorState.IDLE, NegotiatorState.DONE, action="resume")
        self._hold = HoldMode.NONE
        return self.create_offer()

    def receive_answer(self, answer: bytes | str | SessionDescription) -> NegotiationResult:
        """Negotiate the peer's answer to our pending offer; moves to DONE."""
        self._require(NegotiatorState.LOCAL_OFFER, action="receive an answer")
        offer = self._pending_offer
        assert offer is not None
        sdp = _coerce(answer)
        if len(sdp.media) != len(offer.media):
            raise bad_sdp(f"the answer has {len(sdp.media)} m-lines, the offer {len(offer.media)}")
        streams: list[NegotiatedMedia] = []
        unkeyed = False
        for index, (ours, theirs) in enumerate(zip(offer.media, sdp.media, strict=True)):
            if ours.port == 0 or theirs.port == 0 or theirs.media.lower() != ours.media:
                continue
            negotiated = negotiate_stream(index, offer, ours, sdp, theirs, we_offered=True,
                                          local_hold=self._hold is not HoldMode.NONE)  # fmt: skip
            if negotiated is not None and not negotiated.encrypted and self._requires_srtp(ours):
                unkeyed = True
            elif negotiated is not None:
                streams.append(negotiated)
        if not streams and unkeyed:
            detail = "SRTP required, no a=crypto in the answer"
            raise NegotiationFailed("srtp fail: the answer has no SRTP key",
                                    WARN_INCOMPATIBLE_TRANSPORT, self._local.address, detail,
                                    srtp=True)  # fmt: skip
        if not streams:
            code = WARN_INCOMPATIBLE_FORMAT
            if all(m.port == 0 for m in sdp.media):
                code = WARN_MEDIA_TYPE_UNAVAILABLE
            raise NegotiationFailed("the answer accepts no audio stream", code, self._local.address)
        result = NegotiationResult(tuple(streams), offer, sdp)
        self._finish(result)
        self._answered_offer = offer
        return result

    def replace_answer(self, answer: bytes | str | SessionDescription) -> NegotiationResult:
        """Another answer to the offer of ours that was answered last: from
        another early dialog of a forked INVITE, or a 2xx whose SDP differs
        from the 18x's (RFC 3261 §13.2.2.4, RFC 3264 §5); it is negotiated
        anew and replaces the session.  Raises like :meth:`receive_answer`
        (the session stays as it was then)."""
        self._require(NegotiatorState.DONE, action="take another answer")
        offer = self._answered_offer
        if offer is None:
            raise LocalProtocolError("no offer of ours was answered last")
        self._pending_offer, self._state = offer, NegotiatorState.LOCAL_OFFER
        try:
            return self.receive_answer(answer)
        except Exception:
            self._pending_offer, self._state = None, NegotiatorState.DONE
            raise

    def cancel_offer(self) -> None:
        """Forget our pending offer (rejected or withdrawn); back to IDLE or DONE."""
        self._require(NegotiatorState.LOCAL_OFFER, action="cancel an offer")
        self._pending_offer = None
        self._state = NegotiatorState.DONE if self._result else NegotiatorState.IDLE

    def receive_offer(self, offer: bytes | str | SessionDescription) -> None:
        """Take the peer's offer; moves to REMOTE_OFFER.

        The offer is negotiated at once, so a 400 (bad SDP) or a 488
        (:class:`NegotiationFailed`) is raised here, before ringing.
        """
        self._require(NegotiatorState.IDLE, NegotiatorState.DONE, action="receive an offer")
        sdp = _coerce(offer)
        media = self._answer_media(sdp)
        draft = self._session(media, self._version)
        self._answer_streams(sdp, draft)
        self._remote_offer = sdp
        self._state = NegotiatorState.REMOTE_OFFER

    def create_answer(self) -> SessionDescription:
        """Our answer to the peer's offer (with the current local media); moves to DONE.

        The negotiated streams are then in :attr:`result`.
        """
        self._require(NegotiatorState.REMOTE_OFFER, action="create an answer")
        offer = self._remote_offer
        assert offer is not None
        self._answered_offer = None
        media = self._answer_media(offer)
        answer = self._stamp(media)
        for ours in answer.media:
            for f in formats_of(ours):
                if f.spec.static_pt is None:
                    self._pt_map[f.spec] = f.payload_type
        streams = self._answer_streams(offer, answer)
        self._remote_offer = None
        self._finish(NegotiationResult(tuple(streams), answer, offer))
        return answer

    def reject_offer(self) -> None:
        """Drop the peer's pending offer (we answered with an error); back to IDLE or DONE."""
        self._require(NegotiatorState.REMOTE_OFFER, action="reject an offer")
        self._remote_offer = None
        self._state = NegotiatorState.DONE if self._result else NegotiatorState.IDLE

    # -- internals -------------------------------------------------------------------

    def _require(self, *states: NegotiatorState, action: str) -> None:
        if self._state not in states:
            raise LocalProtocolError(f"cannot {action} in state {self._state.name}")

    def _finish(self, result: NegotiationResult) -> None:
        self._result, self._remote = result, result.remote
        self._pending_offer = None
        self._state = NegotiatorState.DONE

    def _requires_srtp(self, ours: MediaDescription) -> bool:
        """Whether the local stream behind our m-line ``ours`` requires SRTP."""
        return any(s.port == ours.port and s.encryption >= Encryption.MANDATORY
                   for s in self._local.streams)  # fmt: skip

    @staticmethod
    def _answer_keying(
        stream: LocalStream, offer: SessionDescription, offered: MediaDescription
    ) -> tuple[Attribute, ...] | None:
        """What keys our answer to ``offered``: an SDES line, our fingerprint
        and setup role, or nothing (plain RTP); None when SRTP is needed
        (by the offer's protocol or by us) and no usable key is offered."""
        proto = offered.proto.upper()
        if proto in DTLS_PROTOS and not stream.dtls:
            return ()  # accepted as listed: another layer does DTLS (extra_attributes)
        if proto in DTLS_PROTOS:
            if fingerprint_of(offer, offered) is None or stream.fingerprint is None:
                return None
            role = answer_setup(offered.setup or offer.setup)
            return (stream.fingerprint.to_attribute(), role.to_attribute())
        if stream.encryption is Encryption.OFF:
            return ()
        crypto = answer_crypto(offered.cryptos(), stream.crypto)
        if crypto is not None:
            return (crypto.to_attribute(),)
        if proto in SECURE_PROTOS or stream.encryption >= Encryption.MANDATORY:
            return None
        return ()

    def _wish(self, stream: LocalStream) -> Direction:
        if self._hold is HoldMode.INACTIVE:
            return Direction.INACTIVE
        if self._hold is HoldMode.SENDONLY:
            return Direction.from_flags(stream.direction.sends, False)
        return stream.direction

    def _offer_stream(
        self, stream: LocalStream, placed: list[MediaDescription]
    ) -> MediaDescription:
        used = {pt for m in placed for pt in m.payload_types}
        if self._remote is not None:
            used |= {pt for m in self._remote.media for pt in m.payload_types}
        used |= set(self._pt_map.values())
        formats: list[tuple[int, CodecSpec]] = []
        taken: set[int] = set()
        for spec in offer_specs(stream):
            pt = spec.static_pt
            if pt is None:
                pt = self._pt_map.get(spec)
                if pt is None or pt in taken:
                    pt = next((p for p in _DYNAMIC if p not in used and p not in taken), None)
                    if pt is None:
                        raise LocalProtocolError("no dynamic payload type left (96-127)")
                self._pt_map[spec] = pt
            taken.add(pt)
            formats.append((pt, spec))
        return build_media(stream, formats, self._wish(stream), proto=stream.offer_proto,
                           rtcp_mux=stream.rtcp_mux, keying=stream.offer_attributes())  # fmt: skip

    def _answer_media(self, offer: SessionDescription) -> list[MediaDescription]:
        streams = list(self._local.streams)
        media: list[MediaDescription] = []
        failures: set[int] = set()
        unavailable: list[str] = []  # offered codecs we want but cannot run here
        unkeyed = False  # a stream refused for want of usable SRTP keys
        for offered in offer.media:
            if offered.media.lower() != "audio" or offered.port == 0 or not streams:
                if offered.port != 0:
                    failures.add(WARN_MEDIA_TYPE_UNAVAILABLE)
                media.append(disabled(offered))
                continue
            stream = streams[0]
            if not stream.accepts(offered.proto):
                failures.add(WARN_INCOMPATIBLE_TRANSPORT)
                media.append(disabled(offered))
                continue
            keying = self._answer_keying(stream, offer, offered)
            if keying is None:
                failures.add(WARN_INCOMPATIBLE_TRANSPORT)
                unkeyed = True
                media.append(disabled(offered))
                continue
            formats = answer_formats(stream, formats_of(offered))
            if not any(is_voice(f.spec) for f in formats):
                failures.add(WARN_INCOMPATIBLE_FORMAT)
                unavailable += [f.spec.name for f in formats_of(offered)
                                if f.spec in stream.codecs.unavailable]  # fmt: skip
                media.append(disabled(offered))
                continue
            direction = answer_direction(remote_direction(offer, offered), self._wish(stream))
            pairs = [(f.payload_type, f.spec) for f in formats]
            mux = stream.rtcp_mux and offered.rtcp_mux
            media.append(build_media(stream, pairs, direction, proto=offered.proto, rtcp_mux=mux,
                                     keying=keying))  # fmt: skip
            streams.pop(0)
        if all(m.port == 0 for m in media):
            code = next((c for c in (WARN_INCOMPATIBLE_FORMAT, WARN_INCOMPATIBLE_TRANSPORT)
                         if c in failures), WARN_MEDIA_TYPE_UNAVAILABLE)  # fmt: skip
            reasons = {WARN_INCOMPATIBLE_FORMAT: "no common audio codec",
                       WARN_INCOMPATIBLE_TRANSPORT: "no supported media transport",
                       WARN_MEDIA_TYPE_UNAVAILABLE: "no audio stream offered"}  # fmt: skip
            detail = ""
            if code == WARN_INCOMPATIBLE_FORMAT and unavailable:
                detail = f"{', '.join(dict.fromkeys(unavailable))} not available here"
                reasons[code] += f" ({detail})"
            srtp = code == WARN_INCOMPATIBLE_TRANSPORT and unkeyed
            if srtp:
                detail = "SRTP required, no usable a=crypto"
                reasons[code] = "srtp fail: no usable SRTP key offered"
            raise NegotiationFailed(reasons[code], code, self._local.address, detail, srtp=srtp)
        return media

    def _answer_streams(
        self, offer: SessionDescription, answer: SessionDescription
    ) -> list[NegotiatedMedia]:
        streams: list[NegotiatedMedia] = []
        for index, (theirs, ours) in enumerate(zip(offer.media, answer.media, strict=True)):
            if ours.port == 0:
                continue
            negotiated = negotiate_stream(index, answer, ours, offer, theirs, we_offered=False,
                                          local_hold=self._hold is not HoldMode.NONE)  # fmt: skip
            if negotiated is not None:
                streams.append(negotiated)
        return streams

    def _session(self, media: list[MediaDescription], version: int) -> SessionDescription:
        connection = Connection.for_host(self._local.address)
        origin = Origin(self._local.username, self._session_id, version, connection.nettype,
                        connection.addrtype, self._local.address)  # fmt: skip
        return SessionDescription(origin=origin, session_name=self._local.session_name,
                                  connection=connection, timings=(Timing(),),
                                  media=tuple(media))  # fmt: skip

    def _stamp(self, media: list[MediaDescription]) -> SessionDescription:
        """Our SDP with the o= version bumped only when the content changed."""
        sdp = self._session(media, self._version)
        if self._last_local is not None and sdp != self._last_local:
            self._version += 1
            sdp = self._session(media, self._version)
        self._last_local = sdp
        return sdp
