"""The start-replication operator and the load sensor against the emulator: lineage, assets, Jobs budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.testkit.jobs import CONN_ID, FakeTaskInstance, JobsEnv, jobs_env, make_sources

pytest.importorskip("airflow.providers.openlineage")

WAREHOUSE_NAMESPACE = "postgres://warehouse.example.com:5432"
WAREHOUSE_URI = "postgres://warehouse.example.com:5432/analytics/shop_db"
POSTGRES_SOURCE = {
    "host": "db.example.com",
    "port": "5432",
    "user": "stitch",
    "password": "s3cret-pg-password",
    "dbname": "shop",
    "include_schemas_in_destination_stream_name": "true",
    "frequency_in_minutes": "60",
}


class RecordingAccessor:
    """Stands in for one alias's outlet-event accessor."""

    def __init__(self) -> None:
        self.uris: list[str] = []

    def add(self, asset: Any) -> None:
        self.uris.append(asset.uri)


class RecordingOutletEvents(dict):
    """``context["outlet_events"]``: one recorder per alias."""

    def __missing__(self, key: Any) -> RecordingAccessor:
        self[key] = RecordingAccessor()
        return self[key]


@pytest.fixture
def env(stitch_emulator_manual: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JobsEnv:
    """A manual-clock emulator account with one destination; the connection is ``stitch_jobs_test``."""
    return jobs_env(stitch_emulator_manual, tmp_path, monkeypatch)


@pytest.fixture
def source_id(env: JobsEnv) -> int:
    """A Postgres source (schema prefixes on) with two selected streams of different schemas."""
    make_sources(env.emulator, env.client, 0)
    source = env.client.create_source("platform.postgres", "Shop DB", dict(POSTGRES_SOURCE)).id
    env.advance(300)  # connection check and discovery
    env.client.update_stream_metadata(
        source,
        [
            {"tap_stream_id": name, "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}]}
            for name in ("shop-public-customers", "shop-sales-orders")
        ],
    )
    env.emulator.control.arrange(source, durations={"discovery": 1.0, "tap": 5.0, "target": 1.0})
    return source


def openlineage_of(task: Any) -> Any:
    """What the OpenLineage provider's extractor reports for ``task`` on completion."""
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    return ExtractorManager()._get_extractor(task).extract_on_complete(None)


def test_operator_reports_lineage_and_feeds_an_asset_alias(env: JobsEnv, source_id: int) -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    from airflow_provider_stitch.operators import StitchStartReplicationOperator

    alias = AssetAlias("stitch-shop")
    operator = StitchStartReplicationOperator(
        task_id="replicate",
        source_id=source_id,
        wait_for_loads=True,
        deferrable=False,
        poll_interval=5,
        stitch_conn_id=CONN_ID,
        outlets=[alias],
    )
    operator.sleep = env.advance
    events = RecordingOutletEvents()
    job_name = operator.execute({"ti": FakeTaskInstance(), "outlet_events": events})
    assert job_name and job_name.startswith(f"{env.emulator.client_id}.{source_id}.sync.")
    assert events[alias].uris == [f"{WAREHOUSE_URI}/public__customers", f"{WAREHOUSE_URI}/sales__orders"]

    jobs_before = env.jobs_requests()
    metadata = openlineage_of(operator)
    assert env.jobs_requests() == jobs_before
    assert [(item.namespace, item.name) for item in metadata.inputs] == [
        ("postgres://db.example.com:5432", "shop.public.customers"),
        ("postgres://db.example.com:5432", "shop.sales.orders"),
    ]
    assert [(item.namespace, item.name) for item in metadata.outputs] == [
        (WAREHOUSE_NAMESPACE, "analytics.shop_db.public__customers"),
        (WAREHOUSE_NAMESPACE, "analytics.shop_db.sales__orders"),
    ]
    assert "s3cret" not in repr(metadata)


def test_operator_without_load_wait_attaches_nothing(env: JobsEnv, source_id: int) -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    from airflow_provider_stitch.operators import StitchStartReplicationOperator

    alias = AssetAlias("stitch-shop")
    operator = StitchStartReplicationOperator(
        task_id="replicate", source_id=source_id, deferrable=False, stitch_conn_id=CONN_ID, outlets=[alias]
    )
    operator.sleep = env.advance
    events = RecordingOutletEvents()
    operator.execute({"ti": FakeTaskInstance(), "outlet_events": events})
    assert alias not in events


def test_load_sensor_lineage_covers_its_streams_and_feeds_the_alias(env: JobsEnv, source_id: int) -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    from airflow_provider_stitch.sensors.replication import StitchLoadSensor

    started_at = env.now()
    job = env.client.start_sync(source_id)
    env.advance(60)
    alias = AssetAlias("stitch-shop-customers")
    sensor = StitchLoadSensor(
        task_id="wait_users",
        source_id=source_id,
        job_name=job.job_name,
        after=started_at,
        streams=["customers"],
        deferrable=False,
        stitch_conn_id=CONN_ID,
        poke_interval=1,
        timeout=30,
        outlets=[alias],
    )
    events = RecordingOutletEvents()
    result = sensor.execute({"ti": FakeTaskInstance(), "outlet_events": events})
    assert result is not None
    assert events[alias].uris == [f"{WAREHOUSE_URI}/public__customers"]
    metadata = openlineage_of(sensor)
    assert [item.name for item in metadata.inputs] == ["shop.public.customers"]
    assert [item.name for item in metadata.outputs] == ["analytics.shop_db.public__customers"]


def test_load_sensor_after_deferral_feeds_the_alias(env: JobsEnv, source_id: int) -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    from airflow_provider_stitch.sensors.replication import StitchLoadSensor

    alias = AssetAlias("stitch-shop")
    sensor = StitchLoadSensor(task_id="wait", source_id=source_id, stitch_conn_id=CONN_ID, outlets=[alias])
    events = RecordingOutletEvents()
    landed = {"customers": 1796000000.0, "orders": 1796000001.0}
    event = {"status": "success", "loads": {"succeeded": True, "loaded_at": landed}}
    sensor.execute_complete({"ti": FakeTaskInstance(), "outlet_events": events}, event)
    assert events[alias].uris == [f"{WAREHOUSE_URI}/public__customers", f"{WAREHOUSE_URI}/sales__orders"]


def test_load_sensor_after_deferral_without_loaded_streams_feeds_nothing(
    env: JobsEnv, source_id: int
) -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    from airflow_provider_stitch.sensors.replication import StitchLoadSensor

    alias = AssetAlias("stitch-shop")
    sensor = StitchLoadSensor(task_id="wait", source_id=source_id, stitch_conn_id=CONN_ID, outlets=[alias])
    events = RecordingOutletEvents()
    sensor.execute_complete(
        {"ti": FakeTaskInstance(), "outlet_events": events},
        {"status": "success", "loads": {"succeeded": True}},
    )
    assert events[alias].uris == []
    assert openlineage_of(sensor).outputs == []
