"""Lazy, cached access to ``catalog.json`` and connection-type name lookup."""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any

from airflow_provider_stitch.connectors.errors import UnknownConnectionTypeError
from airflow_provider_stitch.connectors.spec import ConnectorSpec

CATALOG_PATH = Path(__file__).with_name("catalog.json")
PLATFORM_PREFIX = "platform."
KINDS = ("source", "destination")
_SPECS: dict[str, ConnectorSpec] = {}


@cache
def load_catalog_document() -> dict[str, Any]:
    """Read and parse ``catalog.json`` once per process."""
    document: dict[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return document


def _entries() -> dict[str, Any]:
    entries: dict[str, Any] = load_catalog_document()["connectors"]
    return entries


def _spec(connection_type: str) -> ConnectorSpec:
    """Build (once) the spec of a type known to be in the catalog."""
    spec = _SPECS.get(connection_type)
    if spec is None:
        spec = _SPECS[connection_type] = ConnectorSpec.from_catalog(_entries()[connection_type])
    return spec


def summary_table_types() -> list[str]:
    """The connection types listed in the docs text's summary table, in table order."""
    return list(load_catalog_document()["summary_table_types"])


def normalise_type(connection_type: str) -> str:
    """Return the catalog spelling of a type; accepts the short form without ``platform.``.

    :param connection_type: e.g. ``platform.hubspot``, ``hubspot`` or ``redshift``. An exact name wins, so
        ``postgres`` is the PostgreSQL destination and ``platform.postgres`` the source.

    :raises UnknownConnectionTypeError: no such type; the message names the closest known types.
    """
    entries = _entries()
    name = connection_type.strip() if isinstance(connection_type, str) else str(connection_type)
    if name in entries:
        return name
    if PLATFORM_PREFIX + name in entries:
        return PLATFORM_PREFIX + name
    short_names = [t[len(PLATFORM_PREFIX) :] for t in entries if t.startswith(PLATFORM_PREFIX)]
    suggestions: list[str] = []
    for match in difflib.get_close_matches(name, list(entries) + short_names, n=3, cutoff=0.6):
        full = match if match in entries else PLATFORM_PREFIX + match
        if full not in suggestions:
            suggestions.append(full)
    raise UnknownConnectionTypeError(name, suggestions)


def get_connector(connection_type: str) -> ConnectorSpec:
    """The :class:`ConnectorSpec` of a connection type.

    :param connection_type: Stitch ``type`` (``platform.postgres``) or its short form (``hubspot``).

    :raises UnknownConnectionTypeError: the type is not in the catalog; the message names the closest types.
    """
    return _spec(normalise_type(connection_type))


def list_connectors(kind: str | None = None) -> list[ConnectorSpec]:
    """Every connection type in the catalog, sorted by type, optionally only sources or destinations.

    :param kind: ``"source"``, ``"destination"`` or ``None`` for both.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be 'source' or 'destination', not {kind!r}")
    specs = [_spec(name) for name in _entries()]
    return [spec for spec in specs if kind is None or spec.kind == kind]


def credential_properties(connection_type: str) -> frozenset[str]:
    """Names of the properties whose values must be masked (Stitch never returns them).

    :param connection_type: Stitch ``type`` or its short form.
    """
    return _credential_names(normalise_type(connection_type))


@cache
def _credential_names(connection_type: str) -> frozenset[str]:
    return frozenset(p.name for p in _spec(connection_type).properties if p.credential)
