"""What protects a stream's packets: SRTP keyed by SDES (RFC 4568), or by
a DTLS handshake on the media path (DTLS-SRTP, RFC 5763/5764), sans-IO.

:class:`DtlsSrtp` runs the handshake of one stream: the DTLS records share
the RTP port with RTP and RTCP (RFC 7983: a first byte of 20-63 is DTLS),
the peer's certificate must have the fingerprint its SDP gave, and the
exported keys make the stream's :class:`~sansip.rtp.srtp.SrtpTransform`.
Until then nothing is sent in plain RTP and nothing plain is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sansip.dtls import (
    ConnectionClosed,
    DtlsCertificate,
    DtlsClient,
    DtlsConnection,
    DtlsServer,
    HandshakeComplete,
    HandshakeFailed,
    RandomSource,
)
from sansip.rtp.srtp import SrtpTransform
from sansip.rtp.srtp_keys import SrtpProfile
from sansip.rtp.types import Address
from sansip.sdp import NegotiatedMedia
from sansip.sdp.fingerprints import DtlsAgreement

__all__ = ["HANDSHAKE_TIMEOUT", "DtlsSrtp", "EncryptionFailed", "MediaDtls", "SplitTransform",
           "is_dtls", "srtp_transform"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class EncryptionFailed:
    """The stream's DTLS-SRTP handshake failed (``reason``: ``"timeout"``,
    ``"fingerprint mismatch"``, an alert, no SRTP profile): no media can
    flow, the call should end (reason ``srtp fail``)."""

    reason: str


def srtp_transform(media: NegotiatedMedia) -> SrtpTransform | None:
    """The SRTP/SRTCP protection of ``media`` with the keys the offer/answer
    agreed (None: plain RTP, or keys still to come from DTLS).  Our key
    protects what we send, the peer's what we receive."""
    keys = media.srtp
    if keys is None:
        return None
    return SrtpTransform(keys.suite, keys.local_key, keys.remote_key,
                         mki=keys.local_mki, remote_mki=keys.remote_mki)  # fmt: skip


def is_dtls(data: bytes) -> bool:
    """Whether a datagram on the RTP port is a DTLS record (RFC 7983 §7)."""
    return bool(data) and 20 <= data[0] <= 63


#: How long a handshake may take before the stream gives up: the client's
#: retransmissions (1, 2, 4 ... 32 s, then 60 s more) end after 123 s; the
#: server, which has no timer of its own before the first ClientHello,
#: waits that long too.
HANDSHAKE_TIMEOUT: Final = 130.0


class DtlsSrtp:
    """The DTLS-SRTP side of one stream (see the module docstring): the
    client starts at once; :attr:`transform` is set when the handshake
    completes, :attr:`failure` when it cannot (``"timeout"`` after
    ``handshake_timeout`` seconds without keys, whichever role)."""

    def __init__(self, certificate: DtlsCertificate, agreement: DtlsAgreement, *,
                 rng: RandomSource, now: float,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT) -> None:  # fmt: skip
        expected = f"{agreement.remote_fingerprint.hash_function} "
        expected += agreement.remote_fingerprint.fingerprint
        self.agreement = agreement
        self.machine: DtlsConnection
        if agreement.client:
            client = DtlsClient(certificate, rng=rng, expected_fingerprint=expected)
            client.start(now)
            self.machine = client
        else:  # offer/answer authenticated the peer's address: no cookie round trip
            self.machine = DtlsServer(certificate, rng=rng, expected_fingerprint=expected,
                                      cookie_exchange=False)  # fmt: skip
        self.transform: SrtpTransform | None = None
        self.failure: str | None = None
        self.deadline = now + handshake_timeout
        #: Plain RTP/RTCP dropped while the keys were not there yet.
        self.held_back = 0
        #: The failure was reported (as :class:`EncryptionFailed`).
        self.reported = False

    @property
    def keyed(self) -> bool:
        """Whether the handshake gave the SRTP keys."""
        return self.transform is not None

    def receive_datagram(self, data: bytes, now: float) -> None:
        """A DTLS record from the peer (never raises)."""
        self.machine.receive_datagram(data, now)
        self._drain()

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """DTLS records for the peer's RTP address."""
        return self.machine.datagrams_to_send(now)

    def get_timer(self) -> float | None:
        """When the handshake's retransmission timer fires (or it is given up)."""
        if self.failure is not None:
            return None
        timer = self.machine.get_timer()
        if self.transform is None:
            return self.deadline if timer is None else min(timer, self.deadline)
        return timer

    def handle_timer(self, now: float) -> None:
        """Retransmit a flight, or give up."""
        timer = self.machine.get_timer()
        if timer is not None and timer <= now:
            self.machine.handle_timer(now)
            self._drain()
        if self.transform is None and self.failure is None and now >= self.deadline:
            self.failure = "timeout"

    def close(self) -> None:
        """Say goodbye (close_notify) when the stream ends."""
        if self.failure is None:
            self.machine.close()

    def _drain(self) -> None:
        while (event := self.machine.next_event()) is not None:
            if isinstance(event, HandshakeComplete) and self.transform is None:
                profile, material = event.srtp_profile, event.srtp_keying_material
                if profile is None or material is None:
                    self.failure = "no SRTP profile in common"
                    continue
                self.transform = SrtpTransform.from_dtls(
                    profile.code, material, client=self.agreement.client)  # fmt: skip
            elif isinstance(event, HandshakeFailed) and self.failure is None:
                self.failure = event.reason
            elif isinstance(event, ConnectionClosed) and self.transform is None:
                self.failure = self.failure or event.reason


