"""ClientOptions: every setting of the sync and async clients, stated and checked once."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_stitch.api.budget import DEFAULT_JOBS_WINDOW, BudgetBackend, JobsBudget
from airflow_provider_stitch.api.transport import USER_AGENT, RetryWait
from airflow_provider_stitch.api.urls import DEFAULT_BASE_URL, CheckedURL, check_base_url

#: Largest response body read by default (a listing of thousands of sources stays far below it).
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ClientOptions:
    """Settings shared by :class:`StitchClient` and :class:`AsyncStitchClient`.

    :param base_url: API root; HTTPS, or HTTP to a loopback host (an emulator).
    :param client_id: Stitch client id (digits; kept as an int); read once from a source or destination when None.
    :param timeout: seconds allowed for each request in total (connecting, sending and the whole answer).
    :param max_attempts: attempts per request, the first included.
    :param budget: the Jobs budget to pay from; built lazily from ``budget_backend`` when None.
    :param budget_backend: backend for the lazily built budget (the process-wide memory one by default).
    :param jobs_limit: Jobs requests per window for the lazily built budget.
    :param jobs_window: window of the lazily built budget, in seconds (see ``budget.jobs_window_for``).
    :param budget_max_wait: seconds a Jobs request may wait for a budget token.
    :param user_agent: User-Agent header value.
    :param validate: check source/destination properties with the connector catalog before sending.
    :param retry_wait: tenacity wait strategy between attempts (``Retry-After`` is honoured on top).
    :param max_response_bytes: largest response body accepted; a longer one fails without being kept.
    """

    base_url: str = DEFAULT_BASE_URL
    client_id: int | str | None = None
    timeout: float = 30.0
    max_attempts: int = 5
    budget: JobsBudget | None = None
    budget_backend: BudgetBackend | None = None
    jobs_limit: int = 30
    jobs_window: float = DEFAULT_JOBS_WINDOW
    budget_max_wait: float = 0.0
    user_agent: str = USER_AGENT
    validate: bool = True
    retry_wait: RetryWait | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    api_root: CheckedURL = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if not _positive(self.timeout):
            problems.append(f"timeout must be a positive number of seconds, not {self.timeout!r}")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            problems.append(f"max_attempts must be a whole number of at least 1, not {self.max_attempts!r}")
        if not isinstance(self.max_response_bytes, int) or self.max_response_bytes < 1:
            problems.append(f"max_response_bytes must be a positive number, not {self.max_response_bytes!r}")
        if not _positive(self.budget_max_wait, zero_ok=True):
            problems.append(f"budget_max_wait must be 0 or more seconds, not {self.budget_max_wait!r}")
        client_id: int | str | None = self.client_id
        if client_id is None or client_id == "":
            client_id = None
        elif isinstance(client_id, bool) or not (str(client_id).isdigit() and str(client_id).isascii()):
            problems.append(f"client_id must be a Stitch client id (digits), not {client_id!r}")
            client_id = None
        if problems:
            raise ValueError("invalid Stitch client options: " + "; ".join(problems))
        root = check_base_url(self.base_url)
        object.__setattr__(self, "api_root", root)
        object.__setattr__(self, "base_url", str(root))
        object.__setattr__(self, "client_id", int(client_id) if client_id is not None else None)
        object.__setattr__(self, "timeout", float(self.timeout))
        object.__setattr__(self, "jobs_window", float(self.jobs_window))
        object.__setattr__(self, "budget_max_wait", float(self.budget_max_wait))

    @classmethod
    def build(cls, options: ClientOptions | None, settings: dict[str, Any]) -> ClientOptions:
        """Options from an options object and/or keyword settings (the settings win).

        :param options: a ready options object, or None.
        :param settings: keyword settings named as this class's fields.
        """
        if options is None:
            return cls(**settings)
        return replace(options, **settings) if settings else options


def _positive(value: Any, *, zero_ok: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value >= 0 if zero_ok else value > 0


__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "ClientOptions"]
