"""STUN credentials: the HMAC keys of RFC 8489 §9 and the string preparation they need.

- short-term (ICE, RFC 8445 §7.2.2): the key is the password itself,
  prepared with the OpaqueString profile (:func:`short_term_key`);
- long-term (TURN, RFC 8489 §9.2.2): the key is
  ``MD5(username ":" realm ":" password)``, or its SHA-256 when
  PASSWORD-ALGORITHM says so (:func:`long_term_key`);
- USERHASH (RFC 8489 §14.4): ``SHA-256(username ":" realm)`` (:func:`userhash`).

:func:`opaque_string` is the part of RFC 8265's OpaqueString profile that
changes bytes (non-ASCII spaces become U+0020, then NFC); :func:`saslprep`
is RFC 4013's SASLprep, which RFC 5389 (and the RFC 5769 test vectors)
used instead.  Both raise :class:`~sansip.errors.LocalProtocolError` on a
prohibited character.
"""

from __future__ import annotations

import hashlib
import stringprep
import unicodedata
from collections.abc import Callable

from sansip.errors import LocalProtocolError
from sansip.ice.stun_attributes import PasswordAlgorithmId

__all__ = ["long_term_key", "opaque_string", "saslprep", "short_term_key", "userhash"]


def opaque_string(text: str) -> str:
    """``text`` prepared with RFC 8265's OpaqueString profile: non-ASCII spaces
    mapped to U+0020, NFC; control characters are refused."""
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in text)
    if any(unicodedata.category(c) == "Cc" for c in mapped):
        raise LocalProtocolError("a STUN password may not contain control characters")
    return unicodedata.normalize("NFC", mapped)


def saslprep(text: str) -> str:
    """``text`` prepared with SASLprep (RFC 4013): characters "mapped to nothing"
    removed, non-ASCII spaces mapped to U+0020, NFKC, prohibited and
    bidirectionally inconsistent strings refused."""
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c)
    )
    prepared = unicodedata.normalize("NFKC", mapped)
    prohibited = (
        stringprep.in_table_c12,
        stringprep.in_table_c21_c22,
        stringprep.in_table_c3,
        stringprep.in_table_c4,
        stringprep.in_table_c5,
        stringprep.in_table_c6,
        stringprep.in_table_c7,
        stringprep.in_table_c8,
        stringprep.in_table_c9,
        stringprep.in_table_a1,
    )
    for char in prepared:
        if any(table(char) for table in prohibited):
            raise LocalProtocolError(f"SASLprep prohibits {char!r}")
    if any(stringprep.in_table_d1(c) for c in prepared):
        if any(stringprep.in_table_d2(c) for c in prepared):
            raise LocalProtocolError("SASLprep: mixed right-to-left and left-to-right text")
        if not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            raise LocalProtocolError("SASLprep: right-to-left text must start and end so")
    return prepared


def short_term_key(password: str) -> bytes:
    """The HMAC key of a short-term credential (RFC 8489 §9.1.1): the prepared password."""
    return opaque_string(password).encode("utf-8")


def long_term_key(
    username: str,
    realm: str,
    password: str,
    *,
    algorithm: int = PasswordAlgorithmId.MD5,
    prepare: Callable[[str], str] = opaque_string,
) -> bytes:
    """The HMAC key of a long-term credential (RFC 8489 §9.2.2):
    ``H(username ":" realm ":" password)`` with H MD5 (16 bytes) or SHA-256
    (32 bytes) as ``algorithm`` says.  ``prepare`` is applied to the realm
    and the password (:func:`saslprep` for RFC 5389 peers)."""
    text = f"{username}:{prepare(realm)}:{prepare(password)}".encode()
    if algorithm == PasswordAlgorithmId.MD5:
        return hashlib.md5(text, usedforsecurity=False).digest()
    if algorithm == PasswordAlgorithmId.SHA256:
        return hashlib.sha256(text).digest()
    raise LocalProtocolError(f"unknown STUN password algorithm {algorithm}")


def userhash(username: str, realm: str) -> bytes:
    """The USERHASH value (RFC 8489 §14.4): ``SHA-256(username ":" realm)``."""
    return hashlib.sha256(f"{username}:{opaque_string(realm)}".encode()).digest()
