"""Highest SIPp call rate that `sansip answer` sustains with 0 failed calls, on one core.

In the same run the script measures the same ladder against `sansip-ua` (the
`bench/uas_baseline.py` copy of the UA-core answering path that `sansip answer
--no-media` ran before it was rebuilt on the phone API; the two sansip peers climb the
ladder interleaved, step by step), baresip (auto-answer), a minimal PJSUA2 UAS (pip
`pjsua2-python`) and SIPp's own `-sn uas` as the ceiling reference.  Everything runs
on 127.0.0.1.

For every peer and rate the answering side (UAS) is started fresh on a free port and
pinned to one core (`--cpu`), then SIPp's built-in uac scenario (INVITE, 200, ACK,
pause, BYE) places a bounded number of calls at that rate from another core.  A step
passes when SIPp exits 0, every call succeeded, SIPp really kept the rate (at least 90 %
of it; SIPp throttles itself when the UAS falls behind) and the UAS is still alive (for
sansip: it printed one CDR line per call).  A peer stops climbing at its first failed
step.  A peer that cannot be started prints `<peer>: unavailable (reason)` and the run
goes on.  With both sansip peers, the report ends with sansip (phone API) / sansip-ua (UA
core): the highest-rate ratio and the ratio of calls per CPU-second of the UAS at the
highest rate both passed, and whether the phone path is within 10 % (printed, never asserted).

    .venv/bin/python bench/bench_cps.py                 # full ladder, a few minutes
    .venv/bin/python bench/bench_cps.py --quick         # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import glob
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PEERS = ("sansip", "sansip-ua", "baresip", "pjsua2", "sipp-uas")
CDR_PEERS = ("sansip", "sansip-ua")  # they exit by themselves after --count calls
INTERLEAVED = ("sansip", "sansip-ua")  # climbed together, one step each per rate
WITHIN = 0.10  # the phone path is compared with the UA core against this margin
FULL_LADDER = (50, 100, 200, 400, 700, 1000, 1400, 2000)
QUICK_LADDER = (50, 200, 1000)
TARGET_CPS = 1000
MIN_CALLS = 200
MAX_CALLS = 10_000
RATE_KEPT = 0.9  # a step must reach this share of the asked rate
RECV_TIMEOUT_MS = 5000  # SIPp gives up on a call after this long without an answer
PAUSE_BETWEEN_STEPS = 1.0
PR_SET_PDEATHSIG = 1

# --------------------------------------------------------------------------- processes

_LIVE: list[subprocess.Popen[bytes]] = []


def _preexec(cpu: int | None) -> Callable[[], None]:
    def run() -> None:
        # the child dies with the bench, even if the bench itself is killed
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return run


def spawn(
    cmd: list[str],
    *,
    cpu: int | None,
    cwd: Path,
    stdout: Path,
    stderr: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            preexec_fn=_preexec(cpu),  # noqa: PLW1509 - no threads here
            start_new_session=True,  # Ctrl-C reaches the bench only; it stops the children
        )
    _LIVE.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], grace: float = 3.0) -> int | None:
    """Stop one process we started: SIGTERM, wait, then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)
    if proc in _LIVE:
        _LIVE.remove(proc)
    return proc.returncode


def stop_all() -> None:
    while _LIVE:  # stop() removes the process from _LIVE
        stop(_LIVE[-1], grace=2.0)


