"""What thousands of triggers of one triggerer share instead of building each: the HTTP client of the event
loop, the import of the client and monitor (done off the loop), the budget's use in their story lines."""

from __future__ import annotations

import asyncio
import threading

import httpx

from airflow_provider_stitch.api.aclient import AsyncStitchClient, shared_http_client
from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.jobs.progress import RecentBudgetUse, describe_budget
from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.hooks.stitch import StitchHook
from tests.testkit.triggers import connect_default, run_probe


def test_async_clients_of_one_event_loop_share_one_http_client_and_closing_one_keeps_it_open():
    async def scenario() -> tuple[bool, bool, bool]:
        first = AsyncStitchClient("ac_first", client_id=1)
        second = AsyncStitchClient(
            "ac_second", client_id=2, base_url="https://api.eu-central-1.stitchdata.com"
        )
        shared = first._http is second._http is shared_http_client()
        await first.aclose()
        return shared, first._http.is_closed, second._http is shared_http_client()

    assert asyncio.run(scenario()) == (True, False, True)


def test_each_event_loop_has_its_own_shared_client_closed_when_the_loop_ends():
    async def one_loop() -> httpx.AsyncClient:
        return AsyncStitchClient("ac_x", client_id=1)._http

    first, second = asyncio.run(one_loop()), asyncio.run(one_loop())
    assert first is not second
    assert first.is_closed and second.is_closed, "asyncio.run's shutdown closes the loop's shared client"


def test_the_shared_http_client_keeps_no_cookie_of_any_answer():
    """One client serves many connections: a cookie set for one token must never ride on another's request."""

    async def scenario() -> int:
        http = shared_http_client()
        request = httpx.Request("GET", "https://api.stitchdata.com/v4/sources")
        answer = httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"}, request=request)
        http.cookies.extract_cookies(answer)
        return len(http.cookies)

    assert asyncio.run(scenario()) == 0


def test_an_injected_http_client_is_used_and_left_open_for_its_owner():
    async def scenario() -> tuple[bool, bool]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as http:
            client = AsyncStitchClient("ac_x", client_id=1, http_client=http)
            used = client._http is http
            await client.aclose()
            return used, http.is_closed

    assert asyncio.run(scenario()) == (True, False)


def test_a_thousand_trigger_clients_share_one_http_client_one_store_and_requests_work(monkeypatch, tmp_path):
    with StitchEmulator(client_id=7) as emulator:
        connect_default(monkeypatch, emulator, tmp_path / "b.sqlite")

        async def scenario() -> tuple[set[int], set[int], list[int]]:
            clients = await asyncio.gather(*(StitchHook().aget_client() for _ in range(1000)))
            http = {id(client._http) for client in clients}
            stores = {id((await client.ajobs_budget()).backend) for client in clients}
            listed = [len(await client.list_sources()) for client in clients[:20]]
            for client in clients:
                await client.aclose()
            return http, stores, listed

        http, stores, listed = asyncio.run(scenario())
    assert len(http) == 1, "every trigger's client of one loop sends through the loop's one HTTP client"
    assert len(stores) == 1
    assert listed == [0] * 20


IMPORT_PROBE = r"""
import asyncio, sys, threading

seen = {}

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in ("httpx", "airflow_provider_stitch.api.aclient", "airflow_provider_stitch.hooks.stitch"):
            seen.setdefault(name, threading.current_thread().name)
        return None

import airflow_provider_stitch.triggers.replication as replication
assert "airflow_provider_stitch.api.aclient" not in sys.modules, "the trigger module imports the client"
sys.meta_path.insert(0, Spy())

async def main():
    ticks = 0
    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1
    tick = asyncio.create_task(ticker())
    await replication.load_wait_modules()
    tick.cancel()
    return ticks

ticks = asyncio.run(main())
print(sorted(seen.items()))
print("main" if any(t == threading.main_thread().name for t in seen.values()) else "worker")
"""


def test_the_first_trigger_imports_the_client_and_hook_in_a_worker_thread():
    seen, where = run_probe(IMPORT_PROBE)[-2:]
    assert "airflow_provider_stitch.api.aclient" in seen and "airflow_provider_stitch.hooks.stitch" in seen
    assert where == "worker", f"imported on the event loop's thread: {seen}"


HERD_PROBE = r"""
import asyncio

import airflow_provider_stitch.triggers.replication as replication

async def main():
    done = []
    async def start(index):
        await replication.load_wait_modules()
        done.append(index)
    tasks = [asyncio.create_task(start(i)) for i in range(300)]
    per_iteration = []
    while len(done) < 300:
        before = len(done)
        await asyncio.sleep(0)
        per_iteration.append(len(done) - before)
    await asyncio.gather(*tasks)
    return max(per_iteration)

print(asyncio.run(main()))
"""


def test_triggers_that_start_during_the_first_import_go_on_one_per_loop_iteration():
    """300 triggers queued behind the first import do not all resume in one loop iteration."""
    assert int(run_probe(HERD_PROBE)[-1]) <= 2


def test_story_lines_on_the_loop_read_the_budget_once_in_a_worker_thread_for_many_waits():
    backend = InMemoryBudgetBackend()
    budget = JobsBudget(3, backend=backend)
    budget.try_acquire()
    reads: list[str] = []
    real_used = budget.used

    def counted_used(now=None):  # noqa: ANN001, ANN202
        reads.append(threading.current_thread().name)
        return real_used(now)

    budget.used = counted_used  # type: ignore[method-assign]
    use = RecentBudgetUse(lambda: budget, max_age=60.0)
    before = describe_budget(use)

    async def many_waits() -> None:
        await asyncio.gather(*(use.afresh() for _ in range(500)))
        await use.afresh()

    asyncio.run(many_waits())
    assert before == "Jobs budget 30 requests per 10 min 10 s", "never read: the line tells the limit only"
    assert describe_budget(use) == "Jobs requests in the last 10 min 10 s: 1 of 30"
    assert len(reads) == 1 and reads[0] != threading.main_thread().name


def test_a_budget_store_that_cannot_be_read_leaves_the_story_line_with_the_limit():
    class Broken:
        limit, window = 30, 610.0

        def used(self) -> int:
            raise OSError("the store is away")

    use = RecentBudgetUse(lambda: Broken(), max_age=0.0)
    asyncio.run(use.afresh())
    assert describe_budget(use) == "Jobs budget 30 requests per 10 min 10 s"


def test_triggers_of_one_connection_share_its_client_and_a_changed_connection_gets_a_new_one(
    monkeypatch, tmp_path
):
    with StitchEmulator(client_id=7) as emulator:
        connect_default(monkeypatch, emulator, tmp_path / "b.sqlite")

        async def scenario() -> tuple[bool, bool, bool, str]:
            first, second = StitchHook().aget_client(), StitchHook().aget_client()
            a, b = await first, await second
            slower = await StitchHook(timeout=5.0).aget_client()
            connect_default(monkeypatch, emulator, tmp_path / "b.sqlite", token="a-rotated-token")
            rotated = await StitchHook().aget_client()
            return a is b, slower is not a, rotated is not a, rotated._token

        same, other_settings, other_token, token = asyncio.run(scenario())
    assert same, "two triggers of one connection share its client"
    assert other_settings and other_token and token == "a-rotated-token"
