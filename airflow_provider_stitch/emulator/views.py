"""How stored records look in API responses; credentials are never part of them."""

from __future__ import annotations

from typing import Any

from airflow_provider_stitch.connectors import credential_properties, get_connector
from airflow_provider_stitch.emulator.clock import iso
from airflow_provider_stitch.emulator.lifecycle import schedule_json
from airflow_provider_stitch.emulator.report_cards import (
    encoded_progress_card,
    progress_card,
)
from airflow_provider_stitch.emulator.responses import encode_json
from airflow_provider_stitch.emulator.state import (
    AccountRecord,
    CustomEmailRecord,
    DestinationRecord,
    EmulatorState,
    HookRecord,
    SourceRecord,
)


def visible_properties(connection_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    """Properties without credentials, values as strings (as Stitch returns them)."""
    hidden = credential_properties(connection_type)
    shown: dict[str, Any] = {}
    for name, value in sorted(properties.items()):
        if name in hidden:
            continue
        if isinstance(value, bool):
            shown[name] = "true" if value else "false"
        elif isinstance(value, (int, float)):
            shown[name] = str(value)
        else:
            shown[name] = value
    return shown


def provided_names(properties: dict[str, Any]) -> set[str]:
    """Names of properties with a non-empty value."""
    return {name for name, value in properties.items() if value not in (None, "")}


def _source_fields(source: SourceRecord, account: AccountRecord, state: EmulatorState) -> dict[str, Any]:
    """A Source object without its report card (the docs show no ``destination_id`` on it)."""
    return {
        "id": source.id,
        "stitch_client_id": account.client_id,
        "type": source.type,
        "name": source.name,
        "display_name": source.display_name,
        "properties": visible_properties(source.type, source.properties),
        "schedule": schedule_json(source, state),
        "check_job_name": source.check.name if source.check else None,
        "paused_at": source.paused_at,
        "system_paused_at": None,
        "deleted_at": iso(source.deleted_at),
        "created_at": iso(source.created_at),
        "updated_at": iso(source.updated_at),
    }


def _provided(source: SourceRecord) -> set[str]:
    provided = provided_names(source.properties)
    if source.oauth_authorized:
        connector = get_connector(source.type)
        provided |= {spec.name for spec in connector.properties if spec.step == "oauth"}
    return provided


def source_json(source: SourceRecord, account: AccountRecord, state: EmulatorState) -> dict[str, Any]:
    """A Source object (its report card is shared with sources of the same shape: do not change it)."""
    body = _source_fields(source, account, state)
    body["report_card"] = progress_card(get_connector(source.type), source.step, _provided(source))
    return body


def encoded_source_parts(source: SourceRecord, account: AccountRecord, state: EmulatorState) -> list[bytes]:
    """:func:`source_json` as pieces of JSON bytes to join; the report card is encoded once per shape."""
    fields = encode_json(_source_fields(source, account, state))
    card = encoded_progress_card(get_connector(source.type), source.step, _provided(source))
    return [fields[:-1], b',"report_card":', card, b"}"]


def encoded_source(source: SourceRecord, account: AccountRecord, state: EmulatorState) -> bytes:
    """:func:`source_json` as JSON bytes."""
    return b"".join(encoded_source_parts(source, account, state))


def encoded_sources(account: AccountRecord, state: EmulatorState) -> bytes:
    """Every source of the account as a JSON array (``GET /v4/sources``), joined in one pass."""
    parts: list[bytes] = [b"["]
    for index, source in enumerate(account.sources.values()):
        if index:
            parts.append(b",")
        parts.extend(encoded_source_parts(source, account, state))
    parts.append(b"]")
    return b"".join(parts)


def destination_json(destination: DestinationRecord, account: AccountRecord) -> dict[str, Any]:
    """A Destination object (v4)."""
    connector = get_connector(destination.type)
    return {
        "id": destination.id,
        "stitch_client_id": account.client_id,
        "type": destination.type,
        "name": destination.name,
        "description": destination.description,
        "display_name": None,
        "properties": visible_properties(destination.type, destination.properties),
        "check_job_name": destination.check.name if destination.check else None,
        "paused_at": None,
        "system_paused_at": None,
        "deleted_at": None,
        "created_at": iso(destination.created_at),
        "updated_at": iso(destination.updated_at),
        "report_card": progress_card(connector, "fully_configured", provided_names(destination.properties)),
    }


def custom_email_json(record: CustomEmailRecord, account: AccountRecord) -> dict[str, Any]:
    """A custom email recipient."""
    return {
        "id": record.id,
        "client_id": account.client_id,
        "email_address": record.email_address,
        "created_at": iso(record.created_at),
        "modified_at": iso(record.modified_at),
        "disabled_at": record.disabled_at,
    }


def hook_json(record: HookRecord, account: AccountRecord) -> dict[str, Any]:
    """A post-load hook."""
    body: dict[str, Any] = {
        "id": record.id,
        "client_id": account.client_id,
        "type": "post_load",
        "version": 1,
        "config": {"url": record.url},
        "created_at": iso(record.created_at),
        "modified_at": iso(record.modified_at),
        "disabled_at": iso(record.disabled_at),
    }
    if record.destination_id is not None:
        body["destination_id"] = record.destination_id
    return body
