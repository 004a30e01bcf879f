"""RFC 5922 §7: which SIP domains a certificate stands for, and how a
domain is compared with them; then the TLS stream driver refusing a server
whose certificate names another domain."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from sansip.io.tls import sip_client_context, sip_server_context
from sansip.transport.certnames import (
    certificate_identities,
    certificate_names,
    sip_domain_matches,
)
from sansip.transport.types import Transport
from tests.certs import make_pki
from tests.io.test_asyncio_stream import Node


def _certificate(names: list[x509.GeneralName] | None, common_name: str = "cn.example") -> (
        x509.Certificate):  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
    )  # fmt: skip
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256())


def test_sip_uris_are_the_identities_when_there_are_any() -> None:
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier("sip:example.com"),
        x509.UniformResourceIdentifier("sips:alice@Other.example:5061;transport=tcp"),
        x509.UniformResourceIdentifier("https://web.example/"),
        x509.DNSName("dns.example"),
    ]
    assert certificate_identities(_certificate(names)) == ("example.com", "Other.example")


def test_dns_names_without_sip_uris_and_the_common_name_without_any() -> None:
    names: list[x509.GeneralName] = [x509.DNSName("sip.example"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]  # fmt: skip
    assert certificate_identities(_certificate(names)) == ("sip.example", "127.0.0.1")
    assert certificate_identities(_certificate(None)) == ("cn.example",)


@pytest.mark.parametrize(
    ("identities", "domain", "matches"),
    [
        (("example.com",), "EXAMPLE.COM", True),
        (("example.com.",), "example.com", True),
        (("*.example.com",), "sip.example.com", False),  # no wildcards in SIP
        (("sip.example.com",), "example.com", False),
        (("127.0.0.1",), "127.0.0.1", True),
        (("::1",), "[::1]", True),
        (("127.0.0.1",), "127.0.0.2", False),
        (("localhost",), "127.0.0.1", False),  # an address needs an IP identity
        ((), "example.com", False),
    ],
)
def test_domains_compare_exactly(identities: tuple[str, ...], domain: str, matches: bool) -> None:
    assert sip_domain_matches(identities, domain) is matches


@given(st.binary(max_size=300))
def test_any_bytes_as_a_certificate_name_nothing(der: bytes) -> None:
    assert isinstance(certificate_names(der), tuple)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("names", "opens"),
    [([x509.UniformResourceIdentifier("sip:example.test")], True),
     ([x509.DNSName("example.test")], True),
     ([x509.DNSName("*.test")], False),
     ([x509.UniformResourceIdentifier("sip:other.test"), x509.DNSName("example.test")], False)],
)  # fmt: skip
def test_the_tls_driver_opens_only_to_a_server_named_for_the_domain(
    tmp_path: Path, names: list[x509.GeneralName], opens: bool
) -> None:
    """The client connects to 127.0.0.1 as the SIP domain example.test (a
    name a resolution gave it); the chain verifies in every case."""
    pki = make_pki(tmp_path, names=names)
    server = sip_server_context(str(pki.cert), str(pki.key))
    client = sip_client_context(str(pki.ca))

    async def scenario() -> tuple[int, int]:
        alice = await Node.start(Transport.TLS, 1, tls_client=client,
                                 check_sip_domain=True)  # type: ignore[arg-type]  # fmt: skip
        alice.driver.tls_hostnames["127.0.0.1"] = "example.test"
        bob = await Node.start(Transport.TLS, 2, tls_server=server)
        alice.options(bob.driver.local)
        await alice.until(lambda: bool(alice.responses) or alice.failures > 0, 10)
        await alice.driver.close()
        await bob.driver.close()
        return len(alice.responses), len(bob.requests)

    responses, requests = asyncio.run(scenario())
    assert (responses, requests) == ((1, 1) if opens else (0, 0))
