"""What a user agent is configured with, and the Route of its outbound proxy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sansip.message import NameAddr
from sansip.transport.types import Address

__all__ = ["IDENTITY_HEADERS", "KNOWN_METHODS", "UAConfig", "identity_fields", "local_address",
           "proxy_route"]  # fmt: skip

#: The ways a UA can say who it is besides the From (``UAConfig.identity``).
IDENTITY_HEADERS: Final = ("", "ppi", "pai", "rpid")

KNOWN_METHODS: Final = frozenset(
    {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "SUBSCRIBE", "NOTIFY",
     "MESSAGE", "INFO", "UPDATE", "PRACK", "REFER", "PUBLISH"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class UAConfig:
    """Who this UA is and what it supports."""

    user: str = "sansip"
    display_name: str | None = None
    user_agent: str = "sansip"
    allow: tuple[str, ...] = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "UPDATE")
    #: Session timers (RFC 4028): the interval our INVITEs ask for and our
    #: answers grant at most, in seconds (0: none unless the peer asks), and
    #: the smallest we accept (Min-SE).
    session_expires: int = 0
    min_se: int = 90
    #: With ``100rel`` in ``supported``: send our 1xx reliably when the
    #: INVITE only supports it (always when it requires it).
    prefer_100rel: bool = False
    #: Calls that do not say who calls: From ``"Anonymous"
    #: <sip:anonymous@anonymous.invalid>`` and ``Privacy: id`` (RFC 3323,
    #: RFC 3325); the credentials still authenticate us to our proxy.
    anonymous: bool = False
    #: The host of our address of record, ``sip:user@domain``, the From of
    #: our requests (None: our Contact's host and port).
    domain: str | None = None
    #: The identity our INVITEs and requests outside dialogs assert besides
    #: the From: ``"ppi"`` P-Preferred-Identity (RFC 3325 §9.2, for a proxy
    #: that asserts it), ``"pai"`` P-Asserted-Identity (to a trusting
    #: proxy), ``"rpid"`` Remote-Party-ID ``;party=calling`` (for older
    #: servers), ``""`` none.  Anonymous calls keep it, with ``Privacy: id``
    #: (RPID: ``privacy=full``), so the proxy knows who calls and withholds it.
    identity: str = ""
    supported: tuple[str, ...] = ()
    accepted_bodies: tuple[str, ...] = ("application/sdp",)
    #: Credentials for challenges to calls (401/407); registration has its own.
    auth_username: str | None = None
    auth_password: str | None = None
    #: Where out-of-dialog requests go first (a pre-loaded ``Route;lr``).
    outbound_proxy: Address | None = None
    follow_redirects: bool = True
    max_redirects: int = 5
    #: Fields added to every request and response the UA makes
    #: (the ``customsipheader`` parameter), e.g. ``(("X-Team", "blue"),)``.
    extra_headers: tuple[tuple[str, str], ...] = ()
    #: SIP outbound (RFC 5626): register with ``+sip.instance`` (this UUID,
    #: e.g. kept in the user's settings) and ``reg-id`` 1, and ask for
    #: ``Supported: outbound``.  None: outbound off.
    instance_id: str | None = None
    #: Over UDP, a CRLF-CRLF to the registrar every this many seconds keeps
    #: the NAT binding its requests come back through open (0: none; over
    #: TCP and TLS the connection's RFC 5626 pings do it anyway).
    keepalive_interval: float = 0.0

    def __post_init__(self) -> None:
        if self.identity not in IDENTITY_HEADERS:
            raise ValueError(f"identity {self.identity!r}: not one of {IDENTITY_HEADERS}")


def local_address(config: UAConfig, contact: NameAddr) -> NameAddr:
    """Our address of record (no tag): ``user@domain``, or ``user@`` the
    Contact's host and port when no domain is set."""
    host = config.domain or contact.sip_uri.hostport
    return NameAddr(f"sip:{config.user}@{host}", config.display_name)


def identity_fields(config: UAConfig, contact: NameAddr) -> list[tuple[str, object]]:
    """The identity header of ``config.identity`` for ``config``'s address
    of record (empty when none is configured)."""
    if not config.identity:
        return []
    me = local_address(config, contact)
    if config.anonymous and config.auth_username:  # who we really are, for the proxy
        me = NameAddr(me.sip_uri.replace(user=config.auth_username), config.display_name)
    if config.identity == "ppi":
        return [("P-Preferred-Identity", me)]
    if config.identity == "pai":
        return [("P-Asserted-Identity", me)]
    privacy = "full" if config.anonymous else "off"
    return [("Remote-Party-ID", f"{me};party=calling;screen=no;privacy={privacy}")]


def proxy_route(proxy: Address) -> str:
    """The pre-loaded Route of an outbound proxy at ``proxy`` (loose routing)."""
    shown = f"[{proxy[0]}]" if ":" in proxy[0] else proxy[0]
    return f"<sip:{shown}:{proxy[1]};lr>"
