"""Operator that selects a source's streams and fields in one metadata update."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.links import StitchSourceLink, push_stitch_source
from airflow_provider_stitch.operators.base import (
    StitchBaseOperator,
    contains_template,
    naming_the_task,
    require_id,
    stitch_errors,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_stitch.api.models import Stream
    from airflow_provider_stitch.api.stream_selection import DiscoveredStream

STREAM_HINTS = {
    "invalid tap-stream-ids": "Discovery may have changed the source's streams since the spec was written.",
    "Unsupported fields": "Unsupported fields cannot be selected; remove them from fields.",
}


class StitchSelectStreamsOperator(StitchBaseOperator):
    """Select streams (tables) and their fields for replication; returns the tap_stream_ids now selected.

    Example ``streams``::

        {
            "orders": {"replication_method": "INCREMENTAL", "replication_key": "updated_at",
                       "fields": ["id", "total", "updated_at"]},
            "public-customers": True,
            "legacy_table": False,
        }

    Keys name streams by ``stream_name`` or ``tap_stream_id`` (a name found in several schemas must be
    given as its ``tap_stream_id`` or a dash-joined tail of it such as ``public-orders``). Values: ``True``
    selects with defaults (database tables get FULL_TABLE unless a method is already set), ``False``
    deselects, a dict sets ``replication_method``, ``replication_key``, ``fields`` (the fields to replicate
    besides the automatic ones) and, for views, ``view_key_properties``. Everything is checked against
    the discovered streams first and sent as one request.

    :param source_id: the source (it must have finished discovery).
    :param streams: the selection spec above.
    :param replace: also deselect every selected stream the spec does not name.
    """

    template_fields: Sequence[str] = ("source_id", "streams")
    template_fields_renderers = {"streams": "json"}
    operator_extra_links = (StitchSourceLink(),)

    def __init__(
        self,
        *,
        source_id: int | str,
        streams: dict[str, Any],
        replace: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_id = source_id
        self.streams = streams
        self.replace = replace
        with naming_the_task(self.task_id):
            require_id("source_id", source_id)
            if not contains_template(streams):
                from airflow_provider_stitch.api.stream_selection import parse_spec

                parse_spec(streams)

    def execute(self, context: Context) -> list[str]:
        from airflow_provider_stitch.api.stream_selection import (
            StreamSelectionError,
            parse_spec,
            plan_selection,
            resolve_names,
        )

        source_id = require_id("source_id", self.source_id) or int(self.source_id)
        try:
            requests = parse_spec(self.streams)
        except StreamSelectionError as error:
            raise AirflowException(str(error)) from None
        with stitch_errors(f"select streams of source {source_id}", STREAM_HINTS):
            source = self.client.get_source(source_id)
            push_stitch_source(context, source.stitch_client_id, source.id, api_url=self.client.base_url)
            listed = self.client.list_streams(source_id)
            if not listed:
                raise AirflowException(
                    f"Source {source_id} has no discovered streams yet; wait for its connection check and "
                    "discovery to finish (wait_for_connection_check=True on the create task)."
                )
            discovered = [_discovered(stream) for stream in listed]
            try:
                resolved = resolve_names(requests, discovered)
                for tap_stream_id, (_, request) in resolved.items():
                    if request.selected:
                        self._read_schema(
                            source_id, next(s for s in discovered if s.tap_stream_id == tap_stream_id)
                        )
                plan = plan_selection(requests, discovered, replace=self.replace)
            except StreamSelectionError as error:
                raise AirflowException(f"Source {source_id}: {error}") from None
            for note in plan.notes:
                self.log.info("%s", note)
            self.client.update_stream_metadata(source_id, plan.streams)
        self.log.info("Source %s now replicates: %s", source_id, ", ".join(plan.selected) or "nothing")
        return plan.selected

    def _read_schema(self, source_id: int, stream: DiscoveredStream) -> None:
        """Fill in the fields and field metadata of one stream the spec selects."""
        schema = self.client.get_stream_schema(source_id, stream.stream_id)
        stream.fields = dict(schema.json_schema.get("properties") or {})
        stream.metadata = {**stream.metadata, **schema.stream_metadata}
        stream.field_metadata = {
            entry.breadcrumb[1]: dict(entry.metadata)
            for entry in schema.metadata
            if len(entry.breadcrumb) == 2 and entry.breadcrumb[0] == "properties"
        }


def _discovered(stream: Stream) -> DiscoveredStream:
    """A listed stream as the planner's input (fields are read later, only for selected streams)."""
    from airflow_provider_stitch.api.stream_selection import DiscoveredStream

    return DiscoveredStream.from_listing(stream)
