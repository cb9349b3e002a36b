"""Every Stitch Connect API endpoint, in one table: the only place a path is spelled."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from string import Formatter
from typing import Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel

from airflow_provider_stitch.api import models

JOBS = "jobs"
NOTIFICATIONS_BASE = "/notifications/public/v1/api"

#: How a response body is shaped: one object, a JSON array of objects, a Jobs page envelope,
#: a mapping wrapping a list (``{"post_load": [...]}``), a redirect, or nothing worth parsing.
ResponseShape = Literal["object", "list", "page", "wrapped_list", "redirect", "none"]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the Stitch Connect API.

    :param name: stable identifier, e.g. ``list_sources``.
    :param method: HTTP method.
    :param template: path template with ``{placeholders}``.
    :param rate_limit_group: ``"jobs"`` for the rate-limited Jobs endpoints, else None.
    :param paginated: True when the response is a page envelope followed by ``links.next``.
    :param response_model: model of the returned object(s), or None.
    :param shape: how the body is laid out (see :data:`ResponseShape`).
    :param auth_required: False for the two partner endpoints that take no bearer token.
    :param idempotent: True when resending after an ambiguous failure cannot create a duplicate.
    :param confirmed: False for endpoints the docs only list (no documented method page).
    :param form_encoded: True when the body is sent as form fields instead of JSON.
    """

    name: str
    method: str
    template: str
    rate_limit_group: str | None = None
    paginated: bool = False
    response_model: type[BaseModel] | None = None
    shape: ResponseShape = "object"
    auth_required: bool = True
    idempotent: bool = True
    confirmed: bool = True
    form_encoded: bool = False
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "_pattern", re.compile(f"^{pattern}$"))

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Names of the path parameters, in order."""
        return tuple(name for _, name, _, _ in Formatter().parse(self.template) if name)

    @property
    def is_jobs(self) -> bool:
        """True for endpoints counted against the Jobs rate limit."""
        return self.rate_limit_group == JOBS

    @property
    def literal_segments(self) -> int:
        """How many path segments are fixed text (used to prefer the most specific match)."""
        return sum(1 for seg in self.template.strip("/").split("/") if "{" not in seg)

    def path(self, **params: object) -> str:
        """Format the path; every placeholder is required and URL-quoted.

        :param params: a value for each placeholder.
        """
        missing = [name for name in self.placeholders if params.get(name) in (None, "")]
        if missing:
            raise ValueError(f"{self.name} needs a value for: {', '.join(missing)}")
        unknown = sorted(set(params) - set(self.placeholders))
        if unknown:
            raise ValueError(f"{self.name} has no path parameter(s): {', '.join(unknown)}")
        return self.template.format(**{k: quote(str(v), safe="") for k, v in params.items()})

    def page_path(self, page: int, **params: object) -> str:
        """The path of page ``page`` (from 1) of a paginated endpoint; page 1 carries no query."""
        if not self.paginated:
            raise ValueError(f"{self.name} is not paginated")
        if page < 1:
            raise ValueError(f"page numbers start at 1, not {page}")
        path = self.path(**params)
        return path if page == 1 else f"{path}?page={page}"

    def match(self, path: str) -> dict[str, str] | None:
        """Return the path parameters when ``path`` (query ignored) fits this template, else None."""
        found = self._pattern.match(urlsplit(path).path)
        return found.groupdict() if found else None


def _notif(suffix: str) -> str:
    """Path under the notifications API base."""
    return f"{NOTIFICATIONS_BASE}{suffix}"


_TABLE: tuple[Endpoint, ...] = (
    # Accounts, OAuth, sessions
    Endpoint(
        "create_account",
        "POST",
        "/v3/accounts",
        response_model=models.Account,
        auth_required=False,
        idempotent=False,
    ),
    Endpoint(
        "exchange_oauth_code",
        "POST",
        "/oauth/token",
        response_model=models.OAuthToken,
        auth_required=False,
        idempotent=False,
        form_encoded=True,
    ),
    Endpoint("create_ephemeral_session", "POST", "/v3/sessions/ephemeral", response_model=models.Session),
    # Destinations v4
    Endpoint("list_destinations", "GET", "/v4/destinations", response_model=models.Destination, shape="list"),
    Endpoint(
        "create_destination", "POST", "/v4/destinations", response_model=models.Destination, idempotent=False
    ),
    Endpoint(
        "update_destination", "PUT", "/v4/destinations/{destination_id}", response_model=models.Destination
    ),
    Endpoint("delete_destination", "DELETE", "/v4/destinations/{destination_id}", shape="none"),
    # Destinations v3 (outdated; kept so requests to them can be recognised)
    Endpoint(
        "list_destinations_v3", "GET", "/v3/destinations", response_model=models.Destination, shape="list"
    ),
    Endpoint(
        "create_destination_v3",
        "POST",
        "/v3/destinations",
        response_model=models.Destination,
        idempotent=False,
    ),
    Endpoint(
        "update_destination_v3", "PUT", "/v3/destinations/{destination_id}", response_model=models.Destination
    ),
    # Destination types
    Endpoint(
        "list_destination_types",
        "GET",
        "/v4/destination-types",
        response_model=models.ReportCard,
        shape="list",
    ),
    Endpoint(
        "get_destination_type",
        "GET",
        "/v4/destination-types/{destination_type}",
        response_model=models.ReportCard,
    ),
    # Sources
    Endpoint("list_sources", "GET", "/v4/sources", response_model=models.Source, shape="list"),
    Endpoint("create_source", "POST", "/v4/sources", response_model=models.Source, idempotent=False),
    Endpoint("get_source", "GET", "/v4/sources/{source_id}", response_model=models.Source),
    Endpoint("update_source", "PUT", "/v4/sources/{source_id}", response_model=models.Source),
    Endpoint("delete_source", "DELETE", "/v4/sources/{source_id}", response_model=models.Source),
    # Source types
    Endpoint("list_source_types", "GET", "/v4/source-types", response_model=models.ReportCard, shape="list"),
    Endpoint("get_source_type", "GET", "/v4/source-types/{source_type}", response_model=models.ReportCard),
    # Connection checks
    Endpoint(
        "get_source_last_connection_check",
        "GET",
        "/v4/sources/{source_id}/last-connection-check",
        response_model=models.ConnectionCheck,
    ),
    Endpoint(
        "get_destination_last_connection_check",
        "GET",
        "/v4/destinations/{destination_id}/last-connection-check",
        response_model=models.ConnectionCheck,
        confirmed=False,
    ),
    # Import API access tokens
    Endpoint(
        "create_import_token",
        "POST",
        "/v4/sources/{source_id}/tokens",
        response_model=models.ImportApiToken,
        idempotent=False,
    ),
    Endpoint(
        "list_import_tokens",
        "GET",
        "/v4/sources/{source_id}/tokens",
        response_model=models.ImportApiToken,
        shape="list",
    ),
    Endpoint(
        "revoke_import_token",
        "DELETE",
        "/v4/sources/{source_id}/tokens/{token_id}",
        response_model=models.Source,
    ),
    # Streams
    Endpoint(
        "list_streams", "GET", "/v4/sources/{source_id}/streams", response_model=models.Stream, shape="list"
    ),
    Endpoint(
        "get_stream_schema",
        "GET",
        "/v4/sources/{source_id}/streams/{stream_id}",
        response_model=models.StreamSchema,
    ),
    Endpoint(
        "update_stream_metadata",
        "PUT",
        "/v4/sources/{source_id}/streams/metadata",
        response_model=models.StatusResponse,
    ),
    # Replication jobs (a repeated start meets already_running instead of a second job)
    Endpoint("start_sync", "POST", "/v4/sources/{source_id}/sync", response_model=models.SyncJob),
    Endpoint("stop_sync", "DELETE", "/v4/sources/{source_id}/sync", response_model=models.StatusResponse),
    # Jobs: rate limited, 30 requests per 600 s per client id
    Endpoint(
        "list_extractions",
        "GET",
        "/v4/{stitch_client_id}/extractions",
        rate_limit_group=JOBS,
        paginated=True,
        response_model=models.Extraction,
        shape="page",
    ),
    Endpoint(
        "get_extraction_logs",
        "GET",
        "/v4/{stitch_client_id}/extractions/{job_name}",
        rate_limit_group=JOBS,
        shape="redirect",
    ),
    Endpoint(
        "list_loads",
        "GET",
        "/v4/{stitch_client_id}/loads",
        rate_limit_group=JOBS,
        paginated=True,
        response_model=models.Load,
        shape="page",
    ),
    # Notifications: custom email recipients
    Endpoint(
        "create_custom_email",
        "POST",
        _notif("/custom-emails"),
        response_model=models.CustomEmail,
        idempotent=False,
    ),
    Endpoint(
        "list_custom_emails", "GET", _notif("/custom-emails"), response_model=models.CustomEmail, shape="list"
    ),
    Endpoint(
        "update_custom_email",
        "PUT",
        _notif("/custom-emails/{custom_email_id}"),
        response_model=models.DisabledAtResponse,
    ),
    Endpoint("delete_custom_email", "DELETE", _notif("/custom-emails/{custom_email_id}"), shape="none"),
    # Notifications: post-load hooks
    Endpoint(
        "create_post_load_hook",
        "POST",
        _notif("/hooks"),
        response_model=models.PostLoadHook,
        idempotent=False,
    ),
    Endpoint(
        "list_post_load_hooks",
        "GET",
        _notif("/hooks"),
        response_model=models.PostLoadHook,
        shape="wrapped_list",
    ),
    Endpoint("update_post_load_hook", "PUT", _notif("/hooks/{hook_id}"), response_model=models.PostLoadHook),
    Endpoint("delete_post_load_hook", "DELETE", _notif("/hooks/{hook_id}"), shape="none"),
)

#: Every endpoint by name.
ENDPOINTS: dict[str, Endpoint] = {endpoint.name: endpoint for endpoint in _TABLE}

_BY_SPECIFICITY: tuple[Endpoint, ...] = tuple(sorted(_TABLE, key=lambda e: -e.literal_segments))


def endpoint_for(method: str, path: str) -> Endpoint | None:
    """Classify a request: the endpoint whose method and template fit, preferring fixed text.

    :param method: HTTP method.
    :param path: request path, optionally with a query string or a full URL.
    """
    wanted = method.upper()
    for endpoint in _BY_SPECIFICITY:
        if endpoint.method == wanted and endpoint.match(path) is not None:
            return endpoint
    return None


def rate_limit_group_for(method: str, path: str) -> str:
    """``"jobs"`` when the request counts against the Jobs limit, else ``"other"``."""
    endpoint = endpoint_for(method, path)
    return JOBS if endpoint is not None and endpoint.is_jobs else "other"