def _sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (also readable while it is an unreaped zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- ports

_USED_PORTS: set[int] = set()


def free_port() -> int:
    """A port that is free for UDP and TCP on 127.0.0.1 and was not handed out before."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port = udp.getsockname()[1]
            if port in _USED_PORTS or port > 60000:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
        _USED_PORTS.add(port)
        return port
    raise RuntimeError("no free port found")


def udp_bound(port: int) -> bool:
    """True if some socket is bound to 127.0.0.1:port/udp (from /proc, no probing bind)."""
    needle = f"0100007F:{port:04X}"
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(line.split()[1] == needle for line in lines if len(line.split()) > 1)


def udp_drops(port: int) -> int | None:
    """Datagrams the kernel dropped on the UAS socket (receive buffer full), from /proc."""
    needle = f"0100007F:{port:04X}"
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        cols = line.split()
        if len(cols) > 1 and cols[1] == needle:
            return int(cols[-1])
    return None


def wait_ready(
    proc: subprocess.Popen[bytes],
    port: int,
    timeout: float,
    marker: tuple[Path, str] | None = None,
) -> str | None:
    """Wait until proc listens on port (and wrote the marker); None, or why it failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with code {proc.returncode} before listening"
        ready = udp_bound(port)
        if ready and marker is not None:
            path, text = marker
            ready = path.exists() and text in path.read_text(errors="replace")
        if ready:
            return None
        time.sleep(0.05)
    return f"not listening on {HOST}:{port}/udp after {timeout:.0f} s"


def tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


# --------------------------------------------------------------------------- peers


@dataclass
class Uas:
    proc: subprocess.Popen[bytes]
    port: int
    user: str  # R-URI user for SIPp (-s)
    out: Path
    err: Path


@dataclass
class Context:
    workdir: Path
    cpu: int
    sipp_cpu: int | None
    pause_ms: int
    baresip_modules: str | None = None
    wav: Path | None = None


def start_sansip(ctx: Context, step_dir: Path, calls: int) -> Uas:
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [
        sys.executable,
        "-m",
        "sansip.cli.main",
        "answer",
        "--listen",
        f"{HOST}:{port}",
        "--count",
        str(calls),
        "--json",
        "--no-media",  # signalling: the SIPp scenario sends no RTP
    ]
    out, err = step_dir / "uas.out", step_dir / "uas.err"
    proc = spawn(cmd, cpu=ctx.cpu, cwd=ROOT, stdout=out, stderr=err, env=env)
    uas = Uas(proc, port, "sansip", out, err)
    why = wait_ready(proc, port, 15, (err, "listening on"))
    if why:
        stop(proc)
        raise RuntimeError(f"sansip answer {why}: {tail(err)}")
    return uas


def start_sansip_ua(ctx: Context, step_dir: Path, calls: int) -> Uas:
    """The UA-core path that `sansip answer --no-media` ran before the phone API."""
    port = free_port()
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "uas_baseline.py"),
        "--listen",
        f"{HOST}:{port}",
        "--count",
        str(calls),
        "--json",
        "--no-media",
    ]
    out, err = step_dir / "uas.out", step_dir / "uas.err"
    proc = spawn(cmd, cpu=ctx.cpu, cwd=ROOT, stdout=out, stderr=err)
    uas = Uas(proc, port, "sansip", out, err)
    why = wait_ready(proc, port, 15, (err, "listening on"))
    if why:
        stop(proc)
        raise RuntimeError(f"uas_baseline {why}: {tail(err)}")
    return uas


def _baresip_modules() -> str | None:
    env = os.environ.get("BARESIP_MODULES")
    candidates = [env] if env else []
    candidates += [
        "/usr/lib/baresip/modules",
        "/usr/local/lib/baresip/modules",
        *glob.glob("/usr/lib/*/baresip/modules"),
    ]
    for directory in candidates:
        if directory and Path(directory, "g711.so").exists():
            return directory
    return None


