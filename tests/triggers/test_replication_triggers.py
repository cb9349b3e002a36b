"""StitchExtractionTrigger and StitchLoadTrigger: serialisation, loads, failures, deadlines, task-ending events."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.triggers.replication import (
    StitchExtractionTrigger,
    StitchLoadTrigger,
    read_event,
)
from tests.testkit.jobs import CONN_ID, make_sources, run_triggers, start_jobs


def started_job(env, tap_seconds=40.0, **scenario):
    (source_id,) = make_sources(env.emulator, env.client, 1)
    if scenario:
        env.emulator.control.arrange(source_id, **scenario)
    started = env.now()
    names = start_jobs(env.emulator, env.client, [source_id], lambda _: tap_seconds)
    return source_id, names[source_id], started


@pytest.mark.parametrize(
    "trigger",
    [
        StitchExtractionTrigger(
            CONN_ID,
            5,
            job_name="1.5.sync.x",
            after=10.5,
            deadline=99.0,
            stop_on_timeout=True,
            hook_params={"timeout": 7.5, "max_attempts": 2},
        ),
        StitchLoadTrigger(
            CONN_ID,
            5,
            streams=["orders"],
            loads_after=12.0,
            end_from_trigger=True,
            return_value="j",
            previous_job="1.5.sync.y",
            previous_known=True,
        ),
    ],
)
def test_serialize_round_trips_through_airflow_serde(trigger):
    import importlib

    try:  # Airflow 3 keeps serde in the task SDK; Airflow 2.11 in airflow.serialization
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:
        from airflow.serialization.serde import deserialize, serialize

    classpath, kwargs = trigger.serialize()
    assert classpath.startswith("airflow_provider_stitch.triggers.replication.Stitch")
    assert all(isinstance(v, (str, int, float, bool, list, dict, type(None))) for v in kwargs.values())
    restored = deserialize(serialize(kwargs))
    assert restored == kwargs
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**restored)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_load_trigger_waits_for_the_extraction_then_every_stream(env):
    source_id, job_name, started = started_job(env)
    trigger = StitchLoadTrigger(CONN_ID, source_id, job_name=job_name, after=started, deadline=started + 3600)
    [[event]] = run_triggers(env, [trigger])
    payload = event.payload
    assert payload["status"] == "success" and payload["job_name"] == job_name
    assert payload["extraction"]["succeeded"] is True
    assert sorted(payload["loads"]["loaded_at"]) == ["accounts", "events", "users"]
    assert set(payload["loads"]["loaded_at"].values()) == {payload["extraction"]["completion_time"]}


def test_load_trigger_fails_with_the_warehouse_message(env):
    source_id, job_name, started = started_job(
        env, load_error={"message": "permission denied for schema shop"}
    )
    trigger = StitchLoadTrigger(CONN_ID, source_id, job_name=job_name, after=started, deadline=started + 3600)
    [[event]] = run_triggers(env, [trigger])
    assert event.payload["status"] == "failed"
    assert event.payload["message"] == "loading stream 'accounts' failed: permission denied for schema shop"


def test_deadline_stops_the_sync_and_reports_a_timeout(env):
    source_id, job_name, started = started_job(env, tap_seconds=5000.0)
    trigger = StitchExtractionTrigger(
        CONN_ID, source_id, job_name=job_name, after=started, deadline=started + 300, stop_on_timeout=True
    )
    [[event]] = run_triggers(env, [trigger])
    assert event.payload["status"] == "timeout"
    assert event.payload["message"].endswith("the deadline passed; the sync was stopped")
    jobs = env.emulator.control.state()["accounts"][0]["jobs"]
    assert [job["stopped"] for job in jobs if job["job_name"] == job_name] == [True]
    with pytest.raises(Exception, match="timed out: gave up waiting"):
        read_event(event.payload, "Stitch job")


def test_end_from_trigger_ends_the_task_with_its_xcom(env):
    from airflow.triggers.base import TaskFailedEvent, TaskSuccessEvent

    source_id, job_name, started = started_job(env)
    ok = StitchExtractionTrigger(
        CONN_ID, source_id, job_name=job_name, after=started, end_from_trigger=True, return_value=job_name
    )
    [[event]] = run_triggers(env, [ok])
    assert isinstance(event, TaskSuccessEvent) and event.xcoms == {"return_value": job_name}
    env.emulator.control.arrange(source_id, fail={"phase": "target", "message": "warehouse unreachable"})
    second = start_jobs(env.emulator, env.client, [source_id], lambda _: 40.0)[source_id]
    bad = StitchExtractionTrigger(CONN_ID, source_id, job_name=second, after=env.now(), end_from_trigger=True)
    [[event]] = run_triggers(env, [bad])
    assert isinstance(event, TaskFailedEvent)


def test_read_event_accepts_the_bare_state_of_dags_test():
    assert read_event("success", "wait") == {"status": "success"}
    with pytest.raises(Exception, match="wait failed: the tap phase exited"):
        read_event({"status": "failed", "message": "the tap phase exited with status 1: x"}, "wait")
    with pytest.raises(Exception, match="trigger ended with 'failed'"):
        read_event("failed", "wait")
