"""Shared property rules: one implementation per rule, used by every connection type.

Each rule takes the value a user supplied and returns the value Stitch expects, or raises
:class:`RuleViolation` with a message that never quotes the value (the caller decides whether the value
may be shown). Normalisations worth telling the user about are reported as
:class:`PropertyNormalisationWarning` through :mod:`warnings`.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlparse

from airflow_provider_stitch.connectors.bounds import MAX_NESTING, too_deeply_nested

FREQUENCIES_ALL_SOURCES = (30, 60, 360, 720, 1440)
FREQUENCY_DATABASE_ONLY = 1
PORT_RANGE = (1, 65535)
BOOLEAN_STRINGS = ("true", "false")


class RuleViolation(ValueError):
    """A value breaks a shared rule; the message says what is expected and never contains the value."""


class BothDayFieldsViolation(RuleViolation):
    """A Quartz expression sets both day-of-month and day-of-week (Stitch answers with its own code)."""


class PropertyNormalisationWarning(UserWarning):
    """A value was accepted after being rewritten into the form Stitch stores (for example, into UTC)."""


# ------------------------------------------------------------------------------------------------
# Numbers written as text
# ------------------------------------------------------------------------------------------------
#: Most digits a port or a frequency may have; longer digit strings are refused before ``int()``.
MAX_SMALL_NUMBER_DIGITS = 9


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of the digits 0-9 (``str.isdigit`` alone also accepts ``²`` and ``٣``)."""
    return text.isascii() and text.isdigit()


def small_number(value: Any) -> int | None:
    """A non-negative int, or a string of ASCII digits, as an int; ``None`` for anything else or too long.

    :param value: the supplied value (booleans are not numbers here).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**MAX_SMALL_NUMBER_DIGITS else None
    if isinstance(value, str):
        text = value.strip()
        if is_ascii_digits(text) and len(text) <= MAX_SMALL_NUMBER_DIGITS:
            return int(text)
    return None


# ------------------------------------------------------------------------------------------------
# Dates and times
# ------------------------------------------------------------------------------------------------
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$",
    re.IGNORECASE | re.ASCII,
)


def parse_iso_datetime(value: Any, *, what: str) -> datetime:
    """Parse an ISO 8601 date-time string (or accept a ``datetime``/``date``); naive results stay naive.

    :param value: the supplied value.
    :param what: the property name used in the error message.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        raise RuleViolation(f"{what} must be an ISO 8601 date-time string")
    text = value.strip()
    if not _ISO_DATETIME.match(text):
        raise RuleViolation(f"{what} must be an ISO 8601 date-time such as 2018-01-10T00:00:00Z")
    text = text.replace(" ", "T")
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    fraction = re.search(r"\.(\d+)", text, re.ASCII)
    if fraction and len(fraction.group(1)) > 6:
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
    offset = re.search(r"([+-]\d{2})(\d{2})$", text, re.ASCII)
    if offset:
        text = text[: offset.start()] + f"{offset.group(1)}:{offset.group(2)}"
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise RuleViolation(f"{what} is not a real calendar date and time") from exc


