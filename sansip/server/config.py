"""What the registrar and proxy are configured with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["SERVER_ALLOW", "ServerConfig"]

#: The methods the server handles or forwards (the Allow of its own answers).
SERVER_ALLOW: Final = (
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "UPDATE", "PRACK", "INFO",
    "MESSAGE", "REFER", "NOTIFY", "SUBSCRIBE",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Registrar and proxy settings.

    ``users`` (username -> password) turns digest authentication on: every
    REGISTER must authenticate (401), and out-of-dialog requests from one of
    these users are challenged too (407).  ``None`` means no authentication.
    ``realm`` defaults to the server's host.  ``domains`` are host names
    (lower case) that also name this server; the server is responsible for
    every address of record whatever its host, keyed by user.
    """

    realm: str | None = None
    users: Mapping[str, str] | None = None
    domains: frozenset[str] = field(default_factory=frozenset)
    #: Shorter registrations get 423 Interval Too Brief (RFC 3261 §10.3 step 7).
    min_expires: int = 30
    #: Longer registrations are granted this much.
    max_expires: int = 3600
    #: What a REGISTER that names no expiry gets.
    default_expires: int = 3600
    #: Seconds a nonce stays valid.
    nonce_lifetime: float = 300.0
    #: Digest algorithms offered, one challenge each, the first preferred.
    algorithms: tuple[str, ...] = ("MD5",)
    #: The Server header of the server's own answers.
    server_name: str = "sansip"
