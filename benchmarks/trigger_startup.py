"""Print what starting many triggers costs the event loop, and what registering waiters costs the store.

* Trigger start-up: N concurrent ``StitchHook().aget_client()`` calls in one asyncio loop (connection from
  the environment, SQLite budget store, the emulator on loopback) while a 10 ms ticker measures the worst
  event-loop stall. Measured twice: with the heap as it is (the interpreter's full garbage collections of
  Airflow's whole heap pause every thread) and with the pre-existing heap frozen (``gc.freeze()``), which
  isolates what the provider adds.
* Waiter registry: N waiters registered then unregistered in a SQLite and a memory store, total seconds
  and the store's rows after.

Usage: ``python benchmarks/trigger_startup.py [--starts 1000 5000] [--waiters 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.jobs import EXTRACTIONS
from airflow_provider_stitch.api.jobs.watchers import WaiterRegistry
from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.hooks.stitch import StitchHook


async def _starts(count: int) -> tuple[float, float]:
    """Worst loop stall and total seconds while ``count`` async clients are built at once."""
    loop = asyncio.get_running_loop()
    delays: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            started = loop.time()
            await asyncio.sleep(0.01)
            delays.append(loop.time() - started - 0.01)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    clients = await asyncio.gather(*(StitchHook().aget_client() for _ in range(count)))
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    for client in clients:
        await client.aclose()
    return max(delays), elapsed


def trigger_startup(counts: list[int]) -> None:
    with StitchEmulator(client_id=7) as emulator, tempfile.TemporaryDirectory() as folder:
        os.environ["AIRFLOW_CONN_STITCH_DEFAULT"] = json.dumps(
            {
                "conn_type": "stitch",
                "password": emulator.token,
                "host": emulator.base_url,
                "extra": {"stitch_client_id": 7, "budget_location": str(Path(folder) / "budget.sqlite")},
            }
        )
        asyncio.run(_starts(10))  # warm imports and the one-time speed probe
        for count in counts:
            stall, elapsed = asyncio.run(_starts(count))
            gc.collect()
            gc.freeze()
            try:
                frozen_stall, frozen_elapsed = asyncio.run(_starts(count))
            finally:
                gc.unfreeze()
            print(
                f"trigger starts N={count}: worst loop stall {stall * 1000:.0f} ms "
                f"({frozen_stall * 1000:.0f} ms with the existing heap frozen); "
                f"all built in {elapsed:.1f} s ({frozen_elapsed:.1f} s)"
            )


def waiter_registry(count: int) -> None:
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--waiters", type=int, default=2000)
    args = parser.parse_args()
    trigger_startup(args.starts)
    waiter_registry(args.waiters)


if __name__ == "__main__":
    main()
