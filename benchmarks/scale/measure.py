"""What the harness measures, each from a source that does not share the provider's assumptions: the emulator's
request log and state (Stitch's side, Stitch's clock), Airflow's metadata database read directly, and /proc."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Stitch's Jobs window and allowance, restated here so the recount does not borrow the emulator's own.
STITCH_WINDOW_SECONDS = 600.0
STITCH_JOBS_LIMIT = 30
#: Seconds between two samples of Airflow's task states and the triggerers' memory.
SAMPLE_SECONDS = 2.0


def parse_time(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (``Z`` or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso(epoch: float) -> str:
    """An epoch time as ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")


def busiest_window(times: Sequence[float], window: float = STITCH_WINDOW_SECONDS) -> tuple[int, float | None]:
    """Most events in any window ``(t - window, t]`` and the ``t`` where it ends.

    :param times: event times, any order.
    :param window: window length, in the same unit.
    """
    ordered = sorted(times)
    best, best_end, first = 0, None, 0
    for last, now in enumerate(ordered):
        while ordered[first] <= now - window:
            first += 1
        if last - first + 1 > best:
            best, best_end = last - first + 1, now
    return best, best_end


class RequestLog:
    """Every request the emulator logged, gathered by polling its stats so its bounded log never drops one.

    :param stats: returns the emulator's ``/__emulator__/stats`` answer (with the log).
    """

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats
        self._seen_total = 0
        self.entries: list[dict[str, Any]] = []
        self.lost = 0

    def poll(self) -> None:
        """Append the entries logged since the last poll (counting any the log dropped before we saw them)."""
        answer = self._stats()
        total = int(answer["requests"]["total"])
        log = list(answer.get("log") or [])
        new = total - self._seen_total
        if new > len(log):
            self.lost += new - len(log)
            new = len(log)
        if new > 0:
            self.entries.extend(log[-new:])
        self._seen_total = total

    def jobs_entries(
        self, client_id: int, since: float = float("-inf"), until: float = float("inf")
    ) -> list[dict[str, Any]]:
        """The client's Jobs requests logged in ``[since, until]`` (emulator time)."""
        return [
            e
            for e in self.entries
            if e.get("group") == "jobs"
            and e.get("client_id") == client_id
            and since <= float(e["time"]) <= until
        ]

    def jobs_times(
        self, client_id: int, since: float = float("-inf"), until: float = float("inf")
    ) -> list[float]:
        """Emulator times of the client's Jobs requests in ``[since, until]``."""
        return [float(e["time"]) for e in self.jobs_entries(client_id, since, until)]

    def extraction_reads(self, client_id: int) -> list[float]:
        """Emulator times of the client's extraction-list reads, in order."""
        path = f"/v4/{client_id}/extractions"
        return sorted(
            float(e["time"]) for e in self.entries if e.get("path") == path and e.get("method") == "GET"
        )


@dataclass
class JobOutcome:
    """The sync jobs Stitch (the emulator) holds for one phase."""

    jobs_per_source: dict[int, int]
    job_ends: dict[int, float]

    @property
    def duplicate_jobs(self) -> int:
        """Jobs beyond the first one per source."""
        return sum(max(0, count - 1) for count in self.jobs_per_source.values())


def jobs_since(state: dict[str, Any], client_id: int, source_ids: Sequence[int], since: float) -> JobOutcome:
    """Sync jobs started at or after ``since`` (emulator time) for each source, and when each first one ends.

    A job's end is its start plus the phase durations the harness arranged for the source.

    :param state: the emulator's ``/__emulator__/state`` answer.
    :param client_id: the account.
    :param source_ids: the sources of the phase.
    :param since: emulator time the phase began.
    """
    account = next(a for a in state["accounts"] if a["client_id"] == client_id)
    durations = {
        s["id"]: sum((s.get("scenario") or {}).get("durations", {}).values()) for s in account["sources"]
    }
    counts: Counter[int] = Counter()
    ends: dict[int, float] = {}
    for job in sorted(account["jobs"], key=lambda j: j["started_at"]):
        started = parse_time(job["started_at"])
        if job["source_id"] not in source_ids or started < since - 1:
            continue
        counts[job["source_id"]] += 1
        ends.setdefault(job["source_id"], started + durations.get(job["source_id"], 0.0))
    return JobOutcome({source_id: counts.get(source_id, 0) for source_id in source_ids}, ends)


