"""``sansip call`` and ``sansip register`` to a loopback port where nothing
listens: the ICMP port unreachable ends them at once with a 503 (RFC 3261
§8.1.3.1), not after timer B or F (32 s).  Linux only (``IP_RECVERR``)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the error queue (IP_RECVERR) is Linux's"
)
#: Generous (the command itself takes well under a second), yet far below
#: timer B/F (32 s) and the --timeout given (20 s).
BOUND = 10.0


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sansip.cli.main", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60, check=False)  # fmt: skip
    return done, time.monotonic() - start


@pytest.mark.timeout(90)
def test_a_call_to_a_closed_port_fails_with_503_at_once() -> None:
    done, took = _run("call", f"sip:bob@127.0.0.1:{_closed_port()}", "--timeout", "20", "--json")
    assert done.returncode != 0, done.stderr
    assert took < BOUND
    record = json.loads(done.stdout)
    assert (record["status"], record["reason"]) == (503, "transport error")


@pytest.mark.timeout(90)
def test_a_register_to_a_closed_port_fails_with_503_at_once() -> None:
    done, took = _run("register", "-p", f"serveraddress=127.0.0.1:{_closed_port()}",
                      "-p", "username=alice", "--timeout", "20", "--json")  # fmt: skip
    assert done.returncode != 0, done.stderr
    assert took < BOUND
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert {"event": "failed", "status": 503, "reason": "Transport error"} in events
