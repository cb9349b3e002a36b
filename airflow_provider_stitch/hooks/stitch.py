"""StitchHook: turns an Airflow connection into Stitch API clients sharing one Jobs budget.

The synchronous client (``requests``, ``urllib3``) loads at the first :meth:`StitchHook.get_client`, not with
this module: a triggerer's triggers use only the async client, and a DAG file importing the hook pays nothing
for a client it does not build.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import secrets
import sys
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from time import monotonic
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_stitch.api.budget import JobsBudget, jobs_window_for
from airflow_provider_stitch.api.errors import StitchError, StitchUnauthorizedError
from airflow_provider_stitch.api.settings import (
    BUDGET_BACKENDS,
    DEFAULT_BUDGET_BACKEND,
    BudgetSettings,
    StitchSettingsError,
    default_budget_path,
)
from airflow_provider_stitch.api.urls import DEFAULT_BASE_URL, check_base_url, check_url
from airflow_provider_stitch.defaults import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_provider_stitch.api.aclient import AsyncStitchClient
    from airflow_provider_stitch.api.client import StitchClient

__all__ = [
    "BUDGET_BACKENDS",
    "CONNECTION_RECHECK_SECONDS",
    "DEFAULT_BUDGET_BACKEND",
    "StitchHook",
    "connection_fingerprint",
    "default_budget_path",
]

logger = logging.getLogger("airflow_provider_stitch.hooks")

#: Seconds a hook reuses its client before it reads the connection again, so a task that runs for hours
#: (a sensor in poke mode) follows a changed connection within five minutes. Reading it is Airflow's
#: connection lookup (secrets backends, masking): about 1 ms, more than the rest of a poke, so a sensor
#: poking every minute reads it at every fifth poke, not at each.
CONNECTION_RECHECK_SECONDS = 300.0
#: Key of :func:`connection_fingerprint`: random per process, so a digest never stands for a token elsewhere.
_FINGERPRINT_KEY = secrets.token_bytes(16)


def __getattr__(name: str) -> Any:
    """``StitchClient``, imported at first use (see the module description)."""
    if name != "StitchClient":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from airflow_provider_stitch.api.client import StitchClient

    globals()["StitchClient"] = StitchClient
    return StitchClient


def _sync_client_class() -> type[StitchClient]:
    """The synchronous client class, looked up on this module so a test may replace it."""
    module = sys.modules[__name__]
    return module.StitchClient  # type: ignore[no-any-return]


def connection_fingerprint(conn: Any) -> str:
    """A keyed digest of every connection field a client is built from; it keeps and shows no credential.

    :param conn: the Airflow connection.
    """
    fields = [conn.conn_type, conn.host, conn.port, conn.login, conn.password, conn.schema, conn.extra]
    text = json.dumps(fields, default=str, sort_keys=True).encode("utf-8")
    return hashlib.blake2b(text, key=_FINGERPRINT_KEY, digest_size=16).hexdigest()


@functools.cache
def _client_builder() -> ThreadPoolExecutor:
    """The one thread that builds async clients: a single builder keeps the event loop's share of the GIL."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="stitch-client-builder")


#: Async clients one event loop keeps for its triggers (one per connection and hook settings); the least
#: recently used goes first, and with it what it held of a connection since changed.
ASYNC_CLIENTS_PER_LOOP = 64
_ASYNC_CLIENTS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, OrderedDict[tuple[str, Any], AsyncStitchClient]
] = weakref.WeakKeyDictionary()
_ASYNC_CLIENTS_LOCK = threading.Lock()

#: Connection lookups one event loop runs at once; the rest queue, so one loop turn never runs thousands.
LOOKUPS_AT_ONCE = 8
_LOOKUP_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _lookup_gate() -> asyncio.Semaphore:
    """This event loop's gate for connection lookups (Airflow's lookup does its work on the loop)."""
    loop = asyncio.get_running_loop()
    gate = _LOOKUP_GATES.get(loop)
    if gate is None:
        gate = _LOOKUP_GATES[loop] = asyncio.Semaphore(LOOKUPS_AT_ONCE)
    return gate


