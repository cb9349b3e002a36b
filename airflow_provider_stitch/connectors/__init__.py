"""Connector catalog and property validators: no Airflow imports.

Importing this package does not read ``catalog.json``; the first lookup loads it once per process.

Public API::

    validate_properties(connection_type, properties, *, step="form", partial=False, allow_unknown=False)
    get_connector(connection_type) -> ConnectorSpec
    list_connectors(kind=None) -> list[ConnectorSpec]
    json_schema(connection_type, step="form") -> dict
    credential_properties(connection_type) -> frozenset[str]
    normalise_type(connection_type) -> str
"""

from __future__ import annotations

from airflow_provider_stitch.connectors.catalog import (
    credential_properties,
    get_connector,
    list_connectors,
    normalise_type,
    summary_table_types,
)
from airflow_provider_stitch.connectors.errors import (
    PropertiesValidationError,
    PropertyError,
    UnknownConnectionTypeError,
)
from airflow_provider_stitch.connectors.rules import PropertyNormalisationWarning
from airflow_provider_stitch.connectors.schema import json_schema
from airflow_provider_stitch.connectors.spec import ConnectorSpec, PropertySpec
from airflow_provider_stitch.connectors.validate import validate_properties

__all__ = [
    "ConnectorSpec",
    "PropertiesValidationError",
    "PropertyError",
    "PropertyNormalisationWarning",
    "PropertySpec",
    "UnknownConnectionTypeError",
    "credential_properties",
    "get_connector",
    "json_schema",
    "list_connectors",
    "normalise_type",
    "summary_table_types",
    "validate_properties",
]
