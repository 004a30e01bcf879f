"""The cryptography of a DTLS 1.2 handshake: the TLS 1.2 PRF (RFC 5246 §5),
the extended master secret (RFC 7627), the key block, Finished, the
exporter (RFC 5705), ECDHE key shares (X25519, P-256) and the signatures of
ServerKeyExchange and CertificateVerify.

Randomness comes from an injected :class:`RandomSource` (``random.Random``
fits for tests; give ``random.SystemRandom()`` in production): this module
never draws any by itself, except the salt OpenSSL draws inside an RSA-PSS
signature (ECDSA signatures are deterministic, RFC 6979, where the
installed OpenSSL supports it).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from sansip.dtls.suites import NamedGroup, SignatureScheme

__all__ = [
    "KeyBlock",
    "KeyShare",
    "PrivateKey",
    "RandomSource",
    "compute_finished",
    "derive_key_block",
    "extended_master_secret",
    "prf",
    "random_bytes",
    "sign",
    "signature_schemes_for",
    "verify",
]

#: The private key types a DTLS certificate may have here.
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class RandomSource(Protocol):
    """Where the machine draws its randomness (``random.SystemRandom`` fits)."""

    def getrandbits(self, k: int, /) -> int:
        """A non-negative integer of ``k`` random bits."""
        ...


def random_bytes(rng: RandomSource, length: int) -> bytes:
    """``length`` random bytes from ``rng``."""
    if length == 0:
        return b""
    return rng.getrandbits(8 * length).to_bytes(length, "big")


def prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """The TLS 1.2 PRF: ``P_hash(secret, label + seed)`` cut to ``length``."""
    seed = label + seed
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, hash_name)
        out += hmac.digest(secret, a + seed, hash_name)
    return bytes(out[:length])


def transcript_hash(hash_name: str, messages: bytes) -> bytes:
    """The hash of the handshake messages so far."""
    return hashlib.new(hash_name, messages).digest()


def extended_master_secret(hash_name: str, pre_master: bytes, session_hash: bytes) -> bytes:
    """The 48-byte master secret of RFC 7627 §4."""
    return prf(hash_name, pre_master, b"extended master secret", session_hash, 48)


def compute_finished(hash_name: str, master: bytes, client: bool, messages: bytes) -> bytes:
    """The 12-byte ``verify_data`` of a Finished (RFC 5246 §7.4.9)."""
    label = b"client finished" if client else b"server finished"
    return prf(hash_name, master, label, transcript_hash(hash_name, messages), 12)


@dataclass(frozen=True)
class KeyBlock:
    """The write keys and implicit nonces of both directions (AEAD: no MAC keys)."""

    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes


def derive_key_block(
    hash_name: str,
    master: bytes,
    *,
    client_random: bytes,
    server_random: bytes,
    key_length: int,
    iv_length: int,
) -> KeyBlock:
    """Split the key expansion (RFC 5246 §6.3) into the AEAD keys and salts."""
    size = 2 * (key_length + iv_length)
    block = prf(hash_name, master, b"key expansion", server_random + client_random, size)
    k = key_length
    return KeyBlock(
        block[:k], block[k : 2 * k], block[2 * k : 2 * k + iv_length], block[2 * k + iv_length :]
    )


class KeyShare:
    """One side's ephemeral ECDHE key in ``group``, drawn from ``rng``."""

    def __init__(self, group: NamedGroup, rng: RandomSource) -> None:
        self.group = group
        self._x25519: x25519.X25519PrivateKey | None = None
        self._ec: ec.EllipticCurvePrivateKey | None = None
        if group == NamedGroup.X25519:
            self._x25519 = x25519.X25519PrivateKey.from_private_bytes(random_bytes(rng, 32))
        else:
            scalar = rng.getrandbits(256) % (_P256_ORDER - 1) + 1
            self._ec = ec.derive_private_key(scalar, ec.SECP256R1())

    @property
    def public_bytes(self) -> bytes:
        """The public point as sent in ServerKeyExchange / ClientKeyExchange."""
        if self._x25519 is not None:
            return self._x25519.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        assert self._ec is not None
        return self._ec.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def exchange(self, peer_public: bytes) -> bytes:
        """The shared secret with the peer's point; ValueError if the point is bad."""
        if self._x25519 is not None:
            if len(peer_public) != 32:
                raise ValueError("bad X25519 public key length")
            peer = x25519.X25519PublicKey.from_public_bytes(peer_public)
            return self._x25519.exchange(peer)
        assert self._ec is not None
        if len(peer_public) != 65 or peer_public[0] != 4:
            raise ValueError("bad P-256 point")
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer_public)
        return self._ec.exchange(ec.ECDH(), point)


