#!/usr/bin/env python3
"""SIP message parse throughput on one core: sansip against pure-Python peers.

Parsers measured in the same run (peers come from the ``bench`` extra):
  sansip      sansip.message.parse
  pyvoip      pyVoIP.SIP.SIPMessage (pyVoIP 1.6.8; parses every header and the SDP eagerly)
  sippy       sippy.SipRequest / sippy.SipResponse (take str, so the decode is included)
  sipmessage  sipmessage.Message.parse (splits headers; typed values parsed on access)

Messages (built below, loopback addresses only):
  invite_sdp    an INVITE of about 900 bytes with an SDP offer
  register_200  a 200 OK to REGISTER
  ringing_rr    a 180 Ringing with two Record-Route and three Via headers

Levels:
  construct           the library's parse entry point only
  fields              parse, then read what a UA reads: top Via branch, From tag, To tag,
                      Call-ID, CSeq number and method, Contact URI (as a string), body length
  serialize           parse, then re-serialize the unmodified message to bytes
  serialize-modified  parse, prepend a Via header, then serialize to bytes

Each result is the median msgs/s of --reps timed windows of --seconds each (after a
warm-up, with gc.collect() between windows); the min-max over the windows is shown too.
For each message and level the parsers' windows are interleaved round-robin, so a drift
in machine load hits all of them alike.
Fields and serializations are checked against the expected values before timing; a parser
that disagrees is reported and its rows are marked, the run goes on.  Timings are never
asserted: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from itertools import repeat
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- messages

SDP = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 9 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
    "a=rtcp:49171\r\n"
)

INVITE_SDP = (
    "INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5062;rport;branch=z9hG4bK776asdhds8a7e2c1\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Alice" <sip:alice@127.0.0.1>;tag=1928301774\r\n'
    "To: <sip:bob@127.0.0.1>\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.test\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@127.0.0.1:5062;transport=udp>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE\r\n"
    "Supported: replaces, timer, 100rel\r\n"
    "Accept: application/sdp\r\n"
    "Allow-Events: talk, hold, presence, refer\r\n"
    "Session-Expires: 1800\r\n"
    "Min-SE: 90\r\n"
    "User-Agent: bench-ua/1.0\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n"
    "\r\n"
    f"{SDP}"
).encode()

REGISTER_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5062;rport=5062;received=127.0.0.1"
    b";branch=z9hG4bKnashds7a1b2c3d\r\n"
    b"From: <sip:alice@127.0.0.1>;tag=a73kszlfl\r\n"
    b"To: <sip:alice@127.0.0.1>;tag=37GkEhwl6\r\n"
    b"Call-ID: 1j9FpLxk3uxtm8tn@127.0.0.1\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Contact: <sip:alice@127.0.0.1:5062;transport=udp>;expires=3600\r\n"
    b"Server: bench-registrar/1.0\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

RINGING_RR = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKpx2a77c1f0;received=127.0.0.1\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKpx1b5d2e9a\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5062;rport=5062;branch=z9hG4bK776asdhds8a7e2c1\r\n"
    b"Record-Route: <sip:127.0.0.1:5070;lr>\r\n"
    b"Record-Route: <sip:127.0.0.1:5080;lr>\r\n"
    b'From: "Alice" <sip:alice@127.0.0.1>;tag=1928301774\r\n'
    b"To: <sip:bob@127.0.0.1>;tag=a6c85cf\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.test\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:bob@127.0.0.1:5064>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

MESSAGES: dict[str, bytes] = {
    "invite_sdp": INVITE_SDP,
    "register_200": REGISTER_200,
    "ringing_rr": RINGING_RR,
}

# (top Via branch, From tag, To tag, Call-ID, CSeq number, CSeq method, Contact URI, body length)
Fields = tuple[str, str, str, str, int, str, str, int]
EXPECT: dict[str, Fields] = {
    "invite_sdp": (
        "z9hG4bK776asdhds8a7e2c1",
        "1928301774",
        "",
        "a84b4c76e66710@pc33.example.test",
        314159,
        "INVITE",
        "sip:alice@127.0.0.1:5062;transport=udp",
        len(SDP),
    ),
    "register_200": (
        "z9hG4bKnashds7a1b2c3d",
        "a73kszlfl",
        "37GkEhwl6",
        "1j9FpLxk3uxtm8tn@127.0.0.1",
        2,
        "REGISTER",
        "sip:alice@127.0.0.1:5062;transport=udp",
        0,
    ),
    "ringing_rr": (
        "z9hG4bKpx2a77c1f0",
        "1928301774",
        "a6c85cf",
        "a84b4c76e66710@pc33.example.test",
        314159,
        "INVITE",
        "sip:bob@127.0.0.1:5064",
        0,
    ),
}
FIELD_NAMES = ("branch", "from-tag", "to-tag", "call-id", "cseq", "method", "contact", "body-len")

NEW_VIA = "SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKbench"


def with_new_via(data: bytes) -> bytes:
    """The message with ``Via: NEW_VIA`` inserted as the first header line."""
    start, _, rest = data.partition(b"\r\n")
    return start + b"\r\nVia: " + NEW_VIA.encode() + b"\r\n" + rest


LEVELS = ("construct", "fields", "serialize", "serialize-modified")

# --------------------------------------------------------------------------- parsers


@dataclass
class Parser:
    name: str
    version: str
    construct: Callable[[bytes], object]
    fields: Callable[[bytes], Fields]
    serialize: Callable[[bytes], bytes] | None = None
    serialize_modified: Callable[[bytes], bytes] | None = None
    na: dict[str, str] = field(default_factory=dict)  # level -> why it is not measured

    def level(self, name: str) -> Callable[[bytes], object] | None:
        return {
            "construct": self.construct,
            "fields": self.fields,
            "serialize": self.serialize,
            "serialize-modified": self.serialize_modified,
        }[name]


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def make_sansip() -> Parser:
    from sansip.message import parse

    def fields(data: bytes) -> Fields:
        m = parse(data)
        cseq = m.cseq
        contact = m.contact
        return (
            m.top_via.branch or "",
            m.from_.tag or "",
            m.to.tag or "",
            m.call_id,
            cseq.seq,
            cseq.method,
            str(contact.uri) if contact is not None else "",
            len(m.body),
        )

    def serialize(data: bytes) -> bytes:
        return bytes(parse(data))

    def serialize_modified(data: bytes) -> bytes:
        m = parse(data)
        m.headers.prepend("Via", NEW_VIA)
        return bytes(m)

    return Parser("sansip", _dist_version("sansip"), parse, fields, serialize, serialize_modified)


def make_pyvoip() -> Parser:
    # pyVoIP 1.6.8: importing pyVoIP.SIP before pyVoIP.VoIP is a circular import.
    import pyVoIP.VoIP  # noqa: F401
    from pyVoIP.SIP import SIPMessage

    def fields(data: bytes) -> Fields:
        h = SIPMessage(data).headers
        cseq = h["CSeq"]
        # Contact is kept as the raw header text: take the URI out of <...>.
        contact = h["Contact"]
        lt = contact.find("<")
        if lt >= 0:
            contact = contact[lt + 1 : contact.find(">", lt)]
        return (
            h["Via"][0]["branch"],
            h["From"]["tag"],
            h["To"]["tag"],
            h["Call-ID"],
            int(cseq["check"]),
            cseq["method"],
            contact,
            # The body is kept only as a parsed SDP dict: use the declared length.
            h["Content-Length"],
        )

    na = {
        "serialize": "no serializer: SIPMessage keeps .raw but cannot rebuild a message",
        "serialize-modified": "no serializer",
    }
    return Parser("pyvoip", _dist_version("pyVoIP"), SIPMessage, fields, na=na)


def make_sippy() -> Parser:
    from sippy.SipHeader import SipHeader
    from sippy.SipRequest import SipRequest
    from sippy.SipResponse import SipResponse

    # The constructors already call init_body() for requests and 101-399 responses,
    # which covers all three messages here.
    def construct(data: bytes) -> SipRequest | SipResponse:
        s = data.decode()
        return SipResponse(buf=s) if s.startswith("SIP/2.0 ") else SipRequest(buf=s)

    def fields(data: bytes) -> Fields:
        m = construct(data)
        cseq, method = m.getHFBody("cseq").getCSeq()
        contact = m.getHFBody("contact")
        return (
            m.getHFBody("via").getBranch(),
            m.getHFBody("from").getTag() or "",
            m.getHFBody("to").getTag() or "",
            str(m.getHFBody("call-id")),
            cseq,
            method,
            str(contact.getUrl()),
            len(str(m.body)) if m.body is not None else 0,
        )

    def serialize(data: bytes) -> bytes:
        return str(construct(data)).encode()

    def serialize_modified(data: bytes) -> bytes:
        m = construct(data)
        m.insertHeaderBefore(m.getHF("via"), SipHeader(name="via", bodys=NEW_VIA))
        return str(m).encode()

    return Parser("sippy", _dist_version("sippy"), construct, fields, serialize, serialize_modified)


def make_sipmessage() -> Parser:
    from sipmessage import Message

    parse = Message.parse

    def fields(data: bytes) -> Fields:
        m = parse(data)
        cseq = m.cseq
        return (
            m.via[0].parameters.get("branch") or "",
            m.from_address.parameters.get("tag") or "",
            m.to_address.parameters.get("tag") or "",
            m.call_id,
            cseq.sequence,
            cseq.method,
            str(m.contact[0].uri),
            len(m.body),
        )

    def serialize(data: bytes) -> bytes:
        return bytes(parse(data))

    def serialize_modified(data: bytes) -> bytes:
        m = parse(data)
        m.headers.setlist("Via", [NEW_VIA, *m.headers.getlist("Via")])
        return bytes(m)

    return Parser(
        "sipmessage", _dist_version("sipmessage"), parse, fields, serialize, serialize_modified
    )


PARSERS: dict[str, Callable[[], Parser]] = {
    "sansip": make_sansip,
    "pyvoip": make_pyvoip,
    "sippy": make_sippy,
    "sipmessage": make_sipmessage,
}
PEERS = tuple(name for name in PARSERS if name != "sansip")

# --------------------------------------------------------------------------- checks


def _canonical(data: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Start line, (lower-cased name, stripped value) per header line, body."""
    head, _, body = data.partition(b"\r\n\r\n")
    start, *lines = head.decode("utf-8", "replace").split("\r\n")
    pairs = []
    for line in lines:
        name, _, value = line.partition(":")
        pairs.append((name.strip().lower(), value.strip()))
    return start, pairs, body


