"""Validate connection properties against the catalog; every problem is reported at once."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Mapping
from typing import Any

from airflow_provider_stitch.connectors import rules
from airflow_provider_stitch.connectors.bounds import shape_problem
from airflow_provider_stitch.connectors.catalog import get_connector, normalise_type
from airflow_provider_stitch.connectors.errors import (
    PropertiesValidationError,
    PropertyError,
    UnknownConnectionTypeError,
)
from airflow_provider_stitch.connectors.spec import ConnectorSpec, PropertySpec

STEPS = ("form", "oauth")
#: Kinds whose properties may not hold an empty string: the docs of the sources endpoints list an empty
#: value among the causes of ``InvalidProperties`` (``_data/connect/response-codes/sources.yml``).
EMPTY_STRING_REJECTED_KINDS = frozenset({"source"})
_PREVIEW_LIMIT = 40
#: Errors a rule may meet on a hostile value that it does not turn into a RuleViolation itself.
_UNREADABLE_VALUE_ERRORS = (ValueError, TypeError, OverflowError, RecursionError)


class _Preview(reprlib.Repr):
    """``reprlib`` with a bounded rendering of integers too long for ``repr``."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = self.maxother = self.maxlong = _PREVIEW_LIMIT

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 4 * _PREVIEW_LIMIT:
            return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


_PREVIEW = _Preview()


def describe_value(spec: PropertySpec | None, value: Any) -> str:
    """A short, safe rendering of a value for a message; credentials are never shown.

    :param spec: the property's spec (``None`` for an unknown property).
    :param value: the supplied value; huge, deep or self-containing values are shortened, not walked.
    """
    if spec is not None and spec.credential:
        return "(value hidden: credential)"
    text = _PREVIEW.repr(value)
    return text if len(text) <= _PREVIEW_LIMIT else text[: _PREVIEW_LIMIT - 3] + "..."


def apply_rule(spec: PropertySpec, value: Any, connector: ConnectorSpec) -> Any:
    """Check one value with the property's rule and datatype; return what Stitch expects.

    :raises rules.RuleViolation: the value breaks the rule (message without the value).
    """
    rule = spec.rule
    if rule == "start_date":
        return rules.start_date(value)
    if rule == "anchor_time":
        return rules.anchor_time(value)
    if rule == "frequency_in_minutes":
        return rules.frequency_in_minutes(value, is_database=connector.is_database)
    if rule == "cron_expression":
        return rules.cron_expression(value)
    if rule == "boolean_flag":
        return rules.boolean_flag(value, as_json_boolean=spec.datatype == "boolean")
    if rule == "port":
        return rules.port(value)
    if rule == "json_string":
        return rules.json_in_string(value, spec.json_schema)
    if rule == "enum" and spec.enum:
        return rules.one_of(value, spec.enum)
    if rule == "pattern" and spec.pattern:
        return rules.matches(value, spec.pattern)
    if rule == "format" and spec.format:
        return rules.formatted(value, spec.format)
    if rule == "datetime":
        return rules.iso_datetime(value, what=spec.name)
    return check_datatype(spec, value)


def check_datatype(spec: PropertySpec, value: Any) -> Any:
    """Check a value against the documented datatype and sub-object fields."""
    datatype = spec.datatype
    if datatype == "string":
        if not isinstance(value, str):
            raise rules.RuleViolation("must be a string")
    elif datatype == "string/integer":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise rules.RuleViolation("must be a string or an integer")
    elif datatype == "integer":
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and rules.is_ascii_digits(value.strip()))
        ):
            raise rules.RuleViolation("must be an integer (or a string of digits)")
    elif datatype == "boolean":
        return rules.boolean_flag(value, as_json_boolean=True)
    elif datatype == "object":
        if not isinstance(value, Mapping):
            raise rules.RuleViolation("must be a JSON object")
        check_fields(spec, value, "the object")
    elif datatype == "array":
        if not isinstance(value, list):
            raise rules.RuleViolation("must be a JSON array")
        if spec.subproperties:
            for index, item in enumerate(value):
                if not isinstance(item, Mapping):
                    raise rules.RuleViolation(f"item {index} must be a JSON object")
                check_fields(spec, item, f"item {index}")
    return value


def check_fields(spec: PropertySpec, value: Mapping[str, Any], where: str) -> None:
    """Check the documented sub-fields of an object: required ones present and non-empty, no strangers."""
    if not spec.subproperties:
        return
    known = {sub["name"]: sub for sub in spec.subproperties}
    missing = [name for name, sub in known.items() if sub["required"] and value.get(name) in (None, "")]
    if missing:
        raise rules.RuleViolation(f"{where} is missing " + ", ".join(repr(name) for name in missing))
    unknown = sorted(str(name) for name in value if name not in known)
    if unknown:
        raise rules.RuleViolation(
            f"{where} has unknown field(s) {', '.join(repr(n) for n in unknown)}; "
            f"known fields: {', '.join(sorted(known))}"
        )


