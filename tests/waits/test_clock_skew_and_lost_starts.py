"""A worker clock 120 s behind or ahead of Stitch's, and a start whose answer is lost: each wait still ends
with its own job's outcome, and one task never starts two syncs. Real HTTP against a real-clock emulator."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator
from tests.waits.waits_testkit import CONN_ID, RecordingTaskInstance, WaitsAccount, worker_clock_skewed

START_PATH = r"^/v4/sources/\d+/sync$"


def start_and_wait(source_id: int, **options: Any) -> tuple[str | None, RecordingTaskInstance]:
    """Run the start operator with its own wait (in the worker); its return value and task instance."""
    ti = RecordingTaskInstance()
    task = StitchStartReplicationOperator(
        task_id="start_sync", source_id=source_id, stitch_conn_id=CONN_ID, poll_interval=0.2, **options
    )
    return task.execute({"ti": ti}), ti


def test_worker_clock_behind_stitch_does_not_turn_a_failing_sync_into_a_success(
    account: WaitsAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    with worker_clock_skewed(monkeypatch, -120.0):
        source_id = account.make_source()
        account.arrange(source_id, tap=10.0)
        first, _ = start_and_wait(source_id)
        assert first is not None
        account.emulator.control.arrange(
            source_id,
            durations={"discovery": 40.0, "tap": 10.0, "target": 1.0},
            fail={"phase": "discovery", "message": "FATAL: password authentication failed"},
        )
        with pytest.raises(
            AirflowException, match="failed in the discovery phase: .*password authentication"
        ):
            start_and_wait(source_id)
    names = [job["job_name"] for job in account.jobs_of(source_id)]
    assert len(names) == 2 and names[0] == first


def test_worker_clock_ahead_of_stitch_still_sees_an_attached_job_finish(
    account: WaitsAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    with worker_clock_skewed(monkeypatch, +120.0):
        source_id = account.make_source()
        account.arrange(source_id, tap=10.0)
        first, _ = start_and_wait(source_id)
        account.arrange(source_id, tap=40.0)
        running = account.client.start_sync(source_id).job_name  # someone else's sync, 4 real seconds
        attached, ti = start_and_wait(source_id, if_running="attach", timeout=60.0)
    assert attached == running != first
    assert ti.pushed["stitch_job"]["job_name"] is None
    assert ti.pushed["stitch_job"]["previous_job"] == first


@pytest.mark.parametrize("if_running", ["fail", "skip"])
def test_a_lost_start_answer_neither_fails_nor_skips_and_starts_one_sync(
    account: WaitsAccount, if_running: str
) -> None:
    source_id = account.make_source()
    account.arrange(source_id, tap=40.0)  # longer than the pause before the resend
    account.emulator.control.set_faults(pattern=START_PATH, method="POST", action="lose", times=1)
    finished, ti = start_and_wait(source_id, if_running=if_running)
    (job,) = account.jobs_of(source_id)
    assert finished == job["job_name"]
    assert ti.pushed["stitch_job"]["job_name"] is None  # the resend met the task's own job
    assert account.emulator.control.faults()[0]["hits"] == 1


def test_a_lost_start_answer_of_a_job_shorter_than_the_pause_adopts_it_and_sends_no_second_start(
    account: WaitsAccount,
) -> None:
    source_id = account.make_source()
    account.emulator.control.arrange(source_id, durations={"discovery": 0.5, "tap": 1.0, "target": 0.5})
    account.emulator.control.set_faults(pattern=START_PATH, method="POST", action="lose", times=1)
    finished, ti = start_and_wait(source_id)
    (job,) = account.jobs_of(source_id)
    assert finished == job["job_name"] == ti.pushed["stitch_job"]["job_name"]
    starts = [
        e for e in account.emulator.control.stats()["log"] if e["method"] == "POST" and "/sync" in e["path"]
    ]
    assert len(starts) == 1
