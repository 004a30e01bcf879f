"""An in-memory DTLS client and server on virtual time, with loss,
duplication, reordering and mutation of the datagrams between them."""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sansip.dtls import (
    DtlsCertificate,
    DtlsClient,
    DtlsConnection,
    DtlsEvent,
    DtlsServer,
    generate_certificate,
)

#: decides what happens to datagram ``index`` from ``side`` ("client" or
#: "server"): return the datagrams to deliver instead (``[]`` drops it).
Tamper = Callable[[str, int, bytes], list[bytes]]


@cache
def ecdsa_certificate(seed: int = 1) -> DtlsCertificate:
    """A deterministic self-signed ECDSA P-256 certificate."""
    return generate_certificate(random.Random(seed), common_name=f"ecdsa-{seed}")


@cache
def rsa_certificate() -> DtlsCertificate:
    """A self-signed RSA 2048 certificate (made once per test run)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return DtlsCertificate(certificate, key)


def make_pair(
    seed: int = 7,
    *,
    client_certificate: DtlsCertificate | None = None,
    server_certificate: DtlsCertificate | None = None,
    client: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
) -> tuple[DtlsClient, DtlsServer]:
    """A client and a server that know each other's fingerprint."""
    client_cert = client_certificate or ecdsa_certificate(1)
    server_cert = server_certificate or ecdsa_certificate(2)
    client_options: dict[str, Any] = {"expected_fingerprint": server_cert.fingerprint}
    client_options.update(client or {})
    server_options: dict[str, Any] = {"expected_fingerprint": client_cert.fingerprint}
    server_options.update(server or {})
    return (
        DtlsClient(client_cert, rng=random.Random(seed), **client_options),
        DtlsServer(server_cert, rng=random.Random(seed + 1000), **server_options),
    )


def drain(machine: DtlsConnection) -> list[DtlsEvent]:
    """Every pending event of a machine."""
    events: list[DtlsEvent] = []
    while (event := machine.next_event()) is not None:
        events.append(event)
    return events


@dataclass
class Run:
    """What :func:`run` saw."""

    client_events: list[DtlsEvent] = field(default_factory=list)
    server_events: list[DtlsEvent] = field(default_factory=list)
    client_datagrams: list[bytes] = field(default_factory=list)
    server_datagrams: list[bytes] = field(default_factory=list)
    now: float = 0.0


def run(
    client: DtlsClient,
    server: DtlsServer,
    *,
    tamper: Tamper | None = None,
    reverse: bool = False,
    start: bool = True,
    deadline: float = 400.0,
    now: float = 0.0,
    result: Run | None = None,
) -> Run:
    """Exchange datagrams until both sides are quiet (no datagram, no timer).

    ``reverse`` delivers the datagrams of each batch in reverse order.
    """
    out = result or Run()
    if start:
        client.start(now)
    while now <= deadline:
        moved = False
        for side, source, target in (("client", client, server), ("server", server, client)):
            batch = source.datagrams_to_send(now)
            sent = out.client_datagrams if side == "client" else out.server_datagrams
            if reverse:
                batch.reverse()
            for datagram in batch:
                index = len(sent)
                sent.append(datagram)
                for delivered in tamper(side, index, datagram) if tamper else [datagram]:
                    target.receive_datagram(delivered, now)
                    moved = True
        out.client_events += drain(client)
        out.server_events += drain(server)
        if moved:
            continue
        timers = [t for t in (client.get_timer(), server.get_timer()) if t is not None]
        if not timers:
            break
        now = max(now, min(timers))
        client.handle_timer(now)
        server.handle_timer(now)
    out.now = now
    out.client_events += drain(client)
    out.server_events += drain(server)
    return out


def drop(indexes: dict[str, set[int]]) -> Tamper:
    """Lose the datagrams with these indexes, per side."""

    def tamper(side: str, index: int, datagram: bytes) -> list[bytes]:
        return [] if index in indexes.get(side, set()) else [datagram]

    return tamper
