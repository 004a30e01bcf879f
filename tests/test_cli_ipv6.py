"""`sansip call` to `sansip answer` over IPv6 loopback."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests.interop.peers import sansip, start, stop


def _free_v6_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(60)
def test_call_over_ipv6_loopback(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    port = _free_v6_port()
    answer = start(sansip("answer", "--listen", f"[::1]:{port}", "--count", "1", "--json"),
                   tmp_path / "answer.log")  # fmt: skip
    try:
        log = tmp_path / "answer.log"
        for _ in range(200):
            if b"listening" in log.read_bytes():
                break
            subprocess.run(["sleep", "0.05"], check=True)
        done = subprocess.run(
            sansip("call", f"sip:bob@[::1]:{port}", "--local", "[::1]:0", "--duration", "0.2",
                   "--json"),
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        answer.wait(20)
    finally:
        stop(answer)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["status"] == 200
    records = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    assert [r["reason"] for r in records] == ["bye received"]
