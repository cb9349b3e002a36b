"""Rate-budget benchmark: thousands of concurrent waits through the shared JobsMonitor, within 30 Jobs requests
per 600 s, on a fair page schedule.

Every source first finishes one sync (so the extraction list spans P = ceil(N / 100) pages), then runs a
second sync ending at its own time over about 40 minutes. For each N the script prints:

* finished waits, and the median / 95th-percentile / largest delay between a job's completion (Stitch's own
  ``completion_time``) and its wait noticing it;
* the floor the limit allows: with one page read per 20.3 s, each of P pages comes round every
  P × 20.3 s (the bound) and a wait's median delay is about half of it;
* the busiest 600-second window the emulator counted (Stitch allows 30);
* CPU seconds of this process and resident memory per wait, and the event loop's largest lag while the
  triggers start and once they all wait (``lag ms``: start / waiting); a line under each deferred run
  gives the same less the full garbage collections within each stall (``gc.callbacks`` times them).

Deferred waits are StitchExtractionTriggers in one event loop; load waits are StitchLoadTriggers on one
stream of each source, so the watched load rows (listed by stream name, then source name) all share one sort
key across pages; sensors poke from several processes sharing one SQLite store. The emulator runs as a child
process with a manual clock, which this script moves (virtual time), so hours of waiting take minutes.
Figures are measured outside the provider: delays from Stitch's rows and the time each trigger fired, the
window from the emulator's own counter.

Run: ``python benchmarks/rate_budget.py`` (N = 500, 1000, 2000, 5000 and 200 sensors in 4 processes), or
``python benchmarks/rate_budget.py --waits 2000``, which ends with the line
``N=2000 finished=2000/2000 busiest=30/30 median=…s p95=…s bound=…s``; ``--loads 2000`` runs load waits and
ends with ``kind=loads N=2000 finished=… busiest=… median=…s p95=…s bound=…s`` (its bound counts the pages
that hold the watched load rows).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if "AIRFLOW_HOME" not in os.environ:  # a private Airflow home when run as a script
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="stitch-bench-")

from airflow_provider_stitch.api.budget import DEFAULT_JOBS_LIMIT, DEFAULT_JOBS_WINDOW  # noqa: E402
from airflow_provider_stitch.api.jobs.decisions import to_epoch  # noqa: E402
from airflow_provider_stitch.emulator.dag_runs import stitch_connection_json  # noqa: E402
from airflow_provider_stitch.emulator.harness import (  # noqa: E402
    EmulatorControl,
    EmulatorProcess,
    VirtualTime,
)
from airflow_provider_stitch.emulator.samples import (  # noqa: E402
    SAMPLE_DESTINATION,
    SAMPLE_DESTINATION_TYPE,
    SAMPLE_SOURCE_PROPERTIES,
    SAMPLE_SOURCE_TYPE,
)

DEFAULT_WAITS = (500, 1000, 2000, 5000)
DEFAULT_SENSORS = 200
SENSOR_PROCESSES = 4
SENSOR_POKE_INTERVAL = 60.0
#: Emulator seconds the clock moves between two rounds of sensor pokes.
SENSOR_STEP = 10.0
TURN = DEFAULT_JOBS_WINDOW / DEFAULT_JOBS_LIMIT
PAGE_SIZE = 100
LAG_PROBE = 0.01
CONN_ID = "stitch_rate_bench"
#: What a sensor worker writes in its ``rounds`` slot once every sensor is done.
ROUNDS_DONE = 10**9
#: The stream every load wait watches: one sort key shared by every source's rows of the loads list.
LOAD_STREAM = "accounts"


def tap_seconds(index: int) -> float:
    """Second syncs end spread over about 40 minutes (a fixed, scrambled order of source ids)."""
    return 60.0 + (index * 7919) % 2400


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def rss_bytes() -> int:
    """Resident memory of this process."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def connection_env(emulator: Any, budget_path: str, conn_id: str = CONN_ID) -> tuple[str, str]:
    """Environment variable name and JSON value of an Airflow connection to the emulator's primary account.

    :param emulator: the emulator (``base_url``, ``token``, ``client_id``).
    :param budget_path: the SQLite Jobs budget the connection's tasks share.
    :param conn_id: the connection id.
    """
    extra = {"budget_backend": "sqlite", "budget_location": budget_path}
    value = stitch_connection_json(emulator.base_url, emulator.token, emulator.client_id, extra=extra)
    return f"AIRFLOW_CONN_{conn_id.upper()}", value


