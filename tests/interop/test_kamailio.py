"""Registration and calls through Kamailio (registrar + proxy) over UDP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.interop.peers import (
    free_udp_port,
    json_lines,
    register_alice,
    sansip,
    start,
    start_kamailio,
    stop,
    wait_listening,
)

pytestmark = pytest.mark.interop


@pytest.mark.timeout(120)
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_refresh_and_unregister_with_digest(tmp_path: Path, transport: str) -> None:
    port = free_udp_port()
    kamailio = start_kamailio(tmp_path, port)
    try:
        # registerinterval 30 s is refreshed after 27 s: hold 29 s to see it.
        server, via = f"127.0.0.1:{port}", ("-p", f"transport={transport}")
        done = register_alice(server, "alice123", *via, "-p", "registerinterval=30", "--hold", "29")
        wrong = register_alice(server, "not-the-password", *via)
    finally:
        stop(kamailio)
    events = json_lines(done)
    assert done.returncode == 0, done.stderr.decode()
    assert [e["event"] for e in events] == ["registered", "registered", "unregistered"]
    assert events[0]["expires"] == 30 and events[-1]["status"] == 200
    assert wrong.returncode == 1
    assert json.loads(wrong.stdout.decode().splitlines()[0]) == {
        "event": "failed", "status": 401, "reason": "Authentication failed",
    }  # fmt: skip


@pytest.mark.timeout(120)
def test_call_between_two_sansip_uas_through_kamailio(tmp_path: Path) -> None:
    port, bob_port = free_udp_port(), free_udp_port()
    kamailio = start_kamailio(tmp_path, port)
    bob = start(
        sansip("answer", "--listen", f"127.0.0.1:{bob_port}", "--count", "3", "--json",
               "-p", f"serveraddress=127.0.0.1:{port}", "-p", "username=bob",
               "-p", "password=bob123"),
        tmp_path / "bob.log",
    )  # fmt: skip
    try:
        wait_listening(bob_port, bob)
        log = tmp_path / "bob.log"
        for _ in range(200):  # registered once it says it listens
            if b"listening" in log.read_bytes():
                break
            subprocess.run(["sleep", "0.05"], check=True)
        calls = [
            subprocess.run(
                sansip("call", f"sip:bob@127.0.0.1:{port}", "--duration", "0.3", "--json"),
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
    records = [json.loads(x) for x in (tmp_path / "bob.log").read_text().splitlines()
               if x.startswith("{")]  # fmt: skip
    assert [r["reason"] for r in records] == ["bye received"] * 3
    assert bob.returncode == 0


@pytest.mark.timeout(60)
def test_register_with_outbound_instance(tmp_path: Path) -> None:
    port = free_udp_port()
    kamailio = start_kamailio(tmp_path, port)
    try:
        done = register_alice(f"127.0.0.1:{port}", "alice123", "-p", "outbound=1")
    finally:
        stop(kamailio)
    assert done.returncode == 0, done.stderr.decode()
    assert [e["event"] for e in json_lines(done)] == ["registered", "unregistered"]
