"""Exceptions raised by the Stitch clients, built from every documented error body shape."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

#: Keys whose values are secrets; they are replaced before a body is kept on an exception.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "ephemeral_token",
        "partner_secret",
        "client_secret",
        "password",
        "refresh_token",
        "token",
        "api_key",
        "secret",
    }
)
REDACTED = "***"


class StitchError(Exception):
    """Base class of every error this package raises about Stitch."""


class StitchAPIError(StitchError):
    """Stitch answered with an error.

    :param status: HTTP status code.
    :param code: Stitch's error code (``InvalidProperties``, ``already_running``...) or None.
    :param message: Stitch's human-readable message.
    :param method: HTTP method of the request.
    :param path: request path (no host, no query secrets).
    :param body: the parsed response body with secret values replaced.
    :param details: extra structured data (``bad_properties``, per-field errors...).
    :param retry_after: seconds the server asked to wait (``Retry-After``), if any.
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        method: str = "",
        path: str = "",
        body: Any = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.method = method.upper()
        self.path = path
        self.body = body
        self.details = details or {}
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.method} {self.path}".strip()
        label = f"{self.status} {self.code}" if self.code else f"{self.status}"
        prefix = f"{where} -> {label}" if where else label
        return f"{prefix}: {self.message}" if self.message else prefix

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "details": self.details,
            "retry_after": self.retry_after,
        }
        return (_rebuild_api_error, (type(self), self.status, self.code, self.message, kwargs))


def _rebuild_api_error(
    cls: type[StitchAPIError], status: int, code: str | None, message: str, kwargs: dict[str, Any]
) -> StitchAPIError:
    """Recreate an API error after pickling (Airflow ships exceptions between processes)."""
    return cls(status, code, message, **kwargs)


class StitchBadRequestError(StitchAPIError):
    """HTTP 400: the request was invalid."""


class StitchInvalidPropertiesError(StitchBadRequestError):
    """HTTP 400 ``InvalidProperties``: some connection properties do not match the type's schema."""

    @property
    def bad_properties(self) -> list[str]:
        """Names of the properties Stitch rejected."""
        names = self.details.get("bad_properties") or []
        return [str(name) for name in names]


class StitchUnauthorizedError(StitchAPIError):
    """HTTP 401: the token is missing, revoked, or not allowed for this Stitch client id."""


class StitchNotFoundError(StitchAPIError):
    """HTTP 404: unknown path or resource, or method not allowed on the path."""


class StitchServerError(StitchAPIError):
    """HTTP 5xx: Stitch is having trouble; retrying later may help."""


class StitchAlreadyRunningError(StitchAPIError):
    """HTTP 200 with ``already_running``: the source already has a replication job in progress."""


class StitchWaitTimeout(StitchError):
    """A wait on a Stitch job passed its deadline without an answer."""


class StitchRateBudgetExhausted(StitchError):
    """The client-side Jobs budget has no token free within the allowed wait; nothing was sent.

    :param client_id: Stitch client id whose budget is spent.
    :param wait: seconds until the next token frees up.
    :param limit: requests allowed per window.
    :param window: window length in seconds.
    """

    def __init__(self, client_id: Any, wait: float, *, limit: int = 0, window: float = 0.0) -> None:
        self.client_id = client_id
        self.wait = wait
        self.limit = limit
        self.window = window
        super().__init__(
            f"Jobs rate budget of Stitch client {client_id} is spent "
            f"({limit} requests per {window:g} s); next request possible in {wait:.1f} s"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_budget_error, (self.client_id, self.wait, self.limit, self.window))


def _rebuild_budget_error(
    client_id: Any, wait: float, limit: int, window: float
) -> StitchRateBudgetExhausted:
    """Recreate a budget error after pickling."""
    return StitchRateBudgetExhausted(client_id, wait, limit=limit, window=window)