def pin_budget_clock(clock: Callable[[], float]) -> Callable[[], float]:
    """Make every JobsBudget built from now on use ``clock``; returns the previous default.

    :param clock: the clock budgets read (the emulator's, over HTTP or mirrored).
    """
    from airflow_provider_stitch.api.budget import JobsBudget

    defaults = JobsBudget.__init__.__kwdefaults__
    previous = defaults["clock"]
    defaults["clock"] = clock
    return previous  # type: ignore[no-any-return]


def run_sensor_worker(task: dict[str, Any]) -> dict[int, tuple[str, str | None]]:
    """Poke extraction sensors in this (separate) process until each is done.

    The emulator's clock is read over HTTP once per round of pokes (the parent moves it only while every
    worker's lock is free), so a budget's clock reads cost nothing, as a real clock's do.

    :param task: ``base_url``, ``conn_id`` and ``conn_env`` (its variable's name, value), ``waits`` [(source_id, job_name, after)],
        ``poke_interval`` (emulator seconds), ``real_timeout`` (seconds) and ``lock``, held while poking;
        optionally ``rounds`` (a shared list) and ``index``: the worker counts its rounds of pokes there;
        optionally ``stagger`` (emulator seconds): first pokes are spread over one poke interval in such steps.
    """
    return _poke_sensors(task)[0]


def run_timed_sensor_worker(
    task: dict[str, Any],
) -> tuple[dict[int, tuple[str, str | None, float]], float, float]:
    """Like :func:`run_sensor_worker`, with the emulator time each sensor finished; and CPU seconds: this
    process's (Airflow's import and the rounds included) and the provider's (building the sensors, poking).

    :param task: as for :func:`run_sensor_worker`.
    """
    results, noticed, provider_cpu = _poke_sensors(task)
    timed = {
        source_id: (status, message, noticed[source_id]) for source_id, (status, message) in results.items()
    }
    return timed, time.process_time(), provider_cpu


def _poke_sensors(
    task: dict[str, Any],
) -> tuple[dict[int, tuple[str, str | None]], dict[int, float], float]:
    import os

    from airflow.providers.common.compat.sdk import AirflowException

    from airflow_provider_stitch.api.jobs import forget_monitors
    from airflow_provider_stitch.emulator.harness import EmulatorControl
    from airflow_provider_stitch.hooks import stitch as hook_module
    from airflow_provider_stitch.sensors.replication import StitchExtractionSensor

    name, value = task["conn_env"]
    os.environ[name] = value
    control = EmulatorControl(task["base_url"])
    clock = MirroredClock(control)
    # Virtual time pokes faster than real time: the hooks time their connection rechecks on the emulator's
    # clock, so a sensor reads its connection as often as it would poking at that pace for real.
    hook_module.monotonic = clock.now
    pin_budget_clock(clock.now)
    forget_monitors()
    provider_cpu = time.process_time()
    sensors = {
        source_id: StitchExtractionSensor(
            task_id=f"wait_{source_id}",
            source_id=source_id,
            job_name=job_name,
            after=after,
            stitch_conn_id=task["conn_id"],
        )
        for source_id, job_name, after in task["waits"]
    }
    provider_cpu = time.process_time() - provider_cpu
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
            now = clock.refresh()
            for source_id, sensor in sensors.items():
                if source_id in results or now < next_poke[source_id]:
                    continue
                next_poke[source_id] = now + task["poke_interval"]
                poke_started = time.process_time()
                try:
                    if sensor.poke({}):
                        results[source_id] = ("success", None)
                except AirflowException as failure:
                    results[source_id] = ("failed", str(failure))
                provider_cpu += time.process_time() - poke_started
                if source_id in results:
                    noticed[source_id] = now
        if rounds is not None:
            rounds[task["index"]] += 1
        time.sleep(0.005)
    if rounds is not None:
        rounds[task["index"]] = ROUNDS_DONE
    control.close()
    return results, noticed, provider_cpu