_HASHES: dict[SignatureScheme, type[hashes.SHA256] | type[hashes.SHA384]] = {
    SignatureScheme.RSA_PKCS1_SHA256: hashes.SHA256,
    SignatureScheme.ECDSA_SECP256R1_SHA256: hashes.SHA256,
    SignatureScheme.RSA_PSS_RSAE_SHA256: hashes.SHA256,
    SignatureScheme.RSA_PKCS1_SHA384: hashes.SHA384,
    SignatureScheme.ECDSA_SECP384R1_SHA384: hashes.SHA384,
    SignatureScheme.RSA_PSS_RSAE_SHA384: hashes.SHA384,
}
_ECDSA = {SignatureScheme.ECDSA_SECP256R1_SHA256, SignatureScheme.ECDSA_SECP384R1_SHA384}
_PSS = {SignatureScheme.RSA_PSS_RSAE_SHA256, SignatureScheme.RSA_PSS_RSAE_SHA384}


def key_kind(key: object) -> str:
    """``"ecdsa"`` or ``"rsa"`` for a private or public key, ``""`` for anything else."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ecdsa"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "rsa"
    return ""


def signature_schemes_for(key: CertificateIssuerPrivateKeyTypes) -> list[SignatureScheme]:
    """The schemes a key can sign with, best first."""
    if key_kind(key) == "ecdsa":
        return [s for s in _HASHES if s in _ECDSA]
    return [
        SignatureScheme.RSA_PSS_RSAE_SHA256,
        SignatureScheme.RSA_PKCS1_SHA256,
        SignatureScheme.RSA_PSS_RSAE_SHA384,
        SignatureScheme.RSA_PKCS1_SHA384,
    ]


def sign(key: PrivateKey, scheme: SignatureScheme, data: bytes) -> bytes:
    """Sign ``data`` with ``key`` by ``scheme`` (the hash is applied here)."""
    algorithm = _HASHES[scheme]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        try:  # RFC 6979: the same input gives the same signature (simulations repeat exactly)
            return key.sign(data, ec.ECDSA(algorithm, deterministic_signing=True))
        except (TypeError, UnsupportedAlgorithm):  # cryptography < 44 or OpenSSL < 3.2
            return key.sign(data, ec.ECDSA(algorithm))
    if scheme in _PSS:
        pss = padding.PSS(padding.MGF1(algorithm), algorithm.digest_size)
        return key.sign(data, pss, algorithm)
    return key.sign(data, padding.PKCS1v15(), algorithm)


def verify(public_key: object, scheme: int, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` over ``data`` is good for ``public_key`` by ``scheme``."""
    try:
        known = SignatureScheme(scheme)
    except ValueError:
        return False
    algorithm = _HASHES[known]()
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey) and known in _ECDSA:
            public_key.verify(signature, data, ec.ECDSA(algorithm))
            return True
        if isinstance(public_key, rsa.RSAPublicKey) and known not in _ECDSA:
            if known in _PSS:
                pss = padding.PSS(padding.MGF1(algorithm), algorithm.digest_size)
                public_key.verify(signature, data, pss, algorithm)
            else:
                public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
            return True
    except (InvalidSignature, ValueError):
        return False
    return False
