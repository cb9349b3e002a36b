"""Links open Stitch's app for a Stitch connection and the emulator's own pages for an emulator connection."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import requests

from airflow_provider_stitch import get_provider_info
from airflow_provider_stitch.links import (
    STITCH_DESTINATION_XCOM_KEY,
    STITCH_SOURCE_XCOM_KEY,
    StitchDestinationLink,
    StitchExtractionLogsLink,
    StitchSourceLink,
    destination_url_from_reference,
    is_stitch_host,
    logs_url_from_reference,
    stitch_source_reference,
    url_from_reference,
)
from airflow_provider_stitch.operators import (
    StitchCreateDestinationOperator,
    StitchCreateSourceOperator,
    StitchSelectStreamsOperator,
    StitchStartReplicationOperator,
)
from tests.testkit.operators import POSTGRES_DESTINATION_PROPERTIES, POSTGRES_SOURCE_PROPERTIES

APP = "https://app.stitchdata.com"


@pytest.mark.parametrize(
    ("api_url", "on_stitch"),
    [
        ("https://api.stitchdata.com", True),
        ("https://api.eu-central-1.stitchdata.com/", True),
        ("https://API.StitchData.com.", True),
        ("http://127.0.0.1:8765", False),
        ("https://stitchdata.com.example.org", False),
        ("https://notstitchdata.com", False),
    ],
)
def test_which_connections_are_on_stitch(api_url, on_stitch):
    assert is_stitch_host(api_url) is on_stitch


def test_references_on_stitch_open_the_app():
    reference = stitch_source_reference(116078, 120643, api_url="https://api.stitchdata.com", job_name="j1")
    assert reference == {"client_id": 116078, "source_id": 120643, "job_name": "j1"}
    summary = f"{APP}/client/116078/pipeline/v2/sources/120643/summary"
    assert url_from_reference(reference) == summary
    assert logs_url_from_reference(reference) == summary
    assert destination_url_from_reference({"client_id": 116078, "destination_id": 9}) == (
        f"{APP}/client/116078/pipeline/v2/sources"
    )


def test_references_on_the_emulator_open_its_pages():
    reference = stitch_source_reference(
        100001, 200001, api_url="http://127.0.0.1:8765/", job_name="100001.200001.sync.a/b c"
    )
    assert url_from_reference(reference) == "http://127.0.0.1:8765/_emulator/sources/200001"
    assert logs_url_from_reference(reference) == (
        "http://127.0.0.1:8765/_emulator/extractions/200001/100001.200001.sync.a%2Fb%20c/logs"
    )
    assert destination_url_from_reference({**reference, "destination_id": 3}) == (
        "http://127.0.0.1:8765/_emulator/destinations/3"
    )


def test_unusable_references_give_no_link():
    assert logs_url_from_reference({"client_id": 1, "source_id": 2}) == ""
    assert url_from_reference({"client_id": "1; drop", "source_id": 2}) == ""
    hostile = {"client_id": 1, "source_id": 2, "emulator_url": "javascript:alert(1)"}
    assert url_from_reference(hostile) == f"{APP}/client/1/pipeline/v2/sources/2/summary"
    assert destination_url_from_reference(None) == ""


def test_provider_info_registers_every_link():
    registered = get_provider_info()["extra-links"]
    assert len(registered) == 3
    for path in registered:
        module, _, name = path.rpartition(".")
        assert getattr(importlib.import_module(module), name).name in {
            "Stitch source",
            "Extraction logs",
            "Stitch destination",
        }


def xcom_reader(monkeypatch: pytest.MonkeyPatch, pushed: dict[str, Any]) -> None:
    def get_value(*, ti_key: Any, key: str) -> Any:
        return pushed.get(key)

    monkeypatch.setattr("airflow_provider_stitch.links.XCom.get_value", get_value)


def test_a_replication_run_links_to_the_emulator_pages_that_it_serves(emulator, context, monkeypatch):
    source_id = StitchCreateSourceOperator(
        task_id="create_source",
        source_type="platform.postgres",
        display_name="Shop",
        properties=dict(POSTGRES_SOURCE_PROPERTIES),
        wait_for_connection_check=True,
        deferrable=False,
        poll_interval=0.05,
    ).execute(context)
    StitchSelectStreamsOperator(
        task_id="select", source_id=source_id, streams={"public-customers": True}
    ).execute(context)
    start = StitchStartReplicationOperator(task_id="start", source_id=source_id, wait_for_completion=False)
    assert [type(link) for link in start.operator_extra_links] == [StitchSourceLink, StitchExtractionLogsLink]
    job_name = start.execute(context)
    xcom_reader(monkeypatch, context["ti"].xcom)

    source_page = StitchSourceLink().get_link(start, ti_key=object())
    logs_page = StitchExtractionLogsLink().get_link(start, ti_key=object())
    assert source_page == f"{emulator.base_url}/_emulator/sources/{source_id}"
    assert logs_page == f"{emulator.base_url}/_emulator/extractions/{source_id}/{job_name}/logs"
    answer = requests.get(source_page, timeout=10)
    assert answer.status_code == 200
    assert "Shop" in answer.text
    assert context["ti"].xcom[STITCH_SOURCE_XCOM_KEY]["job_name"] == job_name


def test_the_destination_task_carries_a_link(emulator, context, monkeypatch):
    operator = StitchCreateDestinationOperator(
        task_id="create_destination",
        destination_type="postgres",
        name="Warehouse",
        properties=dict(POSTGRES_DESTINATION_PROPERTIES),
    )
    assert [type(link) for link in operator.operator_extra_links] == [StitchDestinationLink]
    destination_id = operator.execute(context)
    assert context["ti"].xcom[STITCH_DESTINATION_XCOM_KEY] == {
        "client_id": emulator.client_id,
        "destination_id": destination_id,
        "emulator_url": emulator.base_url,
    }
    on_stitch = {
        k: v for k, v in context["ti"].xcom[STITCH_DESTINATION_XCOM_KEY].items() if k != "emulator_url"
    }
    xcom_reader(monkeypatch, {STITCH_DESTINATION_XCOM_KEY: on_stitch})
    assert StitchDestinationLink().get_link(operator, ti_key=object()) == (
        f"{APP}/client/{emulator.client_id}/pipeline/v2/sources"
    )


def test_the_sensors_carry_the_source_and_logs_links(emulator, context):
    from airflow_provider_stitch.sensors.replication import StitchExtractionSensor, StitchLoadSensor

    for sensor_class in (StitchExtractionSensor, StitchLoadSensor):
        assert [type(link) for link in sensor_class.operator_extra_links] == [
            StitchSourceLink,
            StitchExtractionLogsLink,
        ]
    source_id = StitchCreateSourceOperator(
        task_id="create_source",
        source_type="platform.postgres",
        display_name="Shop",
        properties=dict(POSTGRES_SOURCE_PROPERTIES),
    ).execute(context)
    sensor = StitchExtractionSensor(task_id="wait", source_id=source_id, job_name="100001.1.sync.x")
    sensor._push_links(context, sensor.client)
    assert context["ti"].xcom[STITCH_SOURCE_XCOM_KEY] == {
        "client_id": emulator.client_id,
        "source_id": source_id,
        "emulator_url": emulator.base_url,
        "job_name": "100001.1.sync.x",
    }
