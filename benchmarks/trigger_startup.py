"""Print what starting thousands of triggers costs a triggerer's event loop: the provider's triggers against
a baseline of Airflow's own trivial trigger, with the heap as a triggerer has it and with it frozen.

Each measurement runs in a fresh interpreter that imports Airflow's triggerer (its heap is what the
interpreter's full garbage collections walk) and runs N triggers through Airflow's own
``TriggerRunner.run_trigger`` in one event loop, created the way ``TriggerRunner.create_triggers`` does
(one after the other, yielding to the loop in between). The emulator runs in a child process on loopback
with real time; every source has a sync running for an hour, so the provider's triggers start and then wait.

Kinds: ``extraction`` (``StitchExtractionTrigger``), ``loads`` (``StitchLoadTrigger`` with ``loads_after``,
which reads the source and its streams first), ``baseline`` (Airflow's ``DateTimeTrigger`` an hour ahead:
what Airflow itself costs per trigger). For each: the worst event-loop stall (a 10 ms ticker) while the
triggers start and over the following ``--wait`` seconds of waiting, the garbage collections (count of full
ones and their longest pause, timed with ``gc.callbacks``), objects still alive per trigger once all wait,
CPU per trigger, and wall time until all wait. ``--profile KIND`` adds, for that kind of trigger, the
objects alive per trigger by type, the top functions on the loop thread (cProfile) and the top allocation sites of the objects that survive
the start (tracemalloc).

The waiter registry part prints what registering waiters costs the store.

Usage: ``python benchmarks/trigger_startup.py [--starts 1000 5000] [--kinds extraction loads baseline]
[--wait 25] [--heaps as-is frozen] [--profile extraction] [--waiters 2000]``. The output ends with one line
per provider kind and N (heap as is), e.g. ``N=5000 kind=extraction worst_stall_ms=… worst_stall_less_gc_ms=…
full_gcs=… … baseline_worst_stall_ms=… baseline_full_gcs=… objects_per_trigger=…
baseline_objects_per_trigger=…``: the worst stall while the N start (the first trigger of the process
included), also less the full collections within it, next to the baseline's at the same N.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

KINDS = ("extraction", "loads", "baseline")
CONN_ID = "stitch_startup_bench"
#: Emulator seconds each source's running sync lasts (the triggers wait on it throughout).
SYNC_SECONDS = 3600.0
TICK = 0.01


# ---------------------------------------------------------------------------------------------- the account


def prepare_account(emulator: Any, count: int) -> dict[str, Any]:
    """``count`` sources with a sync running for an hour; returns their ids, job names and the start time.

    :param emulator: the running emulator child.
    :param count: number of sources.
    """
    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.emulator.samples import (
        SAMPLE_DESTINATION,
        SAMPLE_DESTINATION_TYPE,
        SAMPLE_SOURCE_PROPERTIES,
        SAMPLE_SOURCE_TYPE,
    )

    control = emulator.control()
    client = StitchClient(emulator.token, base_url=emulator.base_url, client_id=emulator.client_id)
    control.configure(run_schedules=False)
    client.create_destination(SAMPLE_DESTINATION_TYPE, SAMPLE_DESTINATION, "warehouse")
    started = control.now()

    def make(n: int) -> tuple[int, str]:
        source_id = client.create_source(SAMPLE_SOURCE_TYPE, f"Shop {n:05d}", SAMPLE_SOURCE_PROPERTIES).id
        control.arrange(source_id, durations={"discovery": 1.0, "tap": SYNC_SECONDS, "target": 1.0})
        return source_id, str(client.start_sync(source_id).job_name)

    with ThreadPoolExecutor(4) as pool:
        jobs = dict(pool.map(make, range(count)))
    control.close()
    return {"jobs": {str(k): v for k, v in jobs.items()}, "started": started}


# ---------------------------------------------------------------------------------------------- one run (child)


def _make_trigger(kind: str, source_id: int, job_name: str, started: float, deadline: float) -> Any:
    if kind == "baseline":
        from datetime import datetime, timezone

        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        return DateTimeTrigger(datetime.fromtimestamp(deadline, timezone.utc))
    from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger, StitchLoadTrigger

    if kind == "extraction":
        return StitchExtractionTrigger(
            CONN_ID, source_id, job_name=job_name, after=started, deadline=deadline
        )
    return StitchLoadTrigger(CONN_ID, source_id, loads_after=started, deadline=deadline)


class GCTimer:
    """Times every garbage collection through ``gc.callbacks``: counts per generation, longest full pause,
    and when each full collection ran (to tell a stall it caused from one the code caused)."""

    def __init__(self) -> None:
        self.began = 0.0
        #: Every full collection since the start, kept through :meth:`reset`.
        self.every_full: list[tuple[float, float]] = []
        self.reset()

    def reset(self) -> None:
        """Forget what was counted so far."""
        self.counts = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self.total = 0.0
        self.full: list[tuple[float, float]] = []

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.began = time.perf_counter()
            return
        ended = time.perf_counter()
        generation = int(info["generation"])
        seconds = ended - self.began
        self.counts[generation] += 1
        self.longest[generation] = max(self.longest[generation], seconds)
        self.total += seconds
        if generation == 2:
            self.full.append((self.began, ended))
            self.every_full.append((self.began, ended))

    def full_within(self, began: float, ended: float) -> float:
        """Seconds of full collections between ``began`` and ``ended`` (perf_counter seconds)."""
        return sum(max(0.0, min(end, ended) - max(start, began)) for start, end in self.every_full)


def run_one(kind: str, count: int, frozen: bool, wait: float, account: dict[str, Any], profile: bool) -> dict:
    """N triggers of ``kind`` through Airflow's TriggerRunner in one loop; what the loop and the heap paid."""
    import asyncio
    import gc
    import logging

    import airflow.cli.commands.triggerer_command  # noqa: F401  (the triggerer's heap)
    from airflow.jobs.triggerer_job_runner import TriggerRunner

    logging.disable(logging.INFO)  # Airflow's and the provider's info lines cost the same in every kind
    runner = TriggerRunner()
    sources = [(int(s), name) for s, name in account["jobs"].items()][:count]
    started_at = float(account["started"])
    deadline = started_at + SYNC_SECONDS
    timer = GCTimer()
    heap = [0]
    census_lines: list[str] = []
    profiler = None
    if profile:
        import cProfile
        import tracemalloc

        tracemalloc.start(8)
        profiler = cProfile.Profile()
    gc.callbacks.append(timer)

    def all_waiting() -> bool:
        if kind == "baseline":
            return all(runner.triggers[i]["task"]._fut_waiter is not None for i in runner.triggers)  # type: ignore[attr-defined]
        # Never imports on the loop thread: while the first trigger's worker thread imports the monitor, an
        # import here would wait on that module's import lock and stall the loop the measurement is about.
        replication = sys.modules["airflow_provider_stitch.triggers.replication"]
        monitor = sys.modules.get("airflow_provider_stitch.api.jobs.monitor")
        if monitor is None or not replication._WAIT_MODULES_LOADED.is_set():
            return False
        return sum(m.active_waiters() for m in monitor._REGISTRY.values()) >= len(runner.triggers)

    def start(index: int, source_id: int, job_name: str) -> None:
        trigger = _make_trigger(kind, source_id, job_name, started_at, deadline)
        runner.triggers[index] = {
            "task": asyncio.create_task(runner.run_trigger(index, trigger), name=f"bench {index}"),
            "is_watcher": False,
            "name": f"bench trigger {index}",
            "events": 0,
        }

    async def until_all_wait(since: float) -> None:
        while not all_waiting():
            await asyncio.sleep(0.05)
            if time.perf_counter() - since > 600:
                raise TimeoutError(f"{count} {kind} triggers did not all wait within 600 s")

    async def main() -> dict[str, Any]:
        lags: dict[str, float] = {"first": 0.0, "settle": 0.0, "start": 0.0, "wait": 0.0}
        late: dict[str, list[tuple[float, float, float]]] = {phase: [] for phase in lags}
        phase = ["first"]
        #: When this script counted the heap on the loop (gc.get_objects): ticks overlapping it are dropped.
        heap_counts = [(0.0, 0.0)]

        async def ticker() -> None:
            while phase[0] != "done":
                began_in = phase[0]
                before = time.perf_counter()
                await asyncio.sleep(TICK)
                after = time.perf_counter()
                if any(before < end and after > start for start, end in heap_counts):
                    continue
                lag = after - before - TICK
                lags[began_in] = max(lags.get(began_in, 0.0), lag)
                if lag > TICK:
                    late[began_in].append((before, after, lag))

        probe = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        # The first trigger of its kind in this process (imports, the monitor, the store): measured apart.
        phase[0] = "first"
        start(-1, *sources[0])
        await until_all_wait(time.perf_counter())
        await asyncio.sleep(0.2)
        phase[0] = "settle"
        gc.collect()
        if frozen:
            gc.freeze()
        heap[0] = len(gc.get_objects()) + gc.get_freeze_count()
        await asyncio.sleep(0.05)
        phase[0] = "start"
        timer.reset()
        cpu, wall = time.process_time(), time.perf_counter()
        objects_before = len(gc.get_objects())
        known = {id(o) for o in gc.get_objects()} if profiler is not None else set()
        if profiler is not None:
            profiler.enable()
        for index, (source_id, job_name) in enumerate(sources):
            await asyncio.sleep(0)  # as TriggerRunner.create_triggers yields between two triggers
            start(index, source_id, job_name)
        await until_all_wait(wall)
        if profiler is not None:
            profiler.disable()
        start_cpu, start_wall = time.process_time() - cpu, time.perf_counter() - wall
        counting = time.perf_counter()
        alive = len(gc.get_objects()) - objects_before
        if profiler is not None:
            from collections import Counter

            census = Counter(type(o).__qualname__ for o in gc.get_objects() if id(o) not in known)
            census_lines[:] = [f"{n / count:7.1f}  {name}" for name, n in census.most_common(45)]
        known.clear()
        heap_counts.append((counting, time.perf_counter()))
        start_gc = (list(timer.counts), timer.longest[2], timer.total)
        start_full = list(timer.full)
        phase[0] = "wait"
        waiting_since = time.perf_counter()
        await asyncio.sleep(wait)
        phase[0] = "done"
        await probe
        fired = sum(details["events"] for details in runner.triggers.values())
        failed = [t["task"] for t in runner.triggers.values() if t["task"].done()]
        for details in runner.triggers.values():
            details["task"].cancel()
        await asyncio.gather(*(d["task"] for d in runner.triggers.values()), return_exceptions=True)
        problems = [repr(task.exception()) for task in failed if not task.cancelled() and task.exception()]

        def worst_less_full_collections(phase_name: str) -> float:
            return max(
                (lag - timer.full_within(began, ended) for began, ended, lag in late[phase_name]),
                default=0.0,
            )

        return {
            "first_lag_no_gc": worst_less_full_collections("first"),
            "start_lag_no_gc": worst_less_full_collections("start"),
            "wait_lag_no_gc": worst_less_full_collections("wait"),
            "worst_waiting_stalls": [
                (
                    round(began - waiting_since, 1),
                    round(lag * 1000),
                    round(timer.full_within(began, ended) * 1000),
                )
                for began, ended, lag in sorted(late["wait"], key=lambda item: -item[2])[:3]
            ],
            "first_lag": lags["first"],
            "start_lag": lags["start"],
            "wait_lag": lags["wait"],
            "start_cpu": start_cpu,
            "start_wall": start_wall,
            "alive_per_trigger": alive / count,
            "start_gc_counts": start_gc[0],
            "start_full_gc_longest": start_gc[1],
            "start_gc_total": start_gc[2],
            "gc_counts": list(timer.counts),
            "full_gc_longest": timer.longest[2],
            "wait_full_gcs": len(timer.full) - len(start_full),
            "fired_early": fired,
            "problems": problems[:3],
        }

    result = asyncio.run(main())
    result.update(kind=kind, count=count, frozen=frozen, heap=heap[0])
    if profiler is not None:
        import io
        import pstats
        import tracemalloc

        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("tottime")
        stats.print_stats(25)
        stats.print_callers("execute|write|_budget_for")
        result["profile"] = text.getvalue()
        result["census"] = census_lines
        result["allocations"] = [
            f"{stat.size / count:8.0f} B {stat.count / count:6.1f} blocks/trigger  {stat.traceback.format()[-1].strip()}"
            for stat in snapshot.statistics("lineno")[:25]
        ]
    return result


