"""Every malformed 2xx answer becomes the package's own error naming the request, in both clients.

A loopback server answers every path with the same malformed body; each client method must end with
:class:`StitchMalformedResponseError` whose message starts with the method and path — never a raw pydantic
``ValidationError``, ``RecursionError``, ``TypeError`` or ``ValueError``, and never an empty result read as
"nothing exists".
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_stitch.api.aclient import AsyncStitchClient
from airflow_provider_stitch.api.budget import InMemoryBudgetBackend
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.errors import StitchMalformedResponseError
from tests.security.hostile_servers import HostileServer

TOKEN = "ac_malformed-canary-93d1"
DEEP = 100_000

#: name -> body bytes; each is a 200 answer no endpoint returns.
MALFORMED_BODIES: dict[str, bytes] = {
    "html": b"<html><body><h1>Service temporarily unavailable</h1></body></html>",
    "empty": b"",
    "whitespace": b"   \n",
    "null": b"null",
    "a string": b'"ok"',
    "a number": b"42",
    "true": b"true",
    "truncated JSON": b'[{"id": 1, "display_name": "x"',
    "deeply nested arrays": b"[" * DEEP + b"]" * DEEP,
    "deeply nested objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
}
#: Bodies whose top level has the right kind (array or object) but wrong contents.
WRONG_SHAPES: dict[str, Any] = {
    "nulls in an array": [None, None],
    "strings for numbers": [{"id": "twelve", "source_id": "twelve", "stream_id": "x", "token_id": "x"}],
    "digits that int() refuses": [{"id": "²", "source_id": "²", "stream_id": "²", "token_id": "²"}],
    "arrays for objects": [[1, 2]],
    "an object for an array": {"id": "twelve", "source_id": "twelve", "data": "rows", "post_load": "none"},
}

SYNC_CALLS: dict[str, Callable[[StitchClient], Any]] = {
    "GET /v4/sources": lambda c: c.list_sources(),
    "GET /v4/sources/7": lambda c: c.get_source(7),
    "GET /v4/destinations": lambda c: c.list_destinations(),
    "GET /v4/sources/7/streams": lambda c: c.list_streams(7),
    "GET /v4/sources/7/streams/8": lambda c: c.get_stream_schema(7, 8),
    "GET /v4/source-types": lambda c: c.list_source_types(),
    "GET /v4/sources/7/last-connection-check": lambda c: c.get_last_connection_check(7),
    "GET /v4/sources/7/tokens": lambda c: c.list_import_tokens(7),
    "GET /v4/1/extractions": lambda c: c.list_extractions(),
    "GET /v4/1/loads": lambda c: c.list_loads(),
    "POST /v4/sources/7/sync": lambda c: c.start_sync(7),
    "GET /notifications/public/v1/api/custom-emails": lambda c: c.list_custom_emails(),
    "GET /notifications/public/v1/api/hooks": lambda c: c.list_post_load_hooks(),
}
ASYNC_CALLS: dict[str, Callable[[AsyncStitchClient], Any]] = {
    "GET /v4/sources": lambda c: c.list_sources(),
    "GET /v4/sources/7": lambda c: c.get_source(7),
    "GET /v4/destinations": lambda c: c.list_destinations(),
    "GET /v4/sources/7/streams": lambda c: c.list_streams(7),
    "GET /v4/sources/7/last-connection-check": lambda c: c.get_last_connection_check(7),
    "GET /v4/1/extractions": lambda c: c.list_extractions(),
    "GET /v4/1/loads": lambda c: c.list_loads(),
    "POST /v4/sources/7/sync": lambda c: c.start_sync(7),
}


class SameAnswerServer(HostileServer):
    """Answers every request 200 with one body."""

    def __init__(self) -> None:
        self.body = b""
        super().__init__()

    def handle(self, connection: socket.socket, request: bytes) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(self.body)}\r\n\r\n"
        )
        connection.sendall(head.encode() + self.body)


@pytest.fixture(scope="module")
def server() -> Iterator[SameAnswerServer]:
    with SameAnswerServer() as running:
        yield running


def _all_bodies() -> list[tuple[str, bytes]]:
    shapes = [(name, json.dumps(value).encode()) for name, value in WRONG_SHAPES.items()]
    return [*MALFORMED_BODIES.items(), *shapes]


#: (request, body) pairs that are valid answers after all: the model has only optional fields, so an
#: object of unknown fields is one (kept as extras), and rows whose fields it does not type stay rows.
LENIENT = {
    ("POST /v4/sources/7/sync", "an object for an array"),
    ("GET /v4/sources/7/streams/8", "an object for an array"),
    ("GET /v4/sources/7/last-connection-check", "an object for an array"),
    ("GET /v4/source-types", "strings for numbers"),
    ("GET /v4/source-types", "digits that int() refuses"),
    ("GET /v4/1/loads", "strings for numbers"),
    ("GET /v4/1/loads", "digits that int() refuses"),
}


def _is_lenient(request: str, body_name: str) -> bool:
    return (request, body_name) in LENIENT


def _options(server: SameAnswerServer) -> dict[str, Any]:
    """A fresh budget per client, so the Jobs calls of the matrix never wait for one another."""
    return {
        "base_url": server.base_url,
        "client_id": 1,
        "max_attempts": 1,
        "validate": False,
        "budget_backend": InMemoryBudgetBackend(),
    }


@pytest.mark.parametrize(("body_name", "body"), _all_bodies(), ids=[n for n, _ in _all_bodies()])
@pytest.mark.parametrize("request_line", list(SYNC_CALLS), ids=list(SYNC_CALLS))
def test_the_sync_client_names_the_request_for_every_malformed_answer(
    server: SameAnswerServer, request_line: str, body_name: str, body: bytes
) -> None:
    server.body = body
    client = StitchClient(TOKEN, **_options(server))
    try:
        if _is_lenient(request_line, body_name):
            SYNC_CALLS[request_line](client)
            return
        with pytest.raises(StitchMalformedResponseError) as caught:
            SYNC_CALLS[request_line](client)
    finally:
        client.close()
    assert str(caught.value).startswith(f"{request_line}: unreadable answer: ")
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(("body_name", "body"), _all_bodies(), ids=[n for n, _ in _all_bodies()])
@pytest.mark.parametrize("request_line", list(ASYNC_CALLS), ids=list(ASYNC_CALLS))
def test_the_async_client_names_the_request_for_every_malformed_answer(
    server: SameAnswerServer, request_line: str, body_name: str, body: bytes
) -> None:
    server.body = body

    async def call() -> None:
        async with AsyncStitchClient(TOKEN, **_options(server)) as client:
            await ASYNC_CALLS[request_line](client)

    if _is_lenient(request_line, body_name):
        asyncio.run(call())
        return
    with pytest.raises(StitchMalformedResponseError) as caught:
        asyncio.run(call())
    assert str(caught.value).startswith(f"{request_line}: unreadable answer: ")


def test_an_empty_destination_list_answer_is_not_read_as_none_exist(server: SameAnswerServer) -> None:
    """The race of issue 12: a 200 with an empty body on GET /v4/destinations made a second destination."""
    server.body = b""
    with (
        StitchClient(TOKEN, **_options(server)) as client,
        pytest.raises(StitchMalformedResponseError, match="^GET /v4/destinations: unreadable answer: "),
    ):
        client.find_destination("Warehouse")


def test_the_error_names_the_bad_fields_without_quoting_values(server: SameAnswerServer) -> None:
    server.body = json.dumps([{"id": "twelve-SECRET-VALUE", "display_name": "x"}]).encode()
    with (
        StitchClient(TOKEN, **_options(server)) as client,
        pytest.raises(StitchMalformedResponseError) as caught,
    ):
        client.list_sources()
    assert str(caught.value) == (
        "GET /v4/sources: unreadable answer: item 0 is not a valid Source (bad fields: id)"
    )


def test_a_malformed_jobs_row_names_the_page_and_row(server: SameAnswerServer) -> None:
    server.body = json.dumps({"data": [{"source_id": 5}, {"source_id": "five"}], "links": {}}).encode()
    with (
        StitchClient(TOKEN, **_options(server)) as client,
        pytest.raises(StitchMalformedResponseError) as caught,
    ):
        client.list_extractions()
    assert str(caught.value) == (
        "GET /v4/1/extractions: unreadable answer: row 1 is not a valid Extraction (bad fields: source_id)"
    )


def test_html_is_named_as_html(server: SameAnswerServer) -> None:
    server.body = MALFORMED_BODIES["html"]
    with (
        StitchClient(TOKEN, **_options(server)) as client,
        pytest.raises(StitchMalformedResponseError) as caught,
    ):
        client.list_sources()
    assert str(caught.value) == "GET /v4/sources: unreadable answer: the body is HTML (66 characters)"


@pytest.mark.parametrize("body", [b"", b"<html></html>", b'{"data": "rows"}', b"[null]"])
def test_a_raw_jobs_page_for_the_monitor_is_checked_naming_the_request(
    server: SameAnswerServer, body: bytes
) -> None:
    server.body = body
    with (
        StitchClient(TOKEN, **_options(server)) as client,
        pytest.raises(StitchMalformedResponseError, match="^GET /v4/1/loads\\?page=2: unreadable answer: "),
    ):
        client.get_jobs_page("list_loads", 2)

    async def call() -> None:
        async with AsyncStitchClient(TOKEN, **_options(server)) as client:
            await client.get_jobs_page("list_extractions", 1)

    with pytest.raises(StitchMalformedResponseError, match="^GET /v4/1/extractions: unreadable answer: "):
        asyncio.run(call())
