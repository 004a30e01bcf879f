"""The README's phone examples, run as they are written against the
embedded registrar: 1001 calls 1002 (a phone answering on its own), sends
DTMF and hangs up; only the server address is replaced by the test's."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sansip.cli.registrar import start_registrar
from sansip.phone.threads import Phone
from sansip.server import ServerConfig

README = Path(__file__).resolve().parents[2] / "README.md"


def _phone_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The phone API") :]
    section = section[: section.index("\n## ", 3)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture
def office() -> Iterator[tuple[str, Phone]]:
    """A registrar with users 1001 and 1002, and 1002 answering every call."""
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()
    address: list[str] = []

    async def serve() -> None:
        config = ServerConfig(realm="sansip.test", users={"1001": "secret", "1002": "secret"})
        running = await start_registrar(("127.0.0.1", 0), config=config)
        address.append(f"{running.address[0]}:{running.address[1]}")
        ready.set()
        await stop.wait()
        await running.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    callee = Phone(serveraddress=address[0], username="1002", password="secret", autoaccept=1)
    callee.start()
    callee.register()
    yield address[0], callee
    callee.stop()
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def test_the_readme_has_the_asyncio_and_threads_examples() -> None:
    examples = _phone_examples()
    assert len(examples) == 2
    assert "AsyncPhone" in examples[0] and "Phone(" in examples[1]
    assert len(examples[0].strip().splitlines()) <= 15


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
