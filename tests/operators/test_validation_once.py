"""A create validates its properties once per rendered value; an update learns the type without an extra request."""

from __future__ import annotations

from typing import Any

import pytest

import airflow_provider_stitch.connectors as connectors
from airflow_provider_stitch.connectors import PropertiesValidationError
from airflow_provider_stitch.operators import (
    StitchCreateDestinationOperator,
    StitchCreateSourceOperator,
    StitchUpdateDestinationOperator,
    StitchUpdateSourceOperator,
)
from tests.testkit.operators import POSTGRES_DESTINATION_PROPERTIES, POSTGRES_SOURCE_PROPERTIES, request_count


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of the catalog validator (operators and client both call it through the package)."""
    calls: list[str] = []
    real = connectors.validate_properties

    def counting(connection_type: str, properties: Any, **options: Any) -> dict[str, Any]:
        calls.append(connection_type)
        return real(connection_type, properties, **options)

    monkeypatch.setattr(connectors, "validate_properties", counting)
    return calls


def test_static_properties_are_validated_once_at_parse_and_not_again(emulator, context, validations):
    operator = StitchCreateSourceOperator(
        task_id="create_source",
        source_type="postgres",
        display_name="Shop",
        properties=dict(POSTGRES_SOURCE_PROPERTIES),
    )
    assert validations == ["platform.postgres"]
    operator.render_template_fields({"params": {}})
    operator.execute(context)
    assert validations == ["platform.postgres"]


def test_templated_properties_are_validated_once_when_rendered(emulator, context, validations):
    operator = StitchCreateDestinationOperator(
        task_id="create_destination",
        destination_type="postgres",
        name="Warehouse",
        properties={**POSTGRES_DESTINATION_PROPERTIES, "password": "{{ params.password }}"},
    )
    assert validations == []
    operator.render_template_fields({"params": {"password": "rendered-password"}})
    operator.execute(context)
    assert validations == ["postgres"]


def test_a_changed_rendered_value_is_validated_again(emulator, context, validations):
    operator = StitchCreateSourceOperator(
        task_id="create_source",
        source_type="platform.postgres",
        display_name="Shop",
        properties=dict(POSTGRES_SOURCE_PROPERTIES),
    )
    operator.properties = {**POSTGRES_SOURCE_PROPERTIES, "port": "not-a-port"}
    with pytest.raises(Exception, match="port"):
        operator.execute(context)
    assert validations == ["platform.postgres", "platform.postgres"]


def test_an_update_asks_stitch_once_for_the_type_then_writes(emulator, context, validations):
    source_id = StitchCreateSourceOperator(
        task_id="create_source",
        source_type="platform.postgres",
        display_name="Shop",
        properties=dict(POSTGRES_SOURCE_PROPERTIES),
    ).execute(context)
    destination_id = StitchCreateDestinationOperator(
        task_id="create_destination",
        destination_type="postgres",
        name="Warehouse",
        properties=dict(POSTGRES_DESTINATION_PROPERTIES),
    ).execute(context)
    validations.clear()

    before = request_count(emulator)
    StitchUpdateSourceOperator(
        task_id="update_source", source_id=source_id, properties={"frequency_in_minutes": "30"}
    ).execute(context)
    assert request_count(emulator) - before == 2  # GET the source (its type), PUT
    before = request_count(emulator)
    StitchUpdateDestinationOperator(
        task_id="update_destination", destination_id=destination_id, properties={"username": "loader2"}
    ).execute(context)
    assert request_count(emulator) - before == 2  # GET the list (live? which type?), PUT
    assert validations == ["platform.postgres", "postgres"]


def test_parse_time_errors_name_the_task():
    with pytest.raises(PropertiesValidationError) as error:
        StitchCreateSourceOperator(
            task_id="create_source",
            source_type="platform.postgres",
            display_name="Shop",
            properties={**POSTGRES_SOURCE_PROPERTIES, "frequency_in_minutes": "7"},
        )
    assert str(error.value).startswith(
        "task create_source: 1 problem with the properties of platform.postgres"
    )
    assert "frequency_in_minutes" in str(error.value)
    assert error.value.bad_properties() == ["frequency_in_minutes"]
    with pytest.raises(ValueError, match=r"^task make_warehouse: if_exists must be one of"):
        StitchCreateDestinationOperator(
            task_id="make_warehouse", destination_type="postgres", properties={}, if_exists="maybe"
        )
    with pytest.raises(ValueError, match=r"^task pause: source_id must be a positive integer id"):
        StitchUpdateSourceOperator(task_id="pause", source_id="abc", display_name="x")
