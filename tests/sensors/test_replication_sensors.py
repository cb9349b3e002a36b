"""StitchExtractionSensor and StitchLoadSensor: poke, reschedule (a fresh process), deferrable, completion."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
    PokeReturnValue,
    TaskDeferred,
)

from airflow_provider_stitch.api.jobs import forget_monitors
from airflow_provider_stitch.sensors import StitchExtractionSensor, StitchLoadSensor
from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger, StitchLoadTrigger
from tests.testkit.jobs import CONN_ID, FakeTaskInstance, make_sources, start_jobs


def started_job(env, tap_seconds=40.0, **scenario):
    (source_id,) = make_sources(env.emulator, env.client, 1)
    if scenario:
        env.emulator.control.arrange(source_id, **scenario)
    started = env.now()
    return (
        source_id,
        start_jobs(env.emulator, env.client, [source_id], lambda _: tap_seconds)[source_id],
        started,
    )


def sensor(cls=StitchExtractionSensor, **kwargs):
    return cls(task_id="wait", stitch_conn_id=CONN_ID, **kwargs)


def poke_turns(env, waiting, context, turns=4):
    """Poke until done, moving the clock one schedule turn (30 s) between pokes: one Jobs page per turn."""
    answer = waiting.poke(context)
    for _ in range(turns):
        if answer:
            break
        env.advance(30)
        answer = waiting.poke(context)
    return answer


def test_poke_is_false_while_running_then_returns_the_outcome(env):
    source_id, job_name, started = started_job(env)
    waiting = sensor(source_id=source_id, job_name=job_name, after=started)
    assert waiting.poke({}) is False
    env.advance(60)
    done = waiting.poke({})
    assert isinstance(done, PokeReturnValue) and done.is_done
    assert done.xcom_value["job_name"] == job_name and done.xcom_value["succeeded"] is True


def test_poke_fails_with_the_phase_and_stitch_description(env):
    source_id, job_name, started = started_job(env, fail={"phase": "tap", "message": "HTTP 401 from the API"})
    env.advance(60)
    with pytest.raises(
        AirflowException, match=r"failed: the tap phase exited with status 1: HTTP 401 from the API"
    ):
        sensor(source_id=source_id, job_name=job_name, after=started).poke({})


def test_job_comes_from_the_start_replication_task_xcom(env):
    source_id, job_name, started = started_job(env)
    ti = FakeTaskInstance({("start_sync", "stitch_job"): {"job_name": job_name, "started_at": started}})
    waiting = sensor(source_id=source_id, replication_task_id="start_sync")
    env.advance(60)
    assert waiting.poke({"ti": ti}).xcom_value["job_name"] == job_name


def test_a_poke_in_a_fresh_process_reuses_the_shared_snapshot(env):
    source_id, job_name, started = started_job(env)
    waiting = sensor(source_id=source_id, job_name=job_name, after=started, mode="reschedule")
    assert waiting.poke({}) is False
    paid = env.jobs_requests()
    assert paid == 1
    forget_monitors()  # the next poke of a rescheduled sensor runs in a new process
    env.advance(5)
    assert waiting.poke({}) is False
    assert env.jobs_requests() == paid  # the SQLite snapshot was fresh enough: nothing paid
    env.advance(60)
    assert waiting.poke({}).is_done
    assert env.jobs_requests() == paid + 1


def test_deferrable_sensor_defers_with_a_deadline_and_finishes_from_the_event(env):
    source_id, job_name, started = started_job(env)
    waiting = sensor(source_id=source_id, job_name=job_name, after=started, deferrable=True, timeout=900)
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, StitchExtractionTrigger) and deferred.value.method_name == "execute_complete"
    assert trigger.job_name == job_name and trigger.deadline == pytest.approx(env.now() + 900)
    outcome = {"job_name": job_name, "succeeded": True}
    assert waiting.execute_complete({}, {"status": "success", "extraction": outcome}) == outcome
    with pytest.raises(AirflowSensorTimeout, match="timed out"):
        waiting.execute_complete({}, {"status": "timeout", "message": "deadline passed"})
    soft = sensor(source_id=source_id, soft_fail=True)
    with pytest.raises(AirflowSkipException, match="failed: boom"):
        soft.execute_complete({}, {"status": "failed", "message": "boom"})


def test_load_sensor_waits_for_the_extraction_then_the_streams(env):
    source_id, job_name, started = started_job(env)
    waiting = sensor(StitchLoadSensor, source_id=source_id, job_name=job_name, after=None)
    assert waiting.poke({}) is False
    env.advance(60)
    done = poke_turns(env, waiting, {})
    assert done.is_done and sorted(done.xcom_value["loaded_at"]) == ["accounts", "events", "users"]
    with pytest.raises(TaskDeferred) as deferred:
        sensor(
            StitchLoadSensor, source_id=source_id, streams=["users"], after=started + 3600, deferrable=True
        ).execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, StitchLoadTrigger) and trigger.streams == ["users"]
    assert trigger.loads_after == started + 3600


def test_load_sensor_fails_with_the_warehouse_message(env):
    source_id, job_name, started = started_job(
        env, load_error={"message": "disk full", "streams": ["events"]}
    )
    env.advance(60)
    with pytest.raises(AirflowException, match="loading stream 'events' failed: disk full"):
        poke_turns(env, sensor(StitchLoadSensor, source_id=source_id, job_name=job_name), {})


def test_templated_fields_and_default_deferrable(monkeypatch):
    assert {"source_id", "job_name", "after", "replication_task_id"} <= set(
        StitchExtractionSensor.template_fields
    )
    assert "streams" in StitchLoadSensor.template_fields
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert sensor(source_id="{{ params.source }}").deferrable is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    assert sensor(source_id=1).deferrable is False