def make_tone(path: Path, seconds: float = 10.0, hz: float = 440.0, rate: int = 8000) -> None:
    """8 kHz mono 16-bit sine, the audio source of baresip's aufile module."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
        for i in range(int(rate * seconds))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def baresip_config(port: int, modules: str, wav: Path) -> str:
    """A loopback-only, UDP+TCP, audio-device-free, auto-answering baresip 1.x config."""
    rows = [
        ("poll_method", "epoll"),
        ("dns_server", f"{HOST}:53"),
        ("sip_listen", f"{HOST}:{port}"),
        ("call_local_timeout", "120"),
        ("call_max_calls", "64"),
        ("audio_player", "aubridge,discard"),
        ("audio_source", f"aufile,{wav}"),
        ("audio_alert", "aubridge,discard"),
        ("ausrc_srate", "8000"),
        ("ausrc_channels", "1"),
        ("auplay_srate", "8000"),
        ("auplay_channels", "1"),
        ("audio_buffer", "20-160"),
        ("rtp_ports", "20000-29999"),
        ("rtp_timeout", "0"),
        ("rtcp_mux", "no"),
        ("jitter_buffer_delay", "5-10"),
        ("net_interface", HOST),
        ("module_path", modules),  # without it baresip finds no modules
        ("module", "g711.so"),
        ("module", "aufile.so"),
        ("module", "aubridge.so"),
        ("module_tmp", "uuid.so"),
        ("module_tmp", "account.so"),
        ("module_app", "menu.so"),  # menu carries out answermode=auto
    ]
    return "".join(f"{name}\t\t{value}\n" for name, value in rows)


def start_baresip(ctx: Context, step_dir: Path, _calls: int) -> Uas:
    assert ctx.baresip_modules and ctx.wav
    port = free_port()
    conf = step_dir / "conf"
    conf.mkdir()
    (conf / "config").write_text(baresip_config(port, ctx.baresip_modules, ctx.wav))
    # the R-URI user must match this account user, or baresip answers 404
    (conf / "accounts").write_text(
        f"<sip:baresip@{HOST}:{port}>;regint=0;answermode=auto;audio_codecs=pcmu,pcma\n"
    )
    (conf / "contacts").write_text("")
    out, err = step_dir / "uas.out", step_dir / "uas.err"
    proc = spawn(
        ["baresip", "-4", "-f", str(conf)], cpu=ctx.cpu, cwd=step_dir, stdout=out, stderr=err
    )
    why = wait_ready(proc, port, 15)
    if why:
        stop(proc)
        raise RuntimeError(f"baresip {why}: {tail(out)} {tail(err)}")
    time.sleep(0.3)  # let baresip finish loading the account after binding
    return Uas(proc, port, "baresip", out, err)


PJSUA2_UAS = r'''
"""Minimal PJSUA2 UAS: answers every INVITE with 200, G.711 only, null audio device."""
import signal
import sys

import pjsua2 as pj

port, logfile, rtp_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
running = True


def stop(*_):
    global running
    running = False


class Call(pj.Call):
    def __init__(self, acc, call_id):
        super().__init__(acc, call_id)
        self.acc = acc

    def onCallState(self, prm):
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.acc.dead.append(info.id)  # deleted from the main loop only


class Account(pj.Account):
    def __init__(self):
        super().__init__()
        self.calls = {}
        self.dead = []

    def onIncomingCall(self, prm):
        call = Call(self, prm.callId)
        self.calls[prm.callId] = call
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)


ep = pj.Endpoint()
ep.libCreate()
cfg = pj.EpConfig()
cfg.uaConfig.threadCnt = 0
cfg.uaConfig.mainThreadOnly = True
cfg.uaConfig.maxCalls = 32
cfg.logConfig.level = 1
cfg.logConfig.consoleLevel = 0
cfg.logConfig.filename = logfile
cfg.medConfig.clockRate = 8000
cfg.medConfig.sndClockRate = 8000
cfg.medConfig.noVad = True
ep.libInit(cfg)
tcfg = pj.TransportConfig()
tcfg.port = port
tcfg.boundAddress = "127.0.0.1"
tcfg.publicAddress = "127.0.0.1"
ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
ep.libStart()
ep.audDevManager().setNullDev()
for codec in ep.codecEnum2():
    g711 = codec.codecId.upper().startswith(("PCMU", "PCMA"))
    ep.codecSetPriority(codec.codecId, 200 if g711 else 0)
acfg = pj.AccountConfig()
acfg.idUri = "sip:pjsua@127.0.0.1:%d" % port
media = acfg.mediaConfig.transportConfig
media.boundAddress = "127.0.0.1"
media.publicAddress = "127.0.0.1"
media.port = rtp_port
media.portRange = 2000
acfg.natConfig.sdpNatRewriteUse = 0
acfg.natConfig.contactRewriteUse = 0
acfg.natConfig.viaRewriteUse = 0
acc = Account()
acc.create(acfg)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print("ready", flush=True)
while running:
    ep.libHandleEvents(10)
    while acc.dead:
        acc.calls.pop(acc.dead.pop(), None)
ep.hangupAllCalls()
for _ in range(10):
    ep.libHandleEvents(10)
acc.calls.clear()
acc.shutdown()
ep.libDestroy()
'''


def start_pjsua2(ctx: Context, step_dir: Path, _calls: int) -> Uas:
    port = free_port()
    script = ctx.workdir / "pjsua2_uas.py"
    if not script.exists():
        script.write_text(PJSUA2_UAS)
    out, err = step_dir / "uas.out", step_dir / "uas.err"
    cmd = [sys.executable, "-u", str(script), str(port), str(step_dir / "pjsua2.log"), "40000"]
    proc = spawn(cmd, cpu=ctx.cpu, cwd=step_dir, stdout=out, stderr=err)
    why = wait_ready(proc, port, 20, (out, "ready"))
    if why:
        stop(proc)
        raise RuntimeError(f"pjsua2 UAS {why}: {tail(out)} {tail(err)}")
    return Uas(proc, port, "pjsua", out, err)


def start_sipp_uas(ctx: Context, step_dir: Path, _calls: int) -> Uas:
    port, control, media = free_port(), free_port(), free_port()
    cmd = ["sipp", "-sn", "uas", "-i", HOST, "-p", str(port)]
    cmd += ["-cp", str(control), "-mp", str(media), "-nostdin"]
    out, err = step_dir / "uas.out", step_dir / "uas.err"
    proc = spawn(cmd, cpu=ctx.cpu, cwd=step_dir, stdout=out, stderr=err)
    why = wait_ready(proc, port, 10)
    if why:
        stop(proc)
        raise RuntimeError(f"sipp uas {why}: {tail(err)}")
    return Uas(proc, port, "service", out, err)


STARTERS: dict[str, Callable[[Context, Path, int], Uas]] = {
    "sansip": start_sansip,
    "sansip-ua": start_sansip_ua,
    "baresip": start_baresip,
    "pjsua2": start_pjsua2,
    "sipp-uas": start_sipp_uas,
}


def availability(peer: str, ctx: Context) -> str | None:
    """None if the peer can run here, otherwise the reason."""
    if peer == "baresip":
        if shutil.which("baresip") is None:
            return "baresip not installed (apt-get install baresip baresip-core)"
        ctx.baresip_modules = _baresip_modules()
        if ctx.baresip_modules is None:
            return "baresip modules (g711.so) not found; set BARESIP_MODULES"
        ctx.wav = ctx.workdir / "tone.wav"
        if not ctx.wav.exists():
            make_tone(ctx.wav)
    elif peer == "pjsua2":
        try:
            probe = subprocess.run(
                [sys.executable, "-c", "import pjsua2"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "import pjsua2 took longer than 60 s"
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["?"])[-1]
            return f"cannot import pjsua2 ({last}); pip install pjsua2-python"
    return None


# --------------------------------------------------------------------------- one step


@dataclass
class Step:
    rate: int
    calls: int
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0
    achieved_cps: float = 0.0
    wall_s: float = 0.0
    uas_cpu_pct: float | None = None
    uas_cpu_s: float | None = None  # UAS CPU time (user + system) while SIPp ran
    uas_rx_drops: int | None = None
    sipp_rc: int | None = None
    cdr_lines: int | None = None
    passed: bool = False
    reasons: list[str] = field(default_factory=list)


def read_stat_csv(path: Path) -> dict[str, str] | None:
    """The last row of SIPp's -trace_stat CSV, by column name."""
    try:
        with path.open(newline="") as handle:
            rows = [row for row in csv.reader(handle, delimiter=";") if row]
    except OSError:
        return None
    if len(rows) < 2:
        return None
    return dict(zip(rows[0], rows[-1], strict=False))


