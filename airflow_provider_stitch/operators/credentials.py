"""Credential values of connection properties: which they are, masking them, and scrubbing them from text.

The connector catalog marks which properties are credentials. Airflow masks values only by a short list
of key names (``password``, ``token``...), which misses most of them (``ssl_key``, ``jwt``,
``consumer_key``...), so the operators register every credential value with Airflow's masker themselves,
right after rendering and before Airflow stores the rendered fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any

#: What a scrubbed credential reads as, the same as Airflow's masker writes.
MASK = "***"


@cache
def _names_of_kind(kind: str) -> frozenset[str]:
    """Every property name that is a credential in some connection type of ``kind``."""
    from airflow_provider_stitch.connectors import list_connectors

    return frozenset(p.name for spec in list_connectors(kind) for p in spec.properties if p.credential)


def credential_names(connection_type: str | None, kind: str) -> frozenset[str]:
    """The credential property names of a type; of every type of ``kind`` when the type is not known.

    Update operators do not know the type before their first request, so at render time they mask every
    name that is a credential anywhere in the catalog (masking a value too many is harmless).

    :param connection_type: Stitch type (short forms accepted), or None when not known yet.
    :param kind: ``source`` or ``destination``.
    """
    from airflow_provider_stitch.connectors import UnknownConnectionTypeError, credential_properties

    if isinstance(connection_type, str) and connection_type:
        try:
            return credential_properties(connection_type)
        except UnknownConnectionTypeError:
            pass
    return _names_of_kind(kind)


def _texts(value: Any) -> Iterator[str]:
    """The strings under which a credential value can show up in logs, JSON or error texts."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (Mapping, list, tuple)):
        items = value.values() if isinstance(value, Mapping) else value
        for item in items:
            yield from _texts(item)
        yield json.dumps(value, default=str)
        return
    text = value if isinstance(value, str) else str(value)
    if not text:
        return
    yield text
    escaped = json.dumps(text)[1:-1]
    if escaped != text:
        yield escaped


def credential_values(properties: Any, names: Iterable[str]) -> list[str]:
    """The texts of the credential properties in ``properties``, longest first.

    :param properties: a rendered property map (anything else yields nothing).
    :param names: the credential property names.
    """
    if not isinstance(properties, Mapping):
        return []
    from airflow_provider_stitch.connectors.bounds import shape_problem

    wanted = set(names)
    # A value too deep or too long to write is refused by the validator without being shown; skip it here.
    readable = {
        name: value for name, value in properties.items() if name in wanted and not shape_problem(value)
    }
    found = {text for value in readable.values() for text in _texts(value)}
    return sorted(found, key=len, reverse=True)


def register_with_masker(secrets: Iterable[str]) -> None:
    """Register values with Airflow's secrets masker (logs, rendered fields, the UI).

    :param secrets: the values; each is registered without a key name, so Airflow masks it whatever
        the property is called.
    """
    from airflow.providers.common.compat.sdk import mask_secret

    for secret in secrets:
        mask_secret(secret)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known credential value replaced by ``***``.

    :param text: e.g. an error message from Stitch that quotes a database password.
    :param secrets: the values to hide, longest first (see :func:`credential_values`).
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
