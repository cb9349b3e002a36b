"""JSON Schema documents for the properties of a connection type and step."""

from __future__ import annotations

from typing import Any

from airflow_provider_stitch.connectors import rules
from airflow_provider_stitch.connectors.catalog import get_connector
from airflow_provider_stitch.connectors.spec import ConnectorSpec, PropertySpec
from airflow_provider_stitch.connectors.validate import EMPTY_STRING_REJECTED_KINDS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_FLAG = {"anyOf": [{"type": "string", "enum": list(rules.BOOLEAN_STRINGS)}, {"type": "boolean"}]}
_PORT = {
    "anyOf": [
        {"type": "integer", "minimum": rules.PORT_RANGE[0], "maximum": rules.PORT_RANGE[1]},
        {"type": "string", "pattern": r"^\d{1,5}$"},
    ]
}


def property_schema(spec: PropertySpec, connector: ConnectorSpec) -> dict[str, Any]:
    """The JSON Schema of one property (what a user may send; the validator normalises it)."""
    rule = spec.rule
    schema: dict[str, Any]
    if rule == "boolean_flag":
        schema = dict(_FLAG)
    elif rule == "port":
        schema = dict(_PORT)
    elif rule == "frequency_in_minutes":
        allowed = rules.allowed_frequencies(connector.is_database)
        schema = {
            "anyOf": [
                {"type": "string", "enum": [str(v) for v in allowed]},
                {"type": "integer", "enum": list(allowed)},
            ]
        }
    elif rule == "start_date":
        schema = {"type": "string", "pattern": spec.pattern or r"^\d{4}-\d{2}-\d{2}T00:00:00Z$"}
    elif rule in ("anchor_time", "datetime"):
        schema = {"type": "string", "format": "date-time"}
    elif rule == "cron_expression":
        schema = {"type": "string", "pattern": r"^\S+(\s+\S+){5,6}$"}
    elif rule == "json_string":
        schema = {"type": "string", "contentMediaType": "application/json"}
        if spec.json_schema:
            schema["contentSchema"] = spec.json_schema
    elif spec.enum:
        schema = {"type": "string", "enum": list(spec.enum)}
    elif spec.datatype == "object":
        schema = {"type": "object"}
        _add_fields(schema, spec)
    elif spec.datatype == "array":
        schema = {"type": "array"}
        if spec.subproperties:
            item: dict[str, Any] = {"type": "object"}
            _add_fields(item, spec)
            schema["items"] = item
    elif spec.datatype == "integer":
        schema = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\d+$"}]}
    elif spec.datatype == "string/integer":
        schema = {"type": ["string", "integer"]}
    elif spec.datatype == "boolean":
        schema = dict(_FLAG)
    else:
        schema = {"type": "string"}
        if spec.pattern:
            schema["pattern"] = spec.pattern
        if spec.format:
            schema["format"] = spec.format
    if spec.credential:
        schema["writeOnly"] = True
    if spec.is_read_only:
        schema["readOnly"] = True
    if spec.default is not None or spec.create_default is not None:
        schema["default"] = spec.default if spec.default is not None else spec.create_default
    refuses_empty = spec.is_required or connector.kind in EMPTY_STRING_REJECTED_KINDS
    if refuses_empty and not spec.is_read_only and schema.get("type") == "string":
        schema["minLength"] = 1
    return schema


def _add_fields(schema: dict[str, Any], spec: PropertySpec) -> None:
    subs = spec.subproperties or ()
    schema["properties"] = {sub["name"]: {"type": sub["datatype"]} for sub in subs}
    required = [sub["name"] for sub in subs if sub["required"]]
    if required:
        schema["required"] = required
    if subs:
        schema["additionalProperties"] = False


def json_schema(connection_type: str, step: str = "form") -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for the ``properties`` object of a connection type.

    :param connection_type: Stitch ``type`` or its short form.
    :param step: ``form`` or ``oauth``: whose required properties the schema demands. Properties of both steps
        are described, as Stitch accepts them in one request; read-only ones are marked ``readOnly``.
    """
    connector = get_connector(connection_type)
    if step not in ("form", "oauth"):
        raise ValueError(f"step must be 'form' or 'oauth', not {step!r}")
    properties = {spec.name: property_schema(spec, connector) for spec in connector.properties}
    required = [
        spec.name for spec in connector.properties if spec.step == step and spec.is_demanded_on_create
    ]
    conditions = []
    for spec in connector.properties:
        if spec.required_when:
            trigger, expected = spec.required_when["property"], spec.required_when["equals"]
            accepted: list[Any] = [expected, True] if expected == "true" else [expected]
            conditions.append(
                {
                    "if": {"required": [trigger], "properties": {trigger: {"enum": accepted}}},
                    "then": {"required": [spec.name]},
                }
            )
    document: dict[str, Any] = {
        "$schema": DRAFT,
        "title": f"{connector.display_name} ({connector.type}) {step} properties",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if conditions:
        document["allOf"] = conditions
    return document
