"""The Redis budget backend against a real redis-server: atomic takes shared by two processes."""

from __future__ import annotations

import multiprocessing
import shutil
import socket
import subprocess
import time

import pytest

from airflow_provider_stitch.api import budget as budget_module
from airflow_provider_stitch.api.budget import DEFAULT_JOBS_WINDOW, JobsBudget
from airflow_provider_stitch.api.budget_redis import RedisBudgetBackend

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server binary is not installed")
T0 = 1_700_000_000.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url():
    port = free_port()
    server = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def take_many(url: str, prefix: str, times: list[float], barrier, results) -> None:
    """In a separate process: at each time, in step with the other process, try to take a token.

    The barrier keeps both processes on one clock, as hosts sharing a budget are: a process far ahead in
    time would prune tokens that the one behind still counts.
    """
    backend = RedisBudgetBackend(url, prefix=prefix)
    taken = []
    for when in times:
        barrier.wait(10)
        if backend.take("stitch-jobs:42", 30, 600.0, when) == 0.0:
            taken.append(when)
    results.put(taken)
    backend.close()


def test_two_processes_share_one_window_and_never_exceed_30(redis_url):
    prefix = f"test-{time.monotonic_ns()}:"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    # Both processes try 40 requests over the same 700 seconds: 80 attempts, at most 30 per 600 s window.
    schedule = [T0 + step * 17.5 for step in range(40)]
    workers = [
        context.Process(target=take_many, args=(redis_url, prefix, schedule, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    taken = sorted(results.get(timeout=30) + results.get(timeout=30))
    for worker in workers:
        worker.join(10)
    assert all(worker.exitcode == 0 for worker in workers)
    busiest = max(sum(1 for t in taken if start_ <= t < start_ + 600) for start_ in taken)
    assert busiest == 30
    assert len(taken) > 30  # the window slid: tokens freed after 600 s were taken again
    backend = RedisBudgetBackend(redis_url, prefix=prefix)
    assert backend.timestamps("stitch-jobs:42", 600.0, taken[-1]) == [t for t in taken if t > taken[-1] - 600]


def test_take_reports_the_wait_and_snapshots_round_trip(redis_url):
    backend = RedisBudgetBackend(redis_url, prefix=f"test-{time.monotonic_ns()}:")
    budget = JobsBudget(7, limit=2, backend=backend, clock=lambda: T0)
    assert budget.try_acquire() and budget.try_acquire() and not budget.try_acquire()
    assert budget.used() == 2
    assert budget.seconds_until_available() == pytest.approx(DEFAULT_JOBS_WINDOW)
    assert backend.take(budget.key, 2, 600.0, T0 + 100) == pytest.approx(500.0)
    assert backend.get_snapshot("missing") is None
    backend.put_snapshot("extractions", '{"rows": {}}', T0)
    assert backend.get_snapshot("extractions") == ('{"rows": {}}', T0)


def test_hook_module_finds_the_backend_lazily():
    assert budget_module.RedisBudgetBackend is RedisBudgetBackend
    with pytest.raises(ValueError, match="redis:// URL"):
        RedisBudgetBackend("")
