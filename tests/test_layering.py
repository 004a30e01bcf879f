"""The layering rules of the design, checked on the source.

Imports flow downward only, and the protocol packages stay sans-IO: no
sockets, threads, event loops, clock reads, unseeded randomness or files.
``sansip.errors`` is a leaf every layer may import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sansip"

# What each package may import from sansip (besides itself and sansip.errors).
ALLOWED: dict[str, set[str]] = {
    "message": set(),
    "sdp": set(),
    "rtp": set(),
    "ice": set(),
    "dtls": set(),
    "transport": {"message"},
    "transaction": {"transport", "message"},
    "dialog": {"transaction", "transport", "message", "sdp"},
    "server": {"dialog", "transaction", "transport", "message", "sdp"},
    "audio": set(),
    "media": {"sdp", "rtp", "audio"},
    # The simulator drives machines of any layer.
    "testing": {
        "message",
        "transport",
        "transaction",
        "dialog",
        "sdp",
        "rtp",
        "ice",
        "dtls",
        "media",
        "audio",
    },
}
SANS_IO = ("message", "sdp", "rtp", "ice", "dtls", "transport", "transaction", "dialog", "media")
FORBIDDEN_MODULES = {
    "socket", "asyncio", "trio", "threading", "selectors", "subprocess", "sounddevice", "random",
    "ssl", "select",
}  # fmt: skip
FORBIDDEN_CALLS = {("time", "time"), ("time", "monotonic"), ("time", "perf_counter"),
                   ("time", "sleep"), ("os", "urandom")}  # fmt: skip


def _modules(package: str) -> list[Path]:
    root = PACKAGE / package
    return sorted(root.rglob("*.py")) if root.is_dir() else []


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_flow_downward(package: str) -> None:
    for path in _modules(package):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "sansip" or len(parts) < 2 or parts[1] in (package, "errors"):
                continue
            assert parts[1] in ALLOWED[package], f"{path.name} imports {name}"


@pytest.mark.parametrize("package", SANS_IO)
def test_protocol_layers_are_sans_io(package: str) -> None:
    for path in _modules(package):
        for name in _imports(path):
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name):
                    assert func.id != "open", f"{path.name} opens a file"
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                    assert (func.value.id, func.attr) not in FORBIDDEN_CALLS, (
                        f"{path.name} calls {func.value.id}.{func.attr}"
                    )


def test_the_message_layer_exists_and_is_checked() -> None:
    assert _modules("message"), "the check must see the message package"
