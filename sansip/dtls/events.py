"""What a DTLS machine reports (:meth:`~sansip.dtls.connection.DtlsConnection.next_event`)
and what it counts."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from sansip.dtls.suites import CipherSuite, SrtpProfile

__all__ = [
    "AlertReceived",
    "ApplicationData",
    "ConnectionClosed",
    "DtlsCounters",
    "DtlsEvent",
    "HandshakeComplete",
    "HandshakeFailed",
]


@dataclass(frozen=True)
class HandshakeComplete:
    """The handshake finished and authenticated.

    ``srtp_profile`` is the negotiated DTLS-SRTP profile (None when
    ``use_srtp`` was not negotiated) and ``srtp_keying_material`` the
    ``EXTRACTOR-dtls_srtp`` export for it (RFC 5764 §4.2:
    client key | server key | client salt | server salt).  Other exports:
    :meth:`~sansip.dtls.connection.DtlsConnection.export_keying_material`.
    """

    cipher_suite: CipherSuite
    srtp_profile: SrtpProfile | None
    srtp_keying_material: bytes | None
    peer_certificate: x509.Certificate | None
    peer_fingerprint: str | None


@dataclass(frozen=True)
class ApplicationData:
    """Decrypted application data from the peer."""

    data: bytes


@dataclass(frozen=True)
class AlertReceived:
    """The peer sent an alert; ``level`` 2 is fatal."""

    level: int
    description: int


@dataclass(frozen=True)
class ConnectionClosed:
    """The association ended after the handshake: ``reason`` says why
    (``"close_notify"``, ``"closed locally"``, an alert's name)."""

    reason: str


@dataclass(frozen=True)
class HandshakeFailed:
    """The handshake cannot complete: ``reason`` is e.g. ``"timeout"``,
    ``"fingerprint mismatch"``, ``"alert handshake_failure"``."""

    reason: str


DtlsEvent = HandshakeComplete | ApplicationData | AlertReceived | ConnectionClosed | HandshakeFailed


@dataclass
class DtlsCounters:
    """What a machine dropped or repeated, for diagnostics.

    Every received datagram counts in ``datagrams``; each record ends up
    processed or in one of the ``dropped_*`` counters.
    """

    datagrams: int = 0
    records: int = 0
    dropped_malformed: int = 0
    dropped_replayed: int = 0
    dropped_unauthenticated: int = 0
    dropped_epoch: int = 0
    dropped_fragments: int = 0
    dropped_unexpected: int = 0
    dropped_events: int = 0
    retransmissions: int = 0
    peer_retransmissions: int = 0
