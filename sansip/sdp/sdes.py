"""SRTP keys carried in SDP (SDES, RFC 4568), sans-IO.

Each side puts its own sending key in ``a=crypto`` lines: the offerer one
line per crypto suite it accepts (tags 1, 2, ... in order of preference),
the answerer the one line it chose, under the offer's tag, with its own
key.  The key of a line is the *sender's* master key and salt::

    offer   a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<alice's key||salt>
    answer  a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<bob's key||salt>

    >>> import random
    >>> ours = offer_cryptos(("AES_CM_128_HMAC_SHA1_80",), random.Random(1).randbytes)
    >>> theirs = offer_cryptos(("AES_CM_128_HMAC_SHA1_80",), random.Random(2).randbytes)
    >>> keys = agreed_keys(ours, theirs)
    >>> keys.suite, len(keys.local_key), keys.local_key != keys.remote_key
    ('AES_CM_128_HMAC_SHA1_80', 30, True)

A crypto line this module cannot honour (an unknown suite, several keys,
an MKI, a key derivation rate, unencrypted or unauthenticated SRTP, a key
of the wrong length) is skipped when choosing, as RFC 4568 §7.1.1 asks;
an answer that names a line we did not offer is an error (400).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from sansip.errors import RemoteProtocolError
from sansip.sdp.attributes import Crypto, bad_sdp, parse_inline_key

__all__ = ["SDES_SUITES", "Encryption", "KeySource", "SrtpKeys", "agreed_keys", "answer_crypto",
           "offer_cryptos"]  # fmt: skip

#: The longest MKI sansip takes (bytes; RFC 4568 allows up to 128).
MAX_MKI_LENGTH: Final = 4
#: Random bytes for keys: ``os.urandom`` in production (or ``secrets.token_bytes``).
KeySource = Callable[[int], bytes]

#: The SDES suites sansip keys, with their master key + salt length in bytes
#: (RFC 4568 §6.2, RFC 7714 §12), in our order of preference.
SDES_SUITES: Final[dict[str, int]] = {
    "AES_CM_128_HMAC_SHA1_80": 30,
    "AES_CM_128_HMAC_SHA1_32": 30,
    "AEAD_AES_128_GCM": 28,
    "AEAD_AES_256_GCM": 44,
}


class Encryption(IntEnum):
    """What a stream asks of SRTP: ``OFF`` plain RTP only (an RTP/SAVP offer
    is refused); ``OPTIONAL`` SRTP when the peer does it (our offers are
    RTP/AVP with keys, plain RTP is taken); ``MANDATORY`` SRTP or no call
    (our offers are RTP/SAVP, an answer or offer without usable keys fails
    the negotiation); ``DTLS`` SRTP keyed by DTLS instead of SDES."""

    OFF = 0
    OPTIONAL = 1
    MANDATORY = 2
    #: SRTP keyed by a DTLS handshake on the media path (RFC 5763/5764):
    #: UDP/TLS/RTP/SAVP offers with our certificate's fingerprint; required.
    DTLS = 3


@dataclass(frozen=True, slots=True)
class SrtpKeys:
    """What SDES agreed for one stream: the suite, our sending master key
    and salt (``local_key``) and the peer's (``remote_key``), with the MKI
    each side's packets carry."""

    suite: str
    local_key: bytes
    remote_key: bytes
    #: The MKI each side puts in its packets (RFC 3711 §3.1; ``b""``: none).
    local_mki: bytes = b""
    remote_mki: bytes = b""

    def __repr__(self) -> str:  # keys stay out of logs and tracebacks
        return f"SrtpKeys({self.suite!r}, <keys>)"


def offer_cryptos(suites: Sequence[str], key_source: KeySource) -> tuple[Crypto, ...]:
    """Our ``a=crypto`` lines, one fresh key per suite, tagged 1, 2, ...
    Raises ValueError for a suite sansip does not key."""
    lines: list[Crypto] = []
    for tag, suite in enumerate(suites, 1):
        length = SDES_SUITES.get(suite)
        if length is None:
            raise ValueError(f"unknown SRTP suite {suite!r}; sansip has {', '.join(SDES_SUITES)}")
        key = base64.b64encode(key_source(length)).decode("ascii")
        lines.append(Crypto(tag, suite, (f"inline:{key}",)))
    return tuple(lines)


def _usable_key(line: Crypto) -> tuple[bytes, bytes] | None:
    """The master key and salt of ``line`` and its MKI (``b""``: none) when
    sansip can use them, else None.  A lifetime is taken as written (the
    call re-keys by re-INVITE long before 2^31 packets)."""
    length = SDES_SUITES.get(line.suite.upper())
    if length is None or len(line.key_params) != 1 or line.session_params:
        return None  # unknown suite, several keys, or KDR/UNENCRYPTED_SRTP/... asked
    try:
        inline = parse_inline_key(line.key_params[0])
        key = base64.b64decode(inline.key_salt, validate=True)
    except (ValueError, binascii.Error, RemoteProtocolError):
        return None
    if len(key) != length:
        return None
    if inline.mki is None:
        return key, b""
    size = inline.mki_length or 0
    if not 1 <= size <= MAX_MKI_LENGTH or inline.mki >= 256**size:
        return None
    return key, inline.mki.to_bytes(size, "big")


def answer_crypto(offered: Sequence[Crypto], ours: Sequence[Crypto]) -> Crypto | None:
    """Our answer line to an offer's ``offered`` lines: the first one whose
    suite we have a key for (in ``ours``), under the offer's tag; None
    when none is usable."""
    mine = {line.suite: line for line in ours}
    for line in offered:
        own = mine.get(line.suite.upper())
        if own is not None and _usable_key(line) is not None:
            return Crypto(line.tag, own.suite, own.key_params)
    return None


def agreed_keys(local: Sequence[Crypto], remote: Sequence[Crypto]) -> SrtpKeys | None:
    """The keys an offer/answer agreed: the line of ``local`` and the line
    of ``remote`` with the same tag and suite (an answer has one line).
    None when neither side keyed the stream; a 400 when the peer's lines
    name a tag or suite of ours wrongly or carry an unusable key."""
    if not local or not remote:
        return None
    mine = {line.tag: line for line in local}
    for line in remote:
        own = mine.get(line.tag)
        if own is None or own.suite != line.suite.upper():
            continue
        theirs = _usable_key(line)
        ours = _usable_key(own)
        if theirs is None or ours is None:
            raise bad_sdp(f"a=crypto:{line.tag} carries no usable {line.suite} key")
        return SrtpKeys(own.suite, ours[0], theirs[0], local_mki=ours[1], remote_mki=theirs[1])
    raise bad_sdp(f"a=crypto:{remote[0].tag} {remote[0].suite} answers no crypto line of ours")
