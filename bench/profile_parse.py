#!/usr/bin/env python3
"""Where sansip's parse time goes, stage by stage, for the benchmark messages.

Each stage is timed on its own (median of several timeit windows) with the
same inputs ``parse()`` gives it, so the rows add up to roughly the whole
parse.  This explains the ratios of bench_parse.py; it asserts nothing.

usage: python bench/profile_parse.py [--number 5000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_parse import MESSAGES

from sansip.message import message as m
from sansip.message.address import parse_name_addr
from sansip.message.fields import parse_call_id, parse_cseq
from sansip.message.uri import parse_uri
from sansip.message.via import parse_via_list


def stages(data: bytes) -> list[tuple[str, Callable[[], object]]]:
    """The stages of ``parse(data)`` as separate callables."""
    end = data.find(b"\r\n\r\n")
    head = data[:end].decode("utf-8", "surrogateescape")
    lines = head.split("\r\n")
    _names, keys, values, _received = m._split_fields(lines, lines[0])
    n = len(keys)
    first = dict(zip(reversed(keys), range(n - 1, -1, -1), strict=True))
    msg = m.parse(data)

    contact_uri = values[first["contact"]].strip(" \t")[1:].partition(">")[0]

    def value(key: str) -> str:
        return values[first[key]].strip(" \t")

    out: list[tuple[str, Callable[[], object]]] = [
        ("find end of head + decode", lambda: data[:end].decode("utf-8", "surrogateescape")),
        ("split lines", lambda: head.split("\r\n")),
        ("split name:value, keys", lambda: m._split_fields(lines, lines[0])),
        ("first-occurrence index", lambda: dict(zip(reversed(keys), range(n), strict=True))),
    ]
    if lines[0].startswith("SIP/"):
        out.append(("status line", lambda: m._parse_status_line(lines[0], msg.headers)))
    else:
        out.append(
            ("request line (with R-URI)", lambda: m._parse_request_line(lines[0], msg.headers))
        )
    out += [
        ("Via (all values)", lambda: parse_via_list(value("via"))),
        ("From", lambda: parse_name_addr(value("from"), "From")),
        ("To", lambda: parse_name_addr(value("to"), "To")),
        ("Call-ID", lambda: parse_call_id(value("call-id"))),
        ("CSeq", lambda: parse_cseq(value("cseq"))),
        ("Contact", lambda: m._contacts(value("contact"))),
        ("whole parse()", lambda: m.parse(data)),
        ("read fields after parse", lambda: _read_fields(m.parse(data))),
        ("  of which Contact URI", lambda: parse_uri(contact_uri)),
    ]
    return out


def _read_fields(msg: m.Request | m.Response) -> tuple[object, ...]:
    contact = msg.contact
    return (
        msg.top_via.branch,
        msg.from_.tag,
        msg.to.tag,
        msg.call_id,
        msg.cseq.seq,
        msg.cseq.method,
        contact.uri if contact else None,
    )


def main() -> int:
    """Print the stage table for every benchmark message."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--number", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    for name, data in MESSAGES.items():
        print(f"\n{name} ({len(data)} bytes)")
        for label, fn in stages(data):
            times = timeit.repeat(fn, number=args.number, repeat=args.repeat)
            print(f"  {label:30} {statistics.median(times) / args.number * 1e6:7.2f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
