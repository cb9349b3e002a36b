"""A deterministic discovered catalog per source type: database tables or plausible SaaS streams."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from typing import Any

from airflow_provider_stitch.connectors import ConnectorSpec
from airflow_provider_stitch.emulator.state import StreamRecord

#: Metadata keys a client may write (examples list four, the attribute table three).
NON_DISCOVERABLE_KEYS = ("selected", "replication-method", "replication-key", "view-key-properties")

# A column: (name, JSON type, SQL type, inclusion, selected-by-default)
Column = tuple[str, str, str, str, bool]

_DB_TABLES: tuple[tuple[str, str, bool, tuple[Column, ...]], ...] = (
    (
        "public",
        "customers",
        False,
        (
            ("id", "integer", "integer", "automatic", True),
            ("name", "string", "character varying", "available", True),
            ("email", "string", "character varying", "available", False),
            ("created_at", "date-time", "timestamp without time zone", "available", True),
            ("updated_at", "date-time", "timestamp without time zone", "available", True),
            ("avatar", "string", "bytea", "unsupported", False),
        ),
    ),
    (
        "public",
        "orders",
        False,
        (
            ("id", "integer", "integer", "automatic", True),
            ("customer_id", "integer", "integer", "available", True),
            ("total", "number", "numeric", "available", True),
            ("status", "string", "character varying", "available", True),
            ("updated_at", "date-time", "timestamp without time zone", "available", True),
        ),
    ),
    (
        "public",
        "order_items",
        False,
        (
            ("id", "integer", "integer", "automatic", True),
            ("order_id", "integer", "integer", "available", True),
            ("sku", "string", "character varying", "available", True),
            ("quantity", "integer", "integer", "available", True),
        ),
    ),
    (
        "public",
        "customer_view",
        True,
        (
            ("id", "integer", "integer", "available", True),
            ("name", "string", "character varying", "available", True),
            ("updated_at", "date-time", "timestamp without time zone", "available", True),
        ),
    ),
    (
        "sales",
        "orders",
        False,
        (
            ("id", "integer", "bigint", "automatic", True),
            ("region", "string", "character varying", "available", True),
            ("amount", "number", "numeric", "available", True),
            ("updated_at", "date-time", "timestamp with time zone", "available", True),
        ),
    ),
    (
        "sales",
        "products",
        False,
        (
            ("id", "integer", "bigint", "automatic", True),
            ("title", "string", "text", "available", True),
            ("price", "number", "numeric", "available", False),
        ),
    ),
)

_EXTRA_TABLE_COLUMNS: tuple[Column, ...] = (
    ("id", "integer", "integer", "automatic", True),
    ("value", "string", "text", "available", True),
    ("updated_at", "date-time", "timestamp without time zone", "available", True),
)

# SaaS stream: (name, incremental?)
_SAAS_STREAMS: dict[str, tuple[tuple[str, bool], ...]] = {
    "platform.shopify": (
        ("abandoned_checkouts", True),
        ("collects", True),
        ("custom_collections", True),
        ("customers", True),
        ("orders", True),
        ("products", True),
    ),
    "platform.hubspot": (
        ("companies", True),
        ("contacts", True),
        ("deals", True),
        ("email_events", True),
        ("owners", False),
    ),
    "platform.salesforce": (
        ("Account", True),
        ("Contact", True),
        ("Lead", True),
        ("Opportunity", True),
    ),
    "platform.github": (
        ("commits", True),
        ("issues", True),
        ("pull_requests", True),
        ("stargazers", False),
    ),
    "platform.stripe": (
        ("charges", True),
        ("customers", True),
        ("invoices", True),
        ("subscriptions", True),
    ),
}
_GENERIC_SAAS: tuple[tuple[str, bool], ...] = (("accounts", True), ("events", True), ("users", False))

_SAAS_COLUMNS: tuple[Column, ...] = (
    ("id", "integer", "", "automatic", True),
    ("name", "string", "", "available", True),
    ("email", "string", "", "available", False),
    ("created_at", "date-time", "", "available", True),
    ("raw_payload", "object", "", "unsupported", False),
)


def _json_type(kind: str) -> dict[str, Any]:
    if kind == "date-time":
        return {"type": ["null", "string"], "format": "date-time"}
    return {"type": ["null", kind]}


def _row_count(*parts: str) -> int:
    return 10 + zlib.crc32("/".join(parts).encode()) % 5000


def database_name(connector: ConnectorSpec, properties: dict[str, Any]) -> str:
    """The database name used in ``tap_stream_id``: from the properties, else the type's short name."""
    for key in ("database", "dbname", "database_name"):
        value = properties.get(key)
        if isinstance(value, str) and value.strip():
            return re.sub(r"[^A-Za-z0-9_]", "_", value.strip())
    return connector.type.split(".")[-1].replace("-", "_")