@functools.lru_cache(maxsize=256)
def _loopback(base_url: str) -> bool:
    return check_base_url(base_url).is_loopback


def _budget_settings(extras: dict[str, Any], base_url: str) -> BudgetSettings:
    """The budget settings of a connection's extras for its (checked) base URL."""
    return BudgetSettings.from_extras(extras, loopback=_loopback(base_url))


class StitchHook(BaseHook):
    """Interact with the Stitch Connect API through an Airflow connection.

    The connection's password is the API access token; ``host`` may override the base URL (e.g. an
    emulator at ``http://127.0.0.1:8765``). Extras: ``stitch_client_id``, ``partner_id``,
    ``partner_secret``, ``jobs_budget`` (requests per 10 minutes, at most 30), ``budget_backend``
    (``memory``, ``sqlite`` or ``redis``), ``budget_location`` (SQLite path or Redis URL) and
    ``emulator_speed`` (optional: a loopback emulator reports its own speed and the budget counts its
    faster window from that; a configured speed the emulator does not confirm is refused). A hook
    reuses its client (HTTP session, budget store, parsed settings) and reads the connection again at
    most every :data:`CONNECTION_RECHECK_SECONDS`; a changed connection gets a new client, so a sensor
    poking for hours and a long-running triggerer follow it.

    :param stitch_conn_id: connection id.
    :param timeout: seconds per request.
    :param max_attempts: attempts per request, the first included.
    :param budget_max_wait: seconds a Jobs request may wait for the budget.
    :param validate: check connection properties with the connector catalog before sending.
    """

    conn_name_attr = "stitch_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "stitch"
    hook_name = "Stitch"
    #: Seconds the client is reused before the connection is read again (see the class description).
    connection_recheck_seconds: ClassVar[float] = CONNECTION_RECHECK_SECONDS

    def __init__(
        self,
        stitch_conn_id: str = default_conn_name,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        budget_max_wait: float = 0.0,
        validate: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stitch_conn_id = stitch_conn_id
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.budget_max_wait = budget_max_wait
        self.validate = validate
        self._client: StitchClient | None = None
        self._fingerprint: str | None = None
        self._checked_at = -float("inf")

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form customisation for Airflow 2 (Airflow 3 reads it from the provider info)."""
        from airflow_provider_stitch import get_provider_info

        entry = next(
            c for c in get_provider_info()["connection-types"] if c["connection-type"] == cls.conn_type
        )
        behaviour = entry["ui-field-behaviour"]
        return {
            "hidden_fields": list(behaviour["hidden-fields"]),
            "relabeling": dict(behaviour["relabeling"]),
            "placeholders": dict(behaviour.get("placeholders", {})),
        }

    # ------------------------------------------------------------------ connection reading

    @staticmethod
    def _extras(conn: Any) -> dict[str, Any]:
        extras = conn.extra_dejson or {}
        return {key.removeprefix("extra__stitch__"): value for key, value in extras.items()}

    @staticmethod
    def _base_url(conn: Any) -> str:
        """The checked API root from the connection's host (scheme optional; https assumed).

        :raises UnsafeURLError: when the URL is ambiguous or insecure (see ``api.urls``).
        """
        host = (conn.host or "").strip()
        if not host:
            return DEFAULT_BASE_URL
        if "://" not in host:
            port = f":{conn.port}" if conn.port else ""
            host = f"https://{host}{port}"
        return check_url(host)

    def _settings(self, conn: Any) -> dict[str, Any]:
        """Client arguments from a connection, with its secrets registered for masking."""
        token = conn.password
        if not token:
            raise ValueError(
                f"connection {self.stitch_conn_id!r} has no API access token; put it in the password field"
            )
        mask_secret(token)
        extras = self._extras(conn)
        if extras.get("partner_secret"):
            mask_secret(str(extras["partner_secret"]))
        client_id = extras.get("stitch_client_id")
        base_url = self._base_url(conn)
        return {
            "token": token,
            "base_url": base_url,
            "client_id": int(client_id) if client_id not in (None, "") else None,
            "budget": _budget_settings(extras, base_url),
        }

    def budget_settings(self, conn: Any) -> BudgetSettings:
        """The Jobs budget settings of a connection (parsed once per distinct set of extras).

        :param conn: the Airflow connection.
        """
        return _budget_settings(self._extras(conn), self._base_url(conn))

    def _jobs_window(self, budget: BudgetSettings, base_url: str) -> float:
        """The budget window for the speed a loopback emulator reports (and the extra, if set, confirms)."""
        if not budget.loopback:
            return jobs_window_for(budget.speed(None))
        from airflow_provider_stitch.api.emulator_speed import SpeedProbeError, reported_speed

        try:
            reported = reported_speed(base_url, timeout=min(self.timeout, 5.0))
        except SpeedProbeError as problem:
            if budget.emulator_speed not in (None, 1.0):
                raise StitchSettingsError(
                    [
                        f"emulator_speed cannot be confirmed: the server at {base_url} did not answer ({problem})"
                    ]
                ) from None
            reported = None
        return jobs_window_for(budget.speed(reported))

    def _client_kwargs(self, settings: dict[str, Any]) -> dict[str, Any]:
        budget: BudgetSettings = settings["budget"]
        return {
            "base_url": settings["base_url"],
            "client_id": settings["client_id"],
            "timeout": self.timeout,
            "max_attempts": self.max_attempts,
            "budget_max_wait": self.budget_max_wait,
            "validate": self.validate,
            "budget_backend": budget.store(),
            "jobs_limit": budget.jobs_limit,
            "jobs_window": self._jobs_window(budget, settings["base_url"]),
        }

    # ------------------------------------------------------------------ clients

    def get_conn(self) -> StitchClient:
        """Same as :meth:`get_client`."""
        return self.get_client()

    def get_client(self) -> StitchClient:
        """A :class:`StitchClient` for this connection, reused while the connection stays the same.

        The connection is read again once :attr:`connection_recheck_seconds` have passed since the last
        read; when any of its fields changed, a new client is built and the old one's session closed. A
        read that fails while a client exists keeps that client (and is tried again next time).
        """
        now = monotonic()
        if self._client is not None and now - self._checked_at < self.connection_recheck_seconds:
            return self._client
        try:
            conn = self.get_connection(self.stitch_conn_id)
        except Exception as problem:
            if self._client is None:
                raise
            logger.warning(
                "connection %r could not be read again (%s); the task goes on with the settings read before",
                self.stitch_conn_id,
                type(problem).__name__,
            )
            self._checked_at = now
            return self._client
        fingerprint = connection_fingerprint(conn)
        if self._client is None or fingerprint != self._fingerprint:
            settings = self._settings(conn)  # a connection changed into a wrong one fails every time
            client = _sync_client_class()(settings["token"], **self._client_kwargs(settings))
            if self._client is not None:
                logger.info("connection %r changed; its new settings apply from now on", self.stitch_conn_id)
                self._client.close()
            self._client, self._fingerprint = client, fingerprint
        self._checked_at = now
        return self._client

    async def _aget_connection(self) -> Any:
        """Load the connection without blocking the event loop."""
        loader = getattr(type(self), "aget_connection", None)
        if loader is not None:
            return await loader(self.stitch_conn_id)
        return await asyncio.to_thread(self.get_connection, self.stitch_conn_id)

    async def aget_client(self) -> AsyncStitchClient:
        """The :class:`AsyncStitchClient` of this connection in the running event loop (use ``async with``).

        The connection is read every time; triggers of one unchanged connection and the same hook settings
        share one client per event loop, so thousands of them keep one, not one each. Only the connection
        lookup runs on the event loop; parsing the settings, opening the budget store and building the
        client run in a worker thread, so thousands of triggers starting at once do not stall the loop.
        """
        async with _lookup_gate():
            conn = await self._aget_connection()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_client_builder(), self._async_client_for, conn, loop)

    def _async_client_for(self, conn: Any, loop: asyncio.AbstractEventLoop) -> AsyncStitchClient:
        """The loop's client for this connection's current settings (built when they are new)."""
        from airflow_provider_stitch.api.aclient import AsyncStitchClient
        from airflow_provider_stitch.api.options import ClientOptions

        settings = self._settings(conn)
        options = ClientOptions(**self._client_kwargs(settings))
        key = (connection_fingerprint(conn), options)
        with _ASYNC_CLIENTS_LOCK:
            for closed in [known for known in _ASYNC_CLIENTS if known.is_closed()]:
                del _ASYNC_CLIENTS[closed]
            clients = _ASYNC_CLIENTS.setdefault(loop, OrderedDict())
            client = clients.get(key)
            if client is not None:
                clients.move_to_end(key)
                return client
            client = clients[key] = AsyncStitchClient(settings["token"], options)
            while len(clients) > ASYNC_CLIENTS_PER_LOOP:
                clients.popitem(last=False)
            return client

    def get_partner_client(self) -> tuple[StitchClient, str, str]:
        """A client for partner calls plus the partner id and secret from the connection extras.

        The connection needs no access token for this (creating an account takes none).
        """
        conn = self.get_connection(self.stitch_conn_id)
        extras = self._extras(conn)
        partner_id, partner_secret = extras.get("partner_id"), extras.get("partner_secret")
        if not partner_id or not partner_secret:
            raise ValueError(
                f"connection {self.stitch_conn_id!r} needs the extras partner_id and partner_secret to "
                "create accounts (Stitch gives them to partners)"
            )
        mask_secret(str(partner_secret))
        if conn.password:
            return self.get_client(), str(partner_id), str(partner_secret)
        client = _sync_client_class()(None, base_url=self._base_url(conn), timeout=self.timeout)
        return client, str(partner_id), str(partner_secret)

    def get_budget(self) -> JobsBudget:
        """The Jobs budget of this connection's Stitch client id (as the connection reads now)."""
        return self.get_client().jobs_budget

    def test_connection(self) -> tuple[bool, str]:
        """Check the token (and ``stitch_client_id``, when set) with requests that are not rate limited.

        A failure names the URL and the cause; a host written without a scheme gets a hint.
        """
        url = "the base URL"
        hint = ""
        try:
            conn = self.get_connection(self.stitch_conn_id)
            host = (conn.host or "").strip()
            if host and "://" not in host:
                hint = (
                    f" (the host {host!r} has no scheme, so https:// was assumed; write it in full, e.g. "
                    "https://api.stitchdata.com, or http://127.0.0.1:8765 for the emulator)"
                )
            url = self._base_url(conn)
            client = self.get_client()
            sources = client.list_sources()
            configured = self._extras(conn).get("stitch_client_id")
            owners = {s.stitch_client_id for s in sources if s.stitch_client_id}
            if configured not in (None, "") and not owners:
                owners = {d.stitch_client_id for d in client.list_destinations() if d.stitch_client_id}
        except StitchUnauthorizedError:
            return False, (
                f"Stitch at {url} refused the API access token (HTTP 401): check that the password field "
                "holds the whole token, and that it has not been revoked under Account Settings > API "
                "access keys" + hint
            )
        except (StitchError, ValueError) as error:
            where = "" if url in str(error) else f" (base URL {url})"
            return False, f"Stitch connection failed: {error}{where}{hint}"
        if configured not in (None, "") and owners and {int(configured)} != owners:
            actual = ", ".join(str(o) for o in sorted(owners))
            return False, (
                f"stitch_client_id {configured} is not the account of this token at {url} (its objects "
                f"belong to client {actual}); correct stitch_client_id or leave it empty"
            )
        unconfirmed = (
            " (stitch_client_id could not be confirmed: the account has no sources or destinations yet)"
            if configured not in (None, "") and not owners
            else ""
        )
        return True, f"Connected to Stitch at {url}: {len(sources)} source(s) visible{unconfirmed}{hint}"
