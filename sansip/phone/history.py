"""What the phone keeps between runs: call records (CDRs), contacts and the
phone's parameters, in one SQLite file.

:class:`History` opens (and creates) the file, brings its schema to the
current version and offers small typed operations on it::

    with History(default_history_path()) as history:
        history.add_call(record)
        recent = history.calls(limit=20)

The file is in WAL mode.  Every write is one transaction, so a write is
either wholly stored or not at all, and a process killed at any moment
(``kill -9`` included) leaves a consistent file holding every transaction
whose commit returned.  Values are checked before the file is touched: a
wrong type or an unstorable value raises :class:`ValueError` and stores
nothing.

A :class:`History` is not thread-safe.  It belongs to one thread at a time,
the phone's owner thread (the one that runs the phone's event loop); there is
no locking inside.  Several processes may open the same file: SQLite's locks
and ``busy_timeout`` serialise their writes.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from sansip.errors import LocalProtocolError, SansipError

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "CallRecord",
    "Contact",
    "History",
    "HistoryError",
    "default_history_path",
]

#: The schema version this module writes (``PRAGMA user_version``).
SCHEMA_VERSION: Final = 1
#: ``PRAGMA application_id`` of a sansip history file ("SIPH").
APPLICATION_ID: Final = 0x53495048
#: How long a write waits for another process's lock before failing, in ms.
BUSY_TIMEOUT_MS: Final = 5000

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DIRECTIONS = (1, 2)  # outgoing, incoming
_DISC_PARTIES = (0, 1, 2, 3)  # unknown, local, remote, timeout


class HistoryError(SansipError):
    """The file cannot be used as a history: written by a newer sansip, not a
    sansip history file, or not a database at all.  The file is left as it is."""


def default_history_path() -> Path:
    """Where the history lives by default: ``$XDG_DATA_HOME/sansip/history.sqlite3``,
    or ``~/.local/share/sansip/history.sqlite3`` when ``XDG_DATA_HOME`` is unset
    or not absolute.  Nothing is created here; :class:`History` creates the file
    and its directory when it first opens it."""
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "sansip" / "history.sqlite3"


# -- value checks ------------------------------------------------------------------------
def _text(name: str, value: object, *, optional: bool = False, empty: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a str, not {type(value).__name__}")
    if not empty and not value:
        raise ValueError(f"{name} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not valid Unicode text: {exc.reason}") from None


def _integer(name: str, value: object, low: int = _INT64_MIN, high: int = _INT64_MAX) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], not {value}")


def _real(name: str, value: object, *, optional: bool = False) -> float | None:
    """The value as a float (an int is accepted); finite only."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a float, not {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large for a float") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, not {number}")
    return number + 0.0  # -0.0 becomes 0.0, as SQLite would store it


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, not {type(value).__name__}")


