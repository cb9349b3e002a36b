"""Every request is bounded in size and time, whatever the server does; a wrong base URL says what is wrong.

Real sockets on 127.0.0.1: a server trickling its answer, one sending an endless chunked body, one that
accepts and never answers, and a port nothing listens on.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_stitch.api.aclient import AsyncStitchClient
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.deadlines import stitch_deadline
from airflow_provider_stitch.api.errors import (
    StitchDeadlineExceeded,
    StitchError,
    StitchResponseTooLarge,
    StitchTransportError,
)
from tests.security.hostile_servers import EndlessServer, TricklingServer, closed_port

TOKEN = "ac_bounds-canary-51c0"
#: Slack allowed on top of a bound: a loaded 2-core CI box.
SLACK = 2.5


class SilentListener:
    """Accepts connections and never answers (keeps them open)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                continue
            self.accepted.append(connection)

    def __enter__(self) -> SilentListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentListener]:
    with SilentListener() as server:
        yield server


def _timed(call: Any) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except BaseException as error:  # noqa: BLE001 - the test inspects whatever ended the call
        return time.monotonic() - started, error
    return time.monotonic() - started, None


def _async(client_factory: Any, method: str) -> Any:
    async def run() -> None:
        async with client_factory() as client:
            await getattr(client, method)()

    return lambda: asyncio.run(run())


# ------------------------------------------------------------------------------ total time per request


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_trickling_server_cannot_hold_a_sync_request_past_its_timeout(in_headers: bool) -> None:
    with TricklingServer(0.2, in_headers=in_headers) as server:
        client = StitchClient(TOKEN, base_url=server.base_url, client_id=1, timeout=2, max_attempts=1)
        elapsed, error = _timed(client.list_sources)
        client.close()
    assert isinstance(error, StitchTransportError)
    assert str(error) == f"GET /v4/sources: no complete answer from {server.base_url} within 2 s"
    assert elapsed < 2 + SLACK


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_trickling_server_cannot_hold_an_async_request_past_its_timeout(in_headers: bool) -> None:
    with TricklingServer(0.2, in_headers=in_headers) as server:
        factory = lambda: AsyncStitchClient(  # noqa: E731
            TOKEN, base_url=server.base_url, client_id=1, timeout=2, max_attempts=1
        )
        elapsed, error = _timed(_async(factory, "list_sources"))
    assert isinstance(error, StitchTransportError)
    assert str(error) == f"GET /v4/sources: no complete answer from {server.base_url} within 2 s"
    assert elapsed < 2 + SLACK


# ------------------------------------------------------------------------------ size cap


def test_an_endless_body_stops_at_the_size_cap_in_the_sync_client() -> None:
    with EndlessServer() as server:
        client = StitchClient(
            TOKEN, base_url=server.base_url, client_id=1, max_attempts=3, max_response_bytes=2_000_000
        )
        elapsed, error = _timed(client.list_sources)
        client.close()
    assert isinstance(error, StitchResponseTooLarge)
    assert str(error) == (
        "GET /v4/sources: the answer is longer than 2000000 bytes (max_response_bytes); it was not read further"
    )
    assert len(server.requests) == 1, "a too-large answer is not asked for again"
    assert elapsed < SLACK * 2


def test_an_endless_body_stops_at_the_size_cap_in_the_async_client() -> None:
    with EndlessServer() as server:
        factory = lambda: AsyncStitchClient(  # noqa: E731
            TOKEN, base_url=server.base_url, client_id=1, max_attempts=3, max_response_bytes=2_000_000
        )
        elapsed, error = _timed(_async(factory, "list_sources"))
    assert isinstance(error, StitchResponseTooLarge)
    assert "longer than 2000000 bytes" in str(error)
    assert len(server.requests) == 1
    assert elapsed < SLACK * 2


def test_the_size_cap_has_a_sane_default_and_refuses_nonsense() -> None:
    client = StitchClient(TOKEN, client_id=1)
    assert client.options.max_response_bytes == 32 * 1024 * 1024
    with pytest.raises(ValueError, match="max_response_bytes must be a positive number, not 0"):
        StitchClient(TOKEN, max_response_bytes=0)


# ------------------------------------------------------------------------------ task deadlines


def test_a_task_deadline_ends_the_sync_retries_within_the_deadline(silent: SilentListener) -> None:
    """Defaults of 30 s x 5 attempts would take minutes; a 3 s deadline ends it in about 3 s."""
    client = StitchClient(TOKEN, base_url=silent.base_url, client_id=1)

    def call() -> None:
        with stitch_deadline(3):
            client.list_sources()

    elapsed, error = _timed(call)
    client.close()
    assert isinstance(error, StitchDeadlineExceeded)
    assert str(error) == (
        "GET /v4/sources: the task's deadline of 3 s passed before Stitch answered "
        f"(last attempt: no complete answer from {silent.base_url} within 3 s)"
    )
    assert elapsed < 3 + SLACK
    assert elapsed > 2.5


