"""TLS contexts for SIP (RFC 3261 §26.3.1, RFC 5922): TLS 1.2 or newer,
the server's chain verified, its name checked the SIP way by the stream
driver (``check_sip_domain``), and our own certificate offered when we
have one."""

from __future__ import annotations

import ssl

__all__ = ["sip_client_context", "sip_server_context"]


def sip_client_context(
    cafile: str | None = None, certfile: str | None = None, keyfile: str | None = None
) -> ssl.SSLContext:
    """The context of the TLS connections we open: the server's chain is
    verified against ``cafile`` (default: the system's trust store); its
    name is left to the driver's RFC 5922 check (``check_hostname`` off);
    ``certfile`` (and ``keyfile``) is our client certificate, for servers
    that ask for one."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    return context


def sip_server_context(
    certfile: str, keyfile: str | None = None, client_cafile: str | None = None
) -> ssl.SSLContext:
    """The context of the TLS connections made to us, with our certificate
    ``certfile``; with ``client_cafile`` a client certificate is asked for
    and, when one comes, verified against it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    if client_cafile:
        context.load_verify_locations(client_cafile)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