# ---------------------------------------------------------------------------------------------- driver


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the measurement child failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(result: dict[str, Any]) -> str:
    heap = "frozen" if result["frozen"] else "as is"
    full = result["start_gc_counts"][2]
    return (
        f"{result['kind']:<10} | {result['count']:>5} | {heap:<6} | {result['heap'] / 1e6:>5.2f} | "
        f"{result['first_lag'] * 1000:>6.0f} | {result['first_lag_no_gc'] * 1000:>6.0f} | "
        f"{result['start_lag'] * 1000:>6.0f} | "
        f"{result['start_lag_no_gc'] * 1000:>6.0f} | {result['wait_lag'] * 1000:>6.0f} | "
        f"{result['wait_lag_no_gc'] * 1000:>6.0f} | {full:>4} | {result['start_full_gc_longest'] * 1000:>7.0f} | "
        f"{result['wait_full_gcs']:>4} | {result['alive_per_trigger']:>7.0f} | "
        f"{result['start_cpu'] / result['count'] * 1000:>6.2f} | {result['start_wall']:>6.1f}"
    )


HEADER = (
    f"{'trigger':<10} | {'N':>5} | {'heap':<6} | {'M obj':>5} | {'first':>6} | {'no GC':>6} | {'start':>6} | "
    f"{'no GC':>6} | "
    f"{'wait':>6} | {'no GC':>6} | {'full':>4} | {'full ms':>7} | {'wfull':>4} | {'objects':>7} | "
    f"{'ms CPU':>6} | {'wall s':>6}"
)


