"""StitchClient: the synchronous Stitch Connect API client (requests)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from tenacity import Retrying

from airflow_provider_stitch.api.base import (
    Answer,
    ClientCore,
    drop_none,
    parse_many,
    parse_one,
    parse_page,
    pick_destination,
    pick_source,
    read_sync_answer,
    redirect_target,
    utc_now_iso,
)
from airflow_provider_stitch.api.budget import JobsBudget
from airflow_provider_stitch.api.endpoints import ENDPOINTS, Endpoint
from airflow_provider_stitch.api.errors import StitchAPIError, StitchError
from airflow_provider_stitch.api.models import (
    Account,
    ConnectionCheck,
    CustomEmail,
    Destination,
    DisabledAtResponse,
    Extraction,
    ImportApiToken,
    Load,
    OAuthToken,
    PostLoadHook,
    ReportCard,
    Session,
    Source,
    StatusResponse,
    Stream,
    StreamSchema,
    SyncJob,
)
from airflow_provider_stitch.api.options import ClientOptions
from airflow_provider_stitch.api.pagination import (
    RowDeduplicator,
    extraction_key,
    load_key,
    passed_source_id,
)
from airflow_provider_stitch.api.responses import RawResponse, parse_rows
from airflow_provider_stitch.api.sync_transport import exchange, watched_session
from airflow_provider_stitch.api.transport import MAX_PAGES
from airflow_provider_stitch.api.urls import parse_url_strictly, require_secure

Row = TypeVar("Row", Extraction, Load)


class StitchClient(ClientCore):
    """Synchronous client of the Stitch Connect API.

    :param token: Stitch API access token.
    :param options: the client's settings; or give them as keyword arguments named as the fields of
        :class:`~airflow_provider_stitch.api.options.ClientOptions` (``base_url``, ``timeout``...).
    :param session: a ``requests.Session`` to reuse (TLS verification stays on regardless).
    :param retry_sleep: function that sleeps between attempts (injectable so tests do not sleep).
    """

    def __init__(
        self,
        token: str | None,
        options: ClientOptions | None = None,
        *,
        session: requests.Session | None = None,
        retry_sleep: Callable[[float], None] = time.sleep,
        **settings: Any,
    ) -> None:
        super().__init__(token, ClientOptions.build(options, settings))
        self._owns_session = session is None
        self._session = watched_session(session, None if session is None else self.options.api_root.origin)
        self._retry_sleep = retry_sleep

    def close(self) -> None:
        """Close the HTTP session when this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> StitchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _call(
        self,
        endpoint: Endpoint,
        *,
        path: str | None = None,
        json_body: Any = None,
        form: dict[str, Any] | None = None,
        lookup_before_resend: Callable[[], Any] | None = None,
        extra_secrets: tuple[str, ...] = (),
        **path_params: Any,
    ) -> Answer:
        """Send one logical request with retries; return the answer (or the lookup's find as its payload).

        :param endpoint: the endpoint being called.
        :param path: a ready path (a pagination link) instead of ``path_params``.
        :param json_body: JSON body.
        :param form: form fields (for form-encoded endpoints).
        :param lookup_before_resend: called before each resend; a non-None result is returned instead.
        :param extra_secrets: more literal secrets to keep out of errors (partner secret...).
        """
        request_path = self._request_path(endpoint, path, path_params)
        secrets = self.secrets + tuple(s for s in extra_secrets if s)
        retrying = Retrying(
            **self._retry_policy(endpoint, lookup_before_resend is not None), sleep=self._retry_sleep
        )
        try:
            for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    if number > 1 and lookup_before_resend is not None:
                        found = lookup_before_resend()
                        if found is not None:
                            return Answer(found, endpoint.method, request_path)
                    return self._attempt(endpoint, request_path, json_body, form, secrets, number)
        except StitchError as error:
            final = self._final_error(endpoint, request_path, error)
            if final is error:
                raise
            raise final from error
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    def _attempt(
        self,
        endpoint: Endpoint,
        path: str,
        json_body: Any,
        form: dict[str, Any] | None,
        secrets: tuple[str, ...],
        number: int,
    ) -> Answer:
        """One HTTP exchange within the request's time limit; a Jobs request pays its budget token first."""
        self._time_limit(endpoint, path)
        if endpoint.is_jobs:
            self.jobs_budget.acquire(self._budget_wait())
        started = time.monotonic()
        try:
            raw = exchange(
                self._session,
                endpoint.method,
                self.base_url + path,
                path=path,
                origin=self.options.api_root.origin,
                headers=self._headers(endpoint),
                json_body=json_body,
                form=form,
                seconds=self._time_limit(endpoint, path),
                max_bytes=self.options.max_response_bytes,
            )
        except Exception as error:
            self._log_attempt(endpoint.method, path, type(error).__name__, number, started)
            raise
        self._log_attempt(endpoint.method, path, raw.status, number, started)
        return self._read(raw, endpoint, path, secrets)

    @property
    def client_id(self) -> int:
        """The Stitch client id; read once from the account's sources or destinations when not given."""
        if self._client_id is None:
            for lister in (self.list_sources, self.list_destinations):
                for item in lister():
                    if item.stitch_client_id:
                        self._client_id = int(item.stitch_client_id)
                        return self._client_id
            raise self._missing_client_id()
        return self._client_id

    @property
    def jobs_budget(self) -> JobsBudget:
        """The budget every Jobs request (each page, each retry) pays from."""
        return self._budget_for(self.client_id)

    # ------------------------------------------------------------------ accounts and auth

    def create_account(
        self,
        partner_id: str,
        partner_secret: str,
        first_name: str,
        last_name: str,
        company: str,
        email: str,
        *,
        region: str = "us-east-1",
    ) -> Account:
        """Create a Stitch client account (partners only; no bearer token is sent).

        :param region: data pipeline region, ``us-east-1`` or ``eu-central-1``; fixed after creation.
        """
        body = {
            "partner_id": partner_id,
            "partner_secret": partner_secret,
            "first_name": first_name,
            "last_name": last_name,
            "company": company,
            "email": email,
            "region": region,
        }
        payload = self._call(ENDPOINTS["create_account"], json_body=body, extra_secrets=(partner_secret,))
        return parse_one(Account, payload)

    def exchange_oauth_code(self, code: str, client_secret: str, client_id: str | None = None) -> OAuthToken:
        """Exchange a partner OAuth authorization code for an access token (form-encoded).

        :param code: the single-use code from the OAuth callback.
        :param client_secret: the partner secret.
        :param client_id: the partner id (optional).
        """
        form = drop_none(
            client_secret=client_secret, code=code, grant_type="authorization_code", client_id=client_id
        )
        payload = self._call(ENDPOINTS["exchange_oauth_code"], form=form, extra_secrets=(client_secret, code))
        return parse_one(OAuthToken, payload)

    def create_ephemeral_session(self) -> Session:
        """Create an ephemeral token for the (deprecated) Stitch JavaScript client."""
        return parse_one(Session, self._call(ENDPOINTS["create_ephemeral_session"]))

    # ------------------------------------------------------------------ destinations

    def list_destinations(self) -> list[Destination]:
        """All destinations of the account."""
        return parse_many(Destination, self._call(ENDPOINTS["list_destinations"]))

    def find_destination(self, name: str) -> Destination | None:
        """The live destination called ``name`` (by ``name`` or ``display_name``), or None."""
        return pick_destination(self.list_destinations(), name)

    def create_destination(
        self,
        type: str,
        properties: dict[str, Any],
        display_name: str | None = None,
        *,
        description: str | None = None,
        ignore_unmapped_sources: bool | None = None,
    ) -> Destination:
        """Create a destination; with a name, a resend after an ambiguous failure finds it first.

        :param type: destination type, e.g. ``postgres``.
        :param properties: destination form properties.
        :param display_name: the destination's name (sent as ``name``).
        :param description: free text.
        :param ignore_unmapped_sources: True to leave currently unmapped sources unmapped.
        """
        body = drop_none(
            type=type,
            name=display_name,
            description=description,
            properties=self._validated(type, properties, partial=False),
            ignore_unmapped_sources=ignore_unmapped_sources,
        )
        lookup = (lambda: self.find_destination(display_name)) if display_name else None
        answer = self._call(ENDPOINTS["create_destination"], json_body=body, lookup_before_resend=lookup)
        return answer.payload if isinstance(answer.payload, Destination) else parse_one(Destination, answer)

    def update_destination(
        self,
        destination_id: int,
        *,
        properties: dict[str, Any] | None = None,
        display_name: str | None = None,
        connection_type: str | None = None,
    ) -> Destination:
        """Change a destination's properties (a partial map is fine) or name.

        The body always carries ``properties`` (the docs list it as required), empty for a rename.

        :param destination_id: the destination.
        :param properties: properties to change.
        :param display_name: new name.
        :param connection_type: the destination's type when known (saves the lookup made to validate).
        """
        if properties is None and display_name is None:
            raise ValueError("update_destination needs properties or display_name")
        if properties and self.validate:
            if connection_type is None:
                current = next((d for d in self.list_destinations() if d.id == int(destination_id)), None)
                connection_type = current.type if current is not None else None
            if connection_type:
                properties = self._validated(connection_type, properties, partial=True)
        body = drop_none(properties=dict(properties or {}), name=display_name)
        payload = self._call(ENDPOINTS["update_destination"], json_body=body, destination_id=destination_id)
        return parse_one(Destination, payload)

    def delete_destination(self, destination_id: int) -> None:
        """Delete a destination (replication halts until another one passes a check)."""
        self._call(ENDPOINTS["delete_destination"], destination_id=destination_id)

    def list_destination_types(self) -> list[ReportCard]:
        """Report cards of every destination type."""
        return parse_many(ReportCard, self._call(ENDPOINTS["list_destination_types"]))

    def get_destination_type(self, type: str) -> ReportCard:
        """Report card of one destination type."""
        return parse_one(ReportCard, self._call(ENDPOINTS["get_destination_type"], destination_type=type))

    def get_destination_last_connection_check(self, destination_id: int) -> ConnectionCheck:
        """Latest connection check of a destination (endpoint listed but not documented by Stitch)."""
        payload = self._call(
            ENDPOINTS["get_destination_last_connection_check"], destination_id=destination_id
        )
        return parse_one(ConnectionCheck, payload)

    # ------------------------------------------------------------------ sources

    def list_sources(self) -> list[Source]:
        """All sources of the account, paused and deleted ones included."""
        return parse_many(Source, self._call(ENDPOINTS["list_sources"]))

    def get_source(self, source_id: int) -> Source:
        """One source (active, paused or deleted)."""
        return parse_one(Source, self._call(ENDPOINTS["get_source"], source_id=source_id))

    def find_source(self, display_name: str, *, include_deleted: bool = False) -> Source | None:
        """The source with this display name, or None."""
        return pick_source(self.list_sources(), display_name, include_deleted=include_deleted)

    def create_source(
        self,
        type: str,
        display_name: str,
        properties: dict[str, Any] | None = None,
        *,
        destination_id: int | None = None,
    ) -> Source:
        """Create a source; a resend after an ambiguous failure first looks it up by display name.

        :param type: source type, e.g. ``platform.hubspot`` or ``import_api``.
        :param display_name: the label; Stitch derives the schema ``name`` from it.
        :param properties: form properties, schedule (``frequency_in_minutes``, ``cron_expression``...) included.
        :param destination_id: destination to load into (accounts with several destinations).
        """
        body = drop_none(
            type=type,
            display_name=display_name,
            properties=self._validated(type, properties or {}, partial=False),
            destination_id=destination_id,
        )
        answer = self._call(
            ENDPOINTS["create_source"],
            json_body=body,
            lookup_before_resend=lambda: self.find_source(display_name),
        )
        return answer.payload if isinstance(answer.payload, Source) else parse_one(Source, answer)

    def update_source(
        self,
        source_id: int,
        *,
        display_name: str | None = None,
        properties: dict[str, Any] | None = None,
        destination_id: int | None = None,
        connection_type: str | None = None,
    ) -> Source:
        """Change a source's display name or properties (partial map); omitted fields stay as they are.

        :param source_id: the source.
        :param display_name: new label.
        :param properties: properties to change.
        :param destination_id: destination to load into.
        :param connection_type: the source's type when known (saves the lookup made to validate).
        """
        if display_name is None and properties is None and destination_id is None:
            raise ValueError("update_source needs display_name, properties or destination_id")
        if properties is not None and self.validate:
            if connection_type is None:
                connection_type = self.get_source(source_id).type
            if connection_type:
                properties = self._validated(connection_type, properties, partial=True)
        body = drop_none(display_name=display_name, properties=properties, destination_id=destination_id)
        return parse_one(Source, self._call(ENDPOINTS["update_source"], json_body=body, source_id=source_id))

    def pause_source(self, source_id: int) -> Source:
        """Pause a source now (scheduled jobs stop; manual syncs still run)."""
        body = {"paused_at": utc_now_iso()}
        return parse_one(Source, self._call(ENDPOINTS["update_source"], json_body=body, source_id=source_id))

    def unpause_source(self, source_id: int) -> Source:
        """Unpause a source."""
        body = {"paused_at": None}
        return parse_one(Source, self._call(ENDPOINTS["update_source"], json_body=body, source_id=source_id))

    def delete_source(self, source_id: int) -> Source:
        """Delete a source (soft delete: it stays listed with ``deleted_at``)."""
        return parse_one(Source, self._call(ENDPOINTS["delete_source"], source_id=source_id))

    def list_source_types(self) -> list[ReportCard]:
        """Report cards of every source type."""
        return parse_many(ReportCard, self._call(ENDPOINTS["list_source_types"]))

    def get_source_type(self, type: str) -> ReportCard:
        """Report card of one source type (required properties, ``details.access``...)."""
        return parse_one(ReportCard, self._call(ENDPOINTS["get_source_type"], source_type=type))

    def get_last_connection_check(self, source_id: int) -> ConnectionCheck:
        """Latest connection check (and discovery) of a source."""
        payload = self._call(ENDPOINTS["get_source_last_connection_check"], source_id=source_id)
        return parse_one(ConnectionCheck, payload)

    # ------------------------------------------------------------------ import API tokens

    def create_import_token(self, source_id: int) -> ImportApiToken:
        """Generate an Import API token (the secret is returned only this once)."""
        return parse_one(ImportApiToken, self._call(ENDPOINTS["create_import_token"], source_id=source_id))

    def list_import_tokens(self, source_id: int) -> list[ImportApiToken]:
        """Ids (and creation times) of a source's Import API tokens."""
        return parse_many(ImportApiToken, self._call(ENDPOINTS["list_import_tokens"], source_id=source_id))

    def revoke_import_token(self, source_id: int, token_id: int) -> Source:
        """Revoke one Import API token; returns the source."""
        payload = self._call(ENDPOINTS["revoke_import_token"], source_id=source_id, token_id=token_id)
        return parse_one(Source, payload)

    # ------------------------------------------------------------------ streams

    def list_streams(self, source_id: int) -> list[Stream]:
        """Streams discovered in a source."""
        return parse_many(Stream, self._call(ENDPOINTS["list_streams"], source_id=source_id))

    def get_stream_schema(self, source_id: int, stream_id: int) -> StreamSchema:
        """Schema and metadata of one stream (``stream_id`` is the numeric id)."""
        payload = self._call(ENDPOINTS["get_stream_schema"], source_id=source_id, stream_id=stream_id)
        return parse_one(StreamSchema, payload)

    def update_stream_metadata(self, source_id: int, streams: list[dict[str, Any]]) -> Any:
        """Select streams and fields or set replication options.

        :param streams: items ``{"tap_stream_id": ..., "metadata": [{"breadcrumb": [...], "metadata": {...}}]}``.
        """
        answer = self._call(
            ENDPOINTS["update_stream_metadata"], json_body={"streams": streams}, source_id=source_id
        )
        return answer.payload

    # ------------------------------------------------------------------ replication jobs

    def start_sync(self, source_id: int, *, raise_if_running: bool = False) -> SyncJob:
        """Start a replication job; when one is running, say so (``already_running=True``).

        :param raise_if_running: raise :class:`StitchAlreadyRunningError` instead of returning.
        """
        endpoint = ENDPOINTS["start_sync"]
        return read_sync_answer(self._call(endpoint, source_id=source_id), raise_if_running)

    def stop_sync(self, source_id: int) -> StatusResponse:
        """Stop the running replication job of a source."""
        answer = self._call(ENDPOINTS["stop_sync"], source_id=source_id)
        return parse_one(StatusResponse, answer) if answer.payload is not None else StatusResponse()

    # ------------------------------------------------------------------ jobs (rate limited)

    def _iter_pages(self, endpoint: Endpoint, model: type[Row]) -> Iterator[list[Row]]:
        """The rows of each page as models, following ``links.next``; every page pays a budget token."""
        path = endpoint.path(stitch_client_id=self.client_id)
        visited = {path}
        for _ in range(MAX_PAGES):
            answer = self._call(endpoint, path=path)
            page = parse_page(answer)
            yield parse_rows(model, answer, page.data)
            if page.next_path is None:
                return
            path = self._next_page_path(answer, page.next_path)
            if path in visited:
                return
            visited.add(path)

    def get_jobs_page(self, endpoint_name: str, page: int = 1) -> Any:
        """One raw page (``{data, page, total, links}``), its envelope checked; pays one budget token.

        :param endpoint_name: ``list_extractions`` or ``list_loads``.
        :param page: page number, from 1.
        """
        endpoint = ENDPOINTS[endpoint_name]
        answer = self._call(endpoint, path=endpoint.page_path(page, stitch_client_id=self.client_id))
        parse_page(answer)
        return answer.payload

    def iter_extraction_pages(self, *, stop_after_source_id: int | None = None) -> Iterator[list[Extraction]]:
        """Extractions page by page, rows already seen dropped; stops after ``stop_after_source_id``'s page."""
        seen = RowDeduplicator(extraction_key)
        for rows in self._iter_pages(ENDPOINTS["list_extractions"], Extraction):
            yield seen.new_rows(rows)
            if passed_source_id(rows, stop_after_source_id):
                return

    def list_extractions(self, *, stop_after_source_id: int | None = None) -> list[Extraction]:
        """The latest completed extraction of each source (past 60 days), all pages."""
        return [
            row
            for page in self.iter_extraction_pages(stop_after_source_id=stop_after_source_id)
            for row in page
        ]

    def iter_load_pages(
        self, *, stop_when: Callable[[list[Load]], bool] | None = None
    ) -> Iterator[list[Load]]:
        """Loads page by page, rows already seen dropped; stops once ``stop_when(page_rows)`` is true."""
        seen = RowDeduplicator(load_key)
        for rows in self._iter_pages(ENDPOINTS["list_loads"], Load):
            yield seen.new_rows(rows)
            if stop_when is not None and stop_when(rows):
                return

    def list_loads(self, *, stop_when: Callable[[list[Load]], bool] | None = None) -> list[Load]:
        """The latest load of each stream (past 60 days), all pages or until ``stop_when`` says so."""
        return [row for page in self.iter_load_pages(stop_when=stop_when) for row in page]

    def get_extraction_logs_url(self, job_name: str) -> str:
        """The pre-signed log URL of an extraction job (the 302 ``Location``; not followed)."""
        endpoint = ENDPOINTS["get_extraction_logs"]
        return redirect_target(self._call(endpoint, stitch_client_id=self.client_id, job_name=job_name))

    def fetch_extraction_logs(self, job_name: str) -> str:
        """Download an extraction job's log text; the log host never receives the Stitch token."""
        target = require_secure(
            parse_url_strictly(self.get_extraction_logs_url(job_name), what="log URL", allow_query=True),
            what="log URL",
        )
        with watched_session(None) as plain:
            raw: RawResponse = exchange(
                plain,
                "GET",
                str(target),
                path="<log URL>",
                origin=target.origin,
                headers={"User-Agent": self.user_agent},
                json_body=None,
                form=None,
                seconds=self._time_limit(ENDPOINTS["get_extraction_logs"], "<log URL>"),
                max_bytes=self.options.max_response_bytes,
            )
        if raw.status >= 300:
            raise StitchAPIError(
                raw.status, None, "could not download the log file", method="GET", path="<log URL>"
            )
        return raw.text

    # ------------------------------------------------------------------ notifications

    def list_custom_emails(self) -> list[CustomEmail]:
        """Custom notification recipients, disabled ones included."""
        return parse_many(CustomEmail, self._call(ENDPOINTS["list_custom_emails"]))

    def create_custom_email(self, email_address: str) -> CustomEmail:
        """Add a custom notification recipient."""
        payload = self._call(ENDPOINTS["create_custom_email"], json_body={"email_address": email_address})
        return parse_one(CustomEmail, payload)

    def disable_custom_email(self, custom_email_id: int) -> DisabledAtResponse:
        """Stop sending notifications to a recipient."""
        body = {"disabled_at": utc_now_iso()}
        payload = self._call(
            ENDPOINTS["update_custom_email"], json_body=body, custom_email_id=custom_email_id
        )
        return parse_one(DisabledAtResponse, payload)

    def enable_custom_email(self, custom_email_id: int) -> DisabledAtResponse:
        """Resume notifications to a recipient."""
        body = {"disabled_at": None}
        payload = self._call(
            ENDPOINTS["update_custom_email"], json_body=body, custom_email_id=custom_email_id
        )
        return parse_one(DisabledAtResponse, payload)

    def delete_custom_email(self, custom_email_id: int) -> Any:
        """Remove a recipient (Stitch answers with the count of deleted rows)."""
        return self._call(ENDPOINTS["delete_custom_email"], custom_email_id=custom_email_id).payload

    def list_post_load_hooks(self) -> list[PostLoadHook]:
        """Post-load webhooks of the account."""
        return parse_many(
            PostLoadHook, self._call(ENDPOINTS["list_post_load_hooks"]), wrapper_key="post_load"
        )

    def create_post_load_hook(self, url: str, *, destination_id: int | None = None) -> PostLoadHook:
        """Add a post-load webhook calling ``url``."""
        body = drop_none(type="post_load", destination_id=destination_id, config={"url": url})
        return parse_one(PostLoadHook, self._call(ENDPOINTS["create_post_load_hook"], json_body=body))

    def disable_post_load_hook(self, hook_id: int) -> PostLoadHook:
        """Disable a post-load webhook."""
        payload = self._call(ENDPOINTS["update_post_load_hook"], json_body={"enable": False}, hook_id=hook_id)
        return parse_one(PostLoadHook, payload)

    def enable_post_load_hook(self, hook_id: int) -> PostLoadHook:
        """Re-enable a post-load webhook."""
        payload = self._call(ENDPOINTS["update_post_load_hook"], json_body={"enable": True}, hook_id=hook_id)
        return parse_one(PostLoadHook, payload)

    def delete_post_load_hook(self, hook_id: int) -> None:
        """Delete a post-load webhook."""
        self._call(ENDPOINTS["delete_post_load_hook"], hook_id=hook_id)


__all__ = ["StitchClient"]