class SplitTransform:
    """SRTP for RTP from one DTLS association and SRTCP from another (RTCP
    on its own port has its own association, RFC 5764 §4.2)."""

    __slots__ = ("rtcp", "rtp")

    def __init__(self, rtp: SrtpTransform, rtcp: SrtpTransform) -> None:
        self.rtp, self.rtcp = rtp, rtcp

    @property
    def profile(self) -> SrtpProfile:
        """The RTP component's protection profile."""
        return self.rtp.profile

    @property
    def dropped_total(self) -> int:
        """Packets either side refused."""
        return self.rtp.dropped_total + self.rtcp.dropped_total

    def protect_rtp(self, packet: bytes) -> bytes:
        """SRTP of an outgoing RTP packet."""
        return self.rtp.protect_rtp(packet)

    def unprotect_rtp(self, packet: bytes) -> bytes:
        """The RTP packet in incoming SRTP."""
        return self.rtp.unprotect_rtp(packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        """SRTCP of an outgoing RTCP packet (the RTCP association's keys)."""
        return self.rtcp.protect_rtcp(packet)

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        """The RTCP packet in incoming SRTCP."""
        return self.rtcp.unprotect_rtcp(packet)


class MediaDtls:
    """The DTLS-SRTP of one stream: the RTP component's association and,
    without rtcp-mux, the RTCP component's own on the RTCP ports (same
    roles and fingerprint).  The call's media depends on the RTP one
    (:attr:`failure`); RTCP is held back until its own keys come, and its
    failure only costs the reports."""

    def __init__(self, certificate: DtlsCertificate, agreement: DtlsAgreement, *,
                 rng: RandomSource, now: float, rtcp: bool) -> None:  # fmt: skip
        self.rtp = DtlsSrtp(certificate, agreement, rng=rng, now=now)
        self.rtcp = DtlsSrtp(certificate, agreement, rng=rng, now=now) if rtcp else None

    @property
    def keyed(self) -> bool:
        """Whether RTP may flow (its keys are there)."""
        return self.rtp.keyed

    @property
    def rtcp_keyed(self) -> bool:
        """Whether RTCP may flow (muxed with RTP, or its own keys are there)."""
        return self.rtp.keyed if self.rtcp is None else self.rtcp.keyed

    @property
    def failure(self) -> str | None:
        """Why the RTP component's handshake failed, or None."""
        return self.rtp.failure

    @property
    def transform(self) -> SrtpTransform | SplitTransform | None:
        """What protects the stream's packets so far (None: nothing yet)."""
        rtp = self.rtp.transform
        if rtp is None:
            return None
        rtcp = self.rtcp.transform if self.rtcp is not None else None
        return SplitTransform(rtp, rtcp) if rtcp is not None else rtp

    def receive_datagram(self, data: bytes, now: float, *, rtcp: bool) -> None:
        """A DTLS record from the peer's RTP (or RTCP) port."""
        target = self.rtcp if rtcp else self.rtp
        if target is not None:
            target.receive_datagram(data, now)
        else:
            self.rtp.held_back += 1  # muxed: nothing should come to an RTCP port

    def datagrams_to_send(self, now: float, rtp_peer: Address,
                          rtcp_peer: Address) -> list[tuple[bytes, Address]]:  # fmt: skip
        """The records for the peer's RTP and RTCP ports."""
        out = [(record, rtp_peer) for record in self.rtp.datagrams_to_send(now)]
        if self.rtcp is not None:
            out += [(record, rtcp_peer) for record in self.rtcp.datagrams_to_send(now)]
        return out

    def get_timer(self) -> float | None:
        """The earliest handshake deadline of the two."""
        timers = [t for d in (self.rtp, self.rtcp) if d is not None
                  and (t := d.get_timer()) is not None]  # fmt: skip
        return min(timers, default=None)

    def handle_timer(self, now: float) -> None:
        """Retransmit what is due, or give up."""
        for dtls in (self.rtp, self.rtcp):
            if dtls is not None and (t := dtls.get_timer()) is not None and t <= now:
                dtls.handle_timer(now)

    def close(self) -> None:
        """close_notify on both."""
        self.rtp.close()
        if self.rtcp is not None:
            self.rtcp.close()
