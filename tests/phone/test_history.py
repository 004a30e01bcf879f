"""The phone's history file: CDRs, contacts and parameters round-trip, survive
reopening and a ``kill -9`` of the writer, and bad values are refused before
the file is touched."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.errors import LocalProtocolError
from sansip.phone.history import (
    SCHEMA_VERSION,
    CallRecord,
    Contact,
    History,
    HistoryError,
    default_history_path,
)
from tests.conftest import examples
from tests.phone.history_child import PARAMETERS_EVERY, crash_parameters, crash_record

CHILD = Path(__file__).with_name("history_child.py")
REPO = Path(__file__).resolve().parents[2]
INT64 = 2**63 - 1


def call(n: int = 0, **changes: Any) -> CallRecord:
    """A plain CDR numbered ``n`` (started at ``1000 + n``), with ``changes``."""
    fields: dict[str, Any] = {
        "callid": f"call-{n}",
        "line": 1,
        "direction": 1,
        "caller": "sip:alice@example.com",
        "called": f"sip:peer{n}@example.com",
        "started": 1000.0 + n,
        "ended": 1010.0 + n,
    }
    return CallRecord(**(fields | changes))


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    with History(tmp_path / "history.sqlite3") as opened:
        yield opened


# -- calls -------------------------------------------------------------------------------
def test_a_full_record_round_trips(history: History) -> None:
    record = CallRecord(
        callid="a84b4c76e66710@pc33.example.com",
        line=2,
        direction=2,
        caller="sip:bob@example.com",
        called="sip:alice@example.com",
        peerdisplayname="Bob «the builder»",
        account="sip:alice@example.com",
        started=1_717_000_000.25,
        connected=1_717_000_003.5,
        ended=1_717_000_063.5,
        duration=60.0,
        reason="200 bye received",
        discparty=2,
        codec="opus",
        rtp_sent=3000,
        rtp_received=2990,
        rtp_lost=-2,
        jitter_ms=3.25,
        rtt_ms=41.5,
        mos=4.31,
        extra={"recording": "/calls/1.wav", "dtmf": "1234#", "holds": [1, 2]},
    )
    assert history.add_call(record) > 0
    assert history.calls() == [record]
    assert history.last_call() == record
    assert record.peer == "sip:bob@example.com"
    unconnected = call(1, started=2e9, ended=2e9 + 5, reason="486 Busy Here", discparty=0)
    history.add_call(unconnected)
    assert history.calls(limit=1) == [unconnected]
    assert history.count_calls() == 2


def test_calls_come_newest_first_and_filter(history: History) -> None:
    records = [call(n) for n in (5, 1, 9, 3)]
    twin = call(9, callid="call-9-twin")  # the same start: the one added later first
    for record in [*records, twin]:
        history.add_call(record)
    assert [r.callid for r in history.calls()] == [
        "call-9-twin",
        "call-9",
        "call-5",
        "call-3",
        "call-1",
    ]
    assert [r.callid for r in history.calls(limit=2)] == ["call-9-twin", "call-9"]
    assert history.calls(limit=0) == []
    assert [r.callid for r in history.calls(since=1005.0)] == ["call-9-twin", "call-9", "call-5"]
    assert history.last_call() == twin


def test_calls_filter_by_the_other_party(history: History) -> None:
    bob = "sip:bob@example.com"
    out = call(1, direction=1, caller="sip:me@example.com", called=bob)
    into = call(2, direction=2, caller=bob, called="sip:me@example.com")
    mine = call(3, direction=1, caller=bob, called="sip:carol@example.com")  # bob is us here
    for record in (out, into, mine):
        history.add_call(record)
    assert history.calls(peer=bob) == [into, out]
    assert history.calls(peer=bob, since=1002, limit=5) == [into]
    assert history.calls(peer="sip:nobody@example.com") == []


def test_clear_calls(history: History) -> None:
    first = history.add_call(call(1))
    history.add_call(call(2))
    assert history.clear_calls() == 2
    assert history.calls() == [] and history.last_call() is None and history.count_calls() == 0
    assert history.add_call(call(3)) > first + 1  # row ids are never reused


# -- contacts ----------------------------------------------------------------------------
def test_contacts_are_added_updated_found_and_deleted(history: History) -> None:
    bob = Contact(name="Bob Builder", number="sip:bob@example.com", favourite=True)
    emile = Contact(name="Émile Zola", number="+33123456789", email="e@example.fr", presence=True)
    alice = Contact(name="alice", number="1001", note="desk phone")
    assert history.save_contact(bob) and history.save_contact(emile) and history.save_contact(alice)
    assert history.contacts() == [alice, bob, emile]  # by name, case-insensitive
    moved = Contact(name="Bob B.", number="sip:bob@example.com", note="moved")
    assert not history.save_contact(moved)  # the same number: replaced
    assert history.contact("sip:bob@example.com") == moved
    assert history.contact("sip:nobody@example.com") is None
    assert history.find_contacts("bo") == [moved]
    assert history.find_contacts("ÉMI") == [emile]
    assert history.find_contacts("zol") == [emile]  # a word of the name
    assert history.find_contacts("+331") == [emile]
    assert history.find_contacts("bob@") == [moved]  # the number without its scheme
    assert history.find_contacts("10") == [alice]
    assert history.find_contacts("") == [alice, moved, emile]
    assert history.find_contacts("xyz") == []
    assert history.delete_contact("1001")
    assert not history.delete_contact("1001")
    assert history.contacts() == [moved, emile]


# -- parameters --------------------------------------------------------------------------
def test_parameters_are_replaced_as_a_set(history: History) -> None:
    assert history.load_parameters() == {}
    history.save_parameters({"codec": "opus,pcmu", "jittersize": "60", "displayname": "Åsa"})
    assert history.load_parameters() == {
        "codec": "opus,pcmu",
        "jittersize": "60",
        "displayname": "Åsa",
    }
    history.save_parameters({"codec": "pcma", "empty": ""})
    assert history.load_parameters() == {"codec": "pcma", "empty": ""}
    with pytest.raises(ValueError, match="parameter 'aec'"):
        history.save_parameters({"vad": "1", "aec": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="parameter name"):
        history.save_parameters({"": "x"})
    assert history.load_parameters() == {"codec": "pcma", "empty": ""}  # untouched
    history.save_parameters({})
    assert history.load_parameters() == {}


# -- the file ----------------------------------------------------------------------------
def test_reopening_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "history.sqlite3"
    records = [call(n, extra={"n": n}) for n in range(20)]
    contact = Contact(name="Bob", number="sip:bob@example.com")
    with History(path) as history:
        for record in records:
            history.add_call(record)
        history.save_contact(contact)
        history.save_parameters({"codec": "g722"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # close() checkpointed
    with History(str(path)) as history:
        assert history.calls() == records[::-1]
        assert history.contacts() == [contact]
        assert history.load_parameters() == {"codec": "g722"}
        assert history.schema_version == SCHEMA_VERSION
        assert history.integrity_check() == "ok"


def _pragmas(path: Path) -> tuple[int, str]:
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        return int(version), str(mode)
    finally:
        conn.close()


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with History(path) as history:
        history.add_call(call(1))
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="newer sansip"):
        History(path)
    assert path.read_bytes() == before
    assert _pragmas(path)[0] == SCHEMA_VERSION + 1


def test_other_files_are_refused_and_left_alone(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.sqlite3"
    conn = sqlite3.connect(foreign)
    with conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    before = foreign.read_bytes()
    with pytest.raises(HistoryError, match="not a sansip history"):
        History(foreign)
    assert foreign.read_bytes() == before
    assert _pragmas(foreign) == (0, "delete")  # not switched to WAL
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database, " * 100)
    with pytest.raises(HistoryError, match="not a usable history"):
        History(garbage)
    assert garbage.read_bytes() == b"not a database, " * 100


def test_the_default_path_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = default_history_path()
    assert path == tmp_path / "data" / "sansip" / "history.sqlite3"
    assert not path.parent.exists()
    History(path).close()
    assert path.is_file()
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # ignored, as the spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_history_path() == tmp_path / "home/.local/share/sansip/history.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_history_path() == tmp_path / "home/.local/share/sansip/history.sqlite3"


def test_a_closed_history_refuses_use(tmp_path: Path) -> None:
    history = History(tmp_path / "history.sqlite3")
    history.close()
    history.close()  # again: nothing
    with pytest.raises(LocalProtocolError, match="closed"):
        history.calls()
    with pytest.raises(LocalProtocolError, match="closed"):
        history.add_call(call(1))


def test_the_owner_thread_may_change(history: History) -> None:
    """Made on one thread, used on another (one at a time)."""
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(history.add_call(call(1))))
    worker.start()
    worker.join()
    assert done and history.calls() == [call(1)]


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"line": "3"}, "line must be an int"),
        ({"line": True}, "line must be an int"),
        ({"line": -1}, "line must be in"),
        ({"direction": 3}, "direction must be 1"),
        ({"discparty": 4}, "discparty must be"),
        ({"rtp_sent": INT64 + 1}, "rtp_sent must be in"),
        ({"rtp_lost": -(2**63) - 1}, "rtp_lost must be in"),
        ({"rtp_received": 1.0}, "rtp_received must be an int"),
        ({"started": "now"}, "started must be a float"),
        ({"started": None}, "started must be a float"),
        ({"duration": float("nan")}, "duration must be finite"),
        ({"mos": float("inf")}, "mos must be finite"),
        ({"connected": 10**400}, "connected is too large"),
        ({"caller": b"sip:a@b"}, "caller must be a str"),
        ({"peerdisplayname": None}, "peerdisplayname must be a str"),
        ({"reason": "bad \udc80"}, "reason is not valid Unicode"),
        ({"codec": 0}, "codec must be a str"),
        ({"extra": [1]}, "extra must be a mapping"),
        ({"extra": {"t": (1, 2)}}, "come back equal"),
        ({"extra": {1: "x"}}, "come back equal"),
        ({"extra": {"s": {1}}}, "JSON values only"),
        ({"extra": {"x": float("nan")}}, "JSON values only"),
        ({"extra": {"x": "\ud800"}}, "not valid Unicode"),
    ],
)
def test_bad_call_values_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(1, **changes)


def _file_bytes(path: Path) -> tuple[bytes, bytes]:
    """The database file and its WAL, where a write would go."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes(), wal.read_bytes() if wal.exists() else b""


