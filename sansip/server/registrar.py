"""The registrar (RFC 3261 §10.3): REGISTER in, a response and binding
events out, over a :class:`~sansip.server.location.LocationService`.

Processing follows §10.3: authentication (401, 403 when the authenticated
user is not the address of record), the Contact list checked as a whole
before anything changes (``*`` only with ``Expires: 0``; 423 with
Min-Expires below the minimum; a REGISTER not newer than the binding it
updates — same Call-ID, CSeq not higher — is refused with 500), then each
Contact added, refreshed or removed, and a 200 OK listing every current
binding of the address of record with the seconds it has left.
"""

from __future__ import annotations

from dataclasses import dataclass

from sansip.errors import SansipError
from sansip.message import NameAddr, Request, Response, SipURI, make_response
from sansip.message import headers as h
from sansip.message.ids import RandomSource, new_tag
from sansip.server.authentication import AuthOutcome, DigestAuthenticator
from sansip.server.config import ServerConfig
from sansip.server.events import (
    AuthenticationFailed,
    BindingAdded,
    BindingRefreshed,
    BindingRemoved,
    ServerEvent,
)
from sansip.server.location import Binding, LocationService, aor_key
from sansip.transport.types import Address, Transport

__all__ = ["Registrar"]


@dataclass(frozen=True, slots=True)
class _Change:
    """One Contact of a REGISTER, checked: what it will do to the location service."""

    contact: NameAddr
    uri: SipURI
    expires: int
    instance: str | None
    reg_id: str | None
    existing: Binding | None


class Registrar:
    """Answers REGISTER requests; sans-IO, no transactions of its own."""

    def __init__(
        self,
        location: LocationService,
        config: ServerConfig,
        auth: DigestAuthenticator | None,
        *,
        rng: RandomSource,
    ) -> None:
        self.location = location
        self.config = config
        self.auth = auth
        self._rng = rng

    def handle(
        self, request: Request, source: Address, transport: Transport, now: float
    ) -> tuple[Response, list[ServerEvent]]:
        """The response to ``request`` and what it changed; never raises on
        what a client sends."""
        events: list[ServerEvent] = []
        try:
            aor = aor_key(request.to.uri)
        except SansipError:
            return self._answer(request, 400, "Bad To"), events
        if aor is None:
            return self._answer(request, 404, "No Such Address Of Record"), events
        if self.auth is not None:
            denied = self._authenticate(request, aor, source, now, events)
            if denied is not None:
                return denied, events
        try:
            changes = self._check(request, aor, now)
        except SansipError as exc:
            status = getattr(exc, "status", 400)
            return self._answer(request, status if 400 <= status < 700 else 400), events
        if isinstance(changes, Response):
            return changes, events
        events.extend(self._apply(request, aor, c, (source, transport), now) for c in changes)
        contacts = [
            b.contact.with_params(expires=str(b.remaining(now))) for b in self.location.lookup(aor)
        ]
        response = self._answer(request, 200, headers=[("Contact", c) for c in contacts])
        return response, events

    # -- the steps ---------------------------------------------------------------
    def _authenticate(
        self, request: Request, aor: str, source: Address, now: float, events: list[ServerEvent]
    ) -> Response | None:
        auth = self.auth
        assert auth is not None
        result = auth.check(request, h.AUTHORIZATION, now)
        if result.outcome is AuthOutcome.OK:
            if result.username == aor:
                return None
            events.append(AuthenticationFailed("REGISTER", result.username, 403,
                                               f"{result.username} may not register {aor}",
                                               source, request.call_id))  # fmt: skip
            return self._answer(request, 403)
        if result.outcome is AuthOutcome.FAILED:
            events.append(AuthenticationFailed("REGISTER", result.username, 401, result.reason,
                                               source, request.call_id))  # fmt: skip
        challenges = auth.challenges(now, stale=result.outcome is AuthOutcome.STALE)
        return self._answer(request, 401, headers=[("WWW-Authenticate", c) for c in challenges])

    def _check(self, request: Request, aor: str, now: float) -> list[_Change] | Response:
        """Every Contact checked before anything changes (raises ParseError)."""
        header_expires = request.expires
        call_id, cseq = request.call_id, request.cseq.seq
        if request.contact_is_star:
            if header_expires != 0 or len(request.headers.get_all("Contact")) != 1:
                return self._answer(request, 400, "Contact * Needs Expires 0")
            bindings = self.location.lookup(aor)
            if any(b.call_id == call_id and cseq <= b.cseq for b in bindings):
                return self._answer(request, 500, "Out Of Order REGISTER")
            return [_Change(b.contact, b.uri, 0, b.instance, b.reg_id, b) for b in bindings]
        changes: list[_Change] = []
        for contact in request.contacts:
            uri = contact.sip_uri
            expires = contact.expires
            if expires is None:
                expires = header_expires
            if expires is None:
                expires = self.config.default_expires
            if 0 < expires < self.config.min_expires:
                minimum = ("Min-Expires", str(self.config.min_expires))
                return self._answer(request, 423, headers=[minimum])
            expires = min(expires, self.config.max_expires)
            instance = contact.params.get("+sip.instance")
            reg_id = contact.params.get("reg-id") if instance is not None else None
            existing = self.location.find(aor, uri, instance, reg_id)
            if existing is not None and existing.call_id == call_id and cseq <= existing.cseq:
                return self._answer(request, 500, "Out Of Order REGISTER")
            kept = {k: v for k, v in contact.params.items() if k != "expires"}
            changes.append(_Change(NameAddr(uri, contact.display_name, kept), uri, expires,
                                   instance, reg_id, existing))  # fmt: skip
        return changes

    def _apply(
        self,
        request: Request,
        aor: str,
        change: _Change,
        flow: tuple[Address, Transport],
        now: float,
    ) -> ServerEvent:
        source, transport = flow
        call_id, cseq = request.call_id, request.cseq.seq
        existing = change.existing
        shown = str(change.uri)
        if change.expires == 0:
            if existing is not None:
                self.location.remove(existing)
            return BindingRemoved(aor, shown, source, call_id)
        q = change.contact.q
        if existing is None:
            binding = Binding(aor, change.contact, change.uri, now + change.expires,
                              1.0 if q is None else q, call_id, cseq, source, transport, now,
                              change.instance, change.reg_id)  # fmt: skip
            self.location.save(binding)
            return BindingAdded(aor, shown, change.expires, source, transport, call_id)
        existing.contact, existing.uri = change.contact, change.uri
        existing.expires_at, existing.q = now + change.expires, 1.0 if q is None else q
        existing.call_id, existing.cseq = call_id, cseq
        existing.source, existing.transport = source, transport
        existing.registered_at, existing.flow_alive = now, True
        self.location.save(existing)
        return BindingRefreshed(aor, shown, change.expires, source, transport, call_id)

    def _answer(
        self,
        request: Request,
        status: int,
        reason: str | None = None,
        *,
        headers: list[tuple[str, object]] | None = None,
    ) -> Response:
        extra: list[tuple[str, object]] = [*(headers or []), ("Server", self.config.server_name)]
        return make_response(request, status, reason, to_tag=new_tag(self._rng), headers=extra)
