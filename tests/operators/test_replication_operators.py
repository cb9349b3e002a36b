"""StitchStartReplicationOperator and StitchStopReplicationOperator against the manual-clock emulator."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowSkipException, TaskDeferred

from airflow_provider_stitch.operators.replication import (
    StitchStartReplicationOperator,
    StitchStopReplicationOperator,
)
from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger, StitchLoadTrigger
from tests.testkit.jobs import CONN_ID, FakeTaskInstance, start_jobs


class Interrupted(Exception):
    """Stands in for the task being killed while it waits."""


def operator(**kwargs):
    return StitchStartReplicationOperator(task_id="start_sync", stitch_conn_id=CONN_ID, **kwargs)


def running_jobs(env, source):
    jobs = env.emulator.control.state()["accounts"][0]["jobs"]
    return {job["job_name"]: job for job in jobs if job["source_id"] == source}


def test_start_without_waiting_returns_the_job_and_pushes_xcom(env, source_id):
    ti = FakeTaskInstance()
    job_name = operator(source_id=source_id, wait_for_completion=False).execute({"ti": ti})
    assert job_name in running_jobs(env, source_id)
    assert ti.pushed["stitch_source"] == {
        "client_id": env.emulator.client_id,
        "source_id": source_id,
        "emulator_url": env.emulator.base_url,
        "job_name": job_name,
    }
    assert ti.pushed["stitch_job"] == {
        "job_name": job_name,
        "source_id": source_id,
        "previous_job": None,
        "previous_known": True,
    }
    assert env.jobs_requests() == 1  # the source's row as Stitch listed it before the start


def test_waiting_in_a_worker_succeeds_through_the_monitor(env, source_id):
    job_name = operator(source_id=source_id, poll_interval=10).execute({"ti": FakeTaskInstance()})
    assert job_name in running_jobs(env, source_id)
    # a refresh at most every 20 s (600 s / 30) over a 42-second job, although poll_interval is 10 s
    assert 1 <= env.jobs_requests() <= 4


def test_a_failed_extraction_fails_with_phase_message_and_log_location(env, source_id, capsys):
    env.emulator.control.arrange(
        source_id, fail={"phase": "discovery", "message": "FATAL: password rejected"}
    )
    with pytest.raises(AirflowException) as failure:
        operator(source_id=source_id).execute({"ti": FakeTaskInstance()})
    assert (
        "failed in the discovery phase: the discovery phase exited with status 1: FATAL: password rejected"
        in str(failure.value)
    )
    printed = capsys.readouterr()
    assert "Extraction logs of" in printed.out + printed.err and "/__logs__/" in printed.out + printed.err
    paths = [entry["path"] for entry in env.emulator.control.stats()["log"] if entry["group"] == "jobs"]
    assert any("/extractions/" in path for path in paths)  # the log URL was paid from the budget


def test_wait_for_loads_in_a_worker(env, source_id):
    assert operator(source_id=source_id, wait_for_loads=True).execute({"ti": FakeTaskInstance()})
    env.emulator.control.arrange(source_id, load_error={"message": "relation is locked"})
    with pytest.raises(AirflowException, match="loading stream 'accounts' failed: relation is locked"):
        operator(source_id=source_id, wait_for_loads=True).execute({"ti": FakeTaskInstance()})


@pytest.mark.parametrize(
    ("if_running", "expected"),
    [("fail", AirflowException), ("skip", AirflowSkipException)],
)
def test_already_running_fail_or_skip(env, source_id, if_running, expected):
    start_jobs(env.emulator, env.client, [source_id], lambda _: 40.0)
    with pytest.raises(expected, match="already has a running job"):
        operator(source_id=source_id, if_running=if_running).execute({"ti": FakeTaskInstance()})


def test_already_running_attach_waits_for_the_running_job(env, source_id):
    names = start_jobs(env.emulator, env.client, [source_id], lambda _: 40.0)
    ti = FakeTaskInstance()
    assert operator(source_id=source_id, if_running="attach").execute({"ti": ti}) == names[source_id]
    assert ti.pushed["stitch_job"]["job_name"] is None


def test_deferrable_start_hands_the_wait_to_a_trigger(env, source_id):
    ti = FakeTaskInstance()
    with pytest.raises(TaskDeferred) as deferred:
        operator(source_id=source_id, deferrable=True, timeout=900).execute({"ti": ti})
    trigger = deferred.value.trigger
    assert isinstance(trigger, StitchExtractionTrigger) and trigger.stop_on_timeout
    assert trigger.job_name == ti.pushed["stitch_job"]["job_name"] == trigger.return_value
    assert trigger.deadline == pytest.approx(env.now() + 900)
    assert (trigger.previous_job, trigger.previous_known) == (None, True)
    env.advance(60)
    with pytest.raises(TaskDeferred) as deferred:
        operator(source_id=source_id, deferrable=True, wait_for_loads=True).execute(
            {"ti": FakeTaskInstance()}
        )
    assert isinstance(deferred.value.trigger, StitchLoadTrigger)
    done = operator(source_id=source_id)
    assert done.execute_complete({}, {"status": "success", "job_name": "j1"}) == "j1"
    with pytest.raises(AirflowException, match="timed out: gave up; the sync was stopped"):
        done.execute_complete({}, {"status": "timeout", "message": "gave up; the sync was stopped"})


def test_timeout_in_a_worker_stops_the_sync(env, source_id):
    env.emulator.control.arrange(source_id, durations={"tap": 5000.0})
    with pytest.raises(AirflowException, match="did not finish within 2 min; the sync was stopped"):
        operator(source_id=source_id, timeout=120).execute({"ti": FakeTaskInstance()})
    assert [job["stopped"] for job in running_jobs(env, source_id).values()] == [True]


def test_on_kill_stops_the_sync(env, source_id, monkeypatch):
    def interrupt(seconds):
        raise Interrupted

    monkeypatch.setattr(StitchStartReplicationOperator, "sleep", staticmethod(interrupt))
    task = operator(source_id=source_id)
    with pytest.raises(Interrupted):
        task.execute({"ti": FakeTaskInstance()})
    task.on_kill()
    assert [job["stopped"] for job in running_jobs(env, source_id).values()] == [True]
    task.on_kill()  # nothing left to stop: no second request


def test_stop_operator_succeeds_whether_or_not_a_job_runs(env, source_id):
    stop = StitchStopReplicationOperator(task_id="stop", source_id=source_id, stitch_conn_id=CONN_ID)
    stop.execute({"ti": FakeTaskInstance()})
    start_jobs(env.emulator, env.client, [source_id], lambda _: 40.0)
    stop.execute({"ti": FakeTaskInstance()})
    assert [job["stopped"] for job in running_jobs(env, source_id).values()] == [True]


def test_arguments_are_checked_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match="if_running must be one of attach, fail, skip"):
        operator(source_id=1, if_running="wait")
    assert StitchStartReplicationOperator.template_fields == ("source_id",)
