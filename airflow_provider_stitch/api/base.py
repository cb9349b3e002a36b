"""What the sync and async clients share: options, the Jobs budget, retries, validation and answers."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from tenacity import retry_if_exception, stop_after_attempt

from airflow_provider_stitch.api.budget import JobsBudget
from airflow_provider_stitch.api.deadlines import deadline_passed_error, time_limit, wait_limit
from airflow_provider_stitch.api.endpoints import Endpoint
from airflow_provider_stitch.api.errors import StitchAlreadyRunningError, StitchError, StitchTransportError
from airflow_provider_stitch.api.models import Destination, Source, SyncJob
from airflow_provider_stitch.api.options import ClientOptions
from airflow_provider_stitch.api.responses import (
    Answer,
    RawResponse,
    parse_many,
    parse_one,
    parse_page,
    read_answer,
)
from airflow_provider_stitch.api.transport import (
    WaitHonouringRetryAfter,
    already_running_message,
    default_retry_wait,
    is_retryable,
    request_headers,
    stop_before_deadline,
)
from airflow_provider_stitch.api.urls import UnsafeURLError, resolve_on_api_host

logger = logging.getLogger("airflow_provider_stitch.api")


def utc_now_iso() -> str:
    """The current UTC time as Stitch writes timestamps (``2019-06-01T00:00:00Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def read_sync_answer(answer: Answer, raise_if_running: bool) -> SyncJob:
    """Read the answer of POST .../sync, including the 200 ``already_running`` body."""
    message = already_running_message(answer.payload)
    if message is None:
        return parse_one(SyncJob, answer)
    if raise_if_running:
        raise StitchAlreadyRunningError(
            200, "already_running", message, method="POST", path=answer.path, body=answer.payload
        )
    return SyncJob(job_name=None, already_running=True, message=message)


def redirect_target(answer: Answer) -> str:
    """The URL a redirect answer points to.

    :param answer: the answer of a redirect endpoint.
    """
    if not isinstance(answer.payload, str):
        raise answer.malformed("expected a redirect to the log file")
    return answer.payload


class ClientCore:
    """Options and shared behaviour of :class:`StitchClient` and :class:`AsyncStitchClient`.

    :param token: Stitch API access token (may be None only for the partner endpoints).
    :param options: the client's settings (see :class:`~airflow_provider_stitch.api.options.ClientOptions`).
    """

    def __init__(self, token: str | None, options: ClientOptions) -> None:
        self._token = token or None
        self.options = options
        self._client_id = None if options.client_id is None else int(options.client_id)
        self._budget = options.budget
        self._retry_wait = WaitHonouringRetryAfter(options.retry_wait or default_retry_wait())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, client_id={self._client_id!r})"

    @property
    def base_url(self) -> str:
        """The checked API root, without a trailing slash."""
        return self.options.base_url

    @property
    def timeout(self) -> float:
        """Seconds each request may take in total."""
        return self.options.timeout

    @property
    def max_attempts(self) -> int:
        """Attempts per request, the first included."""
        return self.options.max_attempts

    @property
    def validate(self) -> bool:
        """Whether properties are checked with the connector catalog before sending."""
        return self.options.validate

    @property
    def user_agent(self) -> str:
        """The User-Agent header value."""
        return self.options.user_agent

    @property
    def budget_max_wait(self) -> float:
        """Seconds a Jobs request may wait for a budget token."""
        return self.options.budget_max_wait

    @property
    def secrets(self) -> tuple[str, ...]:
        """Literal secret strings to keep out of errors."""
        return (self._token,) if self._token else ()

    def _budget_for(self, client_id: int) -> JobsBudget:
        """The budget Jobs requests pay from (created on first use)."""
        if self._budget is None:
            options = self.options
            self._budget = JobsBudget(
                client_id,
                limit=options.jobs_limit,
                window=options.jobs_window,
                backend=options.budget_backend,
            )
        return self._budget

    def _budget_wait(self) -> float:
        """Seconds a Jobs request may wait for its token, the task deadline included."""
        return wait_limit(self.budget_max_wait)

    @staticmethod
    def _request_path(endpoint: Endpoint, path: str | None, params: dict[str, Any]) -> str:
        request_path = path if path is not None else endpoint.path(**params)
        if endpoint.match(request_path) is None:
            raise StitchTransportError(f"path does not belong to endpoint {endpoint.name}", path=request_path)
        return request_path

    def _retry_policy(self, endpoint: Endpoint, lookup_before_resend: bool) -> dict[str, Any]:
        """Tenacity arguments: attempts, backoff, what is retried; never past the task deadline."""
        return {
            "stop": stop_after_attempt(self.max_attempts) | stop_before_deadline(),
            "wait": self._retry_wait,
            "retry": retry_if_exception(
                lambda error: is_retryable(error, endpoint, lookup_before_resend=lookup_before_resend)
            ),
            "reraise": True,
        }

    @staticmethod
    def _final_error(endpoint: Endpoint, path: str, error: StitchError) -> StitchError:
        """What a request that failed for good raises: the deadline's error once the task deadline passed."""
        return deadline_passed_error(f"{endpoint.method} {path}", error) or error

    def _headers(self, endpoint: Endpoint) -> dict[str, str]:
        return request_headers(self._token, endpoint, self.user_agent)

    def _time_limit(self, endpoint: Endpoint, path: str) -> float:
        """Seconds this attempt may take (its timeout, or what is left of the task deadline)."""
        return time_limit(self.timeout, f"{endpoint.method} {path}")

    def _read(self, raw: RawResponse, endpoint: Endpoint, path: str, secrets: tuple[str, ...]) -> Answer:
        return read_answer(raw, endpoint, path, api_root=self.options.api_root, secrets=secrets)

    def _next_page_path(self, answer: Answer, link: str) -> str:
        """The path of the page a ``links.next`` value names; it must stay on the API host."""
        try:
            return resolve_on_api_host(self.options.api_root, link, what="pagination link")
        except UnsafeURLError as error:
            raise answer.malformed(str(error)) from None

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
    "Answer",
    "ClientCore",
    "drop_none",
    "parse_many",
    "parse_one",
    "parse_page",
    "pick_destination",
    "pick_source",
    "read_sync_answer",
    "redirect_target",
    "utc_now_iso",
]
