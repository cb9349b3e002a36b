"""Ids handed over as ``task.output`` (XComArg) are accepted when the DAG is parsed and checked at run time."""

from __future__ import annotations

import pendulum
import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_stitch.operators import (
    StitchCreateDestinationOperator,
    StitchCreateSourceOperator,
    StitchPauseSourceOperator,
    StitchSelectStreamsOperator,
)
from airflow_provider_stitch.operators.base import contains_template, require_id

PROPERTIES = {
    "host": "db.internal",
    "port": "5432",
    "user": "stitch",
    "password": "emulator-only",
    "dbname": "shop",
    "include_schemas_in_destination_stream_name": "true",
    "frequency_in_minutes": "60",
}


def test_xcom_outputs_wire_ids_between_operators_at_parse_time() -> None:
    with DAG("xcom_wiring", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        destination = StitchCreateDestinationOperator(
            task_id="create_destination",
            destination_type="postgres",
            properties={
                "host": "wh",
                "port": "5432",
                "username": "u",
                "password": "p",
                "database": "dw",
                "ssl": True,
                "encryption_type": "none",
            },
        )
        source = StitchCreateSourceOperator(
            task_id="create_source",
            source_type="platform.hp-postgres",
            display_name="Shop",
            properties=PROPERTIES,
            destination_id=destination.output,
        )
        select = StitchSelectStreamsOperator(
            task_id="select", source_id=source.output, streams={"orders": True}
        )
        pause = StitchPauseSourceOperator(task_id="pause", source_id=source.output)

    assert select.upstream_task_ids == {"create_source"}
    assert pause.upstream_task_ids == {"create_source"}
    assert source.upstream_task_ids == {"create_destination"}


def test_xcom_arg_is_deferred_but_a_bad_literal_id_still_fails() -> None:
    with DAG("xcom_check", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        pause = StitchPauseSourceOperator(task_id="pause", source_id=12)
    assert contains_template(pause.output) is True
    assert require_id("source_id", pause.output) is None
    with pytest.raises(ValueError, match="source_id must be a positive integer id, not 'twelve'"):
        require_id("source_id", "twelve")