def _json(name: str, value: object) -> str:
    """The JSON text of a mapping that comes back equal from that text."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping, not {type(value).__name__}")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{name} must hold JSON values only: {exc}") from None
    _text(name, text)
    if json.loads(text) != value:
        raise ValueError(f"{name} must come back equal from JSON (str keys, lists, no tuples)")
    return text


# -- records -----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CallRecord:
    """The CDR of one call.

    Times are seconds since the epoch; ``duration`` is the time connected, in
    seconds.  ``direction`` is 1 (outgoing) or 2 (incoming); ``discparty`` says
    who ended the call: 0 unknown, 1 us, 2 the peer, 3 a timeout.  ``reason``
    is the disconnect reason (``"200 bye received"``, ``"486 Busy Here"``).
    ``connected`` is None for a call that never connected; ``codec`` and the
    RTP figures are None (counters 0) for a call without media.  ``extra`` is
    any JSON object for what has no column.  Every value is checked when the
    record is made (:class:`ValueError`); ``extra`` is kept as a copy.
    """

    callid: str
    line: int
    direction: int
    caller: str
    called: str
    peerdisplayname: str = ""
    account: str = ""
    started: float
    connected: float | None = None
    ended: float
    duration: float = 0.0
    reason: str = ""
    discparty: int = 0
    codec: str | None = None
    rtp_sent: int = 0
    rtp_received: int = 0
    rtp_lost: int = 0
    jitter_ms: float | None = None
    rtt_ms: float | None = None
    mos: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("callid", "caller", "called", "peerdisplayname", "account", "reason"):
            _text(name, getattr(self, name))
        _text("codec", self.codec, optional=True)
        _integer("line", self.line, 0)
        _integer("direction", self.direction)
        if self.direction not in _DIRECTIONS:
            raise ValueError(
                f"direction must be 1 (outgoing) or 2 (incoming), not {self.direction}"
            )
        _integer("discparty", self.discparty)
        if self.discparty not in _DISC_PARTIES:
            raise ValueError(f"discparty must be 0, 1, 2 or 3, not {self.discparty}")
        _integer("rtp_sent", self.rtp_sent, 0)
        _integer("rtp_received", self.rtp_received, 0)
        _integer("rtp_lost", self.rtp_lost)  # RFC 3550: the cumulative loss may be negative
        for name in ("started", "ended", "duration"):
            object.__setattr__(self, name, _real(name, getattr(self, name)))
        for name in ("connected", "jitter_ms", "rtt_ms", "mos"):
            object.__setattr__(self, name, _real(name, getattr(self, name), optional=True))
        if self.extra or not isinstance(self.extra, dict):  # an empty dict needs no check
            object.__setattr__(self, "extra", json.loads(_json("extra", self.extra)))

    @property
    def peer(self) -> str:
        """The other party: ``called`` for an outgoing call, ``caller`` for an incoming one."""
        return self.called if self.direction == 1 else self.caller


@dataclass(frozen=True, kw_only=True)
class Contact:
    """An entry of the address book.  ``number`` (a number or a SIP URI) is its
    key; ``favourite`` marks it for the quick list, ``presence`` asks the phone
    to subscribe to its presence."""

    name: str
    number: str
    email: str = ""
    note: str = ""
    favourite: bool = False
    presence: bool = False

    def __post_init__(self) -> None:
        _text("name", self.name)
        _text("number", self.number, empty=False)
        _text("email", self.email)
        _text("note", self.note)
        _flag("favourite", self.favourite)
        _flag("presence", self.presence)


_CALL_COLUMNS: Final = tuple(f.name for f in fields(CallRecord))
_CONTACT_COLUMNS: Final = tuple(f.name for f in fields(Contact))

# -- schema ------------------------------------------------------------------------------
# Each step takes the schema from version N - 1 to N, run in one transaction
# with the ``user_version`` update.  Columns are checked by type too, so a row
# written by hand cannot hold what the records refuse.
_MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: (
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            callid TEXT NOT NULL CHECK (typeof(callid) = 'text'),
            line INTEGER NOT NULL CHECK (typeof(line) = 'integer' AND line >= 0),
            direction INTEGER NOT NULL CHECK (direction IN (1, 2)),
            caller TEXT NOT NULL CHECK (typeof(caller) = 'text'),
            called TEXT NOT NULL CHECK (typeof(called) = 'text'),
            peerdisplayname TEXT NOT NULL CHECK (typeof(peerdisplayname) = 'text'),
            account TEXT NOT NULL CHECK (typeof(account) = 'text'),
            started REAL NOT NULL CHECK (typeof(started) = 'real'),
            connected REAL CHECK (connected IS NULL OR typeof(connected) = 'real'),
            ended REAL NOT NULL CHECK (typeof(ended) = 'real'),
            duration REAL NOT NULL CHECK (typeof(duration) = 'real'),
            reason TEXT NOT NULL CHECK (typeof(reason) = 'text'),
            discparty INTEGER NOT NULL CHECK (discparty IN (0, 1, 2, 3)),
            codec TEXT CHECK (codec IS NULL OR typeof(codec) = 'text'),
            rtp_sent INTEGER NOT NULL CHECK (typeof(rtp_sent) = 'integer' AND rtp_sent >= 0),
            rtp_received INTEGER NOT NULL
                CHECK (typeof(rtp_received) = 'integer' AND rtp_received >= 0),
            rtp_lost INTEGER NOT NULL CHECK (typeof(rtp_lost) = 'integer'),
            jitter_ms REAL CHECK (jitter_ms IS NULL OR typeof(jitter_ms) = 'real'),
            rtt_ms REAL CHECK (rtt_ms IS NULL OR typeof(rtt_ms) = 'real'),
            mos REAL CHECK (mos IS NULL OR typeof(mos) = 'real'),
            extra TEXT NOT NULL DEFAULT '{}' CHECK (typeof(extra) = 'text')
        )""",
        "CREATE INDEX calls_by_start ON calls (started, id)",
        "CREATE INDEX calls_by_caller ON calls (caller)",
        "CREATE INDEX calls_by_called ON calls (called)",
        """CREATE TABLE contacts (
            number TEXT PRIMARY KEY NOT NULL CHECK (typeof(number) = 'text' AND number <> ''),
            name TEXT NOT NULL CHECK (typeof(name) = 'text'),
            email TEXT NOT NULL CHECK (typeof(email) = 'text'),
            note TEXT NOT NULL CHECK (typeof(note) = 'text'),
            favourite INTEGER NOT NULL CHECK (favourite IN (0, 1)),
            presence INTEGER NOT NULL CHECK (presence IN (0, 1))
        )""",
        """CREATE TABLE parameters (
            name TEXT PRIMARY KEY NOT NULL CHECK (typeof(name) = 'text' AND name <> ''),
            value TEXT NOT NULL CHECK (typeof(value) = 'text')
        )""",
    ),
}


