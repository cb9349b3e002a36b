"""Transport rules shared by the sync and async clients: headers, retries, failure descriptions."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import RetryCallState
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential_jitter

from airflow_provider_stitch import __version__
from airflow_provider_stitch.api.deadlines import would_pass_deadline
from airflow_provider_stitch.api.endpoints import Endpoint
from airflow_provider_stitch.api.errors import (
    StitchAPIError,
    StitchError,
    StitchMalformedResponseError,
    StitchResponseTooLarge,
    StitchTransportError,
    build_api_error,
)
from airflow_provider_stitch.api.urls import DEFAULT_BASE_URL, check_url, is_loopback_host

USER_AGENT = f"airflow-provider-stitch/{__version__}"
#: Statuses worth a retry: rate limiting and transient server trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Longest ``Retry-After`` honoured; longer asks are capped so a task never hangs for hours.
MAX_RETRY_AFTER = 300.0
#: Upper bound of pages followed in one listing (guards against a ``links.next`` loop).
MAX_PAGES = 1000

RetryWait = Callable[[RetryCallState], float]


def request_headers(token: str | None, endpoint: Endpoint, user_agent: str) -> dict[str, str]:
    """Headers for one request; the bearer token only where the endpoint needs it."""
    headers = {"User-Agent": user_agent, "Accept": "application/json"}
    if endpoint.auth_required and token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header (seconds or HTTP date), capped at :data:`MAX_RETRY_AFTER`."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        current = now or datetime.now(timezone.utc)
        seconds = (when - current).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class WaitHonouringRetryAfter(wait_base):
    """Backoff that waits at least what the server asked with ``Retry-After``.

    :param base: wait strategy used when the server gave no ``Retry-After``.
    """

    def __init__(self, base: RetryWait) -> None:
        self.base = base

    def __call__(self, retry_state: RetryCallState) -> float:
        base_wait = float(self.base(retry_state))
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = getattr(error, "retry_after", None)
        return max(base_wait, float(asked)) if asked is not None else base_wait


def default_retry_wait() -> RetryWait:
    """Exponential backoff with jitter: about 1, 2, 4, 8 s ... capped at 30 s."""
    return wait_exponential_jitter(initial=1.0, max=30.0, exp_base=2.0, jitter=1.0)


def is_retryable(error: BaseException, endpoint: Endpoint, *, lookup_before_resend: bool = False) -> bool:
    """Decide whether one failed attempt should be sent again.

    Idempotent requests (and creates that look for their result before resending) retry on transport
    failures, unreadable JSON, 429 and 5xx. Other creates retry only when the request surely never
    reached Stitch (connection not established, or 429), so nothing is created twice.
    """
    safe = endpoint.idempotent or lookup_before_resend
    if isinstance(error, StitchTransportError):
        if error.permanent:
            return False
        return safe or error.request_sent is False
    if isinstance(error, StitchAPIError):
        if error.status == 429:
            return True
        return safe and error.status in RETRY_STATUSES
    return False


def error_from_response(
    status: int,
    headers: Any,
    text: str,
    *,
    method: str,
    path: str,
    secrets: Iterable[str],
) -> StitchAPIError:
    """Build the API error for a non-success response."""
    return build_api_error(
        status,
        text,
        method=method,
        path=path,
        secrets=secrets,
        retry_after=parse_retry_after(headers.get("Retry-After")) if headers is not None else None,
    )


def decode_json(text: str, *, method: str, path: str) -> Any:
    """Parse a success body; empty means None; unreadable or absurdly nested JSON is a malformed answer."""
    if not text or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        looks_like = "HTML" if text.lstrip()[:1] == "<" else "not JSON"
        raise StitchMalformedResponseError(
            f"the body is {looks_like} ({len(text)} characters)", method=method, path=path
        ) from None
    except RecursionError:
        raise StitchMalformedResponseError(
            "the body is JSON nested too deeply to read", method=method, path=path
        ) from None


def already_running_message(payload: Any) -> str | None:
    """The message of a 200 ``already_running`` body from POST .../sync, else None."""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("type") == "already_running":
            return str(error.get("message") or "a replication job is already running")
    return None


def embedded_error(
    payload: Any, status: int, text: str, *, method: str, path: str, secrets: Iterable[str]
) -> StitchAPIError | None:
    """An error object inside a 2xx body (other than ``already_running``), as an API error; else None."""
    if (
        isinstance(payload, dict)
        and isinstance(payload.get("error"), dict)
        and already_running_message(payload) is None
    ):
        return build_api_error(status, text, method=method, path=path, secrets=secrets)
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps (``__cause__``, ``__context__``, urllib3's ``reason``, args)."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending.extend(item for item in wrapped if isinstance(item, BaseException))


def failure_cause(error: BaseException) -> tuple[str, bool]:
    """What went wrong below HTTP, in words, and whether resending cannot help.

    :param error: the HTTP library's exception.
    """
    causes = list(_causes(error))
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused (nothing listens there)", True
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
        return "TLS certificate not trusted", True
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return "TLS handshake failed", True
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "host name not found", False
    if any(isinstance(c, (TimeoutError, socket.timeout)) or "Timeout" in type(c).__name__ for c in causes):
        return "timed out", False
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return "connection reset", False
    return f"connection failed ({type(error).__name__})", False


def describe_transport_failure(error: BaseException, origin: str = "") -> str:
    """A short, secret-free description of a network failure: where and why (no path, no headers).

    :param error: the HTTP library's exception.
    :param origin: ``scheme://host:port`` the request went to.
    """
    cause, _ = failure_cause(error)
    return f"could not talk to Stitch at {origin}: {cause}" if origin else f"{cause} while talking to Stitch"


def network_error(
    error: BaseException, *, method: str, path: str, origin: str, request_sent: bool | None
) -> StitchTransportError:
    """The package's error for a failure below HTTP, naming where and why.

    :param error: the HTTP library's exception.
    :param method: HTTP method.
    :param path: request path.
    :param origin: ``scheme://host:port`` the request went to.
    :param request_sent: whether the request may have reached the server (see ``StitchTransportError``).
    """
    _, permanent = failure_cause(error)
    return StitchTransportError(
        describe_transport_failure(error, origin),
        method=method,
        path=path,
        request_sent=False if permanent else request_sent,
        permanent=permanent,
    )


def out_of_time_error(*, method: str, path: str, origin: str, seconds: float) -> StitchTransportError:
    """The package's error for a request whose total time limit passed before its answer was complete.

    :param method: HTTP method.
    :param path: request path.
    :param origin: ``scheme://host:port`` the request went to.
    :param seconds: the limit.
    """
    return StitchTransportError(
        f"no complete answer from {origin} within {seconds:.3g} s",
        method=method,
        path=path,
        request_sent=True,
    )


class BodyLimit:
    """Collects a response body chunk by chunk, stopping at ``max_bytes``.

    :param max_bytes: largest body accepted.
    :param method: HTTP method, for the error.
    :param path: request path, for the error.
    """

    def __init__(self, max_bytes: int, *, method: str, path: str) -> None:
        self.max_bytes = max_bytes
        self.method = method
        self.path = path
        self._chunks: list[bytes] = []
        self._size = 0

    def _too_large(self) -> StitchResponseTooLarge:
        return StitchResponseTooLarge(self.max_bytes, method=self.method, path=self.path)

    def check_declared(self, content_length: str | None) -> None:
        """Refuse at once a body whose announced length is over the limit."""
        if content_length and content_length.isdigit() and int(content_length) > self.max_bytes:
            raise self._too_large()

    def add(self, chunk: bytes) -> None:
        """Keep one more chunk, or raise once the limit is passed."""
        self._size += len(chunk)
        if self._size > self.max_bytes:
            raise self._too_large()
        self._chunks.append(chunk)

    def body(self) -> bytes:
        """Everything collected."""
        return b"".join(self._chunks)


class stop_before_deadline(stop_base):
    """Stop retrying when the next pause would pass the task deadline (see ``api.deadlines``)."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        return would_pass_deadline(retry_state.upcoming_sleep)


__all__ = [
    "DEFAULT_BASE_URL",
    "BodyLimit",
    "MAX_PAGES",
    "RETRY_STATUSES",
    "USER_AGENT",
    "StitchError",
    "WaitHonouringRetryAfter",
    "already_running_message",
    "check_url",
    "decode_json",
    "default_retry_wait",
    "describe_transport_failure",
    "embedded_error",
    "error_from_response",
    "failure_cause",
    "is_loopback_host",
    "is_retryable",
    "network_error",
    "out_of_time_error",
    "parse_retry_after",
    "request_headers",
    "stop_before_deadline",
]