def _epoch(value: str) -> float:
    return float(value.rsplit("\t", maxsplit=1)[-1])


def read_screen(path: Path) -> tuple[int, int] | None:
    """Fallback: successful and failed calls from SIPp's final statistics screen."""
    found: dict[str, int] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        for key in ("Successful call", "Failed call"):
            if line.strip().startswith(key):
                found[key] = int(line.rsplit("|", 1)[1].split()[0])
    if len(found) < 2:
        return None
    return found["Successful call"], found["Failed call"]


def run_step(ctx: Context, peer: str, rate: int, calls: int, index: int) -> Step:
    step = Step(rate, calls)
    step_dir = ctx.workdir / f"{peer}-{index:02d}-{rate}"
    step_dir.mkdir()
    uas = STARTERS[peer](ctx, step_dir, calls)
    try:
        stat = step_dir / "uac-stat.csv"
        budget = calls / rate + RECV_TIMEOUT_MS / 1000 + 20
        cmd = ["sipp", "-sn", "uac", f"{HOST}:{uas.port}", "-s", uas.user]
        cmd += ["-m", str(calls), "-r", str(rate), "-rp", "1000", "-l", str(3 * rate)]
        cmd += ["-d", str(ctx.pause_ms), "-i", HOST, "-p", str(free_port())]
        cmd += ["-cp", str(free_port()), "-mp", str(free_port()), "-nostdin"]
        cmd += ["-recv_timeout", str(RECV_TIMEOUT_MS), "-timeout", f"{math.ceil(budget)}s"]
        cmd += ["-timeout_error", "-trace_stat", "-stf", str(stat), "-fd", "1"]
        out = step_dir / "uac.out"
        cpu0 = cpu_seconds(uas.proc.pid)
        start = time.monotonic()
        uac = spawn(cmd, cpu=ctx.sipp_cpu, cwd=step_dir, stdout=out, stderr=step_dir / "uac.err")
        try:
            step.sipp_rc = uac.wait(budget + 15)
        except subprocess.TimeoutExpired:
            step.reasons.append("SIPp did not finish in time")
        finally:
            stop(uac)
        step.wall_s = time.monotonic() - start
        cpu1 = cpu_seconds(uas.proc.pid)
        step.uas_rx_drops = udp_drops(uas.port)
        if cpu0 is not None and cpu1 is not None and step.wall_s > 0:
            step.uas_cpu_s = cpu1 - cpu0
            step.uas_cpu_pct = 100 * step.uas_cpu_s / step.wall_s

        row = read_stat_csv(stat)
        if row is not None:
            step.successful = int(row.get("SuccessfulCall(C)", 0))
            step.failed = int(row.get("FailedCall(C)", 0))
            step.retransmissions = int(row.get("Retransmissions(C)", 0))
            with contextlib.suppress(KeyError, ValueError):
                elapsed = _epoch(row["CurrentTime"]) - _epoch(row["StartTime"])
                step.achieved_cps = step.successful / elapsed if elapsed > 0 else 0.0
        else:
            screen = read_screen(out)
            if screen is None:
                step.reasons.append(f"no SIPp statistics ({tail(step_dir / 'uac.err', 1)})")
            else:
                step.successful, step.failed = screen
                step.achieved_cps = step.successful / step.wall_s if step.wall_s else 0.0

        if peer in CDR_PEERS:  # it exits by itself after --count calls
            with contextlib.suppress(subprocess.TimeoutExpired):
                uas.proc.wait(3)
            text = uas.out.read_text(errors="replace")
            step.cdr_lines = sum(1 for line in text.splitlines() if line.startswith("{"))
            if step.cdr_lines != calls:
                step.reasons.append(f"{step.cdr_lines} of {calls} CDR lines")
        elif uas.proc.poll() is not None:
            step.reasons.append(
                f"UAS died (exit {uas.proc.returncode}): {tail(uas.out, 1)} {tail(uas.err, 1)}"
            )
    finally:
        stop(uas.proc)

    if step.sipp_rc not in (0, None):
        step.reasons.append(f"SIPp exit {step.sipp_rc}")
    if step.failed:
        step.reasons.append(f"{step.failed} failed calls")
    if step.successful != calls:
        step.reasons.append(f"{step.successful} of {calls} calls successful")
    if step.successful and step.achieved_cps < RATE_KEPT * rate:
        step.reasons.append(f"rate not kept ({step.achieved_cps:.0f} cps)")
    step.reasons = list(dict.fromkeys(step.reasons))
    step.passed = not step.reasons
    return step