def check(parser: Parser, mname: str, level: str) -> tuple[str | None, str | None]:
    """Run one level once and judge the result.

    Returns (problem, note): a problem means the answer is wrong (the row is marked); a
    note is a harmless difference (a serialization that is equivalent but not byte-exact,
    e.g. header names in another case).
    """
    data = MESSAGES[mname]
    fn = parser.level(level)
    assert fn is not None
    try:
        got = fn(data)
    except Exception as exc:
        return f"raised {type(exc).__name__}: {exc}", None
    if level == "fields":
        assert isinstance(got, tuple)
        if got != EXPECT[mname]:
            diffs = [
                f"{n}={g!r} (expected {e!r})"
                for n, g, e in zip(FIELD_NAMES, got, EXPECT[mname], strict=True)
                if g != e
            ]
            return "fields differ: " + ", ".join(diffs), None
    elif level in ("serialize", "serialize-modified"):
        expected = data if level == "serialize" else with_new_via(data)
        if not isinstance(got, bytes):
            return f"returned {type(got).__name__}, not bytes", None
        if got != expected:
            if _canonical(got) == _canonical(expected):
                return None, "equivalent, not byte-exact (header-name case or spacing)"
            what = "the input" if level == "serialize" else "the input with the new Via first"
            return f"output is not {what}", None
    return None, None


