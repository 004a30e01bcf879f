"""Media on one core: how many concurrent G.711 calls sansip carries, and what a codec
frame costs next to ffmpeg.

1. Concurrent calls.  N call pairs run in this process: each pair is two CallMedia
   (offer/answer done in memory) with their own RTP/RTCP sockets on 127.0.0.1, both
   sending a PCMU tone and playing what they receive, all run by one media engine on
   the asyncio driver (one 20 ms clock), the process pinned to one core.  A pair counts as one
   call (one sansip leg against its peer leg); it carries 2 streams.  For each N the
   run lasts ``--duration`` seconds after a warm-up, and a frame is bad when

   - late: its stream's tick started more than one frame (20 ms) after its grid slot,
     or its slot was skipped when the clock restarted its grid;
   - dropped: on the receiving stream, a frame was concealed (lost, late or missing
     packet), or the jitter buffer dropped a packet for overflow or drift.  The
     larger of concealed frames and RTP packets lost is counted.

   A step passes with less than 0.1 % bad frames.  N climbs a ladder (50, 100, 200,
   300, ...) up to ``--max-calls``, then bisects between the last pass and the first
   failure.  The highest passing N is compared with the target of 200 calls.

   Next to the highest passing N (or the step closest to the target when none passed)
   the same number of socket pairs runs in a bare asyncio loop, measured in the same
   run: one non-blocking UDP socket per stream, a 172-byte datagram (a PCMU packet's
   size) sent to its peer every 20 ms per socket on the loop's timer and read with
   one ``recvfrom`` per readable event, and nothing else (no SIP, RTP or audio).  Its
   CPU per stream-frame is what moving the datagrams costs by itself; the ratio
   sansip / bare is printed.

   Through the phone API (``--only phone``, N from ``--phone-calls``: 50 and 200, or 20
   with ``--quick``): two ``AsyncPhone`` objects in this process, caller and callee,
   each with ``maxlines`` = N, on 127.0.0.1 without a registrar (the caller calls
   ``sip:callee@127.0.0.1:<port>`` N times, the callee accepts each call), codec
   ``pcmu``, and each call's default audio (nothing put into ``audio_out``, so it sends
   silence; nothing read from ``audio_in``, which keeps its last 500 frames).  Measured
   like the calls step: the CPU of the process over the window per stream-frame, late
   stream ticks (each call's ``audio_out.read`` is timed as the tone is above), and
   dropped frames from each stream's statistics (through ``phone.core``); the CDRs of
   ``await call.ended()`` give the RTP totals.  Each N runs beside the engine-direct step
   of the same N, alternated ``--phone-rounds`` times, and the ratio phone /
   engine-direct of CPU per stream-frame is printed with whether it is within 10 %.
   ``--profile-phone N`` profiles one phone step.

2. Stages (sans-IO).  One PCMU stream's tick and packet input timed in memory, two
   streams fed to each other without sockets, and their parts alone (tone source,
   G.711, RTP send); then a MediaEngine ticking many streams in memory (the
   datagrams handed from socket to socket by the benchmark, no driver), where the
   engine's batching across streams and the caches of hundreds of streams count.
   What the calls step measures on top of it is the asyncio driver, the event loop
   and the socket calls.

3. Codec cost per 20 ms frame.  sansip's encoder and decoder (PCMU, PCMA, G722, opus)
   timed frame by frame over 10 s of audio, and ffmpeg (``-threads 1``) encoding and
   decoding the same kind of audio from an s16le file, its CPU time taken from
   ``getrusage(RUSAGE_CHILDREN)`` with ffmpeg's start-up cost (the same command on a
   one-frame file) subtracted.  The file is 600 s long (200 s at 48 kHz): at 60 s,
   G.711's cost is below the spread of ffmpeg's start-up.  Ratio = sansip / ffmpeg
   (above 1: sansip is slower).  Opus runs at 48 kHz with the encoder settings sansip
   uses (VoIP, its bitrate and complexity), libopus on both sides; ffmpeg cannot set
   sansip's voice-signal hint, so the table also shows libopus without it.

4. Where a stream's frame goes (``--profile N``): one step of N pairs under cProfile,
   own time grouped by layer and scaled to the CPU the unprofiled step measured.

    .venv/bin/python bench/bench_media.py                  # full run, a few minutes
    .venv/bin/python bench/bench_media.py --quick          # smoke run, about 25 s
    .venv/bin/python bench/bench_media.py --only stages,codecs --json media.json
    .venv/bin/python bench/bench_media.py --only calls --profile 200
    .venv/bin/python bench/bench_media.py --only phone --phone-calls 200 --profile-phone 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import ctypes
import gc
import json
import math
import os
import pstats
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sansip.audio.codecs import available_codecs, create_decoder, create_encoder  # noqa: E402
from sansip.audio.frames import NullSink  # noqa: E402
from sansip.audio.tones import ToneSource  # noqa: E402
from sansip.errors import SansipError  # noqa: E402
from sansip.io.asyncio import AsyncioDatagramDriver  # noqa: E402
from sansip.media import FRAME_DURATION, CallMedia, MediaStatistics  # noqa: E402
from sansip.media.engine import MediaEngine  # noqa: E402
from sansip.sdp import codec_preferences  # noqa: E402

HOST = "127.0.0.1"
FULL_LADDER = (50, 100, 200, 300, 400, 600, 800, 1000, 1400, 2000)
QUICK_LADDER = (10, 50, 100)
TARGET_CALLS = 200
BAD_LIMIT = 0.001  # a step passes below this share of late-or-dropped frames
WARMUP = 1.5  # seconds before the window opens (jitter buffers fill)
MAX_BISECT = 6
PHONE_FULL = (50, 200)  # pairs of the phone step
PHONE_QUICK = (20,)
PHONE_MAX_PAIRS = 400  # the phone step's N and duration are capped
PHONE_MAX_DURATION = 10.0
PHONE_SETUP_TIMEOUT = 30.0  # seconds for one batch of calls to connect
PHONE_BATCH = 25  # calls placed before waiting for them to connect
PHONE_SETUP_BUDGET = 180.0  # seconds for placing all the calls of a step
CPU_BOUND = 95.0  # % of the core: above it a step's CPU per stream-frame is a lower bound
WITHIN = 0.10  # the phone path is compared with the engine-direct step against this margin
CODECS = ("PCMU", "PCMA", "G722", "opus")
PARTS = ("calls", "phone", "stages", "codecs")
FRAME_MS = 20

# --------------------------------------------------------------------------- 1. calls


class _Recorder:
    """What the instrumented ports see during the measuring window."""

    def __init__(self) -> None:
        self.t0 = math.inf  # window start (grid time); ticks before are warm-up
        self.t1 = math.inf
        self.lateness = array("d")  # per stream tick: start - grid slot (s)
        self.slot_start = array("d")  # per slot: lateness of its first stream
        self.slot_busy = array("d")  # per slot: time from slot start to its last stream
        self.skipped = 0  # slots the clock never ran (grid restarts)
        self.last_due: float | None = None
        self.started = 0.0


class _TimedTone(ToneSource):
    """A stream's tone: each read is one stream tick of slot ``now``; the first
    read of a slot marks when the slot's work started."""

    def __init__(self, hz: float, rate: int, recorder: _Recorder,
                 clock: Callable[[], float], frame: float) -> None:  # fmt: skip
        super().__init__(hz, rate)
        self._rec, self._clock, self._frame = recorder, clock, frame

    def read(self, now: float | None = None) -> Any:
        rec = self._rec
        started = self._clock()
        if now is not None:
            if now != rec.last_due:  # the first stream of this slot
                rec.started = started
                if rec.t0 <= now < rec.t1:
                    rec.slot_start.append(started - now)
                    if rec.last_due is not None and now - rec.last_due > 1.5 * self._frame:
                        rec.skipped += round((now - rec.last_due) / self._frame) - 1
                rec.last_due = now
            if rec.t0 <= now < rec.t1:
                rec.lateness.append(started - now)
        return super().read(now)


