"""The REGISTER client of RFC 3261 §10.2, sans-IO (with RFC 5626 instance ids).

:class:`RegisterClient` keeps one binding of a contact at a registrar.  It
owns no transaction and no socket: it hands REGISTER requests without Via
to its owner (``requests_to_send``; the endpoint adds Via and branch and
runs the client transaction) and takes back final responses
(``receive_response``) or the failure of the transaction
(``transaction_failed``: timer F, a 408; a transport error, a 503).  One
REGISTER is outstanding at a time (§10.2), all with one Call-ID and
increasing CSeq numbers (§10.2.4).

Policy, chosen here and fixed so tests and simulations are exact:

- **Refresh** ``refresh_delay(granted)`` after a 2xx: 90 % of the granted
  time, but at least 5 s before the binding expires, and never earlier than
  half of it: ``max(min(0.9 * g, g - 5), g / 2)`` (3600 s → 3240 s,
  60 s → 54 s, 30 s → 25 s, 8 s → 4 s).
- **Back-off** after a failure, RFC 5626 §4.5: with ``n`` consecutive
  failures, ``W = min(retry_max, retry_base * 2**n)`` (30 s and 1800 s by
  default) and the wait is drawn uniformly from ``[W/2, W)`` with 32 bits of
  the injected ``rng``.  A ``Retry-After`` in the failure response replaces
  the drawn wait (at least 1 s).  A 2xx resets ``n``.
- **Authentication failures** (no credentials, a malformed or unanswerable
  challenge, a second non-stale challenge for a realm just answered: a
  wrong password) get ``retry_at=None``: retrying cannot help.
- The last challenge of each realm is answered pre-emptively in later
  REGISTERs (nonce counts increase); a challenge to such an answer counts as
  fresh.  At most :data:`MAX_ROUNDS` challenges and 423s per attempt.

Events are pulled with :meth:`~RegisterClient.next_event`; each names the
client it came from (``registration``).  A state change is reported
(:class:`RegistrationStateChanged`) before the event that explains it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeAlias

from sansip.errors import LocalProtocolError, SansipError
from sansip.message import headers as h
from sansip.message.address import NameAddr
from sansip.message.auth import Challenge
from sansip.message.digest import DigestClient
from sansip.message.ids import RandomSource
from sansip.message.message import Request, Response
from sansip.message.reasons import reason_phrase
from sansip.message.uri import SipURI

__all__ = ["AUTH_FAILED", "MAX_ROUNDS", "TRANSPORT_ERROR", "RegisterClient", "RegisterEvent",
           "Registered", "RegistrationFailed", "RegistrationState", "RegistrationStateChanged",
           "Unregistered", "refresh_delay"]  # fmt: skip

#: Challenges and 423 responses answered within one registration attempt.
MAX_ROUNDS: Final = 5
#: Reason of the failures that wrong or missing credentials cause.
AUTH_FAILED: Final = "Authentication failed"
#: Reason of the failures a transport error causes (reported as a 503, RFC 3261 §8.1.3.1).
TRANSPORT_ERROR: Final = "Transport error"
_MAX_EXPIRES: Final = 2**32 - 1
_CNONCE_BITS: Final = 64
_JITTER_BITS: Final = 32
_RETRY_AFTER_RE: Final = re.compile(r"[ \t]*([0-9]{1,10})")


class RegistrationState(Enum):
    """Where the binding stands; the values are the state strings of the phone API."""

    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    UNREGISTERING = "unregistering"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RegistrationStateChanged:
    """The state of ``registration`` moved from ``old`` to ``new``."""

    registration: RegisterClient
    old: RegistrationState
    new: RegistrationState


@dataclass(frozen=True, slots=True)
class Registered:
    """A 2xx kept the binding of ``registration`` for ``expires`` seconds;
    ``contacts`` are all the bindings of the AOR the registrar listed."""

    registration: RegisterClient
    expires: int
    contacts: list[NameAddr]
    response: Response


@dataclass(frozen=True, slots=True)
class RegistrationFailed:
    """Registering ``registration`` failed with ``status``; a retry is due at
    ``retry_at`` (absolute time) or, when None, only when
    :meth:`RegisterClient.register` is called again."""

    registration: RegisterClient
    status: int
    reason: str
    retry_at: float | None


@dataclass(frozen=True, slots=True)
class Unregistered:
    """The unregistration of ``registration`` ended: ``status`` is its final
    status (2xx when the registrar removed the binding, 408 after a
    timeout, ...)."""

    registration: RegisterClient
    status: int


RegisterEvent: TypeAlias = RegistrationStateChanged | Registered | RegistrationFailed | Unregistered


def refresh_delay(granted: int) -> float:
    """Seconds after a 2xx granting ``granted`` seconds when the refresh is sent."""
    return max(min(granted * 0.9, granted - 5.0), granted / 2)


def _retry_after(response: Response) -> float | None:
    """The Retry-After delay in seconds (comment and params ignored), or None."""
    value = response.headers.get("Retry-After")
    match = None if value is None else _RETRY_AFTER_RE.match(value)
    return None if match is None else max(1.0, float(match.group(1)))


class RegisterClient:
    """Keeps ``contact`` bound to ``aor`` at ``registrar`` (RFC 3261 §10.2).

    ``call_id`` and ``from_tag`` are used for every REGISTER; ``rng`` (with
    ``getrandbits``) supplies client nonces and back-off jitter; ``username``
    and ``password`` answer digest challenges (401 and 407).  ``expires`` is
    the binding time asked for, ``instance_id`` (``urn:uuid:...`` or a bare
    UUID) and ``reg_id`` the RFC 5626 parameters, ``route`` the outbound
    proxies (sent as Route headers with ``lr``), ``extra_headers`` are added
    to every request.  Nothing is sent before :meth:`register`.
    """

    def __init__(
        self,
        aor: SipURI,
        registrar: SipURI,
        contact: NameAddr,
        *,
        call_id: str,
        from_tag: str,
        rng: RandomSource,
        username: str | None = None,
        password: str | None = None,
        expires: int = 3600,
        user_agent: str | None = None,
        instance_id: str | None = None,
        reg_id: int | None = None,
        route: Iterable[SipURI] = (),
        extra_headers: Iterable[tuple[str, str]] = (),
        retry_base: float = 30.0,
        retry_max: float = 1800.0,
        now: float = 0.0,
    ) -> None:
        if not 1 <= expires <= _MAX_EXPIRES:
            raise LocalProtocolError(f"expires must be 1 to 2**32-1 seconds, not {expires}")
        if reg_id is not None and instance_id is None:
            raise LocalProtocolError("reg-id needs an instance id (RFC 5626 §4.2.1)")
        if instance_id is not None and not instance_id.lower().startswith("urn:"):
            instance_id = f"urn:uuid:{instance_id}"
        self._aor, self._registrar, self._contact = aor, registrar, contact
        self._call_id, self._from_tag, self._rng = call_id, from_tag, rng
        self._digest = None if username is None else DigestClient(username, password or "")
        self._expires = expires
        self._user_agent, self._instance, self._reg_id = user_agent, instance_id, reg_id
        self._route = [uri if uri.lr else uri.with_params(lr=None) for uri in route]
        self._extra = list(extra_headers)
        self._retry_base, self._retry_max = retry_base, retry_max
        self._state = RegistrationState.UNREGISTERED
        self._want = False  # the current intent: bound (True) or removed (False)
        self._closed = False
        self._cseq = 0
        self._pending: Request | None = None  # the outstanding REGISTER
        self._pending_want, self._pending_expires = False, 0  # what it asked for
        # (Authorization or Proxy-Authorization, realm) -> last challenge.
        self._challenges: dict[tuple[str, str], Challenge] = {}
        self._answered: set[tuple[str, str]] = set()  # answered in this attempt
        self._rounds = self._failures = 0
        self._timer_at: float | None = None
        self._expires_at: float | None = None
        self._outbox: list[Request] = []
        self._events: deque[RegisterEvent] = deque()

    # -- read-only state ----------------------------------------------------
    @property
    def aor(self) -> SipURI:
        """The address of record being registered."""
        return self._aor

    @property
    def state(self) -> RegistrationState:
        """The current :class:`RegistrationState`."""
        return self._state

    @property
    def expires(self) -> int:
        """The binding time asked for (raised by a 423 Min-Expires)."""
        return self._expires

    @property
    def expires_at(self) -> float | None:
        """When the binding granted by the last 2xx ends, or None."""
        return self._expires_at

    # -- commands -------------------------------------------------------------
    def register(self, now: float) -> None:
        """Register (or refresh at once); keep refreshing until :meth:`unregister`."""
        self._check_open("register")
        self._want = True
        if self._state is not RegistrationState.REGISTERED:
            self._set_state(RegistrationState.REGISTERING)
        if self._pending is None:
            self._timer_at = None
            self._start_attempt()

    def unregister(self, now: float) -> None:
        """Remove the binding (Expires: 0); :class:`Unregistered` follows."""
        self._check_open("unregister")
        self._want = False
        self._timer_at = None
        self._set_state(RegistrationState.UNREGISTERING)
        if self._pending is None:
            self._start_attempt()

    def close(self) -> None:
        """Stop: no timer, no request; later responses are ignored."""
        self._closed = True
        self._timer_at = None
        self._pending = None
        self._outbox.clear()

    # -- inputs -----------------------------------------------------------------
    def receive_response(self, response: Response, now: float) -> None:
        """Take the final response of the outstanding REGISTER.

        Provisional responses and responses of other requests are ignored.
        Nothing in the response can make this raise.
        """
        if self._closed or self._pending is None:
            return
        try:
            seq, method, call_id = *response.cseq, response.call_id
        except SansipError:
            return  # cannot be matched to our request
        status = response.status
        if (seq, method, call_id) != (self._cseq, "REGISTER", self._call_id) or status < 200:
            return
        try:
            self._on_final(response, status, now)
        except SansipError as exc:  # a malformed field we had to read
            self._pending = None
            self._fail(status, f"malformed response: {exc}", now)

    def transaction_failed(
        self, now: float, reason: str = "Request Timeout", *, status: int = 408
    ) -> None:
        """The outstanding REGISTER got no final response: timer F (handled
        as a 408) or a transport error (``status`` 503, RFC 3261 §8.1.3.1)."""
        if self._closed or self._pending is None:
            return
        self._pending = None
        if self._pending_want != self._want:
            self._start_attempt()  # superseded: send what is wanted now
        else:
            self._fail(status, reason, now)

    def handle_timer(self, now: float) -> None:
        """Send the refresh or the retry that is due; safe to call early or twice."""
        due = self._timer_at is not None and now >= self._timer_at
        if self._closed or not due or self._pending is not None:
            return
        self._timer_at = None
        if self._state is not RegistrationState.REGISTERED:
            self._set_state(RegistrationState.REGISTERING)
        self._start_attempt()

    # -- outputs ----------------------------------------------------------------
    def requests_to_send(self) -> list[Request]:
        """The REGISTER requests to send (without Via), oldest first."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> RegisterEvent | None:
        """The next event, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The absolute time of the next refresh or retry, or None (pure)."""
        return self._timer_at

    # -- internals --------------------------------------------------------------
    def _check_open(self, command: str) -> None:
        if self._closed:
            raise LocalProtocolError(f"{command}() after close()")

    def _set_state(self, new: RegistrationState) -> None:
        old = self._state
        if new is not old:
            self._state = new
            self._events.append(RegistrationStateChanged(self, old, new))

    def _start_attempt(self) -> None:
        self._answered = set()
        self._rounds = 0
        self._send()

    def _send(self) -> None:
        expires = self._expires if self._want else 0
        self._pending = self._build(expires)
        self._pending_want, self._pending_expires = self._want, expires
        self._outbox.append(self._pending)

    def _build(self, expires: int) -> Request:
        self._cseq += 1
        params: dict[str, str | None] = {"expires": str(expires)}
        if self._instance is not None:
            params["+sip.instance"] = f'"<{self._instance}>"'
        if self._reg_id is not None:
            params["reg-id"] = str(self._reg_id)
        fields: list[tuple[str, object]] = [("Route", f"<{uri}>") for uri in self._route]
        fields += [
            ("Max-Forwards", "70"),
            ("From", NameAddr(self._aor).with_tag(self._from_tag)),
            ("To", NameAddr(self._aor)),
            ("Call-ID", self._call_id),
            ("CSeq", f"{self._cseq} REGISTER"),
            ("Contact", self._contact.with_params(**params)),
            ("Expires", str(expires)),
        ]
        if self._reg_id is not None:
            fields.append(("Supported", "outbound"))
        if self._user_agent is not None:
            fields.append(("User-Agent", self._user_agent))
        if self._digest is not None:
            uri = str(self._registrar)
            for (header, _realm), challenge in self._challenges.items():
                cnonce = f"{self._rng.getrandbits(_CNONCE_BITS):016x}"
                credentials = self._digest.authorize(challenge, "REGISTER", uri, cnonce=cnonce)
                fields.append((header, credentials))
        fields += self._extra
        return Request("REGISTER", self._registrar, fields)

    def _on_final(self, response: Response, status: int, now: float) -> None:
        self._pending = None
        if status in (401, 407):
            self._on_challenge(response, status, now)
        elif status == 423 and self._pending_want and self._want:
            self._on_too_brief(response, now)
        elif self._pending_want != self._want:
            self._start_attempt()  # superseded by register()/unregister()
        elif status < 300 and self._want:
            self._on_registered(response, status, now)
        elif status < 300:
            self._on_unregistered(status)
        else:
            reason = response.reason or reason_phrase(status)
            self._fail(status, reason, now, retry_after=_retry_after(response))

    def _on_challenge(self, response: Response, status: int, now: float) -> None:
        """Answer a 401/407 (RFC 3261 §22.2), one challenge per realm."""
        digest = self._digest
        if digest is None:
            self._fail(status, f"{AUTH_FAILED}: no credentials", now, retry=False)
            return
        spec = h.WWW_AUTHENTICATE if status == 401 else h.PROXY_AUTHENTICATE
        header = "Authorization" if status == 401 else "Proxy-Authorization"
        try:
            challenges = response.headers.parsed(spec) or []
        except SansipError as exc:
            self._fail(status, f"{AUTH_FAILED}: malformed challenge: {exc}", now, retry=False)
            return
        by_realm: dict[str, list[Challenge]] = {}
        for challenge in challenges:
            if digest.supports(challenge):
                by_realm.setdefault(challenge.realm or "", []).append(challenge)
        if not by_realm:
            self._fail(status, f"{AUTH_FAILED}: no supported challenge", now, retry=False)
            return
        self._rounds += 1
        if self._rounds > MAX_ROUNDS:
            self._fail(status, f"{AUTH_FAILED}: too many challenges", now, retry=False)
            return
        for realm, group in by_realm.items():
            chosen = digest.choose(group)
            key = (header, realm)
            if not digest.should_retry(chosen, key in self._answered):
                self._challenges.clear()
                self._fail(status, AUTH_FAILED, now, retry=False)
                return
            self._challenges[key] = chosen
            self._answered.add(key)
        self._send()

    def _on_too_brief(self, response: Response, now: float) -> None:
        """423: ask again with the registrar's Min-Expires (§10.2.8)."""
        try:
            minimum = response.headers.parsed(h.MIN_EXPIRES)
        except SansipError:
            minimum = None
        self._rounds += 1
        if minimum is None or minimum <= self._pending_expires or self._rounds > MAX_ROUNDS:
            self._fail(423, response.reason or reason_phrase(423), now)
            return
        self._expires = minimum
        self._send()

    def _granted(self, response: Response, contacts: list[NameAddr]) -> int:
        """The expires param of our Contact in the 2xx, else its Expires
        header, else what was asked (§10.2.4)."""
        for binding in contacts:
            with suppress(SansipError):  # a binding whose URI does not parse
                if self._is_ours(binding) and binding.expires is not None:
                    return binding.expires
        try:
            expires = response.expires
        except SansipError:
            expires = None
        return self._pending_expires if expires is None else expires

    def _is_ours(self, binding: NameAddr) -> bool:
        """Whether ``binding`` is our Contact: the same URI (§19.1.4) or, when
        the registrar rewrote it, the same RFC 5626 instance and reg-id."""
        mine, theirs = self._contact.uri, binding.uri
        if mine == theirs or (isinstance(mine, SipURI) and mine.equivalent(theirs)):
            return True
        instance = (binding.params.get("+sip.instance") or "").strip('"<>').lower()
        if self._instance is None or instance != self._instance.lower():
            return False
        return self._reg_id is None or binding.params.get("reg-id") == str(self._reg_id)

    def _on_registered(self, response: Response, status: int, now: float) -> None:
        try:
            contacts = response.contacts
        except SansipError:
            contacts = []
        granted = self._granted(response, contacts)
        if granted <= 0:
            self._fail(status, "registrar granted no time (expires=0)", now)
            return
        self._failures = 0
        self._expires_at = now + granted
        self._timer_at = now + refresh_delay(granted)
        self._set_state(RegistrationState.REGISTERED)
        self._events.append(Registered(self, granted, list(contacts), response))

    def _on_unregistered(self, status: int) -> None:
        self._failures = 0
        self._expires_at = self._timer_at = None
        self._set_state(RegistrationState.UNREGISTERED)
        self._events.append(Unregistered(self, status))

    def _backoff(self) -> float:
        """RFC 5626 §4.5: uniform in [W/2, W), W = min(max, base * 2**failures)."""
        ceiling = min(self._retry_max, self._retry_base * (1 << min(self._failures, 32)))
        fraction = self._rng.getrandbits(_JITTER_BITS) / (1 << _JITTER_BITS)
        return ceiling / 2 + ceiling / 2 * fraction

    def _fail(
        self,
        status: int,
        reason: str,
        now: float,
        *,
        retry: bool = True,
        retry_after: float | None = None,
    ) -> None:
        """End the attempt with a failure (an unregistration ends anyway)."""
        self._pending = None
        if not self._want:
            self._on_unregistered(status)
            return
        retry_at: float | None = None
        if retry:
            self._failures += 1
            retry_at = now + (retry_after if retry_after is not None else self._backoff())
        self._timer_at = retry_at
        self._set_state(RegistrationState.FAILED)
        self._events.append(RegistrationFailed(self, status, reason, retry_at))
