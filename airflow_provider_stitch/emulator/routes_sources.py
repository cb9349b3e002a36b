"""Sources, source types, connection checks and Import API tokens."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from airflow_provider_stitch.connectors import (
    ConnectorSpec,
    PropertiesValidationError,
    UnknownConnectionTypeError,
    get_connector,
    list_connectors,
    validate_properties,
)
from airflow_provider_stitch.connectors.rules import (
    BothDayFieldsViolation,
    RuleViolation,
    cron_expression,
)
from airflow_provider_stitch.emulator import jobs
from airflow_provider_stitch.emulator.clock import iso, parse_timestamp
from airflow_provider_stitch.emulator.lifecycle import (
    advance_step,
    check_json,
    has_field_selection,
    reschedule,
    start_check,
)
from airflow_provider_stitch.emulator.naming import derive_name, is_valid_name
from airflow_provider_stitch.emulator.report_cards import report_card
from airflow_provider_stitch.emulator.responses import (
    encoded_answer,
    json_answer,
    not_found,
    source_error,
)
from airflow_provider_stitch.emulator.runtime import authenticate, numeric_id, read_json
from airflow_provider_stitch.emulator.state import AccountRecord, SourceRecord
from airflow_provider_stitch.emulator.views import encoded_source, encoded_sources, source_json

router = APIRouter()

POST_KEYS = {"display_name", "type", "properties", "destination_id", "name"}
PUT_KEYS = {"display_name", "properties", "paused_at", "destination_id"}
POST_BODY_MESSAGE = (
    "POST body may only include a non-empty type, a non-empty display_name and map of string properties"
)
PUT_BODY_MESSAGE = "PUT body many only include the keys: display_name, properties, and paused_at"
NAME_RULE_MESSAGE = (
    "The name field must be under 50 characters, and can only contain lowercase letters, numbers, "
    "underscores, or dollar signs. It must begin with a letter or an underscore."
)
BOTH_DAYS_MESSAGE = (
    "Support for specifying both a day-of-week AND a day-of-month parameter is not implemented."
)
IMPORT_API_TOKEN_LIMIT = 2


def source_connector(source_type: Any) -> ConnectorSpec:
    """The connector of a source type exactly as spelled, or an ``InvalidType`` error."""
    try:
        connector = get_connector(str(source_type))
    except UnknownConnectionTypeError:
        connector = None
    if connector is None or connector.type != source_type or connector.kind != "source":
        raise source_error("InvalidType", f"invalid source type ({source_type})")
    return connector


def _check_cron(properties: Mapping[str, Any], cron_allowed: bool) -> None:
    cron = properties.get("cron_expression")
    if cron in (None, ""):
        return
    if not cron_allowed:
        raise source_error("AccessDenied", "access to cron_expression based scheduling is not permitted")
    try:
        cron_expression(cron)
    except BothDayFieldsViolation:
        raise source_error(
            "InvalidCronExpression", f'cron_expression "{cron}" is invalid: {BOTH_DAYS_MESSAGE}'
        ) from None
    except RuleViolation as problem:
        raise source_error(
            "InvalidCronExpression", f'cron_expression "{cron}" is invalid: {problem}'
        ) from None


def checked_properties(
    connector: ConnectorSpec, properties: Mapping[str, Any], card: dict[str, Any], cron_allowed: bool
) -> dict[str, Any]:
    """Validate (partially) the properties of a create or update; ``InvalidProperties`` on any problem.

    The rules are the connectors' own (the client's too), empty strings included; only the account's
    cron permission and Stitch's error code for a cron expression are the emulator's.
    """
    _check_cron(properties, cron_allowed)
    try:
        return validate_properties(connector.type, properties, partial=True)
    except PropertiesValidationError as problem:
        raise source_error(
            "InvalidProperties",
            "properties do not match schema",
            bad_properties=problem.bad_properties(),
            report_card=card,
        ) from None


def _active_sources(account: AccountRecord) -> list[SourceRecord]:
    return [s for s in account.sources.values() if s.deleted_at is None]


def _owned_source(account: AccountRecord, source_id: str) -> SourceRecord:
    source = account.sources.get(numeric_id(source_id, "source"))
    if source is None:
        raise source_error("InvalidId", f"source not found ({source_id})")
    return source


def _choose_name(account: AccountRecord, body: Mapping[str, Any], display_name: str) -> str:
    active = _active_sources(account)
    if any(s.display_name == display_name for s in active):
        raise source_error("InvalidName", f"non-unique name ({display_name})")
    taken = {s.name for s in active}
    explicit = body.get("name")
    if explicit is not None:
        if not isinstance(explicit, str) or not is_valid_name(explicit):
            raise source_error("InvalidName", NAME_RULE_MESSAGE)
        if explicit in taken:
            raise source_error("InvalidName", f"non-unique name ({explicit})")
        return explicit
    derived = derive_name(display_name)
    if not derived:
        raise source_error(
            "InvalidDisplayName", f"invalid name after deriving it from display_name ({display_name} -> )"
        )
    if derived in taken:
        raise source_error(
            "InvalidName",
            f"non-unique name after deriving it from display_name ({display_name} -> {derived})",
        )
    return derived


@router.get("/v4/sources")
async def list_sources(request: Request) -> Response:
    runtime, account, _ = authenticate(request)
    return encoded_answer(encoded_sources(account, runtime.state))


@router.post("/v4/sources")
async def create_source(request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        if (
            not isinstance(body, dict)
            or set(body) - POST_KEYS
            or not isinstance(body.get("type"), str)
            or not body.get("type")
            or not isinstance(body.get("display_name"), str)
            or not body["display_name"].strip()
            or not isinstance(body.get("properties", {}), dict)
            or not isinstance(body.get("destination_id", 0), (int, type(None)))
        ):
            raise source_error("InvalidBody", POST_BODY_MESSAGE)
        connector = source_connector(body["type"])
        if connector.deprecated and not runtime.state.setting("allow_deprecated_types"):
            raise source_error("AccessDenied", f"you do not have access to source type ({connector.type})")
        display_name = body["display_name"]
        name = _choose_name(account, body, display_name)
        card = report_card(connector)
        properties = checked_properties(
            connector, body.get("properties") or {}, card, bool(runtime.state.setting("cron_scheduling"))
        )
        if connector.property("image_version") is not None:
            properties.setdefault("image_version", "1.latest")
        if connector.property("frequency_in_minutes") is not None and not properties.get(
            "frequency_in_minutes"
        ):
            properties["frequency_in_minutes"] = str(connector.default_frequency_in_minutes or 60)
        source = SourceRecord(
            id=runtime.state.next_id("source"),
            type=connector.type,
            name=name,
            display_name=display_name,
            properties=properties,
            created_at=now,
            updated_at=now,
            step=connector.steps[0],
            destination_id=body.get("destination_id"),
        )
        account.sources[source.id] = source
        advance_step(runtime.state, account, source, now)
        return json_answer(source_json(source, account, runtime.state))


@router.get("/v4/sources/{source_id}")
async def get_source(source_id: str, request: Request) -> Response:
    runtime, account, _ = authenticate(request)
    source = account.sources.get(numeric_id(source_id, "source"))
    if source is None:
        raise source_error("InvalidId", f"source not found ({source_id})", status=404)
    return encoded_answer(encoded_source(source, account, runtime.state))


@router.put("/v4/sources/{source_id}")
async def update_source(source_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        source = _owned_source(account, source_id)
        if source.deleted_at is not None:
            raise source_error("InvalidId", f"source not found ({source_id})")
        if not isinstance(body, dict) or not body or set(body) - PUT_KEYS:
            raise source_error("InvalidBody", PUT_BODY_MESSAGE)
        if not isinstance(body.get("properties", {}), dict):
            raise source_error("InvalidBody", PUT_BODY_MESSAGE)
        connector = get_connector(source.type)
        if "display_name" in body:
            display_name = body["display_name"]
            if not isinstance(display_name, str) or not display_name.strip():
                raise source_error("InvalidDisplayName", f"invalid display_name ({display_name})")
        paused_at: Any = source.paused_at
        if "paused_at" in body:
            paused_at = body["paused_at"]
            if paused_at is not None and parse_timestamp(paused_at) is None:
                raise source_error("InvalidBody", PUT_BODY_MESSAGE)
        if "properties" in body:
            card = source_json(source, account, runtime.state)["report_card"]
            changes = checked_properties(
                connector, body["properties"], card, bool(runtime.state.setting("cron_scheduling"))
            )
            source.properties.update(changes)
            check_done = source.check is not None and source.check.finished
            if source.step in ("field_selection", "fully_configured") or (
                source.step == "discover_schema" and check_done
            ):
                # New properties are tested again; a failed check at discover_schema is retried.
                source.check = start_check(runtime.state, account, source.id, now)
        if "display_name" in body:
            source.display_name = body["display_name"]
        if "destination_id" in body:
            source.destination_id = body["destination_id"]
        source.paused_at = paused_at
        source.updated_at = now
        advance_step(runtime.state, account, source, now)
        reschedule(source, now, runtime.state)
        return json_answer(source_json(source, account, runtime.state))


@router.delete("/v4/sources/{source_id}")
async def delete_source(source_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    with runtime.state.lock:
        source = _owned_source(account, source_id)
        if source.deleted_at is None:
            if source.job is not None:
                jobs.stop_job(
                    account, source, source.job, now, has_field_selection(get_connector(source.type))
                )
            source.deleted_at = now
            source.updated_at = now
            source.next_fire_at = None
        return json_answer(source_json(source, account, runtime.state))


@router.get("/v4/source-types")
async def list_source_types(request: Request) -> Response:
    runtime, _, _ = authenticate(request)
    allowed = bool(runtime.state.setting("allow_deprecated_types"))
    return json_answer(
        [report_card(c, with_details=True, allow_deprecated=allowed) for c in list_connectors("source")]
    )


@router.get("/v4/source-types/{source_type}")
async def get_source_type(source_type: str, request: Request) -> Response:
    runtime, _, _ = authenticate(request)
    try:
        connector = get_connector(source_type)
    except UnknownConnectionTypeError:
        raise not_found(f"unknown source type ({source_type})") from None
    if connector.type != source_type or connector.kind != "source":
        raise not_found(f"unknown source type ({source_type})")
    allowed = bool(runtime.state.setting("allow_deprecated_types"))
    return json_answer(report_card(connector, with_details=True, allow_deprecated=allowed))


@router.get("/v4/sources/{source_id}/last-connection-check")
async def last_connection_check(source_id: str, request: Request) -> Response:
    _, account, now = authenticate(request)
    source = account.sources.get(numeric_id(source_id, "source"))
    if source is None:
        raise source_error("InvalidId", f"source not found ({source_id})", status=404)
    if source.check is None:
        raise not_found(f"source {source_id} has not run a connection check")
    return json_answer(check_json(source.check, now))


# ---------------------------------------------------------------------------------- Import API tokens
def _import_source(account: AccountRecord, source_id: str) -> SourceRecord:
    source = account.sources.get(numeric_id(source_id, "source"))
    if source is None or source.deleted_at is not None:
        raise source_error("InvalidId", f"source not found ({source_id})")
    if source.type != "import_api":
        raise source_error("InvalidType", f"only import_api sources have Import API tokens ({source.type})")
    return source


@router.post("/v4/sources/{source_id}/tokens")
async def create_import_token(source_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    with runtime.state.lock:
        source = _import_source(account, source_id)
        if len(source.import_tokens) >= IMPORT_API_TOKEN_LIMIT:
            raise source_error(
                "TokenLimit",
                f"an Import API source may have at most {IMPORT_API_TOKEN_LIMIT} active tokens; revoke one first",
            )
        token_id = runtime.state.next_id("import_token")
        source.import_tokens[token_id] = now
        return json_answer({"id": token_id, "access_token": secrets.token_hex(32)})


@router.get("/v4/sources/{source_id}/tokens")
async def list_import_tokens(source_id: str, request: Request) -> Response:
    _, account, _ = authenticate(request)
    source = _import_source(account, source_id)
    return json_answer(
        [{"token_id": tid, "created_at": iso(created)} for tid, created in source.import_tokens.items()]
    )


@router.delete("/v4/sources/{source_id}/tokens/{token_id}")
async def revoke_import_token(source_id: str, token_id: str, request: Request) -> Response:
    runtime, account, _ = authenticate(request)
    with runtime.state.lock:
        source = _import_source(account, source_id)
        if source.import_tokens.pop(numeric_id(token_id, "token"), None) is None:
            raise not_found(f"no Import API token {token_id} on source {source_id}")
        return json_answer(source_json(source, account, runtime.state))