# --------------------------------------------------------------------------- report


@dataclass
class PeerResult:
    peer: str
    available: bool = True
    reason: str = ""
    steps: list[Step] = field(default_factory=list)
    best: int | None = None  # highest passing rate
    top_passed: bool = False  # passed every step of the ladder: the real limit is higher

    @property
    def best_text(self) -> str:
        if not self.available:
            return "unavailable"
        if self.best is None:
            return "none (first step failed)"
        return f">= {self.best}" if self.top_passed else str(self.best)


def calls_for(rate: int, seconds: float) -> int:
    return max(MIN_CALLS, min(MAX_CALLS, round(rate * seconds)))


def _print_step(peer: str, step: Step) -> None:
    verdict = "pass" if step.passed else "FAIL: " + "; ".join(step.reasons)
    cpu = f"{step.uas_cpu_pct:5.1f}%" if step.uas_cpu_pct is not None else "   n/a"
    print(
        f"  {peer:<9} {step.rate:>5} cps x {step.calls:>5}: ok {step.successful:>5} "
        f"failed {step.failed:>5} retrans {step.retransmissions:>5} "
        f"{step.achieved_cps:7.1f} cps {step.wall_s:6.2f} s UAS cpu {cpu} "
        f"drops {_opt(step.uas_rx_drops)}  {verdict}",
        flush=True,
    )


