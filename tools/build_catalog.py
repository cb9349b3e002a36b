"""Build ``airflow_provider_stitch/connectors/catalog.json`` from the shared Stitch reference.

Usage: ``python tools/build_catalog.py [REFERENCE_DIR] [--output PATH]``. The reference directory defaults
to ``$STITCH_REFERENCE_DIR`` or ``<repo>/../shared/reference``. The output is deterministic: running the
builder twice on the same reference gives byte-identical files.

Sources, in order of authority:
1. the Connect API docs text (``stitch-connect-api-docs.txt``): the summary table of connection types and the
   detailed sections (datatype and REQUIRED / OPTIONAL / INTERNAL / READ-ONLY marks, example objects);
2. stitch-docs form-property files and common fields: every type, and values the text lost in flattening
   (accepted values, credential flags, sub-object fields, deprecation);
3. the source-type / destination-type report cards in stitch-docs: steps, ``property_type``, credential
   flags and JSON-schema patterns.
Disagreements are recorded in each connector's ``notes``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "airflow_provider_stitch" / "connectors" / "catalog.json"
CATALOG_FORMAT = 1

TEXT_FILE = "stitch-connect-api-docs.txt"
FORM_DIR = "stitch-docs/_developer-files/connect/api/objects/form-properties"
COMMON_DIR = "stitch-docs/_data/connect/common"
SOURCE_TYPES_FILE = "stitch-docs/_developer-files/connect/api/objects/source-types/list-source-types.md"
CREATE_DESTINATION_FILE = (
    "stitch-docs/_developer-files/connect/api/objects/destinations/v4/create-a-destination-v4.md"
)
DESTINATION_TYPES_FILE = (
    "stitch-docs/_developer-files/connect/api/objects/destination-types/list-destination-types.md"
)

SCHEDULING_FIELDS = ("anchor_time", "cron_expression", "frequency_in_minutes")
PORT_NAMES = frozenset({"port", "ssh_port", "encryption_port", "api_port"})
# Shared rules (implemented in connectors/rules.py) assigned by property name.
RULE_BY_NAME = {
    "start_date": "start_date",
    "anchor_time": "anchor_time",
    "frequency_in_minutes": "frequency_in_minutes",
    "cron_expression": "cron_expression",
}
# Conditional requirements documented in the common database and destination fields.
REQUIRED_WHEN = {
    "ssh_host": {"property": "ssh", "equals": "true"},
    "ssh_port": {"property": "ssh", "equals": "true"},
    "ssh_user": {"property": "ssh", "equals": "true"},
    "encryption_host": {"property": "encryption_type", "equals": "ssh"},
    "encryption_port": {"property": "encryption_type", "equals": "ssh"},
    "encryption_username": {"property": "encryption_type", "equals": "ssh"},
}
# Properties whose value is JSON carried in a string, with the shape stitch-docs describes for it.
JSON_IN_STRING = {
    "tables": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["search_pattern", "table_name"],
            "properties": {
                "search_pattern": {"type": "string"},
                "search_prefix": {"type": "string"},
                "table_name": {"type": "string"},
                "key_properties": {"type": "string"},
                "date_overrides": {"type": "string"},
                "delimiter": {"type": "string", "enum": [",", "|", "\\t", "\t"]},
            },
        },
    },
    "service_account_json": {
        "type": "object",
        "required": ["type", "project_id", "private_key", "client_email"],
        "properties": {},
    },
    "reports": {
        "type": "array",
        "items": {"type": "object", "required": ["report_url"], "properties": {}},
    },
}
# Placeholder wording in stitch-docs values that stands for a documented default port per database type;
# the defaults come from the example objects in the docs text (MySQL 3306, PostgreSQL 5432, Redshift 5439).
PORT_DEFAULT_BY_DB_TYPE = {"mysql": "3306", "postgres": "5432", "redshift": "5439"}
BOOLEAN_WORDS = ("true", "false")
ENUM_INTRO = re.compile(r"(Accepted|Valid|Possible) values are:", re.I)
ENUM_ITEM = re.compile(r"^- `([^`']+)[`']")


# --------------------------------------------------------------------------------------------------
# Docs text
# --------------------------------------------------------------------------------------------------
TABLE_ROW = re.compile(r"^(.+?) \| (Source|Destination) \| ([a-z0-9_.\-]+) \|$")
SECTION_HEAD = re.compile(r"^The (.+) (source|destination) connection property object$")
TYPE_LINE = re.compile(r"correspond to (?:source|destination) type: (\S+)$")
PROP_FLAGS = re.compile(
    r"^(STRING|INTEGER|BOOLEAN|OBJECT|ARRAY|STRING/INTEGER) (REQUIRED|OPTIONAL|INTERNAL|READ-ONLY) \|$"
)
EXAMPLE_HEAD = re.compile(r"^Example .* connection property object with (form|OAuth) properties$")
OAUTH_HEAD = re.compile(r"^.+ (source|destination) OAuth properties$")


def parse_summary_table(lines: list[str]) -> list[dict[str, str]]:
    """Return the summary table rows: display name, kind and connection type."""
    rows = []
    for line in lines:
        match = TABLE_ROW.match(line)
        if match and match.group(1) != "Connection property name":
            rows.append(
                {"display_name": match.group(1), "kind": match.group(2).lower(), "type": match.group(3)}
            )
    return rows


def repair_example(raw: str) -> str:
    """Escape a JSON object that the text prints unescaped inside a string value (GA360's key file)."""

    def encode(match: re.Match[str]) -> str:
        inner = json.loads(match.group(2))
        return f'"{match.group(1)}":{json.dumps(json.dumps(inner, separators=(",", ":")))}'

    return re.sub(r'"(\w+)":"(\{\n.*?\n\})"', encode, raw, flags=re.S)


def parse_example(raw: str) -> dict[str, Any]:
    """Parse one example object from the text; the Import API example has no braces and no properties."""
    if not raw.lstrip().startswith("{"):
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return json.loads(repair_example(raw))


def parse_text_sections(lines: list[str]) -> dict[str, dict[str, Any]]:
    """Return per connection type the properties, steps and examples of its detailed section."""
    sections: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    step = "form"
    i = 0
    while i < len(lines):
        line = lines[i]
        head = SECTION_HEAD.match(line)
        if head:
            current = {"display_name": head.group(1), "kind": head.group(2), "properties": {}, "examples": {}}
            step = "form"
            for look in lines[i + 1 : i + 4]:
                type_match = TYPE_LINE.search(look)
                if type_match:
                    sections[type_match.group(1)] = current
                    break
            i += 1
            continue
        if current is None:
            i += 1
            continue
        if OAUTH_HEAD.match(line):
            step = "oauth"
        flags = PROP_FLAGS.match(line)
        if flags:
            name = lines[i - 1].strip()
            description = lines[i + 1] if i + 1 < len(lines) else ""
            current["properties"][(step, name)] = {
                "datatype": flags.group(1).lower(),
                "mark": flags.group(2).lower().replace("-", "_"),
                "description": description,
            }
        example = EXAMPLE_HEAD.match(line)
        if example:
            example_step = "form" if example.group(1) == "form" else "oauth"
            raw_lines = []
            depth = 0
            j = i + 1
            while j < len(lines):
                raw_lines.append(lines[j])
                depth += lines[j].count("{") - lines[j].count("}")
                j += 1
                if depth <= 0:
                    break
            current["examples"][example_step] = parse_example("\n".join(raw_lines))
            i = j
            continue
        i += 1
    return sections


# --------------------------------------------------------------------------------------------------
# stitch-docs
# --------------------------------------------------------------------------------------------------
FRONT_MATTER = re.compile(r"^---\n(.*?)\n---", re.S)


def load_front_matter(path: Path) -> dict[str, Any]:
    """Return the YAML front matter of a stitch-docs Markdown file."""
    match = FRONT_MATTER.match(path.read_text(encoding="utf-8"))
    if not match:
        return {}
    # Some files carry trailing tabs, which YAML rejects outside quoted text.
    cleaned = "\n".join(line.rstrip() for line in match.group(1).splitlines())
    return yaml.safe_load(cleaned)


def resolve_name(raw: str, api_type: str) -> str:
    """Resolve the one Liquid condition stitch-docs uses in a property name (``dbname`` for HP MySQL)."""
    raw = raw.strip()
    if "{%" not in raw:
        return raw
    match = re.match(
        r'\{% if form-property.api-type == "([^"]+)" %\}(\w+)\{% else %\}(\w+)\{% endif %\}', raw
    )
    if not match:
        raise ValueError(f"unexpected templated property name: {raw!r}")
    return match.group(2) if api_type == match.group(1) else match.group(3)


def load_form_files(reference: Path) -> dict[str, dict[str, Any]]:
    """Return every stitch-docs form-property file keyed by its API type."""
    forms = {}
    for path in sorted((reference / FORM_DIR).rglob("*.md")):
        data = load_front_matter(path)
        data["_file"] = path.relative_to(reference / FORM_DIR).as_posix()
        forms[data["api-type"]] = data
    return forms


def load_report_cards(reference: Path) -> dict[str, dict[str, Any]]:
    """Return the report cards of the source-type and destination-type listings keyed by type."""
    cards = {}
    for relative in (SOURCE_TYPES_FILE, DESTINATION_TYPES_FILE):
        data = load_front_matter(reference / relative)
        for example in data.get("examples", []):
            if example.get("type") != "Response":
                continue
            for card in json.loads(example["code"]):
                if "steps" in card:
                    cards[card["type"]] = card
    return cards


def enum_from_description(description: str) -> list[str] | None:
    """Return the top-level list of accepted values a stitch-docs description spells out, if any."""
    if not description or not ENUM_INTRO.search(description):
        return None
    values: list[str] = []
    started = False
    for line in description.splitlines():
        if ENUM_INTRO.search(line):
            started = True
            values = []
            continue
        if not started:
            continue
        item = ENUM_ITEM.match(line)
        if item:
            if "{{" in item.group(1):
                # A Liquid loop over data that is not part of the reference: no usable list.
                return None
            values.append(item.group(1).strip())
        elif line.strip() and values:
            break
    return values or None


def docs_attribute(attribute: dict[str, Any], api_type: str, step: str, origin: str) -> dict[str, Any]:
    """Normalise one stitch-docs attribute to the builder's intermediate form."""
    name = resolve_name(str(attribute["name"]), api_type)
    datatype = str(attribute.get("type", "string")).lower()
    if attribute.get("read-only") is True:
        mark = "read_only"
    elif attribute.get("internal") is True:
        mark = "internal"
    else:
        mark = "required" if attribute.get("required") is True else "optional"
    credential = attribute.get("credential")
    description = str(attribute.get("description") or "")
    value = attribute.get("value")
    return {
        "name": name,
        "datatype": datatype,
        "mark": mark,
        "step": step,
        "credential": bool(credential) if credential is not None else None,
        "description": description,
        "value": value.strip() if isinstance(value, str) else value,
        "subattributes": attribute.get("subattributes") or [],
        "origin": origin,
    }


def common_database_fields(common: dict[str, Any], form: dict[str, Any]) -> list[dict[str, Any]]:
    """Compose the common database fields stitch-docs adds to a database source."""
    api_type = form["api-type"]
    db_type = form.get("db-type", "")
    fields: list[dict[str, Any]] = list(common["all-databases"])
    if db_type in ("mysql", "postgres", "mssql"):
        fields += common[db_type]
    if form.get("uses-feature-fields"):
        for field in common["binlog-replication"]:
            if db_type in [part.strip() for part in field["database"].split(",")]:
                fields.append(field)
        fields += common["ssl"] + common["ssh"]
    return [docs_attribute(field, api_type, "form", "stitch-docs common database fields") for field in fields]


def docs_properties(
    form: dict[str, Any], all_sources: dict[str, Any], databases: dict[str, Any], destinations: dict[str, Any]
) -> list[dict[str, Any]]:
    """Compose the full property list stitch-docs documents for one connection type."""
    api_type = form["api-type"]
    is_source = form.get("form-type") == "source"
    composed: dict[tuple[str, str], dict[str, Any]] = {}

    def add(items: list[dict[str, Any]]) -> None:
        for item in items:
            composed[(item["step"], item["name"])] = item

    if is_source and form.get("source-type") != "import-api":
        add(
            [
                docs_attribute(f, api_type, "form", "stitch-docs common source fields")
                for f in all_sources["fields"]
            ]
        )
        if form.get("uses-start-date", form.get("source-type") == "saas"):
            add(
                [
                    docs_attribute(f, api_type, "form", "stitch-docs common source fields")
                    for f in all_sources["start-date"]
                ]
            )
        if form.get("source-type") == "database" and form.get("uses-common-fields"):
            add(common_database_fields(databases, form))
    if not is_source and form.get("uses-common-fields"):
        add(
            [
                docs_attribute(f, api_type, "form", "stitch-docs common destination fields")
                for f in destinations["all-destinations"]
            ]
        )
        if form.get("uses-ssh-fields", True):
            add(
                [
                    docs_attribute(f, api_type, "form", "stitch-docs common destination fields")
                    for f in destinations["ssh"]
                ]
            )
    add(
        [
            docs_attribute(a, api_type, "form", "stitch-docs form file")
            for a in form.get("object-attributes") or []
        ]
    )
    add(
        [
            docs_attribute(a, api_type, "oauth", "stitch-docs form file")
            for a in form.get("oauth-attributes") or []
        ]
    )
    for attribute in form.get("client-credentials-attributes") or []:
        item = docs_attribute(attribute, api_type, "form", "stitch-docs client-credentials attributes")
        item["mark"] = "optional"
        add([item])
    return list(composed.values())


# --------------------------------------------------------------------------------------------------
# Composition
# --------------------------------------------------------------------------------------------------
def card_properties(card: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    """Index a report card's properties by (step, name)."""
    if not card:
        return {}
    return {(step["type"], prop["name"]): prop for step in card["steps"] for prop in step["properties"]}


def enum_from_pattern(pattern: str | None) -> list[str] | None:
    """Turn an alternation pattern such as ``^(csv|jsonl)$`` into its list of values."""
    if not pattern:
        return None
    match = re.fullmatch(r"\^\(([\w|]+)\)\$", pattern)
    return match.group(1).split("|") if match else None


def is_boolean_flag(item: dict[str, Any], card_prop: dict[str, Any] | None, enum: list[str] | None) -> bool:
    """Decide whether a string property is a "true"/"false" flag."""
    if item["datatype"] == "boolean":
        return True
    if enum and sorted(enum) == sorted(BOOLEAN_WORDS):
        return True
    schema = (card_prop or {}).get("json_schema") or {}
    if schema.get("pattern") in ("^(true|false)$", "^(true|false)"):
        return True
    description = item.get("description") or ""
    value = item.get("value")
    starts_with_if_true = description.lstrip().startswith(("If `true`", "If true", "If "))
    return value in BOOLEAN_WORDS and starts_with_if_true


def derive_property_type(requirement: str, step: str) -> str:
    """Report-card ``property_type`` for a property the report cards do not list."""
    if requirement == "read_only":
        return "read_only"
    if requirement == "internal":
        return "user_provided_advanced"
    return "system_provided_by_default" if step == "oauth" else "user_provided"


def subproperties(item: dict[str, Any], card_prop: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """Sub-object fields of an object or array property from stitch-docs (or the report card schema)."""
    subs = item.get("subattributes") or []
    if subs:
        return sorted(
            (
                {
                    "name": str(sub["name"]),
                    "datatype": str(sub.get("type", "string")).lower(),
                    "required": sub.get("required") is True,
                }
                for sub in subs
            ),
            key=lambda sub: sub["name"],
        )
    schema = (card_prop or {}).get("json_schema") or {}
    items = schema.get("items") or {}
    if items.get("type") == "object" and items.get("properties"):
        required = set(items.get("required") or [])
        return [
            {"name": name, "datatype": spec.get("type", "string"), "required": name in required}
            for name, spec in sorted(items["properties"].items())
        ]
    return None


def build_property(
    name: str,
    step: str,
    text_prop: dict[str, Any] | None,
    docs_prop: dict[str, Any] | None,
    card_prop: dict[str, Any] | None,
    db_type: str,
    has_text_section: bool,
    notes: list[str],
) -> dict[str, Any]:
    """Merge what the three sources say about one property into a catalog entry."""
    base = docs_prop or {}
    datatype = (text_prop or {}).get("datatype") or base.get("datatype")
    if datatype is None:
        schema = (card_prop or {}).get("json_schema") or {}
        datatype = schema.get("type", "string")
    if text_prop:
        requirement = text_prop["mark"]
    elif docs_prop and has_text_section and docs_prop["mark"] == "required":
        requirement = "optional"
        notes.append(f"{name}: required in stitch-docs but absent from the docs text section; optional here.")
    elif docs_prop:
        requirement = docs_prop["mark"]
    elif card_prop and card_prop.get("property_type") == "read_only":
        requirement = "read_only"
    else:
        requirement = "required" if card_prop and card_prop.get("is_required") else "optional"
    if text_prop and docs_prop:
        docs_mark = docs_prop["mark"]
        if docs_mark != text_prop["mark"]:
            notes.append(
                f"{name}: the docs text marks it {text_prop['mark']}, stitch-docs {docs_mark}; the text wins."
            )
        if docs_prop["datatype"] != text_prop["datatype"]:
            notes.append(
                f"{name}: the docs text types it {text_prop['datatype']}, stitch-docs {docs_prop['datatype']};"
                " the text wins."
            )
    description = " ".join(
        part for part in ((text_prop or {}).get("description", ""), base.get("description", "")) if part
    )
    credential = bool(
        base.get("credential")
        or (card_prop or {}).get("is_credential")
        or name == "password"
        or "never be returned by the API" in description
        or "treats this property as a credential" in description
    )
    card_schema = (card_prop or {}).get("json_schema") or {}
    enum = enum_from_description(base.get("description", "")) if name not in JSON_IN_STRING else None
    if name == "frequency_in_minutes":
        enum = None
    enum = enum or enum_from_pattern(card_schema.get("pattern"))
    rule = RULE_BY_NAME.get(name)
    fmt = None
    pattern = None
    json_schema = None
    if rule is None and name in PORT_NAMES:
        rule = "port"
    if rule is None and name in JSON_IN_STRING and datatype == "string":
        rule = "json_string"
        json_schema = JSON_IN_STRING[name]
    if (
        rule is None
        and datatype in ("string", "boolean")
        and is_boolean_flag(base or {"datatype": datatype}, card_prop, enum)
    ):
        rule = "boolean_flag"
        enum = None
    if rule is None and enum:
        rule = "enum"
    if rule is None and card_schema.get("format") in ("uri", "email", "date-time"):
        fmt = card_schema["format"]
        rule = "format"
    if rule is None and name == "sentinel_key":
        pattern = card_schema.get("pattern") or "^stitch-challenge-file-.*$"
        rule = "pattern"
    if rule is None and name == "end_date":
        rule = "datetime"
        fmt = "date-time"
    if rule == "anchor_time":
        fmt = "date-time"
    if rule == "start_date":
        pattern = r"^\d{4}-\d{2}-\d{2}T00:00:00Z$"
    if rule == "frequency_in_minutes":
        pattern = card_schema.get("pattern") or "^1$|^30$|^60$|^360$|^720$|^1440$"
    default = None
    if rule == "port":
        raw = base.get("value")
        if isinstance(raw, str) and raw.strip('"').isdigit():
            default = raw.strip('"')
        elif name == "port" and db_type in PORT_DEFAULT_BY_DB_TYPE:
            default = PORT_DEFAULT_BY_DB_TYPE[db_type]
        if name == "ssh_port":
            default = "22"
    if name == "allow_non_auto_increment_pks":
        default = "true"
    if name == "wal2json_message_format":
        default = "1"
    if card_prop and card_prop.get("property_type"):
        property_type = card_prop["property_type"]
    else:
        property_type = derive_property_type(requirement, step)
    entry: dict[str, Any] = {
        "name": name,
        "datatype": datatype,
        "requirement": requirement,
        "credential": credential,
        "step": step,
        "property_type": property_type,
        "rule": rule,
        "pattern": pattern,
        "enum": enum,
        "format": fmt,
        "json_in_string": rule == "json_string",
        "json_schema": json_schema,
        "required_when": REQUIRED_WHEN.get(name),
        "default": default,
        "subproperties": subproperties(base, card_prop) if datatype in ("object", "array") else None,
        "origin": sorted(
            {
                origin
                for origin, present in (
                    ("docs text", text_prop),
                    ("stitch-docs", docs_prop),
                    ("report card", card_prop),
                )
                if present
            }
        ),
    }
    return entry


def default_steps(kind: str, has_oauth: bool, connection_type: str) -> list[str]:
    """Steps when no report card lists them: what stitch-docs shows for similar types."""
    if kind == "destination" or connection_type == "import_api":
        return ["form", "fully_configured"]
    if has_oauth:
        return ["form", "oauth", "discover_schema", "field_selection", "fully_configured"]
    return ["form", "discover_schema", "field_selection", "fully_configured"]


def build_connector(
    connection_type: str,
    summary_row: dict[str, str] | None,
    text: dict[str, Any] | None,
    form: dict[str, Any] | None,
    card: dict[str, Any] | None,
    commons: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
    replacements: dict[str, str],
) -> dict[str, Any]:
    """Compose one catalog entry."""
    notes: list[str] = []
    kind = (summary_row or {}).get("kind") or (
        "destination" if (form or {}).get("form-type") == "destination" else "source"
    )
    display_name = (
        (summary_row or {}).get("display_name") or (form or {}).get("display-name") or connection_type
    )
    if form and summary_row and form.get("display-name") != summary_row["display_name"]:
        notes.append(
            f"display name: the summary table says {summary_row['display_name']!r}, "
            f"stitch-docs {form.get('display-name')!r}; the table wins."
        )
    db_type = (form or {}).get("db-type", "")
    is_database = kind == "source" and (form or {}).get("source-type") == "database"
    docs_list = docs_properties(form, *commons) if form else []
    docs_index = {(p["step"], p["name"]): p for p in docs_list}
    text_index = (text or {}).get("properties", {})
    cards = card_properties(card)
    keys = set(text_index) | set(docs_index)
    # Report-card properties join only when nothing else documents the type, or when they are read-only
    # (``image_version`` and friends), which the user must not send.
    for key, prop in cards.items():
        undocumented_type = not text and not form
        if (
            key[0] in ("form", "oauth")
            and key not in keys
            and (undocumented_type or prop.get("property_type") == "read_only")
        ):
            keys.add(key)
    if text:
        for key in sorted(set(docs_index) - set(text_index)):
            notes.append(f"{key[1]} ({key[0]} step): documented in stitch-docs only; included.")
        for key in sorted(set(text_index) - set(docs_index)):
            if form:
                notes.append(f"{key[1]} ({key[0]} step): documented in the docs text only; included.")
    properties = []
    for step, name in sorted(keys, key=lambda key: (key[0] != "form", key[1])):
        card_prop = cards.get((step, name))
        properties.append(
            build_property(
                name,
                step,
                text_index.get((step, name)),
                docs_index.get((step, name)),
                card_prop,
                db_type,
                text is not None,
                notes,
            )
        )
    has_oauth = any(p["step"] == "oauth" for p in properties)
    if card:
        steps = [step["type"] for step in card["steps"]]
        if has_oauth and "oauth" not in steps:
            notes.append(
                "oauth: the form file documents OAuth properties but the report card has no oauth step."
            )
    else:
        steps = default_steps(kind, has_oauth, connection_type)
    deprecation = (form or {}).get("deprecated") or {}
    details = (card or {}).get("details") or {}
    deprecated = bool(deprecation) or details.get("pipeline_state") == "deprecated"
    replacement = deprecation.get("use-instead") or replacements.get(connection_type)
    if not deprecated:
        replacement = None
    frequency = details.get("default_scheduling_interval")
    entry = {
        "type": connection_type,
        "display_name": display_name,
        "kind": kind,
        "is_database": is_database,
        "in_summary_table": summary_row is not None,
        "has_text_section": text is not None,
        "steps": steps,
        "deprecated": deprecated,
        "replacement": replacement,
        "default_frequency_in_minutes": frequency if kind == "source" else None,
        "properties": properties,
        "examples": (text or {}).get("examples", {}),
        "notes": notes,
        "stitch_docs_file": (form or {}).get("_file"),
    }
    return entry


def create_defaults(reference: Path) -> dict[str, str]:
    """Properties the docs' create-destination example leaves out and Stitch's answer holds, with that value.

    The request of ``create-a-destination-v4.md`` has no ``encryption_type``; the response (and its report
    card, ``provided: true``) shows ``"none"``: Stitch fills it in when a create leaves it out.
    """
    examples = load_front_matter(reference / CREATE_DESTINATION_FILE).get("examples") or []
    bodies = {
        str(e["type"]): json.loads(str(e["code"]).strip().strip("'"))
        for e in examples
        if e.get("type") in ("Request", "Response")
    }
    sent = bodies["Request"]["properties"]
    stored = bodies["Response"]["properties"]
    return {name: value for name, value in stored.items() if name not in sent and isinstance(value, str)}


def apply_create_defaults(connectors: dict[str, dict[str, Any]], defaults: dict[str, str]) -> None:
    """Mark the required destination properties that Stitch fills in on create (see ``create_defaults``)."""
    for entry in connectors.values():
        if entry["kind"] != "destination":
            continue
        for prop in entry["properties"]:
            value = defaults.get(prop["name"])
            if value is not None and prop["requirement"] == "required":
                prop["create_default"] = value
                entry["notes"].append(
                    f"{prop['name']}: the form marks it required, but the docs' create example leaves it out "
                    f"and Stitch stores {value!r}; a create may leave it out."
                )


def hp_replacements(forms: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Map an older database type to the HP type whose stitch-docs description names it as the old version."""
    result = {}
    for api_type, form in forms.items():
        description = str(form.get("description") or "")
        for older in re.findall(r"`(platform\.[\w\-]+)` form property", description):
            result[older] = api_type
    return result


def build_catalog(reference: Path) -> dict[str, Any]:
    """Build the whole catalog document from the reference directory."""
    lines = (reference / TEXT_FILE).read_text(encoding="utf-8").splitlines()
    summary = parse_summary_table(lines)
    sections = parse_text_sections(lines)
    forms = load_form_files(reference)
    cards = load_report_cards(reference)
    common_dir = reference / COMMON_DIR
    commons = (
        yaml.safe_load((common_dir / "all-sources.yml").read_text(encoding="utf-8")),
        yaml.safe_load((common_dir / "database-sources.yml").read_text(encoding="utf-8")),
        yaml.safe_load((common_dir / "destination-forms.yaml").read_text(encoding="utf-8")),
    )
    replacements = hp_replacements(forms)
    summary_by_type = {row["type"]: row for row in summary}
    connectors = {}
    for connection_type in sorted(set(summary_by_type) | set(forms)):
        connectors[connection_type] = build_connector(
            connection_type,
            summary_by_type.get(connection_type),
            sections.get(connection_type),
            forms.get(connection_type),
            cards.get(connection_type),
            commons,
            replacements,
        )
    apply_create_defaults(connectors, create_defaults(reference))
    return {
        "format": CATALOG_FORMAT,
        "summary_table_types": [row["type"] for row in summary],
        "connectors": connectors,
    }


def render(catalog: dict[str, Any]) -> str:
    """Serialise the catalog with a stable key order."""
    return json.dumps(catalog, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def default_reference_dir() -> Path:
    """``$STITCH_REFERENCE_DIR`` or the ``shared/reference`` directory beside the repository."""
    env = os.environ.get("STITCH_REFERENCE_DIR")
    return Path(env) if env else REPO.parent / "shared" / "reference"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: build the catalog and write it.

    :param argv: ``[REFERENCE_DIR] [--output PATH]``.
    """
    parser = argparse.ArgumentParser(description="Build the Stitch connector catalog.")
    parser.add_argument("reference", nargs="?", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    reference = args.reference or default_reference_dir()
    if not (reference / TEXT_FILE).is_file():
        print(f"reference directory not found or incomplete: {reference}", file=sys.stderr)
        return 2
    text = render(build_catalog(reference))
    args.output.write_text(text, encoding="utf-8")
    count = len(json.loads(text)["connectors"])
    print(f"wrote {args.output} ({count} connection types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
