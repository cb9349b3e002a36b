"""How stored records look in API responses; credentials are never part of them."""

from __future__ import annotations

from typing import Any

from airflow_provider_stitch.connectors import credential_properties, get_connector
from airflow_provider_stitch.emulator.clock import iso
from airflow_provider_stitch.emulator.lifecycle import schedule_json
from airflow_provider_stitch.emulator.report_cards import report_card
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


def source_json(source: SourceRecord, account: AccountRecord, state: EmulatorState) -> dict[str, Any]:
    """A Source object."""
    connector = get_connector(source.type)
    provided = provided_names(source.properties)
    if source.oauth_authorized:
        provided |= {spec.name for spec in connector.properties if spec.step == "oauth"}
    body: dict[str, Any] = {
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
        "report_card": report_card(connector, current_step_type=source.step, provided=provided),
    }
    if source.destination_id is not None:
        body["destination_id"] = source.destination_id
    return body


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
        "report_card": report_card(
            connector, current_step_type="fully_configured", provided=provided_names(destination.properties)
        ),
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
