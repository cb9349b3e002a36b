"""OpenLineage facets and asset-alias events for a task that replicates one Stitch source.

Mix :class:`ReplicationLineageMixin` in before ``BaseOperator``/``BaseSensorOperator``. The task needs
``source_id`` and ``stitch_conn_id`` attributes; it may hand over what it already fetched with
:meth:`ReplicationLineageMixin.remember_replication_lineage` so no request is repeated. Lineage never uses a
Jobs endpoint: at most one ``get_source``, one ``list_streams`` and one ``list_destinations``. The naming
and asset modules load on first use, so an operator module that mixes this in stays cheap to import.
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

    def remember_replication_lineage(
        self, source: SourceLike, destination: DestinationLike | None, streams: Iterable[StreamLike]
    ) -> ReplicationLineage:
        """Build and keep the lineage from objects the task already fetched."""
        from airflow_provider_stitch.lineage import replication_lineage

        self._replication_lineage = replication_lineage(
            source, destination, streams, stream_names=self._lineage_stream_names()
        )
        return self._replication_lineage

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
        """Inputs (selected streams) and outputs (destination tables) for the OpenLineage listener."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_stitch.lineage import to_operator_lineage

        try:
            return to_operator_lineage(self.stitch_replication_lineage())
        except Exception as error:  # lineage must never fail the task or the listener
            logger.warning("Stitch lineage unavailable for source %s: %s", self.source_id, error)
            return OperatorLineage()

    def attach_destination_assets(self, context: Mapping[str, Any]) -> int:
        """Add every loaded destination table to each asset alias in ``outlets``; the count of events.

        Nothing is fetched when the task declares no asset alias.
        """
        from airflow_provider_stitch.assets import asset_aliases, attach_to_aliases

        if not asset_aliases(self.outlets):
            return 0
        return attach_to_aliases(context, self.outlets, self.stitch_replication_lineage())
