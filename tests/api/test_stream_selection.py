"""The spec -> metadata planner, without Airflow or HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_stitch.api.stream_selection import (
    DiscoveredStream,
    StreamRequest,
    StreamSelectionError,
    parse_spec,
    plan_selection,
    resolve_names,
)

DATE_TIME = {"type": ["null", "string"], "format": "date-time"}
INTEGER = {"type": ["null", "integer"]}
STRING = {"type": ["null", "string"]}


def field(inclusion: str, by_default: bool = True, **extra: Any) -> dict[str, Any]:
    return {"inclusion": inclusion, "selected-by-default": by_default, **extra}


def db_table(stream_id: int, schema: str, table: str, *, view: bool = False, selected: bool | None = None):
    return DiscoveredStream(
        stream_id=stream_id,
        tap_stream_id=f"shop-{schema}-{table}",
        stream_name=table,
        selected=selected,
        metadata={
            "database-name": "shop",
            "schema-name": schema,
            "is-view": view,
            "table-key-properties": [] if view else ["id"],
        },
        fields={"id": INTEGER, "name": STRING, "updated_at": DATE_TIME, "blob": STRING, "note": STRING},
        field_metadata={
            "id": field("available" if view else "automatic"),
            "name": field("available", True),
            "updated_at": field("available", False),
            "note": field("available", False),
            "blob": field("unsupported", False, **{"unsupported-description": "binary type"}),
        },
    )


def saas_stream(stream_id: int, name: str, *, keys: list[str] | None = None, forced: str = "INCREMENTAL"):
    metadata: dict[str, Any] = {"forced-replication-method": forced, "table-key-properties": ["id"]}
    if keys is not None:
        metadata["valid-replication-keys"] = keys
    return DiscoveredStream(
        stream_id=stream_id,
        tap_stream_id=name,
        stream_name=name,
        metadata=metadata,
        fields={"id": INTEGER, "updated_at": DATE_TIME, "created_at": DATE_TIME, "email": STRING},
        field_metadata={
            "id": field("automatic"),
            "updated_at": field("automatic"),
            "created_at": field("available", True),
            "email": field("available", False),
        },
    )


def catalog() -> list[DiscoveredStream]:
    return [
        db_table(1, "public", "customers"),
        db_table(2, "public", "orders"),
        db_table(3, "sales", "orders"),
        db_table(4, "public", "customer_view", view=True),
        db_table(5, "public", "legacy", selected=True),
    ]


def plan(spec: dict[str, Any], streams: list[DiscoveredStream] | None = None, **kwargs: Any):
    return plan_selection(parse_spec(spec), streams if streams is not None else catalog(), **kwargs)


def problems(spec: dict[str, Any], streams: list[DiscoveredStream] | None = None) -> list[str]:
    with pytest.raises(StreamSelectionError) as error:
        plan(spec, streams)
    return error.value.problems


def stream_entry(result, tap_stream_id: str) -> dict[str, Any]:
    return next(item for item in result.streams if item["tap_stream_id"] == tap_stream_id)


def test_parse_spec_normalises_keys_and_methods():
    parsed = parse_spec(
        {
            "a": True,
            "b": False,
            "c": {"replication-method": "incremental", "replication_key": "k", "fields": ["x"]},
        }
    )
    assert parsed["a"] == StreamRequest(selected=True)
    assert parsed["b"] == StreamRequest(selected=False)
    assert parsed["c"] == StreamRequest(True, "INCREMENTAL", "k", ("x",), None)


def test_parse_spec_reports_every_shape_problem_at_once():
    with pytest.raises(StreamSelectionError) as error:
        parse_spec(
            {
                "a": "yes",
                "b": {"replication_methd": "FULL_TABLE"},
                "c": {"replication_method": "SOMETIMES"},
                "d": {"fields": "id"},
            }
        )
    assert error.value.problems == [
        "stream 'a': expected True, False or a dict, not str",
        "stream 'b': unknown option 'replication_methd'; did you mean 'replication_method' or 'replication_key'?",
        "stream 'c': replication_method must be one of FULL_TABLE, INCREMENTAL, LOG_BASED, not 'SOMETIMES'",
        "stream 'd': fields must be a list of field names, not 'id'",
    ]
    assert str(error.value).startswith("4 problems with the stream selection:")


@pytest.mark.parametrize("spec", [{}, [], None, "orders"])
def test_parse_spec_needs_a_non_empty_mapping(spec):
    with pytest.raises(StreamSelectionError, match="non-empty dict"):
        parse_spec(spec)


def test_names_resolve_by_stream_name_tap_stream_id_and_schema_tail():
    resolved = resolve_names(
        parse_spec({"customers": True, "shop-sales-orders": True, "public-orders": False}), catalog()
    )
    assert sorted(resolved) == ["shop-public-customers", "shop-public-orders", "shop-sales-orders"]
    assert resolved["shop-public-orders"][0] == "public-orders"


def test_ambiguous_and_unknown_names_are_explained():
    found = problems({"orders": True, "custmers": True})
    assert found == [
        "stream name 'orders' is ambiguous: it exists in several schemas ('shop-public-orders', "
        "'shop-sales-orders'); name the stream by its tap_stream_id instead",
        "no stream 'custmers' in this source; did you mean 'customers' or 'customer_view'?",
    ]


def test_two_names_for_one_stream_are_refused():
    assert problems({"customers": True, "public-customers": False}) == [
        "'customers' and 'public-customers' both name stream 'shop-public-customers'"
    ]


def test_true_on_a_database_table_selects_it_with_full_table_and_defaults():
    result = plan({"customers": True})
    assert stream_entry(result, "shop-public-customers")["metadata"] == [
        {"breadcrumb": [], "metadata": {"selected": True, "replication-method": "FULL_TABLE"}}
    ]
    assert "stream 'customers': no replication_method given; using FULL_TABLE" in result.notes
    assert result.selected == ["shop-public-customers", "shop-public-legacy"]


def test_incremental_with_fields_builds_stream_and_field_breadcrumbs():
    spec = {
        "public-orders": {
            "replication_method": "INCREMENTAL",
            "replication_key": "updated_at",
            "fields": ["name", "updated_at"],
        }
    }
    entries = stream_entry(plan(spec), "shop-public-orders")["metadata"]
    assert entries[0] == {
        "breadcrumb": [],
        "metadata": {"selected": True, "replication-method": "INCREMENTAL", "replication-key": "updated_at"},
    }
    fields = {tuple(e["breadcrumb"]): e["metadata"]["selected"] for e in entries[1:]}
    assert fields == {
        ("properties", "name"): True,
        ("properties", "updated_at"): True,
        ("properties", "note"): False,
    }


def test_replication_key_is_selected_when_fields_are_left_to_defaults():
    spec = {"customers": {"replication_method": "INCREMENTAL", "replication_key": "updated_at"}}
    entries = stream_entry(plan(spec), "shop-public-customers")["metadata"]
    assert {"breadcrumb": ["properties", "updated_at"], "metadata": {"selected": True}} in entries


def test_fields_that_omit_the_key_field_are_refused():
    spec = {
        "customers": {
            "replication_method": "INCREMENTAL",
            "replication_key": "updated_at",
            "fields": ["name"],
        }
    }
    assert problems(spec) == ["stream 'customers': key field(s) updated_at must be among the selected fields"]


def test_incremental_database_stream_needs_a_usable_key():
    assert problems({"customers": {"replication_method": "INCREMENTAL"}}) == [
        "stream 'customers': INCREMENTAL replication needs a replication_key"
    ]
    assert problems({"customers": {"replication_method": "INCREMENTAL", "replication_key": "name"}}) == [
        "stream 'customers': replication_key 'name' must be an integer or date-time field"
    ]
    assert problems({"customers": {"replication_method": "INCREMENTAL", "replication_key": "updatd_at"}}) == [
        "stream 'customers': replication_key 'updatd_at' is not a field of the stream; did you mean 'updated_at'?"
    ]
    assert problems({"customers": {"replication_method": "INCREMENTAL", "replication_key": "blob"}}) == [
        "stream 'customers': replication_key 'blob' is an unsupported field"
    ]


def test_key_without_incremental_is_refused():
    assert problems({"customers": {"replication_method": "FULL_TABLE", "replication_key": "id"}}) == [
        "stream 'customers': replication_key applies only to INCREMENTAL replication, not FULL_TABLE"
    ]


def test_unsupported_and_unknown_fields_cannot_be_selected():
    assert problems({"customers": {"fields": ["name", "blob", "nmae"]}}) == [
        "stream 'customers': field 'nmae' is not a field of the stream; did you mean 'name'?",
        "stream 'customers': field 'blob' is unsupported and cannot be selected (binary type)",
    ]


def test_views_need_view_key_properties_which_are_then_selected():
    assert problems({"customer_view": True}) == [
        "stream 'customer_view': this stream is a view; give view_key_properties (the fields that identify a row)"
    ]
    entries = stream_entry(
        plan({"customer_view": {"view_key_properties": ["id"]}}), "shop-public-customer_view"
    )
    assert entries["metadata"][0]["metadata"]["view-key-properties"] == ["id"]


def test_view_keys_only_for_views_and_log_based_only_for_tables():
    found = problems(
        {
            "customers": {"view_key_properties": ["id"]},
            "customer_view": {"view_key_properties": ["id"], "replication_method": "LOG_BASED"},
        }
    )
    assert found == [
        "stream 'customers': view_key_properties apply only to database views",
        "stream 'customer_view': LOG_BASED replication works only for database tables",
    ]


def test_forced_method_and_valid_replication_keys_of_saas_streams():
    streams = [
        saas_stream(1, "orders", keys=["updated_at"]),
        saas_stream(2, "events", keys=["updated_at", "created_at"]),
    ]
    result = plan({"orders": True}, streams)
    assert stream_entry(result, "orders")["metadata"][0]["metadata"] == {
        "selected": True,
        "replication-key": "updated_at",
    }
    assert problems({"orders": {"replication_method": "FULL_TABLE"}}, streams) == [
        "stream 'orders': Stitch always replicates this stream with INCREMENTAL; "
        "replication_method FULL_TABLE is not possible"
    ]
    assert problems({"orders": {"replication_key": "created_at"}}, streams) == [
        "stream 'orders': replication_key 'created_at' is not one of the stream's valid keys (updated_at)"
    ]
    assert problems({"events": True}, streams) == [
        "stream 'events': choose a replication_key among updated_at, created_at for INCREMENTAL replication"
    ]


def test_full_table_saas_stream_needs_no_key():
    streams = [saas_stream(1, "owners", forced="FULL_TABLE")]
    assert stream_entry(plan({"owners": True}, streams), "owners")["metadata"] == [
        {"breadcrumb": [], "metadata": {"selected": True}}
    ]


def test_false_deselects_and_replace_deselects_everything_unnamed():
    result = plan({"legacy": False})
    assert stream_entry(result, "shop-public-legacy")["metadata"] == [
        {"breadcrumb": [], "metadata": {"selected": False}}
    ]
    assert result.selected == []
    replaced = plan({"customers": True}, replace=True)
    assert stream_entry(replaced, "shop-public-legacy")["metadata"] == [
        {"breadcrumb": [], "metadata": {"selected": False}}
    ]
    assert replaced.selected == ["shop-public-customers"]


def test_without_replace_previous_selections_stay():
    assert plan({"customers": True}).selected == ["shop-public-customers", "shop-public-legacy"]
