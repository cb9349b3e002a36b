"""ReplicationLineageMixin: the OpenLineage provider's extractor picks it up; assets go to aliases."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_stitch.api.errors import StitchError
from airflow_provider_stitch.api.models import Destination, Source, Stream, StreamSchema
from airflow_provider_stitch.lineage_mixin import ReplicationLineageMixin

pytest.importorskip("airflow.providers.openlineage")

SOURCE = Source(id=9, type="platform.postgres", name="crm", properties={"host": "crm.db", "dbname": "crm"})
DESTINATION = Destination(id=1, type="bigquery_v2", properties={"project_id": "acme"})
STREAMS = [
    Stream(stream_id=1, stream_name="leads", selected=True, metadata={"schema-name": "public"}),
    Stream(stream_id=2, stream_name="notes", selected=False, metadata={"schema-name": "public"}),
]


LEADS_SCHEMA = StreamSchema(
    json_schema={
        "type": "object",
        "properties": {
            "id": {"type": ["null", "integer"]},
            "email": {"type": ["null", "string"]},
            "notes": {"type": ["null", "string"]},
            "blob": {"type": ["null", "string"]},
        },
    },
    metadata=[
        {"breadcrumb": [], "metadata": {"selected": True}},
        {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
        {"breadcrumb": ["properties", "email"], "metadata": {"selected": True}},
        {"breadcrumb": ["properties", "notes"], "metadata": {"selected": False, "selected-by-default": True}},
        {"breadcrumb": ["properties", "blob"], "metadata": {"inclusion": "unsupported", "selected": True}},
    ],
)


class RecordingReader:
    """A lineage reader that answers from constants and records which reads it served."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail

    def get_source(self, source_id: int) -> Source:
        self.calls.append(f"get_source({source_id})")
        if self.fail:
            raise StitchError("source lookup failed")
        return SOURCE

    def list_streams(self, source_id: int) -> list[Stream]:
        self.calls.append(f"list_streams({source_id})")
        return STREAMS

    def get_stream_schema(self, source_id: int, stream_id: int) -> StreamSchema:
        self.calls.append(f"get_stream_schema({source_id}, {stream_id})")
        return LEADS_SCHEMA

    def list_destinations(self) -> list[Destination]:
        self.calls.append("list_destinations()")
        return [DESTINATION]


def make_task(reader: RecordingReader, **kwargs: Any) -> Any:
    """A minimal operator using the mixin, with ``reader`` as its client."""
    from airflow.providers.common.compat.sdk import BaseOperator

    class LineageProbeOperator(ReplicationLineageMixin, BaseOperator):
        def __init__(self, *, source_id: int | str, stitch_conn_id: str = "stitch_default", **rest: Any):
            super().__init__(**rest)
            self.source_id = source_id
            self.stitch_conn_id = stitch_conn_id

        def _lineage_reader(self) -> RecordingReader:
            return reader

        def execute(self, context: Any) -> None:
            return None

    return LineageProbeOperator(task_id="probe", source_id="9", **kwargs)


def test_openlineage_default_extractor_reports_streams_and_tables() -> None:
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    reader = RecordingReader()
    task = make_task(reader)
    task.record_landed_streams(["leads"])
    extractor = ExtractorManager()._get_extractor(task)
    assert type(extractor).__name__ == "DefaultExtractor"
    metadata = extractor.extract_on_complete(None)
    assert [(item.namespace, item.name) for item in metadata.inputs] == [
        ("postgres://crm.db:5432", "crm.public.leads")
    ]
    assert [(item.namespace, item.name) for item in metadata.outputs] == [("bigquery", "acme.crm.leads")]
    assert [field.name for field in metadata.outputs[0].facets["schema"].fields] == ["id", "email"]
    assert reader.calls == [
        "get_source(9)",
        "list_streams(9)",
        "list_destinations()",
        "get_stream_schema(9, 1)",
    ]


def test_nothing_landed_means_inputs_only_on_complete_and_on_failure() -> None:
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    task = make_task(RecordingReader())
    extractor = ExtractorManager()._get_extractor(task)
    for metadata in (extractor.extract_on_complete(None), extractor.extract_on_failure(None)):
        assert [item.name for item in metadata.inputs] == ["crm.public.leads"]
        assert metadata.outputs == []


def test_failure_reports_only_the_streams_that_landed() -> None:
    extra = Stream(stream_id=3, stream_name="deals", selected=True, metadata={"schema-name": "public"})
    task = make_task(RecordingReader())
    task.remember_replication_lineage(SOURCE, DESTINATION, [*STREAMS, extra])
    task.record_landed_streams(["deals"])
    facets = task.get_openlineage_facets_on_failure(None)
    assert [item.name for item in facets.inputs] == ["crm.public.leads", "crm.public.deals"]
    assert [item.name for item in facets.outputs] == ["acme.crm.deals"]


def test_remembered_lineage_needs_no_request() -> None:
    reader = RecordingReader()
    task = make_task(reader)
    task.remember_replication_lineage(SOURCE, DESTINATION, STREAMS)
    task.record_landed_streams(["leads"])
    facets = task.get_openlineage_facets_on_complete(None)
    assert [item.name for item in facets.outputs] == ["acme.crm.leads"]
    assert reader.calls == []


def test_lineage_failure_gives_empty_facets_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    task = make_task(RecordingReader(fail=True))
    facets = task.get_openlineage_facets_on_complete(None)
    assert (facets.inputs, facets.outputs) == ([], [])
    assert "Stitch lineage unavailable for source 9: source lookup failed" in caplog.text


def test_assets_go_to_aliases_and_reads_are_shared_with_lineage() -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    class Accessor:
        def __init__(self) -> None:
            self.uris: list[str] = []

        def add(self, asset: Any) -> None:
            self.uris.append(asset.uri)

    alias = AssetAlias("stitch-crm")
    accessor = Accessor()
    reader = RecordingReader()
    task = make_task(reader, outlets=[alias])
    assert task.attach_destination_assets({"outlet_events": {alias: accessor}}) == 0
    assert reader.calls == []
    assert task.attach_destination_assets({"outlet_events": {alias: accessor}}, ["leads"]) == 1
    assert accessor.uris == ["bigquery://acme/crm/leads"]
    task.get_openlineage_facets_on_complete(None)
    assert reader.calls == [
        "get_source(9)",
        "list_streams(9)",
        "list_destinations()",
        "get_stream_schema(9, 1)",
    ]


def test_no_alias_means_no_request() -> None:
    reader = RecordingReader()
    assert make_task(reader).attach_destination_assets({"outlet_events": {}}) == 0
    assert reader.calls == []


def test_a_task_covering_some_streams_reports_only_those() -> None:
    extra = Stream(stream_id=3, stream_name="deals", selected=True, metadata={"schema-name": "public"})
    reader = RecordingReader()
    task = make_task(reader)
    task._lineage_stream_names = lambda: ["deals"]
    task.remember_replication_lineage(SOURCE, DESTINATION, [*STREAMS, extra])
    task.record_landed_streams(["deals", "leads"])
    assert [item.name for item in task.get_openlineage_facets_on_complete(None).outputs] == ["acme.crm.deals"]
