"""Where the phone sends its requests when a host is a name (RFC 3263).

A numeric host (or ``localhost``) is used as given.  A host name is
resolved with :func:`sansip.io.dns.resolve_targets` into an ordered list of
addresses for the phone's transport: NAPTR and SRV when no port is given,
A/AAAA when one is.  The user agent tries them in order and moves on after
a timeout, a transport error or a 503 (RFC 3263 §4.3).  Addresses of
another IP family than the phone's SIP socket are skipped.

The nameservers are the system's (``/etc/resolv.conf``) unless the phone is
given others (the ``dnsserver`` parameter, or ``nameservers=``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from sansip.errors import SansipError
from sansip.io.dns import ResolutionError, resolve_targets
from sansip.message import SipURI
from sansip.transport.types import Address, Transport, parse_hostport

__all__ = ["Resolved", "TargetError", "is_numeric", "parse_nameservers", "resolve_hostport",
           "resolve_uri", "with_transport"]  # fmt: skip

#: How long one resolution may take, in seconds.
RESOLVE_TIMEOUT = 10.0


class TargetError(SansipError):
    """A host name that resolves to nothing usable; the message says why."""


@dataclass
class Resolved:
    """The addresses to try, in order, and the host name each came from
    (the name a TLS certificate must match, RFC 5922 §4)."""

    addresses: list[Address]
    hostnames: dict[str, str] = field(default_factory=dict)


def parse_nameservers(text: str) -> list[Address] | None:
    """``HOST[:PORT][,HOST[:PORT]...]`` as addresses, or None (the system's) for ``""``."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    return [parse_hostport(item, 53) for item in items] or None


def is_numeric(host: str) -> bool:
    """Whether ``host`` needs no DNS: an IP address or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def with_transport(uri: SipURI, transport: Transport) -> SipURI:
    """``uri`` with ``;transport=`` set for TCP/TLS when it names none (RFC 3263 §4.1)."""
    if transport is Transport.UDP or uri.transport is not None:
        return uri
    return uri.with_params(transport=transport.value.lower())


def _same_family(address: Address, local: Address) -> bool:
    return (":" in address[0]) == (":" in local[0])


async def resolve_uri(uri: SipURI, transport: Transport, local: Address,
                      nameservers: list[Address] | None = None) -> Resolved | None:  # fmt: skip
    """The targets of ``uri`` over ``transport`` reachable from ``local``;
    None when its host is numeric (the address is taken from the URI).
    Raises :class:`TargetError`."""
    host = uri.params.get("maddr") or uri.host
    if is_numeric(host):
        return None
    uri = with_transport(uri, transport)
    try:
        targets = await resolve_targets(uri, servers=nameservers, transports=(transport,),
                                        timeout=RESOLVE_TIMEOUT)  # fmt: skip
    except ResolutionError as exc:
        raise TargetError(f"cannot resolve {host}: {exc}") from None
    usable = [t for t in targets if t.transport is transport and _same_family(t.address, local)]
    if not usable:
        raise TargetError(f"cannot resolve {host}: no {transport.value} address reachable from "
                          f"{local[0]}")  # fmt: skip
    return Resolved([t.address for t in usable], {t.address[0]: host for t in usable})


async def resolve_hostport(
    text: str, transport: Transport, local: Address, nameservers: list[Address] | None = None
) -> Resolved | None:
    """The targets of a ``serveraddress`` or ``proxyaddress`` (``host``,
    ``host:port``); None when the host is numeric."""
    host, port = parse_hostport(text, 0)
    if is_numeric(host):
        return None
    return await resolve_uri(SipURI(host, port=port or None), transport, local, nameservers)
