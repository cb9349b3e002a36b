"""Every wait ends with its own job's outcome: consecutive runs of one source, syncs started seconds apart,
attach, a failing run after a succeeding one; real HTTP against a real-clock emulator at speed 1, 10 and 20.

The provider's clocks are not pinned to the emulator's: a sped-up emulator's timestamps run ahead of the
worker's clock, which is exactly what made a second run pass from the first run's job.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AssetAlias

from airflow_provider_stitch.api.jobs import to_epoch
from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator
from airflow_provider_stitch.sensors import StitchExtractionSensor, StitchLoadSensor
from tests.waits.waits_testkit import (
    CONN_ID,
    RecordingOutletEvents,
    RecordingTaskInstance,
    WaitsAccount,
    outcome_of,
    poke_until_done,
)

SPEEDS = [pytest.param(1.0, marks=pytest.mark.slow, id="speed-1"), 10.0, 20.0]


def dag_run(source_id: int, run: int) -> dict[str, Any]:
    """One run of the README's DAG: start without waiting, then an extraction sensor and a load sensor."""
    start_ti = RecordingTaskInstance()
    start = StitchStartReplicationOperator(
        task_id="start_sync", source_id=source_id, wait_for_completion=False, stitch_conn_id=CONN_ID
    )
    job_name = start.execute({"ti": start_ti})
    downstream = RecordingTaskInstance({("start_sync", "stitch_job"): start_ti.pushed["stitch_job"]})
    events = RecordingOutletEvents()
    context = {"ti": downstream, "outlet_events": events}
    extraction = StitchExtractionSensor(
        task_id=f"wait_for_extraction_{run}",
        source_id=source_id,
        replication_task_id="start_sync",
        stitch_conn_id=CONN_ID,
    )
    loads = StitchLoadSensor(
        task_id=f"wait_for_loads_{run}",
        source_id=source_id,
        replication_task_id="start_sync",
        stitch_conn_id=CONN_ID,
        outlets=[AssetAlias(f"stitch-run-{run}")],
    )
    return {
        "job_name": job_name,
        "extraction": outcome_of(lambda: poke_until_done(extraction, context)),
        "loads": outcome_of(lambda: poke_until_done(loads, context)),
        "asset_uris": events.uris(),
    }


def settled(account: WaitsAccount, source_id: int, job_name: str) -> dict[str, Any]:
    """The emulator's record of a job (it must exist and have ended)."""
    (job,) = [job for job in account.jobs_of(source_id) if job["job_name"] == job_name]
    return job


@pytest.mark.parametrize("speed", SPEEDS, indirect=True)
def test_consecutive_runs_of_one_source_each_end_with_their_own_job(account: WaitsAccount) -> None:
    speed = account.emulator.speed
    account.emulator.control.advance((speed - 1) * 100)  # as far ahead as after 100 s of running sped up
    source_id = account.make_source()
    account.arrange(source_id, tap=3.0 * speed)
    first = dag_run(source_id, 1)
    account.arrange(
        source_id,
        tap=3.0 * account.emulator.speed,
        fail={"phase": "tap", "message": "HTTP 401 from Freshdesk"},
    )
    second = dag_run(source_id, 2)
    account.arrange(source_id, tap=3.0 * speed)
    third = dag_run(source_id, 3)

    # The second run fails with its own tap failure: not a pass from the first run's job ~1 s after starting.
    assert second["job_name"] != first["job_name"]
    assert second["extraction"] == (
        "failed",
        f"Stitch extraction {second['job_name']} of source {source_id} failed: "
        "the tap phase exited with status 1: HTTP 401 from Freshdesk",
    )
    assert second["loads"][0] == "failed" and "HTTP 401 from Freshdesk" in second["loads"][1]
    assert second["asset_uris"] == [], "no asset events for loads that did not happen"

    status, found = first["extraction"]
    assert status == "ok" and found["job_name"] == first["job_name"] and found["succeeded"] is True
    status, loaded = first["loads"]
    assert status == "ok" and sorted(loaded["loaded_at"]) == ["accounts", "events", "users"]
    assert min(loaded["loaded_at"].values()) >= found["completion_time"]
    assert first["asset_uris"], "the loaded tables are attached to the run's asset alias"

    # The third run succeeds from its own job, not failing with the second run's failure.
    status, found = third["extraction"]
    assert status == "ok" and found["job_name"] == third["job_name"] and found["succeeded"] is True
    assert third["loads"][0] == "ok" and third["asset_uris"]
    ended = settled(account, source_id, third["job_name"])
    assert to_epoch(found["completion_time"]) >= to_epoch(ended["started_at"])


@pytest.mark.parametrize("speed", [10.0], indirect=True)
def test_two_syncs_started_seconds_apart_attach_and_both_end_with_the_running_job(
    account: WaitsAccount,
) -> None:
    source_id = account.make_source()
    account.arrange(source_id, tap=60.0)  # 6 real seconds
    first = StitchStartReplicationOperator(
        task_id="start_a", source_id=source_id, stitch_conn_id=CONN_ID, poll_interval=0.2
    )
    second = StitchStartReplicationOperator(
        task_id="start_b", source_id=source_id, stitch_conn_id=CONN_ID, if_running="attach", poll_interval=0.2
    )
    started_ti = RecordingTaskInstance()
    import threading

    results: dict[str, tuple[str, Any]] = {}
    runner = threading.Thread(
        target=lambda: results.__setitem__("a", outcome_of(lambda: first.execute({"ti": started_ti})))
    )
    runner.start()
    while not started_ti.pushed.get("stitch_job"):
        runner.join(0.05)
        assert runner.is_alive() or started_ti.pushed, results
    attached_ti = RecordingTaskInstance()
    results["b"] = outcome_of(lambda: second.execute({"ti": attached_ti}))
    runner.join(60)
    job_name = started_ti.pushed["stitch_job"]["job_name"]
    assert results == {"a": ("ok", job_name), "b": ("ok", job_name)}
    assert attached_ti.pushed["stitch_job"]["job_name"] is None  # Stitch named no job to the second start
    assert [job["job_name"] for job in account.jobs_of(source_id)] == [job_name]

    # A later run whose tap fails ends with its own failure; the earlier outcomes were not reused.
    account.arrange(source_id, tap=10.0, fail={"phase": "tap", "message": "rate limited by Freshdesk"})
    third = StitchStartReplicationOperator(
        task_id="start_c", source_id=source_id, stitch_conn_id=CONN_ID, poll_interval=0.2
    )
    with pytest.raises(AirflowException, match="failed in the tap phase: .*rate limited by Freshdesk"):
        third.execute({"ti": RecordingTaskInstance()})