class _SlotEnd:
    """Ticked after every stream of a slot: when the slot's work ended."""

    def __init__(self, recorder: _Recorder, clock: Callable[[], float]) -> None:
        self._rec, self._clock = recorder, clock

    def tick(self, now: float) -> None:
        rec = self._rec
        if rec.t0 <= now < rec.t1:
            rec.slot_busy.append(self._clock() - rec.started)


@dataclass
class Step:
    pairs: int
    streams: int
    window_s: float = 0.0
    slots: int = 0
    skipped_slots: int = 0
    stream_ticks: int = 0
    late_frames: int = 0  # stream ticks > 1 frame late, plus skipped slots x streams
    lateness_ms: dict[str, float] = field(default_factory=dict)
    tick_busy_ms: dict[str, float] = field(default_factory=dict)
    clock_late_ticks: int = 0
    clock_restarts: int = 0
    played: int = 0
    concealed: int = 0
    packets_lost: int = 0
    packets_received: int = 0
    jb_late: int = 0
    jb_overflow: int = 0
    jb_drift: int = 0
    dropped_frames: int = 0
    udp_rcvbuf_errors: int | None = None
    cpu_pct: float = 0.0
    sys_pct: float = 0.0  # of cpu_pct, in the kernel (socket calls, loopback delivery)
    others_cpu_pct: float | None = None  # the same core busy with other processes
    preempted: int = 0  # involuntary context switches during the window
    us_per_stream_frame: float = 0.0
    late_share: float = 0.0
    drop_share: float = 0.0
    bad_share: float = 0.0
    passed: bool = False
    note: str = ""


def _udp_rcvbuf_errors() -> int | None:
    """RcvbufErrors of /proc/net/snmp (machine-wide: other traffic counts too)."""
    try:
        lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()]
    except OSError:
        return None
    udp = [ln for ln in lines if ln and ln[0] == "Udp:"]
    if len(udp) < 2 or "RcvbufErrors" not in udp[0]:
        return None
    return int(udp[1][udp[0].index("RcvbufErrors")])


def _percentiles(values: array[float], scale: float = 1000.0) -> dict[str, float]:
    if not values:
        return {}
    data = np.frombuffer(values, dtype=np.float64) * scale
    qs = {"p50": 50.0, "p99": 99.0, "p99.9": 99.9}
    out = {name: round(float(np.percentile(data, q)), 3) for name, q in qs.items()}
    out["max"] = round(float(data.max()), 3)
    return out


def _core_busy(cpu: int) -> float | None:
    """Seconds core ``cpu`` was busy (all processes), from /proc/stat."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith(f"cpu{cpu} "):
                ticks = [int(v) for v in line.split()[1:]]
                idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
                return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    return None


def _involuntary_switches() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _sys_seconds() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


_StatsKey = tuple[int, int, int, int, int, int, int]


def _counters(stats: MediaStatistics) -> _StatsKey:
    jb = stats.jitter_buffer
    return (stats.frames_played, stats.frames_concealed, stats.rtp.packets_lost,
            stats.rtp.packets_received, jb.late, jb.overflow_drops, jb.drift_drops)  # fmt: skip


async def _run_calls(pairs: int, duration: float, warmup: float) -> Step:
    loop = asyncio.get_running_loop()
    rec = _Recorder()
    step = Step(pairs, 2 * pairs)
    driver = AsyncioDatagramDriver(None, None)  # media only: one engine, one clock
    await driver.start()
    engine = driver.media
    frame = engine.grid.frame
    media: list[CallMedia] = []
    prefs = codec_preferences(codec="PCMU")
    try:
        ports = [driver.open_media(HOST) for _ in range(2 * pairs)]
        for i in range(2 * pairs):
            tone = _TimedTone(300.0 + 50.0 * (i % 40), 8000, rec, loop.time, frame)
            media.append(CallMedia(HOST, ports[i].rtp_port, prefs, rng=random.Random(i),
                                   source=tone, sink=NullSink()))  # fmt: skip
        now = loop.time()
        for i in range(0, 2 * pairs, 2):
            media[i].receive_answer(media[i + 1].answer(media[i].offer(), now), now)
        for port, m in zip(ports, media, strict=True):
            assert m.stream is not None
            driver.start_media(port, m.stream)
        engine.add_ticker(_SlotEnd(rec, loop.time), loop.time())
        start = loop.time()
        await asyncio.sleep(warmup * 0.7)
        # Per-stream baselines, a few streams per loop turn so the clock keeps ticking.
        before: list[_StatsKey] = []
        for i, m in enumerate(media):
            assert m.stream is not None
            before.append(_counters(m.stream.statistics(loop.time())))
            if i % 8 == 7:
                await asyncio.sleep(0)
        rest = start + warmup - loop.time()
        await asyncio.sleep(max(rest, 0.05))
        rec.t0 = loop.time()
        rec.t1 = rec.t0 + duration
        errors0, cpu0, sys0 = _udp_rcvbuf_errors(), _cpu_seconds(), _sys_seconds()
        core = next(iter(os.sched_getaffinity(0)))
        busy0, switches0 = _core_busy(core), _involuntary_switches()
        late0, restarts0 = engine.late_ticks, engine.restarts
        await asyncio.sleep(duration)
        cpu1, errors1, sys1 = _cpu_seconds(), _udp_rcvbuf_errors(), _sys_seconds()
        busy1, switches1 = _core_busy(core), _involuntary_switches()
        step.clock_late_ticks = engine.late_ticks - late0
        step.clock_restarts = engine.restarts - restarts0
        await asyncio.sleep(0.1)  # let the last slot of the window finish
        after = [_counters(m.stream.statistics(loop.time())) for m in media if m.stream]
    finally:
        await driver.close()
        await asyncio.sleep(0.05)
    totals = [sum(a[k] - b[k] for a, b in zip(after, before, strict=True)) for k in range(7)]
    (step.played, step.concealed, step.packets_lost, step.packets_received,
     step.jb_late, step.jb_overflow, step.jb_drift) = totals  # fmt: skip
    step.window_s = duration
    step.slots = len(rec.slot_start)
    step.skipped_slots = rec.skipped
    step.stream_ticks = len(rec.lateness)
    late = int(np.count_nonzero(np.frombuffer(rec.lateness, dtype=np.float64) > frame))
    step.late_frames = late + rec.skipped * step.streams
    step.lateness_ms = _percentiles(rec.lateness)
    step.tick_busy_ms = _percentiles(rec.slot_busy)
    if errors0 is not None and errors1 is not None:
        step.udp_rcvbuf_errors = errors1 - errors0
    step.cpu_pct = 100.0 * (cpu1 - cpu0) / duration
    step.sys_pct = 100.0 * (sys1 - sys0) / duration
    if busy0 is not None and busy1 is not None:
        step.others_cpu_pct = max(0.0, 100.0 * (busy1 - busy0) / duration - step.cpu_pct)
    step.preempted = switches1 - switches0
    frames = max(1, step.stream_ticks + rec.skipped * step.streams)
    step.us_per_stream_frame = 1e6 * (cpu1 - cpu0) / frames
    step.dropped_frames = max(step.concealed, step.packets_lost) + step.jb_overflow + step.jb_drift
    step.late_share = step.late_frames / frames
    step.drop_share = step.dropped_frames / max(1, step.played + step.concealed)
    step.bad_share = step.late_share + step.drop_share
    expected = step.streams * duration / frame
    if step.stream_ticks + rec.skipped * step.streams < 0.9 * expected:
        step.note = f"only {step.stream_ticks} of ~{expected:.0f} stream ticks ran"
    step.passed = step.bad_share < BAD_LIMIT and not step.note
    return step


def run_calls(pairs: int, duration: float, warmup: float = WARMUP) -> Step:
    gc.collect()
    try:
        return asyncio.run(_run_calls(pairs, duration, warmup))
    except OSError as exc:  # e.g. out of ports or file descriptors
        step = Step(pairs, 2 * pairs, note=f"setup failed: {exc}")
        return step


@dataclass
class BareStep:
    """A bare asyncio loop moving the datagrams of ``pairs`` call pairs (no SIP, RTP
    or audio): what sending and reading them costs by itself."""

    pairs: int
    sockets: int
    datagrams_sent: int = 0
    datagrams_received: int = 0
    cpu_pct: float = 0.0
    sys_pct: float = 0.0
    us_per_stream_frame: float = 0.0
    note: str = ""


async def _run_bare(pairs: int, duration: float, warmup: float) -> BareStep:
    loop = asyncio.get_running_loop()
    frame = FRAME_MS / 1000
    step = BareStep(pairs, 2 * pairs)
    socks: list[socket.socket] = []
    try:
        for _ in range(2 * pairs):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.setblocking(False)
            sock.bind((HOST, 0))
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, 2 * 1024 * 1024)
        peers = [socks[i ^ 1].getsockname() for i in range(len(socks))]
        datagram = bytes(12 + 160)
        counts = [0, 0]  # sent, received

        def readable(sock: socket.socket) -> None:
            try:
                sock.recvfrom(65535)
            except OSError:
                return
            counts[1] += 1

        for sock in socks:
            loop.add_reader(sock.fileno(), readable, sock)
        start, ticks = loop.time(), 0
        timer: asyncio.TimerHandle | None = None

        def tick() -> None:
            nonlocal ticks, timer
            for sock, peer in zip(socks, peers, strict=True):
                try:
                    sock.sendto(datagram, peer)
                    counts[0] += 1
                except OSError:
                    pass
            ticks += 1
            timer = loop.call_at(start + ticks * frame, tick)

        timer = loop.call_at(start, tick)
        await asyncio.sleep(warmup)
        sent0, received0, cpu0, sys0 = counts[0], counts[1], _cpu_seconds(), _sys_seconds()
        await asyncio.sleep(duration)
        cpu1, sys1 = _cpu_seconds(), _sys_seconds()
        step.datagrams_sent, step.datagrams_received = counts[0] - sent0, counts[1] - received0
        if timer is not None:
            timer.cancel()
    finally:
        for sock in socks:
            with contextlib.suppress(ValueError, RuntimeError, OSError):
                loop.remove_reader(sock.fileno())
            sock.close()
    step.cpu_pct = 100.0 * (cpu1 - cpu0) / duration
    step.sys_pct = 100.0 * (sys1 - sys0) / duration
    step.us_per_stream_frame = 1e6 * (cpu1 - cpu0) / max(1, step.datagrams_sent)
    return step


def run_bare(pairs: int, duration: float, warmup: float = WARMUP) -> BareStep:
    """The bare loop's step of ``pairs`` (see :func:`_run_bare`)."""
    gc.collect()
    try:
        return asyncio.run(_run_bare(pairs, duration, warmup))
    except OSError as exc:
        return BareStep(pairs, 2 * pairs, note=f"setup failed: {exc}")


