"""What a UAC does with a 401/407 or a 3xx to any request (RFC 3261 §8.1.3.4,
§22.2-22.3): build the next attempt of the request, sans-IO.

The new attempt keeps Call-ID, From (with its tag), To and body, takes the
next CSeq number and loses the Via (the endpoint adds a fresh one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol

from sansip.errors import LocalProtocolError
from sansip.message import NameAddr, ParseError, Request, Response, SipURI
from sansip.message import headers as h
from sansip.message.auth import Challenge
from sansip.message.digest import DigestClient

__all__ = ["MAX_AUTH_ROUNDS", "Authenticator", "next_attempt", "redirect_targets"]

#: How many challenges in a row one request may get before giving up.
MAX_AUTH_ROUNDS: Final = 3


class CnonceSource(Protocol):
    """Randomness for client nonces (``random.Random`` fits)."""

    def getrandbits(self, k: int, /) -> int:
        """An integer of ``k`` random bits."""
        ...


def next_attempt(request: Request, *, extra: Iterable[tuple[str, object]] = ()) -> Request:
    """A copy of ``request`` with CSeq + 1, no Via, previous credentials
    dropped and ``extra`` fields added."""
    headers: list[tuple[str, object]] = []
    for name, value in request.headers.items():
        key = name.lower()
        if key in ("via", "v", "authorization", "proxy-authorization", "content-length", "l"):
            continue
        if key == "cseq":
            value = f"{request.cseq.seq + 1} {request.method}"
        headers.append((name, value))
    return Request(request.method, request.uri, [*headers, *extra], request.body)


class Authenticator:
    """Answers challenges for one UA's credentials, with loop protection."""

    def __init__(self, username: str | None, password: str | None, rng: CnonceSource) -> None:
        self._client = DigestClient(username, password) if username and password else None
        self._rng = rng
        self._rounds: dict[tuple[str, str, int], int] = {}

    def retry(self, request: Request, response: Response) -> Request | None:
        """The request to send after ``response`` (401 or 407), or None when
        it cannot or must not be answered (no credentials, unsupported
        challenge, too many rounds: the password is wrong)."""
        if self._client is None or response.status not in (401, 407):
            return None
        spec = h.WWW_AUTHENTICATE if response.status == 401 else h.PROXY_AUTHENTICATE
        field = "Authorization" if response.status == 401 else "Proxy-Authorization"
        try:
            challenges: list[Challenge] = response.headers.parsed(spec) or []
            challenge = self._client.choose(challenges)
        except (ParseError, LocalProtocolError):
            return None
        key = (request.call_id, request.method, response.status)
        rounds = self._rounds.get(key, 0) + 1
        # A second challenge to credentials we sent means they are wrong,
        # unless it only says our nonce went stale.
        if rounds > MAX_AUTH_ROUNDS or (rounds > 1 and not challenge.stale):
            return None
        self._rounds[key] = rounds
        cnonce = f"{self._rng.getrandbits(64):016x}"
        try:
            credentials = self._client.authorize(
                challenge, request.method, str(request.uri), request.body, cnonce
            )
        except LocalProtocolError:
            return None
        return next_attempt(request, extra=[(field, credentials)])

    def succeeded(self, request: Request) -> None:
        """Forget the rounds of a request that got through."""
        for status in (401, 407):
            self._rounds.pop((request.call_id, request.method, status), None)


def redirect_targets(response: Response) -> list[SipURI]:
    """The SIP URIs of a 3xx's Contacts, best ``q`` first (§8.1.3.4)."""
    try:
        contacts: list[NameAddr] = response.contacts
        ranked = sorted(contacts, key=lambda c: -(c.q if c.q is not None else 1.0))
        return [c.uri for c in ranked if isinstance(c.uri, SipURI)]
    except ParseError:
        return []
