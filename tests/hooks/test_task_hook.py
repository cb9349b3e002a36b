"""Sensors and replication operators build one hook per task, with the task's hook_params."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.operators import StitchStartReplicationOperator, StitchStopReplicationOperator
from airflow_provider_stitch.sensors import StitchExtractionSensor, StitchLoadSensor


@pytest.mark.parametrize(
    "task",
    [
        StitchExtractionSensor(task_id="e", source_id=1, hook_params={"timeout": 2.5, "max_attempts": 2}),
        StitchLoadSensor(task_id="l", source_id=1, hook_params={"timeout": 2.5, "max_attempts": 2}),
        StitchStartReplicationOperator(
            task_id="s", source_id=1, hook_params={"timeout": 2.5, "max_attempts": 2}
        ),
        StitchStopReplicationOperator(
            task_id="t", source_id=1, hook_params={"timeout": 2.5, "max_attempts": 2}
        ),
    ],
    ids=lambda task: type(task).__name__,
)
def test_hook_is_built_once_with_the_tasks_hook_params(task) -> None:
    hook = task.hook
    assert (hook.stitch_conn_id, hook.timeout, hook.max_attempts) == ("stitch_default", 2.5, 2)
    assert task.hook is hook


def test_hook_params_default_to_the_hooks_defaults() -> None:
    hook = StitchLoadSensor(task_id="l", source_id=1, stitch_conn_id="other").hook
    assert (hook.stitch_conn_id, hook.timeout, hook.max_attempts) == ("other", 30.0, 5)
