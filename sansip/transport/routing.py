"""Where a response goes: RFC 3261 §18.2.2 with RFC 3581 §4 (rport); and
where a request to a numeric SIP URI goes (:func:`address_of`).

The server transport decides from the top Via of the response (which the
server copied from the request, after :func:`sansip.transport.via.received_via`
recorded the request's source in it).  Nothing is resolved here: a target
that names a host instead of an IP address is flagged ``needs_dns`` for the
caller to resolve with the server procedures of RFC 3263 §5.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from sansip.message.errors import LocalProtocolError
from sansip.message.uri import URI, SipURI
from sansip.message.via import Via
from sansip.transport.types import DEFAULT_PORTS, Address, Transport
from sansip.transport.via import is_ip_address

__all__ = ["ResponseTarget", "address_of", "default_port", "response_target", "uri_transport"]

_FALLBACK_PORT: Final = 5060  # RFC 3261 §18.2.2 "or port 5060 if none is present"
_MULTICAST_TTL: Final = 1  # RFC 3261 §18.2.2: TTL 1 when no ttl parameter


@dataclass(frozen=True, slots=True)
class ResponseTarget:
    """Where to send a response.

    ``use_connection``: send it on the connection the request arrived on;
    ``address`` is then where to open a new connection if that one is gone
    (RFC 3261 §18.2.2, first bullet).  Otherwise ``address`` is where to send
    it.  ``needs_dns``: ``address[0]`` is a host name to resolve (RFC 3263
    §5: SRV when the Via had no port, else A/AAAA), not an IP address.
    ``ttl`` is set for a multicast ``maddr``.
    """

    address: Address
    use_connection: bool
    needs_dns: bool
    ttl: int | None = None


def default_port(transport: str) -> int:
    """The default port of a Via transport name (5060 for unknown ones)."""
    try:
        return DEFAULT_PORTS[Transport(transport.upper())]
    except ValueError:
        return _FALLBACK_PORT


def response_target(via: Via, *, reliable: bool) -> ResponseTarget:
    """Apply the response routing rules to the top Via of a response.

    ``reliable`` says whether the request came over a connection (TCP, TLS,
    WS, WSS).  In order:

    1. reliable: the existing connection; else ``received`` (or the sent-by
       host) with the sent-by port;
    2. ``maddr``: that address with the sent-by port, and the ``ttl``
       parameter (1 if absent) when it is a multicast address;
    3. ``received`` and a filled ``rport`` (RFC 3581 §4): exactly there;
    4. ``received``: that address with the sent-by port;
    5. otherwise the sent-by host and port.

    A port left out of sent-by means the transport's default port.
    """
    port = via.port if via.port is not None else default_port(via.transport)
    received = via.received
    if reliable:
        host = received or via.host
        return ResponseTarget((host, port), True, not is_ip_address(host))
    maddr = via.maddr
    if maddr is not None:
        host = maddr[1:-1] if maddr[:1] == "[" and maddr[-1:] == "]" else maddr
        ttl = via.ttl if via.ttl is not None else _MULTICAST_TTL
        return ResponseTarget(
            (host, port), False, not is_ip_address(host), ttl if _is_multicast(host) else None
        )
    if received:
        rport = via.rport
        if rport is not None:
            return ResponseTarget((received, rport), False, not is_ip_address(received))
        return ResponseTarget((received, port), False, not is_ip_address(received))
    return ResponseTarget((via.host, port), False, not is_ip_address(via.host))


def _is_multicast(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_multicast
    except ValueError:
        return False


def address_of(uri: URI) -> Address:
    """The next hop of a numeric SIP URI (``localhost`` counts as 127.0.0.1):
    its ``maddr`` or host, and its port or the default port of its transport.

    Raises :class:`LocalProtocolError` for a non-SIP URI or a host name
    (resolving it is the drivers' business, RFC 3263)."""
    if not isinstance(uri, SipURI):
        raise LocalProtocolError(f"cannot send to a {uri.scheme}: URI")
    host = uri.params.get("maddr") or uri.host
    if host.lower() == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise LocalProtocolError(f"{host} needs DNS resolution (use an address)") from None
    return host, uri.port or DEFAULT_PORTS[uri_transport(uri)]


def uri_transport(uri: SipURI) -> Transport:
    """The transport a SIP URI asks for: its ``transport`` parameter, else
    TLS for ``sips:`` and UDP for ``sip:`` (UDP for an unknown name)."""
    name = uri.transport
    if name is None:
        return Transport.TLS if uri.secure else Transport.UDP
    try:
        return Transport(name.upper())
    except ValueError:
        return Transport.UDP