def test_bad_input_touches_nothing(history: History) -> None:
    history.add_call(call(1))
    history.save_contact(Contact(name="Bob", number="1"))
    before = _file_bytes(history.path), history.calls(), history.contacts()
    bad: list[Any] = [
        lambda: history.add_call({"callid": "x"}),  # type: ignore[arg-type]
        lambda: history.save_contact(("Bob", "1")),  # type: ignore[arg-type]
        lambda: Contact(name="Bob", number=""),
        lambda: Contact(name="Bob", number="2", favourite=1),  # type: ignore[arg-type]
        lambda: Contact(name=None, number="2"),  # type: ignore[arg-type]
        lambda: history.save_parameters([("a", "b")]),  # type: ignore[arg-type]
        lambda: history.calls(limit="5"),  # type: ignore[arg-type]
        lambda: history.calls(since="yesterday"),  # type: ignore[arg-type]
        lambda: history.calls(peer=5),  # type: ignore[arg-type]
        lambda: history.delete_contact(1),  # type: ignore[arg-type]
        lambda: History(5),  # type: ignore[arg-type]
    ]
    for attempt in bad:
        with pytest.raises(ValueError):
            attempt()
    assert (_file_bytes(history.path), history.calls(), history.contacts()) == before


# -- any values round-trip ---------------------------------------------------------------
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_reals = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)
_records = st.builds(
    CallRecord,
    callid=st.text(),
    line=st.integers(0, INT64),
    direction=st.sampled_from([1, 2]),
    caller=st.text(),
    called=st.text(),
    peerdisplayname=st.text(),
    account=st.text(),
    started=_reals,
    connected=st.none() | _reals,
    ended=_reals,
    duration=_reals,
    reason=st.text(),
    discparty=st.sampled_from([0, 1, 2, 3]),
    codec=st.none() | st.text(),
    rtp_sent=st.integers(0, INT64),
    rtp_received=st.integers(0, INT64),
    rtp_lost=st.integers(-INT64 - 1, INT64),
    jitter_ms=st.none() | _reals,
    rtt_ms=st.none() | _reals,
    mos=st.none() | _reals,
    extra=st.dictionaries(st.text(), _json_values, max_size=4),
)


