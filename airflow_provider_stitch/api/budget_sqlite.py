"""A Jobs budget backend in a SQLite file, shared by the processes of one host.

The store's timeline is the host's boot clock (the same for every process on the host, blind to wall-clock
steps) plus an anchor kept in the file, so entries look like epoch seconds. After a reboot the anchor is
renewed so the timeline never runs backwards. The file (and its WAL journal) is created readable by its owner only; a damaged,
unreadable or long-locked file fails closed with :class:`StitchBudgetStoreError` naming it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from airflow_provider_stitch.api.budget import wait_for_oldest
from airflow_provider_stitch.api.errors import StitchBudgetStoreError

#: Seconds a transaction waits for another process's lock before the store reports itself locked.
DEFAULT_LOCK_TIMEOUT = 2.0
_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS budget_requests (key TEXT NOT NULL, taken_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS budget_requests_key ON budget_requests (key, taken_at)",
    "CREATE TABLE IF NOT EXISTS budget_snapshots "
    "(key TEXT PRIMARY KEY, payload TEXT NOT NULL, fetched_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS budget_announcements (key TEXT NOT NULL, member TEXT NOT NULL, "
    "expires_at REAL NOT NULL, ttl REAL NOT NULL, PRIMARY KEY (key, member))",
    "CREATE TABLE IF NOT EXISTS budget_timeline (boot TEXT PRIMARY KEY, anchor REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS budget_records "
    "(key TEXT PRIMARY KEY, payload TEXT NOT NULL, expires_at REAL NOT NULL)",
)


def host_boot_clock() -> float:
    """Seconds since this host booted, suspend included where the platform can tell."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


