"""StitchHook: turns an Airflow connection into Stitch API clients sharing one Jobs budget."""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_stitch.api import budget as budget_module
from airflow_provider_stitch.api.budget import (
    DEFAULT_JOBS_LIMIT,
    BudgetBackend,
    InMemoryBudgetBackend,
    JobsBudget,
    SQLiteBudgetBackend,
    jobs_window_for,
)
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.errors import StitchError, StitchUnauthorizedError
from airflow_provider_stitch.api.transport import DEFAULT_BASE_URL, is_loopback_host
from airflow_provider_stitch.defaults import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_provider_stitch.api.aclient import AsyncStitchClient

BUDGET_BACKENDS = ("memory", "sqlite", "redis")
DEFAULT_BUDGET_BACKEND = "sqlite"
BUDGET_FILE_NAME = "stitch_jobs_budget.sqlite"

#: One in-memory backend per process, so every hook choosing "memory" shares it.
_MEMORY_BACKEND = InMemoryBudgetBackend()


def default_budget_path() -> str:
    """Where the SQLite budget lives by default: under AIRFLOW_HOME, else the temp directory."""
    home = os.environ.get("AIRFLOW_HOME")
    return os.path.join(home or tempfile.gettempdir(), BUDGET_FILE_NAME)


class StitchHook(BaseHook):
    """Interact with the Stitch Connect API through an Airflow connection.

    The connection's password is the API access token; ``host`` may override the base URL (e.g. an
    emulator at ``http://127.0.0.1:8765``). Extras: ``stitch_client_id``, ``partner_id``,
    ``partner_secret``, ``jobs_budget`` (requests per 10 minutes, at most 30), ``budget_backend``
    (``memory``, ``sqlite`` or ``redis``), ``budget_location`` (SQLite path or Redis URL) and
    ``emulator_speed`` (the ``--speed`` of an offline emulator on a loopback host, so the Jobs budget
    counts its faster window).

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
        self._budget: JobsBudget | None = None

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
        """The API root from the connection's host (scheme optional; https assumed)."""
        host = (conn.host or "").strip()
        if not host:
            return DEFAULT_BASE_URL
        if "://" in host:
            return host
        port = f":{conn.port}" if conn.port else ""
        return f"https://{host}{port}"

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
        return {
            "token": token,
            "base_url": self._base_url(conn),
            "client_id": int(client_id) if client_id not in (None, "") else None,
            "extras": extras,
        }

    def _budget_backend(self, extras: dict[str, Any]) -> BudgetBackend:
        """The backend named by the ``budget_backend`` extra."""
        kind = str(extras.get("budget_backend") or DEFAULT_BUDGET_BACKEND).lower()
        location = extras.get("budget_location")
        if kind == "memory":
            return _MEMORY_BACKEND
        if kind == "sqlite":
            return SQLiteBudgetBackend(location or default_budget_path())
        if kind == "redis":
            redis_backend = getattr(budget_module, "RedisBudgetBackend", None)
            if redis_backend is None:
                raise ValueError("budget_backend 'redis' is not available in this installation; use 'sqlite'")
            if not location:
                raise ValueError("budget_backend 'redis' needs budget_location set to a redis:// URL")
            return redis_backend(location)
        raise ValueError(f"budget_backend must be one of {', '.join(BUDGET_BACKENDS)}, not {kind!r}")

    @staticmethod
    def _jobs_limit(extras: dict[str, Any]) -> int:
        raw = extras.get("jobs_budget")
        limit = DEFAULT_JOBS_LIMIT if raw in (None, "") else int(raw)
        if not 1 <= limit <= DEFAULT_JOBS_LIMIT:
            raise ValueError(f"jobs_budget must be between 1 and {DEFAULT_JOBS_LIMIT}, not {limit}")
        return limit

    @staticmethod
    def _jobs_window(extras: dict[str, Any], base_url: str) -> float:
        """Budget window from the ``emulator_speed`` extra, accepted for a loopback emulator only."""
        raw = extras.get("emulator_speed")
        if raw in (None, ""):
            return jobs_window_for()
        try:
            speed = float(raw)
        except (TypeError, ValueError):
            speed = 0.0
        if not speed >= 1:
            raise ValueError(f"emulator_speed must be a number of at least 1, not {raw!r}")
        if speed > 1 and not is_loopback_host(urlsplit(base_url).hostname):
            raise ValueError(
                "emulator_speed is only for the offline emulator on a loopback host; Stitch counts its "
                "Jobs limit over a fixed 600 seconds"
            )
        return jobs_window_for(speed)

    def _client_kwargs(self, settings: dict[str, Any]) -> dict[str, Any]:
        extras = settings["extras"]
        return {
            "base_url": settings["base_url"],
            "client_id": settings["client_id"],
            "timeout": self.timeout,
            "max_attempts": self.max_attempts,
            "budget_max_wait": self.budget_max_wait,
            "validate": self.validate,
            "budget_backend": self._budget_backend(extras),
            "jobs_limit": self._jobs_limit(extras),
            "jobs_window": self._jobs_window(extras, settings["base_url"]),
        }

    # ------------------------------------------------------------------ clients

    def get_conn(self) -> StitchClient:
        """Same as :meth:`get_client`."""
        return self.get_client()

    def get_client(self) -> StitchClient:
        """A :class:`StitchClient` for this connection (built once per hook)."""
        if self._client is None:
            settings = self._settings(self.get_connection(self.stitch_conn_id))
            self._client = StitchClient(settings["token"], **self._client_kwargs(settings))
        return self._client

    async def _aget_connection(self) -> Any:
        """Load the connection without blocking the event loop."""
        loader = getattr(type(self), "aget_connection", None)
        if loader is not None:
            return await loader(self.stitch_conn_id)
        return await asyncio.to_thread(self.get_connection, self.stitch_conn_id)

    async def aget_client(self) -> AsyncStitchClient:
        """A new :class:`AsyncStitchClient` for this connection (close it, or use ``async with``)."""
        from airflow_provider_stitch.api.aclient import AsyncStitchClient

        settings = self._settings(await self._aget_connection())
        return AsyncStitchClient(settings["token"], **self._client_kwargs(settings))

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
        client = StitchClient(None, base_url=self._base_url(conn), timeout=self.timeout)
        return client, str(partner_id), str(partner_secret)

    def get_budget(self) -> JobsBudget:
        """The Jobs budget of this connection's Stitch client id."""
        if self._budget is None:
            self._budget = self.get_client().jobs_budget
        return self._budget

    def test_connection(self) -> tuple[bool, str]:
        """Check the token with one request that is not rate limited."""
        try:
            client = self.get_client()
            sources = client.list_sources()
        except StitchUnauthorizedError:
            return False, (
                "Stitch refused the API access token (HTTP 401): check that the password field holds the "
                "whole token, and that it has not been revoked under Account Settings > API access keys"
            )
        except (StitchError, ValueError) as error:
            return False, f"Stitch connection failed: {error}"
        return True, f"Connected to Stitch at {client.base_url}: {len(sources)} source(s) visible"
