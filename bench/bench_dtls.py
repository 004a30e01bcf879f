"""DTLS-SRTP handshake time: sansip's pure-Python DTLS 1.2 next to OpenSSL.

- **sansip**: a :class:`~sansip.dtls.DtlsClient` and a
  :class:`~sansip.dtls.DtlsServer` (ECDSA P-256 certificates, X25519,
  AES-128-GCM, use_srtp, the peer's fingerprint checked) handshake with
  each other in memory, on one core; a row is the median time of one
  complete handshake (both sides' work) over ``--count`` handshakes, with
  and without the server's cookie exchange.
- **openssl**: ``openssl s_server -dtls1_2 -use_srtp ...`` on 127.0.0.1 and
  ``openssl s_client -dtls1_2 ...`` run ``--count`` times against it: the
  CPU time (user + system) of both processes per handshake, less the CPU
  time of starting ``openssl version`` (the client's process start).  Wall
  time would mostly measure s_client's wait before it exits.

Both are CPU seconds per complete handshake (both ends' work).  Ratio =
OpenSSL's / sansip's (below 1: sansip needs more CPU).

    .venv/bin/python bench/bench_dtls.py             # about half a minute
    .venv/bin/python bench/bench_dtls.py --count 5   # smoke run
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from sansip.dtls import DtlsCertificate, DtlsClient, DtlsServer, HandshakeComplete
from sansip.dtls import generate_certificate as make_certificate


def _handshake(client_cert: DtlsCertificate, server_cert: DtlsCertificate, *,
               cookies: bool, seed: int) -> float:  # fmt: skip
    """One in-memory handshake; its duration in seconds (CPU-bound)."""
    rng = random.Random(seed)
    started = time.process_time()
    client = DtlsClient(client_cert, rng=rng, expected_fingerprint=server_cert.fingerprint)
    server = DtlsServer(server_cert, rng=rng, expected_fingerprint=client_cert.fingerprint,
                        cookie_exchange=cookies)  # fmt: skip
    now = 0.0
    client.start(now)
    done = 0
    for _ in range(20):  # flights back and forth
        for data in client.datagrams_to_send(now):
            server.receive_datagram(data, now)
        for data in server.datagrams_to_send(now):
            client.receive_datagram(data, now)
        for machine in (client, server):
            while (event := machine.next_event()) is not None:
                done += isinstance(event, HandshakeComplete)
        if done == 2:
            return time.process_time() - started
    raise RuntimeError("the in-memory handshake did not complete")


def bench_sansip(count: int) -> dict[str, float]:
    """Median seconds per handshake, with and without cookies."""
    a, b = make_certificate(random.Random(1)), make_certificate(random.Random(2))
    _handshake(a, b, cookies=False, seed=0)  # warm up (imports, caches)
    return {
        f"sansip{' + cookie' if cookies else ''}": statistics.median(
            _handshake(a, b, cookies=cookies, seed=i) for i in range(count))
        for cookies in (False, True)
    }  # fmt: skip


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pem(certificate: DtlsCertificate, directory: Path, name: str) -> tuple[str, str]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    cert.write_bytes(certificate.certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(certificate.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    return str(cert), str(key)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], stdin: bytes = b"") -> float:
    """The CPU seconds of running ``command`` to its end."""
    started = _children_cpu()
    subprocess.run(command, input=stdin, capture_output=True, timeout=30, check=False)
    return _children_cpu() - started


def _process_cpu(pid: int) -> float:
    """CPU seconds a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_openssl(count: int) -> dict[str, float] | None:
    """Median seconds per OpenSSL handshake (s_client against s_server,
    less a process start), or None without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        cert, key = _pem(make_certificate(random.Random(3)), directory, "server")
        port = _free_port()
        srtp = ["-use_srtp", "SRTP_AES128_CM_SHA1_80", "-keymatexport", "EXTRACTOR-dtls_srtp",
                "-keymatexportlen", "60"]  # fmt: skip
        server = subprocess.Popen(
            [openssl, "s_server", "-dtls1_2", "-accept", str(port), "-cert", cert, "-key", key,
             *srtp, "-quiet"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(0.5)
            client = [openssl, "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}", *srtp,
                      "-quiet", "-no_ign_eof",
                      "-no-CAfile", "-no-CApath", "-no-CAstore"]  # fmt: skip
            server_before = _process_cpu(server.pid)
            runs = [_timed(client) for _ in range(count)]
            server_cpu = (_process_cpu(server.pid) - server_before) / count
            starts = [_timed([openssl, "version"]) for _ in range(count)]
        finally:
            server.kill()
            server.wait()
    client_cpu = statistics.mean(runs) - statistics.mean(starts)
    return {"openssl": max(0.0, client_cpu) + server_cpu}


def main() -> int:
    """Run both benchmarks and print milliseconds per handshake and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=30, help="handshakes per row")
    args = parser.parse_args()
    rows = bench_sansip(args.count)
    theirs = bench_openssl(args.count)
    print(f"{'implementation':<18} {'CPU ms/handshake':>17} {'openssl/this':>13}")
    reference = theirs["openssl"] if theirs else None
    for name, seconds in {**rows, **(theirs or {})}.items():
        ratio = f"{reference / seconds:.2f}x" if reference and seconds else "-"
        print(f"{name:<18} {seconds * 1000:>17.2f} {ratio:>13}")
    if theirs is None:
        print("openssl not found: no reference figure", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
