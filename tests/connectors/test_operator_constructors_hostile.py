"""Operator constructors given hostile properties raise the validator's own error, naming task and property."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_stitch.connectors import PropertiesValidationError
from airflow_provider_stitch.connectors.bounds import MAX_NESTING

#: Far deeper than any recursion limit Python or Hypothesis sets.
DEEP = 20_000
MYSQL = {"host": "db.example.com", "port": "3306", "user": "stitch", "password": "pw-12345"}


def nested(depth: int, *, mapping: bool = False) -> Any:
    value: Any = "{{ ds }}" if mapping else "leaf"
    for _ in range(depth):
        value = {"k": value} if mapping else [value]
    return value


def create_source(properties: dict[str, Any]) -> None:
    from airflow_provider_stitch.operators.sources import StitchCreateSourceOperator

    StitchCreateSourceOperator(
        task_id="create_source", source_type="platform.hp-mysql", display_name="Shop", properties=properties
    )


def create_destination(properties: dict[str, Any]) -> None:
    from airflow_provider_stitch.operators.destinations import StitchCreateDestinationOperator

    StitchCreateDestinationOperator(
        task_id="create_destination", destination_type="postgres", name="Warehouse", properties=properties
    )


@pytest.mark.parametrize("mapping", [False, True], ids=["lists", "objects-with-a-template-at-the-bottom"])
@pytest.mark.parametrize(
    ("build", "task_id"), [(create_source, "create_source"), (create_destination, "create_destination")]
)
def test_deep_nesting_in_a_constructor_is_the_validators_error(
    build: Any, task_id: str, mapping: bool
) -> None:
    with pytest.raises(PropertiesValidationError) as info:
        build({**MYSQL, "host": nested(DEEP, mapping=mapping)})
    assert info.value.bad_properties() == ["host"]
    assert str(info.value).startswith(f"task {task_id}: 1 problem with the properties of ")
    assert f"host: nests lists and objects more than {MAX_NESTING} levels deep" in str(info.value)


def test_a_superscript_port_in_a_constructor_is_the_validators_error() -> None:
    with pytest.raises(PropertiesValidationError) as info:
        create_source({**MYSQL, "port": "²", "start_date": "2024-01-01T00:00:00Z"})
    assert [str(e) for e in info.value.errors] == ["port: must be a port number from 1 to 65535 (got '²')"]


HOSTILE = st.one_of(
    st.builds(nested, st.integers(MAX_NESTING - 1, DEEP)),
    st.sampled_from(["²", "٣", "9" * 5000, "0001-01-01T00:00:00+01:00", "http://[::1", ""]),
    st.integers(min_value=-(10**6000), max_value=10**6000),
    st.recursive(st.text(max_size=5), lambda inner: st.lists(inner, max_size=3), max_leaves=6),
)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["host", "port", "frequency_in_minutes", "anchor_time", "ssl", "cron_expression"]),
    value=HOSTILE,
)
def test_random_hostile_values_never_escape_as_foreign_errors(name: str, value: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            create_source({**MYSQL, "start_date": "2024-01-01T00:00:00Z", name: value})
        except PropertiesValidationError as problem:
            assert name in problem.bad_properties()


def test_keys_of_mixed_types_in_a_constructor_are_the_validators_error() -> None:
    with pytest.raises(PropertiesValidationError) as info:
        create_source({**MYSQL, "start_date": "2024-01-01T00:00:00Z", "cron_expression": {"a": {}, 1: "x"}})
    assert info.value.bad_properties() == ["cron_expression"]
