"""Calls between sansip and SIPp (sip-tester) over UDP on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.interop.peers import free_udp_port, require, sansip, start, stop, wait_listening

pytestmark = pytest.mark.interop


@pytest.mark.timeout(180)
def test_sipp_uac_against_sansip_answer(tmp_path: Path) -> None:
    sipp = require("sipp", "sip-tester")
    port, sipp_port = free_udp_port(), free_udp_port()
    calls = 1000
    answer = start(
        sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", str(calls), "--json"),
        tmp_path / "answer.log",
    )
    try:
        wait_listening(port, answer)
        done = subprocess.run(
            [sipp, "-sn", "uac", f"127.0.0.1:{port}", "-s", "sansip", "-m", str(calls),
             "-r", "100", "-i", "127.0.0.1", "-p", str(sipp_port), "-nostdin",
             "-timeout", "120", "-trace_stat", "-stf", str(tmp_path / "stat.csv")],
            capture_output=True, cwd=tmp_path, timeout=150, check=False,
        )  # fmt: skip
        answer.wait(30)
    finally:
        stop(answer)
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output[-2000:]  # SIPp exits 0 only when every call succeeded
    assert "Successful call" in output
    records = [json.loads(line) for line in (tmp_path / "answer.log").read_text().splitlines()
               if line.startswith("{")]  # fmt: skip
    assert len(records) == calls
    assert all(r["status"] == 200 and r["reason"] == "bye received" for r in records)
    assert answer.returncode == 0


@pytest.mark.timeout(60)
def test_sansip_call_against_sipp_uas(tmp_path: Path) -> None:
    sipp = require("sipp", "sip-tester")
    port = free_udp_port()
    uas = subprocess.Popen(
        [sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-m", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_listening(port, uas)  # type: ignore[arg-type]
        done = subprocess.run(
            sansip("call", f"sip:service@127.0.0.1:{port}", "--duration", "0.5", "--json"),
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        out, _ = uas.communicate(timeout=30)
    finally:
        if uas.poll() is None:
            uas.kill()
    assert done.returncode == 0, done.stderr.decode()
    record = json.loads(done.stdout)
    assert record["status"] == 200 and record["duration"] >= 500
    assert uas.returncode == 0, out.decode(errors="replace")[-2000:]
