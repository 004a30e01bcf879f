"""SIP digest authentication: the computation (RFC 2617, RFC 7616, RFC 8760).

Everything here is pure: no clock, no randomness.  The client nonce
(``cnonce``) is chosen by the caller and passed in.

Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256 and
SHA-512-256-sess.  qop: ``auth``, ``auth-int`` (the body is hashed) and none
(RFC 2069 compatibility).  ``userhash`` of RFC 7616 §3.4.4 is supported: the
username parameter carries ``H(username ":" realm)``; the response is still
computed from the clear username.

Strings are hashed as UTF-8 (RFC 7616 ``charset=UTF-8``; SIP is UTF-8).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Final

from sansip.errors import LocalProtocolError
from sansip.message.auth import Challenge, Credentials

__all__ = [
    "ALGORITHMS",
    "DigestClient",
    "canonical_algorithm",
    "compute_ha1",
    "compute_response",
    "format_nc",
    "hash_username",
    "verify",
    "verify_ha1",
]


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha512_256_hashlib(data: bytes) -> str:
    return hashlib.new("sha512_256", data).hexdigest()


def _sha512_256_cryptography(data: bytes) -> str:
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 (fallback only)

    digest = hashes.Hash(hashes.SHA512_256())
    digest.update(data)
    return digest.finalize().hex()


def _pick_sha512_256() -> Callable[[bytes], str]:
    # SHA-512/256 is its own function (distinct initial values), not SHA-512
    # cut in half.  OpenSSL 1.1.1+ provides it to hashlib; else cryptography.
    try:
        _sha512_256_hashlib(b"")
    except ValueError:
        return _sha512_256_cryptography
    return _sha512_256_hashlib


_sha512_256: Final = _pick_sha512_256()

# Canonical name -> (hash function, is a -sess variant, strength rank).
_ALGORITHMS: Final[dict[str, tuple[Callable[[bytes], str], bool, int]]] = {
    "MD5": (_md5, False, 1),
    "MD5-sess": (_md5, True, 1),
    "SHA-256": (_sha256, False, 2),
    "SHA-256-sess": (_sha256, True, 2),
    "SHA-512-256": (_sha512_256, False, 3),
    "SHA-512-256-sess": (_sha512_256, True, 3),
}
_BY_LOWER: Final = {name.lower(): name for name in _ALGORITHMS}

ALGORITHMS: Final[tuple[str, ...]] = tuple(_ALGORITHMS)
"""The canonical names of the supported algorithms."""

_QOPS: Final = ("auth", "auth-int")


def canonical_algorithm(algorithm: str | None) -> str:
    """The canonical spelling of ``algorithm`` (``None`` means MD5).

    Raises ``LocalProtocolError`` if the algorithm is not supported.
    """
    if algorithm is None:
        return "MD5"
    name = _BY_LOWER.get(algorithm.lower())
    if name is None:
        raise LocalProtocolError(f"unsupported digest algorithm {algorithm[:40]!r}")
    return name


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _h(algorithm: str, *parts: str) -> str:
    return _ALGORITHMS[algorithm][0](_encode(":".join(parts)))


def format_nc(count: int) -> str:
    """The nonce count as the 8 lowercase hex digits of the ``nc`` parameter."""
    if not 0 < count <= 0xFFFFFFFF:
        raise LocalProtocolError(f"nonce count out of range: {count}")
    return f"{count:08x}"


def hash_username(*, algorithm: str | None, username: str, realm: str) -> str:
    """``H(username ":" realm)``: the username sent when ``userhash=true``."""
    return _h(canonical_algorithm(algorithm), username, realm)


def compute_ha1(*, algorithm: str | None, username: str, realm: str, password: str) -> str:
    """``H(username ":" realm ":" password)``, what a server may store instead of
    the password.

    For the ``-sess`` algorithms this is still the plain value (the session
    HA1 is derived from it per request), so one stored HA1 serves both
    ``X`` and ``X-sess``.
    """
    return _h(canonical_algorithm(algorithm), username, realm, password)


def _response_from_ha1(
    *,
    algorithm: str,
    ha1: str,
    method: str,
    uri: str,
    nonce: str,
    cnonce: str | None,
    nc: str | None,
    qop: str | None,
    body: bytes,
) -> str:
    hash_fn, sess, _rank = _ALGORITHMS[algorithm]
    if sess:
        if cnonce is None:
            raise LocalProtocolError(f"{algorithm} needs a cnonce")
        ha1 = _h(algorithm, ha1, nonce, cnonce)
    if qop is None:
        ha2 = _h(algorithm, method, uri)
        return _h(algorithm, ha1, nonce, ha2)
    qop = qop.lower()
    if qop == "auth":
        ha2 = _h(algorithm, method, uri)
    elif qop == "auth-int":
        ha2 = _h(algorithm, method, uri, hash_fn(body))
    else:
        raise LocalProtocolError(f"unsupported qop {qop[:40]!r}")
    if cnonce is None or nc is None:
        raise LocalProtocolError("qop needs a cnonce and a nonce count")
    return _h(algorithm, ha1, nonce, nc, cnonce, qop, ha2)


def compute_response(
    *,
    algorithm: str | None,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    cnonce: str | None = None,
    nc: int | str | None = None,
    qop: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``response`` parameter (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1).

    ``algorithm`` ``None`` means MD5.  ``qop`` ``None`` is the RFC 2069
    computation (no cnonce, no nc).  ``nc`` is an int (formatted as 8 hex
    digits) or the string as sent.  ``body`` matters only for ``auth-int``.
    Raises ``LocalProtocolError`` on an unsupported algorithm or qop, or
    when a needed cnonce/nc is missing.
    """
    name = canonical_algorithm(algorithm)
    return _response_from_ha1(
        algorithm=name,
        ha1=_h(name, username, realm, password),
        method=method,
        uri=uri,
        nonce=nonce,
        cnonce=cnonce,
        nc=format_nc(nc) if isinstance(nc, int) else nc,
        qop=qop,
        body=body,
    )


