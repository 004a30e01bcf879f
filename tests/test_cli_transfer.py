"""``sansip call --transfer-to`` between three ``sansip`` processes on
loopback: bob (``answer``) follows alice's REFER and calls carol
(``answer``); alice's call ends once carol answered, blind and attended."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.interop.peers import free_udp_port, sansip, start, stop, wait_listening


@pytest.mark.timeout(90)
@pytest.mark.parametrize("attended", [False, True])
def test_call_transfer_to(tmp_path: Path, attended: bool) -> None:
    bob_port, carol_port = free_udp_port(), free_udp_port()
    bob = start(sansip("answer", "--listen", f"127.0.0.1:{bob_port}", "--count", "1", "--json",
                       "--duration", "30", "-p", "username=bob"), tmp_path / "bob.log")  # fmt: skip
    carol = start(sansip("answer", "--listen", f"127.0.0.1:{carol_port}", "--json",
                         "--duration", "30", "--count", "2" if attended else "1"),
                  tmp_path / "carol.log")  # fmt: skip
    try:
        wait_listening(bob_port, bob)
        wait_listening(carol_port, carol)
        extra = ["--attended"] if attended else []
        done = subprocess.run(
            sansip("call", f"sip:bob@127.0.0.1:{bob_port}", "--json", "--duration", "20",
                   "--transfer-to", f"sip:carol@127.0.0.1:{carol_port}", *extra),
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        stop(bob)
        stop(carol)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    record = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert record["transfer"] == "200 OK" and record["reason"] == "transfer done"
    carol_calls = [json.loads(x) for x in (tmp_path / "carol.log").read_text().splitlines()
                   if x.startswith('{"callid"')]  # fmt: skip
    assert "bob" in [c["peername"] for c in carol_calls]  # bob called carol
