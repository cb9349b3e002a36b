"""The task-log story of one wait on Stitch: what it waits for, its progress at a bounded rate, its outcome.

Every way of waiting (sensor pokes, rescheduled pokes, triggers, the replication operator's own wait) tells
it with :class:`WaitProgress`, in words, ISO-8601 times and human durations; never a raw epoch number.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any, Protocol

from airflow_provider_stitch.api.jobs.decisions import (
    ExtractionOutcome,
    ExtractionWatch,
    LoadOutcome,
    LoadWatch,
)

#: Seconds between two progress lines while the phase does not change.
PROGRESS_EVERY = 60.0
#: Seconds a budget's use, once read, stands for the present in story lines told on an event loop.
BUDGET_USE_MAX_AGE = 5.0
#: The clock of the rate and of elapsed times (a module attribute, so tests can drive it).
monotonic: Callable[[], float] = time.monotonic


class TaskLog(Protocol):
    """What a wait needs of a logger (a stdlib logger or Airflow's task logger)."""

    def info(self, msg: str, /) -> Any: ...

    def warning(self, msg: str, /) -> Any: ...


class BudgetView(Protocol):
    """What the story reads of a Jobs budget."""

    limit: int
    window: float

    def used(self) -> int: ...


def iso(seconds: float | None) -> str:
    """Epoch seconds as ISO-8601 UTC to the second (``2026-12-07T09:30:00Z``); ``unknown`` for None.

    :param seconds: epoch seconds.
    """
    if seconds is None:
        return "unknown"
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_duration(seconds: float) -> str:
    """A duration in words: ``45 s``, ``3 min 5 s``, ``2 h 10 min``.

    :param seconds: the duration.
    """
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def describe_extraction_watch(watch: ExtractionWatch) -> str:
    """Which job an extraction watch waits for, in words."""
    if watch.job_name:
        return f"job {watch.job_name}"
    if watch.previous_known:
        previous = watch.previous_job or "none"
        return f"the running job (the extraction listed before the start: {previous})"
    if watch.after is not None:
        return f"the first extraction completing at or after {iso(watch.after)}"
    return "the latest extraction"


def describe_budget(budget: BudgetView | None) -> str:
    """This connection's share of the Jobs rate limit, and what of it is used now."""
    if budget is None:
        return "Jobs budget unknown"
    try:
        used = budget.used()
    except Exception:  # a store that cannot be read must not break the story
        return f"Jobs budget {budget.limit} requests per {human_duration(budget.window)}"
    return f"Jobs requests in the last {human_duration(budget.window)}: {used} of {budget.limit}"


class RecentBudgetUse:
    """A Jobs budget's use as last read, for story lines told on an event loop (no store read there).

    Reading the use asks the budget's store (a SQLite transaction, a Redis round trip); thousands of
    triggers telling their first line would each block the loop for it. :meth:`afresh` reads it in a
    worker thread, once per :data:`BUDGET_USE_MAX_AGE` for every wait of the process together.

    :param budget_of: returns the budget (the monitor's current one).
    :param max_age: seconds a read figure is reused.
    """

    __slots__ = ("_budget_of", "_read_at", "_reading", "_used", "max_age")

    def __init__(self, budget_of: Callable[[], BudgetView], max_age: float = BUDGET_USE_MAX_AGE) -> None:
        self._budget_of = budget_of
        self.max_age = float(max_age)
        self._used: int | None = None
        self._read_at = -float("inf")
        self._reading = False

    @property
    def limit(self) -> int:
        """The budget's requests per window."""
        return self._budget_of().limit

    @property
    def window(self) -> float:
        """The budget's window in seconds."""
        return self._budget_of().window

    def stale(self) -> bool:
        """True when the figure is older than ``max_age`` (or was never read)."""
        return time.monotonic() - self._read_at >= self.max_age

    def refresh(self) -> None:
        """Read the use from the store now (blocking: call it from a worker thread)."""
        self._used = self._budget_of().used()
        self._read_at = time.monotonic()

    async def afresh(self) -> None:
        """Read the use again in a worker thread when the figure is old; other callers meanwhile keep it."""
        if self._reading or not self.stale():
            return
        self._reading = True
        try:
            await asyncio.to_thread(self.refresh)
        except Exception:  # an unreadable store must not end a wait: the line then tells the limit only
            self._used = None
            self._read_at = time.monotonic()
        finally:
            self._reading = False

    def used(self) -> int:
        """Requests taken in the window, as last read.

        :raises LookupError: when it was never read (the story line then tells the limit only).
        """
        if self._used is None:
            raise LookupError("the budget's use has not been read yet")
        return self._used


class WaitProgress:
    """Logs one wait: a first line, progress on each phase change and at most every ``every`` seconds.

    :param log: the task's logger.
    :param subject: what is waited on, e.g. ``source 12 (shop)``.
    :param budget: the connection's Jobs budget (for the requests used), or None.
    :param every: seconds between two progress lines within one phase.
    :param clock: monotonic seconds, for the rate and the elapsed time of this process's wait (by default
        the module's :data:`monotonic`).
    """

    def __init__(
        self,
        log: TaskLog,
        subject: str,
        *,
        budget: BudgetView | None = None,
        every: float = PROGRESS_EVERY,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.log = log
        self.subject = subject
        self.budget = budget
        self.every = float(every)
        self.clock = clock or monotonic
        self.started = self.clock()
        self.phase: str | None = None
        self._last_line = -float("inf")

    def elapsed(self) -> str:
        """Time since this wait began here, in words."""
        return human_duration(self.clock() - self.started)

    def begin(self, waits_for: str, *, deadline_in: float | None = None) -> None:
        """The first line: what is waited for, the deadline and the budget share.

        :param waits_for: the job and streams, in words.
        :param deadline_in: seconds until the wait gives up (None: no deadline).
        """
        deadline = "no deadline" if deadline_in is None else f"gives up in {human_duration(deadline_in)}"
        self.log.info(
            f"Waiting on {self.subject} for {waits_for}; {deadline}; {describe_budget(self.budget)}"
        )
        self._last_line = self.clock()

    def tick(self, phase: str, *, next_look_in: float | None = None) -> bool:
        """A progress line when the phase changed or ``every`` seconds passed; True when one was logged.

        The first phase is the one the first line announced, so it is not repeated.

        :param phase: what is awaited now (``the extraction``, ``the loads``).
        :param next_look_in: seconds until the next look at Stitch's lists.
        """
        now = self.clock()
        first, changed = self.phase is None, phase != self.phase
        self.phase = phase
        if first or (not changed and now - self._last_line < self.every):
            return False  # the first line already said what is awaited
        self._last_line = now
        look = "" if next_look_in is None else f"; next look in {human_duration(next_look_in)}"
        self.log.info(
            f"Still waiting on {self.subject}: {phase} has not finished after {self.elapsed()}{look}; "
            f"{describe_budget(self.budget)}"
        )
        return True

    def _waited(self, waited: bool) -> str:
        return f" (waited {self.elapsed()})" if waited else ""

    def extraction_finished(self, outcome: ExtractionOutcome, *, waited: bool = True) -> None:
        """The extraction's outcome in words.

        :param outcome: how it ended.
        :param waited: also say how long this process waited.
        """
        when = iso(outcome.completion_time)
        if outcome.succeeded:
            self.log.info(
                f"Extraction {outcome.job_name} of {self.subject} succeeded; completed at {when}"
                + self._waited(waited)
            )
            return
        self.log.warning(
            f"Extraction {outcome.job_name} of {self.subject} failed in the {outcome.failed_phase} phase at "
            f"{when}: {outcome.message}"
        )

    def loads_finished(self, outcome: LoadOutcome, streams: Iterable[str], *, waited: bool = True) -> None:
        """One line per stream: loaded (and when), failed (with the warehouse's message) or not reached.

        :param outcome: how the loads ended.
        :param streams: the streams waited for.
        :param waited: also say how long this process waited.
        """
        for stream in streams:
            if stream in outcome.loaded_at:
                self.log.info(f"Stream {stream} of {self.subject} loaded at {iso(outcome.loaded_at[stream])}")
            elif stream == outcome.failed_stream:
                self.log.warning(f"Stream {stream} of {self.subject} failed to load: {outcome.message}")
            else:
                self.log.info(f"Stream {stream} of {self.subject}: no load seen before the wait ended")
        verdict = "all loaded" if outcome.succeeded else "a load failed"
        self.log.info(f"Loads of {self.subject}: {verdict}" + self._waited(waited))


def describe_load_watch(watch: LoadWatch) -> str:
    """Which loads a load watch waits for, in words."""
    streams = ", ".join(watch.streams) or "no streams"
    since = "" if watch.after is None else f" at or after {iso(watch.after)}"
    return f"the loads of streams {streams}{since}"


__all__ = [
    "BUDGET_USE_MAX_AGE",
    "PROGRESS_EVERY",
    "RecentBudgetUse",
    "WaitProgress",
    "describe_budget",
    "describe_extraction_watch",
    "describe_load_watch",
    "human_duration",
    "iso",
]
