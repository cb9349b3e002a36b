"""Streams: the discovered catalog, stream schemas, and selection through metadata updates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from airflow_provider_stitch.connectors import get_connector
from airflow_provider_stitch.emulator.catalog_streams import (
    NON_DISCOVERABLE_KEYS,
    stream_listing,
    stream_schema,
)
from airflow_provider_stitch.emulator.lifecycle import has_field_selection, reschedule
from airflow_provider_stitch.emulator.responses import (
    invalid_fields,
    json_answer,
    source_error,
    text_error,
)
from airflow_provider_stitch.emulator.runtime import authenticate, numeric_id, read_json
from airflow_provider_stitch.emulator.state import SourceRecord, StreamRecord

router = APIRouter()

BODY_MESSAGE = "body must contain a 'streams' property with a list of metadatas by tap_stream_id"
UNSUPPORTED_MESSAGE = "Unsupported fields cannot be selected by default"
REPLICATION_METHODS = ("FULL_TABLE", "INCREMENTAL", "LOG_BASED")


def _clojure_set(names: list[str]) -> str:
    return "#{" + " ".join(f'"{name}"' for name in names) + "}"


def _well_formed(body: Any) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("streams"), list):
        return False
    for item in body["streams"]:
        if not isinstance(item, dict) or not isinstance(item.get("metadata"), list):
            return False
        for entry in item["metadata"]:
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("breadcrumb"), list)
                or not isinstance(entry.get("metadata"), dict)
            ):
                return False
    return True


def _check_stream_rules(stream: StreamRecord, database: bool) -> None:
    """Replication-method and key rules for a stream that is selected after the update."""
    meta = stream.stream_metadata
    method = meta.get("replication-method")
    key = meta.get("replication-key")
    forced = meta.get("forced-replication-method")
    if method is not None and method not in REPLICATION_METHODS:
        raise invalid_fields(
            f"replication-method of {stream.tap_stream_id} must be one of {REPLICATION_METHODS}"
        )
    if forced and method and method != forced:
        raise invalid_fields(
            f"{stream.tap_stream_id} always replicates with {forced}; its replication-method cannot change"
        )
    valid_keys = meta.get("valid-replication-keys")
    if key is not None and valid_keys and key not in valid_keys:
        raise invalid_fields(f"replication-key of {stream.tap_stream_id} must be one of {valid_keys}")
    if key is not None and not valid_keys and key not in stream.fields:
        raise invalid_fields(f"replication-key {key!r} is not a field of {stream.tap_stream_id}")
    if database and method == "INCREMENTAL" and not key:
        raise invalid_fields(f"{stream.tap_stream_id} replicates INCREMENTAL and needs a replication-key")
    if database and meta.get("is-view") and not meta.get("view-key-properties"):
        raise invalid_fields(f"{stream.tap_stream_id} is a view and needs view-key-properties to be selected")


def _source_with_streams(account: Any, source_id: str) -> SourceRecord:
    source = account.sources.get(numeric_id(source_id, "source"))
    if source is None:
        raise source_error("InvalidId", f"source not found ({source_id})")
    return source


@router.get("/v4/sources/{source_id}/streams")
async def list_streams(source_id: str, request: Request) -> Response:
    _, account, _ = authenticate(request)
    source = _source_with_streams(account, source_id)
    return json_answer([stream_listing(stream) for stream in source.streams or []])


@router.get("/v4/sources/{source_id}/streams/{stream_id}")
async def get_stream_schema(source_id: str, stream_id: str, request: Request) -> Response:
    _, account, _ = authenticate(request)
    source = account.sources.get(int(source_id)) if source_id.isdigit() else None
    streams = (source.streams or []) if source is not None else []
    found = next((s for s in streams if str(s.stream_id) == stream_id), None)
    if found is None:
        raise text_error(f"invalid stream-id: {stream_id}")
    return json_answer(stream_schema(found))


@router.put("/v4/sources/{source_id}/streams/metadata")
async def update_stream_metadata(source_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        source = _source_with_streams(account, source_id)
        if not _well_formed(body):
            raise text_error(BODY_MESSAGE)
        connector = get_connector(source.type)
        if not has_field_selection(connector) or source.step not in ("field_selection", "fully_configured"):
            raise source_error(
                "InvalidState",
                f"streams can be selected only once discovery has finished (current step: {source.step})",
            )
        by_id = {stream.tap_stream_id: stream for stream in source.streams or []}
        items = body["streams"]
        missing = [item.get("tap_stream_id") for item in items if item.get("tap_stream_id") not in by_id]
        if missing:
            shown = " ".join("nil" if name is None else str(name) for name in missing)
            raise invalid_fields(f"invalid tap-stream-ids:  [{shown}]")
        written = sorted(
            {
                key
                for item in items
                for entry in item["metadata"]
                for key in entry["metadata"]
                if key not in NON_DISCOVERABLE_KEYS
            }
        )
        if written:
            raise invalid_fields(
                f"only non-discoverable metadata can be produced by the UI: {_clojure_set(written)}"
            )
        # Work on copies so a rejected update changes nothing.
        staged: dict[str, tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {}
        for item in items:
            stream = by_id[item["tap_stream_id"]]
            stream_meta, field_meta = staged.get(
                stream.tap_stream_id,
                (dict(stream.stream_metadata), {k: dict(v) for k, v in stream.field_metadata.items()}),
            )
            for entry in item["metadata"]:
                crumb = entry["breadcrumb"]
                if crumb == []:
                    stream_meta.update(entry["metadata"])
                elif len(crumb) == 2 and crumb[0] == "properties" and crumb[1] in field_meta:
                    target = field_meta[crumb[1]]
                    if entry["metadata"].get("selected") is True and target.get("inclusion") == "unsupported":
                        raise invalid_fields(UNSUPPORTED_MESSAGE)
                    target.update(entry["metadata"])
                else:
                    raise invalid_fields(f"invalid breadcrumb for {stream.tap_stream_id}: {crumb}")
            staged[stream.tap_stream_id] = (stream_meta, field_meta)
        for tap_stream_id, (stream_meta, field_meta) in staged.items():
            preview = by_id[tap_stream_id]
            candidate = StreamRecord(
                stream_id=preview.stream_id,
                tap_stream_id=tap_stream_id,
                stream_name=preview.stream_name,
                stream_metadata=stream_meta,
                fields=preview.fields,
                field_metadata=field_meta,
            )
            if stream_meta.get("selected") is True:
                _check_stream_rules(candidate, connector.is_database)
        for tap_stream_id, (stream_meta, field_meta) in staged.items():
            stream = by_id[tap_stream_id]
            stream.stream_metadata = stream_meta
            stream.field_metadata = field_meta
            selected = stream_meta.get("selected")
            stream.selected = selected if isinstance(selected, bool) else stream.selected
        if any(stream.selected for stream in source.streams or []) and source.step == "field_selection":
            source.step = "fully_configured"
            reschedule(source, now, runtime.state)
        source.updated_at = now
        return json_answer({"status": 200})