@pytest.fixture(scope="module")
def shared_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    with History(tmp_path_factory.mktemp("property") / "history.sqlite3") as opened:
        yield opened


@settings(max_examples=examples(150), deadline=None)
@given(record=_records)
def test_any_record_round_trips_exactly(shared_history: History, record: CallRecord) -> None:
    shared_history.clear_calls()
    shared_history.add_call(record)
    (stored,) = shared_history.calls()
    assert stored == record
    assert repr(stored) == repr(record)  # the same floats to the bit, the same types


# -- kill -9 -----------------------------------------------------------------------------
def _check_crashed_file(path: Path, reported: list[int], params: list[int], before: int) -> int:
    """Open the file a killed writer left and check it; returns the CDRs it holds."""
    with History(path) as history:
        assert history.integrity_check() == "ok"
        records = history.calls()
        parameters = history.load_parameters()
    numbers = sorted(int(r.callid.split("-")[1].split("@")[0]) for r in records)
    held = len(numbers)
    assert numbers == list(range(held)), "the rows are numbered without a gap"
    committed = reported[-1] + 1 if reported else before
    # Every reported commit is there, plus at most the one killed before it printed.
    assert committed <= held <= committed + 1
    for record in records:  # whole rows only
        n = int(record.callid.split("-")[1].split("@")[0])
        assert record == crash_record(n)
    if parameters:
        m = int(next(iter(parameters.values())).split(":")[0])
        assert parameters == crash_parameters(m), "a whole parameter set"
        assert m % PARAMETERS_EVERY == 0 and m < held
        assert not params or m >= params[-1], "the last reported set or a newer one"
    else:
        assert not params, "a reported parameter set is there"
    return held


