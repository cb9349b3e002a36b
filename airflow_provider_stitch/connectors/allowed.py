"""In words, the values a property accepts: read from the same constants and catalog facts the rules use."""

from __future__ import annotations

from airflow_provider_stitch.connectors import rules
from airflow_provider_stitch.connectors.spec import ConnectorSpec, PropertySpec


def allowed_values(spec: PropertySpec, connector: ConnectorSpec) -> str | None:
    """A short statement of what ``spec`` accepts, or ``None`` when any value of its datatype will do.

    :param spec: the property.
    :param connector: its connection type (database sources accept a frequency of 1).
    """
    rule = spec.rule
    if rule == "frequency_in_minutes":
        return "one of " + ", ".join(str(v) for v in rules.allowed_frequencies(connector.is_database))
    if rule == "boolean_flag" or (rule is None and spec.datatype == "boolean"):
        return '"true" or "false" (or a JSON boolean)'
    if rule == "port":
        return f"a port number from {rules.PORT_RANGE[0]} to {rules.PORT_RANGE[1]}"
    if rule == "start_date":
        return "an ISO 8601 date-time at midnight UTC, YYYY-MM-DDT00:00:00Z"
    if rule == "anchor_time":
        return "an ISO 8601 date-time; stored in UTC"
    if rule == "datetime":
        return "an ISO 8601 date-time"
    if rule == "cron_expression":
        return "a Quartz cron expression, 6 or 7 fields, one day field '?'"
    if rule == "json_string":
        return "JSON carried in a string" + (f" ({spec.json_schema['type']})" if spec.json_schema else "")
    if spec.enum:
        return "one of " + ", ".join(spec.enum)
    if rule == "pattern" and spec.pattern:
        return f"text matching {spec.pattern}"
    if rule == "format" and spec.format:
        return f"a string in {spec.format} format"
    if spec.subproperties:
        fields = ", ".join(sub["name"] + ("" if sub["required"] else "?") for sub in spec.subproperties)
        return ("a list of objects" if spec.datatype == "array" else "an object") + f" with {fields}"
    return None