def compare_bare(steps: list[Step], best: int | None, duration: float) -> dict[str, Any]:
    """The bare loop at the highest passing N (else the step nearest the target),
    printed next to sansip's CPU per stream-frame at that N."""
    done = [s for s in steps if not s.note]
    if not done:
        return {}
    step = next((s for s in done if s.pairs == best), None) or min(
        done, key=lambda s: abs(s.pairs - TARGET_CALLS)
    )
    bare = run_bare(step.pairs, duration)
    ratio = (
        step.us_per_stream_frame / bare.us_per_stream_frame if bare.us_per_stream_frame else None
    )
    print(f"\nbare asyncio loop, same {step.pairs} pairs ({bare.sockets} sockets, one 172-byte "
          f"datagram per socket every {FRAME_MS} ms, no SIP/RTP/audio): "
          f"{bare.us_per_stream_frame:.1f} us/stream-frame (cpu {bare.cpu_pct:.0f}%, sys "
          f"{bare.sys_pct:.0f}%; {bare.datagrams_received} of {bare.datagrams_sent} datagrams "
          f"read){' ' + bare.note if bare.note else ''}")  # fmt: skip
    print(f"sansip at {step.pairs} pairs: {step.us_per_stream_frame:.1f} us/stream-frame = "
          f"{_fmt(ratio, 1, 'x')} the bare loop")  # fmt: skip
    return {"pairs": step.pairs, "sansip_us_per_stream_frame": step.us_per_stream_frame,
            "bare": asdict(bare), "ratio": ratio}  # fmt: skip


def _print_step(s: Step) -> None:
    lat = s.lateness_ms
    busy = s.tick_busy_ms
    verdict = "pass" if s.passed else "FAIL" + (f" ({s.note})" if s.note else "")
    print(
        f"  {s.pairs:>5} pairs ({s.streams:>5} streams): bad {100 * s.bad_share:7.3f}% "
        f"(late {s.late_frames}, dropped {s.dropped_frames}: concealed {s.concealed}, "
        f"lost {s.packets_lost}, jb late {s.jb_late}, overflow {s.jb_overflow}, "
        f"drift {s.jb_drift}) "
        f"lateness p50/p99/max {lat.get('p50', 0):.1f}/{lat.get('p99', 0):.1f}/"
        f"{lat.get('max', 0):.1f} ms, slot busy p50 {busy.get('p50', 0):.1f} ms, "
        f"skipped {s.skipped_slots}, cpu {s.cpu_pct:.0f}% (sys {s.sys_pct:.0f}%; "
        f"others on the core "
        f"{_fmt(s.others_cpu_pct, 0, '%')}, preempted {s.preempted}x), "
        f"{s.us_per_stream_frame:.0f} us/stream-frame, udp drops {s.udp_rcvbuf_errors}  "
        f"{verdict}",
        flush=True,
    )


