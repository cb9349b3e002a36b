"""The Jobs rate budget: at most ``limit`` Jobs requests per ``window`` seconds per Stitch client id.

A sliding window: each request taken is stored with its time and frees up ``window`` seconds later.
Backends share the window between threads (memory), processes on one host (SQLite) or hosts (Redis).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from airflow_provider_stitch.api.errors import StitchRateBudgetExhausted

DEFAULT_JOBS_LIMIT = 30
#: Stitch's Jobs window: 30 requests per 600 seconds per client id.
STITCH_JOBS_WINDOW = 600.0
#: Tokens are held a little longer than Stitch's window: a request is stamped just before it is sent, so
#: latency and retries in flight could otherwise let Stitch count one more than the limit in its window.
JOBS_WINDOW_MARGIN = 10.0
DEFAULT_JOBS_WINDOW = STITCH_JOBS_WINDOW + JOBS_WINDOW_MARGIN


def jobs_window_for(emulator_speed: float = 1.0) -> float:
    """Budget window (real seconds) for an API whose clock runs ``emulator_speed`` times real time.

    The offline emulator counts Stitch's 600-second window in its own, faster time; the safety margin is
    for latency, which stays in real seconds.
    """
    if emulator_speed < 1:
        raise ValueError("the emulator speed must be at least 1")
    return STITCH_JOBS_WINDOW / emulator_speed + JOBS_WINDOW_MARGIN


@runtime_checkable
class BudgetBackend(Protocol):
    """Storage of taken request times (and small shared snapshots) behind a :class:`JobsBudget`."""

    def take(self, key: str, limit: int, window: float, now: float) -> float:
        """Atomically take one token: 0.0 when taken, else seconds until one frees up."""
        ...

    def timestamps(self, key: str, window: float, now: float) -> list[float]:
        """Times of the tokens taken within the window ending at ``now``, oldest first."""
        ...

    def put_snapshot(self, key: str, payload: str, fetched_at: float) -> None:
        """Store a shared snapshot (e.g. the JobsMonitor's last extractions list)."""
        ...

    def get_snapshot(self, key: str) -> tuple[str, float] | None:
        """Return ``(payload, fetched_at)`` of a stored snapshot, or None."""
        ...


def _wait_for_oldest(times: list[float], limit: int, window: float, now: float) -> float:
    """Seconds until the window holds fewer than ``limit`` tokens."""
    if len(times) < limit:
        return 0.0
    freeing = times[len(times) - limit]
    return max(freeing + window - now, 1e-6)


class InMemoryBudgetBackend:
    """A thread-safe backend for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: dict[str, deque[float]] = {}
        self._snapshots: dict[str, tuple[str, float]] = {}

    def _pruned(self, key: str, window: float, now: float) -> deque[float]:
        times = self._taken.setdefault(key, deque())
        while times and times[0] <= now - window:
            times.popleft()
        return times

    def take(self, key: str, limit: int, window: float, now: float) -> float:
        """Take one token when the window has room; else report the wait."""
        with self._lock:
            times = self._pruned(key, window, now)
            wait = _wait_for_oldest(sorted(times), limit, window, now)
            if wait == 0.0:
                times.append(now)
            return wait

    def timestamps(self, key: str, window: float, now: float) -> list[float]:
        """Taken times within the window."""
        with self._lock:
            return sorted(self._pruned(key, window, now))

    def put_snapshot(self, key: str, payload: str, fetched_at: float) -> None:
        """Store a snapshot."""
        with self._lock:
            self._snapshots[key] = (payload, fetched_at)

    def get_snapshot(self, key: str) -> tuple[str, float] | None:
        """Read a snapshot."""
        with self._lock:
            return self._snapshots.get(key)


class SQLiteBudgetBackend:
    """A backend shared by the processes of one host through a SQLite file.

    Each taken request is one row; ``BEGIN IMMEDIATE`` makes check-and-take atomic across processes.

    :param path: database file; its directory is created when missing.
    :param lock_timeout: seconds to wait for another process's transaction.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        self.lock_timeout = lock_timeout
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS budget_requests (key TEXT NOT NULL, taken_at REAL NOT NULL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS budget_requests_key ON budget_requests (key, taken_at)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS budget_snapshots "
                "(key TEXT PRIMARY KEY, payload TEXT NOT NULL, fetched_at REAL NOT NULL)"
            )

    def _connect(self) -> _Connection:
        return _Connection(self.path, self.lock_timeout)

    def take(self, key: str, limit: int, window: float, now: float) -> float:
        """Take one token when the window has room; else report the wait."""
        with self._connect() as conn:
            conn.execute("DELETE FROM budget_requests WHERE key = ? AND taken_at <= ?", (key, now - window))
            times = [
                row[0]
                for row in conn.execute(
                    "SELECT taken_at FROM budget_requests WHERE key = ? ORDER BY taken_at", (key,)
                )
            ]
            wait = _wait_for_oldest(times, limit, window, now)
            if wait == 0.0:
                conn.execute("INSERT INTO budget_requests (key, taken_at) VALUES (?, ?)", (key, now))
            return wait

    def timestamps(self, key: str, window: float, now: float) -> list[float]:
        """Taken times within the window."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT taken_at FROM budget_requests WHERE key = ? AND taken_at > ? ORDER BY taken_at",
                (key, now - window),
            )
            return [row[0] for row in rows]

    def put_snapshot(self, key: str, payload: str, fetched_at: float) -> None:
        """Store a snapshot."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO budget_snapshots (key, payload, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET payload = excluded.payload, fetched_at = excluded.fetched_at",
                (key, payload, fetched_at),
            )

    def get_snapshot(self, key: str) -> tuple[str, float] | None:
        """Read a snapshot."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT payload, fetched_at FROM budget_snapshots WHERE key = ?", (key,)
            ).fetchone()
            return (row[0], row[1]) if row else None


class _Connection:
    """One short SQLite transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), closed on exit."""

    def __init__(self, path: str, timeout: float) -> None:
        self._conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._conn.close()


_PROCESS_BACKEND = InMemoryBudgetBackend()


def process_backend() -> InMemoryBudgetBackend:
    """The in-memory backend shared by every client of this process that was given no backend."""
    return _PROCESS_BACKEND


class JobsBudget:
    """Pays for Jobs requests out of a shared sliding-window budget.

    :param client_id: Stitch client id the budget belongs to.
    :param limit: requests per window (Stitch allows 30; set lower to leave room for others).
    :param window: window length in seconds (Stitch's 600 plus a 10-second safety margin).
    :param backend: where taken requests are recorded; the process-wide memory backend by default.
    :param clock: returns the current time in seconds.
    :param sleep: blocks for a number of seconds (used by :meth:`acquire`).
    """

    def __init__(
        self,
        client_id: int | str,
        *,
        limit: int = DEFAULT_JOBS_LIMIT,
        window: float = DEFAULT_JOBS_WINDOW,
        backend: BudgetBackend | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("the Jobs budget limit must be at least 1")
        if limit > DEFAULT_JOBS_LIMIT:
            raise ValueError(f"the Jobs budget limit cannot exceed Stitch's {DEFAULT_JOBS_LIMIT} per window")
        if window <= 0:
            raise ValueError("the Jobs budget window must be positive")
        self.client_id = client_id
        self.limit = limit
        self.window = window
        self.backend: BudgetBackend = backend if backend is not None else process_backend()
        self.clock = clock
        self.sleep = sleep

    @property
    def key(self) -> str:
        """Backend key of this budget."""
        return f"stitch-jobs:{self.client_id}"

    def _exhausted(self, wait: float) -> StitchRateBudgetExhausted:
        return StitchRateBudgetExhausted(self.client_id, wait, limit=self.limit, window=self.window)

    def try_acquire(self) -> bool:
        """Take a token now if one is free."""
        return self.backend.take(self.key, self.limit, self.window, self.clock()) == 0.0

    def acquire(self, max_wait: float = 0.0) -> None:
        """Take a token, waiting up to ``max_wait`` seconds; raise :class:`StitchRateBudgetExhausted` otherwise."""
        deadline = self.clock() + max_wait
        while True:
            now = self.clock()
            wait = self.backend.take(self.key, self.limit, self.window, now)
            if wait == 0.0:
                return
            if now + wait > deadline:
                raise self._exhausted(wait)
            self.sleep(wait)

    async def aacquire(self, max_wait: float = 0.0) -> None:
        """Like :meth:`acquire`, but waits with ``asyncio.sleep``."""
        deadline = self.clock() + max_wait
        while True:
            now = self.clock()
            wait = await asyncio.to_thread(self.backend.take, self.key, self.limit, self.window, now)
            if wait == 0.0:
                return
            if now + wait > deadline:
                raise self._exhausted(wait)
            await asyncio.sleep(wait)

    def used(self, now: float | None = None) -> int:
        """Tokens taken within the current window."""
        return len(self.backend.timestamps(self.key, self.window, self.clock() if now is None else now))

    def seconds_until_available(self) -> float:
        """Seconds until a token is free (0.0 when one is free now)."""
        now = self.clock()
        return _wait_for_oldest(
            self.backend.timestamps(self.key, self.window, now), self.limit, self.window, now
        )


def __getattr__(name: str) -> object:
    """``RedisBudgetBackend`` lives in :mod:`.budget_redis`; load it (and redis) only when asked for."""
    if name == "RedisBudgetBackend":
        from airflow_provider_stitch.api.budget_redis import RedisBudgetBackend

        return RedisBudgetBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
