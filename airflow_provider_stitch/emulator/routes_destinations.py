"""Destinations (v4, and the outdated v3 paths) and destination types."""

from __future__ import annotations

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
from airflow_provider_stitch.emulator.lifecycle import check_json, start_check
from airflow_provider_stitch.emulator.report_cards import report_card
from airflow_provider_stitch.emulator.responses import json_answer, not_found, text_error
from airflow_provider_stitch.emulator.runtime import EmulatorRuntime, authenticate, numeric_id, read_json
from airflow_provider_stitch.emulator.state import AccountRecord, DestinationRecord
from airflow_provider_stitch.emulator.views import destination_json

router = APIRouter()

POST_KEYS = {"type", "name", "description", "properties", "ignore_unmapped_sources"}
POST_MESSAGE = (
    "POST body may only include a type, a name, a description, map of properties, and boolean for "
    "unmapped sources"
)
V3_TYPES = ("redshift", "postgres", "snowflake")
V3_POST_MESSAGE = (
    "body must be a map with type = redshift, postgres, or snowflake. required-keys = type, connection"
)
LIMIT_MESSAGE = "you are at your destination limit"
GET_PARAMS_MESSAGE = "GET may only include the params: source_id and/or destination_id"


def _destination_connector(destination_type: Any) -> ConnectorSpec | None:
    try:
        connector = get_connector(str(destination_type))
    except UnknownConnectionTypeError:
        return None
    if connector.type != destination_type or connector.kind != "destination":
        return None
    return connector


def _validated(
    connector: ConnectorSpec, properties: Mapping[str, Any], *, fill_defaults: bool
) -> dict[str, Any]:
    """Check the supplied properties; missing required ones make the connection check fail instead.

    With ``fill_defaults``, documented defaults are filled in, and so are the values Stitch stores for a
    required property a create leaves out (the catalog's ``create_default``: ``encryption_type`` ``none``).
    """
    try:
        checked = validate_properties(connector.type, properties, partial=True)
    except PropertiesValidationError as problem:
        raise text_error(
            "properties do not match schema: " + ", ".join(problem.bad_properties() or ["properties"])
        ) from None
    if fill_defaults:
        for spec in connector.properties:
            if spec.name in checked:
                continue
            if spec.default is not None:
                checked[spec.name] = spec.default
            elif spec.create_default is not None:
                checked[spec.name] = spec.create_default
    return checked


def _create(
    runtime: EmulatorRuntime,
    account: AccountRecord,
    connector: ConnectorSpec,
    properties: dict[str, Any],
    now: float,
    name: Any = None,
    description: Any = None,
    ignore_unmapped: bool = False,
) -> DestinationRecord:
    if len(account.destinations) >= int(runtime.state.setting("destination_limit")):
        raise text_error(LIMIT_MESSAGE)
    destination = DestinationRecord(
        id=runtime.state.next_id("destination"),
        type=connector.type,
        name=str(name) if name else connector.display_name,
        description=description,
        properties=properties,
        created_at=now,
        updated_at=now,
        ignore_unmapped_sources=ignore_unmapped,
    )
    destination.check = start_check(runtime.state, account, destination.id, now)
    account.destinations[destination.id] = destination
    return destination


@router.get("/v4/destinations")
async def list_destinations(request: Request) -> Response:
    _, account, _ = authenticate(request)
    params = dict(request.query_params)
    if set(params) - {"source_id", "destination_id"}:
        raise text_error(GET_PARAMS_MESSAGE)
    chosen = list(account.destinations.values())
    if params.get("destination_id"):
        chosen = [d for d in chosen if str(d.id) == params["destination_id"]]
    if params.get("source_id"):
        source = account.sources.get(int(params["source_id"])) if params["source_id"].isdigit() else None
        wanted = source.destination_id if source is not None else None
        chosen = [d for d in chosen if source is not None and (wanted is None or d.id == wanted)]
    return json_answer([destination_json(d, account) for d in chosen])


