"""JobsMonitor: one snapshot of an account's extractions and loads, refreshed within the Jobs budget.

Every wait on a Stitch job (sensor pokes, triggers, operators) asks the monitor instead of polling the Jobs
endpoints itself. Answers come from the latest snapshot; the snapshot is refreshed only when a waiter needs a
newer one, the spacing between refreshes has passed and the budget has a token. The snapshot is also kept in
the budget's backend, so a process that finds a fresh one there reuses it instead of paying again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_stitch.api.budget import DEFAULT_JOBS_WINDOW, JobsBudget
from airflow_provider_stitch.api.errors import (
    StitchAPIError,
    StitchError,
    StitchRateBudgetExhausted,
    StitchServerError,
    StitchTransportError,
)

#: Failures that end a refresh early and leave the page to the next one.
_RETRY_LATER = (StitchRateBudgetExhausted, StitchServerError, StitchTransportError)

if TYPE_CHECKING:
    from airflow_provider_stitch.api.aclient import AsyncStitchClient
    from airflow_provider_stitch.api.client import StitchClient

logger = logging.getLogger("airflow_provider_stitch.monitor")

#: Pages one refresh reads at most (a guard against a list that never ends).
MAX_PAGES = 1000
EXTRACTIONS = "extractions"
LOADS = "loads"
PHASES = ("discovery", "tap", "target")
#: Shortest spacing between two refreshes of one list against Stitch, whatever the budget allows (seconds).
DEFAULT_MIN_INTERVAL = 15.0
#: Spacing is stretched by a random factor in ``[1, 1 + jitter]`` so processes drift apart.
DEFAULT_JITTER = 0.2
#: A waiter registered in the backend is forgotten when it has not asked for this long (seconds).
WATCHER_TTL = 900.0


class StitchWaitTimeout(StitchError):
    """A wait on a Stitch job passed its deadline without an answer."""


# ---------------------------------------------------------------------------------------------- questions


def to_epoch(value: Any) -> float | None:
    """Epoch seconds of a datetime, an ISO 8601 string or a number; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        if text[-1:] in "zZ":
            text = text[:-1] + "+00:00"
        return to_epoch(datetime.fromisoformat(text))
    raise ValueError(f"cannot read a point in time from {value!r}")


def _second(value: float | None) -> float | None:
    """Stitch writes timestamps to the second: compare against the whole second."""
    return None if value is None else float(math.floor(value))


@dataclass(frozen=True)
class ExtractionWatch:
    """The question "has this source's extraction finished?".

    :param source_id: the source.
    :param job_name: the job started for it; None to take the first extraction completing after ``after``.
    :param after: epoch seconds when the job was started (or attached to).
    """

    source_id: int
    job_name: str | None = None
    after: float | None = None

    @property
    def identity(self) -> str:
        """Key of the source's row in the extractions snapshot."""
        return str(int(self.source_id))


@dataclass(frozen=True)
class LoadWatch:
    """The question "have these streams of the source loaded since ``after``?".

    :param source_name: the source's schema name (load rows carry it, not the id).
    :param streams: stream names to wait for.
    :param after: epoch seconds the loads must be at or after (usually the extraction's completion).
    """

    source_name: str
    streams: tuple[str, ...]
    after: float | None = None

    @property
    def identities(self) -> tuple[str, ...]:
        """Keys of the streams' rows in the loads snapshot."""
        return tuple(load_identity(self.source_name, stream) for stream in self.streams)


@dataclass(frozen=True)
class ExtractionOutcome:
    """How a watched extraction ended."""

    source_id: int
    job_name: str | None
    succeeded: bool
    completion_time: float | None
    failed_phase: str | None = None
    message: str | None = None
    replaced: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Primitives only (for trigger events and XCom)."""
        return {
            "source_id": self.source_id,
            "job_name": self.job_name,
            "succeeded": self.succeeded,
            "completion_time": self.completion_time,
            "failed_phase": self.failed_phase,
            "message": self.message,
            "replaced": self.replaced,
        }


@dataclass(frozen=True)
class LoadOutcome:
    """How the watched loads ended."""

    source_name: str
    succeeded: bool
    loaded_at: dict[str, float] = field(default_factory=dict)
    failed_stream: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Primitives only (for trigger events and XCom)."""
        return {
            "source_name": self.source_name,
            "succeeded": self.succeeded,
            "loaded_at": dict(self.loaded_at),
            "failed_stream": self.failed_stream,
            "message": self.message,
        }