def run_reschedule_poke(task: dict[str, Any]) -> dict[str, Any]:
    """One poke of a sensor in reschedule mode, in a fresh process: what it costs and what it found.

    :param task: ``base_url``, ``conn_id``, ``conn_env``, ``wait`` (source_id, job_name, after) and
        ``profile`` (a path to write a cProfile of the poke to, or None).
    :returns: CPU seconds of this process before Airflow is imported (Python and the benchmark), of
        importing the sensor module (Airflow), of importing the modules a poke loads (the client, requests,
        the models, the monitor), of building the sensor and poking, and whether the poke found the job
        finished.
    """
    started = time.process_time()
    from airflow_provider_stitch.sensors.replication import StitchExtractionSensor

    imported = time.process_time()
    import airflow_provider_stitch.api.jobs
    import airflow_provider_stitch.hooks.stitch  # noqa: F401
    from airflow_provider_stitch.emulator.harness import EmulatorControl

    modules = time.process_time()

    name, value = task["conn_env"]
    os.environ[name] = value
    control = EmulatorControl(task["base_url"])
    pin_budget_clock(MirroredClock(control).now)  # the parent moves the clock only between pokes
    source_id, job_name, after = task["wait"]
    profile = None
    if task.get("profile"):
        import cProfile

        profile = cProfile.Profile()
    begun = time.process_time()
    if profile is not None:
        profile.enable()
    sensor = StitchExtractionSensor(
        task_id=f"wait_{source_id}",
        source_id=source_id,
        job_name=job_name,
        after=after,
        stitch_conn_id=task["conn_id"],
    )
    found = bool(sensor.poke({}))
    if profile is not None:
        profile.disable()
        profile.dump_stats(task["profile"])
    poked = time.process_time()
    control.close()
    return {
        "python": started,
        "airflow": imported - started,
        "modules": modules - imported,
        "provider": poked - begun,
        "done": found,
    }


class MirroredClock:
    """The emulator's manual clock, mirrored locally: reads cost nothing, moves are sent to the emulator.

    :param control: the emulator's control client.
    """

    def __init__(self, control: EmulatorControl) -> None:
        self.control = control
        self.at = control.now()

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at = self.control.advance(seconds)

    def refresh(self) -> float:
        """Read the emulator's time again (another process may have moved it)."""
        self.at = self.control.now()
        return self.at


