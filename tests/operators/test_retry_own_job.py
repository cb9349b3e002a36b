"""A retried start goes on with the job its earlier try started: one sync per task across retries.

Each test runs the operator twice against the manual-clock emulator over loopback, as tries 1 and 2 of one
task instance (Airflow clears XComs between tries, so only the budget's store links them); the emulator's own
job list is the judge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred

from airflow_provider_stitch.api.jobs import forget_monitors
from airflow_provider_stitch.api.jobs.own_jobs import OwnJobRecords, TaskIdentity
from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator
from tests.testkit.jobs import CONN_ID, connection_uri_env, start_jobs

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


class Interrupted(Exception):
    """Stands in for the worker dying while the try waits (no ``on_kill``, the job goes on)."""


class TryOfTask:
    """One try of a task instance: its identity, try number and the XComs it pushed."""

    def __init__(self, try_number: int, *, run_id: str = "manual__2026-12-07", map_index: int = -1) -> None:
        self.dag_id = "stitch_sync"
        self.run_id = run_id
        self.task_id = "start_sync"
        self.map_index = map_index
        self.try_number = try_number
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.fixture
def task_log(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """The lines the tasks logged (Airflow 3's structlog task logger, or stdlib logging on 2.11)."""
    caplog.set_level("INFO")
    with structlog.testing.capture_logs() as captured:
        yield lambda: [str(e["event"]) for e in captured] + [r.getMessage() for r in caplog.records]


def operator(**kwargs: Any) -> StitchStartReplicationOperator:
    return StitchStartReplicationOperator(task_id="start_sync", stitch_conn_id=CONN_ID, **kwargs)


def jobs_of(env, source: int) -> list[dict[str, Any]]:
    """The emulator's own list of the source's jobs, oldest first."""
    jobs = env.emulator.control.state()["accounts"][0]["jobs"]
    return sorted((job for job in jobs if job["source_id"] == source), key=lambda job: job["started_at"])


def die_while_waiting(monkeypatch: pytest.MonkeyPatch, env, source: int, **kwargs: Any) -> str:
    """Try 1 starts a sync and dies at its first pause; answers the job it started."""

    def killed(seconds: float) -> None:
        raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(StitchStartReplicationOperator, "sleep", staticmethod(killed))
        with pytest.raises(Interrupted):
            operator(source_id=source, **kwargs).execute({"ti": TryOfTask(1)})
    (job,) = jobs_of(env, source)
    return str(job["job_name"])


def test_a_retry_after_its_job_succeeded_starts_nothing_and_returns_that_job(
    env, source_id, monkeypatch, task_log
) -> None:
    started = die_while_waiting(monkeypatch, env, source_id)
    env.advance(100)  # the 42-second job ends while no try runs
    retry = TryOfTask(2)
    assert operator(source_id=source_id).execute({"ti": retry}) == started
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [started]
    assert retry.pushed["stitch_job"]["job_name"] == started
    told = [line for line in task_log() if line.startswith("Try 2: try 1 of this task started")]
    assert len(told) == 1
    assert re.search(
        rf"started {re.escape(started)} \(started {ISO}\); it ended at {ISO} and succeeded, so this try "
        "starts nothing",
        told[0],
    ), told[0]


def test_a_retry_while_its_job_runs_attaches_even_when_if_running_says_fail(
    env, source_id, monkeypatch, task_log
) -> None:
    started = die_while_waiting(monkeypatch, env, source_id, if_running="fail")
    env.advance(5)  # still running
    assert operator(source_id=source_id, if_running="fail").execute({"ti": TryOfTask(2)}) == started
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [started]
    assert any("does not list it as ended, so this try waits for it" in line for line in task_log())


def test_a_retry_after_its_job_failed_starts_a_new_sync(env, source_id, monkeypatch, task_log) -> None:
    env.emulator.control.arrange(source_id, fail={"phase": "tap", "message": "HTTP 401 from Freshdesk"})
    failed = die_while_waiting(monkeypatch, env, source_id)
    env.advance(100)
    second = operator(source_id=source_id).execute({"ti": TryOfTask(2)})
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [failed, second]
    assert second != failed
    assert any(
        re.search(rf"it ended at {ISO} and failed \(the tap phase exited with status 1: HTTP 401", line)
        and "so this try starts a new sync" in line
        for line in task_log()
    )


def test_a_third_try_adopts_the_second_tries_job_not_the_first(env, source_id, monkeypatch) -> None:
    env.emulator.control.arrange(source_id, fail={"phase": "tap", "message": "HTTP 401 from Freshdesk"})
    first = die_while_waiting(monkeypatch, env, source_id)
    env.advance(100)

    def killed(seconds: float) -> None:
        raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(StitchStartReplicationOperator, "sleep", staticmethod(killed))
        with pytest.raises(Interrupted):
            operator(source_id=source_id).execute({"ti": TryOfTask(2)})
    second = [job["job_name"] for job in jobs_of(env, source_id)][-1]
    env.advance(100)
    assert operator(source_id=source_id).execute({"ti": TryOfTask(3)}) == second
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [first, second]


def test_a_try_that_reached_its_outcome_leaves_nothing_so_a_cleared_task_syncs_again(env, source_id) -> None:
    first = operator(source_id=source_id).execute({"ti": TryOfTask(1)})
    env.advance(60)
    again = operator(source_id=source_id).execute({"ti": TryOfTask(2)})  # the task was cleared
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [first, again]


def test_a_failed_outcome_is_forgotten_too(env, source_id) -> None:
    env.emulator.control.arrange(source_id, fail={"phase": "tap", "message": "HTTP 401 from Freshdesk"})
    with pytest.raises(AirflowException, match="HTTP 401 from Freshdesk"):
        operator(source_id=source_id).execute({"ti": TryOfTask(1)})
    records = OwnJobRecords(env.client.jobs_budget)
    assert records.recall(TaskIdentity("stitch_sync", "manual__2026-12-07", "start_sync"), source_id) is None


def test_records_are_per_task_instance_not_per_try(env, source_id, monkeypatch) -> None:
    started = die_while_waiting(monkeypatch, env, source_id)
    env.advance(100)
    other_run = operator(source_id=source_id).execute({"ti": TryOfTask(2, run_id="manual__other")})
    other_index = operator(source_id=source_id).execute({"ti": TryOfTask(2, map_index=3)})
    names = [job["job_name"] for job in jobs_of(env, source_id)]
    assert names == [started, other_run, other_index]  # neither is the task instance that started it


def test_a_retry_someone_else_started_a_job_for_meanwhile_still_adopts_its_own_outcome(
    env, source_id, monkeypatch
) -> None:
    started = die_while_waiting(monkeypatch, env, source_id)
    env.advance(100)
    (newer,) = start_jobs(env.emulator, env.client, [source_id], lambda _: 40.0).values()
    env.advance(100)  # Stitch now lists the newer job; the retry decides from it as try 1's wait would
    assert operator(source_id=source_id).execute({"ti": TryOfTask(2)}) == started
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [started, newer]


def test_a_deferred_try_whose_trigger_broke_down_defers_again_on_the_same_job(env, source_id) -> None:
    first = operator(source_id=source_id, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        first.execute({"ti": TryOfTask(1)})
    started = deferred.value.trigger.job_name
    with pytest.raises(AirflowException, match="could not read"):
        first.execute_complete(
            {"ti": TryOfTask(1)}, {"status": "error", "message": "could not read the job's state"}
        )
    env.advance(100)
    with pytest.raises(TaskDeferred) as again:
        operator(source_id=source_id, deferrable=True).execute({"ti": TryOfTask(2)})
    assert again.value.trigger.job_name == started
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [started]
    done = operator(source_id=source_id, deferrable=True)
    assert done.execute_complete({"ti": TryOfTask(2)}, {"status": "success", "job_name": started}) == started
    records = OwnJobRecords(env.client.jobs_budget)
    assert records.recall(TaskIdentity("stitch_sync", "manual__2026-12-07", "start_sync"), source_id) is None


def test_a_retry_waiting_for_loads_goes_on_to_the_loads_of_its_job(env, source_id, monkeypatch) -> None:
    started = die_while_waiting(monkeypatch, env, source_id, wait_for_loads=True)
    env.advance(100)
    assert operator(source_id=source_id, wait_for_loads=True).execute({"ti": TryOfTask(2)}) == started
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [started]


def test_without_a_shared_store_a_retry_starts_as_before(env, source_id, monkeypatch, tmp_path) -> None:
    started = die_while_waiting(monkeypatch, env, source_id)
    env.advance(100)
    # the retry runs on another host: its SQLite store is not the one try 1 wrote to
    name, value = connection_uri_env(env.emulator, str(tmp_path / "other-host.sqlite"))
    monkeypatch.setenv(name, value)
    forget_monitors()
    second = operator(source_id=source_id).execute({"ti": TryOfTask(2)})
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [started, second]


def test_a_start_whose_answer_was_lost_is_recorded_once_recognised(env, source_id, monkeypatch) -> None:
    env.emulator.control.set_faults(pattern=r"/sync$", method="POST", action="lose", times=1)
    first = TryOfTask(1)

    def dies_once_waiting(seconds: float) -> None:
        if "stitch_job" in first.pushed:  # the start is behind it: this is the wait
            raise Interrupted
        env.emulator.runtime.clock.advance(seconds)

    with monkeypatch.context() as patch:
        patch.setattr(StitchStartReplicationOperator, "sleep", staticmethod(dies_once_waiting))
        with pytest.raises(Interrupted):
            operator(source_id=source_id).execute({"ti": first})
    assert first.pushed["stitch_job"]["job_name"] is None  # the lost answer named no job
    (started,) = [job["job_name"] for job in jobs_of(env, source_id)]
    env.advance(100)
    assert operator(source_id=source_id).execute({"ti": TryOfTask(2)}) == started
    assert [job["job_name"] for job in jobs_of(env, source_id)] == [started]


def test_the_record_is_forgotten_last_so_a_try_dying_after_its_outcome_leaves_it(
    env, source_id, monkeypatch
) -> None:
    first = operator(source_id=source_id, deferrable=True, wait_for_loads=True)
    with pytest.raises(TaskDeferred) as deferred:
        first.execute({"ti": TryOfTask(1)})
    started = deferred.value.trigger.job_name

    def dies(self: Any, context: Any) -> None:
        raise Interrupted

    monkeypatch.setattr(StitchStartReplicationOperator, "attach_destination_assets", dies)
    resumed = operator(source_id=source_id, deferrable=True, wait_for_loads=True)
    with pytest.raises(Interrupted):
        resumed.execute_complete({"ti": TryOfTask(1)}, {"status": "success", "job_name": started})
    records = OwnJobRecords(env.client.jobs_budget)
    kept = records.recall(TaskIdentity("stitch_sync", "manual__2026-12-07", "start_sync"), source_id)
    assert kept is not None and kept.job_name == started
