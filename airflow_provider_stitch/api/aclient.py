"""AsyncStitchClient: the asynchronous Stitch Connect API client (httpx), for triggers."""

from __future__ import annotations

import asyncio
import functools
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from http.cookiejar import DefaultCookiePolicy
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying

from airflow_provider_stitch.api.async_transport import exchange
from airflow_provider_stitch.api.base import (
    Answer,
    ClientCore,
    parse_many,
    parse_one,
    parse_page,
    pick_source,
    read_sync_answer,
    redirect_target,
)
from airflow_provider_stitch.api.budget import JobsBudget
from airflow_provider_stitch.api.endpoints import ENDPOINTS, Endpoint
from airflow_provider_stitch.api.errors import StitchError
from airflow_provider_stitch.api.lanes import JOBS_SLOTS, OTHER_SLOTS, loop_lanes
from airflow_provider_stitch.api.models import (
    ConnectionCheck,
    Destination,
    Extraction,
    Load,
    Source,
    StatusResponse,
    Stream,
    SyncJob,
)
from airflow_provider_stitch.api.options import ClientOptions
from airflow_provider_stitch.api.pagination import RowDeduplicator, extraction_key, load_key, passed_source_id
from airflow_provider_stitch.api.responses import parse_rows
from airflow_provider_stitch.api.transport import MAX_PAGES

Row = TypeVar("Row", Extraction, Load)


def require_certificate_verification(http_client: httpx.AsyncClient) -> None:
    """Refuse an injected ``httpx.AsyncClient`` whose HTTP transports skip TLS certificate checks.

    The sync client forces ``verify=True`` on every request; httpx fixes verification per client, so a
    client built with ``verify=False`` would otherwise send the token to any certificate without a word.
    Transports that are not httpx's network transport (test doubles such as ``MockTransport``) are accepted.

    :raises ValueError: when a transport does not verify certificates or host names.
    """
    transports = [getattr(http_client, "_transport", None), *getattr(http_client, "_mounts", {}).values()]
    for transport in transports:
        if not isinstance(transport, httpx.AsyncHTTPTransport):
            continue
        context = getattr(getattr(transport, "_pool", None), "_ssl_context", None)
        if context is None or context.verify_mode == ssl.CERT_NONE or not context.check_hostname:
            raise ValueError(
                "the http_client given to AsyncStitchClient does not verify TLS certificates; "
                "the Stitch token is only sent over verified TLS, so build it with verify=True "
                "(or a CA bundle / ssl.SSLContext that verifies)"
            )


@functools.cache
def verified_tls_context() -> ssl.SSLContext:
    """One certificate-verifying TLS context per process: loading the CA bundle costs tens of ms, and
    every trigger builds its own client."""
    return httpx.create_ssl_context()


#: Connections the shared HTTP client of one event loop keeps open at most (to all Stitch hosts together);
#: its requests take a slot of :mod:`.lanes` first, and the lanes hold fewer slots, so none waits in the pool.
SHARED_MAX_CONNECTIONS = 100
_SHARED_HTTP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)
_SHARED_HTTP_LOCK = threading.Lock()
_CLOSERS: set[asyncio.Task[None]] = set()


def shared_http_client() -> httpx.AsyncClient:
    """The running event loop's HTTP client, shared by every AsyncStitchClient built without one.

    Thousands of triggers in one triggerer then share one connection pool (and one TLS context) instead
    of building and keeping a client each. It verifies certificates, follows no redirects and keeps no
    cookies; each request carries its own headers, so nothing of one connection reaches another.
    """
    loop = asyncio.get_running_loop()
    with _SHARED_HTTP_LOCK:
        http = _SHARED_HTTP.get(loop)
        if http is not None and not http.is_closed:
            return http
        _forget_closed_loops()
        http = _SHARED_HTTP[loop] = httpx.AsyncClient(
            verify=verified_tls_context(),
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=SHARED_MAX_CONNECTIONS, max_keepalive_connections=JOBS_SLOTS + OTHER_SLOTS
            ),
        )
        # It serves many connections and tokens: it keeps no cookie of any answer.
        http.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    closer = loop.create_task(_close_at_loop_end(http), name="stitch shared HTTP client")
    _CLOSERS.add(closer)
    closer.add_done_callback(_CLOSERS.discard)
    return http


def _forget_closed_loops() -> None:
    """Drop what loops closed without shutting their tasks down (``run_until_complete``) left behind."""
    for closed in [loop for loop in _SHARED_HTTP if loop.is_closed()]:
        del _SHARED_HTTP[closed]
    for closer in [task for task in _CLOSERS if task.get_loop().is_closed()]:
        _CLOSERS.discard(closer)


