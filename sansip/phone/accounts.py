"""More accounts on one phone (the reference's ``registerex`` and
``extraregisteraccounts``): each is registered and kept fresh beside the
main account; calls to any of them ring this phone, and their
registration states are reported under their own AOR."""

from __future__ import annotations

from dataclasses import dataclass

from sansip.dialog.register import RegisterClient
from sansip.dialog.ua import UserAgent
from sansip.errors import LocalProtocolError
from sansip.message import SipURI
from sansip.transport.types import Address, parse_hostport

__all__ = ["ExtraAccount", "ExtraAccounts", "parse_accounts"]


@dataclass(frozen=True, slots=True)
class ExtraAccount:
    """One account: ``server,usr,pwd,ival,proxy,realm,authuser`` of the reference."""

    server: Address
    username: str
    password: str = ""
    interval: int = 300
    proxy: Address | None = None
    realm: str = ""
    authuser: str = ""

    @property
    def aor(self) -> str:
        """The account's address of record as text."""
        return f"sip:{self.username}@{self.realm or self.server[0]}"


def parse_accounts(text: str) -> list[ExtraAccount]:
    """Accounts from ``server,usr,pwd,ival,proxy,realm,authuser;...`` (the
    server an IP address with an optional port; empty fields take defaults)."""
    accounts = []
    for item in text.split(";"):
        if not item.strip():
            continue
        fields = [f.strip() for f in item.split(",")] + [""] * 7
        server, user, password, interval, proxy, realm, authuser = fields[:7]
        if not server or not user:
            raise LocalProtocolError(f"account {item!r}: server and user are needed")
        try:
            seconds = int(interval) if interval else 300
            accounts.append(ExtraAccount(
                parse_hostport(server, 5060), user, password, seconds,
                parse_hostport(proxy, 5060) if proxy else None, realm, authuser,
            ))  # fmt: skip
        except ValueError as exc:
            raise LocalProtocolError(f"account {item!r}: {exc}") from None
    return accounts


class ExtraAccounts:
    """The registrations of the extra accounts of one UA."""

    def __init__(self, ua: UserAgent) -> None:
        self._ua = ua
        self._clients: dict[RegisterClient, ExtraAccount] = {}

    def add(self, accounts: list[ExtraAccount], now: float) -> None:
        """Register each of ``accounts`` (and keep them fresh)."""
        for account in accounts:
            host, port = account.server
            client = self._ua.register(
                SipURI(account.realm or host, port=port), now,
                username=account.authuser or account.username, password=account.password or None,
                expires=account.interval, aor=SipURI(account.realm or host, account.username),
                dest=account.proxy or account.server,
            )  # fmt: skip
            self._clients[client] = account

    @property
    def added(self) -> bool:
        """Whether any extra account was registered."""
        return bool(self._clients)

    def account_of(self, client: RegisterClient) -> str | None:
        """The AOR of the extra account ``client`` registers, or None if it is not one."""
        account = self._clients.get(client)
        return None if account is None else account.aor

    def remove_all(self, now: float) -> None:
        """Unregister every extra account."""
        for client in self._clients:
            self._ua.unregister(client, now)
        self._clients.clear()
