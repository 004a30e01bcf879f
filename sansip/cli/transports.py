"""Transport choice for the commands: ``-p transport=udp|tcp|tls``, ``-p tlscafile=PATH``.

UDP runs on :class:`~sansip.io.asyncio.AsyncioDatagramDriver`; TCP and TLS
on :class:`~sansip.io.asyncio.AsyncioStreamDriver` (both run the media too).  TLS verifies
the server certificate and its host name (the system trust store, or only
``tlscafile`` when given).  Listening with TLS needs a certificate and key
(``--cert``/``--key``); without them a TLS user agent still listens, on
plain TCP, and reaches others over TLS.
"""

from __future__ import annotations

import ssl
from typing import TypeAlias

from sansip.io.asyncio import AsyncioDatagramDriver, AsyncioStreamDriver
from sansip.message import SipURI
from sansip.transport.types import DEFAULT_PORTS, Address, Transport

__all__ = ["CHOICES", "Driver", "default_port", "make_driver", "transport_of", "with_transport"]

#: The values ``transport`` takes.
CHOICES = ("udp", "tcp", "tls")
#: What the commands run their user agent on.
Driver: TypeAlias = AsyncioDatagramDriver | AsyncioStreamDriver


def transport_of(params: dict[str, str], override: str | None = None) -> Transport:
    """The transport asked for (``override`` wins over ``-p transport=``)."""
    name = (override or params.get("transport") or "udp").strip().lower()
    if name not in CHOICES:
        raise SystemExit(f"sansip: transport must be one of {', '.join(CHOICES)}, got {name!r}")
    return Transport(name.upper())


def default_port(transport: Transport) -> int:
    """5060 for UDP and TCP, 5061 for TLS."""
    return DEFAULT_PORTS[transport]


def with_transport(uri: SipURI, transport: Transport) -> SipURI:
    """``uri`` with ``;transport=`` set for TCP/TLS when it names none (RFC 3263 §4.1)."""
    if transport is Transport.UDP or uri.transport is not None:
        return uri
    return uri.with_params(transport=transport.value.lower())


def make_driver(
    transport: Transport,
    local: Address,
    params: dict[str, str],
    *,
    cert: str | None = None,
    key: str | None = None,
    tls_hostnames: dict[str, str] | None = None,
) -> Driver:
    """The driver for ``transport`` on ``local`` (not started yet);
    ``tls_hostnames`` names the host a TLS server at an IP address must prove
    to be (the resolved domain), else the address itself is checked."""
    if transport is Transport.UDP:
        return AsyncioDatagramDriver(None, local)
    client: ssl.SSLContext | None = None
    server: ssl.SSLContext | None = None
    if transport is Transport.TLS:
        cafile = params.get("tlscafile") or None
        client = ssl.create_default_context(cafile=cafile)
        if cert:
            server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server.load_cert_chain(cert, key or None)
    return AsyncioStreamDriver(
        None, local, tls_server=server, tls_client=client, tls_hostnames=tls_hostnames
    )
