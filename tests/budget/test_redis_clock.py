"""The Redis budget store's clock: estimated until the server first answers, never held up by a hung server.

A real redis-server on loopback; "hung" is the server process stopped with SIGSTOP (the kernel still accepts
connections, nothing answers), "down" is no server on the port.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator

import pytest

from airflow_provider_stitch.api import budget_redis
from airflow_provider_stitch.api.budget_redis import RedisBudgetBackend
from tests.testkit.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server binary is not installed")

PASSWORD = "s3cret-clock-pass"
#: Seconds one clock reading may take on a loaded box (a read that waits for a hung server takes 10 s).
QUICK = 5.0


def server_time(server: RedisServer) -> float:
    import redis

    client = redis.Redis.from_url(server.url)
    try:
        seconds, micros = client.time()
        return float(seconds) + float(micros) / 1e6
    finally:
        client.close()


@pytest.fixture
def server() -> Iterator[RedisServer]:
    redis_server = RedisServer(password=PASSWORD)
    try:
        yield redis_server
    finally:
        redis_server.stop()


def test_a_hung_server_never_holds_up_a_clock_reading(server, monkeypatch):
    server.start()
    backend = RedisBudgetBackend(server.url, prefix="clock-hung:")
    assert server.process is not None
    try:
        before = backend.now()
        monkeypatch.setattr(budget_redis, "TIME_REFRESH", 0.0)  # every reading wants a fresh TIME
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            readings, slowest = [], 0.0
            for _ in range(20):
                started = time.monotonic()
                readings.append(backend.now())
                slowest = max(slowest, time.monotonic() - started)
                time.sleep(0.01)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert slowest < QUICK, f"a clock reading took {slowest:.1f} s while the server hung"
        assert readings == sorted(readings) and readings[0] >= before
        assert not backend.clock_estimated
        assert backend.now() == pytest.approx(server_time(server), abs=1.0)
    finally:
        backend.close()


def test_the_clock_is_this_hosts_until_the_server_first_answers_then_the_servers(server, caplog):
    backend = RedisBudgetBackend(server.url, prefix="clock-first:")
    try:
        with caplog.at_level(logging.INFO, logger="airflow_provider_stitch.budget"):
            estimate = backend.now()
            assert backend.clock_estimated
            assert estimate == pytest.approx(time.time(), abs=1.0)
            server.start()
            give_up = time.monotonic() + 10
            while backend.clock_estimated and time.monotonic() < give_up:
                backend.now()
                time.sleep(0.05)
        assert not backend.clock_estimated, "the server's clock never replaced the estimate"
        assert backend.now() == pytest.approx(server_time(server), abs=1.0)
        messages = [r.getMessage() for r in caplog.records]
        location = f"redis://127.0.0.1:{server.port}/0"
        estimated = [m for m in messages if "has not answered yet" in m]
        replaced = [m for m in messages if "replaces this host's" in m]
        assert len(estimated) == 1 and location in estimated[0], messages
        assert len(replaced) == 1 and location in replaced[0], messages
        assert not [m for m in messages if PASSWORD in m]
    finally:
        backend.close()