def _check_username(credentials: Credentials, username: str | None, realm: str) -> str | None:
    """The clear username to compute with, or ``None`` if it does not match."""
    sent = credentials.username
    if sent is None:
        return None
    if username is None:
        # Without the clear name a hashed username cannot be checked.
        return None if credentials.userhash else sent
    if credentials.userhash:
        expected = hash_username(algorithm=credentials.algorithm, username=username, realm=realm)
        ok = hmac.compare_digest(_encode(expected), _encode(sent.lower()))
    else:
        ok = hmac.compare_digest(_encode(username), _encode(sent))
    return username if ok else None


def verify_ha1(
    credentials: Credentials,
    *,
    method: str,
    ha1: str,
    body: bytes = b"",
    username: str | None = None,
) -> bool:
    """Check ``credentials`` against a stored HA1 (see ``compute_ha1``).

    ``ha1`` must have been computed with the hash of the credentials'
    algorithm (MD5 for MD5 and MD5-sess, ...).  ``username`` is the clear
    username the server expects; it is required when ``userhash=true`` and,
    when given, must match.  The comparison is constant-time.  Malformed
    credentials (missing fields, unknown algorithm or qop) give ``False``.

    The caller still has to check the realm, that the nonce is one it issued
    and is fresh, that the nc was not replayed and that ``uri`` matches the
    Request-URI.
    """
    if not credentials.is_digest:
        return False
    realm, nonce, uri = credentials.realm, credentials.nonce, credentials.uri
    response = credentials.response
    if realm is None or nonce is None or uri is None or response is None:
        return False
    if _check_username(credentials, username, realm) is None:
        return False
    try:
        expected = _response_from_ha1(
            algorithm=canonical_algorithm(credentials.algorithm),
            ha1=ha1.lower(),
            method=method,
            uri=uri,
            nonce=nonce,
            cnonce=credentials.cnonce,
            nc=credentials.nc,
            qop=credentials.qop,
            body=body,
        )
    except LocalProtocolError:
        return False
    return hmac.compare_digest(_encode(expected), _encode(response.lower()))


def verify(
    credentials: Credentials,
    *,
    method: str,
    password: str,
    body: bytes = b"",
    username: str | None = None,
) -> bool:
    """Check ``credentials`` against a password (constant-time compare).

    See ``verify_ha1`` for ``username`` and for what the caller must still
    check.  The clear username is needed when ``userhash=true``.
    """
    if not credentials.is_digest or credentials.realm is None:
        return False
    realm = credentials.realm
    clear = _check_username(credentials, username, realm)
    if clear is None:
        return False
    try:
        ha1 = compute_ha1(
            algorithm=credentials.algorithm, username=clear, realm=realm, password=password
        )
    except LocalProtocolError:
        return False
    return verify_ha1(credentials, method=method, ha1=ha1, body=body, username=username)


def _rank(challenge: Challenge) -> int:
    """Strength of a usable challenge, 0 if it cannot be answered."""
    if not challenge.is_digest or challenge.nonce is None or challenge.realm is None:
        return 0
    entry = _ALGORITHMS.get(_BY_LOWER.get((challenge.algorithm or "MD5").lower(), ""))
    if entry is None:
        return 0
    offered = challenge.qop_options
    if offered and not any(q in _QOPS for q in offered):
        return 0
    return entry[2]


