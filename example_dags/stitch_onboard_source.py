"""Onboard a PostgreSQL database into Stitch and replicate it once, end to end.

destination -> source -> connection check -> stream selection -> replication -> loads

Every task is idempotent: the destination and the source are looked up by name before anything is
created, and selecting the same streams twice changes nothing, so the DAG can simply be run again.

Connection ``stitch_default`` holds the Stitch API token. Passwords come from Airflow Variables
(``stitch_example_source_password``, ``stitch_example_warehouse_password``); their defaults only suit
the offline emulator (``make demo``), never a real database.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_stitch.operators import (
    StitchCreateDestinationOperator,
    StitchCreateSourceOperator,
    StitchSelectStreamsOperator,
    StitchStartReplicationOperator,
)
from airflow_provider_stitch.sensors import StitchLoadSensor

# Ids made by upstream tasks, pulled from XCom when the task runs.
DESTINATION_ID = "{{ ti.xcom_pull(task_ids='create_destination') }}"
SOURCE_ID = "{{ ti.xcom_pull(task_ids='create_source') }}"

# Rendered at run time, so the secrets never sit in the DAG file or in the parsed DAG.
SOURCE_PASSWORD = "{{ var.value.get('stitch_example_source_password', 'emulator-only-password') }}"
WAREHOUSE_PASSWORD = "{{ var.value.get('stitch_example_warehouse_password', 'emulator-only-password') }}"

# The tables to replicate: key-based incremental on updated_at; for orders, only some columns.
STREAMS = {
    "public-customers": {"replication_method": "INCREMENTAL", "replication_key": "updated_at"},
    "public-orders": {
        "replication_method": "INCREMENTAL",
        "replication_key": "updated_at",
        "fields": ["customer_id", "total", "status", "updated_at"],
    },
}

with DAG(
    dag_id="stitch_onboard_source",
    description="Create a Stitch destination and Postgres source, select tables, replicate and wait for loads",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stitch", "example"],
) as dag:
    # [START howto_create_destination]
    warehouse = StitchCreateDestinationOperator(
        task_id="create_destination",
        name="Analytics warehouse",
        destination_type="postgres",
        properties={
            "host": "warehouse.example.com",
            "port": "5432",
            "username": "stitch_loader",
            "password": WAREHOUSE_PASSWORD,
            "database": "analytics",
            "ssl": True,
            "encryption_type": "none",
        },
    )
    # [END howto_create_destination]

    # Creating the source starts Stitch's connection check and schema discovery; the task waits for
    # both (in the triggerer) and fails with Stitch's own message when the database is unreachable.
    # [START howto_create_source]
    source = StitchCreateSourceOperator(
        task_id="create_source",
        source_type="platform.hp-postgres",
        display_name="Shop database",
        destination_id=DESTINATION_ID,
        properties={
            "host": "shop-db.example.com",
            "port": 5432,
            "user": "stitch_reader",
            "password": SOURCE_PASSWORD,
            "dbname": "shop",
            "include_schemas_in_destination_stream_name": "true",
            "frequency_in_minutes": "360",
        },
        wait_for_connection_check=True,
        deferrable=True,
        poll_interval=5,
    )
    # [END howto_create_source]

    # [START howto_select_streams]
    select = StitchSelectStreamsOperator(
        task_id="select_streams",
        source_id=SOURCE_ID,
        streams=STREAMS,
    )
    # [END howto_select_streams]

    # Start a sync and wait for the extraction in the triggerer; the wait shares the account's
    # Jobs budget (30 requests per 10 minutes) with every other Stitch wait.
    # [START howto_start_replication]
    replicate = StitchStartReplicationOperator(
        task_id="start_replication",
        source_id=SOURCE_ID,
        wait_for_completion=True,
        deferrable=True,
    )
    # [END howto_start_replication]

    # [START howto_load_sensor]
    loads = StitchLoadSensor(
        task_id="wait_for_loads",
        source_id=SOURCE_ID,
        streams=select.output,
        replication_task_id="start_replication",
        deferrable=True,
    )
    # [END howto_load_sensor]

    warehouse >> source >> select >> replicate >> loads
