"""Pydantic models of Stitch Connect API objects.

Tolerant by design: unknown fields are kept (``extra="allow"``), enumerations are plain strings,
fields the docs show as null are optional, and ids are integers.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator


class StitchModel(BaseModel):
    """Base of every API object: keeps unknown fields and accepts field names or aliases."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Schedule(StitchModel):
    """When Stitch runs a source's scheduled jobs (``interval`` or ``cron``)."""

    type: str | None = None
    unit: str | None = None
    interval: float | None = None
    cron_expression: str | None = None
    next_fire_time: datetime | None = None


class ReportCardProperty(StitchModel):
    """One property of a connection step: what it is and whether it has been provided."""

    name: str
    is_required: bool | None = None
    is_credential: bool | None = None
    system_provided: bool | None = None
    property_type: str | None = None
    json_schema: dict[str, Any] | None = None
    provided: bool | None = None
    tap_mutable: bool | None = None


class ConnectionStep(StitchModel):
    """One setup step of a connection (``form``, ``oauth``, ``discover_schema``, ...)."""

    type: str
    properties: list[ReportCardProperty] = Field(default_factory=list)


class ReportCard(StitchModel):
    """Setup progress of a source or destination, or the requirements of a connection type."""

    type: str | None = None
    current_step: int | None = None
    current_step_type: str | None = None
    steps: list[ConnectionStep] = Field(default_factory=list)
    details: dict[str, Any] | None = None

    @property
    def properties(self) -> list[ReportCardProperty]:
        """All properties of all steps, in step order."""
        return [prop for step in self.steps for prop in step.properties]

    def step(self, step_type: str) -> ConnectionStep | None:
        """The step of the given type, or None."""
        return next((s for s in self.steps if s.type == step_type), None)


class _StitchConnection(StitchModel):
    """Fields a source and a destination share (both are "connections" in Stitch's terms)."""

    id: int
    stitch_client_id: int | None = None
    type: str | None = None
    name: str | None = None
    display_name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    check_job_name: str | None = None
    paused_at: datetime | None = None
    system_paused_at: datetime | None = None
    deleted_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    report_card: ReportCard | None = None

    @property
    def is_paused(self) -> bool:
        """True when the user or Stitch paused it."""
        return self.paused_at is not None or self.system_paused_at is not None

    @property
    def is_deleted(self) -> bool:
        """True when it was (soft-)deleted."""
        return self.deleted_at is not None


class Source(_StitchConnection):
    """A source (integration) of the account."""

    schedule: Schedule | None = None
    destination_id: int | None = None


class Destination(_StitchConnection):
    """A destination of the account (v4 shape; v3 ``connection``/``last_check`` kept as extras)."""

    description: str | None = None


class ConnectionCheck(StitchModel):
    """The latest connection check (and discovery) job of a source or destination."""

    name: str | None = None
    mode: str | None = None
    status: str | None = None
    error: bool | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    check_exit_status: int | None = None
    discovery_exit_status: int | None = None
    tap_exit_status: int | None = None
    target_exit_status: int | None = None
    discovery_error_message: str | None = None
    tap_error_message: str | None = None
    target_error_message: str | None = None

    @property
    def is_running(self) -> bool:
        """True while the check has not finished."""
        return self.status == "running" or (self.status is None and self.completion_time is None)


class Stream(StitchModel):
    """A stream (table) discovered in a source."""

    stream_id: int
    tap_stream_id: str | None = None
    stream_name: str | None = None
    selected: bool | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class MetadataEntry(StitchModel):
    """Metadata for a stream (``breadcrumb == []``) or one of its fields (``["properties", name]``)."""

    breadcrumb: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class StreamSchema(StitchModel):
    """A stream's JSON schema and metadata.

    The API sends ``schema`` as a JSON-encoded string; it is parsed into ``json_schema``
    (attribute name chosen so it does not shadow pydantic's ``BaseModel.schema``).
    """

    json_schema: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("schema", "json_schema")
    )
    metadata: list[MetadataEntry] = Field(default_factory=list)
    non_discoverable_metadata_keys: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("non-discoverable-metadata-keys", "non_discoverable_metadata_keys"),
    )

    @field_validator("json_schema", mode="before")
    @classmethod
    def _parse_schema_text(cls, value: Any) -> Any:
        """Parse the schema when it arrives as JSON text."""
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return {} if value is None else value

    @property
    def stream_metadata(self) -> dict[str, Any]:
        """Metadata of the stream itself (the entry with an empty breadcrumb)."""
        return next((e.metadata for e in self.metadata if not e.breadcrumb), {})

    def field_metadata(self, field_name: str) -> dict[str, Any] | None:
        """Metadata of one top-level field, or None when the field is unknown."""
        crumb = ["properties", field_name]
        return next((e.metadata for e in self.metadata if e.breadcrumb == crumb), None)