def load_identity(source_name: str | None, stream_name: str | None) -> str:
    """Key of one load row (a source name and a stream name)."""
    return json.dumps([source_name or "", stream_name or ""])


def extraction_failure(row: Any) -> tuple[str | None, str]:
    """The failing phase and a message for a finished extraction that did not succeed."""
    for phase in PHASES:
        status = getattr(row, f"{phase}_exit_status")
        if status not in (None, 0):
            description = getattr(row, f"{phase}_description") or "no description given"
            return phase, f"the {phase} phase exited with status {status}: {description}"
    for phase in PHASES:
        if getattr(row, f"{phase}_exit_status") is None:
            description = getattr(row, f"{phase}_description") or "no exit status"
            return phase, f"the job ended before its {phase} phase finished: {description}"
    return None, "the extraction did not succeed"


def _extraction_finished(row: Any) -> bool:
    """Finished: a completion time, and either every exit status or a failure/termination to explain the gap."""
    if row.completion_time is None:
        return False
    if row.is_finished:
        return True
    statuses = row.exit_statuses
    descriptions = [getattr(row, f"{phase}_description") for phase in PHASES]
    return any(s not in (None, 0) for s in statuses) or any(descriptions)


def decide_extraction(raw_row: dict[str, Any] | None, watch: ExtractionWatch) -> ExtractionOutcome | None:
    """Answer an :class:`ExtractionWatch` from the source's row in the extractions list (None = not yet).

    With a job name, the row must carry it, or be of a job started at or after ``after`` (a newer job that
    replaced ours before we saw it: the answer is taken from it). Without one, the row must have completed
    at or after ``after``.
    """
    if raw_row is None:
        return None
    from airflow_provider_stitch.api.models import Extraction

    row = Extraction.model_validate(raw_row)
    after = _second(watch.after)
    replaced = False
    if watch.job_name is not None and row.job_name != watch.job_name:
        started = to_epoch(row.start_time)
        if after is None or started is None or started < after:
            return None
        replaced = True
    elif watch.job_name is None and after is not None:
        completed = to_epoch(row.completion_time)
        if completed is None or completed < after:
            return None
    if not _extraction_finished(row):
        return None
    if replaced:
        logger.warning(
            "source %s: job %s was replaced by %s before it was seen finished; deciding from the newer job",
            watch.source_id,
            watch.job_name,
            row.job_name,
        )
    phase, message = (None, None) if row.succeeded else extraction_failure(row)
    return ExtractionOutcome(
        source_id=int(watch.source_id),
        job_name=row.job_name,
        succeeded=row.succeeded,
        completion_time=to_epoch(row.completion_time),
        failed_phase=phase,
        message=message,
        replaced=replaced,
    )


def load_error_message(error_state: Any) -> str:
    """The warehouse's message from a load's ``error_state`` (its shape is not stable, so look around)."""
    if isinstance(error_state, dict):
        data = error_state.get("notification_data")
        if isinstance(data, dict):
            for key in ("warehouse_message", "exception_message", "message", "error"):
                if data.get(key):
                    return str(data[key])
        for key in ("message", "error"):
            if error_state.get(key):
                return str(error_state[key])
    return "the load failed (Stitch gave no message)"


def decide_loads(
    rows: dict[str, dict[str, Any] | None], watch: LoadWatch, checked_at: dict[str, float]
) -> LoadOutcome | None:
    """Answer a :class:`LoadWatch` from the rows of its streams (None = not yet).

    A stream in ``error_state`` fails the wait, but only when that row was read at or after ``after`` (an
    error read before the extraction completed may be a previous run's).
    """
    after = _second(watch.after)
    loaded: dict[str, float] = {}
    for stream, identity in zip(watch.streams, watch.identities, strict=True):
        raw = rows.get(identity)
        if raw is None:
            return None
        if raw.get("error_state"):
            read_at = checked_at.get(identity)
            if after is None or (read_at is not None and read_at >= after):
                return LoadOutcome(
                    source_name=watch.source_name,
                    succeeded=False,
                    loaded_at=loaded,
                    failed_stream=stream,
                    message=f"loading stream {stream!r} failed: {load_error_message(raw['error_state'])}",
                )
            return None
        loaded_at = to_epoch(raw.get("last_batch_loaded_at"))
        if loaded_at is None or (after is not None and loaded_at < after):
            return None
        loaded[stream] = loaded_at
    return LoadOutcome(source_name=watch.source_name, succeeded=True, loaded_at=loaded)


