"""Every example object of the docs text validates, except the named known-invalid ones."""

from __future__ import annotations

import json
import warnings

import pytest

from airflow_provider_stitch.connectors import PropertiesValidationError, list_connectors, validate_properties

# (type, step) -> the properties reported bad, and why the example breaks a documented rule.
KNOWN_INVALID = {
    # frequency_in_minutes "3600" is not an accepted value (30, 60, 360, 720, 1440): the rule wins.
    ("platform.autopilot", "form"): ["frequency_in_minutes"],
    ("platform.harvest-forecast", "form"): ["frequency_in_minutes"],
    ("platform.helpscout", "form"): ["frequency_in_minutes"],
    # The examples echo READ-ONLY properties, which a request may not set.
    ("platform.google-analytics", "form"): ["quota_user"],
    ("bigquery_v2", "form"): ["project_id"],
    # encryption_type is "ssh", so encryption_port must be a port; the example holds a placeholder.
    ("redshift", "form"): ["encryption_port"],
    # Empty strings: the sources' error docs say Stitch answers InvalidProperties for an empty value.
    ("platform.aurora", "form"): ["filter_dbs"],
    ("platform.cloudsql", "form"): ["filter_dbs"],
    ("platform.cloudsql_pg", "form"): ["filter_dbs", "itersize"],
    ("platform.codat", "form"): ["uat_urls"],
    ("platform.dynamodb", "form"): ["use_local_dynamo"],
    ("platform.heroku_pg", "form"): ["filter_dbs", "itersize"],
    ("platform.mariadb", "form"): ["filter_dbs"],
}

EXAMPLES = [
    (c.type, step, example) for c in list_connectors() for step, example in sorted(c.examples.items())
]


def test_the_docs_text_examples_are_all_in_the_catalog() -> None:
    assert len({t for t, _, _ in EXAMPLES}) == 63
    assert len(EXAMPLES) == 80


@pytest.mark.parametrize(
    ("connection_type", "step", "example"), EXAMPLES, ids=[f"{t}-{s}" for t, s, _ in EXAMPLES]
)
def test_example_validates(connection_type: str, step: str, example: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if (connection_type, step) in KNOWN_INVALID:
            with pytest.raises(PropertiesValidationError) as info:
                validate_properties(connection_type, example, step=step)
            assert info.value.bad_properties() == KNOWN_INVALID[(connection_type, step)]
        else:
            result = validate_properties(connection_type, example, step=step)
            assert set(result) == set(example)


def test_known_invalid_examples_pass_once_the_documented_rule_is_followed() -> None:
    fixes = {"frequency_in_minutes": "60", "encryption_port": "22"}
    by_type = {c.type: c for c in list_connectors()}
    for (connection_type, step), bad in KNOWN_INVALID.items():
        example = dict(by_type[connection_type].examples[step])
        for name in bad:
            if name in fixes:
                example[name] = fixes[name]
            else:
                del example[name]
        validate_properties(connection_type, example, step=step)


def test_ga360_multiline_key_file_example_is_carried_as_json_in_a_string() -> None:
    example = next(e for t, s, e in EXAMPLES if t == "platform.ga360")
    key_file = json.loads(example["service_account_json"])
    assert key_file["type"] == "service_account"
    assert (
        validate_properties("platform.ga360", example)["service_account_json"]
        == example["service_account_json"]
    )


def test_import_api_example_has_no_properties() -> None:
    assert validate_properties("import_api", {}) == {}


def test_port_examples_are_sent_as_strings() -> None:
    example = next(e for t, s, e in EXAMPLES if t == "platform.aurora")
    example = {name: value for name, value in example.items() if value != ""}
    assert validate_properties("platform.aurora", {**example, "port": 3306})["port"] == "3306"


def test_flag_sent_as_json_boolean_comes_out_as_a_string() -> None:
    example = next(e for t, s, e in EXAMPLES if t == "s3")
    assert example["csv_force_quote"] is True
    assert validate_properties("s3", example)["csv_force_quote"] == "true"
