"""Lineage is read with non-Jobs requests (source, streams, destinations, covered schemas) and no Jobs budget."""

from __future__ import annotations

import json

import responses

from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.models import Destination, Source
from airflow_provider_stitch.lineage import account_destination, fetch_replication_lineage

BASE = "https://api.stitchdata.com"
TOKEN = "ac_lineage_token_secret"
SOURCE = {
    "id": 120643,
    "stitch_client_id": 116078,
    "type": "platform.postgres",
    "name": "shop_db",
    "display_name": "Shop DB",
    "destination_id": 2,
    "properties": {"host": "shop.db", "port": "5432", "dbname": "shop"},
}
STREAMS = [
    {
        "stream_id": 1,
        "tap_stream_id": "shop-public-orders",
        "stream_name": "orders",
        "selected": True,
        "metadata": {"database-name": "shop", "schema-name": "public", "selected": True},
    },
    {"stream_id": 2, "tap_stream_id": "shop-public-carts", "stream_name": "carts", "selected": None},
]
ORDERS_SCHEMA = {
    "schema": json.dumps(
        {"type": "object", "properties": {"id": {"type": "integer"}, "total": {"type": ["null", "number"]}}}
    ),
    "metadata": [
        {"breadcrumb": [], "metadata": {"selected": True}},
        {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
        {"breadcrumb": ["properties", "total"], "metadata": {"selected": True}},
    ],
    "non-discoverable-metadata-keys": [],
}
DESTINATIONS = [
    {
        "id": 1,
        "type": "postgres",
        "properties": {"host": "old.wh", "database": "dw"},
        "deleted_at": "2024-01-01T00:00:00Z",
    },
    {"id": 2, "type": "snowflake", "properties": {"host": "acme.snowflakecomputing.com", "database": "raw"}},
]


@responses.activate
def test_plain_requests_only_and_no_jobs_budget() -> None:
    responses.get(f"{BASE}/v4/sources/120643", json=SOURCE)
    responses.get(f"{BASE}/v4/sources/120643/streams", json=STREAMS)
    responses.get(f"{BASE}/v4/destinations", json=DESTINATIONS)
    responses.get(f"{BASE}/v4/sources/120643/streams/1", json=ORDERS_SCHEMA)
    budget = JobsBudget(116078, backend=InMemoryBudgetBackend())
    client = StitchClient(TOKEN, client_id=116078, budget=budget)

    lineage = fetch_replication_lineage(client, 120643)

    assert [call.request.url for call in responses.calls] == [
        f"{BASE}/v4/sources/120643",
        f"{BASE}/v4/sources/120643/streams",
        f"{BASE}/v4/destinations",
        f"{BASE}/v4/sources/120643/streams/1",
    ]
    assert budget.used() == 0
    assert [(item.namespace, item.name) for item in lineage.inputs] == [
        ("postgres://shop.db:5432", "shop.public.orders")
    ]
    assert [(item.namespace, item.name) for item in lineage.outputs] == [
        ("snowflake://acme", "RAW.SHOP_DB.ORDERS")
    ]
    assert [(item.name, item.type) for item in lineage.streams[0].fields] == [
        ("id", "integer"),
        ("total", "number"),
    ]


def test_account_destination_prefers_the_named_live_destination() -> None:
    live = Destination(id=3, type="s3")
    other = Destination(id=4, type="postgres")
    gone = Destination(id=5, type="postgres", deleted_at="2024-01-01T00:00:00Z")
    assert account_destination([gone, live, other], Source(id=1, destination_id=4)) is other
    assert account_destination([gone, live, other], Source(id=1)) is live
    assert account_destination([gone], Source(id=1)) is None
