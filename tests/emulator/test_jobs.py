"""Replication jobs with the manual clock: start, already_running, stop, failures, extractions, loads, logs."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.errors import StitchAPIError
from airflow_provider_stitch.emulator import StitchEmulator
from tests.emulator.emulator_helpers import configured_postgres


def test_job_lifecycle(emu: StitchEmulator, client: StitchClient, http: httpx.Client) -> None:
    source = configured_postgres(emu, http)
    job = client.start_sync(source["id"])
    assert job.job_name.startswith(f"116078.{source['id']}.sync.")
    again = client.start_sync(source["id"])
    assert again.already_running is True
    assert again.message == (
        f"Did not create job for client-id: 116078; connection-id: {source['id']} because one already exists"
    )
    phases = [s["phase"] for s in [emu.control.state()["accounts"][0]["jobs"][0]]]
    assert phases == ["discovery"]
    emu.control.advance(3)
    assert emu.control.state()["accounts"][0]["jobs"][0]["phase"] == "tap"
    assert client.list_extractions() == []
    emu.control.advance(7)
    (extraction,) = client.list_extractions()
    assert extraction.job_name == job.job_name and extraction.succeeded
    assert extraction.source_type == "tap-hp-postgres"
    assert (extraction.completion_time - extraction.start_time).total_seconds() == 10
    (load,) = client.list_loads()
    assert (load.source_name, load.stream_name, load.error_state) == ("shop_db", "customers", None)
    assert load.last_batch_loaded_at == extraction.completion_time
    assert client.start_sync(source["id"]).already_running is False


def test_arranged_tap_failure_and_load_error(
    emu: StitchEmulator, client: StitchClient, http: httpx.Client
) -> None:
    source = configured_postgres(emu, http)
    emu.control.arrange(
        source["id"],
        fail={"phase": "tap", "message": "Response returned http error code 401", "exit_status": 1},
    )
    client.start_sync(source["id"])
    emu.control.advance(30)
    (extraction,) = client.list_extractions()
    assert (extraction.discovery_exit_status, extraction.tap_exit_status, extraction.target_exit_status) == (
        0,
        1,
        0,
    )
    assert extraction.tap_description == "Response returned http error code 401"
    assert client.list_loads() == []
    emu.control.arrange(source["id"], load_error={"message": "disk full"})
    client.start_sync(source["id"])
    emu.control.advance(30)
    assert client.list_extractions()[0].succeeded
    (load,) = client.list_loads()
    assert load.last_batch_loaded_at is None
    assert load.error_state["notification_data"]["warehouse_message"] == "disk full"


def test_discovery_failure_ends_job_early(
    emu: StitchEmulator, client: StitchClient, http: httpx.Client
) -> None:
    source = configured_postgres(emu, http)
    emu.control.arrange(
        source["id"],
        fail={"phase": "discovery", "message": "boom", "exit_status": 2},
        durations={"discovery": 1, "tap": 100, "target": 100},
    )
    client.start_sync(source["id"])
    emu.control.advance(1)
    (extraction,) = client.list_extractions()
    assert extraction.exit_statuses == (2, None, None)
    assert extraction.discovery_description == "boom"


def test_stop_terminates(emu: StitchEmulator, client: StitchClient, http: httpx.Client) -> None:
    source = configured_postgres(emu, http)
    client.start_sync(source["id"])
    emu.control.advance(1)
    assert client.stop_sync(source["id"]).status == 200
    (extraction,) = client.list_extractions()
    assert extraction.exit_statuses == (None, None, None)
    assert extraction.tap_description == "Terminated" and extraction.completion_time is not None
    assert client.start_sync(source["id"]).already_running is False


def test_sync_errors(emu: StitchEmulator, client: StitchClient, http: httpx.Client) -> None:
    missing = http.post("/v4/sources/999/sync")
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": {"type": "invalid_source", "message": "Unable to locate source(999) for client (116078)"}},
    )
    source = configured_postgres(emu, http)
    client.pause_source(source["id"])
    assert client.start_sync(source["id"]).job_name
    client.stop_sync(source["id"])
    client.delete_source(source["id"])
    deleted = http.post(f"/v4/sources/{source['id']}/sync")
    assert deleted.json() == {"error": {"type": "invalid_source", "message": "Integration is deleted."}}
    with pytest.raises(StitchAPIError):
        client.start_sync(source["id"])


def test_schedule_runs_unpaused_sources(
    emu: StitchEmulator, client: StitchClient, http: httpx.Client
) -> None:
    source = configured_postgres(emu, http)
    next_fire = client.get_source(source["id"]).schedule.next_fire_time
    assert next_fire is not None
    emu.control.advance(3600 + 60)
    (extraction,) = client.list_extractions()
    assert extraction.start_time == next_fire
    client.pause_source(source["id"])
    emu.control.advance(7200)
    assert client.list_extractions()[0].job_name == extraction.job_name


def test_logs_redirect_and_download(emu: StitchEmulator, client: StitchClient, http: httpx.Client) -> None:
    source = configured_postgres(emu, http)
    job = client.start_sync(source["id"])
    emu.control.advance(20)
    redirect = http.get(f"/v4/116078/extractions/{job.job_name}")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(emu.base_url + "/")
    refused = httpx.get(location, headers={"Authorization": f"Bearer {emu.token}"})
    assert refused.status_code == 400
    text = client.fetch_extraction_logs(job.job_name)
    assert f"main INFO Starting {job.job_name}" in text
    assert "tap INFO replicated" in text and '"customers"' in text
    assert http.get("/v4/116078/extractions/116078.1.sync.nope").status_code == 404


def test_jobs_endpoints_refuse_another_client_id(http: httpx.Client) -> None:
    for path in ("/v4/999/extractions", "/v4/999/loads", "/v4/999/extractions/x"):
        assert http.get(path).status_code == 401


def test_extractions_paginate_by_source_id(
    emu: StitchEmulator, client: StitchClient, http: httpx.Client
) -> None:
    ids = []
    for index in range(130):
        created = http.post(
            "/v4/sources", json={"type": "import_api", "display_name": f"Import {index}"}
        ).json()
        ids.append(created["id"])
        http.post(f"/v4/sources/{created['id']}/sync")
    emu.control.advance(20)
    first = http.get("/v4/116078/extractions").json()
    assert (first["page"], first["total"], len(first["data"])) == (1, 130, 100)
    assert first["links"] == {"next": "/v4/116078/extractions?page=2"}
    second = http.get("/v4/116078/extractions?page=2").json()
    assert second["links"] == {"previous": "/v4/116078/extractions?page=1"}
    assert [row["source_id"] for row in first["data"] + second["data"]] == sorted(ids)
    assert len(client.list_extractions()) == 130


def test_loads_paginate_by_stream_name(emu: StitchEmulator, client: StitchClient, http: httpx.Client) -> None:
    source = http.post(
        "/v4/sources",
        json={
            "type": "platform.hp-postgres",
            "display_name": "Big",
            "properties": {
                "host": "h",
                "port": "5432",
                "user": "u",
                "password": "p",
                "dbname": "big",
                "include_schemas_in_destination_stream_name": "true",
            },
        },
    ).json()
    emu.control.arrange(source["id"], extra_tables=110)
    emu.control.advance(5)
    streams = [s for s in client.list_streams(source["id"]) if s.stream_name.startswith("table_")]
    body = {
        "streams": [
            {
                "tap_stream_id": s.tap_stream_id,
                "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
            }
            for s in streams
        ]
    }
    assert http.put(f"/v4/sources/{source['id']}/streams/metadata", json=body).json() == {"status": 200}
    client.start_sync(source["id"])
    emu.control.advance(20)
    page = http.get("/v4/116078/loads").json()
    assert page["total"] == 110 and page["links"]["next"] == "/v4/116078/loads?page=2"
    names = [row["stream_name"] for row in page["data"]]
    assert names == sorted(names)
    assert len(client.list_loads()) == 110