class StitchBudgetStoreError(StitchError):
    """The shared Jobs budget store cannot be used (damaged, unreadable, locked too long); nothing was sent.

    :param location: the store's file or URL (never with a password).
    :param problem: what went wrong, in words.
    """

    def __init__(self, location: str, problem: str) -> None:
        self.location = location
        self.problem = problem
        super().__init__(f"the Jobs budget store {location} cannot be used: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.location, self.problem))


class StitchBudgetStoreUnreachable(StitchBudgetStoreError):
    """The shared Jobs budget store does not answer (down, restarting, network); nothing was sent.

    Unlike a damaged store this passes: waits treat it like a spent budget and try again later.
    """


class StitchTransportError(StitchError):
    """The request failed below HTTP: connection refused or dropped, timeout, or unreadable JSON.

    :param request_sent: False when the request surely never reached Stitch (safe to resend),
        True or None when it may have been processed.
    :param permanent: True when resending cannot help (nothing listens, the TLS certificate is refused).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        request_sent: bool | None = None,
        permanent: bool = False,
    ):
        self.method = method.upper()
        self.path = path
        self.request_sent = request_sent
        self.permanent = permanent
        self.detail = message
        where = f"{self.method} {self.path}".strip()
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {
            "method": self.method,
            "path": self.path,
            "request_sent": self.request_sent,
            "permanent": self.permanent,
        }
        return (_rebuild_transport_error, (self.detail, kwargs))


def _rebuild_transport_error(message: str, kwargs: dict[str, Any]) -> StitchTransportError:
    """Recreate a transport error after pickling."""
    return StitchTransportError(message, **kwargs)


class StitchDeadlineExceeded(StitchWaitTimeout):
    """The deadline of the task (see :func:`~airflow_provider_stitch.api.deadlines.stitch_deadline`) passed
    before Stitch answered; no further attempt is made.

    :param what: the request or wait that was cut short.
    :param seconds: the deadline that passed, in seconds from its start.
    :param last: how the last attempt ended, if one was made.
    """

    def __init__(self, what: str, seconds: float, last: str = "") -> None:
        self.what = what
        self.seconds = seconds
        self.last = last
        ending = f" (last attempt: {last})" if last else ""
        super().__init__(
            f"{what}: the task's deadline of {seconds:g} s passed before Stitch answered{ending}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.what, self.seconds, self.last))


class StitchMalformedResponseError(StitchTransportError):
    """Stitch answered 2xx with a body that is not what the endpoint returns (HTML, empty, wrong shape).

    :param problem: what is wrong with the body, without quoting it.
    """

    def __init__(self, problem: str, *, method: str = "", path: str = "") -> None:
        self.problem = problem
        super().__init__(f"unreadable answer: {problem}", method=method, path=path, request_sent=True)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_malformed, (self.problem, self.method, self.path))


def _rebuild_malformed(problem: str, method: str, path: str) -> StitchMalformedResponseError:
    """Recreate a malformed-answer error after pickling."""
    return StitchMalformedResponseError(problem, method=method, path=path)


class StitchResponseTooLarge(StitchError):
    """An answer was longer than the client's ``max_response_bytes``; reading stopped there.

    :param limit: the limit in bytes.
    :param method: HTTP method of the request.
    :param path: request path.
    """

    def __init__(self, limit: int, *, method: str = "", path: str = "") -> None:
        self.limit = limit
        self.method = method.upper()
        self.path = path
        where = f"{self.method} {path}".strip()
        super().__init__(
            f"{where}: the answer is longer than {limit} bytes (max_response_bytes); it was not read further"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_too_large, (self.limit, self.method, self.path))


def _rebuild_too_large(limit: int, method: str, path: str) -> StitchResponseTooLarge:
    """Recreate a too-large error after pickling."""
    return StitchResponseTooLarge(limit, method=method, path=path)


def redact_secrets(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Return ``value`` with secret-named keys and any of ``secrets`` replaced by ``***``."""
    known = [s for s in secrets if s]
    if isinstance(value, dict):
        return {
            key: REDACTED
            if str(key).lower() in SECRET_KEYS and val not in (None, "")
            else redact_secrets(val, known)
            for key, val in value.items()
        }
    if isinstance(value, list):
        return [redact_secrets(item, known) for item in value]
    if isinstance(value, str):
        for secret in known:
            value = value.replace(secret, REDACTED)
        return value
    return value


def _message_text(message: Any) -> str:
    """Flatten a message that may be a string or a per-field mapping into one line."""
    if isinstance(message, dict):
        return "; ".join(f"{field}: {text}" for field, text in message.items())
    if message is None:
        return ""
    return str(message)


_CODE_IN_TEXT = re.compile(r'"(?:error|code|type)"\s*:\s*"([A-Za-z_]+)"')
_MESSAGE_IN_TEXT = re.compile(r'"(?:message|invalid_fields)"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _salvage_broken_json(text: str) -> tuple[str | None, str, dict[str, Any]]:
    """Pull a code and message out of a body that looks like JSON but does not parse."""
    code = _CODE_IN_TEXT.search(text)
    message = _MESSAGE_IN_TEXT.search(text)
    return (
        code.group(1) if code else None,
        message.group(1).replace('\\"', '"') if message else text,
        {},
    )


def parse_error_body(status: int, text: str) -> tuple[str | None, str, dict[str, Any]]:
    """Read Stitch's error body, whatever its shape, into ``(code, message, details)``.

    :param status: HTTP status code of the response.
    :param text: raw response body.
    """
    stripped = (text or "").strip()
    try:
        body = json.loads(stripped) if stripped else None
    except ValueError:
        body = None
        plain = stripped
    else:
        plain = body if isinstance(body, str) else ""

    if body is None and stripped.startswith("{"):
        return _salvage_broken_json(stripped)
    if not isinstance(body, dict):
        return None, plain or stripped or f"HTTP {status}", {}

    error = body.get("error")
    if isinstance(error, str):
        raw_data = body.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        message = _message_text(data.get("message")) or error
        return error, message, dict(data)
    if isinstance(error, dict):
        raw_message = error.get("message")
        details = dict(raw_message) if isinstance(raw_message, dict) else {}
        code = error.get("type")
        return (str(code) if code else None), _message_text(raw_message) or str(code or ""), details
    if "code" in body:
        errors = body.get("errors")
        details = {"errors": errors} if isinstance(errors, dict) else {}
        message = _message_text(body.get("message"))
        if isinstance(errors, dict) and errors:
            message = f"{message} ({_message_text(errors)})" if message else _message_text(errors)
        return str(body["code"]), message, details
    if "invalid_fields" in body:
        return (
            "InvalidFields",
            _message_text(body["invalid_fields"]),
            {"invalid_fields": body["invalid_fields"]},
        )
    if "status" in body and len(body) == 1:
        return None, _message_text(body["status"]), {}
    if "disabled_at" in body and len(body) == 1:
        return "InvalidDisabledAt", f"invalid disabled_at value {body['disabled_at']!r}", dict(body)
    if "message" in body:
        return None, _message_text(body["message"]), {}
    return None, stripped or f"HTTP {status}", {}


def _parsed_body(text: str) -> Any:
    """Return the JSON value of ``text``, or the text itself when it is not JSON."""
    try:
        return json.loads(text) if text and text.strip() else None
    except ValueError:
        return text


def error_class_for(status: int, code: str | None) -> type[StitchAPIError]:
    """Choose the exception class for a status code and Stitch error code."""
    if code == "already_running":
        return StitchAlreadyRunningError
    if status == 400:
        return StitchInvalidPropertiesError if code == "InvalidProperties" else StitchBadRequestError
    if status == 401:
        return StitchUnauthorizedError
    if status == 404:
        return StitchNotFoundError
    if status >= 500:
        return StitchServerError
    return StitchAPIError


def build_api_error(
    status: int,
    text: str,
    *,
    method: str,
    path: str,
    secrets: Iterable[str] = (),
    retry_after: float | None = None,
) -> StitchAPIError:
    """Build the right :class:`StitchAPIError` subclass from a response, with secrets removed.

    :param status: HTTP status code.
    :param text: raw response body.
    :param method: request method.
    :param path: request path.
    :param secrets: literal secret strings (the token...) to scrub from every stored text.
    :param retry_after: parsed ``Retry-After`` seconds, if any.
    """
    known = [s for s in secrets if s]
    code, message, details = parse_error_body(status, text)
    cls = error_class_for(status, code)
    return cls(
        status,
        redact_secrets(code, known),
        redact_secrets(message, known),
        method=method,
        path=redact_secrets(path, known),
        body=redact_secrets(_parsed_body(text), known),
        details=redact_secrets(details, known),
        retry_after=retry_after,
    )
