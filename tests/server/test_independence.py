"""The registrar/proxy stands on the transaction layer alone: it imports
nothing of the UA core (sansip.dialog), and counts what it drops in
bounded memory."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from pathlib import Path

import sansip.server
from sansip.server import RegistrarProxy
from sansip.transaction.drops import RECENT_DROPS, DropKind
from sansip.transaction.endpoint import EndpointConfig
from tests.server.helpers import SERVER

SERVER_PACKAGE = Path(sansip.server.__file__).resolve().parent


def test_no_server_module_imports_the_dialog_layer() -> None:
    modules = sorted(SERVER_PACKAGE.rglob("*.py"))
    assert modules
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert not name.startswith("sansip.dialog"), f"{path.name} imports {name}"


def test_importing_the_server_loads_nothing_of_the_dialog_layer() -> None:
    code = (
        "import sys, sansip.server\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('sansip.dialog'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)  # fmt: skip
    assert result.stdout.strip() == ""


def test_a_flood_of_garbage_is_counted_in_bounded_memory() -> None:
    server = RegistrarProxy(EndpointConfig(SERVER), rng=random.Random(1))
    for i in range(20_000):
        server.receive_datagram(b"\x16\x03\x01 not sip\r\n\r\n", ("127.0.0.1", 5060), i * 1e-3)
    stats = server.counters
    assert stats.malformed == stats.total == 20_000
    assert len(stats.recent) == RECENT_DROPS and stats.count(DropKind.MALFORMED) == 20_000
    assert not server.datagrams_to_send(30.0) and server.next_event() is None
