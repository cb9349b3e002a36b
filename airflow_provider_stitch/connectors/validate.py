"""Validate connection properties against the catalog; every problem is reported at once."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from airflow_provider_stitch.connectors import rules
from airflow_provider_stitch.connectors.catalog import get_connector
from airflow_provider_stitch.connectors.errors import PropertiesValidationError, PropertyError
from airflow_provider_stitch.connectors.spec import ConnectorSpec, PropertySpec

STEPS = ("form", "oauth")
_PREVIEW_LIMIT = 40


def describe_value(spec: PropertySpec | None, value: Any) -> str:
    """A short, safe rendering of a value for a message; credentials are never shown."""
    if spec is not None and spec.credential:
        return "(value hidden: credential)"
    text = repr(value)
    return text if len(text) <= _PREVIEW_LIMIT else text[: _PREVIEW_LIMIT - 3] + "..."


def apply_rule(spec: PropertySpec, value: Any, connector: ConnectorSpec) -> Any:
    """Check one value with the property's rule and datatype; return what Stitch expects.

    Raises:
        rules.RuleViolation: the value breaks the rule (message without the value).
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
            isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
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
    unknown = sorted(set(value) - set(known))
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

    Args:
        connection_type: Stitch ``type`` (``platform.postgres``) or its short form.
        properties: the ``properties`` object of a create or update request.
        step: the step being completed (``form`` or ``oauth``): its required properties are demanded.
            Properties of the other step are accepted and checked too (Stitch takes both in one request).
        partial: an update: nothing is demanded, only the properties present are checked.
        allow_unknown: pass properties the catalog does not know through unchecked.

    Returns:
        A new dict with normalised values (flags as ``"true"``/``"false"``, ports and frequencies as strings,
        ``anchor_time`` in UTC).

    Raises:
        PropertiesValidationError: listing every problem; no credential value appears in it.
        UnknownConnectionTypeError: the type is not in the catalog.
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
    known_names = connector.property_names()
    for name, value in properties.items():
        spec = connector.property(name)
        if spec is None:
            if allow_unknown:
                normalised[name] = value
            else:
                errors.append(
                    PropertyError(
                        name, f"is not a property of {connector.type}{suggestion(str(name), known_names)}"
                    )
                )
            continue
        if spec.is_read_only:
            errors.append(PropertyError(name, "is read-only: Stitch sets it, so leave it out"))
            continue
        if value is None or value == "":
            if spec.is_required and (spec.step == step or partial):
                errors.append(PropertyError(name, "is required and must not be empty"))
            else:
                normalised[name] = value
            continue
        if spec.requirement == "internal" and spec.rule is None:
            normalised[name] = value
            continue
        try:
            normalised[name] = apply_rule(spec, value, connector)
        except rules.RuleViolation as problem:
            shown = "" if spec.credential else f" (got {describe_value(spec, value)})"
            errors.append(PropertyError(name, f"{problem}{shown}"))
    if not partial:
        for spec in connector.properties:
            if spec.step == step and spec.is_required and spec.name not in properties:
                errors.append(PropertyError(spec.name, "is required but missing"))
        for spec in connector.properties:
            condition = spec.required_when
            if (
                condition
                and properties.get(spec.name) in (None, "")
                and _condition_met(condition, normalised)
            ):
                errors.append(
                    PropertyError(
                        spec.name,
                        f"is required when {condition['property']} is {condition['equals']!r} but missing",
                    )
                )
    if errors:
        raise PropertiesValidationError(connector.type, errors)
    return normalised
