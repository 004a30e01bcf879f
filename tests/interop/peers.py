"""Starting real third-party peers for interop tests, on loopback only.

A peer that is not installed skips the test on a developer machine and
fails it in CI (``CI=true``), where ``make test`` installs every peer.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def require(binary: str, package: str) -> str:
    """The path of ``binary``; skip (fail in CI) when it is missing."""
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} not installed (apt-get install {package}; `make test` does it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_udp_port() -> int:
    """A port on 127.0.0.1 that nothing is bound to right now, for UDP and TCP."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise AssertionError("no port free for both UDP and TCP")


def sansip(*args: str) -> list[str]:
    """The command line that runs ``sansip`` from this checkout."""
    return [sys.executable, "-m", "sansip.cli.main", *args]


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process with its output in ``log``."""
    out = log.open("wb")
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)


def wait_listening(port: int, proc: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    """Wait until something holds UDP ``port`` on 127.0.0.1 (or the process died)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on udp 127.0.0.1:{port}")


def wait_tcp(port: int, proc: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    raise AssertionError(f"nothing listens on tcp 127.0.0.1:{port}")


KAMAILIO_MODULES = (
    "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    "/usr/lib/aarch64-linux-gnu/kamailio/modules",
    "/usr/lib/kamailio/modules",
)


def start_kamailio(
    tmp: Path,
    port: int,
    *,
    tls_port: int | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    presence: bool = False,
    blf: bool = False,
) -> subprocess.Popen[bytes]:
    """Kamailio as registrar and proxy on udp and tcp 127.0.0.1:``port`` (our
    own config), and on tls 127.0.0.1:``tls_port`` with ``tls_cert``/``tls_key``
    when given (needs kamailio-tls-modules); with ``presence`` also a presence
    server taking PUBLISH and SUBSCRIBE for ``presence`` (needs
    kamailio-presence-modules and kamailio-sqlite-modules); with ``blf`` (which
    implies ``presence``) also for ``dialog`` (RFC 4235), the state of every call
    through the proxy published there for its caller and callee (dialog +
    pua_dialoginfo)."""
    binary = require("kamailio", "kamailio")
    modules = next((m for m in KAMAILIO_MODULES if Path(m, "tm.so").is_file()), None)
    if modules is None:
        pytest.fail("kamailio is installed but its modules directory was not found")
    extra = [f"listen=tcp:127.0.0.1:{port}"]
    tls_module = ""
    if tls_port is not None:
        if not Path(modules, "tls.so").is_file():
            message = "kamailio tls.so not installed (apt-get install kamailio-tls-modules)"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        assert tls_cert is not None and tls_key is not None
        tls_cfg = tmp / "kamailio-tls.cfg"
        tls_cfg.write_text(
            "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
            f"require_certificate = no\nprivate_key = {tls_key}\ncertificate = {tls_cert}\n\n"
            "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
            "require_certificate = no\n"
        )
        extra += ["enable_tls=yes", f"listen=tls:127.0.0.1:{tls_port}",
                  f'alias="127.0.0.1:{tls_port}"']  # fmt: skip
        tls_module = f'loadmodule "tls.so"\nmodparam("tls", "config", "{tls_cfg}")'
    presence_module, presence_route = (
        _presence(tmp, modules, port, blf=blf) if presence or blf else ("", "")
    )
    template = (Path(__file__).parent / "kamailio.cfg.in").read_text()
    cfg = tmp / "kamailio.cfg"
    cfg.write_text(
        template.replace("@LISTEN_EXTRA@", "\n".join(extra))
        .replace("@TLS_MODULE@", tls_module)
        .replace("@PRESENCE_MODULE@", presence_module)
        .replace("@PRESENCE_ROUTE@", presence_route)
        .replace("@PORT@", str(port))
        .replace("@MODULES@", modules)
    )
    run = tmp / "run"
    run.mkdir(exist_ok=True)
    proc = start([binary, "-DD", "-E", "-f", str(cfg), "-Y", str(run), "-m", "64", "-M", "8"],
                 tmp / "kamailio.log")  # fmt: skip
    wait_listening(port, proc)
    wait_tcp(port, proc)
    if tls_port is not None:
        wait_tcp(tls_port, proc)
    return proc


PRESENCE_ROUTE = """\
	if (is_method("PUBLISH|SUBSCRIBE") && $hdr(Event) =~ "^(@EVENTS@)") {
		if (!t_newtran()) {
			sl_reply_error();
			exit;
		}
		if (is_method("PUBLISH")) {
			handle_publish();
		} else {
			handle_subscribe();
		}
		t_release();
		exit;
	}
"""

# The dialog module follows each new call (and its in-dialog requests through
# loose_route); pua_dialoginfo PUBLISHes its state, here to ourselves.
DIALOG_ROUTE = """\
	if (is_method("INVITE") && !has_totag()) {
		dlg_manage();
	}
"""


def _presence(tmp: Path, modules: str, port: int, *, blf: bool = False) -> tuple[str, str]:
    """The presence server's module lines and route for ``start_kamailio``
    (with ``blf`` also the dialog package, fed by pua_dialoginfo); its SQLite
    database made from Kamailio's own schema files."""
    schema = Path("/usr/share/kamailio/db_sqlite")
    needed = ["presence.so", "presence_xml.so", "db_sqlite.so"]
    if blf:
        needed += ["dialog.so", "pua.so", "pua_dialoginfo.so", "presence_dialoginfo.so"]
    missing = [name for name in needed if not Path(modules, name).is_file()]
    if missing or not schema.is_dir():
        what = ", ".join(missing) or f"no {schema}"
        message = (f"kamailio presence modules not installed ({what}; apt-get install "
                   "kamailio-presence-modules kamailio-sqlite-modules)")  # fmt: skip
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    database = tmp / "presence.sqlite"
    database.unlink(missing_ok=True)
    with sqlite3.connect(database) as con:
        for name in ("standard-create.sql", "presence-create.sql"):
            con.executescript((schema / name).read_text())
    url = f"sqlite://{database}"
    module = "\n".join([
        'loadmodule "db_sqlite.so"', 'loadmodule "presence.so"', 'loadmodule "presence_xml.so"',
        f'modparam("presence", "db_url", "{url}")',
        f'modparam("presence", "server_address", "sip:127.0.0.1:{port}")',
        f'modparam("presence_xml", "db_url", "{url}")',
        'modparam("presence_xml", "force_active", 1)',
    ])  # fmt: skip
    if not blf:
        return module, PRESENCE_ROUTE.replace("@EVENTS@", "presence")
    module += "\n" + "\n".join([
        'loadmodule "dialog.so"', 'loadmodule "pua.so"', 'loadmodule "presence_dialoginfo.so"',
        'loadmodule "pua_dialoginfo.so"',
        f'modparam("pua", "db_url", "{url}")',
        # the PUBLISHes of a call's state go to this server, to this very port
        f'modparam("pua", "outbound_proxy", "sip:127.0.0.1:{port}")',
    ])  # fmt: skip
    return module, PRESENCE_ROUTE.replace("@EVENTS@", "presence|dialog") + DIALOG_ROUTE


PJSUA2_PEER = Path(__file__).with_name("pjsua2_peer.py")


def pjsua2_python() -> str:
    """A Python that imports PJSIP's binding (pip ``pjsua2-python``):
    ``$PJSUA2_PYTHON`` when set, else the one running the tests; skip (fail
    in CI) when neither does."""
    chosen = os.environ.get("PJSUA2_PYTHON")
    python = chosen or sys.executable
    done = subprocess.run([python, "-c", "import pjsua2"], capture_output=True, timeout=60,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        message = (f"{python} cannot import pjsua2 (pip install pjsua2-python into it"
                   f"{'' if chosen else ', or set PJSUA2_PYTHON'})")  # fmt: skip
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


def start_pjsua2(
    tmp: Path,
    port: int,
    *,
    registrar: str = "",
    user: str,
    password: str = "",
    answer: bool = False,
    call: str = "",
    dtmf_info: str = "",
    dtmf_info_plain: str = "",
    hangup_after: float | None = None,
    srtp: str = "",
    srtp_crypto: str = "",
    codec: str = "",
    tone: float | None = None,
    record: Path | None = None,
) -> subprocess.Popen[bytes]:
    """PJSUA2 (``pjsua2_peer.py``) on udp 127.0.0.1:``port`` as ``user``,
    registering at ``registrar`` (host:port) when given; with ``answer`` it
    answers calls and follows REFERs (reporting each call's events); with
    ``call`` (a URI) it calls it once ready and, once connected, sends the
    ``dtmf_info`` digits by SIP INFO (application/dtmf-relay), then each
    ``dtmf_info_plain`` digit in an application/dtmf INFO, and hangs up
    ``hangup_after`` seconds after the last is answered (the peer's
    ``--call``, ``--dtmf-info``, ``--dtmf-info-plain``, ``--hangup-after``).
    ``srtp`` ("mandatory", "optional" or "disabled") keys its media by SDES
    over plain SIP, with only the ``srtp_crypto`` suites (comma-separated)
    when given; ``codec`` leaves it that one audio codec; ``tone`` (Hz) is
    sent instead of silence and ``record`` (a .wav) gets what its first
    call receives (``--srtp``, ``--srtp-crypto``, ``--codec``, ``--tone``,
    ``--record``).  Its
    JSON events go to ``tmp/pjsua2.out`` (read them with
    :func:`pjsua2_events`), PJSIP's log to ``tmp/pjsua2.log``.  Returns once
    it listens and says ``ready``."""
    python = pjsua2_python()
    command = [python, "-u", str(PJSUA2_PEER), "--port", str(port), "--user", user,
               "--password", password, "--logdir", str(tmp)]  # fmt: skip
    if registrar:
        command += ["--registrar", registrar]
    if answer:
        command.append("--answer")
    if call:
        command += ["--call", call]
    if dtmf_info:
        command += ["--dtmf-info", dtmf_info]
    if dtmf_info_plain:
        command += ["--dtmf-info-plain", dtmf_info_plain]
    if hangup_after is not None:
        command += ["--hangup-after", str(hangup_after)]
    if srtp:
        command += ["--srtp", srtp]
    if srtp_crypto:
        command += ["--srtp-crypto", srtp_crypto]
    if codec:
        command += ["--codec", codec]
    if tone is not None:
        command += ["--tone", str(tone)]
    if record is not None:
        command += ["--record", str(record)]
    proc = start(command, tmp / "pjsua2.out")
    try:
        wait_listening(port, proc, seconds=30)
        deadline = time.monotonic() + 30
        while not any(e["event"] == "ready" for e in pjsua2_events(tmp)):
            if proc.poll() is not None or time.monotonic() > deadline:
                output = (tmp / "pjsua2.out").read_text(errors="replace")[-2000:]
                raise AssertionError(f"pjsua2 did not start ({proc.poll()}):\n{output}")
            time.sleep(0.05)
    except BaseException:
        stop(proc)
        raise
    return proc


def pjsua2_events(tmp: Path) -> list[dict[str, Any]]:
    """The JSON events ``start_pjsua2``'s peer printed so far (a line cut
    short by a write in progress is left for the next look)."""
    events = []
    for line in (tmp / "pjsua2.out").read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def register_alice(server: str, password: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``sansip register`` as alice at ``server`` (host:port)."""
    return subprocess.run(
        sansip("register", "-p", f"serveraddress={server}", "-p", "username=alice",
               "-p", f"password={password}", "--json", *extra),
        capture_output=True, timeout=90, check=False,
    )  # fmt: skip


def json_lines(done: subprocess.CompletedProcess[bytes]) -> list[dict[str, object]]:
    """The JSON objects a ``sansip ... --json`` command printed, one per line."""
    return [json.loads(line) for line in done.stdout.decode().splitlines() if line.startswith("{")]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process, then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def call_answerer(
    tmp_path: Path, answer_args: list[str], call_args: list[str], *, timeout: float = 30
) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    """Start ``sansip answer --count 1`` on a free loopback port, run
    ``sansip call`` to it, wait for the answerer to finish; return the call's
    result and the answerer's log."""
    port = free_udp_port()
    log = tmp_path / "answer.log"
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1",
                          *answer_args), log)  # fmt: skip
    try:
        wait_listening(port, answer)
        done = subprocess.run(sansip("call", f"sip:bob@127.0.0.1:{port}", *call_args),
                              capture_output=True, timeout=timeout, check=False)  # fmt: skip
        answer.wait(10)
    finally:
        stop(answer)
    return done, log
