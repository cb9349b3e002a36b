"""Create and update a source and a destination with canary credentials rendered from Airflow Variables."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_stitch.operators import (
    StitchCreateDestinationOperator,
    StitchCreateSourceOperator,
    StitchUpdateDestinationOperator,
    StitchUpdateSourceOperator,
)

with DAG(
    dag_id="stitch_credential_canaries",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    destination = StitchCreateDestinationOperator(
        task_id="create_destination",
        destination_type="postgres",
        name="Canary warehouse",
        properties={
            "host": "warehouse.example.com",
            "port": "5432",
            "username": "loader",
            "password": "{{ var.value.canary_warehouse_password }}",
            "database": "analytics",
            "ssl": "false",
        },
    )
    source = StitchCreateSourceOperator(
        task_id="create_source",
        source_type="platform.mysql",
        display_name="Canary shop",
        properties={
            "host": "db.example.com",
            "port": "3306",
            "user": "stitch",
            "password": "{{ var.value.canary_source_password }}",
            "ssl": "true",
            "ssl_key": "{{ var.value.canary_ssl_key }}",
            "frequency_in_minutes": "60",
        },
    )
    update_source = StitchUpdateSourceOperator(
        task_id="update_source",
        source_id=source.output,
        properties={"ssl_key": "{{ var.value.canary_new_ssl_key }}"},
    )
    update_destination = StitchUpdateDestinationOperator(
        task_id="update_destination",
        destination_id=destination.output,
        properties={"password": "{{ var.value.canary_new_warehouse_password }}"},
    )
    destination >> source >> update_source >> update_destination
