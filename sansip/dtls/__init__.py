"""DTLS 1.2 (RFC 6347) client and server as sans-IO machines, for DTLS-SRTP
(RFC 5764).

- :class:`DtlsClient` / :class:`DtlsServer`: one association with one peer
  each; feed datagrams in, take datagrams and events out, run the timer
  (:mod:`sansip.dtls.connection` explains the driving);
- :func:`generate_certificate` makes the self-signed ECDSA P-256 certificate
  an endpoint presents, :attr:`DtlsCertificate.fingerprint` its RFC 8122
  fingerprint for SDP; the machines check the peer's against
  ``expected_fingerprint``;
- :class:`HandshakeComplete` carries the negotiated SRTP profile and its
  ``EXTRACTOR-dtls_srtp`` keying material.

Cipher suites: ECDHE (X25519, P-256) with ECDSA or RSA certificates and
AES-128/256-GCM; extended master secret always (RFC 7627); stateless
HelloVerifyRequest cookies; mutual authentication.  Not supported: session
resumption, renegotiation (ignored), DTLS 1.0 and 1.3, CBC suites, PSK.

A client, driven by the caller's socket loop (``now`` from its clock)::

    rng = random.SystemRandom()
    local = generate_certificate(rng)            # put local.fingerprint in the SDP
    dtls = DtlsClient(local, rng=rng, expected_fingerprint=fingerprint_from_sdp)
    dtls.start(now)
    # loop: send dtls.datagrams_to_send(now); dtls.receive_datagram(data, now);
    #       dtls.handle_timer(now) at dtls.get_timer(); events from dtls.next_event()
    # HandshakeComplete: SrtpTransform.from_dtls(event.srtp_profile.code,
    #                        event.srtp_keying_material, client=True)
"""

from __future__ import annotations

from sansip.dtls.certificates import (
    DtlsCertificate,
    certificate_fingerprint,
    fingerprints_match,
    generate_certificate,
    load_certificate,
)
from sansip.dtls.client import DtlsClient
from sansip.dtls.connection import DEFAULT_MTU, DtlsConnection, DtlsOptions, DtlsState
from sansip.dtls.crypto import RandomSource
from sansip.dtls.events import (
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    DtlsCounters,
    DtlsEvent,
    HandshakeComplete,
    HandshakeFailed,
)
from sansip.dtls.server import DtlsServer
from sansip.dtls.suites import (
    CIPHER_SUITES,
    SRTP_PROFILES,
    AlertDescription,
    CipherSuite,
    NamedGroup,
    SrtpProfile,
)

__all__ = [
    "CIPHER_SUITES",
    "DEFAULT_MTU",
    "SRTP_PROFILES",
    "AlertDescription",
    "AlertReceived",
    "ApplicationData",
    "CipherSuite",
    "ConnectionClosed",
    "DtlsCertificate",
    "DtlsClient",
    "DtlsConnection",
    "DtlsCounters",
    "DtlsEvent",
    "DtlsOptions",
    "DtlsServer",
    "DtlsState",
    "HandshakeComplete",
    "HandshakeFailed",
    "NamedGroup",
    "RandomSource",
    "SrtpProfile",
    "certificate_fingerprint",
    "fingerprints_match",
    "generate_certificate",
    "load_certificate",
]
