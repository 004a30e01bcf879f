"""``sansip demo``: the registrar and two phones make a checked call on
loopback; every step must pass, and the output must show what was measured."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sansip.cli.main import main


def test_the_demo_call_passes_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True
    names = [s["name"] for s in report["steps"]]
    assert any("DTMF 1234#" in n for n in names) and any("holds" in n for n in names)
    assert all(s["ok"] for s in report["steps"]) and len(names) >= 9
    for side in ("alice", "bob"):
        rtp = report["rtp"][side]["rtp"]
        assert rtp["received"] > 100 and rtp["lost"] == 0
    assert report["rtp"]["bob"]["dtmf_received"] == "1234#"
    messages = [(f["from"], f["to"], f["message"]) for f in report["flow"]]
    assert ("alice", "proxy", "INVITE") in messages and ("proxy", "bob", "BYE") in messages
    assert report["seconds"] < 20


def test_the_demo_prints_steps_statistics_and_the_ladder() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sansip.cli.main", "demo"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "every check passed" in out and "FAIL" not in out
    assert "RTP statistics" in out and "MOS" in out
    assert "Call flow" in out and "INVITE" in out and "180 Ringing" in out