class DigestClient:
    """The client side of digest authentication for one user.

    It answers challenges (``authorize``), keeps the nonce count of the last
    nonce seen in each realm, picks among several challenges (``choose``)
    and tells whether a new challenge is worth answering (``should_retry``).
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        algorithms: Iterable[str] = ALGORITHMS,
    ) -> None:
        self.username = username
        self.password = password
        self.algorithms = frozenset(canonical_algorithm(a) for a in algorithms)
        # realm -> (last nonce used, nonce count sent with it)
        self._counts: dict[str, tuple[str, int]] = {}

    def supports(self, challenge: Challenge) -> bool:
        """Whether ``challenge`` can be answered: Digest, a realm, a nonce, an
        allowed algorithm and, if qop is offered, ``auth`` or ``auth-int``."""
        if _rank(challenge) == 0:
            return False
        return canonical_algorithm(challenge.algorithm) in self.algorithms

    def choose(self, challenges: Iterable[Challenge]) -> Challenge:
        """The challenge to answer: the strongest supported algorithm
        (SHA-512-256 > SHA-256 > MD5, RFC 8760 §2.4 local policy), the topmost
        one on a tie.  Raises ``LocalProtocolError`` if none is supported.

        Challenges of different realms (forked requests, a proxy and a UAS)
        each need an answer: group them by realm and choose per realm.
        """
        best: Challenge | None = None
        best_rank = 0
        for challenge in challenges:
            if not self.supports(challenge):
                continue
            rank = _rank(challenge)
            if rank > best_rank:
                best, best_rank = challenge, rank
        if best is None:
            raise LocalProtocolError("no supported digest challenge")
        return best

    def next_nc(self, challenge: Challenge) -> int:
        """The nonce count the next ``authorize`` for this challenge will use."""
        realm, nonce = challenge.realm or "", challenge.nonce
        last = self._counts.get(realm)
        if last is not None and last[0] == nonce:
            return last[1] + 1
        return 1

    def authorize(
        self,
        challenge: Challenge,
        method: str,
        uri: str,
        body: bytes = b"",
        cnonce: str | None = None,
    ) -> Credentials:
        """The credentials answering ``challenge`` for a request.

        ``uri`` is the Request-URI as sent; ``body`` the message body (used by
        ``auth-int``); ``cnonce`` the caller's fresh client nonce, needed when
        qop is offered or the algorithm is ``-sess``.  qop ``auth`` is chosen
        over ``auth-int`` unless only ``auth-int`` is offered.  Each call with
        the same nonce increments the nonce count; a new nonce resets it to 1.
        Raises ``LocalProtocolError`` if the challenge is not supported.
        """
        if not self.supports(challenge):
            raise LocalProtocolError("unsupported digest challenge")
        algorithm = canonical_algorithm(challenge.algorithm)
        nonce, realm = challenge.nonce, challenge.realm
        assert nonce is not None and realm is not None  # checked by supports()
        offered = challenge.qop_options
        qop = None if not offered else "auth" if "auth" in offered else "auth-int"
        needs_cnonce = qop is not None or _ALGORITHMS[algorithm][1]
        if needs_cnonce and not cnonce:
            raise LocalProtocolError("this challenge needs a cnonce")
        nc: str | None = None
        if qop is not None:
            count = self.next_nc(challenge)
            nc = format_nc(count)
            self._counts[realm] = (nonce, count)
        else:
            self._counts[realm] = (nonce, 0)
        response = _response_from_ha1(
            algorithm=algorithm,
            ha1=_h(algorithm, self.username, realm, self.password),
            method=method,
            uri=uri,
            nonce=nonce,
            cnonce=cnonce if needs_cnonce else None,
            nc=nc,
            qop=qop,
            body=body,
        )
        username = self.username
        if challenge.userhash:
            username = hash_username(algorithm=algorithm, username=username, realm=realm)
        params: list[tuple[str, str]] = [
            ("username", username),
            ("realm", realm),
            ("nonce", nonce),
            ("uri", uri),
            ("response", response),
        ]
        if challenge.algorithm is not None:
            params.append(("algorithm", algorithm))
        if needs_cnonce and cnonce:
            params.append(("cnonce", cnonce))
        if challenge.opaque is not None:
            params.append(("opaque", challenge.opaque))
        if qop is not None and nc is not None:
            params.extend([("qop", qop), ("nc", nc)])
        if challenge.userhash:
            params.append(("userhash", "true"))
        return Credentials("Digest", params)

    def should_retry(self, challenge: Challenge, previous_failed: bool) -> bool:
        """Whether to answer ``challenge`` with the stored credentials.

        ``previous_failed`` is true when the request that drew this challenge
        already carried credentials for its realm.  Then only ``stale=true``
        with a nonce other than the one used (the nonce expired, the password
        was right) is worth a retry; ``stale=false`` means the username or
        password is wrong and the user must be asked again.  Unsupported
        challenges are never worth a retry.
        """
        if not self.supports(challenge):
            return False
        if not previous_failed:
            return True
        if not challenge.stale:
            return False
        last = self._counts.get(challenge.realm or "")
        return last is None or last[0] != challenge.nonce