# --------------------------------------------------------------------------- timing


def window(fn: Callable[[bytes], object], data: bytes, seconds: float, batch: int) -> float:
    """Call fn(data) in batches until `seconds` have passed; return calls per second."""
    n = 0
    clock = time.perf_counter
    t0 = clock()
    deadline = t0 + seconds
    while True:
        for _ in repeat(None, batch):
            fn(data)
        n += batch
        t = clock()
        if t >= deadline:
            return n / (t - t0)


def measure(
    fns: list[Callable[[bytes], object]], data: bytes, seconds: float, reps: int
) -> list[list[float]]:
    """Time several parsers on one message, their windows interleaved round-robin.

    Interleaving spreads any drift in machine load over all parsers alike, so the
    ratios between them stay fair even when the absolute numbers wander.
    """
    batches = []
    for fn in fns:
        rate = window(fn, data, min(0.2, seconds), 20)  # warm-up; also sizes the batches
        batches.append(max(1, int(rate * seconds / 100)))  # about 100 clock reads a window
    rates: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for fn, batch, out in zip(fns, batches, rates, strict=True):
            gc.collect()
            out.append(window(fn, data, seconds, batch))
    return rates


@dataclass
class Row:
    parser: str
    message: str
    level: str
    median: float | None = None
    low: float | None = None
    high: float | None = None
    rates: list[float] = field(default_factory=list)
    problem: str | None = None  # correctness check failure (the row is still timed)
    note: str | None = None  # a harmless difference found by the check
    skipped: str | None = None  # why the level was not measured


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def print_row(row: Row) -> None:
    head = f"{row.parser:<11} {row.message:<13} {row.level:<19}"
    if row.skipped is not None:
        print(f"{head} {'n/a':>10}  {row.skipped}".rstrip())
        return
    span = f"{fmt_rate(row.low)}-{fmt_rate(row.high)}"
    mark = f"  ** MISMATCH: {row.problem}" if row.problem else ""
    if row.note:
        mark += f"  ({row.note})"
    print(f"{head} {fmt_rate(row.median):>10}  {span:<21}{mark}".rstrip())


