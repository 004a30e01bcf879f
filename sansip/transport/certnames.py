"""Whether a TLS certificate speaks for a SIP domain (RFC 5922 §7), sans-IO.

A SIP client that connects to ``example.com`` over TLS checks, besides the
chain, that the server's certificate names that domain the SIP way:

1. if the subjectAltName has URIs of the ``sip``/``sips`` scheme, their
   host parts are the identities (and nothing else is);
2. else its DNS names are;
3. only a certificate without any subjectAltName is read by its subject's
   Common Name.

Names compare case-insensitively and exactly: RFC 5922 §7.2 has no
wildcards (``*.example.com`` names no SIP domain).  A target given as an
IP address is matched against the certificate's IP addresses.

    >>> sip_domain_matches(("example.com",), "EXAMPLE.com")
    True
    >>> sip_domain_matches(("*.example.com",), "sip.example.com")
    False
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = ["certificate_identities", "certificate_names", "sip_domain_matches"]


def _host_of_uri(uri: str) -> str | None:
    """The host of a ``sip:``/``sips:`` URI (no user, port or parameters)."""
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme.lower() not in ("sip", "sips"):
        return None
    host = rest.rpartition("@")[2]
    for end in (";", "?"):
        host = host.partition(end)[0]
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else None
    return host.partition(":")[0] or None


def certificate_identities(certificate: x509.Certificate) -> tuple[str, ...]:
    """The SIP domains ``certificate`` stands for (RFC 5922 §7.1), IP
    addresses included as text; empty when it names none."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        common = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return tuple(str(a.value) for a in common[-1:])  # the most specific one
    except ValueError:  # a malformed extension names nothing
        return ()
    uris = [h for u in names.get_values_for_type(x509.UniformResourceIdentifier)
            if (h := _host_of_uri(u)) is not None]  # fmt: skip
    addresses = [str(a) for a in names.get_values_for_type(x509.IPAddress)]
    if uris:
        return (*uris, *addresses)
    return (*names.get_values_for_type(x509.DNSName), *addresses)


def certificate_names(der: bytes) -> tuple[str, ...]:
    """:func:`certificate_identities` of a DER certificate (empty when it
    cannot be read)."""
    try:
        return certificate_identities(x509.load_der_x509_certificate(der))
    except ValueError:
        return ()


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def sip_domain_matches(identities: Iterable[str], domain: str) -> bool:
    """Whether one of ``identities`` is ``domain`` (RFC 5922 §7.2: exact,
    case-insensitive, no wildcards; an IP address compares as an address)."""
    wanted = _address(domain)
    if wanted is not None:
        return any(_address(name) == wanted for name in identities)
    folded = domain.rstrip(".").lower()
    return any(name.rstrip(".").lower() == folded for name in identities)