def run_peers(
    ctx: Context, peers: list[str], ladder: list[int], seconds: float
) -> list[PeerResult]:
    """Climb the ladder with ``peers`` interleaved: at each rate every peer still
    climbing runs one step (the order alternates from rate to rate, so neither peer
    always runs first); a peer stops at its first failed step."""
    results = [PeerResult(peer) for peer in peers]
    climbing: list[PeerResult] = []
    for result in results:
        why = availability(result.peer, ctx)
        if why:
            result.available, result.reason = False, why
            print(f"{result.peer}: unavailable ({why})", flush=True)
        else:
            climbing.append(result)
    for index, rate in enumerate(ladder):
        if not climbing:
            break
        calls = calls_for(rate, seconds)
        for result in list(climbing if index % 2 == 0 else climbing[::-1]):
            try:
                step = run_step(ctx, result.peer, rate, calls, index)
            except RuntimeError as exc:
                if not result.steps:
                    result.available, result.reason = False, str(exc)
                    print(f"{result.peer}: unavailable ({exc})", flush=True)
                    climbing.remove(result)
                    continue
                step = Step(rate, calls, reasons=[f"UAS did not start: {exc}"])
            result.steps.append(step)
            _print_step(result.peer, step)
            if not step.passed:
                climbing.remove(result)
                continue
            result.best = rate
            time.sleep(PAUSE_BETWEEN_STEPS)
    for result in results:
        result.top_passed = bool(result.steps) and all(s.passed for s in result.steps)
        result.top_passed = result.top_passed and len(result.steps) == len(ladder)
    return results


def groups_of(peers: list[str]) -> list[list[str]]:
    """The peers in the order asked, the INTERLEAVED ones together at the first one's place."""
    groups: list[list[str]] = []
    together = [p for p in peers if p in INTERLEAVED]
    for peer in peers:
        if peer not in INTERLEAVED:
            groups.append([peer])
        elif peer == together[0]:
            groups.append(together)
    return groups


def ratio(mine: PeerResult, other: PeerResult | None) -> tuple[str, float | None]:
    if other is None:
        return "not measured", None
    if not other.available:
        return f"n/a ({other.peer} unavailable)", None
    if not other.best:
        return f"n/a ({other.peer} passed no step)", None
    if not mine.best:
        return "0 (sansip passed no step)", 0.0
    value = mine.best / other.best
    bound = ""
    if mine.top_passed and not other.top_passed:
        bound = " (lower bound: sansip passed the whole ladder)"
    elif other.top_passed and not mine.top_passed:
        bound = f" (upper bound: {other.peer} passed the whole ladder)"
    elif mine.top_passed and other.top_passed:
        bound = " (both passed the whole ladder)"
    return f"{value:.2f}x{bound}", value


