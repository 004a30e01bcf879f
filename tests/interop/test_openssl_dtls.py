"""DTLS-SRTP between sansip and OpenSSL (``s_server`` / ``s_client``) over
UDP on 127.0.0.1: the handshake completes both ways, the fingerprints
check, application data flows and the ``EXTRACTOR-dtls_srtp`` keying
material OpenSSL prints equals sansip's (RFC 5764 §4.2)."""

from __future__ import annotations

import random
import re
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from sansip.dtls import (
    SRTP_PROFILES,
    ApplicationData,
    DtlsCertificate,
    DtlsClient,
    DtlsConnection,
    DtlsEvent,
    DtlsServer,
    HandshakeComplete,
    HandshakeFailed,
    generate_certificate,
)
from tests.dtls.helpers import rsa_certificate
from tests.interop.peers import free_udp_port, require, stop, wait_listening

pytestmark = pytest.mark.interop

PROFILES = {p.name: p for p in SRTP_PROFILES}
KEYING_MATERIAL = re.compile(rb"Keying material: ([0-9A-F]+)")


def write_pem(certificate: DtlsCertificate, directory: Path, name: str) -> tuple[Path, Path]:
    """The certificate and key as PEM files for OpenSSL."""
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        certificate.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def pump(
    machine: DtlsConnection,
    sock: socket.socket,
    done: Callable[[list[DtlsEvent]], bool],
    events: list[DtlsEvent],
    *,
    peer: tuple[str, int] | None = None,
    seconds: float = 15.0,
) -> tuple[str, int] | None:
    """Run ``machine`` over ``sock`` on real time until ``done(events)``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done(events):
        now = time.monotonic()
        if peer is not None:
            for datagram in machine.datagrams_to_send(now):
                sock.sendto(datagram, peer)
        timer = machine.get_timer()
        sock.settimeout(0.05 if timer is None else min(0.05, max(0.001, timer - now)))
        try:
            data, peer = sock.recvfrom(65536)
            machine.receive_datagram(data, time.monotonic())
        except TimeoutError:
            pass
        machine.handle_timer(time.monotonic())
        while (event := machine.next_event()) is not None:
            events.append(event)
    if peer is not None:
        for datagram in machine.datagrams_to_send(time.monotonic()):
            sock.sendto(datagram, peer)
    return peer


def completed(events: list[DtlsEvent]) -> HandshakeComplete:
    assert not any(isinstance(e, HandshakeFailed) for e in events), events
    done = [e for e in events if isinstance(e, HandshakeComplete)]
    assert len(done) == 1, events
    return done[0]


def wait_for(pattern: re.Pattern[bytes], log: Path, seconds: float = 10.0) -> re.Match[bytes]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = pattern.search(log.read_bytes())
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pattern.pattern!r} not in {log}:\n{log.read_text(errors='replace')}")


def ended(events: list[DtlsEvent]) -> bool:
    return any(isinstance(e, HandshakeComplete | HandshakeFailed) for e in events)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("profile", "server_key", "extra", "mtu"),
    [
        ("SRTP_AES128_CM_SHA1_80", "ecdsa", ["-Verify", "1"], 1200),
        ("SRTP_AEAD_AES_128_GCM", "rsa", ["-listen"], 1200),
        ("SRTP_AEAD_AES_256_GCM", "ecdsa", ["-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                            "-curves", "P-256", "-Verify", "1"], 1200),
        ("SRTP_AES128_CM_SHA1_32", "rsa", ["-listen", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384",
                                           "-curves", "X25519"], 1200),
        ("SRTP_AES128_CM_SHA1_80", "rsa", ["-mtu", "300", "-Verify", "1", "-listen"], 300),
    ],
)  # fmt: skip
def test_sansip_client_against_openssl_s_server(
    tmp_path: Path, profile: str, server_key: str, extra: list[str], mtu: int
) -> None:
    openssl = require("openssl", "openssl")
    server_certificate = rsa_certificate() if server_key == "rsa" else (
        generate_certificate(random.Random(11), common_name="openssl-server")
    )  # fmt: skip
    cert, key = write_pem(server_certificate, tmp_path, "server")
    port = free_udp_port()
    length = PROFILES[profile].keying_material_length
    log = tmp_path / "s_server.log"
    server = subprocess.Popen(
        [openssl, "s_server", "-dtls1_2", "-accept", f"127.0.0.1:{port}", "-cert", str(cert),
         "-key", str(key), "-use_srtp", profile, "-keymatexport", "EXTRACTOR-dtls_srtp",
         "-keymatexportlen", str(length), "-naccept", "1", *extra],
        stdin=subprocess.PIPE, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_listening(port, server)
        rng = random.SystemRandom()
        client = DtlsClient(
            generate_certificate(rng),
            rng=rng,
            expected_fingerprint=server_certificate.fingerprint,
            srtp_profiles=[PROFILES[profile]],
            mtu=mtu,
        )
        events: list[DtlsEvent] = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            client.start(time.monotonic())
            pump(client, sock, ended, events, peer=("127.0.0.1", port))
            complete = completed(events)
            assert complete.srtp_profile == PROFILES[profile]
            assert complete.peer_fingerprint == server_certificate.fingerprint
            client.send(b"hello from sansip\n")
            pump(client, sock, lambda _: True, events, peer=("127.0.0.1", port))
            material = wait_for(KEYING_MATERIAL, log).group(1).decode()
            wait_for(re.compile(rb"hello from sansip"), log)
            assert complete.srtp_keying_material is not None
            assert complete.srtp_keying_material.hex().upper() == material
            assert client.export_keying_material("EXTRACTOR-dtls_srtp", length).hex().upper() == (
                material
            )
            client.close()
            pump(client, sock, lambda _: True, events, peer=("127.0.0.1", port))
    finally:
        stop(server)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("profile", "client_key", "cookie_exchange", "mtu"),
    [
        ("SRTP_AES128_CM_SHA1_80", "ecdsa", True, 1200),
        ("SRTP_AEAD_AES_256_GCM", "rsa", False, 1200),
        ("SRTP_AEAD_AES_128_GCM", "rsa", True, 300),
    ],
)
def test_openssl_s_client_against_sansip_server(
    tmp_path: Path, profile: str, client_key: str, cookie_exchange: bool, mtu: int
) -> None:
    openssl = require("openssl", "openssl")
    client_certificate = rsa_certificate() if client_key == "rsa" else (
        generate_certificate(random.Random(12), common_name="openssl-client")
    )  # fmt: skip
    cert, key = write_pem(client_certificate, tmp_path, "client")
    rng = random.SystemRandom()
    server = DtlsServer(
        generate_certificate(rng),
        rng=rng,
        expected_fingerprint=client_certificate.fingerprint,
        cookie_exchange=cookie_exchange,
        mtu=mtu,
    )
    length = PROFILES[profile].keying_material_length
    log = tmp_path / "s_client.log"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        client = subprocess.Popen(
            [openssl, "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}", "-cert", str(cert),
             "-key", str(key), "-use_srtp", profile, "-keymatexport", "EXTRACTOR-dtls_srtp",
             "-keymatexportlen", str(length), "-mtu", str(mtu)],
            stdin=subprocess.PIPE, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            events: list[DtlsEvent] = []
            peer = pump(server, sock, ended, events)
            complete = completed(events)
            assert complete.srtp_profile == PROFILES[profile]
            assert complete.peer_fingerprint == client_certificate.fingerprint
            server.send(b"hello from sansip server\n")
            pump(server, sock, lambda _: True, events, peer=peer)
            material = wait_for(KEYING_MATERIAL, log).group(1).decode()
            wait_for(re.compile(rb"hello from sansip server"), log)
            assert complete.srtp_keying_material is not None
            assert complete.srtp_keying_material.hex().upper() == material
            assert client.stdin is not None
            client.stdin.write(b"hello from openssl\n")
            client.stdin.flush()
            pump(server, sock, lambda ev: any(isinstance(e, ApplicationData) for e in ev),
                 events, peer=peer, seconds=5)  # fmt: skip
            assert ApplicationData(b"hello from openssl\n") in events
        finally:
            stop(client)
