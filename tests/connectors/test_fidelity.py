"""Client and emulator apply the same property rules: the verdict on the wire matches the validator's.

The emulator is a real server over loopback; it is asked with plain HTTP, so what it refuses is its own
answer, not the client's. The validator is asked directly, without the emulator.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.connectors import (
    PropertiesValidationError,
    get_connector,
    list_connectors,
    validate_properties,
)
from airflow_provider_stitch.emulator import StitchEmulator

#: The docs text's source examples holding an empty string, and the properties that hold it.
EMPTY_STRING_EXAMPLES = {
    "platform.aurora": ["filter_dbs"],
    "platform.cloudsql": ["filter_dbs"],
    "platform.cloudsql_pg": ["filter_dbs", "itersize"],
    "platform.codat": ["uat_urls"],
    "platform.dynamodb": ["use_local_dynamo"],
    "platform.heroku_pg": ["filter_dbs", "itersize"],
    "platform.mariadb": ["filter_dbs"],
}
#: The docs' create-destination request (stitch-docs create-a-destination-v4.md): no encryption_type.
POSTGRES_CREATE_EXAMPLE = {
    "host": "db.example.com",
    "port": "5432",
    "username": "stitch",
    "database": "demni2mf59dt10",
    "password": "pg-password-1",
    "ssl": False,
}


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[StitchEmulator]:
    with StitchEmulator(clock="manual", client_id=116078) as emulator:
        yield emulator


@pytest.fixture
def emu(emulator_server: StitchEmulator) -> StitchEmulator:
    emulator_server.control.reset()
    return emulator_server


@pytest.fixture
def http(emu: StitchEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.token}"}, timeout=10
    ) as session:
        yield session


def client_verdict(connection_type: str, properties: dict[str, Any]) -> list[str]:
    """The validator's ``bad_properties`` for an update-style check (nothing demanded), ``[]`` when valid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            validate_properties(connection_type, properties, partial=True)
        except PropertiesValidationError as problem:
            return problem.bad_properties()
    return []


def emulator_verdict(http: httpx.Client, connection_type: str, properties: dict[str, Any]) -> list[str]:
    """The emulator's ``bad_properties`` for a source create, ``[]`` when it accepted the source."""
    response = http.post(
        "/v4/sources",
        json={"type": connection_type, "display_name": "Fidelity check", "properties": properties},
    )
    if response.status_code == 200:
        http.delete(f"/v4/sources/{response.json()['id']}")
        return []
    body = response.json()
    assert response.status_code == 400 and body["error"] == "InvalidProperties", response.text
    return list(body["data"]["bad_properties"])


def example(connection_type: str) -> dict[str, Any]:
    return dict(get_connector(connection_type).examples["form"])


@pytest.mark.parametrize("connection_type", sorted(EMPTY_STRING_EXAMPLES))
def test_a_documented_example_with_an_empty_string_is_refused_by_client_and_emulator_alike(
    http: httpx.Client, connection_type: str
) -> None:
    empty = EMPTY_STRING_EXAMPLES[connection_type]
    assert client_verdict(connection_type, example(connection_type)) == empty
    assert emulator_verdict(http, connection_type, example(connection_type)) == empty
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties(connection_type, example(connection_type))
    assert f"{empty[0]}: must not be an empty string (Stitch rejects it)" in str(info.value)


@pytest.mark.parametrize("connection_type", sorted(EMPTY_STRING_EXAMPLES))
def test_the_same_example_without_its_empty_strings_is_accepted_by_both(
    http: httpx.Client, connection_type: str
) -> None:
    cleaned = {k: v for k, v in example(connection_type).items() if v != ""}
    assert client_verdict(connection_type, cleaned) == []
    assert emulator_verdict(http, connection_type, cleaned) == []


def test_the_client_refuses_an_empty_string_before_any_request(emu: StitchEmulator) -> None:
    with (
        StitchClient(emu.token, base_url=emu.base_url, client_id=emu.client_id, max_attempts=1) as client,
        pytest.raises(PropertiesValidationError) as info,
    ):
        client.create_source("platform.aurora", "Aurora", example("platform.aurora"))
    assert info.value.bad_properties() == ["filter_dbs"]
    assert emu.control.stats(include_log=False)["requests"]["total"] == 0


def test_an_empty_optional_destination_property_is_accepted_by_both(
    emu: StitchEmulator, http: httpx.Client
) -> None:
    properties = {**POSTGRES_CREATE_EXAMPLE, "encryption_type": "none", "sslrootcert": ""}
    assert validate_properties("postgres", properties)["sslrootcert"] == ""
    response = http.post("/v4/destinations", json={"type": "postgres", "properties": properties})
    assert response.status_code == 200, response.text


def test_the_docs_postgres_create_example_validates_and_the_emulator_stores_none(
    emu: StitchEmulator,
) -> None:
    normalised = validate_properties("postgres", POSTGRES_CREATE_EXAMPLE)
    assert "encryption_type" not in normalised
    with StitchClient(emu.token, base_url=emu.base_url, client_id=emu.client_id, max_attempts=1) as client:
        destination = client.create_destination("postgres", POSTGRES_CREATE_EXAMPLE, "Staging")
    assert destination.properties["encryption_type"] == "none"
    assert "password" not in destination.properties


def test_every_destination_that_stitch_fills_encryption_type_for_is_named_in_the_catalog() -> None:
    filled = sorted(
        c.type
        for c in list_connectors("destination")
        if (spec := c.property("encryption_type")) is not None and spec.create_default == "none"
    )
    assert filled == ["azure_sqldw", "mssql_server", "panoply", "postgres", "redshift", "snowflake"]
    assert get_connector("postgres").property("encryption_type").is_required  # report cards say so
    with pytest.raises(PropertiesValidationError, match="encryption_type: is required and must not be empty"):
        validate_properties("postgres", {**POSTGRES_CREATE_EXAMPLE, "encryption_type": ""})
    with pytest.raises(PropertiesValidationError, match="encryption_type: must be one of 'none', 'ssh'"):
        validate_properties("postgres", {**POSTGRES_CREATE_EXAMPLE, "encryption_type": "tls"})


# Values that each shared rule has to decide on; the emulator must decide the same way.
EDGE_VALUES = st.one_of(
    st.sampled_from(["", " ", "0", "60", "3600", "²", "٣", "true", "TRUE", "yes", "5432", "99999"]),
    st.sampled_from(["2018-01-10T00:00:00Z", "2018-01-10T10:00:00Z", "0001-01-01T00:00:00+01:00"]),
    st.sampled_from(["0 0 12 ? * MON-FRI *", "0 0 12 * * MON", "0 0 12 ? * *", "x"]),
    st.integers(min_value=-5, max_value=70000),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
HP_MYSQL = [
    p.name for p in get_connector("platform.hp-mysql").properties if not p.is_read_only and not p.credential
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=st.dictionaries(st.sampled_from(HP_MYSQL), EDGE_VALUES, min_size=1, max_size=3))
def test_client_and_emulator_agree_on_edge_values(http: httpx.Client, changes: dict[str, Any]) -> None:
    properties = {
        "host": "db.example.com",
        "port": "3306",
        "user": "stitch",
        "password": "mysql-password-1",
        **changes,
    }
    properties.pop("cron_expression", None)  # the emulator's account has no cron permission
    assert emulator_verdict(http, "platform.hp-mysql", properties) == client_verdict(
        "platform.hp-mysql", properties
    )