async def _close_at_loop_end(http: httpx.AsyncClient) -> None:
    """Hold the shared client open until the loop shuts down (``asyncio.run`` cancels this), then close it."""
    try:
        await asyncio.get_running_loop().create_future()
    finally:
        await http.aclose()


class AsyncStitchClient(ClientCore):
    """Asynchronous client of the Stitch Connect API; use as ``async with AsyncStitchClient(...) as c``.

    :param token: Stitch API access token.
    :param options: the client's settings; or give them as keyword arguments named as the fields of
        :class:`~airflow_provider_stitch.api.options.ClientOptions` (``base_url``, ``timeout``...).
    :param http_client: an ``httpx.AsyncClient`` to reuse (it must verify TLS certificates).
    :param retry_sleep: coroutine function that sleeps between attempts.
    """

    def __init__(
        self,
        token: str | None,
        options: ClientOptions | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        retry_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **settings: Any,
    ) -> None:
        super().__init__(token, ClientOptions.build(options, settings))
        if http_client is not None:
            require_certificate_verification(http_client)
        else:
            verified_tls_context()  # loads the CA bundle here (a worker thread), not on the event loop
        self._given_http = http_client
        self._retry_sleep = retry_sleep
        self._client_id_lock: asyncio.Lock | None = None

    @property
    def _http(self) -> httpx.AsyncClient:
        """The HTTP client: the one given, else the running event loop's shared one."""
        return self._given_http if self._given_http is not None else shared_http_client()

    async def aclose(self) -> None:
        """Nothing to release: a given HTTP client belongs to its caller, the shared one to the event loop."""

    async def __aenter__(self) -> AsyncStitchClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ plumbing

    async def _call(
        self,
        endpoint: Endpoint,
        *,
        path: str | None = None,
        json_body: Any = None,
        **path_params: Any,
    ) -> Answer:
        """Send one logical request with retries; return the answer."""
        request_path = self._request_path(endpoint, path, path_params)
        retrying = AsyncRetrying(**self._retry_policy(endpoint, False), sleep=self._retry_sleep)
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(
                        endpoint, request_path, json_body, attempt.retry_state.attempt_number
                    )
        except StitchError as error:
            final = self._final_error(endpoint, request_path, error)
            if final is error:
                raise
            raise final from error
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    async def _attempt(self, endpoint: Endpoint, path: str, json_body: Any, number: int) -> Answer:
        """One HTTP exchange within the request's time limit; a Jobs request pays its budget token first.

        On the shared HTTP client the request first waits for a slot of its lane (:mod:`.lanes`), bounded by
        the task's deadline only; its time limit starts once it holds the slot.
        """
        self._time_limit(endpoint, path)
        if endpoint.is_jobs:
            budget = await self.ajobs_budget()
            await budget.aacquire(self._budget_wait())
        if self._given_http is not None:
            return await self._exchange(endpoint, path, json_body, number, self._given_http)
        async with loop_lanes().slot(jobs=endpoint.is_jobs, what=f"{endpoint.method} {path}"):
            return await self._exchange(endpoint, path, json_body, number, shared_http_client())

    async def _exchange(
        self, endpoint: Endpoint, path: str, json_body: Any, number: int, http: httpx.AsyncClient
    ) -> Answer:
        """Send the attempt and read its answer, timed from now."""
        started = time.monotonic()
        try:
            raw = await exchange(
                http,
                endpoint.method,
                self.base_url + path,
                path=path,
                origin=self.options.api_root.origin,
                headers=self._headers(endpoint),
                json_body=json_body,
                seconds=self._time_limit(endpoint, path),
                max_bytes=self.options.max_response_bytes,
            )
        except Exception as error:
            self._log_attempt(endpoint.method, path, type(error).__name__, number, started)
            raise
        self._log_attempt(endpoint.method, path, raw.status, number, started)
        return self._read(raw, endpoint, path, self.secrets)

    async def aclient_id(self) -> int:
        """The Stitch client id; read once from the account's sources or destinations when not given."""
        if self._client_id is not None:
            return self._client_id
        if self._client_id_lock is None:
            self._client_id_lock = asyncio.Lock()
        async with self._client_id_lock:
            if self._client_id is None:
                for lister in (self.list_sources, self.list_destinations):
                    items: list[Source] | list[Destination] = await lister()
                    found = next((i.stitch_client_id for i in items if i.stitch_client_id), None)
                    if found:
                        self._client_id = int(found)
                        break
                else:
                    raise self._missing_client_id()
            return self._client_id

    async def ajobs_budget(self) -> JobsBudget:
        """The budget every Jobs request (each page, each retry) pays from."""
        return self._budget_for(await self.aclient_id())

    # ------------------------------------------------------------------ reads and job control

    async def list_sources(self) -> list[Source]:
        """All sources of the account."""
        return parse_many(Source, await self._call(ENDPOINTS["list_sources"]))

    async def list_destinations(self) -> list[Destination]:
        """All destinations of the account."""
        return parse_many(Destination, await self._call(ENDPOINTS["list_destinations"]))

    async def get_source(self, source_id: int) -> Source:
        """One source."""
        return parse_one(Source, await self._call(ENDPOINTS["get_source"], source_id=source_id))

    async def find_source(self, display_name: str, *, include_deleted: bool = False) -> Source | None:
        """The source with this display name, or None."""
        return pick_source(await self.list_sources(), display_name, include_deleted=include_deleted)

    async def get_last_connection_check(self, source_id: int) -> ConnectionCheck:
        """Latest connection check of a source."""
        payload = await self._call(ENDPOINTS["get_source_last_connection_check"], source_id=source_id)
        return parse_one(ConnectionCheck, payload)

    async def list_streams(self, source_id: int) -> list[Stream]:
        """Streams discovered in a source."""
        return parse_many(Stream, await self._call(ENDPOINTS["list_streams"], source_id=source_id))

    async def start_sync(self, source_id: int, *, raise_if_running: bool = False) -> SyncJob:
        """Start a replication job; ``already_running=True`` when one is in progress."""
        endpoint = ENDPOINTS["start_sync"]
        return read_sync_answer(await self._call(endpoint, source_id=source_id), raise_if_running)

    async def stop_sync(self, source_id: int) -> StatusResponse:
        """Stop the running replication job of a source."""
        answer = await self._call(ENDPOINTS["stop_sync"], source_id=source_id)
        return parse_one(StatusResponse, answer) if answer.payload is not None else StatusResponse()

    # ------------------------------------------------------------------ jobs (rate limited)

    async def _iter_pages(self, endpoint: Endpoint, model: type[Row]) -> AsyncIterator[list[Row]]:
        """The rows of each page as models, following ``links.next``; every page pays a budget token."""
        path = endpoint.path(stitch_client_id=await self.aclient_id())
        visited = {path}
        for _ in range(MAX_PAGES):
            answer = await self._call(endpoint, path=path)
            page = parse_page(answer)
            yield parse_rows(model, answer, page.data)
            if page.next_path is None:
                return
            path = self._next_page_path(answer, page.next_path)
            if path in visited:
                return
            visited.add(path)

    async def get_jobs_page(self, endpoint_name: str, page: int = 1) -> Any:
        """One raw page (``{data, page, total, links}``), its envelope checked; pays one budget token.

        :param endpoint_name: ``list_extractions`` or ``list_loads``.
        :param page: page number, from 1.
        """
        endpoint = ENDPOINTS[endpoint_name]
        client_id = await self.aclient_id()
        answer = await self._call(endpoint, path=endpoint.page_path(page, stitch_client_id=client_id))
        parse_page(answer)
        return answer.payload

    async def iter_extraction_pages(
        self, *, stop_after_source_id: int | None = None
    ) -> AsyncIterator[list[Extraction]]:
        """Extractions page by page, rows already seen dropped; stops after ``stop_after_source_id``'s page."""
        seen = RowDeduplicator(extraction_key)
        async for rows in self._iter_pages(ENDPOINTS["list_extractions"], Extraction):
            yield seen.new_rows(rows)
            if passed_source_id(rows, stop_after_source_id):
                return

    async def list_extractions(self, *, stop_after_source_id: int | None = None) -> list[Extraction]:
        """The latest completed extraction of each source, all pages."""
        found: list[Extraction] = []
        async for page in self.iter_extraction_pages(stop_after_source_id=stop_after_source_id):
            found.extend(page)
        return found

    async def list_loads(self, *, stop_when: Callable[[list[Load]], bool] | None = None) -> list[Load]:
        """The latest load of each stream, all pages or until ``stop_when(page_rows)`` is true."""
        seen = RowDeduplicator(load_key)
        found: list[Load] = []
        async for rows in self._iter_pages(ENDPOINTS["list_loads"], Load):
            found.extend(seen.new_rows(rows))
            if stop_when is not None and stop_when(rows):
                break
        return found

    async def get_extraction_logs_url(self, job_name: str) -> str:
        """The pre-signed log URL of an extraction job (the 302 ``Location``; not followed)."""
        endpoint = ENDPOINTS["get_extraction_logs"]
        answer = await self._call(endpoint, stitch_client_id=await self.aclient_id(), job_name=job_name)
        return redirect_target(answer)


__all__ = ["AsyncStitchClient"]
