"""Naming of replication inputs and outputs: namespaces, names and asset URIs per connection type."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.api.models import Destination, Source, Stream
from airflow_provider_stitch.lineage import (
    TableLocation,
    destination_dataset,
    destination_table_name,
    is_selected,
    replication_lineage,
    short_type,
    source_dataset,
)

SECRET = "pa55-w0rd-never-shown"


def postgres_source(**properties: object) -> Source:
    """A Postgres source named ``shop`` with a host, port and database."""
    base = {"host": "Orders.DB.internal", "port": "5433", "dbname": "orders", "user": "stitch"}
    return Source(id=101, type="platform.postgres", name="shop", properties={**base, **properties})


def db_stream(table: str, *, selected: bool | None = True, schema: str = "public") -> Stream:
    """A database stream as Stitch lists it: ``<db>-<schema>-<table>`` with database and schema metadata."""
    return Stream(
        stream_id=hash(table) % 10_000,
        tap_stream_id=f"orders-{schema}-{table}",
        stream_name=table,
        selected=selected,
        metadata={"database-name": "orders", "schema-name": schema, "selected": bool(selected)},
    )


def test_postgres_to_postgres_lineage() -> None:
    destination = Destination(
        id=7,
        type="postgres",
        properties={
            "host": "warehouse.example.com",
            "port": 5432,
            "database": "analytics",
            "password": SECRET,
        },
    )
    lineage = replication_lineage(
        postgres_source(), destination, [db_stream("customers"), db_stream("refunds", selected=False)]
    )
    assert lineage.inputs == [
        TableLocation(
            namespace="postgres://orders.db.internal:5433",
            name="orders.public.customers",
            asset_uri="postgres://orders.db.internal:5433/orders/public/customers",
        )
    ]
    assert lineage.outputs == [
        TableLocation(
            namespace="postgres://warehouse.example.com:5432",
            name="analytics.shop.customers",
            asset_uri="postgres://warehouse.example.com:5432/analytics/shop/customers",
        )
    ]
    assert SECRET not in repr(lineage)


def test_source_schema_prefix_when_the_source_asks_for_it() -> None:
    source = postgres_source(include_schemas_in_destination_stream_name="true")
    assert destination_table_name(source, db_stream("orders", schema="billing")) == "billing__orders"
    plain = postgres_source(include_schemas_in_destination_stream_name="false")
    assert destination_table_name(plain, db_stream("orders", schema="billing")) == "orders"


def test_selection_reads_the_flag_then_the_metadata() -> None:
    assert is_selected(Stream(stream_id=1, selected=None, metadata={"selected": True})) is True
    assert is_selected(Stream(stream_id=2, selected=False, metadata={"selected": True})) is False
    assert is_selected(Stream(stream_id=3)) is False


def test_mysql_family_source_names_database_and_table() -> None:
    source = Source(
        id=5, type="platform.mariadb", name="legacy", properties={"host": "maria", "database": "erp"}
    )
    stream = Stream(stream_id=1, tap_stream_id="erp-invoices", stream_name="invoices", selected=True)
    location = source_dataset(source, stream)
    assert (location.namespace, location.name) == ("mysql://maria:3306", "erp.invoices")


def test_oracle_and_mongodb_sources() -> None:
    oracle = Source(id=8, type="platform.oracle", properties={"host": "ora", "sid": "ORCL"})
    stream = Stream(stream_id=1, stream_name="EMP", metadata={"schema-name": "HR"})
    assert source_dataset(oracle, stream).name == "ORCL.HR.EMP"
    assert source_dataset(oracle, stream).namespace == "oracle://ora:1521"
    mongo = Source(id=9, type="platform.mongodb", properties={"host": "m1", "port": 27018})
    events = Stream(stream_id=2, stream_name="events", metadata={"database-name": "app"})
    assert (source_dataset(mongo, events).namespace, source_dataset(mongo, events).name) == (
        "mongodb://m1:27018",
        "app.events",
    )


def test_saas_source_is_named_after_the_stitch_source() -> None:
    source = Source(id=244788, type="platform.github", name="github", properties={"repository": "a/b"})
    stream = Stream(stream_id=3, tap_stream_id="commits", stream_name="commits", selected=True)
    location = source_dataset(source, stream)
    assert location == TableLocation(
        namespace="github://stitch-source-244788",
        name="commits",
        asset_uri="github://stitch-source-244788/commits",
    )


def test_database_source_without_host_falls_back_to_the_stitch_source() -> None:
    source = Source(id=12, type="platform.postgres", properties={})
    assert source_dataset(source, db_stream("t")).namespace == "postgres://stitch-source-12"


def test_short_type_is_uri_safe() -> None:
    assert short_type("platform.hp-mysql") == "hp-mysql"
    assert short_type("import_api") == "import-api"
    assert short_type(None) == "unknown"


@pytest.mark.parametrize(
    ("destination_type", "properties", "namespace", "name", "asset_uri"),
    [
        (
            "redshift",
            {"host": "examplecluster.abc123xyz789.us-west-2.redshift.amazonaws.com", "database": "dev"},
            "redshift://examplecluster.us-west-2:5439",
            "dev.sales.orders",
            "redshift://examplecluster.us-west-2:5439/dev/sales/orders",
        ),
        (
            "redshift",
            {"host": "proxy.example.com", "port": "15439", "database": "dev"},
            "redshift://proxy.example.com:15439",
            "dev.sales.orders",
            "redshift://proxy.example.com:15439/dev/sales/orders",
        ),
        (
            "snowflake",
            {"host": "xy12345.us-east-1.snowflakecomputing.com", "database": "analytics", "warehouse": "wh"},
            "snowflake://xy12345.us-east-1",
            "ANALYTICS.SALES.ORDERS",
            "snowflake://xy12345.us-east-1/ANALYTICS/SALES/ORDERS",
        ),
        (
            "bigquery_v2",
            {"project_id": "acme-prod", "cloud_storage_location": "US"},
            "bigquery",
            "acme-prod.sales.orders",
            "bigquery://acme-prod/sales/orders",
        ),
        (
            "mssql_server",
            {"host": "sql.example.com", "database": "dw"},
            "mssql://sql.example.com:1433",
            "dw.sales.orders",
            "mssql://sql.example.com:1433/dw/sales/orders",
        ),
        (
            "azure_sqldw",
            {"host": "ws.sql.azuresynapse.net", "port": 1433, "database": "pool"},
            "sqlserver://ws.sql.azuresynapse.net:1433",
            "pool.sales.orders",
            "sqlserver://ws.sql.azuresynapse.net:1433/pool/sales/orders",
        ),
        (
            "panoply",
            {"host": "db.panoply.io", "database": "acme"},
            "postgres://db.panoply.io:5439",
            "acme.sales.orders",
            "postgres://db.panoply.io:5439/acme/sales/orders",
        ),
        (
            "mysql_destination",
            {"host": "mysql.example.com", "port": 3307},
            "mysql://mysql.example.com:3307",
            "sales.orders",
            "mysql://mysql.example.com:3307/sales/orders",
        ),
        (
            "dataworld",
            {"account_id": "acme"},
            "dataworld://acme",
            "sales.orders",
            "dataworld://acme/sales/orders",
        ),
        (
            "s3",
            {
                "s3_bucket": "lake",
                "s3_key_format_string": "[integration_name]/[table_name]/[table_version].csv",
            },
            "s3://lake",
            "sales/orders",
            "s3://lake/sales/orders",
        ),
        (
            "s3",
            {
                "s3_bucket": "lake",
                "s3_key_format_string": "stitch/[integration_name]_[table_name]_[timestamp_loaded]",
            },
            "s3://lake",
            "stitch/sales_orders",
            "s3://lake/stitch/sales_orders",
        ),
    ],
)
def test_destination_naming(
    destination_type: str, properties: dict, namespace: str, name: str, asset_uri: str
) -> None:
    location = destination_dataset(destination_type, properties, "sales", "orders")
    assert (location.namespace, location.name, location.asset_uri) == (namespace, name, asset_uri)


def test_databricks_namespace_keeps_the_host_and_drops_the_token() -> None:
    jdbc_url = (
        "jdbc:databricks://dbc-1234.cloud.databricks.com:443/default;transportMode=http;"
        f"httpPath=/sql/1.0/warehouses/abc;AuthMech=3;UID=token;PWD={SECRET}"
    )
    location = destination_dataset(
        "databricks_delta", {"jdbc_url": jdbc_url, "access_token": SECRET}, "s", "t"
    )
    assert location == TableLocation(
        namespace="databricks://dbc-1234.cloud.databricks.com",
        name="s.t",
        asset_uri="databricks://dbc-1234.cloud.databricks.com/s/t",
    )


def test_unknown_or_incomplete_destination_is_named_after_the_stitch_destination() -> None:
    assert destination_dataset("future_warehouse", {}, "s", "t", destination_id=42) == TableLocation(
        namespace="future-warehouse://stitch-destination-42",
        name="s.t",
        asset_uri="future-warehouse://stitch-destination-42/s/t",
    )
    assert destination_dataset("postgres", {"password": SECRET}, "s", "t").namespace == (
        "postgres://stitch-destination"
    )


def test_names_with_unusual_characters_are_quoted_in_uris_only() -> None:
    location = destination_dataset("postgres", {"host": "h", "database": "d"}, "s", "Order Lines/2024")
    assert location.name == "d.s.Order Lines/2024"
    assert location.asset_uri == "postgres://h:5432/d/s/Order%20Lines%2F2024"


def test_no_destination_gives_inputs_only() -> None:
    lineage = replication_lineage(postgres_source(), None, [db_stream("customers")])
    assert [item.name for item in lineage.inputs] == ["orders.public.customers"]
    assert lineage.outputs == []


def test_stream_names_keep_only_the_named_selected_streams() -> None:
    destination = Destination(id=7, type="bigquery_v2", properties={"project_id": "p"})
    streams = [db_stream("customers"), db_stream("orders"), db_stream("refunds", selected=False)]
    lineage = replication_lineage(
        postgres_source(), destination, streams, stream_names=["orders-public-customers", "refunds"]
    )
    assert [item.name for item in lineage.outputs] == ["p.shop.customers"]
    assert [item.name for item in lineage.inputs] == ["orders.public.customers"]


def test_every_stream_counts_when_the_type_has_no_field_selection() -> None:
    card = {"type": "platform.freshdesk", "steps": [{"type": "form"}, {"type": "fully_configured"}]}
    source = Source(id=3, type="platform.freshdesk", name="desk", report_card=card)
    streams = [Stream(stream_id=1, stream_name="tickets"), Stream(stream_id=2, stream_name="agents")]
    lineage = replication_lineage(
        source, Destination(id=1, type="bigquery_v2", properties={"project_id": "p"}), streams
    )
    assert [item.name for item in lineage.outputs] == ["p.desk.tickets", "p.desk.agents"]
    with_selection = {"steps": [{"type": "form"}, {"type": "field_selection"}, {"type": "fully_configured"}]}
    selecting = Source(id=3, type="platform.freshdesk", name="desk", report_card=with_selection)
    assert replication_lineage(selecting, None, streams).inputs == []
