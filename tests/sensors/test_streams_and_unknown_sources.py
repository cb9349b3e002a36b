"""Sensors fail at once on what Stitch does not know: stream names in every documented form resolve to what
load rows carry (or fail naming the stream), and an unknown source fails with Stitch's own error."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AssetAlias

from airflow_provider_stitch.sensors import StitchExtractionSensor, StitchLoadSensor
from tests.testkit.jobs import CONN_ID, JobsEnv, make_sources, start_jobs

POSTGRES_SOURCE = {
    "host": "db.example.com",
    "port": "5432",
    "user": "stitch",
    "password": "s3cret-pg-password",
    "dbname": "shop",
    "include_schemas_in_destination_stream_name": "true",
    "frequency_in_minutes": "60",
}


class RecordingOutletEvents(dict):
    """``context["outlet_events"]``: the URIs added to each alias."""

    def __missing__(self, key):
        self[key] = recorder = type(
            "Recorder", (), {"uris": None, "add": lambda s, a: s.uris.append(a.uri)}
        )()
        recorder.uris = []
        return recorder


@pytest.fixture
def postgres_source(env: JobsEnv) -> int:
    """A Postgres source with public.customers and public.orders selected (schema prefixes on)."""
    make_sources(env.emulator, env.client, 0)
    source = env.client.create_source("platform.postgres", "Shop DB", dict(POSTGRES_SOURCE)).id
    env.advance(300)  # connection check and discovery
    env.client.update_stream_metadata(
        source,
        [
            {"tap_stream_id": name, "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}]}
            for name in ("shop-public-customers", "shop-public-orders")
        ],
    )
    return source


def test_dash_joined_stream_names_resolve_to_the_load_rows_names(env: JobsEnv, postgres_source: int) -> None:
    (job_name,) = start_jobs(env.emulator, env.client, [postgres_source], lambda _: 5.0).values()
    env.advance(60)
    events = RecordingOutletEvents()
    sensor = StitchLoadSensor(
        task_id="wait_for_loads",
        source_id=postgres_source,
        job_name=job_name,
        streams=["public-customers", "public-orders"],
        stitch_conn_id=CONN_ID,
        outlets=[AssetAlias("shop-tables")],
    )
    done = sensor.poke({"outlet_events": events})
    for _ in range(3):  # one Jobs page per turn: the extractions page, then the loads page
        if done:
            break
        env.advance(30)
        done = sensor.poke({"outlet_events": events})
    assert done.is_done and sorted(done.xcom_value["loaded_at"]) == ["customers", "orders"]
    (recorder,) = events.values()
    assert sorted(uri.rsplit("/", 1)[-1] for uri in recorder.uris) == ["public__customers", "public__orders"]


def test_an_unknown_stream_name_fails_at_once_naming_it(env: JobsEnv, postgres_source: int) -> None:
    sensor = StitchLoadSensor(
        task_id="wait_for_loads",
        source_id=postgres_source,
        streams=["public-customers", "public-custmers", "invoices"],
        stitch_conn_id=CONN_ID,
    )
    with pytest.raises(AirflowException) as failure:
        sensor.poke({})
    message = str(failure.value)
    assert message.startswith(
        f"task wait_for_loads: streams of source {postgres_source}: no stream 'public-custmers'"
    )
    assert (
        "did you mean 'shop-public-customers'" in message and "no stream 'invoices' in this source" in message
    )
    assert env.jobs_requests() == 0  # decided before any Jobs request


@pytest.mark.parametrize("sensor_class", [StitchExtractionSensor, StitchLoadSensor])
def test_a_source_stitch_does_not_know_fails_at_once_with_stitchs_error(env: JobsEnv, sensor_class) -> None:
    make_sources(env.emulator, env.client, 0)
    sensor = sensor_class(task_id="wait", source_id=987654, stitch_conn_id=CONN_ID, timeout=7 * 24 * 3600)
    with pytest.raises(AirflowException) as failure:
        sensor.poke({})
    message = str(failure.value)
    assert message.startswith("task wait: source 987654: ")
    assert "GET /v4/sources/987654" in message and "404" in message
    assert env.jobs_requests() == 0
