"""Turn a friendly stream-selection spec into one Stitch ``PUT .../streams/metadata`` body.

Pure functions over plain data (no Airflow, no HTTP), so every selection rule is unit-testable:

* a stream is named by ``stream_name``, by ``tap_stream_id``, or by a dash-joined tail of it such as
  ``public-customers``; a name shared by several schemas must be spelled as one of those ids;
* the replication method must be valid and agree with ``forced-replication-method``;
* ``INCREMENTAL`` needs a replication key: one of ``valid-replication-keys`` when the stream lists them
  (Stitch wants it set explicitly), otherwise an integer or date-time field;
* views need ``view-key-properties``; ``LOG_BASED`` is for database tables only;
* unsupported fields cannot be selected; key fields (primary, replication, view keys) must be selected.

Spec values: ``True`` (select with the defaults), ``False`` (deselect), or a dict with
``replication_method``, ``replication_key``, ``fields`` (the fields to replicate besides the automatic
ones), ``view_key_properties`` and ``selected``. Hyphenated keys (``replication-method``) are accepted too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_stitch.api.models import Stream

REPLICATION_METHODS = ("FULL_TABLE", "INCREMENTAL", "LOG_BASED")
#: The method used for a database stream selected with ``True`` when none is set yet.
DEFAULT_DATABASE_METHOD = "FULL_TABLE"
SPEC_KEYS = ("selected", "replication_method", "replication_key", "fields", "view_key_properties")


class StreamSelectionError(ValueError):
    """Every problem found in a stream-selection spec, reported at once.

    :param problems: one sentence per problem.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} with the stream selection:"
        super().__init__("\n".join([heading, *(f"  - {p}" for p in self.problems)]))


@dataclass(frozen=True)
class StreamRequest:
    """What the user asked for one stream (keys normalised, values type-checked)."""

    selected: bool = True
    replication_method: str | None = None
    replication_key: str | None = None
    fields: tuple[str, ...] | None = None
    view_key_properties: tuple[str, ...] | None = None


@dataclass
class DiscoveredStream:
    """A stream as discovered by Stitch.

    :param fields: top-level field name -> JSON schema of the field (empty when the schema was not read).
    :param field_metadata: top-level field name -> field metadata (``inclusion``, ``selected-by-default``...).
    """

    stream_id: int
    tap_stream_id: str
    stream_name: str
    selected: bool | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    field_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_listing(cls, stream: Stream) -> DiscoveredStream:
        """A stream of ``GET /v4/sources/{id}/streams`` (fields are read later, only where needed).

        :param stream: the listed stream; missing names fall back to the tap_stream_id, then the id.
        """
        return cls(
            stream_id=stream.stream_id,
            tap_stream_id=stream.tap_stream_id or str(stream.stream_id),
            stream_name=stream.stream_name or stream.tap_stream_id or str(stream.stream_id),
            selected=stream.selected,
            metadata=dict(stream.metadata),
        )

    @property
    def replication_method(self) -> str | None:
        """The method set on the stream, else the one Stitch imposes; ``None`` when neither is known."""
        value = self.metadata.get("replication-method") or self.forced_method
        return str(value) if value else None

    @property
    def is_view(self) -> bool:
        """True for a database view."""
        return bool(self.metadata.get("is-view"))

    @property
    def is_database(self) -> bool:
        """True for a database table or view (its metadata names its schema)."""
        return "schema-name" in self.metadata or "database-name" in self.metadata

    @property
    def forced_method(self) -> str | None:
        """The method Stitch imposes on this stream, if any."""
        value = self.metadata.get("forced-replication-method")
        return str(value) if value else None

    @property
    def valid_replication_keys(self) -> list[str]:
        """Replication keys the tap accepts (SaaS streams)."""
        return [str(k) for k in self.metadata.get("valid-replication-keys") or []]

    @property
    def primary_keys(self) -> list[str]:
        """Primary-key fields of the stream."""
        return [str(k) for k in self.metadata.get("table-key-properties") or []]


@dataclass(frozen=True)
class SelectionPlan:
    """The result of planning: the ``streams`` list of the PUT body and what is selected afterwards.

    :param streams: items ``{"tap_stream_id": ..., "metadata": [...]}``.
    :param selected: tap_stream_ids selected once the request is applied, sorted.
    :param notes: remarks worth logging (defaults chosen, fields Stitch keeps by default).
    """

    streams: list[dict[str, Any]]
    selected: list[str]
    notes: list[str]


