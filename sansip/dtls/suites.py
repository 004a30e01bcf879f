"""The numbers of DTLS 1.2: content, handshake and alert types, the cipher
suites, groups, signature schemes and SRTP protection profiles this stack
speaks (RFC 5246, RFC 6347, RFC 8422, RFC 5288/5289, RFC 5764, RFC 7714).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

__all__ = [
    "CIPHER_SUITES",
    "DTLS_1_0",
    "DTLS_1_2",
    "SIGNATURE_SCHEMES",
    "SRTP_PROFILES",
    "AlertDescription",
    "CipherSuite",
    "ContentType",
    "ExtensionType",
    "HandshakeType",
    "NamedGroup",
    "SignatureScheme",
    "SrtpProfile",
]

#: ProtocolVersion {254, 253}: DTLS 1.2 on the wire.
DTLS_1_2: Final = 0xFEFD
#: ProtocolVersion {254, 255}: DTLS 1.0 (a HelloVerifyRequest may carry it).
DTLS_1_0: Final = 0xFEFF


class ContentType(IntEnum):
    """Record content types (RFC 5246 §6.2.1)."""

    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23


class HandshakeType(IntEnum):
    """Handshake message types (RFC 5246 §7.4, RFC 6347 §4.3.2)."""

    HELLO_REQUEST = 0
    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    HELLO_VERIFY_REQUEST = 3
    CERTIFICATE = 11
    SERVER_KEY_EXCHANGE = 12
    CERTIFICATE_REQUEST = 13
    SERVER_HELLO_DONE = 14
    CERTIFICATE_VERIFY = 15
    CLIENT_KEY_EXCHANGE = 16
    FINISHED = 20


class AlertDescription(IntEnum):
    """Alert descriptions (RFC 5246 §7.2)."""

    CLOSE_NOTIFY = 0
    UNEXPECTED_MESSAGE = 10
    BAD_RECORD_MAC = 20
    HANDSHAKE_FAILURE = 40
    BAD_CERTIFICATE = 42
    UNSUPPORTED_CERTIFICATE = 43
    CERTIFICATE_UNKNOWN = 46
    ILLEGAL_PARAMETER = 47
    DECODE_ERROR = 50
    DECRYPT_ERROR = 51
    PROTOCOL_VERSION = 70
    INSUFFICIENT_SECURITY = 71
    INTERNAL_ERROR = 80
    USER_CANCELED = 90
    NO_RENEGOTIATION = 100
    UNSUPPORTED_EXTENSION = 110


class ExtensionType(IntEnum):
    """Hello extensions this stack sends or understands."""

    SUPPORTED_GROUPS = 10
    EC_POINT_FORMATS = 11
    SIGNATURE_ALGORITHMS = 13
    USE_SRTP = 14
    EXTENDED_MASTER_SECRET = 23
    RENEGOTIATION_INFO = 0xFF01


class NamedGroup(IntEnum):
    """ECDHE groups (RFC 8422 §5.1.1)."""

    SECP256R1 = 23
    X25519 = 29


class SignatureScheme(IntEnum):
    """SignatureAndHashAlgorithm values (RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3)."""

    RSA_PKCS1_SHA256 = 0x0401
    ECDSA_SECP256R1_SHA256 = 0x0403
    RSA_PKCS1_SHA384 = 0x0501
    ECDSA_SECP384R1_SHA384 = 0x0503
    RSA_PSS_RSAE_SHA256 = 0x0804
    RSA_PSS_RSAE_SHA384 = 0x0805


#: The schemes offered and accepted, best first.
SIGNATURE_SCHEMES: Final = (
    SignatureScheme.ECDSA_SECP256R1_SHA256,
    SignatureScheme.RSA_PSS_RSAE_SHA256,
    SignatureScheme.RSA_PKCS1_SHA256,
    SignatureScheme.ECDSA_SECP384R1_SHA384,
    SignatureScheme.RSA_PSS_RSAE_SHA384,
    SignatureScheme.RSA_PKCS1_SHA384,
)


@dataclass(frozen=True)
class CipherSuite:
    """An ECDHE AES-GCM cipher suite (RFC 5289).

    ``hash_name`` is the PRF hash (``"sha256"`` or ``"sha384"``),
    ``key_length`` the AES key size in bytes, ``authentication`` the
    certificate key type it needs (``"ecdsa"`` or ``"rsa"``).
    """

    code: int
    name: str
    key_length: int
    hash_name: str
    authentication: str

    @property
    def fixed_iv_length(self) -> int:
        """The implicit part of the GCM nonce (RFC 5288 §3)."""
        return 4


#: The suites offered, best first (the client's order; the server picks by it too).
CIPHER_SUITES: Final = (
    CipherSuite(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 16, "sha256", "ecdsa"),
    CipherSuite(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 16, "sha256", "rsa"),
    CipherSuite(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 32, "sha384", "ecdsa"),
    CipherSuite(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 32, "sha384", "rsa"),
)


@dataclass(frozen=True)
class SrtpProfile:
    """A DTLS-SRTP protection profile (RFC 5764 §4.1.2, RFC 7714 §14.2).

    ``key_length`` and ``salt_length`` are the SRTP master key and salt
    sizes in bytes: the exporter output is
    ``2 * (key_length + salt_length)`` bytes, split as client key, server
    key, client salt, server salt.
    """

    code: int
    name: str
    key_length: int
    salt_length: int

    @property
    def keying_material_length(self) -> int:
        """How many bytes to export with ``EXTRACTOR-dtls_srtp``."""
        return 2 * (self.key_length + self.salt_length)


#: The SRTP profiles known, in the default order of preference.
SRTP_PROFILES: Final = (
    SrtpProfile(0x0001, "SRTP_AES128_CM_SHA1_80", 16, 14),
    SrtpProfile(0x0002, "SRTP_AES128_CM_SHA1_32", 16, 14),
    SrtpProfile(0x0007, "SRTP_AEAD_AES_128_GCM", 16, 12),
    SrtpProfile(0x0008, "SRTP_AEAD_AES_256_GCM", 32, 12),
)
