"""Where the commands send their requests (RFC 3263).

A numeric host (or ``localhost``) is used as given, as before.  A host name
is resolved with :func:`sansip.io.dns.resolve_targets` into an ordered list
of addresses for the command's transport: NAPTR and SRV when no port is
given, A/AAAA when one is.  The user agent tries them in order and moves on
after a timeout, a transport error or a 503 (RFC 3263 §4.3).  Addresses of
another IP family than the local socket's are skipped.

The nameservers are the system's (``/etc/resolv.conf``); ``-p
dnsserver=HOST[:PORT][,HOST[:PORT]...]`` replaces them (the tests use it to
keep every query on loopback).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from sansip.cli.options import parse_hostport
from sansip.cli.transports import with_transport
from sansip.io.dns import ResolutionError, resolve_targets
from sansip.message import SipURI
from sansip.transport.types import Address, Transport

__all__ = ["Resolved", "TargetError", "dns_servers", "is_numeric", "resolve_hostport",
           "resolve_uri"]  # fmt: skip

#: How long one resolution may take, in seconds.
RESOLVE_TIMEOUT = 10.0


class TargetError(Exception):
    """A host name that resolves to nothing usable; the message says why."""


@dataclass
class Resolved:
    """The addresses to try, in order, and the host name each came from
    (the name a TLS certificate must match, RFC 5922 §4)."""

    addresses: list[Address]
    hostnames: dict[str, str] = field(default_factory=dict)


def dns_servers(params: dict[str, str]) -> list[Address] | None:
    """The ``dnsserver`` parameter as addresses, or None for the system's."""
    text = params.get("dnsserver", "").strip()
    if not text:
        return None
    return [parse_hostport(item.strip(), 53) for item in text.split(",") if item.strip()]


def is_numeric(host: str) -> bool:
    """Whether ``host`` needs no DNS: an IP address or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _same_family(address: Address, local: Address) -> bool:
    return (":" in address[0]) == (":" in local[0])


async def resolve_uri(
    uri: SipURI, transport: Transport, params: dict[str, str], local: Address
) -> Resolved | None:
    """The targets of ``uri`` over ``transport``; None when its host is numeric
    (the user agent takes the address from the URI, as before)."""
    host = uri.params.get("maddr") or uri.host
    if is_numeric(host):
        return None
    uri = with_transport(uri, transport)
    try:
        targets = await resolve_targets(
            uri, servers=dns_servers(params), transports=(transport,), timeout=RESOLVE_TIMEOUT
        )
    except ResolutionError as exc:
        raise TargetError(f"cannot resolve {host}: {exc}") from None
    usable = [t for t in targets if t.transport is transport and _same_family(t.address, local)]
    if not usable:
        raise TargetError(f"cannot resolve {host}: no {transport.value} address reachable from "
                          f"{local[0]}")  # fmt: skip
    return Resolved([t.address for t in usable], {t.address[0]: host for t in usable})


async def resolve_hostport(
    text: str, transport: Transport, params: dict[str, str], local: Address
) -> Resolved | None:
    """The targets of a ``serveraddress`` or ``proxyaddress`` (``host``,
    ``host:port``); None when the host is numeric."""
    host, port = parse_hostport(text, 0)
    if is_numeric(host):
        return None
    return await resolve_uri(SipURI(host, port=port or None), transport, params, local)
