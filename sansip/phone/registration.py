"""The registrations of a phone, sans-IO: the main account's (to
``serveraddress``, through the proxy or the resolved targets, kept fresh by
the UA) and the extra accounts', turned into phone events — every answer
as :class:`~sansip.phone.events.RegistrationUpdated`, and the main account's
state, when it changes, as :class:`~sansip.phone.events.RegStateChanged`."""

from __future__ import annotations

from collections.abc import Callable

from sansip.dialog.register import RegisterClient, Registered, RegistrationFailed, Unregistered
from sansip.dialog.ua import UserAgent
from sansip.errors import LocalProtocolError
from sansip.message import SipURI
from sansip.phone.accounts import ExtraAccounts, parse_accounts
from sansip.phone.coreconfig import PhoneConfig
from sansip.phone.events import PhoneEvent, RegistrationUpdated, RegStateChanged
from sansip.phone.resolve import with_transport

__all__ = ["Registrations"]


class Registrations:
    """The main account's registration and the extra accounts' of one UA;
    ``emit`` takes the events they make."""

    def __init__(self, ua: UserAgent, config: PhoneConfig,
                 emit: Callable[[PhoneEvent], None]) -> None:  # fmt: skip
        self.ua = ua
        self.config = config
        self._emit = emit
        self.registration: RegisterClient | None = None
        #: The accounts registered beside the main one (``registerex``).
        self.extra = ExtraAccounts(ua)
        self.state = "unregistered"
        self.reason = ""

    def register(self, now: float) -> None:
        """Register the account at ``serveraddress`` (and keep it fresh)."""
        config = self.config
        server = config.serveraddress
        if server is None:
            raise LocalProtocolError("register() needs serveraddress")
        if self.registration is not None:
            self.ua.unregister(self.registration, now)
        domain = config.domain or server[0]
        port = config.domain_port if config.domain else server[1]
        user = config.username
        targets = list(config.proxy_targets or config.server_targets) or None
        dest = self.ua.config.outbound_proxy or server
        self.registration = self.ua.register(
            with_transport(SipURI(domain, port=port), config.transport), now,
            username=config.sipusername or user, password=config.password or None,
            expires=config.registerinterval, aor=SipURI(config.realm or domain, user),
            dest=None if targets else dest, targets=targets,
        )  # fmt: skip
        if self.config.extra_accounts and not self.extra.added:
            self.extra.add(parse_accounts(self.config.extra_accounts), now)

    def unregister(self, now: float) -> None:
        """Remove the account's binding."""
        if self.registration is not None:
            self.ua.unregister(self.registration, now)

    def handle(self, event: Registered | RegistrationFailed | Unregistered) -> None:
        """A REGISTER answer of the UA, as phone events."""
        state = ("registered" if isinstance(event, Registered) else
                 "failed" if isinstance(event, RegistrationFailed) else "unregistered")  # fmt: skip
        reason = f"{event.status} {event.reason}" if isinstance(event, RegistrationFailed) else ""
        extra = self.extra.account_of(event.registration)
        main = event.registration is self.registration
        if extra is not None or main:
            status = 200 if isinstance(event, Registered) else event.status
            expires = event.expires if isinstance(event, Registered) else 0
            why = event.reason if isinstance(event, RegistrationFailed) else ""
            account = extra if extra is not None else self.config.username
            self._emit(RegistrationUpdated(state, account, status, why, expires))
        if extra is not None:  # an extra account: reported under its own AOR
            self._emit(RegStateChanged(state, extra, reason))
        elif event.registration is self.registration:
            self._changed(state, reason)

    def _changed(self, state: str, reason: str) -> None:
        if state == self.state and state != "failed":
            return
        self.state = state
        self.reason = reason if state == "failed" else ""
        self._emit(RegStateChanged(state, self.config.username, reason))
