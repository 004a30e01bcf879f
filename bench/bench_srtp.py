"""SRTP throughput on one core: sansip's pure-Python SRTP next to libsrtp (pylibsrtp).

For each profile both implement (AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32,
AEAD_AES_128_GCM, AEAD_AES_256_GCM), one stream of ``--packets`` RTP packets
(12-byte header, ``--payload`` bytes of payload, PT 0, one SSRC, sequence numbers
starting 1000 below the wrap, so the rollover counter moves) is

- protected by a fresh sender: packets/s of ``protect_rtp`` (sansip) and
  ``Session.protect`` (libsrtp);
- unprotected by a fresh receiver, in order: packets/s of ``unprotect_rtp`` and
  ``Session.unprotect`` (with authentication and the replay window).

Each batch is timed as one loop over the pre-built packets (the loop's own cost
is in both sides' figures); a row is the median over ``--reps`` batches, sansip and
libsrtp alternating batch by batch so load changes on the machine hit both.
Ratio = sansip / libsrtp packets/s; the target is at least 0.4x for every profile
in both directions.

Before any timing the two implementations are checked against each other with the
same master keys: the packets each protects must be byte-identical and each must
unprotect the other's.  A difference marks the profile ``** MISMATCH`` and skips
its timing.

    .venv/bin/python bench/bench_srtp.py                 # about half a minute
    .venv/bin/python bench/bench_srtp.py --quick         # smoke run, a few seconds
    .venv/bin/python bench/bench_srtp.py --cpu 1 --json srtp.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sansip.rtp.srtp import PROFILES, SrtpProfile, SrtpTransform  # noqa: E402

TARGET = 0.4  # sansip / libsrtp packets/s, each profile and direction
SSRC = 0x5EED5EED
LIBSRTP_NAMES = {
    "AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32",
    "AEAD_AES_128_GCM": "SRTP_PROFILE_AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM": "SRTP_PROFILE_AEAD_AES_256_GCM",
}

Side = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]  # (protect, unprotect)


def plain_packets(count: int, payload: int) -> list[bytes]:
    """``count`` RTP packets of one stream, sequence numbers from 64536 on."""
    rng = random.Random(payload)
    body = rng.randbytes(payload)
    out = []
    for n in range(count):
        seq = (64536 + n) & 0xFFFF
        header = b"\x80\x00" + seq.to_bytes(2) + (160 * n & 0xFFFFFFFF).to_bytes(4)
        out.append(header + SSRC.to_bytes(4) + body)
    return out


def sansip_pair(profile: SrtpProfile, key: bytes) -> Side:
    """Fresh sansip sender and receiver keyed with ``key`` both ways."""
    sender, receiver = SrtpTransform(profile, key, key), SrtpTransform(profile, key, key)
    return sender.protect_rtp, receiver.unprotect_rtp


def libsrtp_pair(profile: SrtpProfile, key: bytes) -> Side:
    """Fresh libsrtp outbound and inbound sessions keyed with ``key``."""
    import pylibsrtp

    policy = pylibsrtp.Policy
    srtp_profile = getattr(policy, LIBSRTP_NAMES[profile.name])
    outbound = pylibsrtp.Session(policy(key, policy.SSRC_ANY_OUTBOUND, 0, srtp_profile))
    inbound = pylibsrtp.Session(policy(key, policy.SSRC_ANY_INBOUND, 0, srtp_profile))
    return outbound.protect, inbound.unprotect


def check(profile: SrtpProfile, key: bytes, plains: list[bytes]) -> str | None:
    """None when both implementations agree on ``plains``, else what differs."""
    ours, theirs = sansip_pair(profile, key), libsrtp_pair(profile, key)
    ours_wire = [ours[0](p) for p in plains]
    theirs_wire = [theirs[0](p) for p in plains]
    if ours_wire != theirs_wire:
        return "protected packets differ"
    ours, theirs = sansip_pair(profile, key), libsrtp_pair(profile, key)
    if [theirs[1](w) for w in ours_wire] != plains:
        return "libsrtp does not unprotect sansip's packets"
    if [ours[1](w) for w in theirs_wire] != plains:
        return "sansip does not unprotect libsrtp's packets"
    return None


def batch(
    make: Callable[[SrtpProfile, bytes], Side],
    profile: SrtpProfile,
    key: bytes,
    plains: list[bytes],
) -> tuple[float, float]:
    """(protect packets/s, unprotect packets/s) of one batch through fresh ends."""
    protect, unprotect = make(profile, key)
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        wires = [protect(p) for p in plains]
        t1 = time.perf_counter()
        [unprotect(w) for w in wires]
        t2 = time.perf_counter()
    finally:
        gc.enable()
    return len(plains) / (t1 - t0), len(plains) / (t2 - t1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=100_000, help="packets per batch")
    ap.add_argument("--payload", type=int, default=160, help="payload bytes per packet")
    ap.add_argument("--reps", type=int, default=7, help="batches per row (median reported)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10000 packets x 3")
    ap.add_argument("--cpu", type=int, help="pin the process to this CPU")
    ap.add_argument("--only", help="comma-separated SDES profile names to run")
    ap.add_argument("--json", metavar="FILE", help="also write every batch and the ratios as JSON")
    args = ap.parse_args()
    if args.quick:
        args.packets, args.reps = 10_000, 3
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        import pylibsrtp
    except ImportError as exc:
        print(f"libsrtp unavailable: {exc} (pip install pylibsrtp)")
        return 1
    names = args.only.split(",") if args.only else list(LIBSRTP_NAMES)
    plains = plain_packets(args.packets, args.payload)
    results: dict[str, Any] = {
        "packets": args.packets,
        "payload": args.payload,
        "reps": args.reps,
        "pylibsrtp": pylibsrtp.__version__,
        "python": sys.version.split()[0],
        "rows": [],
    }
    print(f"SRTP, {args.payload}-byte payloads, {args.packets} packets per batch, "
          f"median of {args.reps} (pylibsrtp {pylibsrtp.__version__})")  # fmt: skip
    print(f"{'profile':<24} {'direction':<10} {'sansip/s':>10} {'libsrtp/s':>10} {'ratio':>7}")
    failed = False
    for name in names:
        profile = PROFILES[name]
        key = random.Random(name).randbytes(profile.master_length)
        problem = check(profile, key, plains[:2000])
        if problem is not None:
            print(f"{name:<24} ** MISMATCH: {problem}")
            failed = True
            continue
        runs: dict[str, list[tuple[float, float]]] = {"sansip": [], "libsrtp": []}
        makers = {"sansip": sansip_pair, "libsrtp": libsrtp_pair}
        for rep in range(args.reps):
            order = ("sansip", "libsrtp") if rep % 2 == 0 else ("libsrtp", "sansip")
            for impl in order:
                runs[impl].append(batch(makers[impl], profile, key, plains))
        for direction, column in (("protect", 0), ("unprotect", 1)):
            ours = statistics.median(r[column] for r in runs["sansip"])
            theirs = statistics.median(r[column] for r in runs["libsrtp"])
            ratio = ours / theirs
            verdict = "" if ratio >= TARGET else f"  below the {TARGET}x target"
            print(f"{name:<24} {direction:<10} {ours:>10,.0f} {theirs:>10,.0f} "
                  f"{ratio:>6.2f}x{verdict}")  # fmt: skip
            results["rows"].append({
                "profile": name, "direction": direction, "sansip": ours, "libsrtp": theirs,
                "ratio": ratio, "meets_target": ratio >= TARGET,
                "batches": {impl: [r[column] for r in runs[impl]] for impl in runs},
            })  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