def _kill_round(path: Path, wanted: int, delay: float) -> tuple[list[int], list[int]]:
    """Run the writer on ``path``, read ``wanted`` lines, wait ``delay`` and kill it;
    the CDR and parameter-set numbers it reported committed."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert child.stdout is not None
    lines: list[str] = []
    while len(lines) < wanted and (line := child.stdout.readline()):
        lines.append(line)
    time.sleep(delay)
    child.kill()  # SIGKILL
    # Read on through the same buffered file (communicate() would skip what
    # readline() already buffered); the child is dead, so both end.
    rest = child.stdout.read()
    assert child.stderr is not None
    errors = child.stderr.read()
    assert child.wait(timeout=60) in (-9, 0), errors
    lines += rest.splitlines(keepends=True)
    done = [line.split() for line in lines if line.endswith("\n")]  # whole lines only
    return [int(n) for kind, n in done if kind == "C"], [int(n) for kind, n in done if kind == "P"]


@pytest.mark.timeout(120)
def test_a_killed_writer_loses_no_committed_row(tmp_path: Path) -> None:
    """A child writes CDRs and says which committed; it is killed at a random
    moment; the file is whole and holds every row it reported.  Eight rounds
    go on one file (odd rounds check a copy, so the next writer recovers the
    hot WAL the kill left itself); four more kill a writer on a fresh file
    soon after it starts (before, while or after it creates the file and its
    schema, as the timing falls)."""
    rng = random.Random(0x51D)
    path = tmp_path / "history.sqlite3"
    held = checked_rows = 0
    log: list[str] = []
    rounds = 8
    for round_ in range(rounds):
        wanted = rng.choice([0, rng.randrange(1, 40), rng.randrange(40, 1200)])
        delay = rng.uniform(0, 0.25 if wanted == 0 else 0.02)
        reported, params = _kill_round(path, wanted, delay)
        assert reported == list(range(held, held + len(reported))), (held, reported[:3], log)
        checked = path
        if round_ % 2 and round_ < rounds - 1 and path.exists():
            checked = tmp_path / f"copy{round_}" / path.name
            checked.parent.mkdir()
            for suffix in ("", "-wal"):
                if os.path.exists(f"{path}{suffix}"):
                    shutil.copyfile(f"{path}{suffix}", f"{checked}{suffix}")
        if checked.exists():  # else killed before it made the file
            held = _check_crashed_file(checked, reported, params, held)
            checked_rows += held
        log.append(f"{wanted}+{delay * 1000:.0f}ms: {len(reported)} reported, {held} held")
    for round_ in range(4):
        fresh = tmp_path / f"fresh{round_}" / path.name
        reported, params = _kill_round(fresh, 0, rng.uniform(0, 0.15))
        if fresh.exists():
            checked_rows += _check_crashed_file(fresh, reported, params, 0)
        log.append(f"fresh: {len(reported)} reported")
    print("; ".join(log), f"; {checked_rows} rows checked")  # shown when the test fails
    assert held > 0, "some round wrote rows"
