"""A Jobs-waiting scenario on the manual-clock emulator: sources with jobs of different lengths, and
waiters that poll each extraction, then its loads, through one JobsMonitor every few emulator seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.jobs import ExtractionWatch, JobsMonitor, LoadWatch, account_key
from airflow_provider_stitch.emulator.samples import SAMPLE_DESTINATION as DESTINATION
from airflow_provider_stitch.emulator.samples import SAMPLE_SOURCE_PROPERTIES as FRESHDESK
from tests.reliability.fault_kinds import CLIENT_TIMEOUT, zero_wait

JOBS_LIMIT = 30
WINDOW = 600.0
#: Emulator seconds between two rounds of polls.
STEP = 10.0
#: How long (emulator seconds) the waiters may take in the runs that should finish.
HORIZON = 3 * 3600.0
TAP_SECONDS = (120.0, 400.0, 900.0, 1500.0, 2400.0)


@dataclass
class WaitRun:
    """What one run of waiters saw."""

    extractions: dict[int, bool] = field(default_factory=dict)
    loads: dict[int, bool] = field(default_factory=dict)
    emulated_seconds: float = 0.0


def waiting_client(emulator: Any) -> StitchClient:
    """Put the manual-clock emulator in ``block`` mode with a destination; return a client whose private
    budget reads the emulator's clock and which resends at once (the worst case for the limit)."""
    emulator.control.configure(run_schedules=False)
    emulator.control.set_jobs_limit_mode("block", limit=JOBS_LIMIT, window_seconds=WINDOW)
    budget = JobsBudget(emulator.client_id, backend=InMemoryBudgetBackend(), clock=emulator.runtime.clock.now)
    client = StitchClient(
        emulator.token,
        base_url=emulator.base_url,
        client_id=emulator.client_id,
        budget=budget,
        timeout=CLIENT_TIMEOUT,
        max_attempts=4,
        retry_wait=zero_wait,
    )
    client.create_destination("postgres", DESTINATION, "warehouse")
    return client


def start_jobs(emulator: Any, client: StitchClient) -> dict[int, ExtractionWatch]:
    """One source per tap length, each with a sync started now."""
    watches: dict[int, ExtractionWatch] = {}
    for index, tap in enumerate(TAP_SECONDS):
        source = client.create_source("platform.freshdesk", f"Shop {index}", FRESHDESK)
        emulator.control.arrange(source.id, durations={"discovery": 5.0, "tap": tap, "target": 5.0})
        job = client.start_sync(source.id)
        watches[source.id] = ExtractionWatch(source.id, job.job_name)
    return watches


def wait_for_everything(
    emulator: Any, client: StitchClient, watches: dict[int, ExtractionWatch], horizon: float
) -> WaitRun:
    """Poll each extraction, then its loads, every STEP emulator seconds until all are answered or ``horizon``."""
    monitor = JobsMonitor(account_key(client.base_url, client.client_id), client.jobs_budget)
    run = WaitRun()
    load_watches: dict[int, LoadWatch] = {}
    started = emulator.runtime.clock.now()
    while len(run.loads) < len(watches) and emulator.runtime.clock.now() - started < horizon:
        for source_id, watch in watches.items():
            if source_id in run.extractions:
                continue
            outcome = monitor.poll_extraction(client, watch)
            if outcome is not None:
                run.extractions[source_id] = outcome.succeeded
                load_watches[source_id] = monitor.load_watch(client, source_id, None, outcome.completion_time)
        for source_id, load_watch in load_watches.items():
            if source_id in run.loads:
                continue
            loaded = monitor.poll_loads(client, load_watch)
            if loaded is not None:
                run.loads[source_id] = loaded.succeeded
        emulator.runtime.clock.advance(STEP)  # in-process: an HTTP call per step is slow on some stacks
    run.emulated_seconds = emulator.runtime.clock.now() - started
    return run


def jobs_figures(emulator: Any) -> tuple[int, int, int]:
    """(Jobs requests, busiest window, requests the emulator's limit blocked)."""
    stats = emulator.control.stats(include_log=False)
    counters = stats["by_client"].get(str(emulator.client_id), {})
    return int(stats["requests"]["jobs"]), int(stats["max_jobs_in_window"]), int(counters.get("blocked", 0))


def fault_hits(emulator: Any) -> int:
    return sum(int(rule["hits"]) for rule in emulator.control.faults())
