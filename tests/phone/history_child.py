"""The writer the crash test kills: ``python history_child.py DB_PATH``.

It opens the history, goes on numbering the CDRs from how many the file
holds, and after each commit returns prints ``C <n>`` (and ``P <n>`` after
every parameter set it saves), flushing each line, until it has written
:data:`ROWS` CDRs or is killed.  The records are a function of their number,
so the test can tell a whole row from a partial one.
"""

from __future__ import annotations

import sys

from sansip.phone.history import CallRecord, History

#: At most this many CDRs per run.
ROWS = 5000
#: A parameter set is saved after every this many CDRs.
PARAMETERS_EVERY = 16


def crash_record(n: int) -> CallRecord:
    """CDR number ``n``: every field derived from ``n``, some spanning several pages."""
    pad = "é" * (n * 7919 % 3000)
    return CallRecord(
        callid=f"crash-{n}@example.com",
        line=n % 8 + 1,
        direction=1 + n % 2,
        caller=f"sip:caller{n}@example.com",
        called=f"sip:called{n}@example.com",
        peerdisplayname=f"Peer {n} {pad[: n % 40]}",
        account="sip:me@example.com",
        started=1_700_000_000.0 + n,
        connected=None if n % 3 == 0 else 1_700_000_000.5 + n,
        ended=1_700_000_010.0 + n,
        duration=0.0 if n % 3 == 0 else 9.5,
        reason="486 Busy Here" if n % 3 == 0 else "200 bye received",
        discparty=n % 4,
        codec=None if n % 3 == 0 else "opus",
        rtp_sent=n * 50,
        rtp_received=n * 49,
        rtp_lost=n % 7 - 3,
        jitter_ms=None if n % 3 == 0 else n / 8,
        rtt_ms=None if n % 5 == 0 else n / 4,
        mos=None if n % 3 == 0 else 4.25,
        extra={"n": n, "pad": pad, "list": [n, str(n), None, n % 2 == 0]},
    )


def crash_parameters(n: int) -> dict[str, str]:
    """The parameter set saved after CDR number ``n``: every value names ``n``."""
    return {f"param{i:02d}": f"{n}:{i}" for i in range(40)}


def main(path: str) -> None:
    """Write CDRs (and parameter sets) until :data:`ROWS` or a kill."""
    history = History(path)
    first = history.count_calls()
    for n in range(first, first + ROWS):
        history.add_call(crash_record(n))
        print(f"C {n}", flush=True)
        if n % PARAMETERS_EVERY == 0:
            history.save_parameters(crash_parameters(n))
            print(f"P {n}", flush=True)
    history.close()


if __name__ == "__main__":
    main(sys.argv[1])
