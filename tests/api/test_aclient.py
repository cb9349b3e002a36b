"""AsyncStitchClient against respx stubs: same rules as the sync client."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx
from tenacity import wait_none

from airflow_provider_stitch.api.aclient import AsyncStitchClient
from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.errors import (
    StitchNotFoundError,
    StitchRateBudgetExhausted,
    StitchServerError,
    StitchTransportError,
)
from tests.api.stitch_api_testkit import BASE, CLIENT_ID, TOKEN


async def _no_sleep(seconds: float) -> None:
    return None


def make_client(limit: int = 30, **kwargs) -> AsyncStitchClient:
    budget = JobsBudget(CLIENT_ID, limit=limit, backend=InMemoryBudgetBackend())
    kwargs.setdefault("client_id", CLIENT_ID)
    return AsyncStitchClient(TOKEN, budget=budget, retry_wait=wait_none(), retry_sleep=_no_sleep, **kwargs)


def run(coro):
    return asyncio.run(coro)


@respx.mock
def test_reads_and_job_control():
    respx.get(f"{BASE}/v4/sources/1").respond(json={"id": 1, "stitch_client_id": CLIENT_ID})
    respx.get(f"{BASE}/v4/sources").respond(json=[{"id": 1, "display_name": "GitHub"}])
    respx.get(f"{BASE}/v4/sources/1/last-connection-check").respond(json={"status": "running"})
    respx.get(f"{BASE}/v4/sources/1/streams").respond(json=[{"stream_id": 9}])
    respx.post(f"{BASE}/v4/sources/1/sync").respond(json={"job_name": "116078.1.sync.a"})
    respx.delete(f"{BASE}/v4/sources/1/sync").respond(json={"status": 200})

    async def scenario():
        async with make_client() as client:
            return (
                await client.get_source(1),
                await client.find_source("GitHub"),
                await client.get_last_connection_check(1),
                await client.list_streams(1),
                await client.start_sync(1),
                await client.stop_sync(1),
            )

    source, found, check, streams, job, stopped = run(scenario())
    assert source.id == 1 and found.id == 1 and check.is_running
    assert streams[0].stream_id == 9 and job.job_name == "116078.1.sync.a" and stopped.status == 200
    request = respx.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["User-Agent"].startswith("airflow-provider-stitch/")


@respx.mock
def test_already_running_answer():
    respx.post(f"{BASE}/v4/sources/1/sync").respond(
        json={"error": {"type": "already_running", "message": "one already exists"}}
    )

    async def scenario():
        async with make_client() as client:
            return await client.start_sync(1)

    job = run(scenario())
    assert job.already_running and job.message == "one already exists"


@respx.mock
def test_pages_dedupe_and_pay_budget():
    path = f"/v4/{CLIENT_ID}/extractions"
    route = respx.get(BASE + path)
    route.side_effect = [
        httpx.Response(
            200, json={"data": [{"source_id": 1}, {"source_id": 2}], "links": {"next": f"{path}?page=2"}}
        ),
        httpx.Response(200, json={"data": [{"source_id": 2}, {"source_id": 3}], "links": {}}),
    ]
    client = make_client()

    async def scenario():
        async with client:
            return await client.list_extractions()

    rows = run(scenario())
    assert [r.source_id for r in rows] == [1, 2, 3]
    assert client._budget.used() == 2
    assert [str(c.request.url) for c in route.calls][1].endswith("?page=2")


@respx.mock
def test_loads_and_budget_exhaustion_sends_nothing():
    route = respx.get(f"{BASE}/v4/{CLIENT_ID}/loads").respond(
        json={"data": [{"source_name": "a", "stream_name": "s"}], "links": {}}
    )
    client = make_client(limit=1)

    async def scenario():
        async with client:
            first = await client.list_loads()
            with pytest.raises(StitchRateBudgetExhausted):
                await client.list_loads()
            return first

    assert run(scenario())[0].stream_name == "s"
    assert route.call_count == 1


@respx.mock
def test_retries_on_5xx_and_not_on_404():
    flaky = respx.get(f"{BASE}/v4/sources/1")
    flaky.side_effect = [httpx.Response(502, text="bad"), httpx.Response(200, json={"id": 1})]
    respx.get(f"{BASE}/v4/sources/2").respond(404, json={"status": "NOT FOUND"})
    respx.get(f"{BASE}/v4/sources/3").respond(500, text="down")
    client = make_client(max_attempts=3)

    async def scenario():
        async with client:
            assert (await client.get_source(1)).id == 1
            with pytest.raises(StitchNotFoundError):
                await client.get_source(2)
            with pytest.raises(StitchServerError, match="GET /v4/sources/3 -> 500: down"):
                await client.get_source(3)

    run(scenario())
    assert flaky.call_count == 2
    assert respx.calls.call_count == 2 + 1 + 3


@respx.mock
def test_connect_errors_become_transport_errors_without_the_token():
    respx.get(f"{BASE}/v4/sources").mock(side_effect=httpx.ConnectError(f"refused {TOKEN}"))

    async def scenario():
        async with make_client(max_attempts=2) as client:
            await client.list_sources()

    with pytest.raises(StitchTransportError) as caught:
        run(scenario())
    assert caught.value.request_sent is False and TOKEN not in str(caught.value)
    assert respx.calls.call_count == 2


@respx.mock
def test_logs_url_and_client_id_lookup():
    respx.get(f"{BASE}/v4/sources").respond(json=[{"id": 1, "stitch_client_id": CLIENT_ID}])
    respx.get(f"{BASE}/v4/{CLIENT_ID}/extractions/j1").respond(
        302, headers={"Location": "https://s3.example/l?sig=1"}
    )
    client = make_client(client_id=None)

    async def scenario():
        async with client:
            return await client.get_extraction_logs_url("j1"), await client.aclient_id()

    url, client_id = run(scenario())
    assert url == "https://s3.example/l?sig=1" and client_id == CLIENT_ID


def test_refuses_plain_http_to_remote_hosts():
    with pytest.raises(ValueError, match="plain http"):
        AsyncStitchClient(TOKEN, base_url="http://example.com")


def test_clients_share_one_verifying_tls_context():
    """Loading the CA bundle once per process keeps each trigger's client cheap; it still verifies."""
    import ssl

    from airflow_provider_stitch.api.aclient import require_certificate_verification, verified_tls_context

    async def contexts() -> list[ssl.SSLContext]:
        found = []
        for _ in range(2):
            async with AsyncStitchClient("ac_x", client_id=1) as client:
                require_certificate_verification(client._http)
                found.append(client._http._transport._pool._ssl_context)  # type: ignore[attr-defined]
        return found

    first, second = asyncio.run(contexts())
    assert first is second is verified_tls_context()
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
