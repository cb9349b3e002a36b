"""What the sync and async clients share: settings, the Jobs budget, validation and response reading."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel

from airflow_provider_stitch.api.budget import DEFAULT_JOBS_WINDOW, BudgetBackend, JobsBudget
from airflow_provider_stitch.api.endpoints import Endpoint
from airflow_provider_stitch.api.errors import StitchAlreadyRunningError, StitchError, StitchTransportError
from airflow_provider_stitch.api.models import Destination, JobsPage, Source, SyncJob
from airflow_provider_stitch.api.transport import (
    DEFAULT_BASE_URL,
    USER_AGENT,
    RetryWait,
    WaitHonouringRetryAfter,
    already_running_message,
    check_url,
    default_retry_wait,
    is_retryable,
)

logger = logging.getLogger("airflow_provider_stitch.api")

Model = TypeVar("Model", bound=BaseModel)


def utc_now_iso() -> str:
    """The current UTC time as Stitch writes timestamps (``2019-06-01T00:00:00Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_one(model: type[Model], payload: Any) -> Model:
    """Validate one object of the response."""
    return model.model_validate(payload)


def parse_many(model: type[Model], payload: Any, *, wrapper_key: str | None = None) -> list[Model]:
    """Validate a JSON array of objects (or the array under ``wrapper_key``)."""
    if wrapper_key is not None and isinstance(payload, Mapping):
        payload = payload.get(wrapper_key) or []
    if payload is None:
        return []
    if not isinstance(payload, list):
        raise StitchTransportError(f"expected a JSON array, got {type(payload).__name__}")
    return [model.model_validate(item) for item in payload]


def parse_page(payload: Any) -> JobsPage:
    """Validate a Jobs page envelope; a bare array is read as a single page."""
    if isinstance(payload, list):
        return JobsPage(data=payload)
    return JobsPage.model_validate(payload or {})


def pick_source(sources: list[Source], display_name: str, *, include_deleted: bool) -> Source | None:
    """The source with this display name (newest first; deleted ones only when asked)."""
    matches = [s for s in sources if s.display_name == display_name and (include_deleted or not s.is_deleted)]
    matches.sort(key=lambda s: (not s.is_deleted, s.id), reverse=True)
    return matches[0] if matches else None


def pick_destination(destinations: list[Destination], name: str) -> Destination | None:
    """The live destination whose ``name`` or ``display_name`` equals ``name`` (newest first)."""
    matches = [d for d in destinations if d.deleted_at is None and name in (d.name, d.display_name)]
    return max(matches, key=lambda d: d.id) if matches else None


def drop_none(**fields: Any) -> dict[str, Any]:
    """The fields that were given (None means "leave unchanged", never "clear")."""
    return {key: value for key, value in fields.items() if value is not None}


def read_sync_answer(payload: Any, path: str, raise_if_running: bool) -> SyncJob:
    """Read the answer of POST .../sync, including the 200 ``already_running`` body."""
    message = already_running_message(payload)
    if message is None:
        return parse_one(SyncJob, payload)
    if raise_if_running:
        raise StitchAlreadyRunningError(
            200, "already_running", message, method="POST", path=path, body=payload
        )
    return SyncJob(job_name=None, already_running=True, message=message)


class ClientSettings:
    """Settings and shared behaviour of :class:`StitchClient` and :class:`AsyncStitchClient`.

    :param token: Stitch API access token (may be None only for the partner endpoints).
    :param base_url: API root; HTTPS, or HTTP to a loopback host (an emulator).
    :param client_id: Stitch client id; read once from a source or destination when None.
    :param timeout: seconds allowed for each request.
    :param max_attempts: attempts per request, the first included.
    :param budget: the Jobs budget to pay from; built lazily from ``budget_backend`` when None.
    :param budget_backend: backend for the lazily built budget (the process-wide memory one by default).
    :param jobs_limit: Jobs requests per 600 s for the lazily built budget.
    :param jobs_window: window of the lazily built budget, in seconds (see ``budget.jobs_window_for``).
    :param budget_max_wait: seconds a Jobs request may wait for a budget token.
    :param user_agent: User-Agent header value.
    :param validate: check source/destination properties with the connector catalog before sending.
    :param retry_wait: tenacity wait strategy between attempts (``Retry-After`` is honoured on top).
    """

    def __init__(
        self,
        token: str | None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        client_id: int | str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        budget: JobsBudget | None = None,
        budget_backend: BudgetBackend | None = None,
        jobs_limit: int = 30,
        jobs_window: float = DEFAULT_JOBS_WINDOW,
        budget_max_wait: float = 0.0,
        user_agent: str = USER_AGENT,
        validate: bool = True,
        retry_wait: RetryWait | None = None,
    ) -> None:
        if timeout is None or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._token = token or None
        self.base_url = check_url(base_url)
        self._client_id = int(client_id) if client_id not in (None, "") else None
        self.timeout = float(timeout)
        self.max_attempts = int(max_attempts)
        self._budget = budget
        self._budget_backend = budget_backend
        self._jobs_limit = jobs_limit
        self._jobs_window = float(jobs_window)
        self.budget_max_wait = float(budget_max_wait)
        self.user_agent = user_agent
        self.validate = validate
        self._retry_wait = WaitHonouringRetryAfter(retry_wait or default_retry_wait())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, client_id={self._client_id!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Literal secret strings to keep out of errors."""
        return (self._token,) if self._token else ()

    def _budget_for(self, client_id: int) -> JobsBudget:
        """The budget Jobs requests pay from (created on first use)."""
        if self._budget is None:
            self._budget = JobsBudget(
                client_id, limit=self._jobs_limit, window=self._jobs_window, backend=self._budget_backend
            )
        return self._budget

    def _retry_predicate(
        self, endpoint: Endpoint, lookup_before_resend: bool
    ) -> Callable[[BaseException], bool]:
        return lambda error: is_retryable(error, endpoint, lookup_before_resend=lookup_before_resend)

    def _validated(
        self, connection_type: str, properties: Mapping[str, Any], *, partial: bool
    ) -> dict[str, Any]:
        """Properties checked and normalised by the connector catalog, when validation is on and possible."""
        props = dict(properties)
        if not self.validate:
            return props
        try:
            from airflow_provider_stitch.connectors import UnknownConnectionTypeError, validate_properties
        except ImportError:
            return props
        try:
            return dict(validate_properties(connection_type, props, partial=partial))
        except UnknownConnectionTypeError:
            logger.debug(
                "connection type %s is not in the catalog; Stitch will check its properties", connection_type
            )
            return props

    def _missing_client_id(self) -> StitchError:
        return StitchError(
            "no Stitch client id: set stitch_client_id (connection extra or client argument); "
            "it could not be read from any source or destination of the account"
        )

    @staticmethod
    def _log_attempt(method: str, path: str, status: int | str, attempt: int, started: float) -> None:
        logger.debug(
            "Stitch %s %s -> %s (attempt %d, %.0f ms)",
            method,
            path,
            status,
            attempt,
            (time.monotonic() - started) * 1000,
        )


__all__ = [
    "ClientSettings",
    "drop_none",
    "parse_many",
    "parse_one",
    "parse_page",
    "pick_destination",
    "pick_source",
    "read_sync_answer",
    "utc_now_iso",
]
