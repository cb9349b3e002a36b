"""validate_properties and json_schema across every type: required, typos, read-only, secrets, partial."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_stitch.connectors import (
    PropertiesValidationError,
    PropertyError,
    UnknownConnectionTypeError,
    get_connector,
    json_schema,
    list_connectors,
    validate_properties,
)
from tests.testkit.connector_samples import minimal_properties, sample_value

SECRET = "Sup3r-Secret-Value-9f1c"
ALL_TYPES = [c.type for c in list_connectors()]
TYPES_WITH_CREDENTIALS = [
    c.type for c in list_connectors() if any(p.credential and not p.is_read_only for p in c.properties)
]


@pytest.mark.parametrize("connection_type", ALL_TYPES)
def test_minimal_object_validates_and_each_missing_required_property_is_named(connection_type: str) -> None:
    connector = get_connector(connection_type)
    for step in ("form", "oauth"):
        complete = minimal_properties(connector, step)
        validate_properties(connection_type, complete, step=step)
        for name in complete:
            reduced = {k: v for k, v in complete.items() if k != name}
            if not connector.property(name).is_demanded_on_create:
                validate_properties(connection_type, reduced, step=step)
                continue
            with pytest.raises(PropertiesValidationError) as info:
                validate_properties(connection_type, reduced, step=step)
            assert info.value.bad_properties() == [name]
            assert f"{name}: is required but missing" in str(info.value)


@pytest.mark.parametrize("connection_type", TYPES_WITH_CREDENTIALS)
def test_credential_values_never_appear_in_errors(connection_type: str) -> None:
    connector = get_connector(connection_type)
    credentials = [p for p in connector.properties if p.credential and not p.is_read_only]
    bad = {p.name: {"nested": SECRET} for p in credentials}
    bad.update({p.name + "x": SECRET for p in credentials})
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties(connection_type, bad)
    texts = [
        str(info.value),
        repr(info.value),
        *(str(e) for e in info.value.errors),
        *(e.message for e in info.value.errors),
    ]
    assert all(SECRET not in text for text in texts)
    assert set(p.name for p in credentials) <= set(info.value.bad_properties())


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties(
            "platform.hp-postgres",
            {"hots": "db", "port": "99999", "ssl": "maybe", "frequency_in_minutes": "3600", "ssh": True},
        )
    bad = info.value.bad_properties()
    assert bad[:4] == ["hots", "port", "ssl", "frequency_in_minutes"]
    for name in ("host", "user", "password", "dbname", "ssh_host", "ssh_port", "ssh_user"):
        assert name in bad
    assert str(info.value).startswith(
        f"{len(info.value.errors)} problems with the properties of platform.hp-postgres:"
    )
    assert isinstance(info.value, ValueError)
    assert all(isinstance(error, PropertyError) for error in info.value.errors)


def test_typo_suggests_the_closest_property() -> None:
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties("platform.postgres", {"hots": "x"}, partial=True)
    assert info.value.errors == [
        PropertyError("hots", "is not a property of platform.postgres; did you mean 'host'?")
    ]


def test_unknown_property_without_close_match_has_no_suggestion() -> None:
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties("platform.hubspot", {"zzzzzz": "x"}, partial=True)
    assert str(info.value.errors[0]) == "zzzzzz: is not a property of platform.hubspot"


def test_allow_unknown_passes_unknown_properties_through() -> None:
    assert validate_properties("platform.hubspot", {"extra": 1}, partial=True, allow_unknown=True) == {
        "extra": 1
    }


def test_read_only_property_set_by_user_is_an_error() -> None:
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties("platform.hubspot", {"image_version": "2.latest"}, partial=True)
    assert str(info.value.errors[0]) == "image_version: is read-only: Stitch sets it, so leave it out"


def test_internal_property_is_accepted() -> None:
    result = validate_properties(
        "platform.heroku_pg", {"itersize": "20000", "filter_dbs": "a,b"}, partial=True
    )
    assert result == {"itersize": "20000", "filter_dbs": "a,b"}


def test_empty_string_for_required_property_is_an_error() -> None:
    connector = get_connector("platform.hp-postgres")
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties(connector.type, {**minimal_properties(connector), "host": ""})
    assert [str(e) for e in info.value.errors] == ["host: is required and must not be empty"]


def test_partial_update_checks_only_present_properties() -> None:
    assert validate_properties("platform.postgres", {"port": 5433}, partial=True) == {"port": "5433"}
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties("platform.postgres", {"port": 0}, partial=True)
    assert info.value.bad_properties() == ["port"]


def test_oauth_step_demands_oauth_properties_and_accepts_form_ones() -> None:
    connector = get_connector("platform.hubspot")
    oauth = minimal_properties(connector, "oauth")
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties("hubspot", {}, step="oauth")
    assert info.value.bad_properties() == sorted(oauth)
    merged = {**oauth, "start_date": "2018-01-10T00:00:00Z"}
    assert validate_properties("hubspot", merged, step="oauth") == merged


def test_oauth_properties_may_be_sent_with_form_properties() -> None:
    connector = get_connector("platform.hubspot")
    merged = {**minimal_properties(connector), **minimal_properties(connector, "oauth")}
    assert validate_properties("platform.hubspot", merged) == merged


def test_conditional_requirements_follow_the_switch() -> None:
    connector = get_connector("redshift")
    base = minimal_properties(connector)
    validate_properties("redshift", {**base, "encryption_type": "none"})
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties("redshift", {**base, "encryption_type": "ssh"})
    assert info.value.bad_properties() == ["encryption_host", "encryption_port", "encryption_username"]
    complete = {
        **base,
        "encryption_type": "ssh",
        "encryption_host": "h",
        "encryption_port": 22,
        "encryption_username": "u",
    }
    assert validate_properties("redshift", complete)["encryption_port"] == "22"


def test_frequency_of_one_minute_depends_on_the_source_kind() -> None:
    assert validate_properties("platform.hp-mysql", {"frequency_in_minutes": 1}, partial=True) == {
        "frequency_in_minutes": "1"
    }
    with pytest.raises(PropertiesValidationError, match="database sources only"):
        validate_properties("platform.hubspot", {"frequency_in_minutes": 1}, partial=True)


def test_normalised_output() -> None:
    result = validate_properties(
        "platform.hp-postgres",
        {
            "port": 5432,
            "ssl": True,
            "anchor_time": "2018-04-30T17:00:00Z",
            "frequency_in_minutes": 60,
            "cron_expression": " 0 0 12 ? * MON-FRI * ",
        },
        partial=True,
    )
    assert result == {
        "port": "5432",
        "ssl": "true",
        "anchor_time": "2018-04-30T17:00:00Z",
        "frequency_in_minutes": "60",
        "cron_expression": "0 0 12 ? * MON-FRI *",
    }


def test_json_in_string_errors_name_the_property() -> None:
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties("platform.s3-csv", {"tables": "[{oops"}, partial=True)
    assert info.value.bad_properties() == ["tables"]
    assert "does not parse" in str(info.value)


def test_sub_object_fields_are_checked() -> None:
    with pytest.raises(PropertiesValidationError, match="missing 'bucket_name'"):
        validate_properties("databricks_delta", {"staging_area": {"scheme": "s3"}}, partial=True)
    with pytest.raises(PropertiesValidationError, match="unknown field"):
        validate_properties(
            "databricks_delta", {"staging_area": {"scheme": "s3", "bucket_name": "b", "x": 1}}, partial=True
        )


def test_error_is_picklable_and_keeps_its_errors() -> None:
    with pytest.raises(PropertiesValidationError) as info:
        validate_properties("platform.postgres", {"hots": "x"}, partial=True)
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.errors == info.value.errors
    assert copy.connection_type == "platform.postgres"


def test_invalid_arguments() -> None:
    with pytest.raises(UnknownConnectionTypeError):
        validate_properties("platform.nope", {})
    with pytest.raises(ValueError, match="step must be"):
        validate_properties("platform.hubspot", {}, step="profile")
    with pytest.raises(PropertiesValidationError, match="must be a JSON object"):
        validate_properties("platform.hubspot", ["not", "a", "dict"])  # type: ignore[arg-type]


@pytest.mark.parametrize("connection_type", ALL_TYPES)
def test_json_schema_accepts_the_minimal_object(connection_type: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    connector = get_connector(connection_type)
    schema = json_schema(connection_type)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(minimal_properties(connector), schema, cls=jsonschema.Draft202012Validator)
    assert schema["required"] == [
        p.name for p in connector.properties if p.step == "form" and p.is_demanded_on_create
    ]


def test_json_schema_details() -> None:
    schema = json_schema("redshift")
    assert schema["additionalProperties"] is False
    assert schema["properties"]["password"]["writeOnly"] is True
    assert schema["properties"]["encryption_type"] == {
        "type": "string",
        "enum": ["none", "ssh"],
        "default": "none",
        "minLength": 1,
    }
    assert "encryption_type" not in schema["required"]
    assert {
        "if": {"required": ["encryption_type"], "properties": {"encryption_type": {"enum": ["ssh"]}}},
        "then": {"required": ["encryption_host"]},
    } in schema["allOf"]
    ssh_rule = json_schema("platform.hp-mysql")["allOf"][0]["if"]["properties"]["ssh"]
    assert ssh_rule == {"enum": ["true", True]}
    assert json_schema("platform.hubspot", step="oauth")["required"] == [
        "client_id",
        "client_secret",
        "redirect_uri",
        "refresh_token",
    ]


def test_sample_value_helper_covers_every_rule() -> None:
    rules_seen = {p.rule for c in list_connectors() for p in c.properties}
    for connector in list_connectors():
        for spec in connector.properties:
            if spec.is_read_only or spec.requirement == "internal":
                continue
            validate_properties(connector.type, {spec.name: sample_value(spec)}, partial=True)
    assert {
        "start_date",
        "anchor_time",
        "frequency_in_minutes",
        "cron_expression",
        "boolean_flag",
        "port",
        "json_string",
        "enum",
    } <= rules_seen


def test_json_schema_and_validator_agree_on_empty_strings_and_stitch_filled_defaults() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    checker = jsonschema.Draft202012Validator
    aurora = {**minimal_properties(get_connector("platform.aurora")), "filter_dbs": ""}
    assert not checker(json_schema("platform.aurora")).is_valid(aurora)
    with pytest.raises(PropertiesValidationError):
        validate_properties("platform.aurora", aurora)
    postgres = minimal_properties(get_connector("postgres"))
    del postgres["encryption_type"]
    assert checker(json_schema("postgres")).is_valid(postgres)
    validate_properties("postgres", postgres)
