"""Report cards built from the connector catalog: type requirements and a connection's progress."""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache
from typing import Any

from airflow_provider_stitch.connectors import ConnectorSpec, get_connector
from airflow_provider_stitch.connectors.schema import property_schema
from airflow_provider_stitch.emulator.responses import encode_json

PROPERTY_STEPS = ("form", "oauth")
DEFAULT_START_DATE = "-1 year"


def _property_entry(connector: ConnectorSpec, spec: Any, provided: Collection[str]) -> dict[str, Any]:
    return {
        "name": spec.name,
        "is_required": spec.is_required,
        "is_credential": spec.credential,
        "system_provided": spec.property_type == "system_provided_by_default",
        "property_type": spec.property_type,
        "json_schema": None if spec.is_read_only else property_schema(spec, connector),
        "provided": spec.name in provided,
        "tap_mutable": False,
    }


def details(connector: ConnectorSpec, allow_deprecated: bool = True) -> dict[str, Any]:
    """The ``details`` object of a type's report card (``access`` is false for deprecated types unless allowed)."""
    result: dict[str, Any] = {
        "access": allow_deprecated or not connector.deprecated,
        "pricing_tier": "standard",
        "pipeline_state": "deprecated" if connector.deprecated else "released",
        "protocol": connector.type,
    }
    if connector.kind == "source":
        result["default_scheduling_interval"] = connector.default_frequency_in_minutes or 60
        result["default_start_date"] = DEFAULT_START_DATE
    return result


def report_card(
    connector: ConnectorSpec,
    *,
    current_step_type: str | None = None,
    provided: Collection[str] = (),
    with_details: bool = False,
    allow_deprecated: bool = True,
) -> dict[str, Any]:
    """A report card: the type's steps and properties, with progress when ``current_step_type`` is given.

    :param connector: the connection type.
    :param current_step_type: the step the connection is at (the first step for a bare type).
    :param provided: names of the properties that have a value.
    :param with_details: add the type's ``details`` (type listings carry them).
    :param allow_deprecated: accounts may still create deprecated types (sets ``details.access``).
    """
    steps = []
    for step_type in connector.steps:
        properties = []
        if step_type in PROPERTY_STEPS:
            properties = [
                _property_entry(connector, spec, provided)
                for spec in connector.properties
                if spec.step == step_type
            ]
        steps.append({"type": step_type, "properties": properties})
    step_type = current_step_type or connector.steps[0]
    card: dict[str, Any] = {
        "type": connector.type,
        "current_step": connector.steps.index(step_type) + 1 if step_type in connector.steps else 1,
        "current_step_type": step_type,
        "steps": steps,
    }
    if with_details:
        card["details"] = details(connector, allow_deprecated)
    return card


@lru_cache(maxsize=4096)
def _progress_card(connection_type: str, step_type: str, provided: frozenset[str]) -> dict[str, Any]:
    return report_card(get_connector(connection_type), current_step_type=step_type, provided=provided)


@lru_cache(maxsize=4096)
def _encoded_progress_card(connection_type: str, step_type: str, provided: frozenset[str]) -> bytes:
    return encode_json(_progress_card(connection_type, step_type, provided))


def progress_card(connector: ConnectorSpec, step_type: str, provided: Collection[str]) -> dict[str, Any]:
    """The report card of a connection at ``step_type`` with ``provided`` properties, built once per shape.

    Every connection of the same type, step and provided properties shares the returned mapping: read it,
    never change it.

    :param connector: the connection type.
    :param step_type: the step the connection is at.
    :param provided: names of the properties that have a value.
    """
    return _progress_card(connector.type, step_type, frozenset(provided))


def encoded_progress_card(connector: ConnectorSpec, step_type: str, provided: Collection[str]) -> bytes:
    """:func:`progress_card` as JSON bytes, encoded once per shape."""
    return _encoded_progress_card(connector.type, step_type, frozenset(provided))


def missing_required(connector: ConnectorSpec, step: str, properties: dict[str, Any]) -> list[str]:
    """Required properties of ``step`` that have no non-empty value yet."""
    return [
        spec.name
        for spec in connector.properties
        if spec.step == step and spec.is_required and properties.get(spec.name) in (None, "")
    ]
