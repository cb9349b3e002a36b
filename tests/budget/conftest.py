"""Fixtures of the budget-store tests: a sped-up emulator child process and a private redis-server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from airflow_provider_stitch.api.budget import forget_shared_backends
from airflow_provider_stitch.emulator.harness import EmulatorProcess
from tests.budget.fast_emulator import FAST_SPEED

REDIS_SERVER = shutil.which("redis-server")


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server of our own on a free loopback port (stopped by its PID afterwards)."""
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not installed; the Redis budget tests need it")
    port = _free_port()
    server = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(autouse=True)
def fresh_shared_backends() -> Iterator[None]:
    """Each test opens its own stores."""
    forget_shared_backends()
    yield
    forget_shared_backends()
