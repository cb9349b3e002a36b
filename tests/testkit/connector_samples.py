"""Valid sample values per property spec, used to build minimal valid property objects for every type."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_stitch.connectors import ConnectorSpec, PropertySpec

JSON_SAMPLES = {
    "tables": [{"search_pattern": "a.csv", "table_name": "a", "delimiter": ","}],
    "service_account_json": {
        "type": "service_account",
        "project_id": "p",
        "private_key": "k",
        "client_email": "e@p.iam.gserviceaccount.com",
    },
    "reports": [{"report_url": "https://example.com/r", "report_name": "r"}],
}


def sample_value(spec: PropertySpec) -> Any:
    """A value that satisfies the spec's rule and datatype."""
    rule = spec.rule
    if rule == "start_date":
        return "2018-01-10T00:00:00Z"
    if rule in ("anchor_time", "datetime"):
        return "2018-04-30T17:00:00Z"
    if rule == "frequency_in_minutes":
        return "60"
    if rule == "cron_expression":
        return "0 0 12 ? * MON-FRI *"
    if rule == "boolean_flag":
        return "true"
    if rule == "port":
        return "5432"
    if rule == "json_string":
        return json.dumps(JSON_SAMPLES[spec.name])
    if rule == "enum":
        return spec.enum[0]
    if rule == "format":
        return {"uri": "https://example.com/cb", "email": "a@example.com"}.get(
            spec.format, "2018-01-01T00:00:00Z"
        )
    if rule == "pattern":
        return "stitch-challenge-file-1234"
    if spec.datatype == "object":
        return {sub["name"]: "v" for sub in spec.subproperties or () if sub["required"]} or {"k": "v"}
    if spec.datatype == "array":
        if spec.subproperties:
            return [{sub["name"]: "v" for sub in spec.subproperties if sub["required"]}]
        return ["v"]
    if spec.datatype == "integer":
        return "10"
    if spec.datatype == "boolean":
        return True
    return f"sample-{spec.name}"


def minimal_properties(connector: ConnectorSpec, step: str = "form") -> dict[str, Any]:
    """Only the required properties of a step, each with a valid sample value."""
    return {
        spec.name: sample_value(spec)
        for spec in connector.properties
        if spec.step == step and spec.is_required
    }
