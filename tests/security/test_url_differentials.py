"""One URL parser decides and connects: URLs that two parsers read differently are refused everywhere.

A local listener (the "trap") stands in for a foreign host; each URL is built so that at least one parser
reads the trap's port in it while the old check read a loopback API host. Whatever the sync client, the
async client, the hook and the connection test do with it, the trap never receives the token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_stitch.api.aclient import AsyncStitchClient
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.errors import StitchMalformedResponseError
from airflow_provider_stitch.api.urls import UnsafeURLError
from tests.security.hostile_servers import ScriptedServer, TokenTrap, json_reply

TOKEN = "ac_differential-canary-7f3a9c"
H = "127.0.0.1"

#: (name, template); {T} is the trap's port, {A} the API listener's port.
DIFFERENTIAL_URLS = [
    ("backslash before @", "http://{H}:{T}\\@{H}:{A}"),
    ("two backslashes before @", "http://{H}:{T}\\\\@{H}:{A}/"),
    ("backslash before @ and IPv6 brackets", "http://{H}:{T}\\@[::1]:{A}"),
    ("upper-case scheme and backslash", "HTTP://{H}:{T}\\@{H}:{A}"),
    ("tab before @", "http://{H}:{T}\t@{H}:{A}"),
    ("newline before @", "http://{H}:{T}\n@{H}:{A}"),
    ("CR LF before @", "http://{H}:{T}\r\n@{H}:{A}"),
    ("space before @", "http://{H}:{T} @{H}:{A}"),
    ("NUL before @", "http://{H}:{T}\x00@{H}:{A}"),
    ("user info naming the API host", "http://{H}:{A}@{H}:{T}"),
    ("user info with a password", "http://stitch:secret@{H}:{T}"),
    ("fragment hiding an @", "http://{H}:{T}#@{H}:{A}"),
    ("query hiding an @", "http://{H}:{T}?@{H}:{A}"),
    ("percent-encoded host", "http://%31%32%37.0.0.1:{T}"),
    ("percent-encoded host behind a backslash", "http://{H}:{T}\\@%31%32%37.0.0.1:{A}"),
    ("trailing dot", "http://localhost.:{T}"),
    ("short IPv4 form", "http://127.1:{T}"),
    ("hex IPv4 form", "http://0x7f000001:{T}"),
    ("full-width @", "http://{H}:{T}\uff20{H}:{A}"),
    ("IPv6 zone", "http://[::1%25lo]:{T}"),
]


@pytest.fixture
def trap() -> Iterator[TokenTrap]:
    with TokenTrap() as server:
        yield server


@pytest.fixture
def api() -> Iterator[TokenTrap]:
    with TokenTrap() as server:
        yield server


def _url(template: str, trap: TokenTrap, api: TokenTrap) -> str:
    return template.format(H=H, T=trap.port, A=api.port)


@pytest.mark.parametrize(("name", "template"), DIFFERENTIAL_URLS, ids=[n for n, _ in DIFFERENTIAL_URLS])
def test_both_clients_refuse_the_url_and_the_trap_gets_no_token(
    name: str, template: str, trap: TokenTrap, api: TokenTrap
) -> None:
    url = _url(template, trap, api)
    with pytest.raises(UnsafeURLError, match="^the Stitch base URL was refused: ") as sync_refusal:
        StitchClient(TOKEN, base_url=url, client_id=1, max_attempts=1, timeout=2).list_sources()

    async def use_async_client() -> None:
        async with AsyncStitchClient(TOKEN, base_url=url, client_id=1, max_attempts=1, timeout=2) as client:
            await client.list_sources()

    with pytest.raises(UnsafeURLError, match="^the Stitch base URL was refused: ") as async_refusal:
        asyncio.run(use_async_client())

    assert sync_refusal.value.problems == async_refusal.value.problems
    assert TOKEN.encode() not in trap.received()
    assert trap.requests == []


@pytest.mark.parametrize(("name", "template"), DIFFERENTIAL_URLS, ids=[n for n, _ in DIFFERENTIAL_URLS])
def test_the_hook_and_its_connection_test_refuse_the_url(
    name: str, template: str, trap: TokenTrap, api: TokenTrap, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_stitch.hooks.stitch import StitchHook

    url = _url(template, trap, api)
    connection = {
        "conn_type": "stitch",
        "host": url,
        "password": TOKEN,
        "extra": {"stitch_client_id": 1, "budget_backend": "memory", "emulator_speed": 10},
    }
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_DIFFERENTIAL", json.dumps(connection))
    hook = StitchHook("stitch_differential", max_attempts=1, timeout=2)

    ok, message = hook.test_connection()

    assert ok is False
    assert message.startswith("Stitch connection failed: the Stitch base URL was refused: ")
    assert TOKEN not in message
    with pytest.raises(UnsafeURLError):
        hook.get_client()
    assert trap.requests == []


def test_the_differential_list_covers_the_issue_minimum() -> None:
    assert len(DIFFERENTIAL_URLS) >= 15


def test_an_unambiguous_loopback_url_still_reaches_the_api_only(trap: TokenTrap, api: TokenTrap) -> None:
    with StitchClient(TOKEN, base_url=f"HTTP://{H}:{api.port}/", client_id=1, max_attempts=1) as client:
        assert client.list_sources() == []
    assert TOKEN.encode() in api.received()
    assert trap.requests == []


# ------------------------------------------------------------------------------- links Stitch returns

NEXT_LINKS = [
    ("backslash before @", "http://{H}:{T}\\@{H}:{A}/v4/1/extractions?page=2"),
    ("scheme-relative to another port", "//{H}:{T}/v4/1/extractions?page=2"),
    ("absolute to another port", "http://{H}:{T}/v4/1/extractions?page=2"),
    ("user info", "http://x@{H}:{T}/v4/1/extractions?page=2"),
    ("tab inside", "/v4/1/extractions?page=2\t@{H}:{T}"),
    ("absolute with another scheme", "https://{H}:{A}/v4/1/extractions?page=2"),
]


@pytest.mark.parametrize(("name", "template"), NEXT_LINKS, ids=[n for n, _ in NEXT_LINKS])
def test_a_next_link_off_the_api_host_is_refused_by_both_clients(
    name: str, template: str, trap: TokenTrap
) -> None:
    page: dict[str, Any] = {"data": [], "page": 1, "total": 200, "links": {}}
    with ScriptedServer({}) as api:
        page["links"]["next"] = template.format(H=H, T=trap.port, A=api.port)
        api.routes["/v4/1/extractions"] = json_reply(page)
        with (
            StitchClient(TOKEN, base_url=api.base_url, client_id=1, max_attempts=1) as client,
            pytest.raises(StitchMalformedResponseError, match="pagination link was refused") as sync_error,
        ):
            client.list_extractions()

        async def walk() -> None:
            async with AsyncStitchClient(TOKEN, base_url=api.base_url, client_id=1, max_attempts=1) as client:
                await client.list_extractions()

        with pytest.raises(StitchMalformedResponseError, match="pagination link was refused"):
            asyncio.run(walk())

    assert str(sync_error.value).startswith("GET /v4/1/extractions: unreadable answer: ")
    assert trap.requests == []


# ------------------------------------------------------------------------------- log redirects


def test_the_log_host_gets_the_download_but_never_the_token(trap: TokenTrap) -> None:
    logs_path = "/v4/1/extractions/job-1"
    with ScriptedServer({}) as api:
        api.routes[logs_path] = (302, {"Location": f"http://{H}:{trap.port}/signed/log.txt?sig=abc"}, b"")
        with StitchClient(TOKEN, base_url=api.base_url, client_id=1, max_attempts=1) as client:
            assert client.fetch_extraction_logs("job-1") == "[]"
    assert len(trap.requests) == 1
    assert trap.requests[0].startswith(b"GET /signed/log.txt?sig=abc HTTP/1.1")
    assert TOKEN.encode() not in trap.received()
    assert b"authorization" not in trap.received().lower()


@pytest.mark.parametrize(
    "location",
    [
        "http://{H}:{T}\\@{H}:{A}/log",
        "http://user@{H}:{T}/log",
        "http://{H}:{T}/log#x",
        "http://10.9.8.7/log",
    ],
)
def test_an_ambiguous_or_insecure_log_url_is_refused(location: str, trap: TokenTrap) -> None:
    logs_path = "/v4/1/extractions/job-1"
    with ScriptedServer({}) as api:
        target = location.format(H=H, T=trap.port, A=api.port)
        api.routes[logs_path] = (302, {"Location": target}, b"")
        with (
            StitchClient(TOKEN, base_url=api.base_url, client_id=1, max_attempts=1) as client,
            pytest.raises(StitchMalformedResponseError, match="log URL was refused"),
        ):
            client.fetch_extraction_logs("job-1")
    assert trap.requests == []
