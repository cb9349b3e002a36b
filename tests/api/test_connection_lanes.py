"""Thousands of requests through one event loop's shared client (issue 17): a request's time limit runs
from when it holds a connection slot, Jobs requests have their own lane, and the task deadline bounds the
wait for a slot. Real HTTP against a slow server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from tenacity import wait_none

from airflow_provider_stitch.api.aclient import AsyncStitchClient
from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.deadlines import stitch_deadline
from airflow_provider_stitch.api.errors import StitchDeadlineExceeded
from tests.api.stitch_api_testkit import CLIENT_ID, TOKEN

#: How long the server holds each answer.
DELAY = 0.1
#: Each request's own time limit: a few answers' time, far less than the crowd needs through the pool.
TIMEOUT = 0.4
CROWD = 200
#: Connections of the shared client in these tests: the crowd needs 10 rounds of answers (1 s) through them.
POOL = 20


@pytest.fixture(autouse=True)
def small_pool(monkeypatch):
    from airflow_provider_stitch.api import aclient

    monkeypatch.setattr(aclient, "SHARED_MAX_CONNECTIONS", POOL)


class SlowServer:
    """A keep-alive HTTP/1.1 server that answers every request after :data:`DELAY` seconds."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.served: list[str] = []

    async def __aenter__(self) -> SlowServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                await asyncio.sleep(DELAY)
                self.served.append(path)
                body = json.dumps(self._answer(path)).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    def _answer(path: str) -> object:
        if "/extractions" in path:
            return {"data": [], "page": 1, "total": 0, "links": {"next": None}}
        source_id = int(path.rstrip("/").rsplit("/", 1)[-1])
        return {"id": source_id, "name": f"shop_{source_id}", "stitch_client_id": CLIENT_ID}


def _client(base_url: str) -> AsyncStitchClient:
    budget = JobsBudget(CLIENT_ID, limit=30, backend=InMemoryBudgetBackend())
    return AsyncStitchClient(
        TOKEN,
        base_url=base_url,
        client_id=CLIENT_ID,
        budget=budget,
        timeout=TIMEOUT,
        max_attempts=1,
        retry_wait=wait_none(),
        validate=False,
    )


async def _crowd(client: AsyncStitchClient, done: list[int]) -> list[object]:
    async def one(source_id: int) -> object:
        try:
            return (await client.get_source(source_id)).id
        finally:
            done.append(source_id)

    return await asyncio.gather(*(one(n) for n in range(1, CROWD + 1)), return_exceptions=True)


def test_queued_requests_are_not_timed_out_while_they_wait_for_a_connection():
    async def main() -> list[object]:
        async with SlowServer() as server:
            return await _crowd(_client(server.base_url), [])

    results = asyncio.run(main())
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == [], f"{len(failures)} of {CROWD} failed, first: {failures[0]}"
    assert results == list(range(1, CROWD + 1))


def test_a_jobs_request_behind_a_crowd_of_reads_goes_first():
    async def main() -> tuple[int, object]:
        async with SlowServer() as server:
            client = _client(server.base_url)
            done: list[int] = []
            crowd = asyncio.ensure_future(_crowd(client, done))
            await asyncio.sleep(0)  # every read of the crowd has asked for its connection
            page = await client.get_jobs_page("list_extractions", 1)
            reads_before = len(done)
            await crowd
            return reads_before, page

    reads_before, page = asyncio.run(main())
    assert page == {"data": [], "page": 1, "total": 0, "links": {"next": None}}
    assert reads_before < 50, f"{reads_before} of {CROWD} reads were answered before the Jobs page"


def test_the_task_deadline_bounds_the_wait_for_a_slot():
    async def main() -> tuple[list[object], float]:
        async with SlowServer() as server:
            client = _client(server.base_url)
            started = time.monotonic()
            with stitch_deadline(0.5):
                results = await _crowd(client, [])
            return results, time.monotonic() - started

    results, took = asyncio.run(main())
    answered = [r for r in results if isinstance(r, int)]
    cut_short = [r for r in results if isinstance(r, StitchDeadlineExceeded)]
    assert len(answered) + len(cut_short) == CROWD, [r for r in results if not isinstance(r, int)][:3]
    assert answered and cut_short
    assert "the task's deadline of 0.5 s passed before Stitch answered" in str(cut_short[-1])
    assert "still waiting for a connection slot" in str(cut_short[-1])
    assert took < 3.0


@pytest.mark.parametrize("jobs", [False, True])
def test_a_cancelled_waiter_gives_its_slot_back(jobs):
    from airflow_provider_stitch.api.lanes import Lanes

    async def main() -> tuple[int, int]:
        lanes = Lanes(jobs=1, other=1)
        lane = lanes.jobs if jobs else lanes.other
        holder_in = asyncio.Event()
        release = asyncio.Event()

        async def hold() -> None:
            async with lanes.slot(jobs=jobs, what="GET /a"):
                holder_in.set()
                await release.wait()

        holder = asyncio.ensure_future(hold())
        await holder_in.wait()
        waiter = asyncio.ensure_future(lane.acquire(None))
        await asyncio.sleep(0)
        assert lane.waiting == 1
        release.set()
        await asyncio.sleep(0)  # the slot is handed to the waiter, which is cancelled before it runs
        waiter.cancel()
        await asyncio.gather(holder, waiter, return_exceptions=True)
        return lane.busy, lane.waiting

    assert asyncio.run(main()) == (0, 0)


def test_slots_are_handed_out_in_order_of_arrival_and_a_timed_out_waiter_is_skipped():
    from airflow_provider_stitch.api.lanes import Lane

    async def main() -> tuple[list[str], bool]:
        lane = Lane(1)
        assert await lane.acquire(None)
        order: list[str] = []

        async def wait(name: str, timeout: float | None) -> bool:
            held = await lane.acquire(timeout)
            order.append(name if held else f"{name} gave up")
            if held:
                lane.release()
            return held

        waiters = [
            asyncio.ensure_future(wait("first", None)),
            asyncio.ensure_future(wait("impatient", 0.01)),
            asyncio.ensure_future(wait("second", None)),
        ]
        await asyncio.sleep(0.05)
        lane.release()
        await asyncio.gather(*waiters)
        return order, lane.busy == 0 and lane.waiting == 0

    order, idle = asyncio.run(main())
    assert order == ["impatient gave up", "first", "second"]
    assert idle
