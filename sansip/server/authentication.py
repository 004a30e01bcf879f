"""Digest authentication on the server side (RFC 3261 §22, RFC 7616):
nonces from the injected random source with a lifetime, challenges, and
the check of the credentials a request brings.

Nonces are 128 random bits; each lives ``nonce_lifetime`` seconds on the
caller's clock.  Right credentials with an expired or unknown nonce, or a
nonce count that does not grow, get a fresh challenge with ``stale=true``
(RFC 7616 §3.3): the client answers it without asking its user again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final, Protocol

from sansip.errors import SansipError
from sansip.message import Challenge, Credentials, HeaderSpec, Request
from sansip.message.digest import canonical_algorithm, verify

__all__ = ["AuthOutcome", "AuthResult", "DigestAuthenticator", "NonceSource"]

#: Random bits in a nonce.
NONCE_BITS: Final = 128
#: Nonces remembered at most (the oldest are forgotten first).
MAX_NONCES: Final = 10_000


class NonceSource(Protocol):
    """Where nonces get their randomness (``random.Random`` fits)."""

    def getrandbits(self, k: int, /) -> int:
        """An integer of ``k`` random bits."""
        ...


class AuthOutcome(Enum):
    """What the credentials of a request amount to."""

    #: Right credentials for a fresh nonce.
    OK = "ok"
    #: No credentials for our realm: challenge.
    MISSING = "missing"
    #: Right password, but the nonce expired, is unknown or was replayed:
    #: challenge again with ``stale=true``.
    STALE = "stale"
    #: Unknown user, wrong password or unusable credentials.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The outcome, the username the credentials gave, and why it failed."""

    outcome: AuthOutcome
    username: str = ""
    reason: str = ""


class DigestAuthenticator:
    """Challenges and checks digest credentials for one realm."""

    def __init__(
        self,
        realm: str,
        users: Mapping[str, str],
        *,
        rng: NonceSource,
        nonce_lifetime: float = 300.0,
        algorithms: tuple[str, ...] = ("MD5",),
    ) -> None:
        self.realm = realm
        self.users = dict(users)
        self._rng = rng
        self._lifetime = nonce_lifetime
        self._algorithms = tuple(canonical_algorithm(a) for a in algorithms)
        # nonce -> [valid until, last nonce count seen]
        self._nonces: OrderedDict[str, list[float]] = OrderedDict()

    def challenges(self, now: float, *, stale: bool = False) -> list[Challenge]:
        """Fresh challenges (one per algorithm, one shared nonce) for a 401/407."""
        nonces = self._nonces
        while nonces and (len(nonces) >= MAX_NONCES or next(iter(nonces.values()))[0] <= now):
            nonces.popitem(last=False)
        nonce = f"{self._rng.getrandbits(NONCE_BITS):032x}"
        nonces[nonce] = [now + self._lifetime, 0]
        out = []
        for algorithm in self._algorithms:
            params = {"realm": self.realm, "nonce": nonce, "algorithm": algorithm, "qop": "auth"}
            if stale:
                params["stale"] = "true"
            out.append(Challenge.digest(**params))
        return out

    def check(
        self, request: Request, spec: HeaderSpec[list[Credentials]], now: float
    ) -> AuthResult:
        """Check the credentials of ``request`` in the header of ``spec``
        (Authorization or Proxy-Authorization); never raises."""
        try:
            offered = request.headers.parsed(spec) or []
        except SansipError:
            return AuthResult(AuthOutcome.FAILED, reason="malformed credentials")
        ours = [c for c in offered if c.is_digest and c.realm == self.realm]
        if not ours:
            return AuthResult(AuthOutcome.MISSING)
        credentials = ours[0]
        username = credentials.username or ""
        password = self.users.get(username)
        if password is None:
            return AuthResult(AuthOutcome.FAILED, username, "unknown user")
        if not verify(credentials, method=request.method, password=password, body=request.body):
            return AuthResult(AuthOutcome.FAILED, username, "wrong password")
        entry = self._nonces.get(credentials.nonce or "")
        if entry is None or entry[0] <= now:
            return AuthResult(AuthOutcome.STALE, username, "stale nonce")
        if credentials.qop is not None:
            try:
                nc = int(credentials.nc or "", 16)
            except ValueError:
                return AuthResult(AuthOutcome.FAILED, username, "bad nonce count")
            if nc <= entry[1]:
                return AuthResult(AuthOutcome.STALE, username, "replayed nonce count")
            entry[1] = nc
        return AuthResult(AuthOutcome.OK, username)