def compare_phone(phone: PeerResult | None, ua: PeerResult | None) -> dict[str, object]:
    """sansip (the phone API, `sansip answer`) against sansip-ua (the UA core, the
    command's path before): the highest-rate ratio, and calls per CPU-second of the UAS
    at the highest rate both passed (the finer figure: the ladder's steps are coarse)."""
    if phone is None or ua is None:
        return {}
    print()
    missing = [r.peer for r in (phone, ua) if not r.available]
    if missing:
        print(f"sansip (phone API) / sansip-ua (UA core): n/a ({', '.join(missing)} unavailable)")
        return {"within": None, "unavailable": missing}
    text, value = ratio(phone, ua)
    common = []
    for step in phone.steps:
        other = next((s for s in ua.steps if s.rate == step.rate), None)
        both = step.passed and other is not None and other.passed
        if both and step.uas_cpu_s and other is not None and other.uas_cpu_s:
            common.append((step, other))
    rows = []
    for mine, base in common:
        ms_mine = 1000 * (mine.uas_cpu_s or 0.0) / mine.calls
        ms_base = 1000 * (base.uas_cpu_s or 0.0) / base.calls
        rows.append({"rate": mine.rate, "sansip_ms_per_call": ms_mine,
                     "sansip_ua_ms_per_call": ms_base, "ratio": ms_base / ms_mine})  # fmt: skip
        print(f"  at {mine.rate:>5} cps: UAS CPU per call sansip {ms_mine:.3f} ms, sansip-ua "
              f"{ms_base:.3f} ms: {ms_base / ms_mine:.2f}x calls per CPU-second")  # fmt: skip
    per_cpu = None
    if common:  # the highest rate both passed: the most calls and CPU, the load that counts
        mine, base = common[-1]
        per_cpu = (mine.calls / (mine.uas_cpu_s or 1.0)) / (base.calls / (base.uas_cpu_s or 1.0))
        cpu_text = f"{per_cpu:.2f}x calls per UAS CPU-second (at {mine.rate} cps)"
    else:
        cpu_text = "calls per UAS CPU-second not measured (no rate passed by both)"
    print(f"sansip (phone API) / sansip-ua (UA core): {text} highest rate; {cpu_text}")
    figures = [v for v in (value, per_cpu) if v is not None]
    if value is not None and phone.top_passed and ua.top_passed:
        figures = [per_cpu] if per_cpu is not None else []  # the ladder ends: rates tell nothing
    if not figures:
        within = None
        verdict = "cannot tell (nothing both passed)"
    else:
        within = min(figures) >= 1 - WITHIN
        worst = min(figures)
        verdict = (
            f"{'yes' if within else 'NO'} (worst figure {worst:.2f}x, {100 * (worst - 1):+.0f} %)"
        )
    print(f"phone path within {WITHIN:.0%} of the UA core: {verdict}")
    return {"rate": {"text": text, "value": value}, "calls_per_cpu_s_ratio": per_cpu,
            "steps": rows, "within": within}  # fmt: skip


def _opt(value: int | None, missing: str = "n/a") -> str:
    return missing if value is None else str(value)


