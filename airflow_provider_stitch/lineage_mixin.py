"""OpenLineage facets and asset-alias events for a task that replicates one Stitch source.

Mix :class:`ReplicationLineageMixin` in before ``BaseOperator``/``BaseSensorOperator``. The task needs
``source_id`` and ``stitch_conn_id`` attributes; it may hand over what it already fetched with
:meth:`ReplicationLineageMixin.remember_replication_lineage` so no request is repeated. Lineage never uses a
Jobs endpoint: one ``get_source``, one ``list_streams``, one ``list_destinations`` and one schema read per
covered stream. The naming and asset modules load on first use, so an operator module that mixes this in
stays cheap to import.

Outputs are reported only for tables known to have landed: the task names the streams whose loads it saw
with :meth:`ReplicationLineageMixin.record_landed_streams` (or by passing them to
:meth:`~ReplicationLineageMixin.attach_destination_assets`). A task that never saw a load reports inputs
only, on success and on failure alike.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_stitch.lineage import (
        DestinationLike,
        LineageReader,
        ReplicationLineage,
        SourceLike,
        StreamLike,
    )

logger = logging.getLogger(__name__)


class ReplicationLineageMixin:
    """Adds ``get_openlineage_facets_on_complete`` and destination-asset events to a Stitch task."""

    source_id: Any
    stitch_conn_id: str
    outlets: Any
    _replication_lineage: ReplicationLineage | None = None
    _landed_streams: frozenset[str] = frozenset()

    def remember_replication_lineage(
        self, source: SourceLike, destination: DestinationLike | None, streams: Iterable[StreamLike]
    ) -> ReplicationLineage:
        """Build and keep the lineage from objects the task already fetched."""
        from airflow_provider_stitch.lineage import replication_lineage

        self._replication_lineage = replication_lineage(
            source, destination, streams, stream_names=self._lineage_stream_names()
        )
        return self._replication_lineage

    def record_landed_streams(self, stream_names: Iterable[str]) -> None:
        """Note streams whose loads this task saw land; only their tables are reported as outputs."""
        self._landed_streams = self._landed_streams | frozenset(stream_names)

    def _landed_lineage(self) -> ReplicationLineage:
        """This task's lineage with destination tables only for the streams that landed."""
        return self.stitch_replication_lineage().landed(self._landed_streams)

    def _lineage_reader(self) -> LineageReader:
        """The client lineage reads with: the task's own ``hook`` when it has one, else a new hook's."""
        hook = getattr(self, "hook", None)
        if hook is None:
            from airflow_provider_stitch.hooks.stitch import StitchHook

            hook = StitchHook(stitch_conn_id=self.stitch_conn_id)
        return hook.get_client()

    def _lineage_stream_names(self) -> Collection[str] | None:
        """The streams this task covers; None means every selected stream of the source."""
        return None

    def stitch_replication_lineage(self) -> ReplicationLineage:
        """This task's lineage: what it remembered, else read once with non-Jobs requests."""
        from airflow_provider_stitch.lineage import fetch_replication_lineage

        if self._replication_lineage is None:
            self._replication_lineage = fetch_replication_lineage(
                self._lineage_reader(), int(self.source_id), stream_names=self._lineage_stream_names()
            )
        return self._replication_lineage

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Inputs (covered streams) and outputs (destination tables that landed) for the OpenLineage listener."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_stitch.lineage_facets import to_operator_lineage

        try:
            return to_operator_lineage(self._landed_lineage())
        except Exception as error:  # lineage must never fail the task or the listener
            logger.warning("Stitch lineage unavailable for source %s: %s", self.source_id, error)
            return OperatorLineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """A failed task's lineage: its inputs, and as outputs only the tables that landed before it failed."""
        return self.get_openlineage_facets_on_complete(task_instance)

    def attach_destination_assets(
        self, context: Mapping[str, Any], landed_streams: Iterable[str] | None = None
    ) -> int:
        """Add each destination table that landed to each asset alias in ``outlets``; the count of events.

        :param context: the task's context (its ``outlet_events``).
        :param landed_streams: streams whose loads the task saw land, added to those already recorded.

        Nothing is fetched when the task declares no asset alias or no stream landed.
        """
        from airflow_provider_stitch.assets import asset_aliases, attach_to_aliases

        if landed_streams is not None:
            self.record_landed_streams(landed_streams)
        if not asset_aliases(self.outlets) or not self._landed_streams:
            return 0
        return attach_to_aliases(context, self.outlets, self._landed_lineage())
