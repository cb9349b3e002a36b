"""Report-card lifecycle, connection checks, streams, schemas and metadata selection."""

from __future__ import annotations

import json

import httpx
import pytest

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.models import StreamSchema
from airflow_provider_stitch.emulator import StitchEmulator
from tests.emulator.emulator_helpers import configured_postgres, create_postgres


def _select(http: httpx.Client, source_id: int, tap_stream_id: str | None, *entries: dict) -> httpx.Response:
    stream: dict = {"metadata": list(entries)}
    if tap_stream_id is not None:
        stream["tap_stream_id"] = tap_stream_id
    return http.put(f"/v4/sources/{source_id}/streams/metadata", json={"streams": [stream]})


def test_check_runs_then_discovery_moves_to_field_selection(
    emu: StitchEmulator, client: StitchClient, http: httpx.Client
) -> None:
    source = create_postgres(http)
    check = client.get_last_connection_check(source["id"])
    assert (check.status, check.completion_time, check.error) == ("running", None, False)
    assert client.list_streams(source["id"]) == []
    emu.control.advance(2)
    check = client.get_last_connection_check(source["id"])
    assert (check.status, check.check_exit_status, check.discovery_exit_status) == ("succeeded", 0, 0)
    assert check.name == source["check_job_name"]
    assert client.get_source(source["id"]).report_card.current_step_type == "field_selection"


def test_wrong_password_fails_the_check_and_a_fix_retries(
    emu: StitchEmulator, client: StitchClient, http: httpx.Client
) -> None:
    source = create_postgres(http, password="wrong")
    emu.control.advance(5)
    check = client.get_last_connection_check(source["id"])
    assert check.status == "failed" and check.error is True and check.discovery_exit_status == 1
    assert check.discovery_error_message == 'FATAL:  password authentication failed for user "stitch"'
    assert client.get_source(source["id"]).report_card.current_step_type == "discover_schema"
    client.update_source(source["id"], properties={"password": "right"})
    emu.control.advance(5)
    assert client.get_last_connection_check(source["id"]).status == "succeeded"
    assert client.get_source(source["id"]).report_card.current_step_type == "field_selection"


def test_arranged_check_error(emu: StitchEmulator, client: StitchClient, http: httpx.Client) -> None:
    source = create_postgres(http)
    emu.control.arrange(source["id"], check_error="could not resolve host")
    emu.control.advance(5)
    assert client.get_last_connection_check(source["id"]).discovery_error_message == "could not resolve host"


def test_oauth_step_waits_for_authorisation(emu: StitchEmulator, client: StitchClient) -> None:
    source = client.create_source(
        type="platform.hubspot", display_name="HubSpot", properties={"start_date": "2020-01-01T00:00:00Z"}
    )
    assert source.report_card.current_step_type == "oauth"
    assert emu.control.authorize_source(source.id)["step"] == "discover_schema"
    emu.control.advance(5)
    streams = client.list_streams(source.id)
    names = [s.tap_stream_id for s in streams]
    assert names == ["companies", "contacts", "deals", "email_events", "owners"]
    contacts = streams[1].metadata
    assert contacts["forced-replication-method"] == "INCREMENTAL"
    assert contacts["valid-replication-keys"] == ["updated_at"]
    assert streams[4].metadata["forced-replication-method"] == "FULL_TABLE"


def test_database_streams_and_schema(emu: StitchEmulator, client: StitchClient, http: httpx.Client) -> None:
    source = create_postgres(http)
    emu.control.advance(5)
    streams = client.list_streams(source["id"])
    assert [s.tap_stream_id for s in streams][:2] == ["shop-public-customers", "shop-public-orders"]
    names = [s.stream_name for s in streams]
    assert names.count("orders") == 2
    view = next(s for s in streams if s.stream_name == "customer_view")
    assert view.metadata["is-view"] is True and view.metadata["table-key-properties"] == []
    raw = http.get(f"/v4/sources/{source['id']}/streams/{streams[0].stream_id}").json()
    assert isinstance(raw["schema"], str)
    schema = client.get_stream_schema(source["id"], streams[0].stream_id)
    assert isinstance(schema, StreamSchema)
    assert schema.json_schema == json.loads(raw["schema"])
    assert schema.non_discoverable_metadata_keys == [
        "selected",
        "replication-method",
        "replication-key",
        "view-key-properties",
    ]
    assert schema.field_metadata("id") == {
        "inclusion": "automatic",
        "selected-by-default": True,
        "sql-datatype": "integer",
    }
    assert schema.field_metadata("avatar")["inclusion"] == "unsupported"
    assert schema.stream_metadata["database-name"] == "shop"


def test_invalid_stream_id(emu: StitchEmulator, http: httpx.Client) -> None:
    source = create_postgres(http)
    emu.control.advance(5)
    response = http.get(f"/v4/sources/{source['id']}/streams/12")
    assert (response.status_code, response.json()) == (400, "invalid stream-id: 12")
    assert http.get("/v4/sources/999/streams/12").json() == "invalid stream-id: 12"


