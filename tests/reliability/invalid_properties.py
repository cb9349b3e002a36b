"""A seeded generator of invalid connection property objects for every connector in the catalog.

Each case starts from a valid object (required properties with sample values, credentials holding canary
strings) and breaks exactly one property in one known way, so the validator's error must name that property.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from airflow_provider_stitch.connectors import (
    ConnectorSpec,
    PropertySpec,
    list_connectors,
    validate_properties,
)
from tests.testkit import connector_samples

#: Prefix of every canary credential value; a leak check searches for it.
CANARY_PREFIX = "CANARY-cred-"

#: A value that breaks each shared rule (none of them is a credential's shape).
RULE_BREAKERS: dict[str, Any] = {
    "start_date": "the tenth of January",
    "anchor_time": "tomorrow at noon",
    "frequency_in_minutes": "7",
    "cron_expression": "every day at noon",
    "boolean_flag": "maybe",
    "port": "70000",
    "enum": "definitely-not-an-option",
    "format": "not a uri or email",
    "json_string": "{broken json",
    "datetime": "sometime soon",
    "pattern": "!!! not matching !!!",
}


@dataclass(frozen=True)
class InvalidCase:
    """One invalid property object.

    :param connection_type: the connector's Stitch type.
    :param kind: ``source`` or ``destination``.
    :param mutation: what was broken (``missing_required``, ``wrong_type``, ``too_deep``, ...).
    :param bad_property: the property the error must name.
    :param properties: the invalid object.
    :param canaries: credential values placed in the object (none may appear in the error).
    """

    connection_type: str
    kind: str
    mutation: str
    bad_property: str
    properties: dict[str, Any]
    canaries: tuple[str, ...]


def canary_for(connector: ConnectorSpec, spec: PropertySpec) -> str:
    """A recognisable fake credential value, unique per connector and property."""
    return f"{CANARY_PREFIX}{connector.type}-{spec.name}"


def valid_base(connector: ConnectorSpec, samples: ModuleType) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Required form properties with sample values; free-text credentials hold canaries."""
    properties = samples.minimal_properties(connector)
    canaries: list[str] = []
    for spec in connector.properties:
        if not spec.credential or spec.rule is not None or spec.datatype != "string":
            continue
        if spec.step == "form" and (spec.is_required or spec.requirement == "optional"):
            properties[spec.name] = canary_for(connector, spec)
            canaries.append(properties[spec.name])
    validate_properties(connector.type, properties)
    return properties, tuple(canaries)


def _misspelled(name: str, known: set[str], rng: random.Random) -> str:
    """A name one edit away from ``name`` that the connector does not know."""
    while True:
        position = rng.randrange(len(name) + 1)
        letter = rng.choice(string.ascii_lowercase)
        candidate = name[:position] + letter + name[position:]
        if candidate not in known:
            return candidate


def _wrong_type_value(spec: PropertySpec, canary: str | None, rng: random.Random) -> Any:
    """A value of a type the property's datatype refuses (credentials keep their canary inside)."""
    payload = canary or "value"
    if spec.datatype in ("string", "string/integer"):
        # Rules such as ``port`` accept integers on purpose, so a number is wrong only for free text.
        number = 3.5 if spec.datatype == "string/integer" or spec.rule is not None else 12345
        return rng.choice([[payload], {"value": payload}, number])
    if spec.datatype == "integer":
        return rng.choice([f"{payload}-not-digits", [1, 2], {"n": 1}])
    if spec.datatype == "boolean":
        return rng.choice(["perhaps", [True], {"on": True}])
    if spec.datatype == "object":
        return rng.choice([payload, [payload], 42])
    return rng.choice([payload, {"item": payload}, 42])


def _checked_by_type(spec: PropertySpec) -> bool:
    """True when a wrong-typed value of this property must be refused."""
    return not spec.is_read_only and not (spec.requirement == "internal" and spec.rule is None)


def cases_for(connector: ConnectorSpec, samples: ModuleType, rng: random.Random) -> Iterator[InvalidCase]:
    """Every applicable mutation of one connector's valid base object."""
    base, canaries = valid_base(connector, samples)
    known = set(connector.property_names())
    form_required = [s for s in connector.properties if s.step == "form" and s.is_demanded_on_create]

    def case(mutation: str, bad: str, properties: dict[str, Any], extra: str | None = None) -> InvalidCase:
        planted = canaries if extra is None or extra in canaries else (*canaries, extra)
        return InvalidCase(connector.type, connector.kind, mutation, bad, properties, planted)

    for spec in rng.sample(form_required, min(2, len(form_required))):
        without = {k: v for k, v in base.items() if k != spec.name}
        yield case("missing_required", spec.name, without)
        yield case("empty_required", spec.name, {**base, spec.name: ""})

    typo_of = rng.choice(sorted(known) or ["display_name"])
    typo = _misspelled(typo_of, known, rng)
    yield case("unknown_property", typo, {**base, typo: "x"})

    typed = [s for s in connector.properties if _checked_by_type(s)]
    for spec in rng.sample(typed, min(3, len(typed))):
        canary = canary_for(connector, spec) if spec.credential else None
        value = _wrong_type_value(spec, canary, rng)
        yield case("wrong_type", spec.name, {**base, spec.name: value}, canary)

    ruled = [s for s in connector.properties if s.rule in RULE_BREAKERS and not s.is_read_only]
    for spec in rng.sample(ruled, min(3, len(ruled))):
        yield case("rule_violation", spec.name, {**base, spec.name: RULE_BREAKERS[str(spec.rule)]})

    optional = [s for s in connector.properties if s.requirement == "optional" and s.step == "form"]
    if connector.kind == "source" and optional:
        # The sources' error docs name an empty string among the causes of InvalidProperties.
        spec = rng.choice(optional)
        yield case("empty_optional", spec.name, {**base, spec.name: ""})

    if typed:
        spec = rng.choice(typed)
        deep: Any = "leaf"
        for _ in range(rng.randrange(2_000, 20_000)):
            deep = [deep] if rng.random() < 0.5 else {"k": deep}
        yield case("too_deep", spec.name, {**base, spec.name: deep})

    read_only = [s for s in connector.properties if s.is_read_only]
    if read_only:
        spec = rng.choice(read_only)
        yield case("read_only", spec.name, {**base, spec.name: "set-by-user"})

    credentials = [s for s in connector.properties if s.credential and not s.is_read_only]
    if credentials:
        spec = rng.choice(credentials)
        canary = canary_for(connector, spec)
        yield case("credential_wrong_type", spec.name, {**base, spec.name: {"secret": canary}}, canary)


def generate_invalid_cases(seed: int = 20240601) -> list[InvalidCase]:
    """Invalid property objects for every connector, reproducibly ordered for one ``seed``."""
    samples = connector_samples
    rng = random.Random(seed)
    cases: list[InvalidCase] = []
    for connector in sorted(list_connectors(), key=lambda c: c.type):
        cases.extend(cases_for(connector, samples, rng))
    return cases
