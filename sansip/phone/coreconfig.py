"""What :class:`~sansip.phone.core.PhoneCore` acts on: the account,
its server and how to reach it, the policies and how calls' media is built
(made from the parameters by :func:`sansip.phone.config.phone_setup`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sansip.phone.line import MediaOptions
from sansip.transport.types import Address, Transport

__all__ = ["PhoneConfig"]


@dataclass(frozen=True, slots=True)
class PhoneConfig:
    """The parameters the core acts on (the names are the reference client's)."""

    serveraddress: Address | None = None
    #: The account's domain (registrar URI and AOR host) and the port its
    #: URIs name (None: none, as for a name resolved by SRV).
    domain: str = ""
    domain_port: int | None = None
    #: ``extraregisteraccounts``: registered with the main account (see ``registerex``).
    extra_accounts: str = ""
    username: str = "sansip"
    sipusername: str = ""
    password: str = ""
    displayname: str = ""
    register: int = 1
    registerinterval: int = 300
    maxlines: int = 4
    autoaccept: bool = False
    rejectonbusy: bool = False
    ringtimeout: float = 90.0
    calltimeout: float = 60.0
    blacklist: tuple[str, ...] = ()
    disablesamecall: bool = False
    autohold: bool = True  # hold the other line when a call is answered
    #: How calls' media is built; None: signalling only (an SDP whose audio
    #: stream is off, no RTP ports).
    media: MediaOptions | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: ``earlymedia`` 3 and up: an incoming call rings with a 183 carrying our
    #: answer, and its media flows before it is accepted.
    earlymedia: int = 2
    #: The domain of the account's AOR when it is not the server's.
    realm: str = ""
    transport: Transport = Transport.UDP
    #: How DTMF is sent: 1 SIP INFO, 2 auto (RFC 4733 when negotiated, else
    #: INFO), 3 both, 4 RFC 4733 only.
    dtmfmode: int = 2
    #: How hold is offered: -1/2 sendonly, 4 inactive, 0 off.
    holdtype: int = -1
    #: Forwarding of incoming calls (a number or a URI; empty: none).
    callforwardalways: str = ""
    callforwardonbusy: str = ""
    callforwardonnoanswer: str = ""
    callforwardonnoanswertimeout: float = 15.0
    #: Automatic answers asked for by the INVITE (see :mod:`sansip.phone.incoming`).
    enableautoaccept: int = 1
    #: How our transfers go (see :mod:`sansip.phone.transfer`).
    transfertype: int = -1
    autoacceptheader: str = ""
    #: Where REGISTERs and calls to plain numbers go, in order (the server
    #: name resolved by RFC 3263; empty: ``serveraddress``).
    server_targets: tuple[Address, ...] = ()
    #: The outbound proxy's addresses, in order, when its name was resolved.
    proxy_targets: tuple[Address, ...] = ()