def test_selection_makes_source_fully_configured(
    emu: StitchEmulator, client: StitchClient, http: httpx.Client
) -> None:
    source = configured_postgres(emu, http)
    assert source["report_card"]["current_step_type"] == "fully_configured"
    customers = client.list_streams(source["id"])[0]
    assert customers.selected is True
    assert customers.metadata["replication-key"] == "updated_at"


@pytest.mark.parametrize(
    ("tap_stream_id", "entry", "expected"),
    [
        (
            None,
            {"breadcrumb": [], "metadata": {"selected": True}},
            {"invalid_fields": "invalid tap-stream-ids:  [nil]"},
        ),
        (
            "shop-public-nope",
            {"breadcrumb": [], "metadata": {"selected": True}},
            {"invalid_fields": "invalid tap-stream-ids:  [shop-public-nope]"},
        ),
        (
            "shop-public-customers",
            {"breadcrumb": [], "metadata": {"row-count": 3}},
            {"invalid_fields": 'only non-discoverable metadata can be produced by the UI: #{"row-count"}'},
        ),
        (
            "shop-public-customers",
            {"breadcrumb": ["properties", "avatar"], "metadata": {"selected": True}},
            {"invalid_fields": "Unsupported fields cannot be selected by default"},
        ),
    ],
)
def test_metadata_errors(
    emu: StitchEmulator, http: httpx.Client, tap_stream_id: str | None, entry: dict, expected: dict
) -> None:
    source = create_postgres(http)
    emu.control.advance(5)
    response = _select(http, source["id"], tap_stream_id, entry)
    assert (response.status_code, response.json()) == (400, expected)


def test_metadata_body_shape_error(emu: StitchEmulator, http: httpx.Client) -> None:
    source = create_postgres(http)
    emu.control.advance(5)
    response = http.put(f"/v4/sources/{source['id']}/streams/metadata", json={"tables": []})
    assert (
        response.json() == "body must contain a 'streams' property with a list of metadatas by tap_stream_id"
    )


def test_replication_rules(emu: StitchEmulator, http: httpx.Client, client: StitchClient) -> None:
    source = create_postgres(http)
    emu.control.advance(5)
    no_key = _select(
        http,
        source["id"],
        "shop-public-orders",
        {"breadcrumb": [], "metadata": {"selected": True, "replication-method": "INCREMENTAL"}},
    )
    assert "needs a replication-key" in no_key.json()["invalid_fields"]
    view = _select(
        http, source["id"], "shop-public-customer_view", {"breadcrumb": [], "metadata": {"selected": True}}
    )
    assert "view-key-properties" in view.json()["invalid_fields"]
    assert client.get_source(source["id"]).report_card.current_step_type == "field_selection"
    hubspot = client.create_source(
        type="platform.hubspot", display_name="H", properties={"start_date": "2020-01-01T00:00:00Z"}
    )
    emu.control.authorize_source(hubspot.id)
    emu.control.advance(5)
    forced = _select(
        http,
        hubspot.id,
        "contacts",
        {"breadcrumb": [], "metadata": {"selected": True, "replication-method": "FULL_TABLE"}},
    )
    assert "cannot change" in forced.json()["invalid_fields"]
    wrong_key = _select(
        http,
        hubspot.id,
        "contacts",
        {"breadcrumb": [], "metadata": {"selected": True, "replication-key": "name"}},
    )
    assert "must be one of" in wrong_key.json()["invalid_fields"]


def test_selection_before_discovery_is_refused(http: httpx.Client) -> None:
    source = create_postgres(http)
    response = _select(
        http, source["id"], "shop-public-customers", {"breadcrumb": [], "metadata": {"selected": True}}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidState"


def test_more_than_100_streams(emu: StitchEmulator, client: StitchClient, http: httpx.Client) -> None:
    source = create_postgres(http)
    emu.control.arrange(source["id"], extra_tables=120)
    emu.control.advance(5)
    streams = client.list_streams(source["id"])
    assert len(streams) == 126
    assert len({s.stream_id for s in streams}) == 126
    assert streams[-1].tap_stream_id == "shop-public-table_0120"


def test_streams_never_selected_list_no_replication_method(
    emu: StitchEmulator, client: StitchClient, http: httpx.Client
) -> None:
    source = configured_postgres(emu, http)
    listed = {
        stream["tap_stream_id"]: stream for stream in http.get(f"/v4/sources/{source['id']}/streams").json()
    }
    never = listed["shop-public-orders"]
    assert never["selected"] is None and never["metadata"]["selected"] is None
    assert "replication-method" not in never["metadata"]
    assert set(never["metadata"]) == {
        "database-name",
        "schema-name",
        "is-view",
        "row-count",
        "table-key-properties",
        "selected",
    }
    chosen = listed["shop-public-customers"]
    assert chosen["metadata"]["replication-method"] == "INCREMENTAL"
    assert chosen["metadata"]["replication-key"] == "updated_at"
    schema = http.get(f"/v4/sources/{source['id']}/streams/{never['stream_id']}").json()
    (stream_level,) = [entry["metadata"] for entry in schema["metadata"] if entry["breadcrumb"] == []]
    assert "replication-method" not in stream_level
