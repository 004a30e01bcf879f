"""``sansip message`` against ``sansip answer`` on loopback: the message
arrives (answer prints it), the sender reports it delivered; a message to
a port where nothing listens fails at once."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.interop.peers import free_udp_port, sansip, start, stop, wait_listening


def test_a_message_to_sansip_answer(tmp_path: Path) -> None:
    port = free_udp_port()
    log = tmp_path / "answer.log"
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--json", "--duration",
                          "20"), log)  # fmt: skip
    try:
        wait_listening(port, answer)
        sent = subprocess.run(sansip("message", f"sip:bob@127.0.0.1:{port}", "grüß dich ✓",
                                     "-p", "username=alice", "--json"),
                              capture_output=True, timeout=30, check=False)  # fmt: skip
        for _ in range(50):
            if "message" in log.read_text():
                break
            time.sleep(0.1)
    finally:
        stop(answer)
    assert sent.returncode == 0, sent.stderr.decode()
    assert json.loads(sent.stdout) == {"event": "sent", "to": "bob", "status": 200, "reason": "OK"}
    got = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()
           if x.startswith('{"event": "message"')]  # fmt: skip
    assert got == [{"event": "message", "from": "alice", "text": "grüß dich ✓",
                    "content_type": "text/plain", "line": -1}]  # fmt: skip


def test_a_message_nobody_takes_fails(tmp_path: Path) -> None:
    done = subprocess.run(sansip("message", f"sip:bob@127.0.0.1:{free_udp_port()}", "hello?"),
                          capture_output=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 1 and done.stdout.decode().startswith("failed to bob: 503")
