"""Triggers keep the task's hook parameters through serialisation, and tell the wait's story in the trigger
log at a bounded rate (virtual time against the manual-clock emulator)."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
import structlog
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_stitch.api.jobs import progress
from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator
from airflow_provider_stitch.sensors import StitchLoadSensor
from airflow_provider_stitch.triggers.connection_check import StitchConnectionCheckTrigger
from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger, StitchLoadTrigger
from tests.testkit.jobs import CONN_ID, FakeTaskInstance, make_sources, run_triggers, start_jobs

HOOK_PARAMS = {"timeout": 0.5, "max_attempts": 1}


def round_trip(trigger: Any) -> Any:
    """Serialise as the triggerer's table stores it, and build the trigger again."""
    try:  # Airflow 3 keeps serde in the task SDK; Airflow 2.11 in airflow.serialization
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:
        from airflow.serialization.serde import deserialize, serialize

    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**deserialize(serialize(kwargs)))


@pytest.mark.parametrize(
    "trigger",
    [
        StitchExtractionTrigger(CONN_ID, 5, job_name="1.5.sync.x", hook_params=HOOK_PARAMS),
        StitchLoadTrigger(CONN_ID, 5, streams=["orders"], hook_params=HOOK_PARAMS),
        StitchConnectionCheckTrigger(5, deadline=99.0, stitch_conn_id=CONN_ID, hook_params=HOOK_PARAMS),
    ],
)
def test_hook_params_survive_serialisation_and_unsafe_ones_are_dropped(trigger: Any) -> None:
    assert round_trip(trigger).hook_params == HOOK_PARAMS
    unsafe = type(trigger)(
        **{**trigger.serialize()[1], "hook_params": {"timeout": 3.0, "retry_wait": object()}}
    )
    assert round_trip(unsafe).hook_params == {"timeout": 3.0}


def test_the_sensor_and_the_operator_hand_their_hook_params_to_the_trigger(env) -> None:
    (source_id,) = make_sources(env.emulator, env.client, 1)
    job = start_jobs(env.emulator, env.client, [source_id], lambda _: 300.0)[source_id]
    sensor = StitchLoadSensor(
        task_id="wait",
        source_id=source_id,
        job_name=job,
        stitch_conn_id=CONN_ID,
        deferrable=True,
        hook_params={**HOOK_PARAMS, "timeout": 20.0},
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.trigger.hook_params == {"timeout": 20.0, "max_attempts": 1}
    env.advance(400)
    start = StitchStartReplicationOperator(
        task_id="start",
        source_id=source_id,
        stitch_conn_id=CONN_ID,
        deferrable=True,
        hook_params={"timeout": 9.0},
    )
    with pytest.raises(TaskDeferred) as deferred:
        start.execute({"ti": FakeTaskInstance()})
    assert round_trip(deferred.value.trigger).hook_params == {"timeout": 9.0}


def test_a_rebuilt_trigger_uses_its_hook_params_not_the_defaults(env) -> None:
    (source_id,) = make_sources(env.emulator, env.client, 1)
    job = start_jobs(env.emulator, env.client, [source_id], lambda _: 10.0)[source_id]
    env.advance(60)
    env.emulator.control.set_faults(pattern=rf"^/v4/sources/{source_id}$", action="delay", delay=2.0, times=1)
    impatient = round_trip(StitchLoadTrigger(CONN_ID, source_id, job_name=job, hook_params=HOOK_PARAMS))
    [[event]] = run_triggers(env, [impatient])
    assert event.payload["status"] == "error"
    assert f"GET /v4/sources/{source_id}" in event.payload["message"]
    env.emulator.control.set_faults(pattern=rf"^/v4/sources/{source_id}$", action="delay", delay=2.0, times=1)
    patient = round_trip(StitchLoadTrigger(CONN_ID, source_id, job_name=job))  # defaults: 30 s per request
    [[event]] = run_triggers(env, [patient])
    assert event.payload["status"] == "success"


def test_the_trigger_log_tells_the_wait_once_a_minute_and_the_outcome(env, monkeypatch, caplog) -> None:
    monkeypatch.setattr(progress, "monotonic", env.now)
    (source_id,) = make_sources(env.emulator, env.client, 1)
    job = start_jobs(env.emulator, env.client, [source_id], lambda _: 600.0)[source_id]
    trigger = StitchLoadTrigger(CONN_ID, source_id, job_name=job, deadline=env.now() + 3600)
    caplog.set_level("INFO")
    with structlog.testing.capture_logs() as captured:  # Airflow 3's structlog; stdlib logging on 2.11
        [[event]] = run_triggers(env, [trigger])
    assert event.payload["status"] == "success"
    lines = [str(entry["event"]) for entry in captured] + [
        record.getMessage() for record in caplog.records if record.name.startswith("airflow_provider_stitch")
    ]
    assert lines[0] == (
        f"Waiting on source {source_id} for the loads of streams accounts, events, users; gives up in 1 h; "
        f"Jobs requests in the last 10 min 10 s: 0 of 30"
    )
    ticks = [line for line in lines if line.startswith("Still waiting")]
    assert 8 <= len(ticks) <= 602 / 60 + 2
    assert all(re.search(r"has not finished after \d+ min", line) for line in ticks)
    assert any(
        line.startswith(f"Extraction {job} of source {source_id} succeeded; completed at ") for line in lines
    )
    assert [line for line in lines if line.startswith("Stream ")] == [
        line for line in lines if re.fullmatch(rf"Stream \w+ of source {source_id} loaded at \S+Z", line)
    ]
    assert lines[-1].startswith(f"Loads of source {source_id}: all loaded")
    assert not [
        line for line in lines if re.search(r"\b1[6-9]\d{8}(\.\d+)?\b", re.sub(r"\S+\.sync\.\S+", "", line))
    ]