def host_boot_id() -> str:
    """An id of this boot of the host (Linux); a constant elsewhere."""
    try:
        with open(_BOOT_ID_FILE, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return "unknown-boot"


class SQLiteBudgetBackend:
    """A backend shared by the processes of one host through a SQLite file.

    Each taken request is one row; ``BEGIN IMMEDIATE`` makes check-and-take atomic across processes.

    :param path: database file; it and its directory are created when missing (the file mode 0600).
    :param lock_timeout: seconds to wait for another process's transaction before failing.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = os.fspath(path)
        self.lock_timeout = lock_timeout
        self._anchor: float | None = None
        self._anchor_lock = threading.Lock()
        self._local = threading.local()
        self._create_private_file()
        self._use_write_ahead_log()
        with self._transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def __repr__(self) -> str:
        return f"SQLiteBudgetBackend({self.path!r})"

    # ------------------------------------------------------------------ file and transactions

    def _create_private_file(self) -> None:
        """Create the file (and directory) for its owner only; tighten a file another version left open."""
        try:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if os.path.isdir(self.path):
                raise self._error("it is a directory, not a file")
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                mode = os.fstat(descriptor).st_mode
                if stat.S_IMODE(mode) & 0o077 and os.fstat(descriptor).st_uid == os.getuid():
                    os.fchmod(descriptor, 0o600)
            finally:
                os.close(descriptor)
        except StitchBudgetStoreError:
            raise
        except OSError as problem:
            raise self._error(f"it cannot be opened for writing ({problem.strerror or problem})") from None

    def _use_write_ahead_log(self) -> None:
        """WAL journal: a commit appends to the log instead of syncing the file, so small writes stay cheap."""
        try:
            conn = sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            finally:
                conn.close()
        except sqlite3.OperationalError as problem:
            if "locked" in str(problem) or "busy" in str(problem):
                raise self._error(
                    f"another process held its lock for more than {self.lock_timeout:g} s"
                ) from None
            raise self._error(_explained(problem)) from None
        except sqlite3.Error as problem:
            raise self._error(_explained(problem)) from None

    def _error(self, problem: str) -> StitchBudgetStoreError:
        return StitchBudgetStoreError(self.path, problem)

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection to the file (a new one after a fork): opening one per call costs more
        than the transaction."""
        cached = getattr(self._local, "connection", None)
        if cached is not None and self._local.pid == os.getpid():
            return cached  # type: ignore[no-any-return]
        try:
            conn = sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None)
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as problem:
            raise self._error(f"it cannot be opened ({problem})") from None
        self._local.connection, self._local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (the last one to close folds the WAL journal into the file)."""
        self._drop_connection()

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "connection", None)
        self._local.connection = None
        if conn is not None and self._local.pid == os.getpid():
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One short ``BEGIN IMMEDIATE`` ... ``COMMIT``; every failure becomes a store error naming the file."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except StitchBudgetStoreError:
            _rollback(conn)
            raise
        except sqlite3.OperationalError as problem:
            _rollback(conn)
            if "locked" in str(problem) or "busy" in str(problem):
                raise self._error(
                    f"another process held its lock for more than {self.lock_timeout:g} s"
                ) from None
            self._drop_connection()
            raise self._error(_explained(problem)) from None
        except (sqlite3.Error, TypeError, ValueError) as problem:
            _rollback(conn)
            self._drop_connection()
            raise self._error(_explained(problem)) from None

    # ------------------------------------------------------------------ the store's timeline

    def now(self) -> float:
        """The store's time: the host's boot clock plus the anchor kept in the file."""
        return self._anchor_for_this_boot() + host_boot_clock()

    def _anchor_for_this_boot(self) -> float:
        with self._anchor_lock:
            if self._anchor is None:
                with self._transaction() as conn:
                    self._anchor = self._read_or_set_anchor(conn)
            return self._anchor

    @staticmethod
    def _read_or_set_anchor(conn: sqlite3.Connection) -> float:
        """This boot's anchor; a new boot starts where the store's latest entry left off, never earlier."""
        boot = host_boot_id()
        row = conn.execute("SELECT anchor FROM budget_timeline WHERE boot = ?", (boot,)).fetchone()
        if row is not None:
            return _number(row[0])
        latest = conn.execute(
            "SELECT MAX(t) FROM (SELECT MAX(taken_at) AS t FROM budget_requests "
            "UNION ALL SELECT MAX(fetched_at) FROM budget_snapshots)"
        ).fetchone()[0]
        start = max(time.time(), _number(latest) if latest is not None else 0.0)
        anchor = start - host_boot_clock()
        conn.execute("DELETE FROM budget_timeline")
        conn.execute("INSERT INTO budget_timeline (boot, anchor) VALUES (?, ?)", (boot, anchor))
        return anchor

    def _at(self, now: float | None) -> float:
        return self.now() if now is None else float(now)

    # ------------------------------------------------------------------ tokens

    def take(self, key: str, limit: int, window: float, now: float | None = None) -> float:
        """Take one token when the window has room; else report the wait."""
        at = self._at(now)
        with self._transaction() as conn:
            conn.execute(
                "UPDATE budget_requests SET taken_at = ? WHERE key = ? AND taken_at > ?", (at, key, at)
            )
            conn.execute("DELETE FROM budget_requests WHERE key = ? AND taken_at <= ?", (key, at - window))
            times = _numbers(
                conn.execute("SELECT taken_at FROM budget_requests WHERE key = ? ORDER BY taken_at", (key,))
            )
            wait = wait_for_oldest(times, limit, window, at)
            if wait == 0.0:
                conn.execute("INSERT INTO budget_requests (key, taken_at) VALUES (?, ?)", (key, at))
            return wait

    def timestamps(self, key: str, window: float, now: float | None = None) -> list[float]:
        """Taken times within the window (ones stamped after ``now`` count as taken now)."""
        at = self._at(now)
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT MIN(taken_at, ?) AS t FROM budget_requests WHERE key = ? AND taken_at > ? ORDER BY t",
                (at, key, at - window),
            )
            return _numbers(rows)

    # ------------------------------------------------------------------ snapshots

    def put_snapshot(self, key: str, payload: str, fetched_at: float) -> None:
        """Store a snapshot."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO budget_snapshots (key, payload, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET payload = excluded.payload, fetched_at = excluded.fetched_at",
                (key, payload, float(fetched_at)),
            )

    def get_snapshot(self, key: str) -> tuple[str, float] | None:
        """Read a snapshot."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT payload, fetched_at FROM budget_snapshots WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            if not isinstance(row[0], str):
                raise TypeError(f"the snapshot {key!r} is {type(row[0]).__name__}, not text")
            return row[0], _number(row[1])

    # ------------------------------------------------------------------ announcements

    def announce(self, key: str, member: str, ttl: float, now: float | None = None) -> None:
        """Add or renew one announcement (one row)."""
        at = self._at(now)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO budget_announcements (key, member, expires_at, ttl) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key, member) DO UPDATE SET expires_at = excluded.expires_at, ttl = excluded.ttl",
                (key, member, at + ttl, float(ttl)),
            )

    def withdraw(self, key: str, member: str) -> None:
        """Remove one announcement (one row)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM budget_announcements WHERE key = ? AND member = ?", (key, member))

    def announced(self, key: str, now: float | None = None) -> set[str]:
        """Live announcements; expired rows are deleted, rows stamped in the future clamped to one ttl."""
        at = self._at(now)
        with self._transaction() as conn:
            conn.execute("DELETE FROM budget_announcements WHERE key = ? AND expires_at <= ?", (key, at))
            conn.execute(
                "UPDATE budget_announcements SET expires_at = ? + ttl WHERE key = ? AND expires_at > ? + ttl",
                (at, key, at),
            )
            rows = conn.execute("SELECT member FROM budget_announcements WHERE key = ?", (key,))
            return {str(row[0]) for row in rows}

    # ------------------------------------------------------------------ records

    def put_record(self, key: str, payload: str, ttl: float, now: float | None = None) -> None:
        """Store or replace one record (one row)."""
        at = self._at(now)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO budget_records (key, payload, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at",
                (key, payload, at + float(ttl)),
            )

    def get_record(self, key: str, now: float | None = None) -> str | None:
        """A live record's payload; expired records are deleted."""
        at = self._at(now)
        with self._transaction() as conn:
            conn.execute("DELETE FROM budget_records WHERE expires_at <= ?", (at,))
            row = conn.execute("SELECT payload FROM budget_records WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            if not isinstance(row[0], str):
                raise TypeError(f"the record {key!r} is {type(row[0]).__name__}, not text")
            return row[0]

    def delete_record(self, key: str) -> None:
        """Remove one record."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM budget_records WHERE key = ?", (key,))


def _rollback(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


def _explained(problem: Exception) -> str:
    text = str(problem)
    if "not a database" in text or "malformed" in text:
        return f"it is not a readable budget store ({text}); delete it or point budget_location elsewhere"
    if "readonly" in text or "read-only" in text:
        return f"it is read-only ({text})"
    return f"{type(problem).__name__}: {text}"


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a stored time is {type(value).__name__}, not a number")
    return float(value)


def _numbers(rows: Iterator[tuple[object, ...]] | sqlite3.Cursor) -> list[float]:
    return [_number(row[0]) for row in rows]
