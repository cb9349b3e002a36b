"""Source operators against the emulator over HTTP: create, update, pause, unpause, delete, check waits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred

from airflow_provider_stitch.connectors import PropertiesValidationError, UnknownConnectionTypeError
from airflow_provider_stitch.operators import (
    StitchCreateSourceOperator,
    StitchDeleteSourceOperator,
    StitchPauseSourceOperator,
    StitchUnpauseSourceOperator,
    StitchUpdateSourceOperator,
)
from airflow_provider_stitch.triggers.connection_check import StitchConnectionCheckTrigger
from tests.testkit.operators import POSTGRES_SOURCE_PROPERTIES, request_count

PASSWORD = POSTGRES_SOURCE_PROPERTIES["password"]


def create_op(**overrides: Any) -> StitchCreateSourceOperator:
    arguments: dict[str, Any] = {
        "task_id": "create_source",
        "source_type": "platform.postgres",
        "display_name": "Shop DB",
        "properties": dict(POSTGRES_SOURCE_PROPERTIES),
    }
    arguments.update(overrides)
    return StitchCreateSourceOperator(**arguments)


def live_sources(emulator) -> list[dict[str, Any]]:
    state = emulator.control.state()
    return [s for account in state["accounts"] for s in account["sources"] if s["deleted_at"] is None]


def test_create_returns_id_pushes_link_and_rerun_reuses_the_source(emulator, context):
    first = create_op().execute(context)
    assert context["ti"].xcom["stitch_source"] == {
        "client_id": emulator.client_id,
        "source_id": first,
        "emulator_url": emulator.base_url,
    }
    again = create_op(properties={**POSTGRES_SOURCE_PROPERTIES, "frequency_in_minutes": "30"}).execute(
        context
    )
    assert again == first
    [source] = live_sources(emulator)
    assert source["id"] == first
    assert source["display_name"] == "Shop DB"
    assert source["properties"]["frequency_in_minutes"] == "30"


def test_create_accepts_the_short_type_name(emulator, context):
    source_id = create_op(source_type="postgres").execute(context)
    assert live_sources(emulator)[0]["type"] == "platform.postgres"
    assert live_sources(emulator)[0]["id"] == source_id


def test_if_exists_skip_leaves_the_source_unchanged(emulator, context):
    first = create_op().execute(context)
    changed = {**POSTGRES_SOURCE_PROPERTIES, "frequency_in_minutes": "30"}
    assert create_op(properties=changed, if_exists="skip").execute(context) == first
    assert live_sources(emulator)[0]["properties"]["frequency_in_minutes"] == "60"


def test_if_exists_fail_fails_naming_the_existing_source(emulator, context):
    first = create_op().execute(context)
    with pytest.raises(AirflowException, match=rf"already exists \(id {first}\) and if_exists='fail'"):
        create_op(if_exists="fail").execute(context)


def test_same_display_name_with_another_type_fails(emulator, context):
    create_op().execute(context)
    mysql = {"host": "db.example.com", "port": "3306", "user": "stitch", "password": PASSWORD}
    op = create_op(source_type="platform.mysql", properties=mysql)
    with pytest.raises(AirflowException, match="with type platform.postgres, not platform.mysql"):
        op.execute(context)


def test_invalid_properties_fail_at_construction_without_any_request(emulator):
    bad = {**POSTGRES_SOURCE_PROPERTIES, "port": "not-a-port", "hostname": "x"}
    del bad["dbname"]
    with pytest.raises(PropertiesValidationError) as error:
        create_op(properties=bad)
    assert set(error.value.bad_properties()) >= {"port", "hostname", "dbname"}
    assert "did you mean 'host'" in str(error.value)
    assert request_count(emulator) == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"source_type": "platform.postgress"}, "platform.postgres"),
        ({"source_type": "postgres", "properties": {"nope": "1"}}, "not a property"),
        ({"if_exists": "replace"}, "if_exists must be one of"),
        ({"display_name": "  "}, "display_name must be a non-empty string"),
        ({"destination_id": "abc"}, "destination_id must be a positive integer id"),
        ({"properties": ["host"]}, "properties must be a dict"),
        ({"connection_check_timeout": 0}, "must be positive"),
    ],
)
def test_bad_arguments_fail_at_construction(emulator, overrides, message):
    with pytest.raises((ValueError, UnknownConnectionTypeError), match=message):
        create_op(**overrides)
    assert request_count(emulator) == 0


def test_templated_arguments_are_checked_after_rendering(emulator, context):
    op = create_op(display_name="{{ params.name }}", properties={"port": "{{ params.port }}"})
    op.display_name = "Shop DB"
    op.properties = {**POSTGRES_SOURCE_PROPERTIES, "port": "99999999"}
    with pytest.raises(AirflowException, match="port") as error:
        op.execute(context)
    assert PASSWORD not in str(error.value)
    assert request_count(emulator) == 0


def test_stitch_error_message_and_code_reach_the_task_failure(emulator, context):
    emulator.control.set_faults(
        pattern="^/v4/sources$",
        method="POST",
        status=400,
        body={"error": "AccessDenied", "data": {"message": "you do not have access to source type (x)"}},
    )
    with pytest.raises(AirflowException) as error:
        create_op().execute(context)
    text = str(error.value)
    assert "400 AccessDenied: you do not have access to source type (x)" in text
    assert "plan does not allow" in text
    assert PASSWORD not in text and emulator.token not in text


def test_transient_failures_and_timeouts_are_survived_without_duplicates(emulator, context):
    emulator.control.set_faults(
        {"pattern": "^/v4/sources$", "method": "GET", "status": 503, "times": 1},
        {"pattern": "^/v4/sources$", "method": "POST", "status": 500, "times": 2},
    )
    first = create_op(hook_params={"timeout": 2.0}).execute(context)
    assert [s["id"] for s in live_sources(emulator)] == [first]

    emulator.control.clear_faults()
    # The create answers after the client's timeout: the client looks before resending.
    emulator.control.set_faults(pattern="^/v4/sources$", method="POST", action="delay", delay=0.8, times=1)
    second = create_op(display_name="Other DB", hook_params={"timeout": 0.3}).execute(context)
    emulator.control.clear_faults()
    time.sleep(1.0)  # let the late first attempt finish on the server
    names = sorted(s["display_name"] for s in live_sources(emulator))
    assert names == ["Other DB", "Shop DB"]
    assert second != first


def test_update_changes_only_the_given_properties(emulator, context):
    source_id = create_op().execute(context)
    result = StitchUpdateSourceOperator(
        task_id="update", source_id=source_id, properties={"frequency_in_minutes": "360"}, display_name="Shop"
    ).execute(context)
    assert result == source_id
    [source] = live_sources(emulator)
    assert source["properties"]["frequency_in_minutes"] == "360"
    assert source["properties"]["host"] == "db.example.com"
    assert source["display_name"] == "Shop"


def test_update_validates_rendered_properties_against_the_source_type(emulator, context):
    source_id = create_op().execute(context)
    before = request_count(emulator)
    op = StitchUpdateSourceOperator(task_id="update", source_id=source_id, properties={"prot": "1"})
    with pytest.raises(AirflowException, match="prot: is not a property of platform.postgres"):
        op.execute(context)
    methods = [e["method"] for e in emulator.control.stats()["log"][before:]]
    assert "PUT" not in methods


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"source_id": 1}, "nothing to update"),
        ({"source_id": "x", "display_name": "a"}, "source_id must be a positive integer id"),
        ({"source_id": 1, "properties": {}}, "properties must not be empty"),
    ],
)
def test_update_rejects_bad_arguments_at_construction(emulator, arguments, message):
    with pytest.raises(ValueError, match=message):
        StitchUpdateSourceOperator(task_id="update", **arguments)
    assert request_count(emulator) == 0


def test_update_of_unknown_source_carries_stitch_code(emulator, context):
    with pytest.raises(AirflowException, match="InvalidId"):
        StitchUpdateSourceOperator(task_id="u", source_id=999, display_name="x").execute(context)


def test_pause_unpause_and_delete_are_idempotent(emulator, context):
    source_id = create_op().execute(context)
    for _ in range(2):
        assert StitchPauseSourceOperator(task_id="pause", source_id=source_id).execute(context) == source_id
        assert live_sources(emulator)[0]["paused_at"] is not None
    puts = [e for e in emulator.control.stats()["log"] if e["method"] == "PUT"]
    assert len(puts) == 1
    for _ in range(2):
        assert (
            StitchUnpauseSourceOperator(task_id="unpause", source_id=source_id).execute(context) == source_id
        )
        assert live_sources(emulator)[0]["paused_at"] is None
    for _ in range(2):
        assert StitchDeleteSourceOperator(task_id="delete", source_id=source_id).execute(context) == source_id
    assert live_sources(emulator) == []
    deletes = [e for e in emulator.control.stats()["log"] if e["method"] == "DELETE"]
    assert len(deletes) == 1
    assert context["ti"].xcom["stitch_source"]["source_id"] == source_id


def test_delete_of_a_source_that_never_existed_succeeds(emulator, context):
    assert StitchDeleteSourceOperator(task_id="delete", source_id=424242).execute(context) == 424242


def test_pausing_a_deleted_source_fails(emulator, context):
    source_id = create_op().execute(context)
    StitchDeleteSourceOperator(task_id="delete", source_id=source_id).execute(context)
    with pytest.raises(AirflowException, match="is deleted"):
        StitchPauseSourceOperator(task_id="pause", source_id=source_id).execute(context)


def test_state_operators_reject_bad_ids_at_construction(emulator):
    for operator in (StitchPauseSourceOperator, StitchUnpauseSourceOperator, StitchDeleteSourceOperator):
        with pytest.raises(ValueError, match="positive integer id"):
            operator(task_id="t", source_id="twelve")
    assert request_count(emulator) == 0


# ------------------------------------------------------------------ waiting for the connection check


def test_wait_for_connection_check_succeeds(emulator, context):
    emulator.control.configure(check_seconds=0.3)
    op = create_op(wait_for_connection_check=True, deferrable=False, poll_interval=0.05)
    source_id = op.execute(context)
    assert live_sources(emulator)[0]["check"]["status"] == "succeeded"
    assert source_id == live_sources(emulator)[0]["id"]


def test_failed_connection_check_fails_with_stitch_message(emulator, context):
    props = {**POSTGRES_SOURCE_PROPERTIES, "password": "wrong"}
    op = create_op(properties=props, wait_for_connection_check=True, deferrable=False, poll_interval=0.05)
    with pytest.raises(AirflowException, match='password authentication failed for user "stitch"'):
        op.execute(context)


def test_wait_gives_up_at_the_timeout(emulator, context):
    emulator.control.configure(check_seconds=60.0)
    op = create_op(
        wait_for_connection_check=True, deferrable=False, poll_interval=0.05, connection_check_timeout=0.3
    )
    with pytest.raises(AirflowException, match=r"Gave up after 0.3 s waiting for the connection check"):
        op.execute(context)


def test_source_stuck_before_the_check_fails_at_once(emulator, context):
    from airflow_provider_stitch.api.client import StitchClient

    with StitchClient(emulator.token, base_url=emulator.base_url, validate=False) as client:
        source = client.create_source("platform.postgres", "Half done", {"host": "db.example.com"})
    op = StitchUpdateSourceOperator(
        task_id="update", source_id=source.id, display_name="Half done", wait_for_connection_check=True
    )
    with pytest.raises(AirflowException, match=r"waits at the 'form' step \(not yet provided: .*dbname"):
        op.execute(context)


def _first_event(trigger: StitchConnectionCheckTrigger) -> Any:
    async def first() -> Any:
        async for event in trigger.run():
            return event
        return None

    return asyncio.run(first())


def test_deferrable_wait_goes_through_the_trigger(emulator, context):
    emulator.control.configure(check_seconds=0.5)
    op = create_op(wait_for_connection_check=True, deferrable=True, poll_interval=0.05)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    trigger = deferred.value.trigger
    assert deferred.value.method_name == "execute_complete"
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_stitch.triggers.connection_check.StitchConnectionCheckTrigger"
    rebuilt = StitchConnectionCheckTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    event = _first_event(rebuilt)
    assert event.payload["status"] == "success"
    source_id = live_sources(emulator)[0]["id"]
    assert op.execute_complete(context, event.payload) == source_id


def test_deferrable_wait_is_skipped_when_the_check_is_already_over(emulator, context):
    op = create_op(wait_for_connection_check=True, deferrable=True, poll_interval=0.05)
    assert op.execute(context) == live_sources(emulator)[0]["id"]


def test_execute_complete_fails_with_the_event_message(emulator, context):
    op = create_op(wait_for_connection_check=True, deferrable=True)
    event = {"status": "failed", "source_id": 7, "message": "connection check x of source 7 failed: boom"}
    with pytest.raises(AirflowException, match="Source 7: connection check x of source 7 failed: boom"):
        op.execute_complete(context, event)


def test_deferrable_defaults_to_the_airflow_setting(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert create_op().deferrable is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    assert create_op().deferrable is False


def test_templated_arguments_render_through_airflow_and_are_validated_then(emulator):
    import pendulum
    from airflow.providers.common.compat.sdk import DAG

    from tests.testkit.operators import RecordingTaskInstance

    with DAG("render_check", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        op = create_op(
            display_name="{{ params.name }}",
            properties={**POSTGRES_SOURCE_PROPERTIES, "frequency_in_minutes": "{{ params.every }}"},
        )
    good = {"params": {"name": "Rendered DB", "every": "30"}, "ti": RecordingTaskInstance()}
    op.render_template_fields(good)
    assert op.display_name == "Rendered DB"
    source_id = op.execute(good)
    assert live_sources(emulator)[0]["properties"]["frequency_in_minutes"] == "30"
    assert good["ti"].xcom["stitch_source"]["source_id"] == source_id

    with DAG("render_check_bad", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        bad_op = create_op(
            properties={**POSTGRES_SOURCE_PROPERTIES, "frequency_in_minutes": "{{ params.every }}"}
        )
    bad = {"params": {"every": "7"}, "ti": RecordingTaskInstance()}
    bad_op.render_template_fields(bad)
    before = request_count(emulator)
    with pytest.raises(AirflowException, match="frequency_in_minutes must be one of"):
        bad_op.execute(bad)
    assert request_count(emulator) == before