def search_calls(
    ladder: list[int], duration: float, max_calls: int, budget: float
) -> tuple[list[Step], int | None, bool]:
    """Climb the ladder, then bisect; returns every step, the best N and whether the
    whole ladder passed (the real limit is then higher)."""
    deadline = time.monotonic() + budget
    steps: list[Step] = []
    best: int | None = None
    failed: int | None = None
    for n in ladder:
        if n > max_calls or time.monotonic() > deadline:
            break
        s = run_calls(n, duration)
        steps.append(s)
        _print_step(s)
        if not s.passed:
            failed = n
            break
        best = n
    if failed is None:
        return steps, best, bool(steps)
    lo, hi = best or 0, failed
    for _ in range(MAX_BISECT):
        if hi - lo <= max(5, lo // 20) or time.monotonic() > deadline:
            break
        mid = max(lo + 1, (lo + hi) // 2 // 5 * 5 or (lo + hi) // 2)
        s = run_calls(mid, duration)
        steps.append(s)
        _print_step(s)
        if s.passed:
            lo = best = mid
        else:
            hi = mid
    return steps, best, False


# --------------------------------------------------------------------------- 1b. phone


class _TimedRead:
    """Stands in for a phone call's ``audio_out.read`` (the call's default source:
    an empty queue, so silence): it records each stream tick as :class:`_TimedTone`
    does, then reads as before."""

    def __init__(self, read: Callable[..., Any], recorder: _Recorder,
                 clock: Callable[[], float], frame: float) -> None:  # fmt: skip
        self._read, self._rec, self._clock, self._frame = read, recorder, clock, frame

    def __call__(self, now: float | None = None) -> Any:
        rec = self._rec
        started = self._clock()
        if now is not None:
            if now != rec.last_due:  # the first stream of this slot
                rec.started = started
                if rec.t0 <= now < rec.t1:
                    rec.slot_start.append(started - now)
                    if rec.last_due is not None and now - rec.last_due > 1.5 * self._frame:
                        rec.skipped += round((now - rec.last_due) / self._frame) - 1
                rec.last_due = now
            if rec.t0 <= now < rec.t1:
                rec.lateness.append(started - now)
        return self._read(now)


@dataclass
class PhoneStep(Step):
    """A step of the phone path: ``pairs`` calls between two AsyncPhone objects."""

    setup_s: float = 0.0  # placing and connecting every call
    audio_in_held: int = 0  # frames the calls' unread audio_in queues hold at the end
    audio_in_dropped: int = 0  # frames those queues dropped (their bound, 500 frames)
    events_unread: int = 0  # phone events nobody read (AsyncPhone.events())
    rss_mb_before: float | None = None  # resident memory when the window opened
    rss_mb_after: float | None = None  # ... and when it closed
    cdr_rtp_sent: int = 0  # from the calls' records (await call.ended())
    cdr_rtp_received: int = 0
    cdr_rtp_lost: int = 0
    cdrs: int = 0


def _rss_mb() -> float | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


async def _run_phone(pairs: int, duration: float, warmup: float) -> PhoneStep:
    """``pairs`` calls from one AsyncPhone to another in this process (loopback, no
    registrar, PCMU, each call's default audio), measured as :func:`_run_calls` does."""
    from sansip.phone.aio import AsyncCall, AsyncPhone

    loop = asyncio.get_running_loop()
    step = PhoneStep(pairs, 2 * pairs)
    recs = [_Recorder(), _Recorder()]  # one per phone: each has its own engine and clock
    # disablesamecall=0: every call goes to the same callee (the default refuses a
    # second call with a peer already in one); samplerate=8000 and plc=0: the media
    # as in the engine-direct step (frames at the codec's rate, no resampling and no
    # audio pipeline on either side), so the difference is what the phone API adds
    params: dict[str, object] = {"codec": "pcmu", "maxlines": pairs, "localip": HOST,
                                 "samplerate": 8000, "plc": 0,
                                 "disablesamecall": 0}  # fmt: skip
    calls: list[AsyncCall] = []
    async with (AsyncPhone({**params, "username": "callee"}) as callee,
                AsyncPhone({**params, "username": "caller"}) as caller):  # fmt: skip
        engines = [caller.core.engine, callee.core.engine]
        frame = engines[0].grid.frame

        def timed(call: AsyncCall, rec: _Recorder) -> AsyncCall:
            call.audio_out.read = _TimedRead(call.audio_out.read, rec, loop.time, frame)
            return call

        port = callee.core.ua.endpoint.config.local[1]
        target = f"sip:callee@{HOST}:{port}"
        started = loop.time()
        try:
            for first in range(0, pairs, PHONE_BATCH):
                batch = [timed(await caller.call(target), recs[0])
                         for _ in range(min(PHONE_BATCH, pairs - first))]  # fmt: skip
                calls += batch
                for _ in batch:
                    incoming = timed(await callee.incoming(PHONE_SETUP_TIMEOUT), recs[1])
                    calls.append(incoming)
                    incoming.accept()
                for call in batch:
                    await call.connected(PHONE_SETUP_TIMEOUT)
                if loop.time() - started > PHONE_SETUP_BUDGET and len(calls) < 2 * pairs:
                    raise TimeoutError(f"placing the calls took over {PHONE_SETUP_BUDGET:g} s")
        except (TimeoutError, SansipError) as exc:
            step.note = f"setup failed after {len(calls)} call legs: {exc or type(exc).__name__}"
            return step
        step.setup_s = loop.time() - started
        for engine, rec in zip(engines, recs, strict=True):
            engine.add_ticker(_SlotEnd(rec, loop.time), loop.time())
        start = loop.time()
        await asyncio.sleep(warmup * 0.7)
        lines = [c for phone in (caller, callee) for c in phone.core.calls]
        streams = [c.media.stream for c in lines if c.media is not None and c.media.stream]
        if len(streams) != 2 * pairs:
            step.note = f"{len(streams)} of {2 * pairs} streams running"
        before: list[_StatsKey] = []
        for i, stream in enumerate(streams):
            before.append(_counters(stream.statistics(loop.time())))
            if i % 8 == 7:
                await asyncio.sleep(0)
        rest = start + warmup - loop.time()
        await asyncio.sleep(max(rest, 0.05))
        t0 = loop.time()
        for rec in recs:
            rec.t0, rec.t1 = t0, t0 + duration
        step.rss_mb_before = _rss_mb()
        errors0, cpu0, sys0 = _udp_rcvbuf_errors(), _cpu_seconds(), _sys_seconds()
        core = next(iter(os.sched_getaffinity(0)))
        busy0, switches0 = _core_busy(core), _involuntary_switches()
        late0 = sum(e.late_ticks for e in engines)
        restarts0 = sum(e.restarts for e in engines)
        await asyncio.sleep(duration)
        cpu1, errors1, sys1 = _cpu_seconds(), _udp_rcvbuf_errors(), _sys_seconds()
        busy1, switches1 = _core_busy(core), _involuntary_switches()
        step.rss_mb_after = _rss_mb()
        step.clock_late_ticks = sum(e.late_ticks for e in engines) - late0
        step.clock_restarts = sum(e.restarts for e in engines) - restarts0
        await asyncio.sleep(0.1)  # let the last slot of the window finish
        after = [_counters(stream.statistics(loop.time())) for stream in streams]
        step.audio_in_held = sum(len(c._audio_in) for c in calls)
        step.audio_in_dropped = sum(c._audio_in.dropped for c in calls)
        step.events_unread = caller._events.qsize() + callee._events.qsize()
        caller.hangup(-2)  # every line
        for call in calls:
            with contextlib.suppress(TimeoutError):
                record = await call.ended(PHONE_SETUP_TIMEOUT)
                step.cdrs += 1
                if call.direction == 1:  # the caller's records: what it sent and received
                    step.cdr_rtp_sent += record.rtp_sent or 0
                    step.cdr_rtp_received += record.rtp_received or 0
                    step.cdr_rtp_lost += record.rtp_lost or 0
    totals = [sum(a[k] - b[k] for a, b in zip(after, before, strict=True)) for k in range(7)]
    (step.played, step.concealed, step.packets_lost, step.packets_received,
     step.jb_late, step.jb_overflow, step.jb_drift) = totals  # fmt: skip
    step.window_s = duration
    lateness = array("d")
    slot_busy = array("d")
    for rec in recs:
        lateness.extend(rec.lateness)
        slot_busy.extend(rec.slot_busy)
    step.slots = sum(len(rec.slot_start) for rec in recs)
    step.skipped_slots = sum(rec.skipped for rec in recs)
    step.stream_ticks = len(lateness)
    late = int(np.count_nonzero(np.frombuffer(lateness, dtype=np.float64) > frame))
    step.late_frames = late + step.skipped_slots * pairs  # a phone's slot carries N streams
    step.lateness_ms = _percentiles(lateness)
    step.tick_busy_ms = _percentiles(slot_busy)
    if errors0 is not None and errors1 is not None:
        step.udp_rcvbuf_errors = errors1 - errors0
    step.cpu_pct = 100.0 * (cpu1 - cpu0) / duration
    step.sys_pct = 100.0 * (sys1 - sys0) / duration
    if busy0 is not None and busy1 is not None:
        step.others_cpu_pct = max(0.0, 100.0 * (busy1 - busy0) / duration - step.cpu_pct)
    step.preempted = switches1 - switches0
    frames = max(1, step.stream_ticks + step.skipped_slots * pairs)
    step.us_per_stream_frame = 1e6 * (cpu1 - cpu0) / frames
    step.dropped_frames = max(step.concealed, step.packets_lost) + step.jb_overflow + step.jb_drift
    step.late_share = step.late_frames / frames
    step.drop_share = step.dropped_frames / max(1, step.played + step.concealed)
    step.bad_share = step.late_share + step.drop_share
    expected = step.streams * duration / frame
    if not step.note and step.stream_ticks + step.skipped_slots * pairs < 0.9 * expected:
        step.note = f"only {step.stream_ticks} of ~{expected:.0f} stream ticks ran"
    step.passed = step.bad_share < BAD_LIMIT and not step.note
    return step


def run_phone(pairs: int, duration: float, warmup: float = WARMUP) -> PhoneStep:
    """The phone step of ``pairs`` calls (see :func:`_run_phone`)."""
    gc.collect()
    try:
        return asyncio.run(_run_phone(pairs, duration, warmup))
    except (OSError, SansipError, ImportError) as exc:  # out of ports, or no phone API
        return PhoneStep(pairs, 2 * pairs, note=f"setup failed: {exc}")


def _print_phone_step(s: PhoneStep) -> None:
    _print_step(s)
    rss = (f"{s.rss_mb_before:.0f} -> {s.rss_mb_after:.0f} MB"
           if s.rss_mb_before is not None and s.rss_mb_after is not None else "n/a")  # fmt: skip
    print(f"        phone: setup {s.setup_s:.2f} s; RSS over the window {rss}; unread audio_in "
          f"{s.audio_in_held} frames held ({s.audio_in_dropped} dropped at their bound); "
          f"{s.events_unread} phone events unread; CDRs {s.cdrs}: caller RTP sent "
          f"{s.cdr_rtp_sent}, received {s.cdr_rtp_received}, lost {s.cdr_rtp_lost}",
          flush=True)  # fmt: skip


def compare_phone(sizes: list[int], duration: float, rounds: int) -> list[dict[str, Any]]:
    """For each N: the engine-direct step (``run_calls``) and the phone step, alternated
    ``rounds`` times in this run; CPU per stream-frame and bad frames side by side."""
    rows: list[dict[str, Any]] = []
    for pairs in sizes:
        direct: list[Step] = []
        phone: list[PhoneStep] = []
        for index in range(rounds):
            order = ("direct", "phone") if index % 2 == 0 else ("phone", "direct")
            for kind in order:
                if kind == "direct":
                    print(f"  engine-direct, round {index + 1}:", flush=True)
                    direct.append(run_calls(pairs, duration))
                    _print_step(direct[-1])
                else:
                    print(f"  phone API, round {index + 1}:", flush=True)
                    phone.append(run_phone(pairs, duration))
                    _print_phone_step(phone[-1])
        rows.append(_phone_verdict(pairs, direct, phone))
    return rows


def _mean_us(steps: list[Any]) -> float | None:
    done = [s.us_per_stream_frame for s in steps if not s.note or s.stream_ticks]
    return sum(done) / len(done) if done else None


def _phone_verdict(pairs: int, direct: list[Step], phone: list[PhoneStep]) -> dict[str, Any]:
    us_direct, us_phone = _mean_us(direct), _mean_us(phone)
    bad_direct = max((s.bad_share for s in direct), default=None)
    bad_phone = max((s.bad_share for s in phone), default=None)
    ratio = us_phone / us_direct if us_phone and us_direct else None
    within = None if ratio is None else ratio <= 1 + WITHIN
    bound = [s for s in phone if s.cpu_pct >= CPU_BOUND or s.skipped_slots or s.note]
    verdict = "cannot tell"
    if ratio is not None:
        verdict = f"{'yes' if within else 'NO'} ({100 * (ratio - 1):+.0f} % CPU per stream-frame)"
    if bound and within is not None:
        if within:  # a lower bound inside the margin says nothing
            within, verdict = None, "cannot tell"
        verdict += ("; the phone step was CPU-bound (at most one core's worth of CPU spread "
                    "over the frames it should have carried), so its figure and the ratio "
                    "are lower bounds")  # fmt: skip
    bad = [_fmt(None if b is None else 100 * b, 3, "%") for b in (bad_phone, bad_direct)]
    print(f"\n{pairs} pairs: CPU per stream-frame phone API {_fmt(us_phone)} us, engine-direct "
          f"{_fmt(us_direct)} us: phone / engine-direct {_fmt(ratio, 2, 'x')}; bad frames "
          f"phone {bad[0]}, engine-direct {bad[1]} (worst round)")  # fmt: skip
    # one pair = 2 streams x 50 frames a second
    cores = [f"about {_fmt(None if us is None else 1e6 / (100 * us), 0)}"
             for us in (us_phone, us_direct)]  # fmt: skip
    if bound:
        cores[0] = f"fewer than {pairs} (CPU-bound)"
    print(f"{pairs} pairs: at these costs one core would carry {cores[0]} pairs through the "
          f"phone API, {cores[1]} engine-direct")  # fmt: skip
    print(f"{pairs} pairs: phone path within {WITHIN:.0%} of engine-direct: {verdict}\n",
          flush=True)  # fmt: skip
    return {"pairs": pairs, "engine_direct": [asdict(s) for s in direct],
            "phone": [asdict(s) for s in phone], "us_direct": us_direct, "us_phone": us_phone,
            "ratio": ratio, "within": within}  # fmt: skip


# --------------------------------------------------------------------------- 2. profile

_CATEGORIES = (
    ("resampler (phone: 16 kHz <-> 8 kHz)", ("sansip/audio/resample.py",)),
    ("PLC (phone pipeline)", ("sansip/audio/plc.py",)),
    (
        "pipeline, gain, VAD (phone)",
        ("sansip/audio/pipeline.py", "sansip/audio/gain.py", "sansip/audio/vad.py"),
    ),
    (
        "overlays, mute, queues (phone)",
        ("sansip/audio/player.py", "sansip/phone/line.py", "sansip/io/queues.py"),
    ),
    ("phone core + front end", ("sansip/phone/",)),
    ("RTP packet build/parse", ("sansip/rtp/packet.py",)),
    ("RTP session, stats, RTCP", ("sansip/rtp/",)),
    ("codec (G.711)", ("sansip/audio/codecs/",)),
    ("jitter buffer", ("sansip/audio/jitter.py",)),
    ("tone source, sink", ("sansip/audio/tones.py", "sansip/audio/frames.py")),
    ("MediaStream (tick, drain)", ("sansip/media/",)),
    ("driver + pump", ("sansip/io/asyncio.py", "sansip/io/pump.py")),
    ("media engine", ("sansip/media/engine.py",)),
    ("bench instrumentation", ("bench/bench_media.py",)),
    ("asyncio loop + transports", ("asyncio/", "selectors.py")),
    ("numpy (Python side)", ("numpy/",)),
)


def _category(filename: str, name: str) -> str:
    if filename == "~":
        if "sendto" in name:
            return "socket sendto (syscall)"
        if "recvfrom" in name or "recv" in name:
            return "socket recvfrom (syscall)"
        if "poll" in name or "select" in name:
            return "epoll wait (idle)"
        if "numpy" in name or "ndarray" in name or "ufunc" in name:
            return "numpy (C calls)"
        return "other built-ins"
    path = filename.replace("\\", "/")
    for label, marks in _CATEGORIES:
        if any(mark in path for mark in marks):
            return label
    return "other Python"


def profile_calls(pairs: int, duration: float, reference: Step | None,
                  runner: Callable[[int, float], Step] = run_calls,
                  what: str = "pairs") -> dict[str, Any]:  # fmt: skip
    """One step under cProfile (``runner``: the engine-direct step, or the phone
    step): own time by category, scaled to real per-frame CPU."""
    profiler = cProfile.Profile()
    gc.collect()
    profiler.enable()
    step = runner(pairs, duration)
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    by_cat: dict[str, float] = {}
    funcs: list[tuple[float, int, str]] = []
    cumulative: list[tuple[float, int, str]] = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        cat = _category(filename, name)
        by_cat[cat] = by_cat.get(cat, 0.0) + tottime
        short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        funcs.append((tottime, ncalls, f"{short}:{line}({name})"))
        if short.startswith(("sansip/media/", "sansip/audio/", "sansip/phone/", "sansip/rtp/")):
            cumulative.append((cumtime, ncalls, f"{short}:{line}({name})"))
    busy = sum(v for k, v in by_cat.items() if k != "epoll wait (idle)")
    real = reference.us_per_stream_frame if reference else step.us_per_stream_frame
    print(f"\nprofile of {pairs} {what} ({2 * pairs} streams), {duration:g} s under cProfile "
          f"(shares of busy own time; us scaled to {real:.1f} us/stream-frame measured "
          "without the profiler):")  # fmt: skip
    rows = []
    for cat, secs in sorted(by_cat.items(), key=lambda kv: -kv[1]):
        if cat == "epoll wait (idle)":
            continue
        share = secs / busy if busy else 0.0
        rows.append({"category": cat, "share": share, "us_per_stream_frame": share * real})
        print(f"  {cat:<30} {100 * share:5.1f}%  {share * real:6.1f} us")
    print("  top functions by own time:")
    funcs.sort(reverse=True)
    top = []
    for tottime, ncalls, label in [f for f in funcs if "epoll" not in f[2]][:25]:
        share = tottime / busy if busy else 0.0
        per_call = 1e6 * tottime / ncalls if ncalls else 0.0
        top.append({"function": label, "share": share, "calls": ncalls})
        print(f"    {100 * share:5.1f}%  {ncalls:>9} calls {per_call:6.2f} us/call  {label}")
    print("  media, audio, RTP and phone functions by cumulative time (callees included):")
    cumulative.sort(reverse=True)
    top_cumulative = []
    for cumtime, ncalls, label in cumulative[:20]:
        share = cumtime / busy if busy else 0.0
        top_cumulative.append({"function": label, "share": share, "calls": ncalls})
        print(f"    {100 * share:5.1f}%  {ncalls:>9} calls  {label}")
    return {"pairs": pairs, "what": what, "categories": rows, "top": top,
            "top_cumulative": top_cumulative, "profiled_step": asdict(step)}  # fmt: skip


# --------------------------------------------------------------------------- stages


def _per_call(func: Callable[[], object], count: int) -> float:
    """Best of 3 runs: microseconds per call of ``func``."""
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(count):
            func()
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / count


def measure_stages(frames: int) -> list[tuple[str, float]]:
    """Per-frame costs of one PCMU stream's work without sockets (sans-IO, in memory):
    the whole tick and packet input of two streams fed to each other, then the parts
    timed alone."""
    prefs = codec_preferences(codec="PCMU")
    pair = [CallMedia(HOST, port, prefs, rng=random.Random(port), source=ToneSource(440, 8000),
                      sink=NullSink()) for port in (40000, 40002)]  # fmt: skip
    pair[0].receive_answer(pair[1].answer(pair[0].offer(), 0.0), 0.0)
    streams = [m.stream for m in pair if m.stream is not None]
    addrs = [(HOST, 40000), (HOST, 40002)]
    spent = {"tick": 0.0, "datagrams_to_send": 0.0, "receive_datagram": 0.0, "get_timer": 0.0}
    clock = time.perf_counter
    for k in range(frames + 200):
        now = k * FRAME_DURATION
        if k == 200:
            spent = dict.fromkeys(spent, 0.0)
        for i, stream in enumerate(streams):
            t0 = clock()
            stream.tick(now)
            t1 = clock()
            out = stream.datagrams_to_send(now)
            t2 = clock()
            for data, _dest in out:
                streams[1 - i].receive_datagram(data, addrs[i], now + 0.001)
            t3 = clock()
            stream.get_timer()
            t4 = clock()
            spent["tick"] += t1 - t0
            spent["datagrams_to_send"] += t2 - t1
            spent["receive_datagram"] += t3 - t2
            spent["get_timer"] += t4 - t3
    count = 2 * frames
    rows = [
        (f"MediaStream.{name} (per stream-frame)", 1e6 * v / count) for name, v in spent.items()
    ]
    source = ToneSource(440, 8000)
    pcm = source.read()
    encoder, decoder = create_encoder("PCMU"), create_decoder("PCMU")
    payload = encoder.encode(pcm)
    rtp = streams[0].rtp
    n = max(2000, frames)

    def send() -> None:
        rtp.send_payload(payload, 0, 0.0)
        rtp.datagrams_to_send(0.0)

    rows += [
        ("  ToneSource.read (8 kHz, 160 samples)", _per_call(source.read, n)),
        ("  G711Encoder.encode", _per_call(lambda: encoder.encode(pcm), n)),
        ("  G711Decoder.decode", _per_call(lambda: decoder.decode(payload), n)),
        ("  RtpSession.send_payload + datagrams_to_send", _per_call(send, n)),
        ("  numpy: int16 frame + 32768 as int32, table lookup",
         _per_call(lambda: encoder._table[pcm.astype(np.int32) + 32768], n)),  # type: ignore[attr-defined]
        ("  numpy: np.concatenate of two frames", _per_call(lambda: np.concatenate((pcm, pcm)), n)),
    ]  # fmt: skip
    return rows


def measure_engine(pairs: int, frames: int) -> float:
    """Microseconds per stream-frame of one MediaEngine ticking ``pairs`` PCMU call
    pairs in memory: each datagram handed to its peer's socket at once (no driver,
    no sockets, no event loop); best of 3 runs of ``frames`` slots after a warm-up."""
    engine = MediaEngine(rng=random.Random(1))
    ports = [engine.open_ports(HOST) for _ in range(2 * pairs)]
    socket_of: dict[int, int] = {}  # bound port -> socket id
    address: dict[int, tuple[str, int]] = {}  # socket id -> its address
    while requests := engine.sockets_to_open():
        for request in requests:
            if request.port in socket_of:  # the same random port twice: as a kernel would
                engine.socket_failed(request.socket_id, "taken")
                continue
            engine.socket_opened(request.socket_id, request.port)
            socket_of[request.port] = request.socket_id
            address[request.socket_id] = (HOST, request.port)
    prefs = codec_preferences(codec="PCMU")
    media = [CallMedia(HOST, p.rtp_port, prefs, rng=random.Random(i), sink=NullSink(),
                       source=ToneSource(300.0 + 50.0 * (i % 40), 8000))
             for i, p in enumerate(ports)]  # fmt: skip
    for i in range(0, 2 * pairs, 2):
        media[i].receive_answer(media[i + 1].answer(media[i].offer(), 0.0), 0.0)
    for port, m in zip(ports, media, strict=True):
        assert m.stream is not None
        engine.start(port, m.stream, 0.0)
    clock, best = time.perf_counter, math.inf
    for run in range(4):  # the first is the warm-up
        spent = 0.0
        for _ in range(frames if run else 100):
            now = engine.grid.next_due
            t0 = clock()
            engine.handle_timer(now)
            for socket_id, data, dest in engine.datagrams_to_send():
                peer = socket_of.get(dest[1])
                if peer is not None:
                    engine.receive_datagram(peer, data, address[socket_id], now + 0.001)
            while engine.next_event() is not None:
                pass
            spent += clock() - t0
        if run:
            best = min(best, spent)
    return 1e6 * best / (frames * 2 * pairs)


def print_stages(rows: list[tuple[str, float]]) -> None:
    print("\nper-frame stages of one PCMU stream, in memory (no sockets), us:")
    for label, value in rows:
        print(f"  {label:<52} {value:7.2f}")


# --------------------------------------------------------------------------- 3. codecs


def speech_like_audio(rate: int, seconds: float) -> NDArray[np.int16]:
    """Deterministic speech-like test audio: two swept partials, a syllable envelope and
    low noise, peaking near -6 dBFS."""
    t = np.arange(int(rate * seconds)) / rate
    pitch = 2 * np.pi * (160 * t + 30 * np.sin(2 * np.pi * 0.5 * t) / (2 * np.pi * 0.5))
    voice = np.sin(pitch) + 0.5 * np.sin(2.7 * pitch) + 0.25 * np.sin(5.3 * pitch)
    if rate > 8000:
        voice += 0.1 * np.sin(2 * np.pi * 5200 * t)
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 3.1 * t) ** 2
    noise = np.random.default_rng(7).normal(0.0, 0.01, len(t))
    signal = 0.28 * voice * envelope + noise
    return np.clip(np.rint(signal * 32767), -32768, 32767).astype(np.int16)


def _opus_settings(encoder: Any) -> tuple[int, int]:
    """(bitrate, complexity) of a sansip Opus encoder; libopus defaults when unreadable."""
    try:
        lib, state = encoder._lib, encoder._state
        values = []
        for request in (lib.OPUS_GET_BITRATE_REQUEST, lib.OPUS_GET_COMPLEXITY_REQUEST):
            value = ctypes.c_int32(0)
            lib.opus_encoder_ctl(state, request, ctypes.byref(value))
            values.append(value.value)
        return values[0], values[1]
    except Exception:  # private details of the binding
        return 64000, 9


def _opus_plain_us(
    encoder: Any, frames: list[NDArray[np.int16]], opus: tuple[int, int], reps: int
) -> float | None:
    """libopus through the same binding with ffmpeg's settings (no OPUS_SET_SIGNAL
    voice hint): tells the cost of the settings from the cost of the binding."""
    try:
        lib = encoder._lib
        error = ctypes.c_int(0)
        state = lib.opus_encoder_create(encoder.sample_rate, 1, 2048, ctypes.byref(error))
        lib.opus_encoder_ctl(state, lib.OPUS_SET_BITRATE_REQUEST, ctypes.c_int32(opus[0]))
        lib.opus_encoder_ctl(state, lib.OPUS_SET_COMPLEXITY_REQUEST, ctypes.c_int32(opus[1]))
        out = (ctypes.c_ubyte * 1500)()
        out_pointer = ctypes.cast(out, lib.c_uchar_p)
        pcm_type = lib.opus_int16_p

        def encode(frame: NDArray[np.int16]) -> bytes:
            size = lib.opus_encode(state, frame.ctypes.data_as(pcm_type), len(frame),
                                   out_pointer, 1500)  # fmt: skip
            return ctypes.string_at(out, size)

        try:
            return _time_frames(encode, frames, reps)
        finally:
            lib.opus_encoder_destroy(state)
    except Exception:  # private details of the binding
        return None


def _time_frames(func: Callable[[Any], object], items: list[Any], reps: int) -> float:
    """Best of ``reps`` passes over ``items``: microseconds per item."""
    for item in items[:20]:
        func(item)
    best = math.inf
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        for item in items:
            func(item)
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / len(items)


@dataclass
class CodecRow:
    codec: str
    rate: int
    sansip_encode_us: float | None = None
    sansip_decode_us: float | None = None
    ffmpeg_encode_us: float | None = None
    ffmpeg_decode_us: float | None = None
    note: str = ""

    @property
    def encode_ratio(self) -> float | None:
        if self.sansip_encode_us is None or not self.ffmpeg_encode_us:
            return None
        return self.sansip_encode_us / self.ffmpeg_encode_us

    @property
    def decode_ratio(self) -> float | None:
        if self.sansip_decode_us is None or not self.ffmpeg_decode_us:
            return None
        return self.sansip_decode_us / self.ffmpeg_decode_us


def _ffmpeg_args(codec: str, rate: int, opus: tuple[int, int]) -> tuple[list[str], list[str]]:
    """(encoder output options, decoder input options) for ``codec``."""
    if codec in ("PCMU", "PCMA"):
        fmt = "mulaw" if codec == "PCMU" else "alaw"
        return (["-c:a", f"pcm_{fmt}", "-f", fmt],
                ["-f", fmt, "-ar", str(rate), "-ac", "1"])  # fmt: skip
    if codec == "G722":
        return ["-c:a", "g722", "-f", "g722"], ["-f", "g722"]
    bitrate, complexity = opus
    return (["-c:a", "libopus", "-application", "voip", "-b:a", str(bitrate), "-vbr", "on",
             "-compression_level", str(complexity), "-frame_duration", "20", "-f", "ogg"],
            ["-c:a", "libopus", "-f", "ogg"])  # fmt: skip


def _run_child(cmd: list[str]) -> float:
    """CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=120)  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ffmpeg_costs(
    codec: str, rate: int, audio: NDArray[np.int16], opus: tuple[int, int], *, workdir: Path,
    reps: int,
) -> tuple[float, float]:  # fmt: skip
    """ffmpeg's (encode, decode) CPU microseconds per frame, start-up subtracted."""
    enc_opts, dec_opts = _ffmpeg_args(codec, rate, opus)
    base = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1"]
    frame = rate * FRAME_MS // 1000
    results = []
    for name, pcm in (("long", audio), ("one", audio[:frame])):
        raw = workdir / f"{codec}-{name}.raw"
        encoded = workdir / f"{codec}-{name}.enc"
        pcm.astype("<i2").tofile(raw)
        enc = [*base, "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", str(raw),
               "-threads", "1", *enc_opts, "-y", str(encoded)]  # fmt: skip
        dec = [*base, *dec_opts, "-i", str(encoded), "-threads", "1", "-f", "s16le", "-y",
               "/dev/null"]  # fmt: skip
        results.append([min(_run_child(cmd) for _ in range(reps)) for cmd in (enc, dec)])
    frames = len(audio) // frame
    (enc_long, dec_long), (enc_one, dec_one) = results
    return (1e6 * max(0.0, enc_long - enc_one) / frames,
            1e6 * max(0.0, dec_long - dec_one) / frames)  # fmt: skip


def measure_codecs(sansip_seconds: float, ffmpeg_seconds: float, reps: int) -> list[CodecRow]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("ffmpeg not found (apt-get install ffmpeg): the ffmpeg columns are skipped")
    rows: list[CodecRow] = []
    have = available_codecs()
    with tempfile.TemporaryDirectory(prefix="bench_media-") as tmp:
        for codec in CODECS:
            if codec not in have:
                rows.append(CodecRow(codec, 0, note="unavailable here (libopus missing)"))
                continue
            encoder = create_encoder(codec)
            decoder = create_decoder(codec, sample_rate=encoder.sample_rate)
            rate = encoder.sample_rate
            row = CodecRow(codec, rate)
            frame = rate * FRAME_MS // 1000
            audio = speech_like_audio(rate, sansip_seconds)
            frames = [audio[i : i + frame] for i in range(0, int(rate * sansip_seconds), frame)]
            payloads = [encoder.encode(f) for f in frames]
            encoder.reset()
            row.sansip_encode_us = _time_frames(encoder.encode, frames, reps)
            row.sansip_decode_us = _time_frames(decoder.decode, payloads, reps)
            opus = _opus_settings(encoder) if codec == "opus" else (0, 0)
            if codec == "opus":
                plain = _opus_plain_us(encoder, frames, opus, reps)
                row.note = (f"48 kHz, {opus[0] // 1000} kbit/s, complexity {opus[1]}, signal "
                            f"voice; libopus without the voice hint: {_fmt(plain)} us")  # fmt: skip
            if ffmpeg is not None:
                try:
                    pcm = speech_like_audio(rate, ffmpeg_seconds * min(1.0, 16000 / rate))
                    row.ffmpeg_encode_us, row.ffmpeg_decode_us = ffmpeg_costs(
                        codec, rate, pcm, opus, workdir=Path(tmp), reps=reps
                    )
                except (subprocess.SubprocessError, OSError) as exc:
                    row.note = (row.note + "; " if row.note else "") + f"ffmpeg failed: {exc}"
            rows.append(row)
    return rows


def _fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{suffix}"


def print_codecs(rows: list[CodecRow]) -> None:
    head = (f"{'codec':<6}{'rate':>6}{'sansip enc':>12}{'ffmpeg enc':>12}{'ratio':>8}"
            f"{'sansip dec':>12}{'ffmpeg dec':>12}{'ratio':>8}  note")  # fmt: skip
    print("\ncodec cost per 20 ms frame (CPU us; ratio = sansip / ffmpeg):")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.codec:<6}{r.rate:>6}{_fmt(r.sansip_encode_us):>12}{_fmt(r.ffmpeg_encode_us):>12}"
            f"{_fmt(r.encode_ratio, 1, 'x'):>8}{_fmt(r.sansip_decode_us):>12}"
            f"{_fmt(r.ffmpeg_decode_us):>12}{_fmt(r.decode_ratio, 1, 'x'):>8}  {r.note}"
        )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cpu", type=int, default=1, help="pin to this CPU (default 1)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds measured per step")
    ap.add_argument("--max-calls", type=int, default=2000, help="most call pairs tried")
    ap.add_argument("--budget", type=float, default=900.0, help="seconds for the call search")
    ap.add_argument("--only", default=",".join(PARTS), help="parts: " + ",".join(PARTS))
    sizes = ",".join(map(str, PHONE_FULL)), ",".join(map(str, PHONE_QUICK))
    ap.add_argument("--phone-calls", default=None, metavar="N1,N2",
                    help=f"pairs of the phone step (default {sizes[0]}; --quick {sizes[1]}; "
                         f"at most {PHONE_MAX_PAIRS})")  # fmt: skip
    ap.add_argument("--phone-rounds", type=int, default=None, metavar="R",
                    help="engine-direct and phone steps alternated R times per N (default 2; "
                         "--quick 1)")  # fmt: skip
    ap.add_argument("--profile", type=int, metavar="N", help="profile one step of N pairs")
    ap.add_argument("--profile-phone", type=int, metavar="N",
                    help="profile one phone step of N calls (with --only phone)")  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="smoke run, about 25 s")
    ap.add_argument("--json", nargs="?", const="-", metavar="FILE",
                    help="results as JSON: on stdout, or into FILE")  # fmt: skip
    args = ap.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if parts - set(PARTS):
        ap.error(f"--only takes {', '.join(PARTS)}")
    if args.phone_calls:
        try:
            phone_sizes = sorted({int(n) for n in args.phone_calls.split(",") if n.strip()})
        except ValueError:
            ap.error(f"--phone-calls takes integers, got {args.phone_calls!r}")
    else:
        phone_sizes = list(PHONE_QUICK if args.quick else PHONE_FULL)
    if not phone_sizes or phone_sizes[0] < 1 or phone_sizes[-1] > PHONE_MAX_PAIRS:
        ap.error(f"--phone-calls: 1..{PHONE_MAX_PAIRS} pairs")
    rounds = args.phone_rounds or (1 if args.quick else 2)
    if not 1 <= rounds <= 5:
        ap.error("--phone-rounds: 1..5")
    cores = sorted(os.sched_getaffinity(0))
    if args.cpu not in cores:
        ap.error(f"--cpu {args.cpu} is not available (cores: {cores})")
    os.sched_setaffinity(0, {args.cpu})  # ffmpeg children inherit it
    out = sys.stderr if args.json == "-" else sys.stdout
    duration = 2.0 if args.quick else args.duration
    report: dict[str, Any] = {"cpu": args.cpu, "quick": args.quick, "duration_s": duration,
                              "python": sys.version.split()[0]}  # fmt: skip
    with contextlib.redirect_stdout(out):
        print(f"bench_media: pinned to core {args.cpu}, {duration:g} s per step, "
              f"pass = < {100 * BAD_LIMIT:g}% late-or-dropped frames; a call = one pair "
              "(2 streams, PCMU, 127.0.0.1)", flush=True)  # fmt: skip
        if "calls" in parts:
            ladder = [
                n for n in (QUICK_LADDER if args.quick else FULL_LADDER) if n <= args.max_calls
            ]
            if not args.quick and (not ladder or ladder[-1] < args.max_calls):
                ladder.append(args.max_calls)
            print(f"calls: ladder {ladder} pairs, then bisect", flush=True)
            steps, best, whole = search_calls(ladder, duration, args.max_calls, args.budget)
            best_text = "none" if best is None else (f">= {best}" if whole else str(best))
            verdict = "MET" if (best or 0) >= TARGET_CALLS else "NOT MET"
            print(f"\nhighest N with < {100 * BAD_LIMIT:g}% late-or-dropped frames: "
                  f"{best_text} call pairs = {2 * (best or 0)} streams on one core")  # fmt: skip
            print(f"target: >= {TARGET_CALLS} concurrent G.711 calls (pairs) on one core: "
                  f"{verdict}")  # fmt: skip
            report["calls"] = {"steps": [asdict(s) for s in steps], "best_pairs": best,
                               "passed_whole_ladder": whole, "target_pairs": TARGET_CALLS,
                               "verdict": verdict}  # fmt: skip
            report["calls"]["bare_loop"] = compare_bare(steps, best, duration)
            if args.profile:
                reference = min(steps, key=lambda s: abs(s.pairs - args.profile), default=None)
                report["profile"] = profile_calls(args.profile, duration, reference)
        elif args.profile:
            report["profile"] = profile_calls(args.profile, duration, None)
        if "phone" in parts:
            phone_duration = min(duration, PHONE_MAX_DURATION)
            print(f"\nphone: two AsyncPhone objects in this process (caller and callee, "
                  f"127.0.0.1, no registrar, codec pcmu, each call's default audio: nothing "
                  f"put into audio_out, nothing read from audio_in), N = {phone_sizes} calls, "
                  f"{phone_duration:g} s per step, next to the engine-direct step of the same "
                  f"N, alternated {rounds}x", flush=True)  # fmt: skip
            report["phone"] = compare_phone(phone_sizes, phone_duration, rounds)
            if args.profile_phone:
                pairs = min(args.profile_phone, PHONE_MAX_PAIRS)
                done = [p for row in report["phone"] if row["pairs"] == pairs
                        for p in row["phone"] if p["stream_ticks"]]  # fmt: skip
                reference = None
                if done:  # the profile's shares are scaled to the unprofiled CPU
                    mean = sum(p["us_per_stream_frame"] for p in done) / len(done)
                    reference = PhoneStep(pairs, 2 * pairs, us_per_stream_frame=mean)
                report["profile_phone"] = profile_calls(pairs, phone_duration, reference,
                                                        run_phone, "phone calls")  # fmt: skip
        if "stages" in parts:
            stages = measure_stages(300 if args.quick else 3000)
            pairs = 50 if args.quick else TARGET_CALLS
            stages.append((f"MediaEngine, {pairs} pairs in memory (per stream-frame)",
                           measure_engine(pairs, 50 if args.quick else 200)))  # fmt: skip
            print_stages(stages)
            report["stages_us"] = dict(stages)
        if "codecs" in parts:
            seconds, ff_seconds, reps = (2.0, 60.0, 1) if args.quick else (10.0, 600.0, 3)
            rows = measure_codecs(seconds, ff_seconds, reps)
            print_codecs(rows)
            report["codecs"] = [
                {**asdict(r), "encode_ratio": r.encode_ratio, "decode_ratio": r.decode_ratio}
                for r in rows
            ]
    if args.json == "-":
        print(json.dumps(report, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
