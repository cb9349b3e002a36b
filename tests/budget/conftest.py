"""Fixtures of the budget-store tests: a sped-up emulator child process and a private redis-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_stitch.api.budget_stores import forget_shared_backends
from airflow_provider_stitch.emulator.harness import EmulatorProcess
from tests.budget.fast_emulator import FAST_SPEED
from tests.testkit.redis_server import REDIS_SERVER, RedisServer


@pytest.fixture(scope="session")
def fast_emulator(tmp_path_factory) -> Iterator[EmulatorProcess]:
    """The emulator as a child process (its clock is not this process's), at :data:`FAST_SPEED`."""
    with EmulatorProcess(tmp_path_factory.mktemp("fast-emulator"), speed=FAST_SPEED) as emulator:
        yield emulator


@pytest.fixture
def emulator(fast_emulator) -> EmulatorProcess:
    """The fast emulator with its counters reset."""
    control = fast_emulator.control()
    try:
        control.reset()
    finally:
        control.close()
    return fast_emulator


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server of our own on a free loopback port (stopped by its PID afterwards)."""
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not installed; the Redis budget tests need it")
    with RedisServer() as server:
        yield server.url


@pytest.fixture(autouse=True)
def fresh_shared_backends() -> Iterator[None]:
    """Each test opens its own stores."""
    forget_shared_backends()
    yield
    forget_shared_backends()
