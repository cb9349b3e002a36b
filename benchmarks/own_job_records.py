"""What remembering a task's started job costs: store time per record call, SQLite and Redis.

Every waiting start writes one record after the start and deletes it at its outcome; a later try reads it
once (plus, when it finds one, at most one Jobs page read in the monitor's turn, which this does not time).
Run from the repository root: ``python -m benchmarks.own_job_records`` (Redis is skipped without
redis-server).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from airflow_provider_stitch.api.budget import BudgetBackend, JobsBudget
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.jobs.own_jobs import OwnJob, OwnJobRecords, TaskIdentity
from tests.testkit.redis_server import REDIS_SERVER, RedisServer

#: Record cycles (remember, recall, forget) timed per store.
CYCLES = 2000


def _median_microseconds(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e6:7.0f} µs"


def _timed(samples: list[float], call: Callable[..., object], *arguments: object) -> None:
    began = time.perf_counter()
    call(*arguments)
    samples.append(time.perf_counter() - began)


def measure(name: str, backend: BudgetBackend) -> None:
    """Print the median time of each record call on one store.

    :param name: the store, for the table.
    :param backend: the store.
    """
    records = OwnJobRecords(JobsBudget(116078, backend=backend))
    times: dict[str, list[float]] = {"remember": [], "recall": [], "forget": []}
    for number in range(CYCLES):
        task = TaskIdentity("stitch_sync", f"scheduled__{number}", "start_sync", number % 50)
        job = OwnJob(42, f"116078.42.sync.{number:08x}-d3a1-11f1-8000-000000000001", None, True, 1)
        _timed(times["remember"], records.remember, task, job)
        _timed(times["recall"], records.recall, task, 42)
        _timed(times["forget"], records.forget, task, 42)
    print(f"{name:8} " + "  ".join(f"{call} {_median_microseconds(t)}" for call, t in times.items()))


def main() -> None:
    """Measure the SQLite store, then Redis when it is installed."""
    print(f"own-job records: median time per call over {CYCLES} cycles")
    with tempfile.TemporaryDirectory() as directory:
        measure("sqlite", SQLiteBudgetBackend(Path(directory) / "budget.sqlite"))
    if REDIS_SERVER is None:
        print("redis    skipped: redis-server is not installed")
        return
    from airflow_provider_stitch.api.budget_redis import RedisBudgetBackend

    with RedisServer() as server:
        backend = RedisBudgetBackend(server.url)
        try:
            measure("redis", backend)
        finally:
            backend.close()


if __name__ == "__main__":
    main()
