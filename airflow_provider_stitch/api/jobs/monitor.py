"""JobsMonitor: one snapshot of an account's extractions and loads, refreshed within the Jobs budget.

Every wait on a Stitch job (sensor pokes, triggers, operators) asks the monitor instead of polling the Jobs
endpoints itself. Answers come from the latest snapshot; the snapshot is refreshed only when a waiter needs a
newer one, the spacing between refreshes has passed and the budget has a token. The snapshot is also kept in
the budget's backend, so a process that finds a fresh one there reuses it instead of paying again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_stitch.api.budget import DEFAULT_JOBS_WINDOW, JobsBudget
from airflow_provider_stitch.api.errors import (
    StitchAPIError,
    StitchWaitTimeout,
)
from airflow_provider_stitch.api.jobs.decisions import (
    EXTRACTIONS,
    LOADS,
    ExtractionOutcome,
    ExtractionWatch,
    LoadOutcome,
    LoadWatch,
    decide_extraction,
    decide_loads,
    selected_stream_names,
    stream_names_of,
)
from airflow_provider_stitch.api.jobs.snapshots import (
    KINDS,
    RETRY_LATER,
    ListSnapshot,
    PageWalk,
    fetch_page_async,
    fetch_page_sync,
    skip_page_or_raise,
)
from airflow_provider_stitch.api.jobs.watchers import WaiterRegistry

if TYPE_CHECKING:
    from airflow_provider_stitch.api.aclient import AsyncStitchClient
    from airflow_provider_stitch.api.client import StitchClient

logger = logging.getLogger("airflow_provider_stitch.monitor")

#: Shortest spacing between two refreshes of one list against Stitch, whatever the budget allows (seconds).
DEFAULT_MIN_INTERVAL = 15.0
#: Spacing is stretched by a random factor in ``[1, 1 + jitter]`` so processes drift apart.
DEFAULT_JITTER = 0.2

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
        self._spacing = {kind: self.min_interval for kind in KINDS}
        self._lock = threading.RLock()
        self.watchers = WaiterRegistry(lambda: self.budget, self._lock)
        self._watchers = self.watchers.counts
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
        self.watchers.watch(kind, identities)

    def unwatch(self, kind: str, identities: Iterable[str]) -> None:
        """Forget a waiter registered with :meth:`watch`."""
        self.watchers.unwatch(kind, identities)

    def watched(self, kind: str) -> set[str]:
        """Rows watched by this process and (while their announcement lasts) by others."""
        return self.watchers.watched(kind)

    def active_waiters(self) -> int:
        """Waiters of this process (each counted once per watched row)."""
        return self.watchers.active_waiters()

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
        now = self.now()
        if stored is not None and min(stored[1], now) > self.snapshots[kind].fetched_at:
            shared = ListSnapshot.from_json(stored[0])
            shared.fetched_at = min(shared.fetched_at, now)
            shared.checked = {identity: min(when, now) for identity, when in shared.checked.items()}
            with self._lock:
                self.snapshots[kind].merge(shared)

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
            except (*RETRY_LATER, StitchAPIError) as problem:
                skip_page_or_raise(kind, page, problem)
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
            except (*RETRY_LATER, StitchAPIError) as problem:
                skip_page_or_raise(kind, page, problem)
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
        outcome = None
        try:
            outcome = self.check_extraction(client, watch)
            return outcome
        finally:
            self.watchers.poked(EXTRACTIONS, [watch.identity], finished=outcome is not None)

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
        outcome = None
        try:
            outcome = self.check_loads(client, watch)
            return outcome
        finally:
            self.watchers.poked(LOADS, watch.identities, finished=outcome is not None)

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


# ---------------------------------------------------------------------------------------------- registry

_REGISTRY: dict[str, JobsMonitor] = {}
_REGISTRY_LOCK = threading.Lock()


def account_key(base_url: str, client_id: int) -> str:
    """Registry key of an account: API root and client id."""
    return f"{base_url.rstrip('/')}#{int(client_id)}"


def monitor_for(base_url: str, client_id: int, budget: JobsBudget, **options: Any) -> JobsMonitor:
    """The process-wide monitor of an account (created on first use with ``options``).

    It paces with the budget its callers pay from: when the connection changed (limit, window, store),
    the monitor takes the new budget and keeps its snapshots.
    """
    key = account_key(base_url, client_id)
    with _REGISTRY_LOCK:
        monitor = _REGISTRY.get(key)
        if monitor is None:
            monitor = _REGISTRY[key] = JobsMonitor(key, budget, **options)
        elif not monitor.budget.same_as(budget):
            monitor.budget = budget
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
