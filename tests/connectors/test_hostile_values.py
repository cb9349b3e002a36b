"""Hostile property values get the validator's own error naming the property, never a foreign exception."""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_stitch.connectors import (
    PropertiesValidationError,
    get_connector,
    list_connectors,
    validate_properties,
)
from airflow_provider_stitch.connectors.bounds import MAX_NESTING, too_deeply_nested

#: Far deeper than Python's recursion limit (which Hypothesis raises while a test runs), so anything
#: that walks the value recursively fails.
DEEP = 20 * max(sys.getrecursionlimit(), 1000)


def nested_list(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def nested_dict(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def problems(connection_type: str, properties: Any, **options: Any) -> list[str]:
    """Every problem line of the validator's error (the test fails on any other exception)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(PropertiesValidationError) as info:
            validate_properties(connection_type, properties, **options)
    return [str(error) for error in info.value.errors]


# A property of each rule (and datatype) in the catalog: where a hostile value meets each code path.
RULE_PROPERTIES = sorted(
    {
        (spec.rule or spec.datatype): (connector.type, spec.name)
        for connector in list_connectors()
        for spec in connector.properties
        if not spec.is_read_only and not (spec.requirement == "internal" and spec.rule is None)
    }.values()
)


def test_the_rule_properties_cover_every_rule() -> None:
    rules = {
        get_connector(t).property(n).rule or get_connector(t).property(n).datatype for t, n in RULE_PROPERTIES
    }
    assert {"port", "frequency_in_minutes", "json_string", "cron_expression", "start_date"} <= rules
    assert {"anchor_time", "boolean_flag", "enum", "format", "object", "array", "integer"} <= rules


@pytest.mark.parametrize(("connection_type", "name"), RULE_PROPERTIES)
@pytest.mark.parametrize("shape", [nested_list, nested_dict], ids=["list", "dict"])
def test_deep_nesting_is_refused_naming_the_property(connection_type: str, name: str, shape: Any) -> None:
    assert problems(connection_type, {name: shape(DEEP)}, partial=True) == [
        f"{name}: nests lists and objects more than {MAX_NESTING} levels deep"
    ]


def test_a_value_that_contains_itself_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert problems("platform.hp-mysql", {"port": loop}, partial=True) == [
        f"port: nests lists and objects more than {MAX_NESTING} levels deep"
    ]


def test_unknown_properties_passed_through_are_bounded_too() -> None:
    assert problems("platform.hp-mysql", {"extra": nested_list(DEEP)}, partial=True, allow_unknown=True) == [
        f"extra: nests lists and objects more than {MAX_NESTING} levels deep"
    ]


def test_nesting_at_the_limit_is_still_checked_by_the_rule() -> None:
    assert not too_deeply_nested(nested_list(MAX_NESTING))
    assert too_deeply_nested(nested_list(MAX_NESTING + 1))
    lines = problems("platform.hp-mysql", {"port": nested_list(MAX_NESTING)}, partial=True)
    assert lines[0].startswith("port: must be a port number from 1 to 65535 (got [[[")


@pytest.mark.parametrize("digits", ["²", "٣٣", "５４３２", "12³"])
@pytest.mark.parametrize(
    ("connection_type", "name", "message"),
    [
        ("platform.hp-mysql", "port", "must be a port number from 1 to 65535"),
        ("platform.hp-mysql", "frequency_in_minutes", "frequency_in_minutes must be one of 1, 30"),
        ("platform.hp-mysql", "cron_expression", "cron_expression: hours field has an unknown value"),
    ],
)
def test_digits_that_are_not_ascii_are_refused(
    connection_type: str, name: str, message: str, digits: str
) -> None:
    value = f"0 0 {digits} ? * MON" if name == "cron_expression" else digits
    lines = problems(connection_type, {name: value}, partial=True)
    assert len(lines) == 1 and lines[0].startswith(f"{name}: {message}")


def test_an_integer_datatype_refuses_superscript_digits() -> None:
    spec = next(
        (c.type, s.name)
        for c in list_connectors()
        for s in c.properties
        if s.datatype == "integer" and s.rule is None and not s.is_read_only and s.requirement != "internal"
    )
    assert problems(spec[0], {spec[1]: "²"}, partial=True) == [
        f"{spec[1]}: must be an integer (or a string of digits) (got '²')"
    ]


@pytest.mark.parametrize("name", ["port", "frequency_in_minutes"])
def test_numbers_too_long_to_convert_are_refused(name: str) -> None:
    lines = problems("platform.hp-mysql", {name: "9" * 5000}, partial=True)
    assert len(lines) == 1 and lines[0].startswith(f"{name}: ") and "99999...9999" in lines[0]
    assert problems("platform.hp-mysql", {name: 10**5000}, partial=True) == [
        f"{name}: holds an integer of more than 1000 digits"
    ]
    # Below the bound the rule itself decides, and the message shows a bounded preview of the number.
    lines = problems("platform.hp-mysql", {name: 10**900}, partial=True)
    assert len(lines) == 1 and lines[0].endswith("(got <an integer of about 900 digits>)")


def test_json_in_a_string_that_is_deep_or_holds_a_huge_number_is_refused() -> None:
    deep_text = "[" * DEEP + "]" * DEEP
    huge_number = json.dumps([{"search_pattern": "a", "table_name": "t", "key_properties": 1}]).replace(
        "1}", "9" * 5000 + "}"
    )
    for text in (deep_text, huge_number, json.dumps(nested_list(MAX_NESTING + 5))):
        lines = problems("platform.s3-csv", {"tables": text}, partial=True)
        assert len(lines) == 1 and lines[0].startswith("tables: must ")


def test_dates_that_overflow_in_utc_are_refused() -> None:
    assert problems("platform.hp-mysql", {"anchor_time": "0001-01-01T00:00:00+01:00"}, partial=True) == [
        "anchor_time: anchor_time is outside the range of dates that can be stored in UTC "
        "(got '0001-01-01T00:00:00+01:00')"
    ]


def test_a_uri_that_urllib_cannot_split_is_refused() -> None:
    connection_type, name = next(
        (c.type, s.name)
        for c in list_connectors()
        for s in c.properties
        if s.format == "uri" and not s.credential
    )
    lines = problems(connection_type, {name: "http://[::1"}, partial=True)
    assert lines == [
        f"{name}: must be an absolute URI such as https://example.com/callback (got 'http://[::1')"
    ]


def test_sub_fields_with_keys_of_mixed_types_are_named() -> None:
    connection_type, spec = next(
        (c.type, s)
        for c in list_connectors()
        for s in c.properties
        if s.datatype == "object" and s.subproperties
    )
    value = {sub["name"]: "v" for sub in spec.subproperties}
    value.update({1: "x", "zz": "y"})
    lines = problems(connection_type, {spec.name: value}, partial=True)
    assert lines[0].startswith(f"{spec.name}: the object has unknown field(s) '1', 'zz'")


# Random JSON-like values, including the shapes above, for every rule's property.
JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["²", "٣", "9" * 5000, "0001-01-01T00:00:00+01:00", "http://[::1", "[" * 3000]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
DEEP_VALUES = st.builds(nested_list, st.integers(MAX_NESTING - 2, DEEP)) | st.builds(
    nested_dict, st.integers(MAX_NESTING - 2, DEEP)
)


@settings(max_examples=300, deadline=None)
@given(
    target=st.sampled_from(RULE_PROPERTIES),
    value=JSON_VALUES | DEEP_VALUES,
    partial=st.booleans(),
)
def test_random_values_get_only_the_validators_own_error(
    target: tuple[str, str], value: Any, partial: bool
) -> None:
    connection_type, name = target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            validate_properties(connection_type, {name: value}, partial=partial)
        except PropertiesValidationError as problem:
            assert problem.errors and all(error.property for error in problem.errors)
            if name in problem.bad_properties():
                line = next(str(e) for e in problem.errors if e.property == name)
                assert "could not be read" not in line, line  # the rules' own checks caught it