@dataclass
class Figures:
    """What one run measured."""

    label: str
    waits: int
    finished: int
    delays: list[float]
    busiest: int
    cpu_per_wait_ms: float
    memory_per_wait_kib: float
    max_lag_ms: float
    wall_seconds: float
    max_lag_waiting_ms: float = math.nan
    poke_interval: float = 0.0
    kind: str = "extractions"
    #: Sensors: the worker processes' whole CPU per wait (Airflow's import and the benchmark's rounds too).
    process_cpu_per_wait_ms: float = math.nan
    #: Pages of the list that hold watched rows, when not one row per wait from the first page on.
    pages_held: int | None = None
    #: Deferred waits: the largest lags (start, waiting), less the full garbage collections within them.
    lag_without_full_collections_ms: tuple[float, float] = (math.nan, math.nan)
    #: Deferred waits: full (generation-2) collections of this process during the run, and the longest.
    full_collections: int = 0
    longest_full_collection_ms: float = math.nan
    #: Deferred waits: CPU per wait less the full collections' time (the interpreter's heap walks).
    cpu_per_wait_less_full_collections_ms: float = math.nan

    @property
    def pages(self) -> int:
        return self.pages_held if self.pages_held is not None else math.ceil(self.waits / PAGE_SIZE)

    @property
    def bound(self) -> float:
        """P × one turn: how often each pending page comes round at best (plus a sensor's poke interval)."""
        return self.pages * TURN + self.poke_interval

    def row(self) -> str:
        median, high = statistics.median(self.delays), p95(self.delays)
        return (
            f"{self.label:<9} | {self.waits:>5} | {self.finished:>5} | {median:>7.0f} | {high:>6.0f} | "
            f"{max(self.delays):>6.0f} | {self.bound / 2:>6.0f} / {self.bound:>5.0f} | {self.busiest:>4}/30 | "
            f"{self.cpu_per_wait_ms:>6.2f} | {self.memory_per_wait_kib:>6.1f} | {self.max_lag_ms:>5.0f}/{self.max_lag_waiting_ms:<4.0f} | "
            f"{self.wall_seconds:>5.0f}"
        )

    def lag_note(self) -> str:
        """The event loop's stalls in words, also less the full garbage collections within them."""
        start, waiting = self.lag_without_full_collections_ms
        return (
            f"    event loop: worst lag {self.max_lag_ms:.0f} ms while starting, {self.max_lag_waiting_ms:.0f} ms "
            f"while waiting; {start:.0f} / {waiting:.0f} ms less the full collections within them "
            f"({self.full_collections} in the run, the longest {self.longest_full_collection_ms:.0f} ms); "
            f"CPU {self.cpu_per_wait_less_full_collections_ms:.2f} ms per wait less them"
        )

    def line(self) -> str:
        prefix = "" if self.kind == "extractions" else f"kind={self.kind} "
        return (
            f"{prefix}N={self.waits} finished={self.finished}/{self.waits} busiest={self.busiest}/30 "
            f"median={statistics.median(self.delays):.0f}s p95={p95(self.delays):.0f}s bound={self.bound:.0f}s"
        )


HEADER = (
    f"{'waiter':<9} | {'N':>5} | {'done':>5} | {'median':>7} | {'p95':>6} | {'max':>6} | {'floor med/max':>14} | "
    f"{'busiest':>7} | {'ms CPU':>6} | {'KiB':>6} | {'lag ms':>10} | {'wall':>5}"
)


class Account:
    """The emulator child wired for one run: sources, their second syncs, and a connection to them."""

    def __init__(self, emulator: EmulatorProcess, control: EmulatorControl, count: int, label: str) -> None:
        from airflow_provider_stitch.api.budget import JobsBudget
        from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
        from airflow_provider_stitch.api.client import StitchClient

        control.reset()
        self.emulator, self.control = emulator, control
        self.budget_path = os.path.join(tempfile.mkdtemp(prefix=f"stitch-bench-{label}-"), "budget.sqlite")
        name, value = connection_env(emulator, self.budget_path)
        os.environ[name] = value
        self.conn_env = (name, value)
        self.clock = MirroredClock(control)
        pin_budget_clock(self.clock.now)
        budget = JobsBudget(emulator.client_id, backend=SQLiteBudgetBackend(self.budget_path))
        self.client = StitchClient(
            emulator.token, base_url=emulator.base_url, client_id=emulator.client_id, budget=budget
        )
        self.sources = self._make_sources(count)
        self._start_all(lambda index: 1.0)
        self.clock.advance(30.0)
        self.started = self.clock.now()
        self.names = self._start_all(tap_seconds)

    def _make_sources(self, count: int) -> list[int]:
        self.control.configure(run_schedules=False)
        self.client.create_destination(SAMPLE_DESTINATION_TYPE, SAMPLE_DESTINATION, "warehouse")
        with ThreadPoolExecutor(4) as pool:
            return list(
                pool.map(
                    lambda n: (
                        self.client.create_source(
                            SAMPLE_SOURCE_TYPE, f"Shop {n:05d}", SAMPLE_SOURCE_PROPERTIES
                        ).id
                    ),
                    range(count),
                )
            )

    def _start_all(self, durations: Any) -> dict[int, str]:
        def start(item: tuple[int, int]) -> tuple[int, str]:
            index, source_id = item
            self.control.arrange(
                source_id, durations={"discovery": 1.0, "tap": durations(index), "target": 1.0}
            )
            return source_id, str(self.client.start_sync(source_id).job_name)

        with ThreadPoolExecutor(4) as pool:
            return dict(pool.map(start, enumerate(self.sources)))

    def busiest(self) -> int:
        return int(self.control.stats(include_log=False)["max_jobs_in_window"])


