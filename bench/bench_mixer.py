"""Conference mixer cost per 20 ms tick, and how many parties one core mixes.

Every party talks (one of 20 tones, pre-rendered so the sources cost nothing)
and every party listens; the mixer runs at 16 kHz with 20 ms frames.  Three
ways of driving it are timed:

- ``mix``: one :meth:`ConferenceMixer.mix` call per tick with every party's
  frame (the mixing itself: weights, one sum, mix-minus, limiter, soft clip);
- ``ports``: the media clock's way: each tick every party's stream reads its
  ``port.source`` (the first read computes the tick) and writes its
  ``port.sink``, in the order the parties joined;
- ``ports-8k``: as ``ports`` with every party at 8 kHz (G.711 calls), so each
  party also runs two streaming resamplers (8 -> 16 and 16 -> 8 kHz).

For each party count the cost is the median over ``--reps`` windows of
``--seconds`` of CPU time per tick (µs) and its share of the 20 ms tick.  The
largest party count whose tick fits in one tick of one core (share <= 100 %)
is then estimated for each way from a straight line through those rows,
measured, and compared with the target of 10 parties.  The audio work of
each call (RTP, codec, jitter buffer) is not included: see bench_media.py.

    .venv/bin/python bench/bench_mixer.py               # about a minute
    .venv/bin/python bench/bench_mixer.py --quick       # smoke run, a few seconds
    .venv/bin/python bench/bench_mixer.py --cpu 1 --json mixer.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sansip.audio.mixer import ConferenceMixer  # noqa: E402
from sansip.audio.tones import ToneSource  # noqa: E402

RATE = 16000
FRAME_DURATION = 0.020
TICK_US = FRAME_DURATION * 1e6
PARTY_COUNTS = (3, 10, 20, 50)
TARGET_PARTIES = 10
LOOP_FRAMES = 50  # one second of each tone, played in a loop
TONE_COUNT = 20  # distinct tones (200 to 3050 Hz); beyond that parties share them
WAYS = ("mix", "ports", "ports-8k")


@functools.cache
def tone_frames(index: int, rate: int) -> list[NDArray[np.int16]]:
    """One second of tone number ``index`` (of :data:`TONE_COUNT`), as 20 ms frames."""
    source = ToneSource(200.0 + 150.0 * (index % TONE_COUNT), rate, level_dbfs=-20.0)
    return [source.read() for _ in range(LOOP_FRAMES)]


def make_tick(way: str, parties: int) -> Callable[[int], None]:
    """A function running tick ``n`` of a conference of ``parties``."""
    mixer = ConferenceMixer(RATE, FRAME_DURATION)
    rate = 8000 if way == "ports-8k" else RATE
    frames = [tone_frames(index % TONE_COUNT, rate) for index in range(parties)]
    if way == "mix":
        for index in range(parties):
            mixer.add_party(index)

        def mix_tick(n: int) -> None:
            position = n % LOOP_FRAMES
            mixer.mix({index: frames[index][position] for index in range(parties)})

        return mix_tick
    ports = [mixer.add_party(index, rate=rate) for index in range(parties)]

    def port_tick(n: int) -> None:
        position = n % LOOP_FRAMES
        now = n * FRAME_DURATION
        for index, port in enumerate(ports):
            port.source.read(now)
            port.sink.write(frames[index][position])

    return port_tick


def time_per_tick(tick: Callable[[int], None], seconds: float, reps: int) -> list[float]:
    """CPU µs per tick in each of ``reps`` windows of about ``seconds``."""
    n = 0
    for _ in range(20):  # warm-up: ramps, resampler history, caches
        tick(n)
        n += 1
    clock = time.process_time
    batch = 1
    start = clock()
    while clock() - start < 0.05:  # size a batch of ticks to about 50 ms
        for _ in range(batch):
            tick(n)
            n += 1
        batch *= 2
    windows = []
    for _ in range(reps):
        done = 0
        start = clock()
        while (elapsed := clock() - start) < seconds:
            for _ in range(batch):
                tick(n)
                n += 1
            done += batch
        windows.append(elapsed / done * 1e6)
    return windows


def max_parties(
    way: str, rows: dict[int, float], seconds: float, reps: int, limit: int
) -> tuple[int, float]:
    """The largest party count whose tick takes at most one tick of CPU, and
    its measured cost.

    The cost is linear in the party count: a straight line through the
    measured rows gives the estimate, which is then measured and, while it
    does not fit, scaled down by the measured overshoot.
    """
    counts = np.array(sorted(rows), dtype=np.float64)
    costs = np.array([rows[int(count)] for count in counts])
    slope, intercept = np.polyfit(counts, costs, 1)
    parties = int((TICK_US - intercept) / slope) if slope > 0 else limit
    parties = max(1, min(parties, limit))
    for _ in range(5):
        cost = statistics.median(time_per_tick(make_tick(way, parties), seconds, reps))
        if cost <= TICK_US or parties == 1:
            break
        parties = max(1, int(parties * TICK_US / cost * 0.98))
    return parties, cost


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=0.5, help="length of one timed window")
    ap.add_argument("--reps", type=int, default=5, help="windows per row (median reported)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 0.2 s x 3")
    ap.add_argument("--cpu", type=int, help="pin the process to this CPU")
    ap.add_argument("--limit", type=int, default=10000, help="most parties tried in the search")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.reps = 0.2, 3
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    results: dict[str, Any] = {"rate": RATE, "frame_duration": FRAME_DURATION, "rows": []}
    print(f"conference mixer at {RATE} Hz, {FRAME_DURATION * 1000:.0f} ms ticks "
          f"(CPU time, median of {args.reps} x {args.seconds} s)")  # fmt: skip
    print(f"{'way':<9} {'parties':>7} {'us/tick':>10} {'of tick':>8} {'us/party':>9}")
    for way in WAYS:
        for parties in PARTY_COUNTS:
            windows = time_per_tick(make_tick(way, parties), args.seconds, args.reps)
            cost = statistics.median(windows)
            share = cost / TICK_US
            print(f"{way:<9} {parties:>7} {cost:>10.1f} {share:>8.2%} {cost / parties:>9.2f}")
            results["rows"].append({"way": way, "parties": parties, "us_per_tick": cost,
                                    "tick_share": share, "windows": windows})  # fmt: skip
    print()
    results["max_parties"] = {}
    for way in WAYS:
        rows = {row["parties"]: row["us_per_tick"] for row in results["rows"] if row["way"] == way}
        count, cost = max_parties(way, rows, args.seconds, args.reps, args.limit)
        verdict = "meets" if count >= TARGET_PARTIES else "BELOW"
        print(f"{way:<9} max parties on one core: {count} ({cost:.0f} us per tick); "
              f"{verdict} the target of {TARGET_PARTIES}")  # fmt: skip
        results["max_parties"][way] = {"parties": count, "us_per_tick": cost}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
