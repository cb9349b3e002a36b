"""Typed views of catalog entries: :class:`ConnectorSpec` and :class:`PropertySpec`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PropertySpec:
    """What the catalog knows about one connection property.

    :param name: property name as Stitch spells it.
    :param datatype: documented datatype (``string``, ``integer``, ``boolean``, ``object``, ``array``,
        ``string/integer``).
    :param requirement: ``required``, ``optional``, ``internal`` or ``read_only``.
    :param credential: Stitch never returns the value; always masked.
    :param step: connection step the property completes (``form`` or ``oauth``).
    :param property_type: report-card ``property_type`` (``user_provided``, ``system_provided_by_default``, ...).
    :param rule: shared rule from :mod:`~airflow_provider_stitch.connectors.rules` that checks the value.
    :param pattern: documented pattern the value must match.
    :param enum: documented accepted values.
    :param format: documented JSON-schema format (``uri``, ``email``, ``date-time``).
    :param json_in_string: the value is JSON carried in a string.
    :param json_schema: documented shape of that JSON.
    :param required_when: ``{"property": ..., "equals": ...}`` when the requirement is conditional.
    :param default: documented default, if any.
    :param create_default: the value Stitch stores when a create leaves this required property out; such a
        property may be left out of a create.
    :param subproperties: fields of an object (or of each array item) as ``{"name", "datatype", "required"}``.
    """

    name: str
    datatype: str
    requirement: str
    credential: bool
    step: str
    property_type: str
    rule: str | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    format: str | None = None
    json_in_string: bool = False
    json_schema: dict[str, Any] | None = None
    required_when: dict[str, str] | None = None
    default: str | None = None
    create_default: str | None = None
    subproperties: tuple[dict[str, Any], ...] | None = None

    @property
    def is_required(self) -> bool:
        """True when the property must be supplied to complete its step."""
        return self.requirement == "required"

    @property
    def is_demanded_on_create(self) -> bool:
        """True when a create must supply the property (required, and Stitch fills in no value of its own)."""
        return self.is_required and self.create_default is None

    @property
    def is_read_only(self) -> bool:
        """True when Stitch sets the property and the user may not."""
        return self.requirement == "read_only"

    @classmethod
    def from_catalog(cls, entry: dict[str, Any]) -> PropertySpec:
        """Build from one property entry of ``catalog.json``."""
        enum = entry.get("enum")
        subs = entry.get("subproperties")
        return cls(
            name=entry["name"],
            datatype=entry["datatype"],
            requirement=entry["requirement"],
            credential=bool(entry["credential"]),
            step=entry["step"],
            property_type=entry["property_type"],
            rule=entry.get("rule"),
            pattern=entry.get("pattern"),
            enum=tuple(enum) if enum else None,
            format=entry.get("format"),
            json_in_string=bool(entry.get("json_in_string")),
            json_schema=entry.get("json_schema"),
            required_when=entry.get("required_when"),
            default=entry.get("default"),
            create_default=entry.get("create_default"),
            subproperties=tuple(subs) if subs else None,
        )


@dataclass(frozen=True)
class ConnectorSpec:
    """What the catalog knows about one source or destination type.

    :param type: the ``type`` Stitch uses in the API (``platform.postgres``, ``redshift``, ``import_api``).
    :param display_name: human name from the summary table (or stitch-docs).
    :param kind: ``source`` or ``destination``.
    :param is_database: a database source (``frequency_in_minutes`` may be 1).
    :param steps: connection step types in order, as Stitch's report cards list them.
    :param properties: every documented property, form step first.
    :param deprecated: Stitch deprecated the type.
    :param replacement: the type to use instead, when documented.
    :param default_frequency_in_minutes: the report card's default scheduling interval, if known.
    :param in_summary_table: listed in the docs text's summary table.
    :param notes: recorded disagreements between the reference sources.
    :param examples: the docs text's example objects per step (``form``, ``oauth``).
    """

    type: str
    display_name: str
    kind: str
    is_database: bool
    steps: list[str]
    properties: list[PropertySpec]
    deprecated: bool = False
    replacement: str | None = None
    default_frequency_in_minutes: int | None = None
    in_summary_table: bool = False
    notes: list[str] = field(default_factory=list)
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    _by_name: dict[str, PropertySpec] = field(default_factory=dict, repr=False, compare=False)

    def property(self, name: str) -> PropertySpec | None:
        """The property called ``name`` (any step), or ``None`` when the type has no such property."""
        return self._by_name.get(name)

    def property_names(self, step: str | None = None) -> list[str]:
        """Names of the properties, optionally only those of one step."""
        return [p.name for p in self.properties if step is None or p.step == step]

    @classmethod
    def from_catalog(cls, entry: dict[str, Any]) -> ConnectorSpec:
        """Build from one connector entry of ``catalog.json``."""
        properties = [PropertySpec.from_catalog(p) for p in entry["properties"]]
        by_name: dict[str, PropertySpec] = {}
        for spec in properties:
            by_name.setdefault(spec.name, spec)
        return cls(
            type=entry["type"],
            display_name=entry["display_name"],
            kind=entry["kind"],
            is_database=bool(entry["is_database"]),
            steps=list(entry["steps"]),
            properties=properties,
            deprecated=bool(entry["deprecated"]),
            replacement=entry.get("replacement"),
            default_frequency_in_minutes=entry.get("default_frequency_in_minutes"),
            in_summary_table=bool(entry.get("in_summary_table")),
            notes=list(entry.get("notes") or []),
            examples=dict(entry.get("examples") or {}),
            _by_name=by_name,
        )
