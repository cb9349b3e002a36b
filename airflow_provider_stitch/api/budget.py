"""The Jobs rate budget: at most ``limit`` Jobs requests per ``window`` seconds per Stitch client id.

A sliding window: each request taken is stored with its time and frees up ``window`` seconds later.
Backends share the window between threads (memory), processes on one host (SQLite) or hosts (Redis).

One timeline per store: a backend stamps entries with its own clock (process time for memory, the host's
boot clock for SQLite, Redis ``TIME``), never with each writer's wall clock, so a stepped or skewed clock
in one worker cannot free tokens early or freeze the window. Entries stamped later than the store's "now"
(a foreign writer, a clock stepped back) are clamped to "now", so they free up within one window.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

from airflow_provider_stitch.api.errors import StitchRateBudgetExhausted

logger = logging.getLogger("airflow_provider_stitch.budget")

DEFAULT_JOBS_LIMIT = 30
#: Stitch's Jobs window: 30 requests per 600 seconds per client id.
STITCH_JOBS_WINDOW = 600.0
#: Tokens are held a little longer than Stitch's window: a request is stamped just before it is sent, so
#: latency and retries in flight could otherwise let Stitch count one more than the limit in its window.
JOBS_WINDOW_MARGIN = 10.0
DEFAULT_JOBS_WINDOW = STITCH_JOBS_WINDOW + JOBS_WINDOW_MARGIN
#: A spent budget is logged at most once per this many seconds per budget (and at least that often).
BUDGET_LOG_INTERVAL = 60.0


def jobs_window_for(emulator_speed: float = 1.0) -> float:
    """Budget window (real seconds) for an API whose clock runs ``emulator_speed`` times real time.

    The offline emulator counts Stitch's 600-second window in its own, faster time; the safety margin is
    for latency, which stays in real seconds.

    :param emulator_speed: emulator seconds per real second (1 for Stitch itself).
    """
    if emulator_speed < 1:
        raise ValueError("the emulator speed must be at least 1")
    return STITCH_JOBS_WINDOW / emulator_speed + JOBS_WINDOW_MARGIN


def iso_time(seconds: float) -> str:
    """A store time (epoch-like seconds) as an ISO 8601 UTC string, to the second.

    :param seconds: seconds since the epoch on a store's timeline.
    """
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------- timelines

_PROCESS_WALL_ANCHOR = time.time()
_PROCESS_MONOTONIC_ANCHOR = time.monotonic()


def process_time() -> float:
    """This process's timeline: the wall clock read once at start, then advanced by the monotonic clock.

    Later steps of the wall clock (NTP, a VM resumed, an operator's ``date -s``) do not move it.
    """
    return _PROCESS_WALL_ANCHOR + (time.monotonic() - _PROCESS_MONOTONIC_ANCHOR)


# ---------------------------------------------------------------------------------------------- protocol


@runtime_checkable
class BudgetBackend(Protocol):
    """Storage of taken request times, shared snapshots, waiter announcements and records behind a budget.

    Every ``now`` argument is optional: None means the store's own clock (:meth:`now`), the normal case;
    a value is an injected timeline (tests, virtual time).
    """

    def now(self) -> float:
        """The store's current time (epoch-like seconds on its own timeline)."""
        ...

    def take(self, key: str, limit: int, window: float, now: float | None = None) -> float:
        """Atomically take one token: 0.0 when taken, else seconds until one frees up."""
        ...

    def timestamps(self, key: str, window: float, now: float | None = None) -> list[float]:
        """Times of the tokens taken within the window ending at ``now``, oldest first."""
        ...

    def put_snapshot(self, key: str, payload: str, fetched_at: float) -> None:
        """Store a shared snapshot (e.g. the JobsMonitor's last extractions list)."""
        ...

    def get_snapshot(self, key: str) -> tuple[str, float] | None:
        """Return ``(payload, fetched_at)`` of a stored snapshot, or None."""
        ...

    def announce(self, key: str, member: str, ttl: float, now: float | None = None) -> None:
        """Add or renew one member of the announcement set ``key`` for ``ttl`` seconds (O(1))."""
        ...

    def withdraw(self, key: str, member: str) -> None:
        """Remove one member of the announcement set ``key`` (O(1))."""
        ...

    def announced(self, key: str, now: float | None = None) -> set[str]:
        """Members of ``key`` whose announcement has not expired; expired ones are deleted."""
        ...

    def put_record(self, key: str, payload: str, ttl: float, now: float | None = None) -> None:
        """Store (or replace) one record that expires ``ttl`` seconds later on the store's clock."""
        ...

    def get_record(self, key: str, now: float | None = None) -> str | None:
        """The payload of a record that has not expired, or None."""
        ...

    def delete_record(self, key: str) -> None:
        """Remove one record (nothing when there is none)."""
        ...


def wait_for_oldest(times: list[float], limit: int, window: float, now: float) -> float:
    """Seconds until the window holds fewer than ``limit`` tokens.

    :param times: taken times within the window, oldest first.
    :param limit: tokens allowed per window.
    :param window: window length in seconds.
    :param now: the current time on the same timeline as ``times``.
    """
    if len(times) < limit:
        return 0.0
    freeing = times[len(times) - limit]
    return max(freeing + window - now, 1e-6)


# ---------------------------------------------------------------------------------------------- memory


class InMemoryBudgetBackend:
    """A thread-safe backend for one process, on the process timeline (:func:`process_time`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: dict[str, deque[float]] = {}
        self._snapshots: dict[str, tuple[str, float]] = {}
        self._announced: dict[str, dict[str, tuple[float, float]]] = {}
        self._records: dict[str, tuple[str, float, float]] = {}

    def __repr__(self) -> str:
        return "InMemoryBudgetBackend()"

    def now(self) -> float:
        """The process timeline."""
        return process_time()

    def _pruned(self, key: str, window: float, now: float) -> deque[float]:
        times = self._taken.setdefault(key, deque())
        if times and times[-1] > now:
            times = self._taken[key] = deque(sorted(min(t, now) for t in times))
        while times and times[0] <= now - window:
            times.popleft()
        return times

    def take(self, key: str, limit: int, window: float, now: float | None = None) -> float:
        """Take one token when the window has room; else report the wait."""
        with self._lock:
            at = self.now() if now is None else now
            times = self._pruned(key, window, at)
            wait = wait_for_oldest(list(times), limit, window, at)
            if wait == 0.0:
                times.append(at)
            return wait

    def timestamps(self, key: str, window: float, now: float | None = None) -> list[float]:
        """Taken times within the window."""
        with self._lock:
            return list(self._pruned(key, window, self.now() if now is None else now))

    def put_snapshot(self, key: str, payload: str, fetched_at: float) -> None:
        """Store a snapshot."""
        with self._lock:
            self._snapshots[key] = (payload, fetched_at)

    def get_snapshot(self, key: str) -> tuple[str, float] | None:
        """Read a snapshot."""
        with self._lock:
            return self._snapshots.get(key)

    def announce(self, key: str, member: str, ttl: float, now: float | None = None) -> None:
        """Add or renew one announcement."""
        with self._lock:
            at = self.now() if now is None else now
            self._announced.setdefault(key, {})[member] = (at + ttl, ttl)

    def withdraw(self, key: str, member: str) -> None:
        """Remove one announcement."""
        with self._lock:
            self._announced.get(key, {}).pop(member, None)

    def announced(self, key: str, now: float | None = None) -> set[str]:
        """Live announcements; expired ones are dropped, ones stamped in the future are clamped."""
        with self._lock:
            at = self.now() if now is None else now
            table = self._announced.get(key, {})
            for member, (expires, ttl) in list(table.items()):
                if expires <= at:
                    del table[member]
                elif expires > at + ttl:
                    table[member] = (at + ttl, ttl)
            return set(table)

    def put_record(self, key: str, payload: str, ttl: float, now: float | None = None) -> None:
        """Store or replace one record."""
        with self._lock:
            at = self.now() if now is None else now
            self._records[key] = (payload, at + ttl, ttl)

    def get_record(self, key: str, now: float | None = None) -> str | None:
        """A live record's payload; an expired one is dropped."""
        with self._lock:
            at = self.now() if now is None else now
            stored = self._records.get(key)
            if stored is None:
                return None
            if stored[1] <= at:
                del self._records[key]
                return None
            return stored[0]

    def delete_record(self, key: str) -> None:
        """Remove one record."""
        with self._lock:
            self._records.pop(key, None)


_PROCESS_BACKEND = InMemoryBudgetBackend()


def process_backend() -> InMemoryBudgetBackend:
    """The one in-memory backend of this process: every budget with backend "memory" shares it."""
    return _PROCESS_BACKEND


# ---------------------------------------------------------------------------------------------- budget


class _SpentBudgetLog:
    """Logs that a budget is spent at a bounded rate: once per interval per budget, and again on recovery."""

    def __init__(self, interval: float = BUDGET_LOG_INTERVAL) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def spent(self, key: str, client_id: Any, used: int, window: float, free_at: float) -> None:
        """Note a wait for a token; log it unless this budget was logged within the interval."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return
            self._last[key] = now
        logger.info(
            "Jobs budget of Stitch client %s is spent (%d Jobs requests per %s, all taken); the next token "
            "frees at %s",
            client_id,
            used,
            _duration(window),
            iso_time(free_at),
        )

    def recovered(self, key: str, client_id: Any) -> None:
        """Note a token taken; log once if the budget had been logged as spent."""
        with self._lock:
            if self._last.pop(key, None) is None:
                return
        logger.info("Jobs budget of Stitch client %s has a token again; requests go on", client_id)


def _duration(seconds: float) -> str:
    """``610 s`` as ``10 min 10 s``."""
    minutes, rest = divmod(round(seconds), 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


SPENT_BUDGET_LOG = _SpentBudgetLog()


class JobsBudget:
    """Pays for Jobs requests out of a shared sliding-window budget.

    :param client_id: Stitch client id the budget belongs to.
    :param limit: requests per window (Stitch allows 30; set lower to leave room for others).
    :param window: window length in seconds (Stitch's 600 plus a 10-second safety margin).
    :param backend: where taken requests are recorded; the process-wide memory backend by default.
    :param clock: an injected timeline (tests, virtual time); by default the backend's own clock, which
        every process sharing the backend reads alike.
    :param sleep: blocks for a number of seconds (used by :meth:`acquire`).
    """

    def __init__(
        self,
        client_id: int | str,
        *,
        limit: int = DEFAULT_JOBS_LIMIT,
        window: float = DEFAULT_JOBS_WINDOW,
        backend: BudgetBackend | None = None,
        clock: Callable[[], float] | None = None,
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
        self._injected_clock = clock
        self.clock: Callable[[], float] = clock if clock is not None else self.backend.now
        #: measures how long acquire() waited: the injected timeline, else this process's monotonic clock.
        self._elapsed: Callable[[], float] = clock if clock is not None else time.monotonic
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"JobsBudget({self.client_id!r}, limit={self.limit}, window={self.window:g}, {self.backend!r})"

    @property
    def key(self) -> str:
        """Backend key of this budget."""
        return f"stitch-jobs:{self.client_id}"

    def same_as(self, other: JobsBudget) -> bool:
        """True when ``other`` pays from the same tokens with the same limit, window and timeline."""
        return (
            self.key == other.key
            and self.limit == other.limit
            and self.window == other.window
            and self.backend is other.backend
            and self._injected_clock is other._injected_clock
        )

    def injected_now(self) -> float | None:
        """The ``now`` given to the backend: None (its own clock) unless a timeline was injected."""
        return None if self._injected_clock is None else float(self._injected_clock())

    def _exhausted(self, wait: float) -> StitchRateBudgetExhausted:
        return StitchRateBudgetExhausted(self.client_id, wait, limit=self.limit, window=self.window)

    def _take(self) -> float:
        wait = self.backend.take(self.key, self.limit, self.window, self.injected_now())
        if wait == 0.0:
            SPENT_BUDGET_LOG.recovered(self.key, self.client_id)
        else:
            SPENT_BUDGET_LOG.spent(self.key, self.client_id, self.limit, self.window, self.clock() + wait)
        return wait

    def try_acquire(self) -> bool:
        """Take a token now if one is free."""
        return self._take() == 0.0

    def acquire(self, max_wait: float = 0.0) -> None:
        """Take a token, waiting up to ``max_wait`` seconds; raise :class:`StitchRateBudgetExhausted` otherwise.

        :param max_wait: seconds this call may wait for a token.
        """
        deadline = self._elapsed() + max_wait
        while True:
            wait = self._take()
            if wait == 0.0:
                return
            if self._elapsed() + wait > deadline:
                raise self._exhausted(wait)
            self.sleep(wait)

    async def aacquire(self, max_wait: float = 0.0) -> None:
        """Like :meth:`acquire`, but waits with ``asyncio.sleep``.

        :param max_wait: seconds this call may wait for a token.
        """
        deadline = self._elapsed() + max_wait
        while True:
            wait = await asyncio.to_thread(self._take)
            if wait == 0.0:
                return
            if self._elapsed() + wait > deadline:
                raise self._exhausted(wait)
            await asyncio.sleep(wait)

    def used(self, now: float | None = None) -> int:
        """Tokens taken within the current window.

        :param now: a time on an injected timeline (ignored by the store's own clock when None).
        """
        return len(
            self.backend.timestamps(self.key, self.window, self.injected_now() if now is None else now)
        )

    def seconds_until_available(self) -> float:
        """Seconds until a token is free (0.0 when one is free now)."""
        at = self.injected_now()
        now = self.backend.now() if at is None else at
        return wait_for_oldest(
            self.backend.timestamps(self.key, self.window, now), self.limit, self.window, now
        )
