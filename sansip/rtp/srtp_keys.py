"""SRTP protection profiles and key derivation (RFC 3711 §4.3, RFC 7714 §11).

A :class:`SrtpProfile` names the transforms of one crypto suite.  The four
supported suites are in :data:`PROFILES`, keyed by their SDES crypto-suite
name (RFC 4568 §6.2, RFC 7714 §14.2); :data:`DTLS_PROFILES` maps the DTLS-SRTP
protection profile identifiers (RFC 5764 §4.1.2, RFC 7714 §14.2) to the same
objects.

:func:`derive_session_key` is the RFC 3711 §4.3 key derivation with a key
derivation rate of 0 (the only rate SDES and DTLS-SRTP use in practice): the
AES-CM PRF keyed with the master key, for any AES key size (RFC 6188 §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sansip.errors import LocalProtocolError

__all__ = [
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "AES_CM_128_HMAC_SHA1_32",
    "AES_CM_128_HMAC_SHA1_80",
    "DTLS_PROFILES",
    "LABEL_RTCP_AUTH",
    "LABEL_RTCP_ENCRYPTION",
    "LABEL_RTCP_SALT",
    "LABEL_RTP_AUTH",
    "LABEL_RTP_ENCRYPTION",
    "LABEL_RTP_SALT",
    "PROFILES",
    "SessionKeys",
    "SrtpProfile",
    "aes_cm_keystream",
    "derive_session_key",
    "derive_session_keys",
    "get_profile",
    "split_dtls_keying_material",
]

#: Key derivation labels (RFC 3711 §4.3.1, §4.3.2).
LABEL_RTP_ENCRYPTION: Final = 0x00
LABEL_RTP_AUTH: Final = 0x01
LABEL_RTP_SALT: Final = 0x02
LABEL_RTCP_ENCRYPTION: Final = 0x03
LABEL_RTCP_AUTH: Final = 0x04
LABEL_RTCP_SALT: Final = 0x05

#: The PRF input is 112 bits wide (RFC 3711 §4.3.3): the master salt's width.
_PRF_SALT_LENGTH: Final = 14


@dataclass(frozen=True, slots=True)
class SrtpProfile:
    """The transforms and key sizes of one SRTP crypto suite.

    Lengths are in bytes.  ``aead`` profiles (AES-GCM, RFC 7714) have no
    separate authentication key; their tag is part of the AEAD output.
    """

    #: The SDES crypto-suite name (RFC 4568, RFC 7714), e.g. ``AES_CM_128_HMAC_SHA1_80``.
    name: str
    #: The DTLS-SRTP profile name (RFC 5764, RFC 7714), e.g. ``SRTP_AES128_CM_HMAC_SHA1_80``.
    dtls_name: str
    #: The DTLS-SRTP protection profile identifier, e.g. ``0x0001``.
    dtls_id: int
    #: AES-GCM (True) or AES counter mode with HMAC-SHA1 (False).
    aead: bool
    #: Length of the master key and of the session encryption key.
    key_length: int
    #: Length of the master salt and of the session salt.
    salt_length: int
    #: Length of the HMAC-SHA1 session authentication key (0 for AEAD).
    auth_key_length: int
    #: Authentication tag length of SRTP packets.
    rtp_tag_length: int
    #: Authentication tag length of SRTCP packets.
    rtcp_tag_length: int

    @property
    def master_length(self) -> int:
        """Length of master key plus master salt, as SDES and pylibsrtp carry them."""
        return self.key_length + self.salt_length


AES_CM_128_HMAC_SHA1_80: Final = SrtpProfile(
    "AES_CM_128_HMAC_SHA1_80", "SRTP_AES128_CM_HMAC_SHA1_80", 0x0001, False, 16, 14, 20, 10, 10
)
#: The 32-bit tag applies to SRTP only: SRTCP keeps an 80-bit tag (RFC 4568 §6.2.2).
AES_CM_128_HMAC_SHA1_32: Final = SrtpProfile(
    "AES_CM_128_HMAC_SHA1_32", "SRTP_AES128_CM_HMAC_SHA1_32", 0x0002, False, 16, 14, 20, 4, 10
)
AEAD_AES_128_GCM: Final = SrtpProfile(
    "AEAD_AES_128_GCM", "SRTP_AEAD_AES_128_GCM", 0x0007, True, 16, 12, 0, 16, 16
)
AEAD_AES_256_GCM: Final = SrtpProfile(
    "AEAD_AES_256_GCM", "SRTP_AEAD_AES_256_GCM", 0x0008, True, 32, 12, 0, 16, 16
)

_ALL: Final = (
    AES_CM_128_HMAC_SHA1_80,
    AES_CM_128_HMAC_SHA1_32,
    AEAD_AES_128_GCM,
    AEAD_AES_256_GCM,
)
#: The supported profiles by SDES crypto-suite name.
PROFILES: Final[dict[str, SrtpProfile]] = {p.name: p for p in _ALL}
#: The supported profiles by DTLS-SRTP protection profile identifier.
DTLS_PROFILES: Final[dict[int, SrtpProfile]] = {p.dtls_id: p for p in _ALL}
_BY_DTLS_NAME: Final[dict[str, SrtpProfile]] = {p.dtls_name: p for p in _ALL}


def get_profile(key: str | int | SrtpProfile) -> SrtpProfile:
    """The profile named by an SDES suite name, a DTLS-SRTP profile name or id.

    Raises :class:`~sansip.errors.LocalProtocolError` for an unsupported one.
    """
    if isinstance(key, SrtpProfile):
        return key
    found = DTLS_PROFILES.get(key) if isinstance(key, int) else None
    if isinstance(key, str):
        found = PROFILES.get(key.upper()) or _BY_DTLS_NAME.get(key.upper())
    if found is None:
        raise LocalProtocolError(f"unsupported SRTP profile {key!r}")
    return found


def aes_cm_keystream(key: bytes, iv: bytes, length: int) -> bytes:
    """``length`` bytes of AES counter-mode keystream from the 16-byte counter ``iv``.

    This is the AES-CM of RFC 3711 §4.1.1 (and RFC 6188 for 192/256-bit keys):
    block ``j`` is ``AES(key, iv + j)``.
    """
    if len(iv) != 16:
        raise LocalProtocolError("an AES-CM counter block is 16 bytes")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(bytes(length)) + encryptor.finalize()


def derive_session_key(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """One session key, salt or authentication key (RFC 3711 §4.3.1, key derivation rate 0).

    ``x = (label << 48) XOR master_salt`` on 112 bits; the result is the first
    ``length`` bytes of AES-CM keystream under the master key from ``x * 2^16``.
    A master salt shorter than 112 bits (AES-GCM's 96, RFC 7714 §11) is padded
    with zero bytes on the right, as libsrtp does.
    """
    if len(master_key) not in (16, 24, 32):
        raise LocalProtocolError("an SRTP master key is 16, 24 or 32 bytes")
    if len(master_salt) > _PRF_SALT_LENGTH:
        raise LocalProtocolError("an SRTP master salt is at most 14 bytes")
    salt = int.from_bytes(master_salt.ljust(_PRF_SALT_LENGTH, b"\x00"), "big")
    x = salt ^ (label << 48)
    return aes_cm_keystream(master_key, (x << 16).to_bytes(16, "big"), length)


class SessionKeys(NamedTuple):
    """The session keys of one direction of SRTP or SRTCP."""

    #: The session encryption key.
    cipher_key: bytes
    #: The session salt.
    salt: bytes
    #: The HMAC-SHA1 key (empty for AEAD profiles).
    auth_key: bytes


def derive_session_keys(
    profile: SrtpProfile, master_key: bytes, master_salt: bytes
) -> tuple[SessionKeys, SessionKeys]:
    """The SRTP and SRTCP session keys under one master key and salt."""
    if len(master_key) != profile.key_length or len(master_salt) != profile.salt_length:
        raise LocalProtocolError(
            f"{profile.name} takes a {profile.key_length}-byte master key "
            f"and a {profile.salt_length}-byte master salt"
        )

    def keys(cipher: int, auth: int, salt: int) -> SessionKeys:
        return SessionKeys(
            derive_session_key(master_key, master_salt, cipher, profile.key_length),
            derive_session_key(master_key, master_salt, salt, profile.salt_length),
            derive_session_key(master_key, master_salt, auth, profile.auth_key_length)
            if profile.auth_key_length
            else b"",
        )

    return (
        keys(LABEL_RTP_ENCRYPTION, LABEL_RTP_AUTH, LABEL_RTP_SALT),
        keys(LABEL_RTCP_ENCRYPTION, LABEL_RTCP_AUTH, LABEL_RTCP_SALT),
    )


def split_dtls_keying_material(
    profile: SrtpProfile, material: bytes, *, client: bool
) -> tuple[bytes, bytes]:
    """``(local, remote)`` master key-and-salt pairs from DTLS-SRTP keying material.

    ``material`` is the output of the TLS exporter ``EXTRACTOR-dtls_srtp``
    (RFC 5764 §4.2): client key, server key, client salt, server salt.  Each
    returned value is master key followed by master salt, what
    :class:`~sansip.rtp.srtp.SrtpTransform` takes.
    """
    k, s = profile.key_length, profile.salt_length
    if len(material) < 2 * (k + s):
        raise LocalProtocolError(f"{profile.name} needs {2 * (k + s)} bytes of keying material")
    client_key, server_key = material[:k], material[k : 2 * k]
    client_salt, server_salt = material[2 * k : 2 * k + s], material[2 * k + s : 2 * (k + s)]
    client_master, server_master = client_key + client_salt, server_key + server_salt
    return (client_master, server_master) if client else (server_master, client_master)