def _suggest(name: str, known: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


def _names(value: Any, what: str, problems: list[str]) -> tuple[str, ...] | None:
    """A list of field names, or None (with a problem noted) when ``value`` is not one."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        problems.append(f"{what} must be a list of field names, not {value!r}")
        return None
    if not all(isinstance(v, str) and v for v in value):
        problems.append(f"{what} must contain only non-empty field names")
        return None
    return tuple(value)


def parse_spec(streams: Any) -> dict[str, StreamRequest]:
    """Check the shape of a spec and normalise it (before any request).

    :param streams: mapping of stream name -> ``True`` / ``False`` / dict.
    :raises StreamSelectionError: listing every shape problem.
    """
    if not isinstance(streams, Mapping) or not streams:
        raise StreamSelectionError(
            ["streams must be a non-empty dict of stream name -> True, False or a dict"]
        )
    problems: list[str] = []
    requests: dict[str, StreamRequest] = {}
    for name, value in streams.items():
        if not isinstance(name, str) or not name.strip():
            problems.append(f"stream names must be non-empty strings, not {name!r}")
            continue
        if isinstance(value, bool):
            requests[name] = StreamRequest(selected=value)
            continue
        if not isinstance(value, Mapping):
            problems.append(f"stream {name!r}: expected True, False or a dict, not {type(value).__name__}")
            continue
        options = {str(k).replace("-", "_"): v for k, v in value.items()}
        for key in options:
            if key not in SPEC_KEYS:
                problems.append(f"stream {name!r}: unknown option {key!r}{_suggest(key, SPEC_KEYS)}")
        selected = options.get("selected", True)
        if not isinstance(selected, bool):
            problems.append(f"stream {name!r}: selected must be true or false")
            selected = True
        method: str | None = None
        if options.get("replication_method") is not None:
            method = str(options["replication_method"]).upper()
            if method not in REPLICATION_METHODS:
                problems.append(
                    f"stream {name!r}: replication_method must be one of {', '.join(REPLICATION_METHODS)}, "
                    f"not {options['replication_method']!r}"
                )
        replication_key = options.get("replication_key")
        if replication_key is not None and (not isinstance(replication_key, str) or not replication_key):
            problems.append(f"stream {name!r}: replication_key must be a field name")
            replication_key = None
        fields = options.get("fields")
        fields = _names(fields, f"stream {name!r}: fields", problems) if fields is not None else None
        view_keys = options.get("view_key_properties")
        if view_keys is not None:
            view_keys = _names(view_keys, f"stream {name!r}: view_key_properties", problems)
        requests[name] = StreamRequest(selected, method, replication_key, fields, view_keys)
    if problems:
        raise StreamSelectionError(problems)
    return requests


def resolve_names(
    requests: Mapping[str, StreamRequest], discovered: list[DiscoveredStream]
) -> dict[str, tuple[str, StreamRequest]]:
    """Map each spec name to a discovered stream: ``tap_stream_id -> (name as spelled, request)``.

    :raises StreamSelectionError: unknown names (with suggestions), ambiguous names (with the ids to use)
        and two spec names that designate the same stream.
    """
    by_id = {s.tap_stream_id: s for s in discovered}
    problems: list[str] = []
    resolved: dict[str, tuple[str, StreamRequest]] = {}
    for name, request in requests.items():
        if name in by_id:
            matches = [by_id[name]]
        else:
            matches = [s for s in discovered if s.stream_name == name]
            if not matches:
                matches = [s for s in discovered if s.tap_stream_id.endswith(f"-{name}")]
        if not matches:
            known = sorted({s.stream_name for s in discovered} | set(by_id))
            problems.append(f"no stream {name!r} in this source{_suggest(name, known)}")
            continue
        if len(matches) > 1:
            ids = ", ".join(sorted(repr(s.tap_stream_id) for s in matches))
            problems.append(
                f"stream name {name!r} is ambiguous: it exists in several schemas ({ids}); "
                "name the stream by its tap_stream_id instead"
            )
            continue
        tap_stream_id = matches[0].tap_stream_id
        if tap_stream_id in resolved:
            first = resolved[tap_stream_id][0]
            problems.append(f"{first!r} and {name!r} both name stream {tap_stream_id!r}")
            continue
        resolved[tap_stream_id] = (name, request)
    if problems:
        raise StreamSelectionError(problems)
    return resolved


def name_for_spec(stream: DiscoveredStream, discovered: Iterable[DiscoveredStream]) -> str:
    """The name that designates ``stream`` in a selection spec: its stream_name unless that is ambiguous.

    :param stream: one of ``discovered``.
    :param discovered: every stream of the source (the name must resolve to ``stream`` alone).
    """
    others = [s for s in discovered if s.tap_stream_id != stream.tap_stream_id]
    if any(s.stream_name == stream.stream_name or s.tap_stream_id == stream.stream_name for s in others):
        return stream.tap_stream_id
    return stream.stream_name


def _is_key_type(schema: Mapping[str, Any]) -> bool:
    """True for an integer or date-time field, the types Stitch accepts as replication keys."""
    types = schema.get("type")
    kinds = {types} if isinstance(types, str) else set(types or [])
    return "integer" in kinds or schema.get("format") in ("date-time", "date")


class _StreamPlanner:
    """Check one stream's request against its discovered metadata and build its metadata entries."""

    def __init__(self, stream: DiscoveredStream, request: StreamRequest, label: str) -> None:
        self.stream = stream
        self.request = request
        self.label = label
        self.problems: list[str] = []
        self.notes: list[str] = []

    def _unknown_fields(self, names: Iterable[str], what: str) -> list[str]:
        unknown = [n for n in names if n not in self.stream.field_metadata]
        for name in unknown:
            known = list(self.stream.field_metadata)
            self.problems.append(
                f"{self.label}: {what} {name!r} is not a field of the stream{_suggest(name, known)}"
            )
        return unknown

    def _method(self) -> str | None:
        """The replication method to send (None: leave Stitch's forced or current method)."""
        stream, wanted = self.stream, self.request.replication_method
        forced = stream.forced_method
        if forced:
            if wanted and wanted != forced:
                self.problems.append(
                    f"{self.label}: Stitch always replicates this stream with {forced}; "
                    f"replication_method {wanted} is not possible"
                )
            return None
        if wanted == "LOG_BASED" and (stream.is_view or not stream.is_database):
            self.problems.append(f"{self.label}: LOG_BASED replication works only for database tables")
        if wanted:
            return wanted
        current = stream.metadata.get("replication-method")
        if current:
            return None
        if stream.is_database:
            self.notes.append(f"{self.label}: no replication_method given; using {DEFAULT_DATABASE_METHOD}")
            return DEFAULT_DATABASE_METHOD
        return None

    def _replication_key(self, method: str | None) -> str | None:
        """The replication key to send, or None when the effective method needs none."""
        stream, wanted = self.stream, self.request.replication_key
        effective = method or stream.forced_method or stream.metadata.get("replication-method")
        if effective != "INCREMENTAL":
            if wanted:
                self.problems.append(
                    f"{self.label}: replication_key applies only to INCREMENTAL replication, not {effective}"
                )
            return None
        valid = stream.valid_replication_keys
        if valid:
            if wanted and wanted not in valid:
                self.problems.append(
                    f"{self.label}: replication_key {wanted!r} is not one of the stream's valid keys "
                    f"({', '.join(valid)})"
                )
                return None
            if not wanted and len(valid) > 1:
                self.problems.append(
                    f"{self.label}: choose a replication_key among {', '.join(valid)} for INCREMENTAL replication"
                )
                return None
            return wanted or valid[0]
        key = wanted or stream.metadata.get("replication-key")
        if not key:
            self.problems.append(f"{self.label}: INCREMENTAL replication needs a replication_key")
            return None
        if self._unknown_fields([key], "replication_key"):
            return None
        meta = stream.field_metadata[key]
        if meta.get("inclusion") == "unsupported":
            self.problems.append(f"{self.label}: replication_key {key!r} is an unsupported field")
            return None
        if stream.fields.get(key) and not _is_key_type(stream.fields[key]):
            self.problems.append(
                f"{self.label}: replication_key {key!r} must be an integer or date-time field"
            )
            return None
        return key

    def _view_keys(self) -> list[str] | None:
        """The view key properties to send (views only)."""
        wanted = self.request.view_key_properties
        if not self.stream.is_view:
            if wanted:
                self.problems.append(f"{self.label}: view_key_properties apply only to database views")
            return None
        if wanted:
            return None if self._unknown_fields(wanted, "view key property") else list(wanted)
        if self.stream.metadata.get("view-key-properties"):
            return None
        self.problems.append(
            f"{self.label}: this stream is a view; give view_key_properties (the fields that identify a row)"
        )
        return None

    def _field_entries(self, key_fields: list[str]) -> list[dict[str, Any]]:
        """Field-level ``selected`` entries honouring inclusion and the key fields."""
        stream, wanted = self.stream, self.request.fields
        entries: list[dict[str, Any]] = []
        if wanted is None:
            for name in key_fields:
                meta = stream.field_metadata.get(name, {})
                if meta.get("inclusion") == "available" and not meta.get("selected-by-default"):
                    entries.append(_field_entry(name, True))
            return entries
        self._unknown_fields(wanted, "field")
        unsupported = [
            n for n in wanted if stream.field_metadata.get(n, {}).get("inclusion") == "unsupported"
        ]
        for name in unsupported:
            reason = stream.field_metadata[name].get("unsupported-description")
            self.problems.append(
                f"{self.label}: field {name!r} is unsupported and cannot be selected"
                + (f" ({reason})" if reason else "")
            )
        missing_keys = [
            n
            for n in key_fields
            if n not in wanted and stream.field_metadata.get(n, {}).get("inclusion") == "available"
        ]
        if missing_keys:
            self.problems.append(
                f"{self.label}: key field(s) {', '.join(missing_keys)} must be among the selected fields"
            )
        kept_by_default: list[str] = []
        for name, meta in stream.field_metadata.items():
            if meta.get("inclusion") != "available":
                continue
            chosen = name in wanted
            entries.append(_field_entry(name, chosen))
            if not chosen and meta.get("selected-by-default"):
                kept_by_default.append(name)
        if kept_by_default:
            self.notes.append(
                f"{self.label}: Stitch replicates {', '.join(kept_by_default)} anyway (selected by default)"
            )
        return entries

    def plan(self) -> list[dict[str, Any]]:
        """Metadata entries for this stream (problems collected in ``self.problems``)."""
        if not self.request.selected:
            return [{"breadcrumb": [], "metadata": {"selected": False}}]
        method = self._method()
        key = self._replication_key(method)
        view_keys = self._view_keys()
        stream_meta: dict[str, Any] = {"selected": True}
        if method:
            stream_meta["replication-method"] = method
        if key:
            stream_meta["replication-key"] = key
        if view_keys:
            stream_meta["view-key-properties"] = view_keys
        key_fields = list(self.stream.primary_keys)
        key_fields += [k for k in (key, *(view_keys or ())) if k and k not in key_fields]
        known_keys = [k for k in key_fields if k in self.stream.field_metadata]
        return [{"breadcrumb": [], "metadata": stream_meta}, *self._field_entries(known_keys)]


def _field_entry(name: str, selected: bool) -> dict[str, Any]:
    return {"breadcrumb": ["properties", name], "metadata": {"selected": selected}}


def plan_selection(
    requests: Mapping[str, StreamRequest],
    discovered: list[DiscoveredStream],
    *,
    replace: bool = False,
) -> SelectionPlan:
    """Check the requests against the discovered streams and build the metadata update.

    :param requests: output of :func:`parse_spec`.
    :param discovered: the source's streams; selected ones need ``fields``/``field_metadata`` filled.
    :param replace: also deselect every currently selected stream the spec does not name.
    :raises StreamSelectionError: listing every problem of every stream.
    """
    resolved = resolve_names(requests, discovered)
    by_id = {s.tap_stream_id: s for s in discovered}
    problems: list[str] = []
    notes: list[str] = []
    body: list[dict[str, Any]] = []
    for tap_stream_id, (name, request) in resolved.items():
        label = f"stream {name!r}"
        planner = _StreamPlanner(by_id[tap_stream_id], request, label)
        entries = planner.plan()
        problems += planner.problems
        notes += planner.notes
        body.append({"tap_stream_id": tap_stream_id, "metadata": entries})
    if replace:
        for stream in discovered:
            if stream.tap_stream_id not in resolved and stream.selected:
                body.append(
                    {
                        "tap_stream_id": stream.tap_stream_id,
                        "metadata": [{"breadcrumb": [], "metadata": {"selected": False}}],
                    }
                )
                notes.append(f"stream {stream.tap_stream_id!r} deselected (not named and replace=True)")
    if problems:
        raise StreamSelectionError(problems)
    selected = {s.tap_stream_id for s in discovered if s.selected and not replace}
    for tap_stream_id, (_, request) in resolved.items():
        if request.selected:
            selected.add(tap_stream_id)
        else:
            selected.discard(tap_stream_id)
    return SelectionPlan(streams=body, selected=sorted(selected), notes=notes)