def _refuse_foreign(conn: sqlite3.Connection, where: str) -> int:
    """The file's schema version; :class:`HistoryError` for a file of a newer
    version or a database that is not a sansip history."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    application = conn.execute("PRAGMA application_id").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{where}: schema version {version} was written by a newer sansip "
            f"(this one knows version {SCHEMA_VERSION} and leaves the file alone)"
        )
    if application not in (0, APPLICATION_ID) or (
        version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    ):
        raise HistoryError(f"{where}: a database but not a sansip history file")
    return version


def _migrate(conn: sqlite3.Connection, where: str) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`, all steps in one transaction.

    A file of a newer version, or a database that is not a sansip history, is
    refused with :class:`HistoryError` and left untouched."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")  # the version again, under the write lock
        version = _refuse_foreign(conn, where)
        if version == SCHEMA_VERSION:
            return
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


# -- the store ---------------------------------------------------------------------------
class History:
    """Call records, contacts and parameters in the SQLite file at ``path``.

    The file and its directory are created when missing (private to the user:
    the directory 0700, the file 0600), and the schema is created or migrated;
    a file written by a newer sansip raises :class:`HistoryError`.  Use it from
    one thread at a time (the phone's owner thread); :meth:`close` it, or use
    it as a context manager.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike):
            raise ValueError(f"path must be a str or a path, not {type(path).__name__}")
        self.path = Path(path).absolute()  # never ":memory:" or a URI: always this file
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created empty and private first; SQLite gives its -wal and -shm files
        # the same mode.  An empty file is a valid empty database.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        # isolation_level=None: the module opens no transaction by itself; each
        # write opens its own with BEGIN IMMEDIATE (see _write).  The connection
        # may be handed between threads, used by one at a time.
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _refuse_foreign(conn, str(self.path))  # before WAL mode changes the header
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise HistoryError(f"{self.path}: cannot use WAL mode here (got {mode})")
            # NORMAL in WAL mode: a commit appends its frames to the WAL with
            # write() and returns without fsync; the WAL is synced at each
            # checkpoint.  Once write() returned the frames are in the OS page
            # cache, which outlives the process, so a kill -9 at any moment loses
            # no committed transaction, and the frame checksums make a half
            # written transaction invisible, so the file is never corrupt.  Only
            # an OS crash or power loss may drop the last commits (never corrupt
            # the file); FULL would fsync on every commit and stall the phone's
            # thread on slow storage for that, which a CDR is not worth.
            conn.execute("PRAGMA synchronous = NORMAL")
            _migrate(conn, str(self.path))
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise HistoryError(f"{self.path}: not a usable history file ({exc})") from exc
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    # -- the connection ------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LocalProtocolError("the history is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back
        if it raises.  BEGIN IMMEDIATE takes the write lock first, so a busy
        file is waited for (``busy_timeout``) rather than failing halfway."""
        conn = self._connection()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            yield conn

    def close(self) -> None:
        """Checkpoint the WAL into the file and close (again: nothing)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass  # another process holds the file: it checkpoints later
        finally:
            conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"``, or the problems found, one a line."""
        rows = self._connection().execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)

    @property
    def schema_version(self) -> int:
        """The schema version of the file (``PRAGMA user_version``)."""
        return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    # -- calls ---------------------------------------------------------------------------
    def add_call(self, record: CallRecord) -> int:
        """Store one CDR; returns its row id (increasing with every call added)."""
        if not isinstance(record, CallRecord):
            raise ValueError(f"record must be a CallRecord, not {type(record).__name__}")
        values = [getattr(record, name) for name in _CALL_COLUMNS]
        values[-1] = _json("extra", record.extra)
        columns = ", ".join(_CALL_COLUMNS)
        marks = ", ".join("?" * len(_CALL_COLUMNS))
        with self._write() as conn:
            cursor = conn.execute(f"INSERT INTO calls ({columns}) VALUES ({marks})", values)
        return int(cursor.lastrowid or 0)

    def calls(
        self, limit: int | None = None, since: float | None = None, peer: str | None = None
    ) -> list[CallRecord]:
        """The stored CDRs, newest first (by ``started``, then by when they were
        added): at most ``limit``, only those started at or after ``since``,
        only those whose other party (:attr:`CallRecord.peer`) is exactly ``peer``."""
        where: list[str] = []
        args: list[object] = []
        if since is not None:
            where.append("started >= ?")
            args.append(_real("since", since))
        if peer is not None:
            _text("peer", peer)
            where.append("((direction = 1 AND called = ?) OR (direction = 2 AND caller = ?))")
            args += [peer, peer]
        sql = f"SELECT {', '.join(_CALL_COLUMNS)} FROM calls"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started DESC, id DESC"
        if limit is not None:
            _integer("limit", limit, 0)
            sql += " LIMIT ?"
            args.append(limit)
        rows = self._connection().execute(sql, args).fetchall()
        return [self._call(row) for row in rows]

    @staticmethod
    def _call(row: tuple[Any, ...]) -> CallRecord:
        values = dict(zip(_CALL_COLUMNS, row, strict=True))
        values["extra"] = json.loads(values["extra"])
        return CallRecord(**values)

    def last_call(self) -> CallRecord | None:
        """The newest CDR, or None."""
        found = self.calls(limit=1)
        return found[0] if found else None

    def count_calls(self) -> int:
        """How many CDRs are stored."""
        return int(self._connection().execute("SELECT count(*) FROM calls").fetchone()[0])

    def clear_calls(self) -> int:
        """Delete every CDR; returns how many there were."""
        with self._write() as conn:
            return conn.execute("DELETE FROM calls").rowcount

    # -- contacts ------------------------------------------------------------------------
    def save_contact(self, contact: Contact) -> bool:
        """Add the contact, or replace the one with the same ``number``; True if it is new."""
        if not isinstance(contact, Contact):
            raise ValueError(f"contact must be a Contact, not {type(contact).__name__}")
        values = [getattr(contact, name) for name in _CONTACT_COLUMNS]
        columns = ", ".join(_CONTACT_COLUMNS)
        updates = ", ".join(f"{name} = excluded.{name}" for name in _CONTACT_COLUMNS)
        with self._write() as conn:
            known = conn.execute(
                "SELECT 1 FROM contacts WHERE number = ?", (contact.number,)
            ).fetchone()
            conn.execute(
                f"INSERT INTO contacts ({columns}) VALUES ({', '.join('?' * len(values))}) "
                f"ON CONFLICT (number) DO UPDATE SET {updates}",
                values,
            )
        return known is None

    def delete_contact(self, number: str) -> bool:
        """Delete the contact with this number; True if there was one."""
        _text("number", number)
        with self._write() as conn:
            return conn.execute("DELETE FROM contacts WHERE number = ?", (number,)).rowcount > 0

    def contact(self, number: str) -> Contact | None:
        """The contact with exactly this number, or None."""
        _text("number", number)
        row = (
            self._connection()
            .execute(
                f"SELECT {', '.join(_CONTACT_COLUMNS)} FROM contacts WHERE number = ?", (number,)
            )
            .fetchone()
        )
        return None if row is None else self._contact(row)

    def contacts(self) -> list[Contact]:
        """Every contact, by name (case-insensitive, any script), then by number."""
        rows = self._connection().execute(f"SELECT {', '.join(_CONTACT_COLUMNS)} FROM contacts")
        found = [self._contact(row) for row in rows]
        found.sort(key=lambda c: (c.name.casefold(), c.name, c.number))
        return found

    def find_contacts(self, prefix: str) -> list[Contact]:
        """The contacts whose name, or a word of it, starts with ``prefix``
        (case-insensitive), or whose number starts with it (with or without its
        ``sip:``/``sips:``/``tel:`` scheme), in :meth:`contacts` order."""
        _text("prefix", prefix)
        wanted = prefix.casefold()
        return [
            contact
            for contact in self.contacts()
            if contact.name.casefold().startswith(wanted)
            or any(word.startswith(wanted) for word in contact.name.casefold().split())
            or contact.number.startswith(prefix)
            or contact.number.partition(":")[2].startswith(prefix)
        ]

    @staticmethod
    def _contact(row: tuple[Any, ...]) -> Contact:
        values = dict(zip(_CONTACT_COLUMNS, row, strict=True))
        values["favourite"] = bool(values["favourite"])
        values["presence"] = bool(values["presence"])
        return Contact(**values)

    # -- parameters ----------------------------------------------------------------------
    def save_parameters(self, parameters: Mapping[str, str]) -> None:
        """Replace the stored parameters by these, all at once."""
        if not isinstance(parameters, Mapping):
            raise ValueError(f"parameters must be a mapping, not {type(parameters).__name__}")
        items = list(parameters.items())
        for name, value in items:
            _text("parameter name", name, empty=False)
            _text(f"parameter {name!r}", value)
        with self._write() as conn:
            conn.execute("DELETE FROM parameters")
            conn.executemany("INSERT INTO parameters (name, value) VALUES (?, ?)", items)

    def load_parameters(self) -> dict[str, str]:
        """The stored parameters, by name (empty if none were saved)."""
        rows = self._connection().execute("SELECT name, value FROM parameters ORDER BY name")
        return {str(name): str(value) for name, value in rows}