# --------------------------------------------------------------------------- report


def ratios(rows: list[Row], messages: list[str]) -> list[dict[str, Any]]:
    by_key = {(r.parser, r.message, r.level): r for r in rows if r.median is not None}
    out = []
    for mname in messages:
        for level in LEVELS:
            ours = by_key.get(("sansip", mname, level))
            peers = [by_key[(p, mname, level)] for p in PEERS if (p, mname, level) in by_key]
            best = max(peers, key=lambda r: r.median or 0.0) if peers else None
            ratio = None
            if ours is not None and best is not None and ours.median and best.median:
                ratio = ours.median / best.median
            out.append(
                {
                    "message": mname,
                    "level": level,
                    "sansip": ours.median if ours else None,
                    "sansip_mismatch": bool(ours and ours.problem),
                    "fastest_peer": best.parser if best else None,
                    "peer": best.median if best else None,
                    "peer_mismatch": bool(best and best.problem),
                    "ratio": ratio,
                }
            )
    return out


def print_ratios(table: list[dict[str, Any]]) -> None:
    print()
    print("ratios: sansip / fastest peer (median msgs/s; * = that row failed its check)")
    print(
        f"{'message':<13} {'level':<19} {'sansip/s':>10} {'fastest peer':<13} "
        f"{'peer/s':>10} {'ratio':>8}"
    )
    for e in table:
        if e["sansip"] is None and e["peer"] is None:
            continue
        ours = fmt_rate(e["sansip"]) + ("*" if e["sansip_mismatch"] else "")
        peer = fmt_rate(e["peer"]) + ("*" if e["peer_mismatch"] else "")
        name = e["fastest_peer"] or "(no peer)"
        ratio = "-" if e["ratio"] is None else f"{e['ratio']:.2f}x"
        print(f"{e['message']:<13} {e['level']:<19} {ours:>10} {name:<13} {peer:>10} {ratio:>8}")


TARGETS = {"invite_sdp": 3.0}  # fields level; every other message needs DEFAULT_TARGET
DEFAULT_TARGET = 2.0