def in_utc(moment: datetime, *, what: str) -> datetime:
    """The same instant in UTC; a naive moment is read as UTC.

    :param moment: the parsed date-time.
    :param what: the property name used in the error message.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise RuleViolation(f"{what} is outside the range of dates that can be stored in UTC") from None


def format_utc(moment: datetime) -> str:
    """Format an aware UTC datetime the way Stitch stores it (``...Z``, fractions only when present)."""
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def start_date(value: Any) -> str:
    """``start_date``: an ISO 8601 date-time at midnight UTC, returned as ``YYYY-MM-DDT00:00:00Z``."""
    moment = parse_iso_datetime(value, what="start_date")
    if moment.tzinfo is not None and moment.utcoffset() != timedelta(0):
        raise RuleViolation("start_date must be in UTC (end it with Z), at midnight: YYYY-MM-DDT00:00:00Z")
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        raise RuleViolation("start_date must be at midnight UTC: YYYY-MM-DDT00:00:00Z")
    return moment.strftime("%Y-%m-%dT00:00:00Z")


def anchor_time(value: Any) -> str:
    """``anchor_time``: an ISO 8601 date-time, returned in UTC; an offset or no zone is normalised with a warning."""
    moment = parse_iso_datetime(value, what="anchor_time")
    if moment.tzinfo is None:
        warnings.warn(
            "anchor_time has no time zone; Stitch stores it in UTC, so it was read as UTC",
            PropertyNormalisationWarning,
            stacklevel=3,
        )
        return format_utc(in_utc(moment, what="anchor_time"))
    if moment.utcoffset() != timedelta(0):
        warnings.warn(
            "anchor_time had a UTC offset; it was converted to UTC, which is how Stitch stores it",
            PropertyNormalisationWarning,
            stacklevel=3,
        )
    return format_utc(in_utc(moment, what="anchor_time"))


def iso_datetime(value: Any, *, what: str = "value") -> str:
    """Any ISO 8601 date-time (``end_date`` and similar); returned unchanged when it is a string."""
    moment = parse_iso_datetime(value, what=what)
    if isinstance(value, str):
        return value
    return format_utc(in_utc(moment, what=what))


# ------------------------------------------------------------------------------------------------
# Scheduling
# ------------------------------------------------------------------------------------------------
def allowed_frequencies(is_database: bool) -> tuple[int, ...]:
    """The accepted ``frequency_in_minutes`` values for a source."""
    return ((FREQUENCY_DATABASE_ONLY,) if is_database else ()) + FREQUENCIES_ALL_SOURCES


def frequency_in_minutes(value: Any, *, is_database: bool) -> str:
    """``frequency_in_minutes``: 30, 60, 360, 720, 1440 (and 1 for database sources); int or str in, str out.

    :param value: the supplied value.
    :param is_database: whether the source is a database source (which alone may use 1).
    """
    allowed = allowed_frequencies(is_database)
    expected = ", ".join(str(v) for v in allowed)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RuleViolation(f"frequency_in_minutes must be one of {expected} (a string or an integer)")
    number = small_number(value)
    if number is None or number not in allowed:
        hint = " (1 is for database sources only)" if number == 1 else ""
        raise RuleViolation(f"frequency_in_minutes must be one of {expected}{hint}")
    return str(number)


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
# (field name, lowest, highest, names)
_QUARTZ_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("seconds", 0, 59, {}),
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2099, {}),
)


def _quartz_number(token: str, field: tuple[str, int, int, dict[str, int]]) -> int:
    name, low, high, names = field
    number = names.get(token.upper()) if names else None
    if number is None:
        if not is_ascii_digits(token) or len(token) > MAX_SMALL_NUMBER_DIGITS:
            raise RuleViolation(f"cron_expression: {name} field has an unknown value")
        number = int(token)
    if not low <= number <= high:
        raise RuleViolation(f"cron_expression: {name} values must be between {low} and {high}")
    return number


def _quartz_item(item: str, field: tuple[str, int, int, dict[str, int]]) -> None:
    name = field[0]
    if name == "day-of-month" and re.fullmatch(
        r"L(-([1-9]|[12]\d|30))?|LW|([1-9]|[12]\d|3[01])W", item, re.ASCII
    ):
        return
    if name == "day-of-week":
        special = re.fullmatch(r"([A-Za-z]{3}|[1-7])(L|#([1-5]))", item)
        if special:
            _quartz_number(special.group(1), field)
            return
        if item == "L":
            return
    base, _, step = item.partition("/")
    if step and (not is_ascii_digits(step) or int(step) == 0):
        raise RuleViolation(f"cron_expression: {name} increment must be a positive number")
    if base == "*":
        return
    start, dash, end = base.partition("-")
    _quartz_number(start, field)
    if dash:
        # Quartz lets a range wrap around (for example 22-2 in hours), so only each end is checked.
        _quartz_number(end, field)


def cron_expression(value: Any) -> str:
    """``cron_expression``: a Quartz expression (6 or 7 fields, exactly one day field ``?``); returned stripped."""
    if not isinstance(value, str):
        raise RuleViolation("cron_expression must be a string holding a Quartz cron expression")
    fields = value.split()
    if len(fields) not in (6, 7):
        raise RuleViolation(
            "cron_expression must have 6 or 7 fields (seconds minutes hours day-of-month month "
            "day-of-week [year]), for example 0 0 12 ? * MON-FRI *"
        )
    day_of_month, day_of_week = fields[3], fields[5]
    if day_of_month != "?" and day_of_week != "?":
        raise BothDayFieldsViolation(
            "cron_expression: exactly one of day-of-month and day-of-week must be '?' (both are set)"
        )
    if day_of_month == day_of_week == "?":
        raise RuleViolation("cron_expression: exactly one of day-of-month and day-of-week must be '?'")
    for text, field in zip(fields, _QUARTZ_FIELDS, strict=False):
        if text == "?":
            if field[0] not in ("day-of-month", "day-of-week"):
                raise RuleViolation(f"cron_expression: '?' is not allowed in the {field[0]} field")
            continue
        for item in text.split(","):
            if not item:
                raise RuleViolation(f"cron_expression: {field[0]} field has an empty list item")
            _quartz_item(item, field)
    return " ".join(fields)


# ------------------------------------------------------------------------------------------------
# Simple values
# ------------------------------------------------------------------------------------------------
def boolean_flag(value: Any, *, as_json_boolean: bool = False) -> str | bool:
    """A flag: ``"true"``/``"false"`` or a JSON boolean in; the string form out (or a boolean if asked).

    :param value: the supplied value.
    :param as_json_boolean: return ``True``/``False`` for properties Stitch types as boolean.
    """
    if isinstance(value, bool):
        flag = value
    elif isinstance(value, str) and value.strip().lower() in BOOLEAN_STRINGS:
        flag = value.strip().lower() == "true"
    else:
        raise RuleViolation('must be "true" or "false" (a string or a JSON boolean)')
    if as_json_boolean:
        return flag
    return "true" if flag else "false"


def port(value: Any) -> str:
    """A TCP port 1-65535, integer or digit string in; the string form out (what Stitch's examples send)."""
    number = small_number(value)
    if number is None or not PORT_RANGE[0] <= number <= PORT_RANGE[1]:
        raise RuleViolation("must be a port number from 1 to 65535")
    return str(number)


def one_of(value: Any, allowed: Iterable[str]) -> str:
    """A value from a documented list of accepted values."""
    options = list(allowed)
    if not isinstance(value, str) or value not in options:
        raise RuleViolation("must be one of " + ", ".join(repr(option) for option in options))
    return value


def matches(value: Any, pattern: str) -> str:
    """A string that matches a documented pattern."""
    if not isinstance(value, str) or not re.search(pattern, value):
        raise RuleViolation(f"must match the pattern {pattern}")
    return value


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def formatted(value: Any, fmt: str) -> str:
    """A string in a JSON-schema format Stitch names (``uri``, ``email``, ``date-time``)."""
    if not isinstance(value, str):
        raise RuleViolation(f"must be a string in {fmt} format")
    if fmt == "uri":
        try:
            parsed = urlparse(value)
        except ValueError:
            raise RuleViolation("must be an absolute URI such as https://example.com/callback") from None
        if not (parsed.scheme and parsed.netloc):
            raise RuleViolation("must be an absolute URI such as https://example.com/callback")
    elif fmt == "email" and not _EMAIL.match(value):
        raise RuleViolation("must be an email address")
    elif fmt == "date-time":
        iso_datetime(value)
    return value


# ------------------------------------------------------------------------------------------------
# JSON carried in a string
# ------------------------------------------------------------------------------------------------
def _check_json_shape(document: Any, schema: dict[str, Any], where: str) -> None:
    kind = schema.get("type")
    if kind == "array":
        if not isinstance(document, list):
            raise RuleViolation(f"{where} must be a JSON array")
        if not document:
            raise RuleViolation(f"{where} must contain at least one entry")
        items = schema.get("items") or {}
        for index, element in enumerate(document):
            _check_json_shape(element, items, f"{where}[{index}]")
    elif kind == "object":
        if not isinstance(document, dict):
            raise RuleViolation(f"{where} must be a JSON object")
        missing = [key for key in schema.get("required", []) if key not in document]
        if missing:
            raise RuleViolation(f"{where} is missing " + ", ".join(repr(key) for key in missing))
        for key, sub_schema in (schema.get("properties") or {}).items():
            if key in document:
                _check_json_shape(document[key], sub_schema, f"{where}.{key}")
    elif kind == "string":
        if not isinstance(document, str):
            raise RuleViolation(f"{where} must be a JSON string")
        if "enum" in schema and document not in schema["enum"]:
            raise RuleViolation(f"{where} must be one of " + ", ".join(repr(v) for v in schema["enum"]))


def json_in_string(value: Any, schema: dict[str, Any] | None) -> str:
    """JSON carried in a string: parsed and checked against its documented shape; a list or dict is encoded.

    :param value: a JSON string, or the decoded list/dict (encoded compactly on the way out).
    :param schema: the documented shape (``type``, ``items``, ``required``, ``properties``, ``enum``).
    """
    if isinstance(value, (list, dict)):
        document = value
        if too_deeply_nested(value):
            raise RuleViolation(f"must not nest lists and objects more than {MAX_NESTING} levels deep")
        try:
            text = json.dumps(value, separators=(",", ":"))
        except (TypeError, ValueError):
            raise RuleViolation(
                "must be JSON carried in a string, or a list or dict of JSON values"
            ) from None
    elif isinstance(value, str):
        try:
            document = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RuleViolation(
                f"must be JSON carried in a string; it does not parse (line {exc.lineno}, column {exc.colno})"
            ) from None
        except (RecursionError, ValueError):
            # Python's decoder gives up on very deep nesting and on integers of thousands of digits.
            raise RuleViolation(
                f"must be JSON carried in a string, nested at most {MAX_NESTING} levels deep and with "
                "numbers of ordinary length"
            ) from None
        if too_deeply_nested(document):
            raise RuleViolation(f"must not nest JSON lists and objects more than {MAX_NESTING} levels deep")
        text = value
    else:
        raise RuleViolation("must be JSON carried in a string")
    if schema:
        _check_json_shape(document, schema, "the JSON value")
    return text