def verdict_line(result: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """One checkable line for a provider kind at one N (heap as is) next to the baseline's figures.

    The stall while the N start counts the first trigger of the process too; ``less_gc`` subtracts the
    interpreter's full collections within each stall (they pause every thread whatever runs).

    :param result: the provider kind's measurement.
    :param baseline: the baseline's at the same N, or None when it was not measured.
    """

    def figures(of: dict[str, Any]) -> tuple[int, int, int, float, int]:
        worst = max(of["first_lag"], of["start_lag"])
        less_gc = max(of["first_lag_no_gc"], of["start_lag_no_gc"])
        full = of["start_gc_counts"][2]
        return (
            round(worst * 1000),
            round(less_gc * 1000),
            full,
            full * 1000 / of["count"],
            round(of["alive_per_trigger"]),
        )

    worst, less_gc, full, per_1000, objects = figures(result)
    line = (
        f"N={result['count']} kind={result['kind']} worst_stall_ms={worst} worst_stall_less_gc_ms={less_gc} "
        f"first_stall_ms={round(result['first_lag'] * 1000)} "
        f"first_stall_less_gc_ms={round(result['first_lag_no_gc'] * 1000)} full_gcs={full} "
        f"full_gcs_per_1000={per_1000:.1f} objects_per_trigger={objects}"
    )
    if baseline is None:
        return line + " baseline=not-measured"
    b_worst, b_less_gc, b_full, b_per_1000, b_objects = figures(baseline)
    return (
        f"{line} baseline_worst_stall_ms={b_worst} baseline_worst_stall_less_gc_ms={b_less_gc} "
        f"baseline_full_gcs={b_full} baseline_full_gcs_per_1000={b_per_1000:.1f} "
        f"baseline_objects_per_trigger={b_objects} own_stall_under_100ms={'yes' if less_gc < 100 else 'no'} "
        f"full_gcs_within_baseline={'yes' if per_1000 <= b_per_1000 else 'no'}"
    )


def trigger_startup(
    counts: list[int], kinds: list[str], wait: float, profile: str | None, heaps: list[str]
) -> list[str]:
    from airflow_provider_stitch.emulator.harness import EmulatorProcess

    workdir = Path(tempfile.mkdtemp(prefix="stitch-startup-"))
    with EmulatorProcess(workdir, extra_args=("--no-schedules",)) as emulator:
        account = prepare_account(emulator, max(counts))
        account_file = workdir / "account.json"
        account_file.write_text(json.dumps(account))
        env = dict(os.environ)
        env["AIRFLOW_HOME"] = str(workdir / "airflow")
        env[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
            {
                "conn_type": "stitch",
                "password": emulator.token,
                "host": emulator.base_url,
                "extra": {"stitch_client_id": emulator.client_id},
            }
        )
        print(
            "Worst event-loop stall in ms while the first trigger of its kind starts ('first'), while N more "
            f"start ('start') and over the next {wait:.0f} s of waiting ('wait'), each also less the full "
            "collections within the stall ('no GC'); M obj = objects on the heap before the N start; "
            "full = generation-2 collections during the start, and the longest ('full ms'); wfull = full "
            "collections while waiting; objects = objects still alive per trigger once all wait; ms CPU per "
            "trigger start; wall s until all wait."
        )
        print(HEADER)
        print("-" * len(HEADER))
        as_is: dict[tuple[str, int], dict[str, Any]] = {}
        for count in counts:
            for kind in kinds:
                for frozen in [heap == "frozen" for heap in heaps]:
                    args = [kind, str(count), "1" if frozen else "0", str(wait), str(account_file)]
                    env["AIRFLOW_HOME"] = str(workdir / f"airflow-{kind}-{count}-{int(frozen)}")
                    result = _child(args, env)
                    if not frozen:
                        as_is[kind, count] = result
                    print(_row(result), flush=True)
                    stalls = ", ".join(
                        f"{ms} ms at +{at:.1f} s{f' ({full} ms of it a full collection)' if full else ''}"
                        for at, ms, full in result["worst_waiting_stalls"]
                    )
                    print(f"    worst stalls while waiting: {stalls or 'none over 10 ms'}")
                    for problem in result["problems"]:
                        print(f"    problem: {problem}")
        if profile:
            result = _child([profile, str(counts[0]), "0", "1", str(account_file), "profile"], env)
            print(f"\nLoop-thread profile of {counts[0]} {profile} trigger starts (cProfile, by own time):")
            print(result["profile"])
            print("Objects alive once they all wait, by type, per trigger:")
            print("\n".join(result["census"]))
            print("Allocation sites of what is alive once they all wait (tracemalloc, per trigger):")
            print("\n".join(result["allocations"]))
        return [
            verdict_line(result, as_is.get(("baseline", count)))
            for (kind, count), result in as_is.items()
            if kind != "baseline"
        ]


def waiter_registry(count: int) -> None:
    from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
    from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
    from airflow_provider_stitch.api.jobs import EXTRACTIONS
    from airflow_provider_stitch.api.jobs.watchers import WaiterRegistry

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "budget.sqlite"
        for name, backend in (("sqlite", SQLiteBudgetBackend(path)), ("memory", InMemoryBudgetBackend())):
            budget = JobsBudget(1, backend=backend)
            registry = WaiterRegistry(lambda budget=budget: budget)
            started = time.perf_counter()
            for i in range(count):
                registry.watch(EXTRACTIONS, [str(i)])
            registered = time.perf_counter() - started
            watched = len(registry.watched(EXTRACTIONS))
            started = time.perf_counter()
            for i in range(count):
                registry.unwatch(EXTRACTIONS, [str(i)])
            unregistered = time.perf_counter() - started
            rows = ""
            if name == "sqlite":
                with sqlite3.connect(path) as conn:
                    left = conn.execute("SELECT COUNT(*) FROM budget_announcements").fetchone()[0]
                rows = f", {left} announcement rows left"
            print(
                f"waiter registry {name} N={count}: register {registered:.2f} s "
                f"({registered / count * 1000:.2f} ms each), {watched} watched, "
                f"unregister {unregistered:.2f} s{rows}"
            )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, count, frozen, wait, account_file, *rest = sys.argv[2:]
        account = json.loads(Path(account_file).read_text())
        result = run_one(kind, int(count), frozen == "1", float(wait), account, bool(rest))
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument(
        "--wait", type=float, default=25.0, help="seconds of waiting measured after the start"
    )
    parser.add_argument("--profile", choices=KINDS, help="profile the start of this kind of trigger")
    parser.add_argument(
        "--heaps",
        nargs="+",
        choices=("as-is", "frozen"),
        default=["as-is", "frozen"],
        help="the heap as a triggerer has it, and/or frozen (gc.freeze in the measuring child only)",
    )
    parser.add_argument("--waiters", type=int, default=2000)
    args = parser.parse_args()
    verdicts = trigger_startup(args.starts, args.kinds, args.wait, args.profile, args.heaps)
    if args.waiters:
        waiter_registry(args.waiters)
    if verdicts:  # last, one line per provider kind and N, so a script can check them
        print()
        print("\n".join(verdicts))


if __name__ == "__main__":
    main()
