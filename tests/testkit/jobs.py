"""Helpers of the Jobs-waiting tests (monitor, sensors, triggers, operators, budget, lineage): emulator
accounts with many sources, a connection for the hook, the budget clock pinned to the emulator's, and
triggers run under virtual time (:class:`~airflow_provider_stitch.emulator.harness.VirtualTime`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from airflow_provider_stitch.api.budget import JobsBudget
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.emulator.dag_runs import stitch_connection_json
from airflow_provider_stitch.emulator.samples import (
    SAMPLE_DESTINATION as DESTINATION,
)
from airflow_provider_stitch.emulator.samples import (
    SAMPLE_SOURCE_PROPERTIES as FRESHDESK,
)

CONN_ID = "stitch_jobs_test"


def connection_uri_env(emulator: Any, budget_path: str, conn_id: str = CONN_ID) -> tuple[str, str]:
    """Environment variable name and JSON value of an Airflow connection to the emulator."""
    extra = {"budget_backend": "sqlite", "budget_location": budget_path}
    value = stitch_connection_json(emulator.base_url, emulator.token, emulator.client_id, extra=extra)
    return f"AIRFLOW_CONN_{conn_id.upper()}", value


def emulator_client(emulator: Any, budget_path: str) -> StitchClient:
    """A sync client of the emulator's primary account paying from the SQLite budget at ``budget_path``."""
    budget = JobsBudget(
        emulator.client_id, backend=SQLiteBudgetBackend(budget_path), clock=emulator.runtime.clock.now
    )
    return StitchClient(
        emulator.token, base_url=emulator.base_url, client_id=emulator.client_id, budget=budget
    )


def make_sources(emulator: Any, client: StitchClient, count: int) -> list[int]:
    """A destination and ``count`` fully configured sources (3 streams each); scheduled runs switched off."""
    emulator.control.configure(run_schedules=False)
    if not client.list_destinations():
        client.create_destination("postgres", DESTINATION, "warehouse")
    return [client.create_source("platform.freshdesk", f"Shop {n:03d}", FRESHDESK).id for n in range(count)]


def start_jobs(
    emulator: Any, client: StitchClient, source_ids: Iterable[int], durations: Callable[[int], float]
) -> dict[int, str]:
    """Start a sync of each source whose tap phase lasts ``durations(index)`` emulator seconds."""
    names: dict[int, str] = {}
    for index, source_id in enumerate(source_ids):
        emulator.control.arrange(
            source_id, durations={"discovery": 1.0, "tap": durations(index), "target": 1.0}
        )
        job = client.start_sync(source_id)
        names[source_id] = str(job.job_name)
    return names


def completion_times(emulator: Any) -> dict[str, float]:
    """Job name -> emulator time its extraction ended, for every settled job."""
    found: dict[str, float] = {}
    for account in emulator.runtime.state.accounts.values():
        for job in account.jobs.values():
            if job.settled:
                found[job.job_name] = job.stopped_at if job.stopped_at is not None else job.end_time
    return found


def max_jobs_in_window(emulator: Any) -> int:
    """The largest number of Jobs requests the emulator saw in any 600-second window."""
    return int(emulator.control.stats(include_log=False)["max_jobs_in_window"])


class JobsEnv:
    """A reset manual-clock emulator wired for Jobs-waiting tests.

    The budget clock is the emulator's, the Airflow connection ``CONN_ID`` points at the emulator with a
    per-test SQLite budget, and the process-wide monitors are forgotten.
    """

    def __init__(self, emulator: Any, budget_path: str) -> None:
        self.emulator = emulator
        self.budget_path = budget_path
        self.client = emulator_client(emulator, budget_path)

    def now(self) -> float:
        """Emulator time."""
        return float(self.emulator.runtime.clock.now())

    def advance(self, seconds: float) -> None:
        """Move the emulator clock."""
        self.emulator.control.advance(seconds)

    def jobs_requests(self) -> int:
        """Jobs requests the emulator has answered since the reset."""
        return int(self.emulator.control.stats(include_log=False)["requests"]["jobs"])


def jobs_env(emulator: Any, tmp_path: Any, monkeypatch: Any) -> JobsEnv:
    """Build a :class:`JobsEnv` (call from a fixture that has ``monkeypatch``)."""
    from airflow_provider_stitch.api.jobs import forget_monitors

    budget_path = str(tmp_path / "jobs-budget.sqlite")
    monkeypatch.setitem(JobsBudget.__init__.__kwdefaults__, "clock", emulator.runtime.clock.now)
    name, value = connection_uri_env(emulator, budget_path)
    monkeypatch.setenv(name, value)
    forget_monitors()
    return JobsEnv(emulator, budget_path)


class FakeTaskInstance:
    """Just enough of a task instance for XCom push and pull in operator and sensor tests."""

    def __init__(self, upstream: dict[tuple[str, str], Any] | None = None) -> None:
        self.pushed: dict[str, Any] = {}
        self.upstream = dict(upstream or {})

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.upstream.get((task_ids, key))


def run_triggers(env: JobsEnv, triggers: list[Any]) -> list[list[Any]]:
    """Run triggers in one event loop under virtual time (sharing one monitor); the events each fired."""
    from airflow_provider_stitch.api.jobs import forget_monitors, monitor_for
    from airflow_provider_stitch.emulator.harness import VirtualTime

    clock = env.emulator.runtime.clock
    virtual = VirtualTime(clock.now, clock.advance)
    forget_monitors()
    monitor_for(env.emulator.base_url, env.emulator.client_id, env.client.jobs_budget, asleep=virtual.sleep)

    async def collect(trigger: Any) -> list[Any]:
        return [event async for event in trigger.run()]

    async def main() -> list[list[Any]]:
        tasks = [asyncio.create_task(collect(trigger)) for trigger in triggers]
        await virtual.drive(tasks)
        return [task.result() for task in tasks]

    return asyncio.run(main())
