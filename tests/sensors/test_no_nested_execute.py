"""The sensors run inside Airflow's own ``BaseSensorOperator.execute``: no nested ``execute`` call, so Airflow's
executor safeguard (a warning on 2.11, an error with ``allow_nested_operators=False``) never fires."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.sensors import StitchExtractionSensor, StitchLoadSensor
from airflow_provider_stitch.sensors.replication import _StitchJobSensor
from tests.testkit.jobs import CONN_ID, make_sources, start_jobs


def safeguard_and_sentinel():
    """Airflow's ExecutorSafeguard and the sentinel a task instance passes to ``execute``."""
    try:  # Airflow 3: the task SDK
        from airflow.sdk.bases.operator import ExecutorSafeguard

        return ExecutorSafeguard, ExecutorSafeguard.sentinel_value
    except ImportError:  # Airflow 2.11
        from airflow.models.baseoperator import ExecutorSafeguard, _sentinel

        return ExecutorSafeguard, _sentinel


@pytest.mark.parametrize("cls", [StitchExtractionSensor, StitchLoadSensor, _StitchJobSensor])
def test_the_sensors_define_no_execute_of_their_own(cls) -> None:
    assert "execute" not in vars(cls)


@pytest.mark.parametrize("cls", [StitchExtractionSensor, StitchLoadSensor])
def test_running_as_a_task_instance_trips_no_safeguard(env, cls, monkeypatch) -> None:
    safeguard, sentinel = safeguard_and_sentinel()
    monkeypatch.setattr(safeguard, "test_mode", False)
    (source_id,) = make_sources(env.emulator, env.client, 1)
    job = start_jobs(env.emulator, env.client, [source_id], lambda _: 5.0)[source_id]
    env.advance(60)
    scout = cls(task_id="scout", source_id=source_id, job_name=job, stitch_conn_id=CONN_ID)
    for _ in range(4):  # one Jobs page per schedule turn: read both lists into the process's snapshot
        if scout.poke({}):
            break
        env.advance(30)
    sensor = cls(
        task_id="wait",
        source_id=source_id,
        job_name=job,
        stitch_conn_id=CONN_ID,
        allow_nested_operators=False,
        poke_interval=0.1,
        timeout=30,
    )
    result = sensor.execute({}, **{f"{cls.__name__}__sentinel": sentinel})
    assert result["job_name" if cls is StitchExtractionSensor else "source_name"] == (
        job if cls is StitchExtractionSensor else "shop_000"
    )
