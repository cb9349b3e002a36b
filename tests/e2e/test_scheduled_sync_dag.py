"""stitch_scheduled_sync on a real Airflow: one run over three sources — one healthy, one whose tap
fails, one paused — checked from several angles (one DAG run serves every test here, to keep it fast)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.e2e.e2e_support import create_ready_source

TAP_FAILURE = 'ERROR: permission denied for relation "customers"'


@pytest.fixture(scope="module")
def scheduled_run(
    demo: ModuleType,
    airflow_home: dict[str, str],
    e2e_emulator_server: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """Arrange the three sources, run the DAG once without params, and keep what the tests look at."""
    from airflow_provider_stitch.api.client import StitchClient

    emulator = e2e_emulator_server
    emulator.control.reset()
    folder = tmp_path_factory.mktemp("scheduled-sync")
    with StitchClient(emulator.token, base_url=emulator.base_url, client_id=emulator.client_id) as client:
        healthy = create_ready_source(client, "Orders EU")
        broken = create_ready_source(client, "Orders US")
        paused = create_ready_source(client, "Orders archive")
        client.pause_source(paused)
        emulator.control.arrange(broken, fail={"phase": "tap", "message": TAP_FAILURE, "exit_status": 1})

        env = dict(airflow_home)
        env["AIRFLOW_CONN_STITCH_DEFAULT"] = demo.stitch_connection_json(
            emulator.base_url,
            emulator.token,
            emulator.client_id,
            emulator_speed=emulator.speed,
            extra={"budget_location": str(folder / "jobs-budget.sqlite")},
        )
        log_path = folder / "dags-test.log"
        code = demo.run_dag_test(env, "stitch_scheduled_sync", log_path=log_path)

        account = next(
            a for a in emulator.control.state()["accounts"] if a["client_id"] == emulator.client_id
        )
        stats = emulator.control.stats(include_log=False)  # before the lists below add their own requests
        return {
            "code": code,
            "output": log_path.read_text(encoding="utf-8"),
            "ids": {"healthy": healthy, "broken": broken, "paused": paused},
            "jobs": account["jobs"],
            "extractions": {row.source_id: row for row in client.list_extractions()},
            "loads": [(load.source_name, load.stream_name, load.error_state) for load in client.list_loads()],
            "names": {source.id: source.name for source in client.list_sources()},
            "stats": stats,
        }


def test_only_active_configured_sources_are_synced(scheduled_run: dict[str, Any]) -> None:
    ids = scheduled_run["ids"]
    synced = sorted(job["source_id"] for job in scheduled_run["jobs"])
    assert synced == sorted([ids["healthy"], ids["broken"]])
    assert all(job["phase"] == "done" for job in scheduled_run["jobs"])


def test_healthy_source_replicates_and_loads(scheduled_run: dict[str, Any]) -> None:
    healthy = scheduled_run["ids"]["healthy"]
    assert scheduled_run["extractions"][healthy].exit_statuses == (0, 0, 0)
    name = scheduled_run["names"][healthy]
    assert [(stream, error) for source, stream, error in scheduled_run["loads"] if source == name] == [
        ("customers", None)
    ]


def test_failed_tap_fails_the_replication_task_with_stitchs_description(
    scheduled_run: dict[str, Any],
) -> None:
    broken = scheduled_run["ids"]["broken"]
    row = scheduled_run["extractions"][broken]
    assert (row.tap_exit_status, row.tap_description) == (1, TAP_FAILURE)

    failure_lines = [line for line in scheduled_run["output"].splitlines() if TAP_FAILURE in line]
    assert failure_lines, scheduled_run["output"][-4000:]
    assert any("tap" in line and str(broken) in line for line in failure_lines)
    assert scheduled_run["names"][broken] not in {source for source, _, _ in scheduled_run["loads"]}


def test_a_failed_source_fails_the_run_and_holds_back_the_reports(scheduled_run: dict[str, Any]) -> None:
    assert scheduled_run["code"] != 0
    assert "Stitch loaded sources" not in scheduled_run["output"]


def test_waits_stay_within_the_jobs_allowance(scheduled_run: dict[str, Any]) -> None:
    counters = next(iter(scheduled_run["stats"]["by_client"].values()))
    assert 0 < counters["max_jobs_in_window"] <= 30
    assert counters["blocked"] == 0