def print_table(results: list[PeerResult]) -> None:
    head = (
        f"{'peer':<9}{'rate':>6}{'calls':>7}{'ok':>7}{'failed':>7}{'retrans':>8}"
        f"{'cps':>9}{'wall s':>8}{'UAS cpu':>9}{'drops':>7}{'CDRs':>6}  result"
    )
    print()
    print(head)
    print("-" * len(head))
    for res in results:
        if not res.available:
            print(f"{res.peer:<9}unavailable ({res.reason})")
            continue
        for s in res.steps:
            cpu = f"{s.uas_cpu_pct:.1f}%" if s.uas_cpu_pct is not None else "n/a"
            verdict = "pass" if s.passed else "FAIL: " + "; ".join(s.reasons)
            print(
                f"{res.peer:<9}{s.rate:>6}{s.calls:>7}{s.successful:>7}{s.failed:>7}"
                f"{s.retransmissions:>8}{s.achieved_cps:>9.1f}{s.wall_s:>8.2f}{cpu:>9}"
                f"{_opt(s.uas_rx_drops):>7}{_opt(s.cdr_lines, '-'):>6}  {verdict}"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--max-rate", type=int, default=2000, help="highest rate of the ladder")
    ap.add_argument(
        "--rates", default=None, metavar="R1,R2,...", help="the ladder itself (overrides --quick's)"
    )
    ap.add_argument(
        "--seconds-per-step",
        type=float,
        default=5.0,
        help=f"calls per step = rate x this (at least {MIN_CALLS}, at most {MAX_CALLS})",
    )
    ap.add_argument("--only", default=",".join(PEERS), help="peers: " + ",".join(PEERS))
    ap.add_argument("--cpu", type=int, default=None, help="core for the UAS (default: 1)")
    ap.add_argument("--pause-ms", type=int, default=0, help="SIPp -d: pause between ACK and BYE")
    ap.add_argument("--json", metavar="FILE", help="also write every step and the verdicts")
    ap.add_argument("--quick", action="store_true", help="smoke run: short ladder, 1 s steps")
    ap.add_argument("--keep-logs", action="store_true", help="keep the per-step logs")
    args = ap.parse_args(argv)

    peers = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        ap.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    if shutil.which("sipp") is None:
        print("sipp not found: apt-get install sip-tester", file=sys.stderr)
        return 2
    if args.rates:
        try:
            ladder = sorted({int(r) for r in args.rates.split(",") if r.strip()})
        except ValueError:
            ap.error(f"--rates takes integers, got {args.rates!r}")
        if not ladder or ladder[0] < 1:
            ap.error("--rates needs rates of at least 1 call/s")
    else:
        ladder = [r for r in (QUICK_LADDER if args.quick else FULL_LADDER) if r <= args.max_rate]
        if not ladder or (not args.quick and ladder[-1] < args.max_rate):
            ladder.append(args.max_rate)
    seconds = 1.0 if args.quick else args.seconds_per_step

    cores = sorted(os.sched_getaffinity(0))
    cpu = args.cpu if args.cpu is not None else (1 if 1 in cores else cores[0])
    if cpu not in cores:
        ap.error(f"--cpu {cpu} is not available (cores: {cores})")
    others = [c for c in cores if c != cpu]
    sipp_cpu = others[0] if others else None
    if sipp_cpu is None:
        print("warning: one core only: SIPp shares the core of the UAS", file=sys.stderr)
    else:
        os.sched_setaffinity(0, {sipp_cpu})  # keep this script off the UAS core too

    signal.signal(signal.SIGTERM, _sigterm)
    workdir = Path(tempfile.mkdtemp(prefix="bench_cps-"))
    ctx = Context(workdir, cpu, sipp_cpu, args.pause_ms)
    print(
        f"bench_cps: UAS on core {cpu}, SIPp on core {sipp_cpu}, ladder {ladder} cps, "
        f"{seconds:g} s of calls per step ({MIN_CALLS}..{MAX_CALLS}), SIPp -d {args.pause_ms} ms, "
        f"pass = SIPp exit 0, 0 failed, >= {RATE_KEPT:.0%} of the rate kept; logs in {workdir}",
        flush=True,
    )
    results: list[PeerResult] = []
    interrupted = False
    try:
        for group in groups_of(peers):
            print(f"{', '.join(group)}{' (interleaved)' if len(group) > 1 else ''}:", flush=True)
            results.extend(run_peers(ctx, group, ladder, seconds))
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping every process started here", file=sys.stderr)
    finally:
        stop_all()
        if not args.keep_logs and not interrupted:
            shutil.rmtree(workdir, ignore_errors=True)

    print_table(results)
    by_name = {r.peer: r for r in results}
    print()
    print("highest rate with 0 failed calls (calls/s):")
    for res in results:
        print(f"  {res.peer:<9} {res.best_text}")
    sansip = by_name.get("sansip")
    ratios: dict[str, dict[str, object]] = {}
    verdict = "not measured"
    phone_vs_ua: dict[str, object] = {}
    if sansip is not None and sansip.available:
        print()
        for other in ("baresip", "pjsua2"):
            text, value = ratio(sansip, by_name.get(other))
            ratios[other] = {"text": text, "value": value}
            print(f"sansip / {other}: {text}")
        verdict = "MET" if (sansip.best or 0) >= TARGET_CPS else "NOT MET"
        print(f"target: sansip >= {TARGET_CPS} calls/s on one core: {verdict}")
    phone_vs_ua = compare_phone(sansip, by_name.get("sansip-ua"))
    if args.json:
        report = {
            "ladder": ladder,
            "seconds_per_step": seconds,
            "uas_cpu": cpu,
            "sipp_cpu": sipp_cpu,
            "pause_ms": args.pause_ms,
            "interrupted": interrupted,
            "peers": {
                r.peer: {
                    "available": r.available,
                    "reason": r.reason,
                    "best": r.best,
                    "passed_whole_ladder": r.top_passed,
                    "steps": [asdict(s) for s in r.steps],
                }
                for r in results
            },
            "ratios": ratios,
            "phone_vs_ua": phone_vs_ua,
            "target": {"cps": TARGET_CPS, "verdict": verdict},
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
