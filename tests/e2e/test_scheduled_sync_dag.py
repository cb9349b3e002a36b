"""stitch_scheduled_sync on a real Airflow: mapped syncs and load waits, and a failing tap."""

from __future__ import annotations

from typing import Any

from e2e_support import create_ready_source, requires_airflow3

pytestmark = requires_airflow3


def _jobs_by_source(emulator: Any) -> dict[int, list[dict[str, Any]]]:
    account = next(a for a in emulator.control.state()["accounts"] if a["client_id"] == emulator.client_id)
    jobs: dict[int, list[dict[str, Any]]] = {}
    for job in account["jobs"]:
        jobs.setdefault(job["source_id"], []).append(job)
    return jobs


def test_scheduled_sync_replicates_every_active_source(
    run_dag: Any, e2e_emulator: Any, stitch_client: Any
) -> None:
    active = [create_ready_source(stitch_client, name) for name in ("Orders EU", "Orders US")]
    paused = create_ready_source(stitch_client, "Orders archive")
    stitch_client.pause_source(paused)

    code, output = run_dag("stitch_scheduled_sync")
    assert code == 0, output[-4000:]

    jobs = _jobs_by_source(e2e_emulator)
    assert sorted(jobs) == sorted(active)
    assert all(len(runs) == 1 and runs[0]["phase"] == "done" for runs in jobs.values())
    finished = {row.source_id: row for row in stitch_client.list_extractions()}
    assert all(finished[source_id].exit_statuses == (0, 0, 0) for source_id in active)
    loaded = {(load.source_name, load.stream_name) for load in stitch_client.list_loads()}
    names = {source.id: source.name for source in stitch_client.list_sources()}
    assert {name for name, _ in loaded} == {names[source_id] for source_id in active}
    assert f"Stitch loaded sources {sorted(active)}" in output


def test_failed_tap_fails_the_replication_task_with_stitchs_description(
    run_dag: Any, e2e_emulator: Any, stitch_client: Any
) -> None:
    source_id = create_ready_source(stitch_client, "Orders broken")
    message = 'ERROR: permission denied for relation "customers"'
    e2e_emulator.control.arrange(source_id, fail={"phase": "tap", "message": message, "exit_status": 1})

    code, output = run_dag("stitch_scheduled_sync", conf={"source_ids": [source_id]})

    assert code != 0
    failure_lines = [line for line in output.splitlines() if message in line]
    assert failure_lines, output[-4000:]
    assert any("tap" in line for line in failure_lines)
    assert "Stitch loaded sources" not in output
    finished = next(row for row in stitch_client.list_extractions() if row.source_id == source_id)
    assert finished.tap_exit_status == 1 and finished.tap_description == message
