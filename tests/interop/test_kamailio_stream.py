"""Registration over TLS and calls over TCP and TLS through Kamailio (UDP and TCP
registration: test_kamailio.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.certs import make_pki
from tests.interop.peers import (
    free_udp_port,
    json_lines,
    register_alice,
    sansip,
    start,
    start_kamailio,
    stop,
    wait_tcp,
)

pytestmark = pytest.mark.interop


@pytest.mark.timeout(120)
def test_register_refresh_and_unregister_over_tls_with_verification(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    port, tls_port = free_udp_port(), free_udp_port()
    kamailio = start_kamailio(tmp_path, port, tls_port=tls_port, tls_cert=pki.cert,
                              tls_key=pki.key)  # fmt: skip
    other = make_pki(tmp_path / "other")
    try:
        done = register_alice(f"127.0.0.1:{tls_port}", "alice123", "-p", "transport=tls",
                         "-p", f"tlscafile={pki.ca}", "-p", "registerinterval=30",
                         "--hold", "29")  # fmt: skip
        # Another CA: the certificate does not verify, nothing is sent.
        untrusted = register_alice(f"127.0.0.1:{tls_port}", "alice123", "-p", "transport=tls",
                              "-p", f"tlscafile={other.ca}", "--timeout", "20")  # fmt: skip
    finally:
        stop(kamailio)
    events = json_lines(done)
    assert done.returncode == 0, done.stderr.decode()
    assert [e["event"] for e in events] == ["registered", "registered", "unregistered"]
    assert events[0]["expires"] == 30 and events[-1]["status"] == 200
    assert untrusted.returncode == 1
    assert json_lines(untrusted)[0]["event"] == "failed"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_call_between_two_sansip_uas_through_kamailio(tmp_path: Path, transport: str) -> None:
    port, tls_port, bob_port = free_udp_port(), free_udp_port(), free_udp_port()
    server, tls = f"127.0.0.1:{port}", []
    if transport == "tls":
        pki = make_pki(tmp_path / "pki")
        kamailio = start_kamailio(tmp_path, port, tls_port=tls_port, tls_cert=pki.cert,
                                  tls_key=pki.key)  # fmt: skip
        server, tls = f"127.0.0.1:{tls_port}", ["-p", f"tlscafile={pki.ca}"]
    else:
        kamailio = start_kamailio(tmp_path, port)
    bob = start(
        sansip("answer", "--listen", f"127.0.0.1:{bob_port}", "--transport", transport,
               "--count", "3", "--json", "-p", f"serveraddress={server}",
               "-p", "username=bob", "-p", "password=bob123", *tls,
               *(["--cert", str(pki.cert), "--key", str(pki.key)] if tls else [])),
        tmp_path / "bob.log",
    )  # fmt: skip
    try:
        wait_tcp(bob_port, bob)
        log = tmp_path / "bob.log"
        for _ in range(200):  # registered once it says it listens
            if b"listening" in log.read_bytes():
                break
            subprocess.run(["sleep", "0.05"], check=True)
        calls = [
            subprocess.run(
                sansip(
                    "call",
                    f"sip:bob@{server}",
                    "-p",
                    f"transport={transport}",
                    *tls,
                    "--duration",
                    "0.3",
                    "--json",
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
            for _ in range(3)
        ]
        bob.wait(30)
    finally:
        stop(bob)
        stop(kamailio)
    for call in calls:
        assert call.returncode == 0, call.stderr.decode()
        assert json.loads(call.stdout)["status"] == 200
    text = (tmp_path / "bob.log").read_text()
    records = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
    assert [r["reason"] for r in records] == ["bye received"] * 3
    assert bob.returncode == 0
    assert f"listening on 127.0.0.1:{bob_port}/{transport}" in text
