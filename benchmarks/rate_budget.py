"""Rate-budget benchmark: N concurrent waits through the shared JobsMonitor versus a naive poller.

For N = 1, 10, 50 and 200 sources whose jobs end at spread-out times, prints side by side:

* the largest number of Jobs requests the (emulated) Stitch saw in any 600-second window,
* the median and 95th-percentile delay between a job's completion and its wait noticing it,
* worker-slot seconds held while waiting.

"monitor" runs deferrable StitchExtractionTriggers in one event loop (no worker slot while waiting);
"naive" polls every wait on its own every 60 s, as a poking sensor would (one worker slot per wait).
Time is the emulator's manual clock, so hours of waiting run in seconds. Run: ``python benchmarks/rate_budget.py``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "monitor"))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="stitch-bench-"))

import httpx  # noqa: E402
import jobs_testkit as kit  # noqa: E402

from airflow_provider_stitch.emulator.harness import StitchEmulator  # noqa: E402

SIZES = (1, 10, 50, 200)
NAIVE_INTERVAL = 60.0


def tap_seconds(index: int) -> float:
    """Jobs end spread over about 40 minutes."""
    return 60.0 + (index * 131) % 2400


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def prepare(emulator: Any, count: int, run: str) -> tuple[kit.JobsEnv, list[int], dict[int, str], float]:
    emulator.control.reset()
    budget_path = os.path.join(tempfile.mkdtemp(prefix=f"stitch-bench-{run}-"), "budget.sqlite")
    name, value = kit.connection_uri_env(emulator, budget_path)
    os.environ[name] = value
    env = kit.JobsEnv(emulator, budget_path)
    sources = kit.make_sources(emulator, env.client, count)
    started = env.now()
    names = kit.start_jobs(emulator, env.client, sources, tap_seconds)
    return env, sources, names, started


async def _noticed_by_monitor(
    env: kit.JobsEnv, virtual: kit.VirtualTime, sources, names, started
) -> dict[str, float]:
    from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger

    noticed: dict[str, float] = {}

    async def wait(source_id: int) -> None:
        trigger = StitchExtractionTrigger(kit.CONN_ID, source_id, job_name=names[source_id], after=started)
        async for _event in trigger.run():
            noticed[names[source_id]] = virtual.now()

    tasks = [asyncio.create_task(wait(source_id)) for source_id in sources]
    await virtual.drive(tasks, real_timeout=600)
    return noticed


def run_monitor(emulator: Any, count: int) -> dict[str, float]:
    from airflow_provider_stitch.api.jobs import forget_monitors, monitor_for

    env, sources, names, started = prepare(emulator, count, "monitor")
    clock = emulator.runtime.clock
    virtual = kit.VirtualTime(clock.now, clock.advance)
    forget_monitors()
    monitor_for(emulator.base_url, emulator.client_id, env.client.jobs_budget, asleep=virtual.sleep)
    noticed = asyncio.run(_noticed_by_monitor(env, virtual, sources, names, started))
    return summarise(emulator, noticed, slot_seconds=0.0)


async def _noticed_by_naive(emulator: Any, virtual: kit.VirtualTime, sources, names) -> dict[str, float]:
    noticed: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {emulator.token}"}
    path = f"/v4/{emulator.client_id}/extractions"
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers) as http:

        async def wait(source_id: int) -> None:
            while True:
                page: str | None = path
                while page:
                    body = (await http.get(page)).json()
                    for row in body["data"]:
                        if row["source_id"] == source_id and row["job_name"] == names[source_id]:
                            noticed[names[source_id]] = virtual.now()
                            return
                    page = body.get("links", {}).get("next")
                await virtual.sleep(NAIVE_INTERVAL)

        tasks = [asyncio.create_task(wait(source_id)) for source_id in sources]
        await virtual.drive(tasks, real_timeout=600)
    return noticed


def run_naive(emulator: Any, count: int) -> dict[str, float]:
    _, sources, names, started = prepare(emulator, count, "naive")
    clock = emulator.runtime.clock
    virtual = kit.VirtualTime(clock.now, clock.advance)
    noticed = asyncio.run(_noticed_by_naive(emulator, virtual, sources, names))
    return summarise(emulator, noticed, slot_seconds=sum(when - started for when in noticed.values()))


def summarise(emulator: Any, noticed: dict[str, float], slot_seconds: float) -> dict[str, float]:
    ended = kit.completion_times(emulator)
    delays = [noticed[name] - ended[name] for name in noticed]
    return {
        "max_jobs_600s": kit.max_jobs_in_window(emulator),
        "median_delay": statistics.median(delays),
        "p95_delay": p95(delays),
        "slot_seconds": slot_seconds,
    }


def main() -> None:
    columns = ("max_jobs_600s", "median_delay", "p95_delay", "slot_seconds")
    print(
        f"{'N':>4} | {'waiter':<8} | {'max Jobs/600 s':>14} | {'median delay s':>14} | {'p95 delay s':>11} | {'worker-slot s':>13}"
    )
    print("-" * 80)
    with StitchEmulator(clock="manual") as emulator:
        kit.pin_budget_clock(emulator.runtime.clock.now)
        for count in SIZES:
            for label, runner in (("monitor", run_monitor), ("naive", run_naive)):
                figures = runner(emulator, count)
                cells = [figures[column] for column in columns]
                print(
                    f"{count:>4} | {label:<8} | {cells[0]:>14.0f} | {cells[1]:>14.1f} | {cells[2]:>11.1f} | {cells[3]:>13.0f}"
                )
    print(
        "Stitch allows 30 Jobs requests per 600 s per account; the monitor's waits hold no worker slot (deferred)."
    )


if __name__ == "__main__":
    main()
