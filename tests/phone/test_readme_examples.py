"""The README's phone examples, run as they are written against the
embedded registrar: 1001 calls 1002 (a phone answering on its own), sends
DTMF and hangs up; only the server address is replaced by the test's."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sansip.phone.threads import Phone
from tests.phone.conftest import registrar_thread

README = Path(__file__).resolve().parents[2] / "README.md"


def _phone_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The phone API") :]
    section = section[: section.index("\n## ", 3)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture
def office() -> Iterator[tuple[str, Phone]]:
    """A registrar with users 1001 and 1002, and 1002 answering every call."""
    with registrar_thread({"1001": "secret", "1002": "secret"}) as address:
        callee = Phone(serveraddress=address, username="1002", password="secret", autoaccept=1)
        callee.start()
        callee.register()
        yield address, callee
        callee.stop()


def test_the_readme_has_the_asyncio_and_threads_examples() -> None:
    examples = _phone_examples()
    assert len(examples) == 3
    assert "AsyncPhone" in examples[0] and "Phone(" in examples[1]
    assert len(examples[0].strip().splitlines()) <= 15


def test_the_audio_plan_example_builds_a_phone(tmp_path: Path) -> None:
    code = _phone_examples()[2] + "\nassert phone.audio_plan is not None\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=40,
                          check=False, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("index", [0, 1])
def test_a_readme_example_runs_against_the_registrar(
    index: int, office: tuple[str, Phone], tmp_path: Path
) -> None:
    server, callee = office
    digits: list[str] = []
    callee.on_dtmf(lambda dtmf, _line: digits.append(dtmf))
    code = _phone_examples()[index].replace("127.0.0.1:5060", server)
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=40,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert "".join(digits) == "1234#"
    records = [c for c in callee.core.history if c.connected_at is not None]
    assert records and records[-1].peername == "1001"
