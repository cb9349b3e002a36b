"""Lazy, cached access to ``catalog.json`` and connection-type name lookup."""

from __future__ import annotations

import difflib
import json
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from airflow_provider_stitch.connectors.errors import UnknownConnectionTypeError
from airflow_provider_stitch.connectors.spec import ConnectorSpec

CATALOG_RESOURCE = "catalog.json"
PLATFORM_PREFIX = "platform."
KINDS = ("source", "destination")


@lru_cache(maxsize=1)
def load_catalog_document() -> dict[str, Any]:
    """Read and parse ``catalog.json`` once per process."""
    text = resources.files("airflow_provider_stitch.connectors").joinpath(CATALOG_RESOURCE).read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _specs() -> dict[str, ConnectorSpec]:
    return {
        name: ConnectorSpec.from_catalog(entry)
        for name, entry in load_catalog_document()["connectors"].items()
    }


def summary_table_types() -> list[str]:
    """The connection types listed in the docs text's summary table, in table order."""
    return list(load_catalog_document()["summary_table_types"])


def normalise_type(connection_type: str) -> str:
    """Return the catalog spelling of a type; accepts the short form without ``platform.``.

    Args:
        connection_type: e.g. ``platform.hubspot``, ``hubspot`` or ``redshift``.
    """
    specs = _specs()
    name = connection_type.strip() if isinstance(connection_type, str) else connection_type
    if name in specs:
        return name
    if isinstance(name, str) and PLATFORM_PREFIX + name in specs:
        return PLATFORM_PREFIX + name
    candidates = list(specs) + [t[len(PLATFORM_PREFIX) :] for t in specs if t.startswith(PLATFORM_PREFIX)]
    close = difflib.get_close_matches(str(name), candidates, n=3, cutoff=0.6)
    suggestions: list[str] = []
    for match in close:
        full = match if match in specs else PLATFORM_PREFIX + match
        if full not in suggestions:
            suggestions.append(full)
    raise UnknownConnectionTypeError(str(connection_type), suggestions)


def get_connector(connection_type: str) -> ConnectorSpec:
    """The :class:`ConnectorSpec` of a connection type.

    Args:
        connection_type: Stitch ``type`` (``platform.postgres``) or its short form (``postgres`` resolves to
            the destination ``postgres`` first, since that is its exact name).

    Raises:
        UnknownConnectionTypeError: the type is not in the catalog; the message names the closest types.
    """
    return _specs()[normalise_type(connection_type)]


def list_connectors(kind: str | None = None) -> list[ConnectorSpec]:
    """Every connection type in the catalog, sorted by type, optionally only sources or destinations.

    Args:
        kind: ``"source"``, ``"destination"`` or ``None`` for both.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be 'source' or 'destination', not {kind!r}")
    return [spec for spec in _specs().values() if kind is None or spec.kind == kind]


def credential_properties(connection_type: str) -> frozenset[str]:
    """Names of the properties whose values must be masked (Stitch never returns them).

    Args:
        connection_type: Stitch ``type`` or its short form.
    """
    return _credential_names(normalise_type(connection_type))


@cache
def _credential_names(connection_type: str) -> frozenset[str]:
    return frozenset(p.name for p in _specs()[connection_type].properties if p.credential)
