"""Every catalog credential is masked as soon as the fields are rendered, and scrubbed from failures.

The rendered fields are serialised by Airflow's own task-runner function, the one whose output Airflow
stores in ``rendered_task_instance_fields``; each canary is unique, so the masker cannot already know it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.connectors import list_connectors
from airflow_provider_stitch.operators import (
    StitchCreateDestinationOperator,
    StitchCreateSourceOperator,
    StitchUpdateDestinationOperator,
    StitchUpdateSourceOperator,
)
from tests.testkit.operators import POSTGRES_SOURCE_PROPERTIES

serialize_rendered = pytest.importorskip("airflow.sdk.execution_time.task_runner")._serialize_rendered_fields

#: A type and its credential property names, for every catalog type that has credentials.
CREDENTIAL_TYPES = [
    (spec.kind, spec.type, sorted(p.name for p in spec.properties if p.credential))
    for spec in list_connectors()
    if any(p.credential for p in spec.properties)
]


def canary(name: str) -> str:
    return f"CANARY-{name}-{uuid.uuid4().hex[:12]}"


def render(operator: Any) -> dict[str, Any]:
    """Render the task as the task runner does and return what Airflow would store."""
    operator.render_template_fields({"ds": "2026-01-01", "params": {}})
    return serialize_rendered(operator)


def operator_for(kind: str, connection_type: str, properties: dict[str, Any]) -> Any:
    """A create operator holding ``properties`` (not validated: the check needs every required field)."""
    if kind == "source":
        operator = StitchCreateSourceOperator(
            task_id="create", source_type="{{ 'x' }}", display_name="Canary", properties={"{{ 'k' }}": 1}
        )
        operator.source_type = connection_type
    else:
        operator = StitchCreateDestinationOperator(
            task_id="create", destination_type="{{ 'x' }}", properties={"{{ 'k' }}": 1}
        )
        operator.destination_type = connection_type
    operator.properties = properties
    return operator


def test_the_catalog_has_credentials_airflow_does_not_mask_by_name():
    names = {name for _, _, names in CREDENTIAL_TYPES for name in names}
    assert len(CREDENTIAL_TYPES) > 40
    assert {"ssl_key", "jwt", "rsa_key", "consumer_key", "password"} <= names


@pytest.mark.parametrize(("kind", "connection_type", "names"), CREDENTIAL_TYPES, ids=lambda v: str(v))
def test_every_credential_of_every_type_is_masked_in_the_stored_rendered_fields(kind, connection_type, names):
    canaries = {name: canary(name) for name in names}
    stored = json.dumps(render(operator_for(kind, connection_type, {**canaries, "port": "5432"})))
    leaked = [name for name, value in canaries.items() if value in stored]
    assert leaked == []
    assert "5432" in stored  # only credentials are masked


MYSQL_PROPERTIES = {
    "host": "db.example.com",
    "port": "3306",
    "user": "stitch",
    "password": "{{ params.password }}",
    "ssl": "true",
    "ssl_key": "{{ params.key }}",
    "frequency_in_minutes": "60",
}


def test_a_templated_credential_is_masked_once_rendered():
    secret = canary("ssl_key")
    operator = StitchCreateSourceOperator(
        task_id="create_source",
        source_type="platform.mysql",
        display_name="Shop",
        properties=MYSQL_PROPERTIES,
    )
    operator.render_template_fields({"params": {"key": secret, "password": canary("password")}})
    assert operator.properties["ssl_key"] == secret
    assert secret not in json.dumps(serialize_rendered(operator))


def test_structured_and_multi_line_credentials_are_masked_in_every_form():
    key = "-----BEGIN PRIVATE KEY-----\n" + uuid.uuid4().hex + "\n-----END PRIVATE KEY-----"
    operator = operator_for("destination", "snowflake", {"private_key": key})
    stored = json.dumps(render(operator))
    assert key.splitlines()[1] not in stored
    assert json.dumps(key)[1:-1] not in stored


@pytest.mark.parametrize(
    ("operator_class", "arguments", "names"),
    [
        (StitchUpdateSourceOperator, {"source_id": 5}, ("jwt", "rsa_key", "consumer_key", "client_secret")),
        (StitchUpdateDestinationOperator, {"destination_id": 5}, ("sentinel_key", "azure_storage_sas_url")),
    ],
)
def test_updates_mask_credentials_before_they_know_the_type(operator_class, arguments, names):
    canaries = {name: canary(name) for name in names}
    operator = operator_class(
        task_id="update", properties={**canaries, "host": "db.example.com"}, **arguments
    )
    stored = json.dumps(render(operator))
    assert [name for name, value in canaries.items() if value in stored] == []
    assert "db.example.com" in stored


def test_a_stitch_error_quoting_the_password_reaches_the_failure_scrubbed(emulator, context):
    password = canary("password")
    emulator.control.set_faults(
        pattern=r"^/v4/sources$",
        method="POST",
        action="status",
        status=400,
        body={
            "error": "InvalidProperties",
            "data": {"message": f"could not log in with password {password}"},
        },
    )
    operator = StitchCreateSourceOperator(
        task_id="create_source",
        source_type="platform.postgres",
        display_name="Shop",
        properties={**POSTGRES_SOURCE_PROPERTIES, "password": password},
    )
    with pytest.raises(AirflowException) as error:
        operator.execute(context)
    assert password not in str(error.value)
    assert "could not log in with password ***" in str(error.value)
    assert emulator.control.faults()[0]["hits"] >= 1