def targets(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in table:
        if e["level"] != "fields":
            continue
        need = TARGETS.get(e["message"], DEFAULT_TARGET)
        ratio = e["ratio"]
        if ratio is None:
            verdict = "n/a"
        elif e["sansip_mismatch"]:
            verdict = "NOT MET"  # a wrong answer does not count, however fast
        else:
            verdict = "MET" if ratio >= need else "NOT MET"
        out.append(
            {
                "message": e["message"],
                "need": need,
                "ratio": ratio,
                "fastest_peer": e["fastest_peer"],
                "sansip_mismatch": e["sansip_mismatch"],
                "peer_mismatch": e["peer_mismatch"],
                "verdict": verdict,
            }
        )
    return out


def print_targets(results: list[dict[str, Any]], peers: list[str]) -> None:
    print()
    print("targets: fields level >= 2x the fastest peer on every message, >= 3x on invite_sdp")
    print(f"(peers measured: {', '.join(peers) if peers else 'none'})")
    for t in results:
        if t["ratio"] is None:
            detail = "no sansip or peer measurement"
        else:
            detail = f"{t['ratio']:.2f}x {t['fastest_peer']}"
        why = ""
        if t["sansip_mismatch"]:
            why = "  (sansip read wrong fields)"
        elif t["peer_mismatch"]:
            why = f"  ({t['fastest_peer']} read wrong fields)"
        print(f"{t['message']:<13} need >= {t['need']:.0f}x  {detail:<24} {t['verdict']}{why}")


# --------------------------------------------------------------------------- main


# --------------------------------------------------------------------------- corpus


def corpus_dir() -> Path | None:
    """The RFC 4475 corpus: SANSIP_CONFORMANCE_DATA, or the checkout's conformance/data."""
    configured = os.environ.get("SANSIP_CONFORMANCE_DATA")
    root = Path(configured) if configured else ROOT / "conformance" / "data"
    return root / "rfc4475" if (root / "rfc4475" / "INDEX.tsv").is_file() else None


def corpus_outcomes(parsers: list[Parser]) -> dict[str, dict[str, int]]:
    """For each parser: how many RFC 4475 messages it parses and rejects.

    What a timing means depends on what the parser checks: this runs every
    parser's construct level over the torture corpus, in the same run.
    """
    folder = corpus_dir()
    if folder is None:
        print("corpus: RFC 4475 messages not found (set SANSIP_CONFORMANCE_DATA); skipped")
        return {}
    with (folder / "INDEX.tsv").open(newline="") as f:
        index = [(r["name"], r["expected"]) for r in csv.DictReader(f, delimiter="\t")]
    print("\ncorpus: RFC 4475 torture messages through each parser's construct level")
    print(f"{'parser':<11} {'valid parsed':>13} {'invalid rejected':>17}")
    out: dict[str, dict[str, int]] = {}
    for p in parsers:
        counts = {"valid": 0, "valid_parsed": 0, "invalid": 0, "invalid_rejected": 0}
        for name, expected in index:
            data = (folder / f"{name}.dat").read_bytes()
            try:
                p.construct(data)
                accepted = True
            except Exception:  # each peer raises its own kinds of error
                accepted = False
            if expected == "invalid":
                counts["invalid"] += 1
                counts["invalid_rejected"] += not accepted
            else:
                counts["valid"] += 1
                counts["valid_parsed"] += accepted
        out[p.name] = counts
        print(
            f"{p.name:<11} {counts['valid_parsed']:>6}/{counts['valid']:<6} "
            f"{counts['invalid_rejected']:>9}/{counts['invalid']:<7}"
        )
    print(
        "(sansip accepts 2 invalid messages on purpose: escruri and baddate, which "
        "RFC 4475 lets an element tolerate)"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=1.0, help="length of one timed window")
    ap.add_argument("--reps", type=int, default=5, help="timed windows per row (median)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 0.2 s x 3")
    ap.add_argument("--cpu", type=int, default=None, help="pin to this CPU (sched_setaffinity)")
    ap.add_argument(
        "--only", default=",".join(PARSERS), help="comma-separated parsers (default: all)"
    )
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.reps = 0.2, 3
    if args.seconds <= 0 or args.reps < 1:
        ap.error("--seconds must be > 0 and --reps >= 1")
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in only if n not in PARSERS]
    if unknown:
        ap.error(f"unknown parser(s) {', '.join(unknown)}; choose from {', '.join(PARSERS)}")

    # Measure this checkout of sansip, whatever else is installed.
    sys.path.insert(0, str(ROOT))
    if args.cpu is not None:
        try:
            os.sched_setaffinity(0, {args.cpu})
        except (AttributeError, OSError) as exc:
            print(f"warning: cannot pin to CPU {args.cpu}: {exc}")

    print(
        f"python {platform.python_version()} ({platform.python_implementation()}) "
        f"on {platform.machine()}; {args.seconds:g} s x {args.reps} windows per row; "
        f"cpu {'pinned to ' + str(args.cpu) if args.cpu is not None else 'not pinned'}"
    )
    print("messages: " + ", ".join(f"{k} {len(v)} bytes" for k, v in MESSAGES.items()))

    parsers: list[Parser] = []
    unavailable: dict[str, str] = {}
    for name in only:
        try:
            parsers.append(PARSERS[name]())
        except Exception as exc:  # a missing package, an import-time failure
            unavailable[name] = f"{type(exc).__name__}: {exc}"
            print(f"{name:<11} unavailable: {unavailable[name]}")
    print("parsers: " + ", ".join(f"{p.name} {p.version}" for p in parsers))

    # Correctness first: every parser, message and level, before any timing.
    problems: dict[tuple[str, str, str], str] = {}
    notes: dict[tuple[str, str, str], str] = {}
    for p in parsers:
        for mname in MESSAGES:
            for level in LEVELS:
                if p.level(level) is None:
                    continue
                problem, note = check(p, mname, level)
                if problem is not None:
                    problems[(p.name, mname, level)] = problem
                    print(f"check: MISMATCH {p.name} {mname} {level}: {problem}")
                if note is not None:
                    notes[(p.name, mname, level)] = note
                    print(f"check: note {p.name} {mname} {level}: {note}")
    if not problems:
        print("check: every parser read the expected fields and serialized the expected message")

    print()
    print(f"{'parser':<11} {'message':<13} {'level':<19} {'median/s':>10}  min-max/s")
    rows: list[Row] = []
    for mname, data in MESSAGES.items():
        if rows:
            print()
        for level in LEVELS:
            group: list[Row] = []
            timed: list[tuple[Row, Callable[[bytes], object]]] = []
            for p in parsers:
                row = Row(p.name, mname, level)
                fn = p.level(level)
                problem = problems.get((p.name, mname, level))
                row.problem = problem
                row.note = notes.get((p.name, mname, level))
                if fn is None:
                    row.skipped = p.na.get(level, "not offered")
                elif problem is not None and problem.startswith("raised"):
                    row.skipped = f"not timed: {problem}"
                else:
                    timed.append((row, fn))
                group.append(row)
            if timed:
                all_rates = measure([fn for _, fn in timed], data, args.seconds, args.reps)
                for (row, _), rates in zip(timed, all_rates, strict=True):
                    row.rates = rates
                    row.median = statistics.median(rates)
                    row.low, row.high = min(rates), max(rates)
            for row in group:
                print_row(row)
            rows += group

    table = ratios(rows, list(MESSAGES))
    print_ratios(table)
    verdicts = targets(table)
    print_targets(verdicts, [p.name for p in parsers if p.name != "sansip"])
    corpus = corpus_outcomes(parsers)

    if args.json:
        report = {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "machine": platform.machine(),
            "seconds": args.seconds,
            "reps": args.reps,
            "cpu": args.cpu,
            "messages": {k: len(v) for k, v in MESSAGES.items()},
            "parsers": {p.name: p.version for p in parsers},
            "unavailable": unavailable,
            "rows": [
                {
                    "parser": r.parser,
                    "message": r.message,
                    "level": r.level,
                    "median": r.median,
                    "min": r.low,
                    "max": r.high,
                    "rates": r.rates,
                    "problem": r.problem,
                    "note": r.note,
                    "skipped": r.skipped,
                }
                for r in rows
            ],
            "ratios": table,
            "targets": verdicts,
            "rfc4475": corpus,
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
