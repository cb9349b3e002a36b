"""Shared rules, with good and bad values and hypothesis-generated inputs."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_stitch.connectors import PropertyNormalisationWarning, rules
from airflow_provider_stitch.connectors.rules import RuleViolation


# start_date -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-01-10T00:00:00Z", "2018-01-10T00:00:00Z"),
        ("2018-01-10T00:00:00+00:00", "2018-01-10T00:00:00Z"),
        ("2018-01-10T00:00:00.000Z", "2018-01-10T00:00:00Z"),
        (datetime(2020, 2, 29, tzinfo=timezone.utc), "2020-02-29T00:00:00Z"),
    ],
)
def test_start_date_accepts_midnight_utc(value: object, expected: str) -> None:
    assert rules.start_date(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2018-01-10T17:00:00Z", "midnight"),
        ("2018-01-10T00:00:00+02:00", "UTC"),
        ("2018-02-30T00:00:00Z", "real calendar"),
        ("10/01/2018", "ISO 8601"),
        (20180110, "ISO 8601"),
    ],
)
def test_start_date_rejects(value: object, fragment: str) -> None:
    with pytest.raises(RuleViolation, match=fragment):
        rules.start_date(value)


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=datetime(1990, 1, 1).date(), max_value=datetime(2100, 1, 1).date()))
def test_start_date_round_trips_any_calendar_date(day) -> None:  # type: ignore[no-untyped-def]
    text = f"{day.isoformat()}T00:00:00Z"
    assert rules.start_date(text) == text


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=23), st.integers(min_value=0, max_value=59))
def test_start_date_rejects_any_time_other_than_midnight(hour: int, minute: int) -> None:
    with pytest.raises(RuleViolation):
        rules.start_date(f"2018-01-10T{hour:02d}:{minute:02d}:00Z")


# anchor_time -----------------------------------------------------------------------------------
def test_anchor_time_in_utc_passes_unchanged_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rules.anchor_time("2018-04-30T17:00:00Z") == "2018-04-30T17:00:00Z"


def test_anchor_time_offset_is_normalised_with_a_warning() -> None:
    with pytest.warns(PropertyNormalisationWarning, match="converted to UTC"):
        assert rules.anchor_time("2018-04-30T13:00:00-04:00") == "2018-04-30T17:00:00Z"


def test_anchor_time_without_zone_is_read_as_utc_with_a_warning() -> None:
    with pytest.warns(PropertyNormalisationWarning, match="no time zone"):
        assert rules.anchor_time("2018-04-30T17:00:00") == "2018-04-30T17:00:00Z"


@pytest.mark.parametrize("value", ["tomorrow", "2018-13-01T00:00:00Z", "", 5])
def test_anchor_time_rejects_non_dates(value: object) -> None:
    with pytest.raises(RuleViolation):
        rules.anchor_time(value)


@settings(max_examples=60, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_anchor_time_always_lands_on_the_same_instant_in_utc(moment: datetime, offset_minutes: int) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    aware = moment.replace(microsecond=0, tzinfo=zone)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rules.anchor_time(aware.isoformat())
    assert result.endswith("Z")
    parsed = datetime.fromisoformat(result[:-1] + "+00:00")
    assert parsed == aware


# frequency_in_minutes ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["30", 60, "360", 720, "1440"])
def test_frequency_accepts_documented_values_as_string_or_integer(value: object) -> None:
    assert rules.frequency_in_minutes(value, is_database=False) == str(value)


def test_frequency_one_minute_is_for_database_sources_only() -> None:
    assert rules.frequency_in_minutes(1, is_database=True) == "1"
    with pytest.raises(RuleViolation, match="database sources only"):
        rules.frequency_in_minutes("1", is_database=False)


@pytest.mark.parametrize("value", ["3600", "45", 0, -30, "sixty", True, 60.0, None])
def test_frequency_rejects_undocumented_values(value: object) -> None:
    with pytest.raises(RuleViolation, match="must be one of"):
        rules.frequency_in_minutes(value, is_database=True)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=-5000, max_value=5000), st.booleans())
def test_frequency_accepts_exactly_the_documented_set(minutes: int, is_database: bool) -> None:
    allowed = {30, 60, 360, 720, 1440} | ({1} if is_database else set())
    if minutes in allowed:
        assert rules.frequency_in_minutes(minutes, is_database=is_database) == str(minutes)
        assert rules.frequency_in_minutes(str(minutes), is_database=is_database) == str(minutes)
    else:
        with pytest.raises(RuleViolation):
            rules.frequency_in_minutes(minutes, is_database=is_database)


# cron_expression --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "0 0 12 ? * MON-FRI *",
        "0 15 10 ? * *",
        "0 0/5 14 * * ?",
        "0 15 10 L * ?",
        "0 15 10 L-2 * ?",
        "0 15 10 15W * ?",
        "0 15 10 LW * ?",
        "0 15 10 ? * 6L 2002-2005",
        "0 15 10 ? * 6#3",
        "0 15 10 ? * FRI#3",
        "0 0 12 1/5 * ?",
        "0 11 11 11 11 ?",
        "0 0 22-2 ? JAN,MAR,DEC SUN",
    ],
)
def test_cron_accepts_quartz_expressions(value: str) -> None:
    assert rules.cron_expression(value) == value


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("* * * * * *", "exactly one of day-of-month and day-of-week"),
        ("0 0 12 ? * ?", "exactly one of day-of-month and day-of-week"),
        ("0 0 12 * *", "6 or 7 fields"),
        ("0 0 12 ? * MON-FRI * 1", "6 or 7 fields"),
        ("60 0 12 ? * MON", "seconds values must be between 0 and 59"),
        ("0 0 24 ? * MON", "hours values must be between 0 and 23"),
        ("0 0 12 32 * ?", "day-of-month values must be between 1 and 31"),
        ("0 0 12 ? 13 MON", "month values must be between 1 and 12"),
        ("0 0 12 ? * 8", "day-of-week values must be between 1 and 7"),
        ("0 0 12 ? * FUNDAY", "unknown value"),
        ("0 0 12 ? * MON#6", "unknown value"),
        ("0 0/0 12 ? * MON", "increment must be a positive number"),
        ("? 0 12 ? * MON", "not allowed in the seconds field"),
        ("0 0 12 ? * MON 1969", "year values must be between 1970 and 2099"),
    ],
)
def test_cron_rejects(value: str, fragment: str) -> None:
    with pytest.raises(RuleViolation, match=fragment):
        rules.cron_expression(value)


def test_cron_rejects_non_strings() -> None:
    with pytest.raises(RuleViolation, match="must be a string"):
        rules.cron_expression(5)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 59), st.integers(0, 59), st.integers(0, 23), st.integers(1, 31), st.integers(1, 12))
def test_cron_accepts_any_in_range_day_of_month_schedule(
    s: int, m: int, h: int, dom: int, month: int
) -> None:
    expression = f"{s} {m} {h} {dom} {month} ?"
    assert rules.cron_expression(expression) == expression


# flags, ports, enums, JSON in a string ----------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", "true"), ("false", "false"), (True, "true"), (False, "false"), ("TRUE", "true")],
)
def test_boolean_flag_outputs_strings(value: object, expected: str) -> None:
    assert rules.boolean_flag(value) == expected


def test_boolean_flag_can_output_json_booleans() -> None:
    assert rules.boolean_flag("false", as_json_boolean=True) is False


@pytest.mark.parametrize("value", ["yes", "1", 1, 0, None, ""])
def test_boolean_flag_rejects(value: object) -> None:
    with pytest.raises(RuleViolation, match='"true" or "false"'):
        rules.boolean_flag(value)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(-10, 70000), st.integers(-10, 70000).map(str)))
def test_port_accepts_exactly_1_to_65535(value: int | str) -> None:
    number = int(value)
    if 1 <= number <= 65535:
        assert rules.port(value) == str(number)
    else:
        with pytest.raises(RuleViolation, match="1 to 65535"):
            rules.port(value)


@pytest.mark.parametrize("value", ["<PORT>", "54.32", True, None, [5432]])
def test_port_rejects_non_numbers(value: object) -> None:
    with pytest.raises(RuleViolation):
        rules.port(value)


def test_one_of_lists_the_accepted_values() -> None:
    assert rules.one_of("csv", ("csv", "jsonl")) == "csv"
    with pytest.raises(RuleViolation, match="'csv', 'jsonl'"):
        rules.one_of("xml", ("csv", "jsonl"))


TABLES_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["search_pattern", "table_name"],
        "properties": {"delimiter": {"type": "string", "enum": [",", "|"]}},
    },
}


def test_json_in_string_parses_and_checks_shape() -> None:
    text = '[{"search_pattern": "a.csv", "table_name": "a", "delimiter": ","}]'
    assert rules.json_in_string(text, TABLES_SCHEMA) == text


def test_json_in_string_encodes_a_structure_compactly() -> None:
    value = [{"search_pattern": "a.csv", "table_name": "a"}]
    assert rules.json_in_string(value, TABLES_SCHEMA) == '[{"search_pattern":"a.csv","table_name":"a"}]'


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[{", "does not parse"),
        ('{"a": 1}', "must be a JSON array"),
        ("[]", "at least one entry"),
        ('[{"table_name": "a"}]', "missing 'search_pattern'"),
        ('[{"search_pattern": "a", "table_name": "a", "delimiter": ";"}]', "must be one of"),
    ],
)
def test_json_in_string_rejects(text: str, fragment: str) -> None:
    with pytest.raises(RuleViolation, match=fragment):
        rules.json_in_string(text, TABLES_SCHEMA)


@pytest.mark.parametrize(
    ("fmt", "good", "bad"), [("uri", "https://a.example/cb", "not a uri"), ("email", "a@b.io", "a-at-b")]
)
def test_formats(fmt: str, good: str, bad: str) -> None:
    assert rules.formatted(good, fmt) == good
    with pytest.raises(RuleViolation):
        rules.formatted(bad, fmt)