# ---------------------------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class _ListKind:
    """How one Jobs list is keyed and ordered."""

    name: str
    endpoint: str
    identity: Callable[[dict[str, Any]], str]
    order: Callable[[dict[str, Any]], Any]
    order_of_identity: Callable[[str], Any]


def _extraction_order(identity: str) -> int:
    return int(identity)


def _load_order(identity: str) -> str:
    return str(json.loads(identity)[1])


KINDS = {
    EXTRACTIONS: _ListKind(
        name=EXTRACTIONS,
        endpoint="list_extractions",
        identity=lambda row: str(int(row.get("source_id") or 0)),
        order=lambda row: int(row.get("source_id") or 0),
        order_of_identity=_extraction_order,
    ),
    LOADS: _ListKind(
        name=LOADS,
        endpoint="list_loads",
        identity=lambda row: load_identity(row.get("source_name"), row.get("stream_name")),
        order=lambda row: str(row.get("stream_name") or ""),
        order_of_identity=_load_order,
    ),
}


@dataclass
class ListSnapshot:
    """What is known of one Jobs list: rows by identity, when each was read, and on which page."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    checked: dict[str, float] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)
    fetched_at: float = 0.0
    pages_per_refresh: int = 1

    def to_json(self) -> str:
        """Serialise for the shared backend."""
        return json.dumps(
            {
                "rows": self.rows,
                "checked": self.checked,
                "pages": self.pages,
                "fetched_at": self.fetched_at,
                "pages_per_refresh": self.pages_per_refresh,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ListSnapshot:
        """Read a serialised snapshot (a broken one reads as empty)."""
        try:
            data = json.loads(text)
            return cls(
                rows=dict(data.get("rows") or {}),
                checked={k: float(v) for k, v in (data.get("checked") or {}).items()},
                pages={k: int(v) for k, v in (data.get("pages") or {}).items()},
                fetched_at=float(data.get("fetched_at") or 0.0),
                pages_per_refresh=max(1, int(data.get("pages_per_refresh") or 1)),
            )
        except (ValueError, TypeError, AttributeError):
            return cls()

    def merge(self, other: ListSnapshot) -> None:
        """Take every entry ``other`` read more recently than this one."""
        for identity, when in other.checked.items():
            if when > self.checked.get(identity, -math.inf):
                self.checked[identity] = when
                if identity in other.rows:
                    self.rows[identity] = other.rows[identity]
                else:
                    self.rows.pop(identity, None)
                if identity in other.pages:
                    self.pages[identity] = other.pages[identity]
        if other.fetched_at > self.fetched_at:
            self.fetched_at = other.fetched_at
            self.pages_per_refresh = other.pages_per_refresh


class PageWalk:
    """One refresh of a sorted Jobs list that reads only the pages the watched rows can be on.

    Starts on the earliest page a watched row was last seen (or found missing) on, page 1 while any
    watched row has no such page; stops once every watched row was found
    or confirmed absent, or a page passes the largest watched key. If the start page begins after a
    watched key (rows shifted back), the walk starts over from page 1.
    """

    def __init__(self, kind: _ListKind, snapshot: ListSnapshot, watched: Iterable[str], now: float) -> None:
        self.kind = kind
        self.snapshot = snapshot
        self.watched = set(watched)
        self.now = now
        self.remaining = set(self.watched)
        hints = [snapshot.pages.get(identity, 1) for identity in self.watched]
        self.start = min(hints) if hints else 1
        self.max_order = max((kind.order_of_identity(i) for i in self.watched), default=None)
        self.pages_read = 0
        self._previous_last: Any = None
        self._restarted = self.start == 1

    def absorb(self, page: int, rows: list[dict[str, Any]], has_next: bool) -> int | None:
        """Record one page; return the next page to read, or None when done."""
        self.pages_read += 1
        orders = [self.kind.order(row) for row in rows]
        for row in rows:
            identity = self.kind.identity(row)
            self.snapshot.rows[identity] = row
            self.snapshot.checked[identity] = self.now
            self.snapshot.pages[identity] = page
            self.remaining.discard(identity)
        if page == 1 or self._previous_last is not None:
            lower = self._previous_last
        else:
            lower = orders[0] if orders else None
        upper = orders[-1] if orders else None
        for identity in list(self.remaining):
            order = self.kind.order_of_identity(identity)
            above = (page == 1 and self._previous_last is None) or (lower is not None and order > lower)
            below = not has_next or (upper is not None and order < upper)
            if above and below:
                self.snapshot.rows.pop(identity, None)
                self.snapshot.checked[identity] = self.now
                self.snapshot.pages[identity] = page
                self.remaining.discard(identity)
        if not self._restarted and page == self.start and orders:
            self._restarted = True
            if any(self.kind.order_of_identity(i) < orders[0] for i in self.remaining):
                self._previous_last = None
                return 1
        if orders:
            self._previous_last = orders[-1]
        if not has_next or not rows or not self.remaining or self.pages_read >= MAX_PAGES:
            return None
        if self.max_order is not None and orders[-1] > self.max_order:
            return None
        return page + 1

    def finish(self) -> None:
        """Stamp the snapshot with this refresh."""
        self.snapshot.fetched_at = self.now
        self.snapshot.pages_per_refresh = max(1, self.pages_read)


# ---------------------------------------------------------------------------------------------- reading pages


def _read_page(payload: Any, page: int) -> tuple[list[dict[str, Any]], bool]:
    from airflow_provider_stitch.api.base import parse_page

    envelope = parse_page(payload)
    rows = [row for row in envelope.data if isinstance(row, dict)]
    has_next = envelope.next_path is not None
    if not has_next and envelope.total is not None and rows:
        has_next = page * 100 < int(envelope.total)
    return rows, has_next


def fetch_page_sync(client: StitchClient, kind: _ListKind, page: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of a Jobs list through the sync client (pays one budget token)."""
    return _read_page(client.get_jobs_page(kind.endpoint, page), page)