def suggestion(name: str, known: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known property name, or an empty string."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _condition_met(condition: Mapping[str, str], normalised: Mapping[str, Any]) -> bool:
    value = normalised.get(condition["property"])
    if isinstance(value, bool):
        value = "true" if value else "false"
    return isinstance(value, str) and value.strip().lower() == condition["equals"]


def validate_properties(
    connection_type: str,
    properties: Mapping[str, Any],
    *,
    step: str = "form",
    partial: bool = False,
    allow_unknown: bool = False,
) -> dict[str, Any]:
    """Validate connection properties and return them as Stitch expects them.

    The one implementation of the property rules: the client, the operators, the CLI and the emulator all
    call it. It returns a new dict with normalised values (flags as ``"true"``/``"false"``, ports and
    frequencies as strings, ``anchor_time`` in UTC).

    :param connection_type: Stitch ``type`` (``platform.postgres``) or its short form.
    :param properties: the ``properties`` object of a create or update request.
    :param step: the step being completed (``form`` or ``oauth``): its required properties are demanded.
        Properties of the other step are accepted and checked too (Stitch takes both in one request).
    :param partial: an update: nothing is demanded, only the properties present are checked.
    :param allow_unknown: pass properties the catalog does not know through unchecked.
    :raises PropertiesValidationError: listing every problem; no credential value appears in it.
    :raises UnknownConnectionTypeError: the type is not in the catalog.
    """
    connector = get_connector(connection_type)
    if step not in STEPS:
        raise ValueError(f"step must be one of {', '.join(STEPS)}, not {step!r}")
    if not isinstance(properties, Mapping):
        raise PropertiesValidationError(
            connector.type, [PropertyError("", "properties must be a JSON object")]
        )
    errors: list[PropertyError] = []
    normalised: dict[str, Any] = {}
    for name, value in properties.items():
        label = name if isinstance(name, str) else str(name)
        problem = _check_one(connector, label, value, step=step, partial=partial, allow_unknown=allow_unknown)
        if isinstance(problem, PropertyError):
            errors.append(problem)
        else:
            normalised[label] = problem
    if not partial:
        errors.extend(_missing(connector, properties, normalised, step))
    if errors:
        raise PropertiesValidationError(connector.type, errors)
    return normalised


def _check_one(
    connector: ConnectorSpec, name: str, value: Any, *, step: str, partial: bool, allow_unknown: bool
) -> Any:
    """The normalised value of one property, or the :class:`PropertyError` it earns."""
    spec = connector.property(name)
    unreadable = shape_problem(value)
    if unreadable:
        return PropertyError(name, unreadable)
    if spec is None:
        if allow_unknown:
            return value
        return PropertyError(
            name, f"is not a property of {connector.type}{suggestion(name, connector.property_names())}"
        )
    if spec.is_read_only:
        return PropertyError(name, "is read-only: Stitch sets it, so leave it out")
    empty_string = isinstance(value, str) and value == ""
    if value is None or empty_string:
        if spec.is_required and (spec.step == step or partial):
            return PropertyError(name, "is required and must not be empty")
        if empty_string and connector.kind in EMPTY_STRING_REJECTED_KINDS:
            return PropertyError(
                name, "must not be an empty string (Stitch rejects it): leave it out or set a value"
            )
        return value
    if spec.requirement == "internal" and spec.rule is None:
        return value
    try:
        return apply_rule(spec, value, connector)
    except rules.RuleViolation as violation:
        shown = "" if spec.credential else f" (got {describe_value(spec, value)})"
        return PropertyError(name, f"{violation}{shown}")
    except _UNREADABLE_VALUE_ERRORS as failure:
        # A guard behind the rules' own checks: a hostile value still gets an error naming its property.
        return PropertyError(name, f"could not be read as a {spec.datatype} ({type(failure).__name__})")


def _missing(
    connector: ConnectorSpec, properties: Mapping[str, Any], normalised: Mapping[str, Any], step: str
) -> list[PropertyError]:
    """Errors for the properties a create of ``step`` must supply but did not."""
    errors = [
        PropertyError(spec.name, "is required but missing")
        for spec in connector.properties
        if spec.step == step and spec.is_demanded_on_create and spec.name not in properties
    ]
    for spec in connector.properties:
        condition = spec.required_when
        if condition and properties.get(spec.name) in (None, "") and _condition_met(condition, normalised):
            errors.append(
                PropertyError(
                    spec.name,
                    f"is required when {condition['property']} is {condition['equals']!r} but missing",
                )
            )
    return errors


def refuse_unreadable_values(connection_type: Any, properties: Any) -> None:
    """Raise the validator's error for values too deep or too long to read; call before walking them.

    Code that walks properties recursively (template detection, digests, masking) calls this first, so a
    hostile value ends in the same error :func:`validate_properties` gives, naming the property.

    :param connection_type: the type the properties belong to (an unknown or templated name is kept as is).
    :param properties: the properties object; anything but a mapping is left to :func:`validate_properties`.
    :raises PropertiesValidationError: naming every unreadable property.
    """
    if not isinstance(properties, Mapping):
        return
    errors = []
    for name, value in properties.items():
        problem = shape_problem(value)
        if problem:
            errors.append(PropertyError(name if isinstance(name, str) else str(name), problem))
    if errors:
        try:
            label = normalise_type(connection_type)
        except UnknownConnectionTypeError:
            label = str(connection_type)
        raise PropertiesValidationError(label, errors)
