"""The source operators' connection-check wait keeps the task's hook parameters through deferral.

Real-clock emulator over loopback; the trigger is serialised with Airflow's serde and rebuilt from its class
path, as the triggerer does. What the rebuilt hook does with the parameters is seen from the emulator's side:
how many attempts reached it, how long the trigger waited for a slow answer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_stitch.emulator.harness import StitchEmulator
from airflow_provider_stitch.operators import StitchCreateSourceOperator, StitchUpdateSourceOperator
from airflow_provider_stitch.triggers.connection_check import StitchConnectionCheckTrigger
from tests.testkit.operators import POSTGRES_SOURCE_PROPERTIES, retry_at_once, wire_default_connection
from tests.triggers.test_hook_params_and_story import round_trip

TASK_HOOK_PARAMS = {"timeout": 0.5, "max_attempts": 2}
CHECK_PATH = r"^/v4/sources/\d+/last-connection-check$"
#: Real seconds the emulator holds back the slow answer (the task's hook gives a request 0.5 s).
SLOW_ANSWER = 8.0


@pytest.fixture
def emulator(stitch_emulator: StitchEmulator, monkeypatch: pytest.MonkeyPatch) -> StitchEmulator:
    """A reset real-clock emulator wired as ``stitch_default``; clients retry without waiting."""
    retry_at_once(monkeypatch)
    return wire_default_connection(stitch_emulator, monkeypatch)


def create_op(**overrides: Any) -> StitchCreateSourceOperator:
    arguments: dict[str, Any] = {
        "task_id": "create_source",
        "source_type": "platform.postgres",
        "display_name": "Shop DB",
        "properties": dict(POSTGRES_SOURCE_PROPERTIES),
        "wait_for_connection_check": True,
        "deferrable": True,
        "poll_interval": 0.05,
        "hook_params": TASK_HOOK_PARAMS,
    }
    arguments.update(overrides)
    return StitchCreateSourceOperator(**arguments)


def deferred_trigger(operator: Any) -> StitchConnectionCheckTrigger:
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"ti": _TaskInstance()})
    trigger = deferred.value.trigger
    assert isinstance(trigger, StitchConnectionCheckTrigger)
    return trigger


class _TaskInstance:
    def xcom_push(self, key: str, value: Any) -> None:
        pass


def first_event(trigger: StitchConnectionCheckTrigger) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger fired nothing")

    return asyncio.run(asyncio.wait_for(first(), 60))


def check_requests(emulator: StitchEmulator, source_id: int) -> int:
    log = emulator.control.stats()["log"]
    return sum(1 for entry in log if entry["path"] == f"/v4/sources/{source_id}/last-connection-check")


def test_create_and_update_operators_hand_their_hook_params_to_the_check_trigger(emulator):
    emulator.control.configure(check_seconds=30.0)
    trigger = deferred_trigger(create_op())
    rebuilt = round_trip(trigger)
    assert rebuilt.hook_params == TASK_HOOK_PARAMS
    assert rebuilt.serialize() == trigger.serialize()
    update = StitchUpdateSourceOperator(
        task_id="update_source",
        source_id=trigger.source_id,
        properties={"frequency_in_minutes": "30"},
        wait_for_connection_check=True,
        deferrable=True,
        hook_params={"timeout": 7.5, "max_attempts": 3},
    )
    assert round_trip(deferred_trigger(update)).hook_params == {"timeout": 7.5, "max_attempts": 3}


def test_the_rebuilt_trigger_sends_the_tasks_attempts_not_the_hooks_default(emulator):
    emulator.control.configure(check_seconds=1.0)
    trigger = round_trip(deferred_trigger(create_op()))
    source_id = trigger.source_id
    emulator.control.set_faults(pattern=CHECK_PATH, action="status", status=503, times=3)
    before = check_requests(emulator, source_id)
    event = first_event(trigger)
    assert event["status"] == "error", event
    assert "503" in event["message"]
    assert check_requests(emulator, source_id) - before == 2  # max_attempts=2 from the task, not 5

    default = round_trip(
        StitchConnectionCheckTrigger(source_id, deadline=time.time() + 30, poll_interval=0.05)
    )
    event = first_event(default)  # the hook's 5 attempts outlast the one 503 left
    assert event["status"] == "success", event


def test_the_rebuilt_trigger_gives_a_slow_answer_the_tasks_timeout(emulator):
    emulator.control.configure(check_seconds=30.0)
    trigger = round_trip(deferred_trigger(create_op(hook_params={"timeout": 0.5, "max_attempts": 1})))
    emulator.control.set_faults(pattern=CHECK_PATH, action="delay", delay=SLOW_ANSWER, times=1)
    started = time.monotonic()
    event = first_event(trigger)
    waited = time.monotonic() - started
    assert event["status"] == "error", event
    assert f"/v4/sources/{trigger.source_id}/last-connection-check" in event["message"]
    assert waited < SLOW_ANSWER / 2, f"the trigger waited {waited:.1f} s for an answer its task gives 0.5 s"