def duplicate_sources(state: dict[str, Any], client_id: int) -> int:
    """Live sources sharing a display name with another live source."""
    account = next(a for a in state["accounts"] if a["client_id"] == client_id)
    names = Counter(s["display_name"] for s in account["sources"] if s["deleted_at"] is None)
    return sum(count - 1 for count in names.values() if count > 1)


def detection_delays(job_ends: dict[int, float], reads: Sequence[float]) -> list[float]:
    """Emulator seconds from each job's end to the first extraction-list read after it."""
    delays = []
    for end in job_ends.values():
        after = next((read for read in reads if read >= end), None)
        if after is not None:
            delays.append(after - end)
    return delays


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` quantile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def median(values: Sequence[float]) -> float:
    """Median, NaN when empty."""
    return statistics.median(values) if values else float("nan")


@dataclass
class Samples:
    """What the sampler saw: task states over time, running stretches, triggerer memory."""

    peak_running: int = 0
    peak_deferred: int = 0
    running_slot_seconds: float = 0.0
    deferred_task_seconds: float = 0.0
    longest_running: float = 0.0
    triggerer_baseline: dict[str, int] = field(default_factory=dict)
    triggerer_peak: dict[str, int] = field(default_factory=dict)
    peak_triggers: int = 0
    #: Task tries seen running on each host (the name a worker records), counted once per try.
    tasks_by_host: dict[str, int] = field(default_factory=dict)
    #: When each (task_id, map_index, try_number) was first seen running (this host's epoch seconds).
    first_running: dict[tuple[str, int, int], float] = field(default_factory=dict)


class Sampler:
    """Samples Airflow's task states (from the metadata DB) and the triggerers' memory every few seconds.

    :param running_tasks: returns the running task instances as (task_id, map_index, try_number, hostname).
    :param deferred_count: returns how many task instances are deferred.
    :param trigger_count: returns how many triggers exist.
    :param triggerer_rss: returns each triggerer's resident memory in bytes, by name.
    """

    def __init__(
        self,
        running_tasks: Callable[[], list[tuple[str, int, int, str]]],
        deferred_count: Callable[[], int],
        trigger_count: Callable[[], int],
        triggerer_rss: Callable[[], dict[str, int]],
    ) -> None:
        self._running_tasks = running_tasks
        self._deferred_count = deferred_count
        self._trigger_count = trigger_count
        self._triggerer_rss = triggerer_rss
        self.samples = Samples()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scale-sampler", daemon=True)
        self._first_seen: dict[tuple[str, int, int], float] = {}
        self._seen_on: dict[tuple[str, int, int, str], None] = {}
        self.errors = 0

    def __enter__(self) -> Sampler:
        for name, rss in self._triggerer_rss().items():
            self.samples.triggerer_baseline[name] = rss
            self.samples.triggerer_peak[name] = rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(SAMPLE_SECONDS):
            now = time.monotonic()
            try:
                self._sample(now, now - last)
            except Exception:  # a sample lost to a busy database is skipped, not fatal
                self.errors += 1
            last = now

    def _sample(self, now: float, elapsed: float) -> None:
        found = self.samples
        running_on = self._running_tasks()
        running = [(task, index, number) for task, index, number, _ in running_on]
        deferred = self._deferred_count()
        found.peak_running = max(found.peak_running, len(running))
        found.peak_deferred = max(found.peak_deferred, deferred)
        found.running_slot_seconds += len(running) * elapsed
        found.deferred_task_seconds += deferred * elapsed
        found.peak_triggers = max(found.peak_triggers, self._trigger_count())
        wall = time.time()
        for key in running:
            found.first_running.setdefault(key, wall)
            first = self._first_seen.setdefault(key, now)
            found.longest_running = max(found.longest_running, now - first)
        for key in set(self._first_seen) - set(running):
            del self._first_seen[key]
        for seen in running_on:
            if seen not in self._seen_on:
                self._seen_on[seen] = None
                found.tasks_by_host[seen[3]] = found.tasks_by_host.get(seen[3], 0) + 1
        for name, rss in self._triggerer_rss().items():
            found.triggerer_peak[name] = max(found.triggerer_peak.get(name, 0), rss)
