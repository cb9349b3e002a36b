"""Assets for destination tables (Airflow 2.11 and 3) and the OpenLineage conversion."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_stitch.assets import (
    asset_aliases,
    attach_to_aliases,
    lineage_assets,
    stitch_table_asset,
)
from airflow_provider_stitch.lineage import (
    ReplicationLineage,
    SchemaField,
    StreamLineage,
    TableLocation,
)
from airflow_provider_stitch.lineage_facets import to_operator_lineage

WAREHOUSE = {"host": "warehouse.example.com", "port": 5432, "database": "analytics", "password": "hidden-pw"}


def location(table: str) -> TableLocation:
    """A Postgres destination table of schema ``shop``."""
    return TableLocation(
        namespace="postgres://warehouse.example.com:5432",
        name=f"analytics.shop.{table}",
        asset_uri=f"postgres://warehouse.example.com:5432/analytics/shop/{table}",
    )


SOURCE_TABLE = TableLocation(
    "postgres://src:5432", "orders.public.customers", "postgres://src:5432/orders/public/customers"
)


def loaded_into(*tables: str) -> ReplicationLineage:
    """A lineage whose streams load into the named destination tables (one stream per table)."""
    return ReplicationLineage(
        tuple(
            StreamLineage(
                names=frozenset({table}), source_table=SOURCE_TABLE, destination_table=location(table)
            )
            for table in tables
        )
    )


class RecordingAccessor:
    """Stands in for Airflow's per-alias outlet-event accessor: records ``add`` calls."""

    def __init__(self) -> None:
        self.added: list[str] = []

    def add(self, asset: Any) -> None:
        self.added.append(asset.uri)


class RecordingOutletEvents(dict):
    """A ``context["outlet_events"]`` that creates one recorder per alias."""

    def __missing__(self, key: Any) -> RecordingAccessor:
        self[key] = RecordingAccessor()
        return self[key]


def test_table_asset_uri_and_type() -> None:
    from airflow.providers.common.compat.sdk import Asset

    asset = stitch_table_asset("postgres", WAREHOUSE, "shop", "orders")
    assert isinstance(asset, Asset)
    assert asset.uri == "postgres://warehouse.example.com:5432/analytics/shop/orders"
    assert "hidden-pw" not in repr(asset)


def test_table_asset_is_usable_as_outlet_and_schedule() -> None:
    from airflow.providers.common.compat.sdk import DAG, BaseOperator

    asset = stitch_table_asset("bigquery_v2", {"project_id": "acme"}, "shop", "orders")
    with DAG(
        "stitch_assets_consumer", schedule=[asset], start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)
    ) as dag:
        BaseOperator(task_id="noop", outlets=[asset])
    assert dag.task_dict["noop"].outlets == [asset]
    assert asset.uri == "bigquery://acme/shop/orders"


def test_lineage_assets_are_distinct_and_ordered() -> None:
    lineage = loaded_into("b", "a", "b")
    assert [asset.uri for asset in lineage_assets(lineage)] == [
        "postgres://warehouse.example.com:5432/analytics/shop/b",
        "postgres://warehouse.example.com:5432/analytics/shop/a",
    ]


def test_attach_to_aliases_adds_every_table_to_every_alias() -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    loads, audit = AssetAlias("stitch-loads"), AssetAlias("stitch-audit")
    static = stitch_table_asset("postgres", WAREHOUSE, "shop", "static")
    events = RecordingOutletEvents()
    lineage = loaded_into("orders", "customers")
    added = attach_to_aliases({"outlet_events": events}, [static, loads, audit], lineage)
    assert added == 4
    assert asset_aliases([static, loads]) == [loads]
    assert events[loads].added == [
        "postgres://warehouse.example.com:5432/analytics/shop/orders",
        "postgres://warehouse.example.com:5432/analytics/shop/customers",
    ]
    assert events[audit].added == events[loads].added
    assert static not in events


def test_attach_without_alias_touches_nothing() -> None:
    assert attach_to_aliases({}, [], loaded_into("x")) == 0


def test_to_operator_lineage_builds_provider_datasets() -> None:
    pytest.importorskip("airflow.providers.openlineage")
    from airflow.providers.openlineage.extractors import OperatorLineage

    lineage = ReplicationLineage(
        (
            StreamLineage(frozenset({"customers"}), SOURCE_TABLE, location("customers")),
            StreamLineage(frozenset({"customers_copy"}), SOURCE_TABLE, location("customers")),
        )
    )
    result = to_operator_lineage(lineage.landed({"customers"}))
    assert isinstance(result, OperatorLineage)
    assert [(item.namespace, item.name) for item in result.inputs] == [
        ("postgres://src:5432", "orders.public.customers"),
        ("postgres://src:5432", "orders.public.customers"),
    ]
    assert [(item.namespace, item.name) for item in result.outputs] == [
        ("postgres://warehouse.example.com:5432", "analytics.shop.customers")
    ]


def test_attach_records_alias_events_with_airflows_own_accessors() -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    try:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    except ImportError:  # Airflow 2
        from airflow.utils.context import OutletEventAccessors

    alias = AssetAlias("stitch-shop")
    accessors = OutletEventAccessors()
    added = attach_to_aliases({"outlet_events": accessors}, [alias], loaded_into("orders"))
    accessor = accessors[alias]
    recorded = getattr(accessor, "asset_alias_events", None) or accessor.dataset_alias_events
    uris = [
        event.dest_asset_key.uri if hasattr(event, "dest_asset_key") else event["dest_dataset_uri"]
        for event in recorded
    ]
    assert (added, uris) == (1, ["postgres://warehouse.example.com:5432/analytics/shop/orders"])


def test_only_landed_streams_become_outputs() -> None:
    lineage = loaded_into("orders", "customers")
    assert [item.name for item in lineage.landed({"orders"}).outputs] == ["analytics.shop.orders"]
    assert lineage.landed(set()).outputs == []
    assert lineage.landed(set()).inputs == lineage.inputs


def test_datasets_carry_schema_datasource_and_column_lineage_facets() -> None:
    pytest.importorskip("airflow.providers.openlineage")
    stream = StreamLineage(
        names=frozenset({"customers"}),
        source_table=SOURCE_TABLE,
        destination_table=location("customers"),
        fields=(SchemaField("id", "integer"), SchemaField("email", "string")),
    )
    result = to_operator_lineage(ReplicationLineage((stream,)))
    source, target = result.inputs[0], result.outputs[0]
    assert [(f.name, f.type) for f in source.facets["schema"].fields] == [
        ("id", "integer"),
        ("email", "string"),
    ]
    assert source.facets["dataSource"].name == "postgres://src:5432"
    assert target.facets["dataSource"].uri == "postgres://warehouse.example.com:5432"
    column = target.facets["columnLineage"].fields["email"]
    assert [(f.namespace, f.name, f.field) for f in column.inputFields] == [
        ("postgres://src:5432", "orders.public.customers", "email")
    ]
    assert column.transformationType == "IDENTITY"