@router.post("/v4/destinations")
async def create_destination(request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        if (
            not isinstance(body, dict)
            or set(body) - POST_KEYS
            or not isinstance(body.get("properties"), dict)
            or not isinstance(body.get("ignore_unmapped_sources", False), bool)
        ):
            raise text_error(POST_MESSAGE)
        connector = _destination_connector(body.get("type"))
        if connector is None:
            raise text_error(POST_MESSAGE)
        properties = _validated(connector, body["properties"], fill_defaults=True)
        destination = _create(
            runtime,
            account,
            connector,
            properties,
            now,
            body.get("name"),
            body.get("description"),
            bool(body.get("ignore_unmapped_sources", False)),
        )
        return json_answer(destination_json(destination, account))


def _destination_to_update(
    account: AccountRecord, destination_id: str, body: Any, body_is_valid: bool, body_message: str
) -> DestinationRecord:
    """The destination a PUT names, after the checks both API versions make in this order."""
    destination = account.destinations.get(numeric_id(destination_id, "destination"))
    if destination is None:
        raise text_error("invalid connection id")
    if not body_is_valid:
        raise text_error(body_message)
    if "type" in body and body["type"] != destination.type:
        raise text_error("this API endpoint does not support modifying destination type")
    return destination


def _save_update(
    runtime: EmulatorRuntime,
    account: AccountRecord,
    destination: DestinationRecord,
    properties: dict[str, Any],
    now: float,
) -> None:
    """Merge validated properties in and start the new connection check."""
    destination.properties.update(properties)
    destination.updated_at = now
    destination.check = start_check(runtime.state, account, destination.id, now)


@router.put("/v4/destinations/{destination_id}")
async def update_destination(destination_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        destination = _destination_to_update(
            account, destination_id, body, isinstance(body, dict), POST_MESSAGE
        )
        if set(body) - POST_KEYS or not isinstance(body.get("properties", {}), dict):
            raise text_error(POST_MESSAGE)
        connector = get_connector(destination.type)
        properties = _validated(connector, body.get("properties") or {}, fill_defaults=False)
        for key in ("name", "description"):
            if key in body:
                setattr(destination, key, body[key])
        _save_update(runtime, account, destination, properties, now)
        return json_answer(destination_json(destination, account))


@router.delete("/v4/destinations/{destination_id}")
async def delete_destination(destination_id: str, request: Request) -> Response:
    runtime, account, _ = authenticate(request)
    with runtime.state.lock:
        if account.destinations.pop(numeric_id(destination_id, "destination"), None) is None:
            raise text_error(
                f"Unable to locate dest ({destination_id}) for client ({account.client_id}) to delete"
            )
        return json_answer({})


@router.get("/v4/destinations/{destination_id}/last-connection-check")
async def destination_connection_check(destination_id: str, request: Request) -> Response:
    _, account, now = authenticate(request)
    destination = account.destinations.get(numeric_id(destination_id, "destination"))
    if destination is None:
        raise not_found(f"no destination {destination_id}")
    return json_answer(check_json(destination.check, now))


@router.get("/v4/destination-types")
async def list_destination_types(request: Request) -> Response:
    authenticate(request)
    return json_answer([report_card(c, with_details=True) for c in list_connectors("destination")])


@router.get("/v4/destination-types/{destination_type}")
async def get_destination_type(destination_type: str, request: Request) -> Response:
    authenticate(request)
    connector = _destination_connector(destination_type)
    if connector is None:
        raise not_found(f"unknown destination type ({destination_type})")
    return json_answer(report_card(connector, with_details=True))


# ------------------------------------------------------------------------------------ v3 (outdated)
def _v3_json(destination: DestinationRecord, account: AccountRecord, now: float) -> dict[str, Any]:
    body = destination_json(destination, account)
    body["connection"] = body.pop("properties")
    check = check_json(destination.check, now) or {}
    body["last_check"] = {
        "error": bool(check.get("error")),
        "started_at": check.get("start_time"),
        "completed_at": check.get("completion_time"),
    }
    body.pop("report_card", None)
    return body


@router.get("/v3/destinations")
async def list_destinations_v3(request: Request) -> Response:
    _, account, now = authenticate(request)
    first = next(iter(account.destinations.values()), None)
    return json_answer([] if first is None else [_v3_json(first, account, now)])


@router.post("/v3/destinations")
async def create_destination_v3(request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        if (
            not isinstance(body, dict)
            or set(body) - {"type", "connection"}
            or body.get("type") not in V3_TYPES
            or not isinstance(body.get("connection"), dict)
        ):
            raise text_error(V3_POST_MESSAGE)
        connector = get_connector(str(body["type"]))
        properties = _validated(connector, body["connection"], fill_defaults=True)
        destination = _create(runtime, account, connector, properties, now)
        return json_answer(_v3_json(destination, account, now))


@router.put("/v3/destinations/{destination_id}")
async def update_destination_v3(destination_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        body_is_valid = isinstance(body, dict) and isinstance(body.get("connection", {}), dict)
        destination = _destination_to_update(account, destination_id, body, body_is_valid, V3_POST_MESSAGE)
        connector = get_connector(destination.type)
        properties = _validated(connector, body.get("connection") or {}, fill_defaults=False)
        _save_update(runtime, account, destination, properties, now)
        return json_answer(_v3_json(destination, account, now))
