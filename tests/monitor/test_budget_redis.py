"""The Redis budget backend against a real redis-server: atomic takes shared by two processes."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from airflow_provider_stitch.api.budget import DEFAULT_JOBS_WINDOW, JobsBudget
from airflow_provider_stitch.api.budget_redis import RedisBudgetBackend
from tests.testkit.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server binary is not installed")
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def redis_url():
    with RedisServer() as server:
        yield server.url


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


def test_a_redis_store_needs_a_redis_url():
    with pytest.raises(ValueError, match="redis:// URL"):
        RedisBudgetBackend("")


def fresh_backend(redis_url: str) -> RedisBudgetBackend:
    return RedisBudgetBackend(redis_url, prefix=f"test-{time.monotonic_ns()}:")


def server_time(backend: RedisBudgetBackend) -> float:
    seconds, micros = backend._redis.time()
    return float(seconds) + float(micros) / 1e6


def test_the_timeline_is_the_servers_time_whatever_this_process_clock_says(redis_url, monkeypatch):
    backend = fresh_backend(redis_url)
    budget = JobsBudget(7, limit=2, window=600.0, backend=backend)
    monkeypatch.setattr(time, "time", lambda: 0.0)  # this process's wall clock is far off
    assert budget.try_acquire() and budget.try_acquire() and not budget.try_acquire()
    (first, second) = backend.timestamps(budget.key, 600.0)
    assert first == pytest.approx(server_time(backend), abs=5.0)
    assert backend.now() == pytest.approx(server_time(backend), abs=1.0)
    assert budget.seconds_until_available() == pytest.approx(600.0, abs=5.0)


def test_tokens_scored_in_the_future_count_as_taken_now(redis_url):
    backend = fresh_backend(redis_url)
    key = "stitch-jobs:9"
    ahead = server_time(backend) + 3600.0
    backend._redis.zadd(backend._key(key), {f"foreign-{i}": ahead + i for i in range(30)})
    wait = backend.take(key, 30, 610.0)
    assert 0 < wait <= 610.0
    assert max(backend.timestamps(key, 610.0)) <= server_time(backend) + 1.0


def test_announcements_are_members_that_expire_on_the_server_clock(redis_url):
    backend = fresh_backend(redis_url)
    for i in range(50):
        backend.announce("w", f"owner:{i}", 900.0)
    backend.withdraw("w", "owner:3")
    assert len(backend.announced("w")) == 49
    assert backend._redis.zcard(backend._key("announced:w")) == 49
    later = server_time(backend) + 901.0
    assert backend.announced("w", now=later) == set()
    assert backend._redis.zcard(backend._key("announced:w")) == 0


def test_an_announcement_stamped_an_hour_ahead_lapses_within_its_ttl(redis_url):
    backend = fresh_backend(redis_url)
    now = server_time(backend)
    backend.announce("w", "foreign:5", 900.0, now=now + 3600.0)
    assert backend.announced("w") == {"foreign:5"}
    assert backend.announced("w", now=now + 901.0) == set()
