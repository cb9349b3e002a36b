"""JobsMonitor: one account's extractions and loads, read page by page on a fair schedule within the Jobs budget.

Every wait on a Stitch job (sensor pokes, triggers, operators) asks the monitor instead of polling the Jobs
endpoints itself. Answers come from what the monitor has read. Reads come in turns, one page per turn and one
turn every ``window / limit`` seconds of the budget (20.3 s for Stitch's 30 requests per 610 s), shared by
every process on the budget's store: whoever waits when a turn is due reads the pending page read longest ago
(:mod:`.schedule`), and stores it for the other processes.

Only the Jobs lists tell that a sync ended: the Source object and its report card (``GET /v4/sources/{id}``)
describe configuration (``current_step_type``, ``schedule``, ``check_job_name``), not the last sync, so
they cannot stand in for a Jobs read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_stitch.api.budget import JobsBudget
from airflow_provider_stitch.api.errors import (
    StitchAPIError,
    StitchBudgetStoreUnreachable,
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
from airflow_provider_stitch.api.jobs.progress import RecentBudgetUse, human_duration, iso
from airflow_provider_stitch.api.jobs.schedule import Forecast, PageTurn, Plan
from airflow_provider_stitch.api.jobs.snapshots import (
    KINDS,
    RETRY_LATER,
    ListSnapshot,
    fetch_page_async,
    fetch_page_sync,
    ledger_from_json,
    page_from_json,
    page_to_json,
    skip_page_or_raise,
)
from airflow_provider_stitch.api.jobs.wakeups import PageWaiters
from airflow_provider_stitch.api.jobs.watchers import STORE_PROBLEM_LOG_INTERVAL, WaiterRegistry

if TYPE_CHECKING:
    from airflow_provider_stitch.api.aclient import AsyncStitchClient
    from airflow_provider_stitch.api.client import StitchClient

logger = logging.getLogger("airflow_provider_stitch.monitor")

#: Page reads kept in :attr:`JobsMonitor.page_log` (for tests, benchmarks and debugging).
PAGE_LOG_LENGTH = 5000
#: Shortest pause of a waiter, as a share of the turn interval (keeps a waiter from spinning).
MIN_PAUSE_SHARE = 1 / 40
#: How often a waiter looks for pages other processes read, as a share of the turn interval.
PULL_SHARE = 1 / 4
#: While the budget's store does not answer, the next try comes this share of the turn interval later.
STORE_RETRY_SHARE = 1 / 4
#: Late-deadline warnings remembered (so a wait in slices warns once), before the memory starts over.
WARNED_MEMORY = 10000


@dataclass(frozen=True)
class PageReadRecord:
    """One page read by this monitor.

    :param read_at: when (monitor clock).
    :param kind: the list.
    :param page: the page number.
    :param pending_pages: pages in the schedule when the turn was taken.
    """

    read_at: float
    kind: str
    page: int
    pending_pages: int


def _earlier(first: float | None, second: float | None) -> float | None:
    """The earlier of two times, either of which may be None (none: None)."""
    if first is None:
        return second
    return first if second is None else min(first, second)


# ---------------------------------------------------------------------------------------------- the monitor


class JobsMonitor:
    """Answers questions about one account's jobs from pages read on a fair, budget-paced schedule.

    :param account_key: identity of the account (base URL and client id).
    :param budget: the account's Jobs budget; its clock is the monitor's clock and its backend holds the
        shared pages and the turn.
    :param interval: seconds between two page reads; by default the budget's window over its limit.
    :param asleep: coroutine function used to wait in :meth:`await_extraction` / :meth:`await_loads`.
    """

    def __init__(
        self,
        account_key: str,
        budget: JobsBudget,
        *,
        interval: float | None = None,
        asleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if interval is not None and interval <= 0:
            raise ValueError("the interval between page reads must be positive")
        self.account_key = account_key
        self.budget = budget
        self._interval = interval
        self.asleep = asleep
        self.snapshots = {kind: ListSnapshot() for kind in KINDS}
        self._lock = threading.RLock()
        self.watchers = WaiterRegistry(lambda: self.budget, self._lock)
        self._watchers = self.watchers.counts
        self._alocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._parked: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PageWaiters] = (
            weakref.WeakKeyDictionary()
        )
        #: the budget's use as last read, for the waits' story lines (read off the event loop).
        self.budget_use = RecentBudgetUse(lambda: self.budget)
        self._source_names: dict[int, str] = {}
        self._budget_free_at = -math.inf
        self._next_turn_at = -math.inf
        self._pulled_at = {kind: -math.inf for kind in KINDS}
        self._stamps: dict[str, dict[int, float]] = {kind: {} for kind in KINDS}
        self._plan = Plan()
        self._plans_begun = self._plan_ticket = 0
        self._warned: set[tuple[str, tuple[str, ...], float]] = set()
        self._lingering: dict[tuple[str, tuple[str, ...]], int] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.page_log: deque[PageReadRecord] = deque(maxlen=PAGE_LOG_LENGTH)
        self._store_down_since: float | None = None
        self._store_down_at: float | None = None
        self._store_problem: StitchBudgetStoreUnreachable | None = None
        self._store_logged_at = -math.inf
        #: when (monotonic) the store last answered a read, and last failed one.
        self._store_read_at = self._store_failed_at = -math.inf

    def __repr__(self) -> str:
        return f"JobsMonitor({self.account_key!r})"

    # ------------------------------------------------------------------ clock, keys and waiters

    def now(self) -> float:
        """Current time on the budget's clock."""
        return float(self.budget.clock())

    @property
    def interval(self) -> float:
        """Seconds between two page reads: what the budget sustains (its window over its limit)."""
        if self._interval is not None:
            return self._interval
        return float(self.budget.window) / float(self.budget.limit)

    def _turn_key(self) -> str:
        return f"{self.budget.key}:turn"

    def _ledger_key(self, kind: str) -> str:
        return f"{self.budget.key}:ledger:{kind}"

    def _page_key(self, kind: str, page: int) -> str:
        return f"{self.budget.key}:page:{kind}:{page}"

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

    # ------------------------------------------------------------------ the schedule

    def plan(self) -> Plan:
        """The pending pages of both lists, in the order their turns come (as last planned)."""
        with self._lock:
            return self._plan

    def replan(self) -> Plan:
        """Plan the turns again for the rows watched now (in this process and, as announced, in others).

        The plan is made from a copy of where rows are, taken under the lock; planning thousands of rows
        runs outside it, so the event loop's waiters, which take the lock for every look, are not held up.
        """
        watched = {kind: self.watched(kind) for kind in KINDS}
        with self._lock:
            self._plans_begun += 1
            ticket = self._plans_begun
            where = {
                kind: ListSnapshot(pages=dict(snapshot.pages), reads=dict(snapshot.reads))
                for kind, snapshot in self.snapshots.items()
            }
        plan = Plan.of(where, watched)
        with self._lock:
            if ticket > self._plan_ticket:  # a plan begun later and stored first is the newer one
                self._plan, self._plan_ticket = plan, ticket
            return self._plan

    def forecast(self, kind: str, identities: Iterable[str]) -> Forecast:
        """When the first page that may hold one of these rows is expected to be read.

        :param kind: the list.
        :param identities: the rows.
        """
        with self._lock:
            pages = self._pages_of(kind, identities)
        return self._forecast_pages(kind, pages)

    def _forecast_pages(self, kind: str, pages: Iterable[int]) -> Forecast:
        """:meth:`forecast` for the pages that may hold the rows."""
        with self._lock:
            rank = self._plan.rank_of(kind, pages, self.snapshots[kind])
            pending = max(len(self._plan.turns), rank + 1)
        start = max(self.now(), self._next_turn_at, self._budget_free_at)
        return Forecast(
            at=start + rank * self.interval, rank=rank, pending_pages=pending, interval=self.interval
        )

    def _pages_of(self, kind: str, identities: Iterable[str]) -> set[int]:
        snapshot, spec = self.snapshots[kind], KINDS[kind]
        return {page for identity in identities for page in snapshot.candidate_pages(spec, identity)}

    def _candidate_pages(self, kind: str, identities: tuple[str, ...]) -> tuple[int, ...]:
        """:meth:`_pages_of` as a tuple (a wait holds it through its pause; a tuple of ints is not tracked)."""
        if len(identities) == 1:
            return self.snapshots[kind].candidate_pages(KINDS[kind], identities[0])
        return tuple(sorted(self._pages_of(kind, identities)))

    def next_check_in(self, kind: str) -> float:
        """Seconds until the next turn may be taken (as this process last saw the turn and the budget)."""
        now = self.now()
        return max(0.0, self._next_turn_at - now, self._budget_free_at - now)

    def _turn_may_be_due(self) -> bool:
        now = self.now()
        return now >= self._next_turn_at and now >= self._budget_free_at

    def _budget_has_token(self) -> bool:
        """Ask the budget; remember until when it is empty so waiters need not ask again before then."""
        wait = self.budget.seconds_until_available()
        if wait > 0:
            self._budget_free_at = self.now() + wait
            return False
        return True

    def _claim_turn(self) -> tuple[PageTurn, float] | None:
        """Take the next turn if it is due and no process took it: the page to read and the time of the read.

        The turn is one slot per :attr:`interval` in the budget's store, taken atomically, so processes
        sharing the store read one page per slot between them.
        """
        if not self._turn_may_be_due():
            return None
        for kind in KINDS:
            self._pull_shared(kind, force=True)
        turn = self.replan().next
        now = self.now()
        if turn is None:
            self._next_turn_at = now + self.interval * MIN_PAUSE_SHARE
            return None
        if not self._budget_has_token():
            return None
        wait = self.budget.backend.take(self._turn_key(), 1, self.interval, now)
        if wait > 0:
            self._next_turn_at = now + wait
            return None
        self._next_turn_at = now + self.interval
        return turn, now

    def _record(self, turn: PageTurn, read_at: float, rows: list[dict[str, Any]], has_next: bool) -> None:
        """Absorb a page read, share it through the store, and plan the next turns."""
        watched = self.watched(turn.kind)
        with self._lock:
            snapshot = self.snapshots[turn.kind]
            snapshot.absorb(KINDS[turn.kind], turn.page, rows, has_next, read_at, watched)
            ledger = {str(page): read.read_at for page, read in snapshot.reads.items()}
            self._stamps[turn.kind][turn.page] = read_at
            self.page_log.append(PageReadRecord(read_at, turn.kind, turn.page, len(self._plan.turns)))
        backend = self.budget.backend
        backend.put_snapshot(
            self._page_key(turn.kind, turn.page), page_to_json(rows, has_next, read_at), read_at
        )
        backend.put_snapshot(self._ledger_key(turn.kind), json.dumps(ledger), read_at)
        plan = self.replan()
        logger.debug(
            "%s: read page %d of %s (%d rows); %d page(s) pending, one read every %.1f s",
            self,
            turn.page,
            turn.kind,
            len(rows),
            len(plan.turns),
            self.interval,
        )

    def _pull_due(self, kind: str) -> bool:
        return self.now() - self._pulled_at[kind] >= self.interval * PULL_SHARE

    def _pull_shared(self, kind: str, *, force: bool = False) -> None:
        """Absorb the pages other processes read since this one last looked.

        A page stamped later than this process's clock counts as read now (a clock running ahead must not
        hold its page back in the schedule).
        """
        if not force and not self._pull_due(kind):
            return
        self._pulled_at[kind] = self.now()
        backend = self.budget.backend
        stored = backend.get_snapshot(self._ledger_key(kind))
        self._store_read_at = time.monotonic()
        if stored is None:
            return
        with self._lock:
            snapshot, stamps = self.snapshots[kind], self._stamps[kind]
            newer = sorted(
                page
                for page, at in ledger_from_json(stored[0]).items()
                if at > stamps.get(page, -math.inf) and at > snapshot.read_at(page)
            )
        if not newer:
            return
        watched = self.watched(kind)
        for page in newer:
            payload = backend.get_snapshot(self._page_key(kind, page))
            parsed = page_from_json(payload[0]) if payload is not None else None
            if parsed is None:
                continue
            rows, has_next, stamp = parsed
            with self._lock:
                stamps[page] = stamp
                snapshot.absorb(KINDS[kind], page, rows, has_next, min(stamp, self.now()), watched)

    def take_turn(self, client: StitchClient) -> PageTurn | None:
        """Read the next page of the schedule if its turn is due; returns the page read (None: not now)."""
        claimed = self._claim_turn()
        if claimed is None:
            return None
        turn, read_at = claimed
        try:
            rows, has_next = fetch_page_sync(client, KINDS[turn.kind], turn.page)
        except (*RETRY_LATER, StitchAPIError) as problem:
            skip_page_or_raise(turn.kind, turn.page, problem)
            return None
        self._record(turn, read_at, rows, has_next)
        return turn

    async def atake_turn(self, client: AsyncStitchClient) -> PageTurn | None:
        """Async :meth:`take_turn`; waiters of this event loop on the page read (and on the next) wake up."""
        claimed = await asyncio.to_thread(self._claim_turn)
        if claimed is None:
            return None
        turn, read_at = claimed
        try:
            rows, has_next = await fetch_page_async(client, KINDS[turn.kind], turn.page)
        except (*RETRY_LATER, StitchAPIError) as problem:
            skip_page_or_raise(turn.kind, turn.page, problem)
            return None
        await asyncio.to_thread(self._record, turn, read_at, rows, has_next)
        self._signal(turn.kind, turn.page)
        following = self.plan().next
        if following is not None and not self._someone_wakes_in_time(following.kind, following.page):
            self._signal(following.kind, following.page)
        return turn

    def _store_unreachable(self, problem: StitchBudgetStoreUnreachable) -> None:
        """Hold every turn back a while (nothing is sent) and log at a bounded rate; waits go on."""
        local = self._store_failed_at = time.monotonic()
        self._store_problem = problem
        with contextlib.suppress(StitchBudgetStoreUnreachable):  # no clock yet: the turn is not taken anyway
            now = self.now()
            if self._store_down_since is None:
                self._store_down_at = now
            self._budget_free_at = now + self.interval * STORE_RETRY_SHARE
        if self._store_down_since is None:
            self._store_down_since = local
        if local - self._store_logged_at >= STORE_PROBLEM_LOG_INTERVAL:
            self._store_logged_at = local
            logger.warning(
                "%s: no Jobs request while the budget store does not answer (%s, since %s); waits go on "
                "and try again in %s",
                self,
                problem,
                iso(self._store_down_at),
                human_duration(self.interval * STORE_RETRY_SHARE),
            )

    def _store_answered(self) -> None:
        """After an outage: forget the times held back meanwhile (they may be on this host's clock, which
        stood in for a store never reached), so the store's turn and budget decide the next read."""
        if self._store_down_since is None or self._store_read_at <= self._store_failed_at:
            return  # no outage, or no answer of the store since its last failure
        away = time.monotonic() - self._store_down_since
        self._store_down_since = self._store_down_at = None
        self._store_problem = None
        self._store_logged_at = -math.inf
        self._budget_free_at = self._next_turn_at = -math.inf
        self._pulled_at = {kind: -math.inf for kind in KINDS}
        logger.info("%s: the budget store answers again after %s", self, human_duration(away))

    def store_outage(self) -> str | None:
        """The budget store's outage in words while it does not answer (for a wait's failure), else None."""
        problem = self._store_problem
        if problem is None:
            return None
        return f"the Jobs budget store {problem.location} has not answered since {iso(self._store_down_at)}"

    def _catch_up(self, client: StitchClient, kind: str) -> None:
        try:
            asks_store = self._pull_due(kind) or self._turn_may_be_due()
            self._pull_shared(kind)
            self.take_turn(client)
        except StitchBudgetStoreUnreachable as problem:
            self._store_unreachable(problem)
        else:
            if asks_store:  # only an answer tells that the store is back
                self._store_answered()

    async def _acatch_up(self, client: AsyncStitchClient, kind: str) -> None:
        """Take pages other processes read, and the turn when it is due (one waiter of this loop at a time).

        A store that does not answer holds the turn back (nothing is sent) and the wait goes on. Only an
        answer of the store later than its last failure ends the outage: the waiters queued on the turn
        behind one the store failed find the turn held back and do not ask it.
        """
        try:
            if self._pull_due(kind):
                # Claimed here, on the loop: the other waiters of this loop need not pull the same pages.
                self._pulled_at[kind] = self.now()
                await asyncio.to_thread(self._pull_shared, kind, force=True)
            if not self._turn_may_be_due():
                return
            async with self._alock():
                if self._turn_may_be_due():
                    await self.atake_turn(client)
        except StitchBudgetStoreUnreachable as problem:
            self._store_unreachable(problem)
        else:
            self._store_answered()

    def _alock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._lock:
            lock = self._alocks.get(loop)
            if lock is None:
                lock = self._alocks[loop] = asyncio.Lock()
            return lock

    def _waiters(self) -> PageWaiters:
        """The waiters of the running event loop parked on pages."""
        loop = asyncio.get_running_loop()
        with self._lock:
            waiters = self._parked.get(loop)
            if waiters is None:
                waiters = self._parked[loop] = PageWaiters(loop)
            return waiters

    def _someone_wakes_in_time(self, kind: str, page: int) -> bool:
        """True when a waiter of this loop on ``page`` already sleeps until (about) the next turn."""
        wake_at = self._waiters().earliest_wake((kind, page))
        if wake_at is None:
            return False
        return self.now() < wake_at <= self._next_turn_at + self.interval * MIN_PAUSE_SHARE

    def _signal(self, kind: str, page: int) -> None:
        """Wake this loop's waiters on ``page``, a bounded slice per loop iteration."""
        self._waiters().wake_page((kind, page))

    def _wake_later(
        self, waiters: PageWaiters, seconds: float, woke: asyncio.Future[None]
    ) -> asyncio.Handle | asyncio.Future[Any]:
        """Queue ``woke`` to wake after ``seconds``: a timer on the loop, or a task of the injected ``asleep``.

        The waiter wakes through the loop's queue, so thousands of sleeps ending together wake a slice per
        loop iteration. The timer calls the plain function with its arguments: no bound method per waiter.
        """
        if self.asleep is asyncio.sleep:
            return asyncio.get_running_loop().call_later(seconds, PageWaiters.wake_soon, waiters, woke)
        sleeper = asyncio.ensure_future(self.asleep(seconds))
        sleeper.add_done_callback(lambda _done: waiters.wake_soon(woke))
        return sleeper

    def _park(
        self, kind: str, pages: Iterable[int], seconds: float
    ) -> tuple[asyncio.Future[None], asyncio.Handle | asyncio.Future[Any]]:
        """Park a waiter on ``pages`` for at most ``seconds``: the future it awaits, and its timer.

        :meth:`_unpark` undoes it, whatever woke the waiter.
        """
        waiters = self._waiters()
        woke: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        wake_at = self.now() + seconds
        for page in pages:
            waiters.park((kind, page), woke, wake_at)
        return woke, self._wake_later(waiters, seconds, woke)

    def _unpark(
        self,
        kind: str,
        pages: Iterable[int],
        woke: asyncio.Future[None],
        timer: asyncio.Handle | asyncio.Future[Any],
    ) -> None:
        """Take a waiter parked by :meth:`_park` off its pages and cancel its timer."""
        timer.cancel()
        waiters = self._waiters()
        for page in pages:
            waiters.unpark((kind, page), woke)

    # ------------------------------------------------------------------ extractions

    def answer_extraction(self, watch: ExtractionWatch) -> ExtractionOutcome | None:
        """Answer from what was read (no request)."""
        with self._lock:
            row = self.snapshots[EXTRACTIONS].rows.get(watch.identity)
        return decide_extraction(row, watch)

    def check_extraction(self, client: StitchClient, watch: ExtractionWatch) -> ExtractionOutcome | None:
        """Answer, reading the next page of the schedule first when its turn is due."""
        self._catch_up(client, EXTRACTIONS)
        return self.answer_extraction(watch)

    async def acheck_extraction(
        self, client: AsyncStitchClient, watch: ExtractionWatch
    ) -> ExtractionOutcome | None:
        """Async :meth:`check_extraction`."""
        await self._acatch_up(client, EXTRACTIONS)
        return self.answer_extraction(watch)

    def poll_extraction(self, client: StitchClient, watch: ExtractionWatch) -> ExtractionOutcome | None:
        """One sensor poke: register the waiter for this check, answer, and keep it announced while pending."""
        self.watch(EXTRACTIONS, [watch.identity])
        outcome = None
        try:
            outcome = self.check_extraction(client, watch)
            return outcome
        finally:
            self.watchers.poked(EXTRACTIONS, [watch.identity], finished=outcome is not None)

    def await_extraction(
        self,
        client: AsyncStitchClient,
        watch: ExtractionWatch,
        *,
        deadline: float | None = None,
        until: float | None = None,
    ) -> Coroutine[Any, Any, ExtractionOutcome]:
        """Wait until the watched extraction has finished (a coroutine to await; no coroutine of its own).

        :param deadline: epoch seconds (monitor clock) when the wait gives up with :class:`StitchWaitTimeout`;
            a warning says so early when the schedule cannot read the row's page before then.
        :param until: epoch seconds when this call hands back with :class:`StitchWaitTimeout` although the
            wait goes on (a slice of a longer wait, e.g. to log progress); no warning is about it.
        """
        return self._await(
            EXTRACTIONS,
            (watch.identity,),
            client,
            watch,
            deadline,
            until,
            f"extraction of source {watch.source_id}",
        )

    # ------------------------------------------------------------------ loads

    def answer_loads(self, watch: LoadWatch) -> LoadOutcome | None:
        """Answer from what was read (no request)."""
        identities = watch.identities  # built anew at each read of the property (JSON keys)
        with self._lock:
            snapshot = self.snapshots[LOADS]
            rows = {i: snapshot.rows.get(i) for i in identities}
            checked = {i: snapshot.checked[i] for i in identities if i in snapshot.checked}
        return decide_loads(rows, watch, checked)

    def check_loads(self, client: StitchClient, watch: LoadWatch) -> LoadOutcome | None:
        """Answer, reading the next page of the schedule first when its turn is due."""
        self._catch_up(client, LOADS)
        return self.answer_loads(watch)

    async def acheck_loads(self, client: AsyncStitchClient, watch: LoadWatch) -> LoadOutcome | None:
        """Async :meth:`check_loads`."""
        await self._acatch_up(client, LOADS)
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

    def await_loads(
        self,
        client: AsyncStitchClient,
        watch: LoadWatch,
        *,
        deadline: float | None = None,
        until: float | None = None,
    ) -> Coroutine[Any, Any, LoadOutcome]:
        """Wait until the watched streams have loaded (or one failed); a coroutine to await.

        :param deadline: as for :meth:`await_extraction`.
        :param until: as for :meth:`await_extraction`.
        """
        return self._await(
            LOADS,
            tuple(watch.identities),
            client,
            watch,
            deadline,
            until,
            f"loads of {watch.source_name}",
        )

    # ------------------------------------------------------------------ waiting

    def pace(self, forecast: Forecast) -> str:
        """The schedule's figures in words: pending pages, the budget, and how often each page is read.

        :param forecast: a forecast from :meth:`forecast`.
        """
        return (
            f"{forecast.pending_pages} Jobs page(s) hold pending waits and the budget of {self.budget.limit} "
            f"requests per {human_duration(self.budget.window)} allows one page read every "
            f"{forecast.interval:.1f} s, so each pending page is read every {human_duration(forecast.cycle)}"
        )

    def _late_warning(self, what: str, deadline: float, forecast: Forecast) -> str:
        now = self.now()
        return (
            f"the deadline {iso(deadline)} of the {what} cannot be met at this pace: the page that may hold "
            f"it is expected to be read at {iso(forecast.at)}, in {human_duration(forecast.at - now)} "
            f"({forecast.rank} turn(s) ahead), {human_duration(forecast.at - deadline)} after the deadline; "
            f"{self.pace(forecast)}"
        )

    def _warn_once_if_late(
        self, kind: str, identities: tuple[str, ...], deadline: float, forecast: Forecast, what: str
    ) -> None:
        """Warn (once per wait and deadline, across slices) when the rows' page comes round after the deadline."""
        if forecast.at <= deadline:
            return
        key = (kind, identities, deadline)
        with self._lock:
            if key in self._warned:
                return
            if len(self._warned) >= WARNED_MEMORY:
                self._warned.clear()
            self._warned.add(key)
        logger.warning("%s", self._late_warning(what, deadline, forecast))

    async def _await(
        self,
        kind: str,
        identities: tuple[str, ...],
        client: Any,
        watch: Any,
        deadline: float | None,
        until: float | None,
        what: str,
    ) -> Any:
        """Wait until the check of ``kind`` answers for ``watch``, pausing between looks as the schedule says.

        Thousands of waits sleep here at once, so what one holds through its pause is kept small: no bound
        method, no list or set, no forecast, and the pause parked inline (no coroutine of its own).
        """
        key = (kind, identities)
        if not self._resume_lingering(key):
            await asyncio.to_thread(self.watch, kind, identities)
        handed_back = False
        try:
            while True:
                outcome: ExtractionOutcome | LoadOutcome | None
                if kind == EXTRACTIONS:
                    outcome = await self.acheck_extraction(client, watch)
                else:
                    outcome = await self.acheck_loads(client, watch)
                if outcome is not None:
                    return outcome
                now = self.now()
                with self._lock:  # the pages to forecast and to sleep on, looked up once
                    pages = self._candidate_pages(kind, identities)
                forecast = self._forecast_pages(kind, pages)
                if deadline is not None and now >= deadline:
                    outage = self.store_outage()
                    raise StitchWaitTimeout(
                        f"gave up waiting for the {what} at {iso(now)} ({self.pace(forecast)}): "
                        "the deadline passed" + (f"; {outage}" if outage else "")
                    )
                if until is not None and now >= until:
                    handed_back = True
                    raise StitchWaitTimeout(
                        f"still waiting for the {what} at {iso(now)}; {self.pace(forecast)}"
                    )
                if deadline is not None:
                    self._warn_once_if_late(kind, identities, deadline, forecast, what)
                pause = max(forecast.at - now, self.interval * MIN_PAUSE_SHARE)
                del forecast  # not held through the pause
                stop = _earlier(deadline, until)
                if stop is not None:
                    pause = min(pause, max(stop - now, 0.0))
                woke, timer = self._park(kind, pages, pause)
                try:
                    await woke
                finally:
                    self._unpark(kind, pages, woke, timer)
        finally:
            if handed_back:
                self._linger(key)
            else:
                await asyncio.to_thread(self.unwatch, kind, identities)

    def _linger(self, key: tuple[str, tuple[str, ...]]) -> None:
        """Keep a wait handed back at the end of a slice registered until the loop's next step.

        Its next slice (which starts before that) takes the registration over, so a wait in slices does not
        withdraw and re-announce its rows in the store every slice.
        """
        with self._lock:
            self._lingering[key] = self._lingering.get(key, 0) + 1
        asyncio.get_running_loop().call_soon(self._end_lingering, key)

    def _resume_lingering(self, key: tuple[str, tuple[str, ...]]) -> bool:
        """Take over a lingering registration of these rows; False when there is none."""
        with self._lock:
            count = self._lingering.get(key, 0)
            if count <= 0:
                return False
            if count == 1:
                del self._lingering[key]
            else:
                self._lingering[key] = count - 1
            return True

    def _end_lingering(self, key: tuple[str, tuple[str, ...]]) -> None:
        """Unregister a lingering wait that no slice took over."""
        if not self._resume_lingering(key):
            return
        kind, identities = key
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self.unwatch, kind, list(identities)))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
