"""Bad input: over a thousand generated invalid property objects, across every connector type, are all
refused before any HTTP request; each error names the broken property and echoes no credential."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.connectors import PropertiesValidationError, list_connectors
from tests.reliability.invalid_properties import CANARY_PREFIX, InvalidCase, generate_invalid_cases

CASES = generate_invalid_cases()


def _assert_refusal_is_specific(case: InvalidCase, error: BaseException) -> None:
    """The error names the broken property and shows no planted credential value."""
    shown = f"{error}\n{error!r}\n{error.args!r}"
    assert case.bad_property in shown, f"{case.connection_type}/{case.mutation}: {shown}"
    leaked = [canary for canary in case.canaries if canary in shown]
    assert not leaked, f"{case.connection_type}/{case.mutation} echoed a credential"
    assert CANARY_PREFIX not in shown


def test_the_generator_covers_every_connector_with_over_a_thousand_objects() -> None:
    assert len(CASES) >= 1000
    assert {case.connection_type for case in CASES} == {c.type for c in list_connectors()}
    mutations = Counter(case.mutation for case in CASES)
    assert set(mutations) == {
        "missing_required",
        "empty_required",
        "unknown_property",
        "wrong_type",
        "rule_violation",
        "read_only",
        "credential_wrong_type",
        "empty_optional",
        "too_deep",
    }
    assert sum(1 for case in CASES if case.canaries) > 100


def test_every_invalid_object_is_refused_by_the_client_before_any_request(stitch_emulator: Any) -> None:
    refused = 0
    with StitchClient(
        stitch_emulator.token,
        base_url=stitch_emulator.base_url,
        client_id=stitch_emulator.client_id,
        max_attempts=1,
    ) as client:
        for case in CASES:
            with pytest.raises(PropertiesValidationError) as caught:
                if case.kind == "source":
                    client.create_source(case.connection_type, "Refused source", case.properties)
                else:
                    client.create_destination(case.connection_type, case.properties, "Refused destination")
            assert case.bad_property in caught.value.bad_properties()
            _assert_refusal_is_specific(case, caught.value)
            refused += 1

    assert refused == len(CASES)
    stats = stitch_emulator.control.stats()
    assert stats["requests"]["total"] == 0
    assert stats["log"] == []


def test_every_invalid_object_is_refused_when_the_dag_is_parsed(stitch_emulator: Any) -> None:
    from airflow_provider_stitch.operators import (
        StitchCreateDestinationOperator,
        StitchCreateSourceOperator,
    )

    for index, case in enumerate(CASES):
        with pytest.raises(ValueError) as caught:
            if case.kind == "source":
                StitchCreateSourceOperator(
                    task_id=f"create_source_{index}",
                    source_type=case.connection_type,
                    display_name="Refused source",
                    properties=case.properties,
                )
            else:
                StitchCreateDestinationOperator(
                    task_id=f"create_destination_{index}",
                    destination_type=case.connection_type,
                    name="Refused destination",
                    properties=case.properties,
                )
        _assert_refusal_is_specific(case, caught.value)

    assert stitch_emulator.control.stats()["requests"]["total"] == 0


def test_rendered_invalid_properties_fail_the_task_before_any_request(
    stitch_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A templated property that renders into a bad value is caught at execute, before the first request."""
    from airflow.providers.common.compat.sdk import AirflowException

    from airflow_provider_stitch.operators import StitchCreateSourceOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_STITCH_RELIABILITY",
        f'{{"conn_type": "stitch", "host": "{stitch_emulator.base_url}", '
        f'"password": "{stitch_emulator.token}", "extra": {{"stitch_client_id": {stitch_emulator.client_id}}}}}',
    )
    sources = [case for case in CASES if case.kind == "source" and case.mutation != "unknown_property"]
    for index, case in enumerate(sources[:200]):
        operator = StitchCreateSourceOperator(
            task_id=f"templated_{index}",
            source_type=case.connection_type,
            display_name="Templated source",
            properties={"frequency_in_minutes": "{{ params.frequency }}"},
            stitch_conn_id="stitch_reliability",
        )
        operator._lock_for_execution = True  # as on the copy Airflow executes: no XComArg walk on assignment
        operator.properties = case.properties  # what rendering the templates produced
        with pytest.raises(AirflowException) as caught:
            operator.execute(context={})
        _assert_refusal_is_specific(case, caught.value)

    assert stitch_emulator.control.stats()["requests"]["total"] == 0
