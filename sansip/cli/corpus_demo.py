"""``sansip demo``: what sansip can do today, on data that needs no network.

Until the first call exists, the demo parses the RFC 4475 and RFC 5118
torture messages (from ``SANSIP_CONFORMANCE_DATA`` if set, else from the
checkout's ``conformance/data``, where sansip keeps them, or a
``conformance/data`` in the working directory), re-serializes each one and
reports the outcome against the corpus index.  Without the corpus (an
installed wheel carries no test data) it runs on a few built-in messages.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sansip.message import ParseError, parse

# Invalid messages that RFC 4475 allows an element to accept (see its §3.1.2.11-12).
TOLERATED = {"escruri", "baddate"}

BUILT_IN: dict[str, tuple[str, bytes]] = {
    "options": (
        "valid",
        b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5062;rport;branch=z9hG4bKdemo1\r\n"
        b"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=1\r\n"
        b"To: <sip:bob@127.0.0.1>\r\nCall-ID: demo1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
        b"Content-Length: 0\r\n\r\n",
    ),
    "folded": (
        "valid",
        b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
        b"v: SIP / 2.0 / UDP 127.0.0.1\r\n ;branch=z9hG4bKdemo2\r\n"
        b'f: "Alice \\"A\\"" <sip:alice@127.0.0.1>;tag=2\r\nt: sip:bob@127.0.0.1\r\n'
        b"i: demo2@127.0.0.1\r\nCSeq: 2\r\n OPTIONS\r\nl: 0\r\n\r\n",
    ),
    "bad-cseq": (
        "invalid",
        b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKdemo3\r\n"
        b"From: <sip:alice@127.0.0.1>;tag=3\r\nTo: <sip:bob@127.0.0.1>\r\n"
        b"Call-ID: demo3@127.0.0.1\r\nCSeq: 4294967296 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    ),
    "bad-version": (
        "invalid",
        b"OPTIONS sip:bob@127.0.0.1 SIP/7.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKdemo4\r\n"
        b"From: <sip:alice@127.0.0.1>;tag=4\r\nTo: <sip:bob@127.0.0.1>\r\n"
        b"Call-ID: demo4@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    ),
}


@dataclass
class Outcome:
    """What happened to one message."""

    corpus: str
    name: str
    expected: str
    result: str
    status: int | None
    round_trip: bool
    agrees: bool
    microseconds: float


def find_corpus() -> Path | None:
    """Where the conformance data is, or None."""
    configured = os.environ.get("SANSIP_CONFORMANCE_DATA")
    candidates = [Path(configured)] if configured else []
    candidates += [
        # sansip/cli/corpus_demo.py -> the checkout's conformance/data
        Path(__file__).resolve().parents[2] / "conformance" / "data",
        Path.cwd() / "conformance" / "data",
    ]
    for path in candidates:
        if (path / "rfc4475" / "INDEX.tsv").is_file():
            return path
    return None


def _messages(root: Path | None) -> list[tuple[str, str, str, bytes]]:
    if root is None:
        return [("built-in", name, exp, data) for name, (exp, data) in BUILT_IN.items()]
    out = []
    for corpus, folder, suffix in (
        ("rfc4475", "rfc4475", ".dat"),
        ("rfc5118", "rfc5118/wire", ".sip"),
    ):
        with (root / corpus / "INDEX.tsv").open(newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                data = (root / folder / (row["name"] + suffix)).read_bytes()
                if row["name"] == "baddn":
                    data += b"\r\n"  # the archive copy lacks the closing empty line
                out.append((corpus, row["name"], row["expected"], data))
    return out


def run(root: Path | None) -> list[Outcome]:
    """Parse and re-serialize every message; compare with the expectation."""
    outcomes = []
    for corpus, name, expected, data in _messages(root):
        start = time.perf_counter()
        try:
            msg = parse(data)
            wire = bytes(msg)
        except ParseError as exc:
            elapsed = time.perf_counter() - start
            outcomes.append(
                Outcome(corpus, name, expected, f"rejected: {exc.reason}", exc.status, False,
                        expected == "invalid", elapsed * 1e6)
            )  # fmt: skip
            continue
        elapsed = time.perf_counter() - start
        exact = data.startswith(wire)
        agrees = exact and (expected != "invalid" or name in TOLERATED)
        result = "parsed" if expected != "invalid" else "parsed (tolerated, RFC allows it)"
        outcomes.append(Outcome(corpus, name, expected, result, None, exact, agrees, elapsed * 1e6))
    return outcomes


def main(as_json: bool = False) -> int:
    """Run the demo and print its report; exit status 0 when all agree."""
    root = find_corpus()
    outcomes = run(root)
    if as_json:
        print(json.dumps([asdict(o) for o in outcomes], indent=2))
    else:
        source = (
            str(root)
            if root
            else "built-in messages (set SANSIP_CONFORMANCE_DATA for RFC 4475/5118)"
        )
        print(f"sansip demo: SIP message layer on {source}\n")
        print(f"{'corpus':9} {'message':28} {'expected':18} {'status':6} {'exact':5}  result")
        for o in outcomes:
            print(
                f"{o.corpus:9} {o.name:28} {o.expected:18} {o.status or '':<6} "
                f"{'yes' if o.round_trip else '-':5}  {'' if o.agrees else 'DISAGREES '}{o.result}"
            )
        agreed = sum(o.agrees for o in outcomes)
        parsed = [o for o in outcomes if o.status is None]
        print(
            f"\n{agreed}/{len(outcomes)} messages behave as their index says; "
            f"{sum(o.round_trip for o in parsed)}/{len(parsed)} parsed messages re-serialize "
            f"to their exact bytes; median parse+serialize "
            f"{sorted(o.microseconds for o in outcomes)[len(outcomes) // 2]:.1f} µs."
        )
    return 0 if all(o.agrees for o in outcomes) else 1
