"""Helpers shared by the Jobs-waiting tests and the rate-budget benchmark: emulator accounts with many
sources, a connection for the hook, the budget clock pinned to the emulator's, and virtual time for asyncio."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from airflow_provider_stitch.api.budget import JobsBudget, SQLiteBudgetBackend
from airflow_provider_stitch.api.client import StitchClient

DESTINATION = {
    "host": "warehouse.example.com",
    "port": 5432,
    "username": "loader",
    "password": "not-a-real-password",
    "database": "analytics",
    "encryption_type": "none",
    "ssl": "false",
}
FRESHDESK = {"api_key": "not-a-real-key", "domain": "acme", "start_date": "2024-01-01T00:00:00Z"}
CONN_ID = "stitch_jobs_test"
#: What a sensor worker writes in its ``rounds`` slot once every sensor is done.
ROUNDS_DONE = 10**9


def connection_uri_env(emulator: Any, budget_path: str, conn_id: str = CONN_ID) -> tuple[str, str]:
    """Environment variable name and JSON value of an Airflow connection to the emulator."""
    value = json.dumps(
        {
            "conn_type": "stitch",
            "host": emulator.base_url,
            "password": emulator.token,
            "extra": {
                "stitch_client_id": emulator.client_id,
                "budget_backend": "sqlite",
                "budget_location": budget_path,
            },
        }
    )
    return f"AIRFLOW_CONN_{conn_id.upper()}", value


def pin_budget_clock(clock: Callable[[], float]) -> Callable[[], float]:
    """Make every JobsBudget built from now on use ``clock``; returns the previous default."""
    defaults = JobsBudget.__init__.__kwdefaults__
    previous = defaults["clock"]
    defaults["clock"] = clock
    return previous  # type: ignore[no-any-return]


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


class VirtualTime:
    """Discrete-event time for asyncio tasks that sleep through :meth:`sleep`.

    When every watched task is asleep, the earliest sleeper's wake-up time becomes "now": the emulator's
    manual clock is moved there and that sleeper resumes. Requests in flight keep real time.

    :param now: reads the emulator clock.
    :param advance: moves the emulator clock forward by some seconds.
    """

    def __init__(self, now: Callable[[], float], advance: Callable[[float], Any]) -> None:
        self._now = now
        self._advance = advance
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._asleep = 0

    def now(self) -> float:
        """Emulator time."""
        return self._now()

    def _woke(self, _future: asyncio.Future[None]) -> None:
        self._asleep -= 1

    async def sleep(self, seconds: float) -> None:
        """Sleep in virtual time."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._asleep += 1
        future.add_done_callback(self._woke)
        heapq.heappush(self._sleepers, (self._now() + max(seconds, 0.0), next(self._order), future))
        await future

    def _pop_live(self) -> tuple[float, asyncio.Future[None]] | None:
        """The earliest sleeper still asleep (cancelled sleeps are dropped on the way)."""
        while self._sleepers:
            wake, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                return wake, future
        return None

    async def drive(self, tasks: list[asyncio.Task[Any]], *, real_timeout: float = 150.0) -> None:
        """Advance time whenever all unfinished tasks sleep, until all are done."""
        give_up = time.monotonic() + real_timeout
        running = {task for task in tasks if not task.done()}
        for task in running:
            task.add_done_callback(running.discard)
        while running:
            if time.monotonic() > give_up:
                raise TimeoutError("virtual-time tasks did not finish in real time")
            if self._asleep < len(running):
                await asyncio.sleep(0.002)
                continue
            earliest = self._pop_live()
            if earliest is None:
                await asyncio.sleep(0.002)
                continue
            wake, future = earliest
            delta = wake - self._now()
            if delta > 0:
                self._advance(delta)
            future.set_result(None)
            while self._sleepers and self._sleepers[0][0] <= self._now():
                _, _, due = heapq.heappop(self._sleepers)
                if not due.done():
                    due.set_result(None)
            await asyncio.sleep(0)


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


def run_sensor_worker(task: dict[str, Any]) -> dict[int, tuple[str, str | None]]:
    """Poke extraction sensors in this (separate) process until each is done; the emulator clock is read over HTTP.

    :param task: ``base_url``, ``conn_env`` (name, value), ``waits`` [(source_id, job_name, after)],
        ``poke_interval`` (emulator seconds), ``real_timeout`` (seconds) and ``lock``, held while poking;
        optionally ``rounds`` (a shared list) and ``index``: the worker counts its rounds of pokes there;
        optionally ``stagger`` (emulator seconds): first pokes are spread over one poke interval in such steps.
    """
    return _poke_sensors(task)[0]


def run_timed_sensor_worker(task: dict[str, Any]) -> tuple[dict[int, tuple[str, str | None, float]], float]:
    """Like :func:`run_sensor_worker`, with the emulator time each sensor finished; and this process's CPU seconds.

    :param task: as for :func:`run_sensor_worker`.
    """
    cpu = time.process_time()
    results, noticed = _poke_sensors(task)
    timed = {
        source_id: (status, message, noticed[source_id]) for source_id, (status, message) in results.items()
    }
    return timed, time.process_time() - cpu


def _poke_sensors(task: dict[str, Any]) -> tuple[dict[int, tuple[str, str | None]], dict[int, float]]:
    import os

    from airflow.providers.common.compat.sdk import AirflowException

    from airflow_provider_stitch.api.jobs import forget_monitors
    from airflow_provider_stitch.emulator.harness import EmulatorControl
    from airflow_provider_stitch.sensors.replication import StitchExtractionSensor

    name, value = task["conn_env"]
    os.environ[name] = value
    control = EmulatorControl(task["base_url"])
    pin_budget_clock(control.now)
    forget_monitors()
    sensors = {
        source_id: StitchExtractionSensor(
            task_id=f"wait_{source_id}",
            source_id=source_id,
            job_name=job_name,
            after=after,
            stitch_conn_id=CONN_ID,
        )
        for source_id, job_name, after in task["waits"]
    }
    results: dict[int, tuple[str, str | None]] = {}
    noticed: dict[int, float] = {}
    next_poke = dict.fromkeys(sensors, 0.0)
    if task.get(
        "stagger"
    ):  # first pokes spread over one poke interval, as sensors started at different times
        start, steps = control.now(), max(1, int(task["poke_interval"] // task["stagger"]))
        next_poke = {s: start + (n % steps) * task["stagger"] for n, s in enumerate(sensors)}
    give_up = time.monotonic() + task["real_timeout"]
    rounds = task.get("rounds")
    while len(results) < len(sensors) and time.monotonic() < give_up:
        with task["lock"]:  # one round of due pokes at one emulator time
            now = control.now()
            for source_id, sensor in sensors.items():
                if source_id in results or now < next_poke[source_id]:
                    continue
                next_poke[source_id] = now + task["poke_interval"]
                try:
                    if sensor.poke({}):
                        results[source_id] = ("success", None)
                except AirflowException as failure:
                    results[source_id] = ("failed", str(failure))
                if source_id in results:
                    noticed[source_id] = now
        if rounds is not None:
            rounds[task["index"]] += 1
        time.sleep(0.005)
    if rounds is not None:
        rounds[task["index"]] = ROUNDS_DONE
    control.close()
    return results, noticed


def run_triggers(env: JobsEnv, triggers: list[Any]) -> list[list[Any]]:
    """Run triggers in one event loop under virtual time (sharing one monitor); the events each fired."""
    from airflow_provider_stitch.api.jobs import forget_monitors, monitor_for

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