class Extraction(StitchModel):
    """The latest completed extraction of one source (the API names the type ``source_type`` or ``tap_name``)."""

    job_name: str | None = None
    stitch_client_id: int | None = None
    source_id: int
    source_type: str | None = Field(default=None, validation_alias=AliasChoices("source_type", "tap_name"))
    start_time: datetime | None = None
    completion_time: datetime | None = None
    discovery_exit_status: int | None = None
    discovery_description: str | None = None
    tap_exit_status: int | None = None
    tap_description: str | None = None
    target_exit_status: int | None = None
    target_description: str | None = None

    @property
    def exit_statuses(self) -> tuple[int | None, int | None, int | None]:
        """Discovery, tap and target exit statuses."""
        return (self.discovery_exit_status, self.tap_exit_status, self.target_exit_status)

    @property
    def is_finished(self) -> bool:
        """True when all three phases reported an exit status."""
        return all(status is not None for status in self.exit_statuses)

    @property
    def succeeded(self) -> bool:
        """True when all three phases exited with 0."""
        return all(status == 0 for status in self.exit_statuses)


class Load(StitchModel):
    """The latest load attempt of one stream (rows name the source by ``source_name``)."""

    stitch_client_id: int | None = None
    source_name: str | None = None
    stream_name: str | None = None
    last_batch_loaded_at: datetime | None = None
    error_state: dict[str, Any] | None = None


class JobsPage(StitchModel):
    """One page of a paginated Jobs list (``data``, ``page``, ``total``, ``links``)."""

    data: list[dict[str, Any]] = Field(default_factory=list)
    page: int | None = None
    total: int | None = None
    links: dict[str, Any] = Field(default_factory=dict)

    @field_validator("links", mode="before")
    @classmethod
    def _links_never_null(cls, value: Any) -> Any:
        """Treat a null ``links`` like an empty one."""
        return {} if value is None else value

    @property
    def next_path(self) -> str | None:
        """The ``links.next`` path, when there is a next page."""
        nxt = self.links.get("next")
        return nxt if isinstance(nxt, str) and nxt else None


class Account(StitchModel):
    """A client account created by a partner."""

    access_token: str | None = Field(default=None, repr=False)
    stitch_account_id: int | None = None


class OAuthToken(StitchModel):
    """The answer of the partner OAuth code exchange."""

    token_type: str | None = None
    access_token: str | None = Field(default=None, repr=False)
    stitch_account_id: int | None = None


class Session(StitchModel):
    """An ephemeral token for the (deprecated) Stitch JavaScript client."""

    ephemeral_token: str | None = Field(default=None, repr=False)


class CustomEmail(StitchModel):
    """A custom notification email recipient."""

    id: int
    client_id: int | None = None
    email_address: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    disabled_at: datetime | None = None


class PostLoadHook(StitchModel):
    """A post-load webhook notification."""

    id: int
    client_id: int | None = None
    type: str | None = None
    version: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    destination_id: int | str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    disabled_at: datetime | None = None

    @property
    def url(self) -> str | None:
        """The URL Stitch posts to."""
        url = self.config.get("url")
        return str(url) if url is not None else None


class ImportApiToken(StitchModel):
    """An Import API access token of an ``import_api`` source (the secret only on creation)."""

    id: int = Field(validation_alias=AliasChoices("id", "token_id"))
    access_token: str | None = Field(default=None, repr=False)
    created_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_id(cls, value: Any) -> Any:
        """Accept the older list form, where each token is only its numeric id."""
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            return {"id": value}
        return value


class SyncJob(StitchModel):
    """A started replication job, or the note that one was already running."""

    job_name: str | None = None
    already_running: bool = False
    message: str | None = None


class StatusResponse(StitchModel):
    """The ``{"status": 200}`` acknowledgement of some writes."""

    status: int | str | None = None


class DisabledAtResponse(StitchModel):
    """The answer of enabling or disabling a custom email recipient."""

    disabled_at: datetime | None = None
