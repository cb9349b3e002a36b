"""StitchSelectStreamsOperator against the emulator's discovered catalog."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.stream_selection import StreamSelectionError
from airflow_provider_stitch.operators import StitchCreateSourceOperator, StitchSelectStreamsOperator
from tests.testkit.operators import POSTGRES_SOURCE_PROPERTIES, request_count

ORDERS_SPEC = {
    "public-orders": {
        "replication_method": "INCREMENTAL",
        "replication_key": "updated_at",
        "fields": ["customer_id", "total", "updated_at"],
    },
    "customers": True,
}


@pytest.fixture
def source_id(emulator, context) -> int:
    return StitchCreateSourceOperator(
        task_id="create",
        source_type="platform.postgres",
        display_name="Shop DB",
        properties=dict(POSTGRES_SOURCE_PROPERTIES),
        wait_for_connection_check=True,
        deferrable=False,
        poll_interval=0.05,
    ).execute(context)


def schema_of(emulator, source_id: int, tap_stream_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    with StitchClient(emulator.token, base_url=emulator.base_url) as client:
        stream = next(s for s in client.list_streams(source_id) if s.tap_stream_id == tap_stream_id)
        schema = client.get_stream_schema(source_id, stream.stream_id)
    fields = {e.breadcrumb[1]: e.metadata for e in schema.metadata if e.breadcrumb}
    return schema.stream_metadata, fields


def test_selects_streams_and_fields_in_one_request_and_returns_the_selection(emulator, context, source_id):
    before = emulator.control.stats()["log"]
    selected = StitchSelectStreamsOperator(
        task_id="select", source_id=source_id, streams=ORDERS_SPEC
    ).execute(context)
    assert selected == ["shop-public-customers", "shop-public-orders"]
    log = emulator.control.stats()["log"][len(before) :]
    assert [e["path"] for e in log if e["method"] == "PUT"] == [f"/v4/sources/{source_id}/streams/metadata"]
    stream_meta, fields = schema_of(emulator, source_id, "shop-public-orders")
    assert stream_meta["selected"] is True
    assert stream_meta["replication-method"] == "INCREMENTAL"
    assert stream_meta["replication-key"] == "updated_at"
    assert fields["total"]["selected"] is True
    assert fields["customer_id"]["selected"] is True
    assert context["ti"].xcom["stitch_source"] == {
        "client_id": emulator.client_id,
        "source_id": source_id,
        "emulator_url": emulator.base_url,
    }


def test_rerun_leaves_the_same_selection(emulator, context, source_id):
    op = StitchSelectStreamsOperator(task_id="select", source_id=source_id, streams=ORDERS_SPEC)
    first = op.execute(context)
    state_after_first = emulator.control.state()["accounts"][0]["sources"][0]["selected_streams"]
    assert op.execute(context) == first
    assert emulator.control.state()["accounts"][0]["sources"][0]["selected_streams"] == state_after_first


def test_replace_deselects_streams_not_named(emulator, context, source_id):
    StitchSelectStreamsOperator(task_id="select", source_id=source_id, streams=ORDERS_SPEC).execute(context)
    result = StitchSelectStreamsOperator(
        task_id="select", source_id=source_id, streams={"customers": True}, replace=True
    ).execute(context)
    assert result == ["shop-public-customers"]
    assert emulator.control.state()["accounts"][0]["sources"][0]["selected_streams"] == [
        "shop-public-customers"
    ]


def test_name_problems_are_reported_together_before_any_write(emulator, context, source_id):
    op = StitchSelectStreamsOperator(
        task_id="select", source_id=source_id, streams={"orders": True, "custmers": True}
    )
    before = request_count(emulator)
    with pytest.raises(AirflowException) as error:
        op.execute(context)
    text = str(error.value)
    assert "stream name 'orders' is ambiguous" in text
    assert "'shop-public-orders', 'shop-sales-orders'" in text
    assert "no stream 'custmers' in this source; did you mean 'customers'" in text
    puts = [e for e in emulator.control.stats()["log"][before:] if e["method"] == "PUT"]
    assert puts == []


def test_field_rules_are_checked_against_the_discovered_schema(emulator, context, source_id):
    op = StitchSelectStreamsOperator(
        task_id="select",
        source_id=source_id,
        streams={"customers": {"fields": ["name", "avatar", "emial"]}, "customer_view": True},
    )
    with pytest.raises(AirflowException) as error:
        op.execute(context)
    text = str(error.value)
    assert "field 'avatar' is unsupported and cannot be selected" in text
    assert "field 'emial' is not a field of the stream; did you mean 'email'?" in text
    assert "stream 'customer_view': this stream is a view; give view_key_properties" in text


def test_source_without_discovery_is_explained(emulator, context):
    with StitchClient(emulator.token, base_url=emulator.base_url, validate=False) as client:
        source = client.create_source("platform.postgres", "Half done", {"host": "db.example.com"})
    op = StitchSelectStreamsOperator(task_id="select", source_id=source.id, streams={"customers": True})
    with pytest.raises(AirflowException, match="has no discovered streams yet"):
        op.execute(context)


def test_bad_spec_fails_at_construction_without_requests(emulator):
    with pytest.raises(StreamSelectionError, match="replication_method must be one of"):
        StitchSelectStreamsOperator(
            task_id="select", source_id=1, streams={"orders": {"replication_method": "SOMETIMES"}}
        )
    with pytest.raises(ValueError, match="source_id must be a positive integer id"):
        StitchSelectStreamsOperator(task_id="select", source_id="abc", streams={"orders": True})
    assert request_count(emulator) == 0


def test_templated_spec_is_checked_once_rendered(emulator, context, source_id):
    op = StitchSelectStreamsOperator(
        task_id="select", source_id="{{ ti.xcom_pull('create') }}", streams="{{ x }}"
    )
    op.source_id = str(source_id)
    op.streams = {"customers": {"selectd": True}}
    with pytest.raises(AirflowException, match="unknown option 'selectd'; did you mean 'selected'"):
        op.execute(context)


def test_transient_errors_are_retried(emulator, context, source_id):
    emulator.control.set_faults(pattern="/streams/metadata$", method="PUT", status=502, times=2)
    result = StitchSelectStreamsOperator(task_id="select", source_id=source_id, streams=ORDERS_SPEC).execute(
        context
    )
    assert result == ["shop-public-customers", "shop-public-orders"]