def _field_metadata(column: Column, database: bool) -> dict[str, Any]:
    name, _kind, sql_type, inclusion, by_default = column
    meta: dict[str, Any] = {"inclusion": inclusion, "selected-by-default": by_default}
    if inclusion == "unsupported":
        meta["selected-by-default"] = False
        meta["unsupported-description"] = "this column's type cannot be replicated"
    if database:
        meta["sql-datatype"] = sql_type
    return meta


def _record(
    next_id: Callable[[], int],
    tap_stream_id: str,
    stream_name: str,
    stream_metadata: dict[str, Any],
    columns: tuple[Column, ...],
    database: bool,
) -> StreamRecord:
    return StreamRecord(
        stream_id=next_id(),
        tap_stream_id=tap_stream_id,
        stream_name=stream_name,
        stream_metadata=stream_metadata,
        fields={column[0]: _json_type(column[1]) for column in columns},
        field_metadata={column[0]: _field_metadata(column, database) for column in columns},
    )


def discover_streams(
    connector: ConnectorSpec,
    properties: dict[str, Any],
    next_id: Callable[[], int],
    *,
    extra_tables: int = 0,
) -> list[StreamRecord]:
    """The streams a discovery of this source finds; the same inputs always give the same catalog.

    :param connector: the source type.
    :param properties: the source's properties (the database name is read from them).
    :param next_id: hands out stream ids.
    :param extra_tables: database sources: this many more tables ``public.table_0001...``; SaaS sources:
        this many more streams ``stream_0001...``.
    """
    if connector.type == "import_api":
        return []
    streams: list[StreamRecord] = []
    if connector.is_database:
        database = database_name(connector, properties)
        tables = list(_DB_TABLES) + [
            ("public", f"table_{index:04d}", False, _EXTRA_TABLE_COLUMNS)
            for index in range(1, extra_tables + 1)
        ]
        for schema, table, is_view, columns in tables:
            keys = [] if is_view else [c[0] for c in columns if c[3] == "automatic"]
            metadata: dict[str, Any] = {
                "database-name": database,
                "schema-name": schema,
                "is-view": is_view,
                "row-count": _row_count(database, schema, table),
                "table-key-properties": keys,
                "selected": None,
            }
            # A stream never selected has no replication-method key: the list-streams response in the
            # docs omits it (one older data-file example shows it as null; the endpoint's own page wins).
            streams.append(
                _record(next_id, f"{database}-{schema}-{table}", table, metadata, columns, database=True)
            )
        return streams
    saas = list(_SAAS_STREAMS.get(connector.type, _GENERIC_SAAS)) + [
        (f"stream_{index:04d}", True) for index in range(1, extra_tables + 1)
    ]
    for name, incremental in saas:
        columns = _SAAS_COLUMNS
        if incremental:
            columns = (*columns, ("updated_at", "date-time", "", "automatic", True))
        metadata = {
            "forced-replication-method": "INCREMENTAL" if incremental else "FULL_TABLE",
            "table-key-properties": ["id"],
            "selected": None,
        }
        if incremental:
            metadata["valid-replication-keys"] = ["updated_at"]
        streams.append(_record(next_id, name, name, metadata, columns, database=False))
    return streams


def stream_listing(stream: StreamRecord) -> dict[str, Any]:
    """A stream as ``GET .../streams`` lists it."""
    return {
        "selected": stream.selected,
        "stream_id": stream.stream_id,
        "tap_stream_id": stream.tap_stream_id,
        "stream_name": stream.stream_name,
        "metadata": dict(stream.stream_metadata),
    }


def stream_schema(stream: StreamRecord) -> dict[str, Any]:
    """A stream as ``GET .../streams/{stream_id}`` returns it; ``schema`` is JSON text."""
    schema = {"type": "object", "properties": stream.fields}
    entries = [{"breadcrumb": [], "metadata": dict(stream.stream_metadata)}]
    entries += [
        {"breadcrumb": ["properties", name], "metadata": dict(meta)}
        for name, meta in stream.field_metadata.items()
    ]
    return {
        "schema": json.dumps(schema, separators=(",", ":")),
        "metadata": entries,
        "non-discoverable-metadata-keys": list(NON_DISCOVERABLE_KEYS),
    }


def field_is_replicated(meta: dict[str, Any]) -> bool:
    """Whether a field is replicated, by the documented inclusion/selected/selected-by-default table."""
    inclusion = meta.get("inclusion")
    if inclusion == "automatic":
        return True
    if inclusion == "unsupported":
        return False
    selected = meta.get("selected")
    if selected is True:
        return True
    return bool(meta.get("selected-by-default"))