class FullCollections:
    """When the interpreter's full (generation-2) garbage collections ran, through ``gc.callbacks``."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.spans.append((self._began, time.perf_counter()))

    def longest(self) -> float:
        """Seconds of the longest full collection."""
        return max((end - start for start, end in self.spans), default=0.0)

    def total(self) -> float:
        """Seconds of all full collections."""
        return sum(end - start for start, end in self.spans)

    def within(self, began: float, ended: float) -> float:
        """Seconds of full collections between ``began`` and ``ended`` (perf_counter seconds)."""
        return sum(max(0.0, min(end, ended) - max(start, began)) for start, end in self.spans)


async def _watch_lag(
    stop: asyncio.Event, lags: dict[bool, list[tuple[float, float, float]]], waiting: Any
) -> None:
    """Measure how late the loop wakes a short real-time sleep, apart while starting and once all wait."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(LAG_PROBE)
        after = time.perf_counter()
        lags[bool(waiting())].append((before, after, after - before - LAG_PROBE))


def worst_lag_ms(lags: list[tuple[float, float, float]], collections: FullCollections | None = None) -> float:
    """The largest lag in ms; with ``collections``, less the full collections that ran within each probe."""
    return 1000 * max(
        (lag - (collections.within(began, ended) if collections else 0.0) for began, ended, lag in lags),
        default=0.0,
    )


def wait_trigger(kind: str, account: Account, source_id: int) -> Any:
    """The trigger of one deferred wait: the source's second extraction, or its load of :data:`LOAD_STREAM`."""
    from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger, StitchLoadTrigger

    deadline = account.started + 6 * 3600
    if kind == "loads":
        return StitchLoadTrigger(
            CONN_ID, source_id, streams=[LOAD_STREAM], loads_after=account.started, deadline=deadline
        )
    return StitchExtractionTrigger(
        CONN_ID, source_id, job_name=account.names[source_id], after=account.started, deadline=deadline
    )


