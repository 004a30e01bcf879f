"""The layering rules of the design, checked on the source.

Imports flow downward only, and the protocol and audio packages stay
sans-IO: no sockets, threads, event loops, clock reads, unseeded randomness
or files.  ``sansip.errors`` is a leaf every layer may import.  The io
package (the drivers) sits above every sans-IO package; only the
applications (the phone API, the commands, later the web softphone) sit
above it, and the commands sit on the phone API.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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
    "dialog": {"transaction", "transport", "message", "sdp", "bodies"},
    "server": {"transaction", "transport", "message"},
    "audio": set(),
    "bodies": set(),
    # The media path runs what keys and carries it: DTLS-SRTP (RFC 5764)
    # shares the RTP port, as ICE's checks will.
    "media": {"sdp", "rtp", "audio", "dtls", "ice"},
    # The drivers run the machines of every layer below the applications.
    "io": {
        "message",
        "transport",
        "transaction",
        "dialog",
        "server",
        "sdp",
        "rtp",
        "ice",
        "dtls",
        "media",
        "audio",
    },
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
# The applications: they may import any package.
APPLICATIONS = {"cli", "phone", "web"}
SANS_IO = (
    "message", "sdp", "rtp", "ice", "dtls", "transport", "transaction", "dialog", "server",
    "media", "audio", "bodies",
)  # fmt: skip
FORBIDDEN_MODULES = {
    "socket", "asyncio", "trio", "threading", "selectors", "subprocess", "sounddevice", "random",
    "ssl", "select", "secrets", "queue", "concurrent", "multiprocessing", "tempfile", "shutil",
}  # fmt: skip
# Functions that read a clock, draw randomness or touch files, by module:
# neither called, referred to nor imported with ``from``.
FORBIDDEN_FUNCTIONS: dict[str, set[str]] = {
    "time": {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
             "process_time", "sleep"},
    "os": {"urandom", "getrandom", "open", "fdopen", "read", "write", "remove", "unlink",
           "rename", "replace", "mkdir", "makedirs", "rmdir", "removedirs", "listdir", "scandir",
           "stat", "lstat", "walk", "truncate", "fsync", "system", "popen", "getpid"},
    "os.path": {"exists", "isfile", "isdir", "getsize", "getmtime"},
    "io": {"open", "open_code", "FileIO"},
    "wave": {"open"},
    "codecs": {"open"},
    "builtins": {"open"},
    "datetime.datetime": {"now", "utcnow", "today"},
    "datetime.date": {"today"},
}  # fmt: skip
# Methods that only a Path (or a file) has: flagged on any object.
PATH_ONLY_METHODS = {"read_bytes", "write_bytes", "read_text", "write_text", "touch", "iterdir",
                     "rglob", "unlink", "mkdir", "rmdir", "open"}  # fmt: skip
# Methods of Path that touch the file system, flagged on a known Path.
PATH_METHODS = PATH_ONLY_METHODS | {"exists", "is_file", "is_dir", "stat", "glob", "rename",
                                    "replace", "resolve", "samefile", "chmod"}  # fmt: skip
PATH_TYPES = {"Path", "PosixPath", "WindowsPath"}

# Audio modules that still open files, and where: the file players read
# from a path (``FilePlayer`` and the ringback/ringtone sources take one, and
# the command line hands them one).  The writing side goes through injected
# byte sinks; reading has not been moved behind byte sources yet.
FILE_READERS: dict[str, set[str]] = {
    "audio/player.py": {"playback_format"},
    "audio/wavfile.py": {"WavPlayer"},
    "audio/oggopus.py": {"OggOpusReader"},
}


def _packages() -> list[str]:
    return sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())


def _modules(package: str) -> list[Path]:
    root = PACKAGE / package
    return sorted(root.rglob("*.py")) if root.is_dir() else []


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _mentions_path(annotation: ast.expr | None) -> bool:
    return annotation is not None and any(
        isinstance(n, ast.Name) and n.id in PATH_TYPES for n in ast.walk(annotation)
    )


def _is_path_call(node: ast.expr) -> bool:
    """``Path(...)`` (or ``pathlib.Path(...)``), also as the left of ``/``."""
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        node = node.left
    if not isinstance(node, ast.Call):
        return False
    name = _dotted(node.func)
    return name is not None and name.rsplit(".", 1)[-1] in PATH_TYPES


class _Checker(ast.NodeVisitor):
    """Collects what a module does that a sans-IO module must not, with the
    names of the class or function it happens in."""

    def __init__(self, tree: ast.Module) -> None:
        self.found: list[tuple[tuple[str, ...], str]] = []
        self._scope: list[str] = []
        self._aliases: dict[str, str] = {}  # local name -> module it stands for
        self._paths: set[str] = set()  # names and attributes known to hold a Path
        for node in ast.walk(tree):
            self._learn(node)
        self.visit(tree)

    def _learn(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                self._aliases[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                self._aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.arg) and _mentions_path(node.annotation):
            self._paths.add(node.arg)
        elif isinstance(node, ast.AnnAssign) and (
            _mentions_path(node.annotation) or (node.value is not None
                                                and _is_path_call(node.value))
        ):  # fmt: skip
            self._paths.add(_dotted(node.target) or "")
        elif isinstance(node, ast.Assign) and _is_path_call(node.value):
            self._paths.update(_dotted(target) or "" for target in node.targets)

    def _flag(self, what: str) -> None:
        self.found.append((tuple(self._scope), what))

    def _resolve(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        module = self._aliases.get(head, head)
        return f"{module}.{rest}" if rest else module

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scope.append(node.name)
        self.generic_visit(node)
        self._scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._scope.append(node.name)
        self.generic_visit(node)
        self._scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                self._flag(f"imports {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level == 0 and module.split(".")[0] in FORBIDDEN_MODULES:
            self._flag(f"imports {module}")
        for alias in node.names:
            if alias.name in FORBIDDEN_FUNCTIONS.get(module, ()):
                self._flag(f"imports {module}.{alias.name}")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "open" and isinstance(node.ctx, ast.Load):
            self._flag("uses the builtin open")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = _dotted(node.value)
        if base is not None and node.attr in FORBIDDEN_FUNCTIONS.get(self._resolve(base), ()):
            self._flag(f"uses {self._resolve(base)}.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            receiver = _dotted(func.value)
            known = _is_path_call(func.value) or receiver in self._paths
            # A name like ``path`` or ``self._wav_path`` probably holds a Path
            # (but may be a string: ``str.replace`` is left alone then).
            named = receiver is not None and "path" in receiver.rsplit(".", 1)[-1].lower()
            if (
                func.attr in PATH_ONLY_METHODS - {"open"}
                or (known and func.attr in PATH_METHODS)
                or (named and func.attr in PATH_METHODS - {"replace"})
            ):
                self._flag(f"calls .{func.attr}() on {receiver or 'a Path'}")
        self.generic_visit(node)


def _violations(source: str) -> list[tuple[tuple[str, ...], str]]:
    return _Checker(ast.parse(source)).found


def _checked_modules() -> Iterator[tuple[Path, list[tuple[tuple[str, ...], str]]]]:
    for package in SANS_IO:
        for path in _modules(package):
            yield path, _violations(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_flow_downward(package: str) -> None:
    for path in _modules(package):
        for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            parts = name.split(".")
            if parts[0] != "sansip" or len(parts) < 2 or parts[1] in (package, "errors"):
                continue
            assert parts[1] in ALLOWED[package], f"{path.name} imports {name}"


# The commands are clients of the phone API: each module of sansip.cli may
# import sansip.phone (and sansip.errors, and the other cli modules), plus
# what it names here, with why.
CLI_EXTRA: dict[str, set[str]] = {
    # The registrar is a server application, not a phone: the server's
    # machines on an asyncio driver.
    "registrar.py": {"server", "io", "transaction", "transport"},
    # The demo runs the embedded registrar and checks what it hears by spectrum.
    "demo.py": {"server", "audio.analysis"},
    # ``demo --messages`` shows the parser on the RFC 4475/5118 torture messages.
    "corpus_demo.py": {"message"},
}


def test_the_commands_sit_on_the_phone_api() -> None:
    for path in _modules("cli"):
        extra = CLI_EXTRA.get(path.name, set())
        for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            parts = name.split(".")
            if parts[0] != "sansip" or len(parts) < 2 or parts[1] in ("cli", "phone", "errors"):
                continue
            allowed = parts[1] in extra or ".".join(parts[1:3]) in extra
            assert allowed, f"cli/{path.name} imports {name}: the commands use sansip.phone"


def test_every_package_has_its_place() -> None:
    assert set(_packages()) <= set(ALLOWED) | APPLICATIONS
    for package, below in ALLOWED.items():
        assert not below & APPLICATIONS, f"{package} may not import an application"


@pytest.mark.parametrize("package", SANS_IO)
def test_protocol_and_audio_layers_are_sans_io(package: str) -> None:
    for path in _modules(package):
        allowed = FILE_READERS.get(f"{package}/{path.relative_to(PACKAGE / package)}", set())
        for scope, what in _violations(path.read_text(encoding="utf-8")):
            assert set(scope) & allowed, f"{path.name}: {'.'.join(scope) or 'module'} {what}"


def test_the_file_readers_allowed_still_read_files() -> None:
    """The allow-list names no more than it needs: each entry still opens a file."""
    for module, scopes in FILE_READERS.items():
        found = _violations((PACKAGE / module).read_text(encoding="utf-8"))
        for scope in scopes:
            assert any(scope in where for where, _what in found), f"{module}: {scope} is clean"


@pytest.mark.parametrize(
    "source",
    [
        "import secrets",
        "import random as r",
        "from time import monotonic",
        "from os import urandom",
        "import time as t\nclock = t.perf_counter",
        "import time\ntime.sleep(1)",
        "import os\nos.remove('x')",
        "import os.path\nos.path.exists('x')",
        "import io\nio.open('x')",
        "import wave\nwave.open('x', 'rb')",
        "from pathlib import Path\nPath('x').open('rb')",
        "from pathlib import Path\n(Path('x') / 'y').stat()",
        "def f(p):\n    return p.read_bytes()",
        "def f(p):\n    p.write_text('x')",
        "from pathlib import Path\ndef f(p: str | Path):\n    p.open()",
        "from pathlib import Path\nclass A:\n    def __init__(self, x):\n"
        "        self.where = Path(x)\n    def f(self):\n        self.where.open()",
        "def f(self):\n    self.path.open('wb')",
        "from pathlib import Path\ndef f(p: Path):\n    p.replace('q')",
        "f = open('x')",
        "reader = open",
        "import threading",
        "from datetime import datetime\nstamp = datetime.now()",
        "import datetime as dt\ndt.date.today()",
        "from concurrent.futures import ThreadPoolExecutor",
    ],
)
def test_the_check_catches(source: str) -> None:
    assert _violations(source), source


@pytest.mark.parametrize(
    "source",
    [
        "import math\nmath.floor(1.5)",
        "from datetime import UTC, datetime\nwhen = datetime(2024, 1, 1, tzinfo=UTC)",
        "x = 'a.b'.replace('.', '/')",
        "def f(uri):\n    return uri.path.replace('/', '.')",
        "def f(self):\n    self.devices.open_capture()",
        "from pathlib import Path\nsuffix = Path('a.wav').suffix.lower()",
        "def f(opener):\n    opener.close()",
    ],
)
def test_the_check_lets_pass(source: str) -> None:
    assert not _violations(source), source


def test_the_message_layer_exists_and_is_checked() -> None:
    assert _modules("message"), "the check must see the message package"
    assert _modules("audio") and _modules("server"), "audio and server are checked too"
