"""Destination operators against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.connectors import PropertiesValidationError
from airflow_provider_stitch.operators import (
    StitchCreateDestinationOperator,
    StitchDeleteDestinationOperator,
    StitchUpdateDestinationOperator,
)
from tests.testkit.operators import POSTGRES_DESTINATION_PROPERTIES, request_count

PASSWORD = POSTGRES_DESTINATION_PROPERTIES["password"]


def create_op(**overrides: Any) -> StitchCreateDestinationOperator:
    arguments: dict[str, Any] = {
        "task_id": "create_destination",
        "destination_type": "postgres",
        "properties": dict(POSTGRES_DESTINATION_PROPERTIES),
        "name": "Warehouse",
    }
    arguments.update(overrides)
    return StitchCreateDestinationOperator(**arguments)


def destinations(emulator) -> list[dict[str, Any]]:
    state = emulator.control.state()
    return [d for account in state["accounts"] for d in account["destinations"]]


def test_create_is_idempotent_by_name(emulator, context):
    first = create_op().execute(context)
    changed = {**POSTGRES_DESTINATION_PROPERTIES, "username": "loader2"}
    assert create_op(properties=changed).execute(context) == first
    [destination] = destinations(emulator)
    assert destination["id"] == first
    assert destination["properties"]["username"] == "loader2"
    assert PASSWORD not in str(destination)


def test_unnamed_create_reuses_the_only_destination_of_its_type(emulator, context):
    first = create_op(name=None).execute(context)
    assert create_op(name=None, if_exists="skip").execute(context) == first
    assert len(destinations(emulator)) == 1


def test_if_exists_fail(emulator, context):
    create_op().execute(context)
    with pytest.raises(AirflowException, match="already exists .* and if_exists='fail'"):
        create_op(if_exists="fail").execute(context)


def test_destination_limit_is_explained(emulator, context):
    create_op().execute(context)
    with pytest.raises(AirflowException) as error:
        create_op(name="Second warehouse").execute(context)
    text = str(error.value)
    assert "you are at your destination limit" in text
    assert "delete an unused one (StitchDeleteDestinationOperator)" in text
    assert PASSWORD not in text


def test_invalid_properties_fail_at_construction_without_requests(emulator):
    with pytest.raises(PropertiesValidationError) as error:
        create_op(properties={**POSTGRES_DESTINATION_PROPERTIES, "port": "http"})
    assert error.value.bad_properties() == ["port"]
    with pytest.raises(
        ValueError, match="'platform.postgres' is not a Stitch destination type|not a Stitch destination"
    ):
        create_op(destination_type="platform.postgres")
    with pytest.raises(ValueError, match="if_exists must be one of"):
        create_op(if_exists="overwrite")
    assert request_count(emulator) == 0


def test_update_and_delete_are_idempotent(emulator, context):
    destination_id = create_op().execute(context)
    update = StitchUpdateDestinationOperator(
        task_id="update", destination_id=destination_id, properties={"username": "admin"}
    )
    assert update.execute(context) == destination_id
    assert update.execute(context) == destination_id
    assert destinations(emulator)[0]["properties"]["username"] == "admin"
    delete = StitchDeleteDestinationOperator(task_id="delete", destination_id=destination_id)
    assert delete.execute(context) == destination_id
    assert delete.execute(context) == destination_id
    assert [d for d in destinations(emulator) if d.get("deleted_at") is None] == []


def test_update_rejects_unknown_properties_before_the_put(emulator, context):
    destination_id = create_op().execute(context)
    before = request_count(emulator)
    with pytest.raises(AirflowException, match="usrname: is not a property of postgres"):
        StitchUpdateDestinationOperator(
            task_id="update", destination_id=destination_id, properties={"usrname": "x"}
        ).execute(context)
    assert "PUT" not in [e["method"] for e in emulator.control.stats()["log"][before:]]


def test_update_of_a_missing_destination_fails(emulator, context):
    with pytest.raises(AirflowException, match="No live destination has id 777"):
        StitchUpdateDestinationOperator(
            task_id="update", destination_id=777, properties={"username": "a"}
        ).execute(context)


def test_update_and_delete_reject_bad_arguments_at_construction(emulator):
    with pytest.raises(ValueError, match="properties must not be empty"):
        StitchUpdateDestinationOperator(task_id="u", destination_id=1, properties={})
    with pytest.raises(ValueError, match="destination_id must be a positive integer id"):
        StitchDeleteDestinationOperator(task_id="d", destination_id="0")
    assert request_count(emulator) == 0


def test_create_survives_server_errors_without_duplicates(emulator, context):
    emulator.control.set_faults(pattern="^/v4/destinations$", method="POST", status=503, times=2)
    destination_id = create_op().execute(context)
    assert [d["id"] for d in destinations(emulator)] == [destination_id]