def run_deferred(
    emulator: EmulatorProcess, control: EmulatorControl, count: int, kind: str = "extractions"
) -> Figures:
    """N StitchExtractionTriggers (or StitchLoadTriggers) in one event loop under virtual time."""
    # A triggerer has Airflow loaded before it runs a trigger: importing its trigger base (and with it
    # Airflow's configuration) on the loop stalled the start 1.4 s in the first trigger built, a cost of
    # this script, not of the provider, whose own modules still load inside the run. It configures
    # Airflow's logging too, so it comes before the logs are quietened.
    import airflow.triggers.base  # noqa: F401

    from airflow_provider_stitch.api.jobs import forget_monitors, monitor_for

    account = Account(emulator, control, count, f"deferred-{kind}")
    quiet_task_logs()  # after Airflow configured its logging
    virtual = VirtualTime(account.clock.now, account.clock.advance)
    forget_monitors()
    monitor = monitor_for(
        emulator.base_url, emulator.client_id, account.client.jobs_budget, asleep=virtual.sleep
    )
    fired: dict[int, tuple[float, dict[str, Any]]] = {}
    lags: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    collections = FullCollections()
    peak = [0]

    async def wait(source_id: int) -> None:
        trigger = wait_trigger(kind, account, source_id)
        async for event in trigger.run():
            fired[source_id] = (virtual.now(), event.payload)
        peak[0] = max(peak[0], rss_bytes())

    started = [False]

    def all_waiting() -> bool:
        started[0] = started[0] or monitor.active_waiters() >= count
        return started[0]

    async def main() -> None:
        stop = asyncio.Event()
        probe = asyncio.create_task(_watch_lag(stop, lags, all_waiting))
        tasks = [asyncio.create_task(wait(source_id)) for source_id in account.sources]
        await virtual.drive(tasks, real_timeout=3 * 3600)
        stop.set()
        await probe

    baseline = rss_bytes()
    cpu, wall = time.process_time(), time.monotonic()
    gc.callbacks.append(collections)
    try:
        asyncio.run(main())
    finally:
        gc.callbacks.remove(collections)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    for source_id, (_, payload) in fired.items():
        if payload.get("status") != "success":
            print(f"source {source_id}: {payload.get('status')}: {payload.get('message')}", file=sys.stderr)
    busiest = account.busiest()  # before the rows are read at the end (those reads are Jobs requests too)
    delays, pages_held = _delays(fired.values()), None
    if kind == "loads":
        delays, pages_held = _load_delays(account, fired)
    return Figures(
        label="deferred" if kind == "extractions" else "loads",
        kind=kind,
        pages_held=pages_held,
        waits=count,
        finished=sum(1 for _, payload in fired.values() if payload.get("status") == "success"),
        delays=delays,
        busiest=busiest,
        cpu_per_wait_ms=1000 * cpu / count,
        memory_per_wait_kib=max(0, peak[0] - baseline) / 1024 / count,
        max_lag_ms=worst_lag_ms(lags[False]),
        max_lag_waiting_ms=worst_lag_ms(lags[True]),
        lag_without_full_collections_ms=(
            worst_lag_ms(lags[False], collections),
            worst_lag_ms(lags[True], collections),
        ),
        full_collections=len(collections.spans),
        longest_full_collection_ms=1000 * collections.longest(),
        cpu_per_wait_less_full_collections_ms=1000 * max(0.0, cpu - collections.total()) / count,
        wall_seconds=wall,
    )


def _delays(fired: Iterable[tuple[float, dict[str, Any]]]) -> list[float]:
    delays = []
    for noticed, payload in fired:
        completed = to_epoch((payload.get("extraction") or {}).get("completion_time"))
        if completed is not None:
            delays.append(noticed - completed)
    return delays or [math.nan]


