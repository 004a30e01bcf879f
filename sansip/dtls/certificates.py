"""Certificates for DTLS-SRTP: a self-signed ECDSA P-256 certificate made
with ``cryptography.x509`` and its fingerprint in the SDP form of RFC 8122
(``sha-256 AB:CD:...``).

DTLS-SRTP does not validate a PKI chain: the peer's certificate is
checked against the fingerprint its SDP announced.
"""

from __future__ import annotations

import datetime
import hashlib
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from sansip.dtls.crypto import PrivateKey, RandomSource, random_bytes

__all__ = [
    "DtlsCertificate",
    "UnsupportedCertificateError",
    "certificate_fingerprint",
    "fingerprints_match",
    "generate_certificate",
    "load_certificate",
    "load_peer_certificate",
]

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HASHES = {
    "sha-1": "sha1",
    "sha-224": "sha224",
    "sha-256": "sha256",
    "sha-384": "sha384",
    "sha-512": "sha512",
}


def certificate_fingerprint(der: bytes, algorithm: str = "sha-256") -> str:
    """The RFC 8122 fingerprint of a DER certificate: ``"sha-256 AB:CD:..."``."""
    digest = hashlib.new(_HASHES[algorithm], der).hexdigest().upper()
    return f"{algorithm} " + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def fingerprints_match(der: bytes, expected: str) -> bool:
    """Whether a DER certificate has the fingerprint ``expected`` (hash name and
    hex compared case-insensitively; an unknown hash never matches)."""
    algorithm, _, value = expected.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in _HASHES:
        return False
    return certificate_fingerprint(der, algorithm).upper() == f"{algorithm} {value.strip()}".upper()


@dataclass(frozen=True)
class DtlsCertificate:
    """A certificate and its private key, as a DTLS endpoint presents it."""

    certificate: x509.Certificate
    private_key: PrivateKey

    @property
    def der(self) -> bytes:
        """The certificate in DER."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def fingerprint(self) -> str:
        """The SHA-256 fingerprint in RFC 8122 form."""
        return certificate_fingerprint(self.der)


def generate_certificate(
    rng: RandomSource,
    *,
    common_name: str = "sansip",
    not_before: datetime.datetime | None = None,
    days: int = 365,
) -> DtlsCertificate:
    """A fresh self-signed ECDSA P-256 certificate.

    The key and serial number come from ``rng`` (and the signature is
    deterministic where OpenSSL allows, so the same ``rng`` state gives the
    same certificate); the validity starts at
    ``not_before`` (default 2000-01-01 UTC: DTLS-SRTP peers check the
    fingerprint, not the dates) and lasts ``days`` days (30 years by default
    when ``not_before`` is not given).
    """
    key = ec.derive_private_key(rng.getrandbits(256) % (_P256_ORDER - 1) + 1, ec.SECP256R1())
    if not_before is None:
        start = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
        end = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    else:
        start, end = not_before, not_before + datetime.timedelta(days=days)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    serial = int.from_bytes(random_bytes(rng, 16), "big") >> 1 or 1
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
    )
    try:  # RFC 6979 signature: the same rng gives the same certificate
        certificate = builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    except (TypeError, UnsupportedAlgorithm):  # cryptography < 44 or OpenSSL < 3.2
        certificate = builder.sign(key, hashes.SHA256())
    return DtlsCertificate(certificate, key)


class UnsupportedCertificateError(ValueError):
    """A certificate that parses but whose key is neither ECDSA nor RSA."""


def load_peer_certificate(der: bytes) -> x509.Certificate:
    """Parse the certificate a peer sent (DER).

    Raises :class:`UnsupportedCertificateError` when its key is neither
    ECDSA nor RSA, :class:`ValueError` when it does not parse.
    """
    try:
        with warnings.catch_warnings():  # a peer's odd certificate is no warning of ours
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certificate = x509.load_der_x509_certificate(der)
            public_key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("unparsable certificate") from None
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise UnsupportedCertificateError("certificate key neither ECDSA nor RSA")
    return certificate


def load_certificate(certificate_pem: bytes, key_pem: bytes) -> DtlsCertificate:
    """A certificate and key from PEM bytes (ECDSA or RSA key)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("only ECDSA and RSA keys are supported")
    return DtlsCertificate(certificate, key)
