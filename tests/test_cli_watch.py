"""``sansip watch`` against a phone on loopback that publishes its
presence and offers its calls' state: the command prints the presence and
the lamp it sees."""

from __future__ import annotations

import json
import subprocess

import pytest

from sansip.phone.threads import Phone
from tests.interop.peers import sansip


@pytest.mark.timeout(60)
def test_watch_presence_and_blf() -> None:
    with Phone(username="bob") as bob:
        bob.setpresencestatus("DND")
        host, port = bob.core.ua.endpoint.config.local
        uri = f"sip:bob@{host}:{port}"
        done = subprocess.run(sansip("watch", "--presence", uri, "--blf", uri, "--duration", "2",
                                     "--json"),
                              capture_output=True, timeout=40, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    lines = [json.loads(x) for x in done.stdout.decode().splitlines() if x.startswith("{")]
    assert {"event": "presence", "peer": "bob", "presence": "DoNotDisturb", "note": ""} in lines
    assert {"event": "blf", "peer": "bob", "direction": "undefined", "state": "terminated",
            "callid": ""} in lines  # fmt: skip


def test_watch_needs_something_to_watch() -> None:
    done = subprocess.run(sansip("watch"), capture_output=True, timeout=30, check=False)
    assert done.returncode == 2 and b"--presence" in done.stderr
