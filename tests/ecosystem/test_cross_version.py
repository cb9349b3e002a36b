"""What must hold on every supported Airflow line (2.11 and 3.x): exports, trigger round trips, provider info."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

import airflow_provider_stitch
from airflow_provider_stitch import operators, sensors, triggers


def airflow_serde() -> tuple:
    """``serialize`` and ``deserialize`` of the running Airflow (moved to the task SDK in Airflow 3)."""
    try:
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:
        from airflow.serialization.serde import deserialize, serialize
    return serialize, deserialize


@pytest.mark.parametrize("package", [operators, sensors, triggers], ids=lambda module: module.__name__)
def test_every_exported_class_resolves(package) -> None:
    for name in package.__all__:
        exported = getattr(package, name)
        assert exported.__name__ == name


def make_triggers() -> list:
    """One trigger of each class with non-default arguments."""
    from airflow_provider_stitch.triggers import (
        StitchConnectionCheckTrigger,
        StitchExtractionTrigger,
        StitchLoadTrigger,
    )

    return [
        StitchExtractionTrigger("stitch_other", 5, job_name="1.5.sync.x", after=10.5, deadline=99.0),
        StitchLoadTrigger("stitch_other", 5, streams=["orders"], loads_after=12.0, return_value="job"),
        StitchConnectionCheckTrigger(7, 1_900_000_000.0, stitch_conn_id="stitch_other", check_job_name="c"),
    ]


@pytest.mark.parametrize("trigger", make_triggers(), ids=lambda trigger: type(trigger).__name__)
def test_trigger_round_trips_through_the_running_airflows_serde(trigger) -> None:
    serialize, deserialize = airflow_serde()
    classpath, kwargs = trigger.serialize()
    restored = deserialize(serialize(kwargs))
    assert restored == kwargs
    module_name, _, class_name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module_name), class_name)(**restored)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["stitch_conn_id"] == "stitch_other"


def test_provider_info_matches_the_running_airflows_schema() -> None:
    import airflow
    import jsonschema

    schema_path = Path(airflow.__file__).parent / "provider_info.schema.json"
    schema = json.loads(schema_path.read_text())
    info = airflow_provider_stitch.get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == "airflow-provider-stitch"


def test_operator_and_sensor_build_a_dag() -> None:
    from datetime import datetime, timezone

    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_stitch.operators import StitchStartReplicationOperator
    from airflow_provider_stitch.sensors import StitchLoadSensor

    with DAG(
        "stitch_cross_version", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)
    ) as dag:
        start = StitchStartReplicationOperator(task_id="start", source_id="{{ params.source }}")
        wait = StitchLoadSensor(task_id="wait", source_id=3, replication_task_id="start", deferrable=True)
        start >> wait
    assert dag.task_dict["wait"].upstream_task_ids == {"start"}
    assert "source_id" in type(start).template_fields
