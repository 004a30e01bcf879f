"""The ``sansip`` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sansip.cli.main import main
from tests.conftest import conformance_data_dir


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("sansip ")


def test_demo_on_the_corpus(
    conformance_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SANSIP_CONFORMANCE_DATA", str(conformance_data))
    assert main(["demo", "--messages", "--json"]) == 0
    outcomes = json.loads(capsys.readouterr().out)
    assert len(outcomes) == 62
    assert all(o["agrees"] for o in outcomes)


def test_demo_without_the_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SANSIP_CONFORMANCE_DATA", str(tmp_path / "absent"))
    monkeypatch.chdir(tmp_path)
    from sansip.cli import corpus_demo as demo

    monkeypatch.setattr(demo, "find_corpus", lambda: None)
    assert main(["demo", "--messages"]) == 0
    out = capsys.readouterr().out
    assert "built-in messages" in out
    assert "4/4 messages behave as their index says" in out


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sansip.cli.main", "demo", "--messages"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "behave as their index says" in done.stdout
    if conformance_data_dir() is not None:
        assert "62/62" in done.stdout