async def fetch_page_async(
    client: AsyncStitchClient, kind: _ListKind, page: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of a Jobs list through the async client (pays one budget token)."""
    return _read_page(await client.get_jobs_page(kind.endpoint, page), page)


def _skip_page_or_raise(kind: str, page: int, problem: Exception) -> None:
    """Log a page that a later refresh may read (server trouble, transport, 429, empty budget); raise others."""
    if not isinstance(problem, _RETRY_LATER) and getattr(problem, "status", None) != 429:
        raise problem
    _log_skipped_page(kind, page, problem)


def _log_skipped_page(kind: str, page: int, problem: Exception) -> None:
    """A page that could not be read now ends the refresh; the next one tries again."""
    logger.info(
        "reading page %d of %s stopped early (%s); the next refresh will try again", page, kind, problem
    )


# ---------------------------------------------------------------------------------------------- the monitor


class JobsMonitor:
    """Answers questions about one account's jobs from shared, budget-paced snapshots.

    :param account_key: identity of the account (base URL and client id).
    :param budget: the account's Jobs budget; its clock is the monitor's clock and its backend holds the
        shared snapshots.
    :param min_interval: shortest spacing between two refreshes of one list (seconds); by default 15 s,
        shortened in proportion when the budget's window is (an emulator running faster than real time).
    :param jitter: spacing is stretched by a random factor in ``[1, 1 + jitter]``.
    :param asleep: coroutine function used to wait in :meth:`await_extraction` / :meth:`await_loads`.
    :param rng: random source for the jitter.
    """

    def __init__(
        self,
        account_key: str,
        budget: JobsBudget,
        *,
        min_interval: float | None = None,
        jitter: float = DEFAULT_JITTER,
        asleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.account_key = account_key
        self.budget = budget
        if min_interval is None:
            min_interval = DEFAULT_MIN_INTERVAL * min(1.0, budget.window / DEFAULT_JOBS_WINDOW)
        self.min_interval = float(min_interval)
        self.jitter = float(jitter)
        self.asleep = asleep
        self.rng = rng or random.Random()
        self.snapshots = {kind: ListSnapshot() for kind in KINDS}
        self._watchers: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        self._spacing = {kind: self.min_interval for kind in KINDS}
        self._lock = threading.RLock()
        self._alocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._source_names: dict[int, str] = {}
        self._budget_free_at = -math.inf
        self.refreshes = {kind: 0 for kind in KINDS}

    def __repr__(self) -> str:
        return f"JobsMonitor({self.account_key!r})"

    # ------------------------------------------------------------------ clock, keys and waiters

    def now(self) -> float:
        """Current time on the budget's clock."""
        return float(self.budget.clock())

    def _snapshot_key(self, kind: str) -> str:
        return f"{self.budget.key}:snapshot:{kind}"

    def _watchers_key(self, kind: str) -> str:
        return f"{self.budget.key}:watchers:{kind}"

    def watch(self, kind: str, identities: Iterable[str]) -> None:
        """Count a waiter on these rows (this process), and announce them to other processes."""
        identities = list(identities)
        with self._lock:
            for identity in identities:
                self._watchers[kind][identity] = self._watchers[kind].get(identity, 0) + 1
        self._announce(kind, identities, remove=False)

    def unwatch(self, kind: str, identities: Iterable[str]) -> None:
        """Forget a waiter registered with :meth:`watch`."""
        identities = list(identities)
        with self._lock:
            for identity in identities:
                count = self._watchers[kind].get(identity, 0) - 1
                if count > 0:
                    self._watchers[kind][identity] = count
                else:
                    self._watchers[kind].pop(identity, None)
        self._announce(kind, identities, remove=True)

    def _announce(self, kind: str, identities: list[str], *, remove: bool) -> None:
        """Best-effort shared list of watched rows, so one process's refresh covers the others' rows."""
        try:
            now = self.now()
            stored = self.budget.backend.get_snapshot(self._watchers_key(kind))
            table = json.loads(stored[0]) if stored else {}
            table = {k: v for k, v in table.items() if float(v) > now}
            for identity in identities:
                if remove:
                    table.pop(identity, None)
                else:
                    table[identity] = now + WATCHER_TTL
            self.budget.backend.put_snapshot(self._watchers_key(kind), json.dumps(table), now)
        except (ValueError, TypeError, OSError) as problem:
            logger.debug("could not share the watched rows: %s", problem)

    def watched(self, kind: str) -> set[str]:
        """Rows watched by this process and (while their announcement lasts) by others."""
        with self._lock:
            mine = set(self._watchers[kind])
        try:
            stored = self.budget.backend.get_snapshot(self._watchers_key(kind))
            now = self.now()
            others = {k for k, v in json.loads(stored[0]).items() if float(v) > now} if stored else set()
        except (ValueError, TypeError, OSError):
            others = set()
        return mine | others

    def active_waiters(self) -> int:
        """Waiters of this process (each counted once per watched row)."""
        with self._lock:
            return sum(sum(table.values()) for table in self._watchers.values())

    # ------------------------------------------------------------------ pacing

    def spacing(self, kind: str) -> float:
        """Seconds between refreshes of ``kind``: what the budget sustains for the pages they cost."""
        with self._lock:
            active_kinds = sum(1 for table in self._watchers.values() if table) or 1
            pages = self.snapshots[kind].pages_per_refresh
        sustainable = self.budget.window / self.budget.limit * pages * active_kinds
        return max(self.min_interval, sustainable)

    def _due_at(self, kind: str) -> float:
        return self.snapshots[kind].fetched_at + self._spacing[kind]

    def next_check_in(self, kind: str) -> float:
        """Seconds until a refresh of ``kind`` may happen (spacing and, as last seen, the budget allow it)."""
        return max(0.0, self._due_at(kind) - self.now(), self._budget_free_at - self.now())

    def _pull_shared(self, kind: str) -> None:
        """Merge a snapshot another process stored, when it is newer than ours."""
        stored = self.budget.backend.get_snapshot(self._snapshot_key(kind))
        if stored is not None and stored[1] > self.snapshots[kind].fetched_at:
            with self._lock:
                self.snapshots[kind].merge(ListSnapshot.from_json(stored[0]))

    def _refresh_wanted(self, kind: str, identities: Iterable[str]) -> bool:
        """Due by our snapshot, still due after taking any newer shared one, and the budget was not seen empty."""
        identities = list(identities)
        if not self._needs_refresh(kind, identities):
            return False
        self._pull_shared(kind)
        return self._needs_refresh(kind, identities) and self.now() >= self._budget_free_at

    def _push_shared(self, kind: str) -> None:
        with self._lock:
            snapshot = self.snapshots[kind]
            payload, fetched_at = snapshot.to_json(), snapshot.fetched_at
        self.budget.backend.put_snapshot(self._snapshot_key(kind), payload, fetched_at)

    def _needs_refresh(self, kind: str, identities: Iterable[str]) -> bool:
        """True when the spacing has passed, or sooner (``min_interval``) for rows never read yet."""
        snapshot = self.snapshots[kind]
        now = self.now()
        if any(i not in snapshot.checked for i in identities):
            return now - snapshot.fetched_at >= self.min_interval
        return now >= self._due_at(kind)

    def _budget_has_token(self) -> bool:
        """Ask the budget; remember until when it is empty so waiters need not ask again before then."""
        wait = self.budget.seconds_until_available()
        if wait > 0:
            self._budget_free_at = self.now() + wait
            return False
        return True

    def _begin_walk(self, kind: str) -> PageWalk | None:
        if not self._budget_has_token():
            return None
        watched = self.watched(kind)
        if not watched:
            return None
        return PageWalk(KINDS[kind], self.snapshots[kind], watched, self.now())

    def _end_walk(self, kind: str, walk: PageWalk) -> None:
        if walk.pages_read == 0:
            return
        with self._lock:
            walk.finish()
            self.refreshes[kind] += 1
            self._spacing[kind] = self.spacing(kind) * (1.0 + self.rng.random() * self.jitter)
        self._push_shared(kind)
        logger.debug("%s: refreshed %s (%d page(s))", self, kind, walk.pages_read)

    def refresh(self, client: StitchClient, kind: str) -> int:
        """Read the pages of ``kind`` the watched rows need, as far as the budget allows; returns pages read."""
        walk = self._begin_walk(kind)
        if walk is None:
            return 0
        page: int | None = walk.start
        while page is not None:
            if not self._budget_has_token():
                break
            try:
                rows, has_next = fetch_page_sync(client, KINDS[kind], page)
            except (*_RETRY_LATER, StitchAPIError) as problem:
                _skip_page_or_raise(kind, page, problem)
                break
            page = walk.absorb(page, rows, has_next)
        self._end_walk(kind, walk)
        return walk.pages_read

    async def arefresh(self, client: AsyncStitchClient, kind: str) -> int:
        """Async :meth:`refresh`."""
        walk = await asyncio.to_thread(self._begin_walk, kind)
        if walk is None:
            return 0
        page: int | None = walk.start
        while page is not None:
            if not await asyncio.to_thread(self._budget_has_token):
                break
            try:
                rows, has_next = await fetch_page_async(client, KINDS[kind], page)
            except (*_RETRY_LATER, StitchAPIError) as problem:
                _skip_page_or_raise(kind, page, problem)
                break
            page = walk.absorb(page, rows, has_next)
        await asyncio.to_thread(self._end_walk, kind, walk)
        return walk.pages_read

    def _alock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._lock:
            lock = self._alocks.get(loop)
            if lock is None:
                lock = self._alocks[loop] = asyncio.Lock()
            return lock

    # ------------------------------------------------------------------ extractions

    def answer_extraction(self, watch: ExtractionWatch) -> ExtractionOutcome | None:
        """Answer from the snapshot only (no request)."""
        with self._lock:
            row = self.snapshots[EXTRACTIONS].rows.get(watch.identity)
        return decide_extraction(row, watch)

    def check_extraction(self, client: StitchClient, watch: ExtractionWatch) -> ExtractionOutcome | None:
        """Answer, refreshing first when the snapshot is due for a refresh and the budget allows."""
        if self._refresh_wanted(EXTRACTIONS, [watch.identity]):
            self.refresh(client, EXTRACTIONS)
        return self.answer_extraction(watch)

    async def acheck_extraction(
        self, client: AsyncStitchClient, watch: ExtractionWatch
    ) -> ExtractionOutcome | None:
        """Async :meth:`check_extraction`; one refresh at a time per event loop."""
        if not self._needs_refresh(EXTRACTIONS, [watch.identity]):
            return self.answer_extraction(watch)
        async with self._alock():
            if await asyncio.to_thread(self._refresh_wanted, EXTRACTIONS, [watch.identity]):
                await self.arefresh(client, EXTRACTIONS)
        return self.answer_extraction(watch)

    def poll_extraction(self, client: StitchClient, watch: ExtractionWatch) -> ExtractionOutcome | None:
        """One sensor poke: register the waiter for this check, answer, and keep it registered while pending."""
        self.watch(EXTRACTIONS, [watch.identity])
        try:
            return self.check_extraction(client, watch)
        finally:
            with self._lock:
                self._watchers[EXTRACTIONS].pop(watch.identity, None)

    async def await_extraction(
        self, client: AsyncStitchClient, watch: ExtractionWatch, *, deadline: float | None = None
    ) -> ExtractionOutcome:
        """Wait until the watched extraction has finished.

        :param deadline: epoch seconds (monitor clock) after which :class:`StitchWaitTimeout` is raised.
        """
        return await self._await(
            EXTRACTIONS,
            [watch.identity],
            lambda: self.acheck_extraction(client, watch),
            deadline,
            f"extraction of source {watch.source_id}",
        )

    # ------------------------------------------------------------------ loads

    def answer_loads(self, watch: LoadWatch) -> LoadOutcome | None:
        """Answer from the snapshot only (no request)."""
        with self._lock:
            snapshot = self.snapshots[LOADS]
            rows = {i: snapshot.rows.get(i) for i in watch.identities}
            checked = {i: snapshot.checked[i] for i in watch.identities if i in snapshot.checked}
        return decide_loads(rows, watch, checked)

    def check_loads(self, client: StitchClient, watch: LoadWatch) -> LoadOutcome | None:
        """Answer, refreshing first when needed and affordable."""
        if self._refresh_wanted(LOADS, watch.identities):
            self.refresh(client, LOADS)
        return self.answer_loads(watch)

    async def acheck_loads(self, client: AsyncStitchClient, watch: LoadWatch) -> LoadOutcome | None:
        """Async :meth:`check_loads`."""
        if not self._needs_refresh(LOADS, watch.identities):
            return self.answer_loads(watch)
        async with self._alock():
            if await asyncio.to_thread(self._refresh_wanted, LOADS, watch.identities):
                await self.arefresh(client, LOADS)
        return self.answer_loads(watch)

    def poll_loads(self, client: StitchClient, watch: LoadWatch) -> LoadOutcome | None:
        """One sensor poke for loads."""
        self.watch(LOADS, watch.identities)
        try:
            return self.check_loads(client, watch)
        finally:
            with self._lock:
                for identity in watch.identities:
                    self._watchers[LOADS].pop(identity, None)

    async def await_loads(
        self, client: AsyncStitchClient, watch: LoadWatch, *, deadline: float | None = None
    ) -> LoadOutcome:
        """Wait until the watched streams have loaded (or one failed)."""
        return await self._await(
            LOADS,
            list(watch.identities),
            lambda: self.acheck_loads(client, watch),
            deadline,
            f"loads of {watch.source_name}",
        )

    async def _await(
        self,
        kind: str,
        identities: list[str],
        check: Callable[[], Awaitable[Any]],
        deadline: float | None,
        what: str,
    ) -> Any:
        await asyncio.to_thread(self.watch, kind, identities)
        try:
            while True:
                outcome = await check()
                if outcome is not None:
                    return outcome
                now = self.now()
                if deadline is not None and now >= deadline:
                    raise StitchWaitTimeout(f"gave up waiting for the {what}: the deadline passed")
                pause = max(self.next_check_in(kind), 0.5)
                if deadline is not None:
                    pause = min(pause, max(deadline - now, 0.0))
                await self.asleep(pause)
        finally:
            await asyncio.to_thread(self.unwatch, kind, identities)

    # ------------------------------------------------------------------ what loads are about (not Jobs requests)

    def load_watch(
        self, client: StitchClient, source_id: int, streams: Iterable[str] | None, after: float | None
    ) -> LoadWatch:
        """Build a :class:`LoadWatch`: the source's name (once) and its selected streams, from non-Jobs reads."""
        name = self._source_names.get(int(source_id))
        if name is None:
            name = str(client.get_source(int(source_id)).name or "")
            self._source_names[int(source_id)] = name
        listed = client.list_streams(int(source_id))
        chosen = stream_names_of(streams, listed) if streams else selected_stream_names(listed)
        return LoadWatch(source_name=name, streams=chosen, after=after)

    async def aload_watch(
        self, client: AsyncStitchClient, source_id: int, streams: Iterable[str] | None, after: float | None
    ) -> LoadWatch:
        """Async :meth:`load_watch`."""
        name = self._source_names.get(int(source_id))
        if name is None:
            name = str((await client.get_source(int(source_id))).name or "")
            self._source_names[int(source_id)] = name
        listed = await client.list_streams(int(source_id))
        chosen = stream_names_of(streams, listed) if streams else selected_stream_names(listed)
        return LoadWatch(source_name=name, streams=chosen, after=after)


def stream_names_of(requested: Iterable[str], streams: Iterable[Any]) -> tuple[str, ...]:
    """The load-row names of the requested streams: a ``tap_stream_id`` (what the stream selection operator
    returns, e.g. ``shop-public-orders``) becomes its stream's ``stream_name``; other names pass unchanged."""
    by_tap_id = {s.tap_stream_id: s.stream_name for s in streams if s.tap_stream_id and s.stream_name}
    return tuple(dict.fromkeys(by_tap_id.get(name, name) for name in requested))


def selected_stream_names(streams: Iterable[Any]) -> tuple[str, ...]:
    """Names of the selected streams; every stream when the source selects none (types without selection)."""
    listed = [s for s in streams if s.stream_name]
    chosen = [s.stream_name for s in listed if s.selected] or [s.stream_name for s in listed]
    return tuple(dict.fromkeys(chosen))


# ---------------------------------------------------------------------------------------------- registry

_REGISTRY: dict[str, JobsMonitor] = {}
_REGISTRY_LOCK = threading.Lock()


def account_key(base_url: str, client_id: int) -> str:
    """Registry key of an account: API root and client id."""
    return f"{base_url.rstrip('/')}#{int(client_id)}"


def monitor_for(base_url: str, client_id: int, budget: JobsBudget, **options: Any) -> JobsMonitor:
    """The process-wide monitor of an account (created on first use with ``options``)."""
    key = account_key(base_url, client_id)
    with _REGISTRY_LOCK:
        monitor = _REGISTRY.get(key)
        if monitor is None:
            monitor = _REGISTRY[key] = JobsMonitor(key, budget, **options)
        return monitor


def monitor_for_client(client: StitchClient) -> JobsMonitor:
    """The monitor of a sync client's account."""
    return monitor_for(client.base_url, client.client_id, client.jobs_budget)


async def amonitor_for_client(client: AsyncStitchClient) -> JobsMonitor:
    """The monitor of an async client's account."""
    client_id = await client.aclient_id()
    return monitor_for(client.base_url, client_id, await client.ajobs_budget())


def forget_monitors() -> None:
    """Drop every registered monitor (tests, or after changing a connection's budget)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()


__all__ = [
    "EXTRACTIONS",
    "LOADS",
    "ExtractionOutcome",
    "ExtractionWatch",
    "JobsMonitor",
    "ListSnapshot",
    "LoadOutcome",
    "LoadWatch",
    "PageWalk",
    "StitchWaitTimeout",
    "amonitor_for_client",
    "decide_extraction",
    "decide_loads",
    "forget_monitors",
    "monitor_for",
    "monitor_for_client",
    "selected_stream_names",
    "to_epoch",
]