def test_a_task_deadline_ends_the_async_retries_within_the_deadline(silent: SilentListener) -> None:
    async def run() -> None:
        async with AsyncStitchClient(TOKEN, base_url=silent.base_url, client_id=1) as client:
            with stitch_deadline(3):
                await client.list_sources()

    elapsed, error = _timed(lambda: asyncio.run(run()))
    assert isinstance(error, StitchDeadlineExceeded)
    assert str(error).startswith("GET /v4/sources: the task's deadline of 3 s passed before Stitch answered")
    assert elapsed < 3 + SLACK
    assert elapsed > 2.5


def test_a_request_after_the_deadline_is_not_sent(silent: SilentListener) -> None:
    client = StitchClient(TOKEN, base_url=silent.base_url, client_id=1)
    with stitch_deadline(0), pytest.raises(StitchDeadlineExceeded) as caught:
        client.list_sources()
    client.close()
    assert str(caught.value) == "GET /v4/sources: the task's deadline of 0 s passed before Stitch answered"
    assert silent.accepted == []


def test_the_nearer_of_two_deadlines_wins(silent: SilentListener) -> None:
    client = StitchClient(TOKEN, base_url=silent.base_url, client_id=1)

    def call() -> None:
        with stitch_deadline(2), stitch_deadline(60):
            client.list_sources()

    elapsed, error = _timed(call)
    client.close()
    assert isinstance(error, StitchError)
    assert elapsed < 2 + SLACK


# ------------------------------------------------------------------------------ wrong base URL


def test_a_refused_connection_names_host_port_and_cause_and_is_not_retried() -> None:
    port = closed_port()
    client = StitchClient(TOKEN, base_url=f"http://127.0.0.1:{port}", client_id=1)  # default 5 attempts
    elapsed, error = _timed(client.list_sources)
    client.close()
    assert isinstance(error, StitchTransportError)
    assert str(error) == (
        f"GET /v4/sources: could not talk to Stitch at http://127.0.0.1:{port}: "
        "connection refused (nothing listens there)"
    )
    assert error.permanent is True
    assert elapsed < 1.0


def test_a_refused_connection_fails_fast_in_the_async_client_too() -> None:
    port = closed_port()
    factory = lambda: AsyncStitchClient(TOKEN, base_url=f"http://127.0.0.1:{port}", client_id=1)  # noqa: E731
    elapsed, error = _timed(_async(factory, "list_sources"))
    assert isinstance(error, StitchTransportError)
    assert str(error) == (
        f"GET /v4/sources: could not talk to Stitch at http://127.0.0.1:{port}: "
        "connection refused (nothing listens there)"
    )
    assert elapsed < 1.0


def test_a_silent_host_is_reported_as_timed_out(silent: SilentListener) -> None:
    client = StitchClient(TOKEN, base_url=silent.base_url, client_id=1, timeout=0.5, max_attempts=1)
    _, error = _timed(client.list_sources)
    client.close()
    assert str(error) == f"GET /v4/sources: no complete answer from {silent.base_url} within 0.5 s"


def test_the_connection_test_names_a_wrong_base_url_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_stitch.hooks.stitch import StitchHook

    port = closed_port()
    monkeypatch.setenv(
        "AIRFLOW_CONN_STITCH_NOWHERE",
        f'{{"conn_type": "stitch", "host": "http://127.0.0.1:{port}", "password": "{TOKEN}", '
        '"extra": {"budget_backend": "memory"}}',
    )
    started = time.monotonic()
    ok, message = StitchHook("stitch_nowhere").test_connection()
    assert time.monotonic() - started < 5.0
    assert ok is False
    assert message == (
        f"Stitch connection failed: GET /v4/sources: could not talk to Stitch at http://127.0.0.1:{port}: "
        "connection refused (nothing listens there)"
    )


def test_a_task_deadline_bounds_the_wait_for_a_jobs_budget_token(silent: SilentListener) -> None:
    from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
    from airflow_provider_stitch.api.errors import StitchRateBudgetExhausted

    budget = JobsBudget(1, limit=1, window=600, backend=InMemoryBudgetBackend())
    budget.acquire(0)
    client = StitchClient(TOKEN, base_url=silent.base_url, client_id=1, budget=budget, budget_max_wait=600)

    def call() -> None:
        with stitch_deadline(2):
            client.list_extractions()

    elapsed, error = _timed(call)
    client.close()
    assert isinstance(error, StitchRateBudgetExhausted)
    assert elapsed < 2 + SLACK
    assert silent.accepted == []
