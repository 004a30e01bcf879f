"""The examples run: the DTMF bot answers ``sansip call --dtmf`` and reports
the digits (loopback only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.interop.peers import free_udp_port, sansip, start, stop, wait_listening

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.timeout(60)
def test_the_dtmf_bot_collects_the_digits_of_a_call(tmp_path: Path) -> None:
    port = free_udp_port()
    log = tmp_path / "bot.log"
    bot = start([sys.executable, str(EXAMPLES / "dtmf_bot.py"), f"127.0.0.1:{port}"], log)
    try:
        wait_listening(port, bot)
        done = subprocess.run(sansip("call", f"sip:bot@127.0.0.1:{port}", "--dtmf", "1234#",
                                     "--duration", "8", "--json"),
                              capture_output=True, timeout=40, check=False)  # fmt: skip
        assert bot.wait(20) == 0, log.read_text()
    finally:
        stop(bot)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert "digits 1234" in log.read_text()
    code_lines = [line for line in (EXAMPLES / "dtmf_bot.py").read_text().splitlines()
                  if line.strip() and not line.strip().startswith("#")]  # fmt: skip
    assert len(code_lines) <= 40  # the bot stays short (docstring included)