def _load_delays(account: Account, fired: dict[int, tuple[float, dict[str, Any]]]) -> tuple[list[float], int]:
    """Delays of the load waits that finished, from Stitch's own rows; and the pages holding watched rows.

    Measured outside the provider: each watched row's ``last_batch_loaded_at`` and its position in the
    loads list, both read straight from the emulator once every wait ended.
    """
    names = {source.id: str(source.name) for source in account.client.list_sources()}
    listing = _listing(account, "loads")
    positions = {
        row["source_name"]: index for index, row in enumerate(listing) if row["stream_name"] == LOAD_STREAM
    }
    pages = {positions[names[s]] // PAGE_SIZE for s in account.sources if names.get(s) in positions}
    loaded = {
        row["source_name"]: to_epoch(row.get("last_batch_loaded_at"))
        for row in listing
        if row["stream_name"] == LOAD_STREAM
    }
    delays = [
        noticed - loaded_at
        for source_id, (noticed, payload) in fired.items()
        if payload.get("status") == "success" and (loaded_at := loaded.get(names.get(source_id))) is not None
    ]
    return delays or [math.nan], len(pages)


def run_sensors(emulator: EmulatorProcess, control: EmulatorControl, count: int) -> Figures:
    """N poking StitchExtractionSensors split over several processes that share one SQLite store."""
    account = Account(emulator, control, count, "sensors")
    waits = [(s, account.names[s], account.started) for s in account.sources]
    context = multiprocessing.get_context("spawn")
    wall = time.monotonic()
    with context.Manager() as manager:
        locks = [manager.Lock() for _ in range(SENSOR_PROCESSES)]
        rounds = manager.list([0] * SENSOR_PROCESSES)
        tasks = [
            {
                "base_url": emulator.base_url,
                "conn_id": CONN_ID,
                "conn_env": account.conn_env,
                "waits": waits[index::SENSOR_PROCESSES],
                "poke_interval": SENSOR_POKE_INTERVAL,
                "real_timeout": 3 * 3600,
                "lock": locks[index],
                "rounds": rounds,
                "index": index,
                "stagger": SENSOR_STEP,
            }
            for index in range(SENSOR_PROCESSES)
        ]
        with context.Pool(SENSOR_PROCESSES) as pool:
            pending = pool.map_async(run_timed_sensor_worker, tasks)
            while not pending.ready():
                for lock in locks:
                    lock.acquire()
                try:
                    account.clock.advance(SENSOR_STEP)
                    seen = list(rounds)
                finally:
                    for lock in locks:
                        lock.release()
                while not pending.ready() and any(
                    r == s < ROUNDS_DONE for r, s in zip(rounds, seen, strict=True)
                ):
                    pending.wait(0.003)  # every worker pokes what is due at this time before it moves on
            parts = pending.get()
    results = {s: outcome for part, _, _ in parts for s, outcome in part.items()}
    process_cpu = sum(seconds for _, seconds, _ in parts)
    cpu = sum(seconds for _, _, seconds in parts)
    wall = time.monotonic() - wall
    busiest = account.busiest()  # before the rows are read at the end (those reads are Jobs requests too)
    completed = {s: to_epoch(row.get("completion_time")) for s, row in _rows_now(account).items()}
    delays = [
        noticed - completed[s]
        for s, (status, _message, noticed) in results.items()
        if status == "success" and completed.get(s) is not None
    ]
    return Figures(
        label="sensors",
        waits=count,
        finished=sum(1 for status, *_ in results.values() if status == "success"),
        delays=delays or [math.nan],
        busiest=busiest,
        cpu_per_wait_ms=1000 * cpu / count,
        process_cpu_per_wait_ms=1000 * process_cpu / count,
        memory_per_wait_kib=math.nan,
        max_lag_ms=math.nan,
        wall_seconds=wall,
        poke_interval=SENSOR_POKE_INTERVAL,
    )


def run_reschedule(
    emulator: EmulatorProcess, control: EmulatorControl, count: int, pokes: int, profile: str | None
) -> str:
    """Pokes of reschedule-mode sensors, each in a fresh process, on an account of ``count`` sources.

    Each poke looks at a different source's running sync, one emulator step apart, so the store holds
    what earlier pokes read (as when many rescheduled sensors share it). Returns the figures in words.
    """
    account = Account(emulator, control, count, "reschedule")
    context = multiprocessing.get_context("spawn")
    costs: list[dict[str, Any]] = []
    with context.Pool(1, maxtasksperchild=1) as pool:
        for index in range(pokes):
            source_id = account.sources[(index * 37) % count]
            task = {
                "base_url": emulator.base_url,
                "conn_id": CONN_ID,
                "conn_env": account.conn_env,
                "wait": (source_id, account.names[source_id], account.started),
                "profile": profile if index == pokes - 1 else None,
            }
            costs.append(pool.apply(run_reschedule_poke, (task,)))
            account.clock.advance(SENSOR_STEP)
    later = costs[1:] or costs  # the first poke also creates the store's tables
    provider = statistics.median(c["provider"] for c in later) * 1000
    airflow = statistics.median(c["airflow"] for c in later) * 1000
    python = statistics.median(c["python"] for c in later) * 1000
    modules = statistics.median(c["modules"] for c in later) * 1000
    return (
        f"reschedule: {len(costs)} pokes, each in a fresh process, on {count} sources "
        f"({math.ceil(count / PAGE_SIZE)} extraction pages): median CPU per poke "
        f"{python + airflow + modules + provider:.0f} ms = Python and the benchmark's module {python:.0f} ms + "
        f"importing Airflow and the sensor {airflow:.0f} ms + the modules a poke loads (client, requests, "
        f"models, monitor) {modules:.0f} ms + the poke itself (hook, client, store, monitor, requests) "
        f"{provider:.1f} ms"
    )


def _rows_now(account: Account) -> dict[int, dict[str, Any]]:
    """Every extraction row by source id, read once at the end straight from the emulator."""
    return {int(row["source_id"]): row for row in _listing(account, "extractions")}


def _listing(account: Account, kind: str) -> list[dict[str, Any]]:
    """Every row of a Jobs list in Stitch's order, read page by page straight from the emulator (not through
    the budget: read it after the busiest window was taken)."""
    import httpx

    found: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {account.emulator.token}"}
    with httpx.Client(base_url=account.emulator.base_url, headers=headers) as http:
        page = 1
        while True:
            body = http.get(f"/v4/{account.emulator.client_id}/{kind}", params={"page": page}).json()
            found.extend(body["data"])
            if not body.get("links", {}).get("next"):
                return found
            page += 1


def quiet_task_logs() -> None:
    """Keep warnings only: thousands of waits' progress lines would cost more than the waits themselves."""
    import structlog

    logging.disable(logging.INFO)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--waits", type=int, nargs="*", help="numbers of deferred waits (default 500 1000 2000 5000)"
    )
    parser.add_argument("--sensors", type=int, help=f"poking sensors in {SENSOR_PROCESSES} processes")
    parser.add_argument(
        "--reschedule",
        type=int,
        metavar="POKES",
        help="reschedule-mode pokes, each in a fresh process (on --reschedule-sources sources)",
    )
    parser.add_argument("--reschedule-sources", type=int, default=DEFAULT_SENSORS)
    parser.add_argument("--profile", help="write a cProfile of the last reschedule poke to this file")
    parser.add_argument(
        "--loads",
        type=int,
        nargs="*",
        help=f"numbers of deferred load waits on each source's {LOAD_STREAM!r}",
    )
    args = parser.parse_args()
    chosen = args.waits or args.sensors or args.loads or args.reschedule
    waits = args.waits or ([] if chosen else list(DEFAULT_WAITS))
    loads = args.loads or ([] if chosen else list(DEFAULT_WAITS))
    sensors = args.sensors if args.sensors is not None else (0 if chosen else DEFAULT_SENSORS)
    quiet_task_logs()
    figures: list[Figures] = []
    notes: list[str] = []
    workdir = tempfile.mkdtemp(prefix="stitch-bench-emulator-")
    with EmulatorProcess(Path(workdir), extra_args=("--clock", "manual", "--no-schedules")) as emulator:
        control = emulator.control()
        print(HEADER)
        print("-" * len(HEADER))
        if sensors:
            figures.append(run_sensors(emulator, control, sensors))
            print(figures[-1].row(), flush=True)
        if args.reschedule:
            notes.append(
                run_reschedule(emulator, control, args.reschedule_sources, args.reschedule, args.profile)
            )
            print(notes[-1], flush=True)
        for count in waits:
            figures.append(run_deferred(emulator, control, count))
            print(figures[-1].row(), flush=True)
            print(figures[-1].lag_note(), flush=True)
        for count in loads:
            figures.append(run_deferred(emulator, control, count, kind="loads"))
            print(figures[-1].row(), flush=True)
            print(figures[-1].lag_note(), flush=True)
        control.close()
    print(
        f"Delays are emulator seconds from a job's completion to its wait noticing it; one Jobs page is read "
        f"per {TURN:.1f} s (30 per 610 s), so P pages come round every P x {TURN:.1f} s ('floor')."
    )
    for figure in figures:
        if figure.label == "sensors":
            print(
                f"sensors: 'ms CPU' is the provider's (building each sensor, then its pokes); the worker "
                f"processes used {figure.process_cpu_per_wait_ms:.1f} ms per wait in all (Python and Airflow "
                f"starting, the benchmark's rounds)."
            )
    for figure in figures:
        if figure.label in ("deferred", "loads"):
            print(figure.line())


if __name__ == "__main__":
    main()
