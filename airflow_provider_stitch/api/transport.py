"""Transport rules shared by the sync and async clients: URLs, headers, retries, response reading."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from tenacity import RetryCallState
from tenacity.wait import wait_base, wait_exponential_jitter

from airflow_provider_stitch import __version__
from airflow_provider_stitch.api.endpoints import Endpoint
from airflow_provider_stitch.api.errors import (
    StitchAPIError,
    StitchError,
    StitchTransportError,
    build_api_error,
)

DEFAULT_BASE_URL = "https://api.stitchdata.com"
USER_AGENT = f"airflow-provider-stitch/{__version__}"
#: Statuses worth a retry: rate limiting and transient server trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Longest ``Retry-After`` honoured; longer asks are capped so a task never hangs for hours.
MAX_RETRY_AFTER = 300.0
#: Upper bound of pages followed in one listing (guards against a ``links.next`` loop).
MAX_PAGES = 1000

RetryWait = Callable[[RetryCallState], float]


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, what: str = "base URL") -> str:
    """Return ``url`` without a trailing slash when it is HTTPS, or HTTP to a loopback host.

    :param url: URL to check.
    :param what: what the URL is, for the error message.
    :raises ValueError: for any other scheme or a plain-HTTP remote host.
    """
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"the Stitch {what} must be an absolute URL such as {DEFAULT_BASE_URL}")
    scheme = parts.scheme.lower()
    if scheme == "https":
        return url.strip().rstrip("/")
    if scheme == "http" and is_loopback_host(parts.hostname):
        return url.strip().rstrip("/")
    if scheme == "http":
        raise ValueError(
            f"the Stitch {what} uses plain http:// to {parts.hostname}; "
            "only https:// is allowed, except http:// to a loopback host (127.0.0.1, ::1, localhost)"
        )
    raise ValueError(f"the Stitch {what} must use https:// (got {scheme}://)")


def same_origin(url_a: str, url_b: str) -> bool:
    """True when both URLs have the same scheme, host and port."""
    a, b = urlsplit(url_a), urlsplit(url_b)
    return (a.scheme.lower(), a.hostname, a.port) == (b.scheme.lower(), b.hostname, b.port)


def request_headers(token: str | None, endpoint: Endpoint, user_agent: str) -> dict[str, str]:
    """Headers for one request; the bearer token only where the endpoint needs it."""
    headers = {"User-Agent": user_agent, "Accept": "application/json"}
    if endpoint.auth_required and token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def resolve_page_path(base_url: str, next_link: str) -> str:
    """Turn a ``links.next`` value into a request path on the API host.

    :raises StitchTransportError: when the link points at another host (the token must not follow it).
    """
    absolute = urljoin(base_url + "/", next_link)
    if not same_origin(absolute, base_url):
        raise StitchTransportError("pagination link leads to another host; refusing to follow it")
    parts = urlsplit(absolute)
    return parts.path + (f"?{parts.query}" if parts.query else "")


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
    """Parse a success body; empty means None; unreadable JSON is a transport error (retried)."""
    if not text or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise StitchTransportError("the response body is not valid JSON", method=method, path=path) from None


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


def describe_transport_failure(error: BaseException) -> str:
    """A short, secret-free description of a network failure (no URL, no headers)."""
    return f"{type(error).__name__} while talking to Stitch"


__all__ = [
    "DEFAULT_BASE_URL",
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
    "is_loopback_host",
    "is_retryable",
    "parse_retry_after",
    "request_headers",
    "resolve_page_path",
    "same_origin",
]
