"""OpenLineage datasets with facets for a Stitch replication (loaded only when lineage is reported).

Inputs and outputs carry the datasource facet (the namespace as name and URI) and, when the stream's
selected columns are known, the schema facet; outputs also carry column lineage: each column of a
destination table comes unchanged from the same column of its source table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.openlineage.facet import (
    ColumnLineageDatasetFacet,
    Fields,
    InputDataset,
    InputField,
    OutputDataset,
    SchemaDatasetFacet,
    SchemaDatasetFacetFields,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_stitch.lineage import ReplicationLineage, StreamLineage, TableLocation

#: How Stitch changes a column on its way to the destination: it does not.
COPY_TRANSFORMATION = "IDENTITY"


def _datasource_facet(location: TableLocation) -> Any:
    """The datasource facet of a location, or None where the OpenLineage client lacks it."""
    try:
        from openlineage.client.facet_v2 import datasource_dataset
    except ImportError:  # an OpenLineage client without the v2 facets
        return None
    return datasource_dataset.DatasourceDatasetFacet(name=location.namespace, uri=location.namespace)


def _common_facets(location: TableLocation, stream: StreamLineage) -> dict[str, Any]:
    """Datasource and (when the columns are known) schema facets."""
    facets: dict[str, Any] = {}
    datasource = _datasource_facet(location)
    if datasource is not None:
        facets["dataSource"] = datasource
    if stream.fields:
        facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=item.name, type=item.type) for item in stream.fields]
        )
    return facets


def input_dataset(stream: StreamLineage) -> InputDataset:
    """The source table of ``stream`` as an OpenLineage input."""
    location = stream.source_table
    return InputDataset(
        namespace=location.namespace, name=location.name, facets=_common_facets(location, stream)
    )


def output_dataset(stream: StreamLineage) -> OutputDataset:
    """The destination table of ``stream`` as an OpenLineage output, with column lineage from its source."""
    location = stream.destination_table
    if location is None:
        raise ValueError("a stream without a destination table has no output dataset")
    facets = _common_facets(location, stream)
    if stream.fields:
        source = stream.source_table
        facets["columnLineage"] = ColumnLineageDatasetFacet(
            fields={
                item.name: Fields(
                    inputFields=[InputField(namespace=source.namespace, name=source.name, field=item.name)],
                    transformationType=COPY_TRANSFORMATION,
                    transformationDescription="copied by Stitch",
                )
                for item in stream.fields
            }
        )
    return OutputDataset(namespace=location.namespace, name=location.name, facets=facets)


def to_operator_lineage(lineage: ReplicationLineage) -> OperatorLineage:
    """The OpenLineage provider's ``OperatorLineage`` for ``lineage`` (needs the ``openlineage`` extra).

    Every dataset carries the datasource facet and, when the columns are known, the schema facet; each
    destination table carries column lineage from its source table's columns (Stitch copies them as they are).
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    outputs = {}
    for stream in lineage.streams:
        if stream.destination_table is not None and stream.destination_table not in outputs:
            outputs[stream.destination_table] = output_dataset(stream)
    return OperatorLineage(
        inputs=[input_dataset(stream) for stream in lineage.streams],
        outputs=list(outputs.values()),
    )
