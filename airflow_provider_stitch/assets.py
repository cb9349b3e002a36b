"""Airflow assets (datasets on Airflow 2) for the tables a Stitch replication loads.

URI scheme: the destination table's OpenLineage location written as a URI, one path segment per name part
(see :mod:`airflow_provider_stitch.lineage`), for example

* ``postgres://db.example.com:5432/analytics/salesforce/account``
* ``redshift://examplecluster.us-west-2:5439/dev/salesforce/account``
* ``snowflake://xy12345.us-east-1/ANALYTICS/SALESFORCE/ACCOUNT``
* ``bigquery://my-project/salesforce/account``
* ``s3://my-bucket/salesforce/account``

Postgres, BigQuery and S3 URIs are the forms Airflow's own providers use, so they equal assets declared by
SQL or storage operators for the same table. No new scheme is introduced, so the provider registers no
``asset-uris`` entry.

Two ways to use them:

* Static outlets when the DAG author knows the tables:
  ``outlets=[stitch_table_asset("postgres", {"host": ..., "port": 5432, "database": "analytics"},
  "salesforce", "account")]``.
* An ``AssetAlias`` in ``outlets``: on completion the operator or sensor attaches every destination table it
  loaded to each alias (:func:`attach_to_aliases`), and downstream DAGs scheduled on those tables run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_stitch.lineage import ReplicationLineage, destination_dataset

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Asset


def stitch_table_asset(
    destination_type: str,
    destination_properties: Mapping[str, Any] | None,
    schema: str,
    table: str,
    *,
    destination_id: int | None = None,
) -> Asset:
    """The asset of one destination table, for a task's ``outlets`` or a DAG's ``schedule``.

    :param destination_type: Stitch destination type, e.g. ``postgres``, ``snowflake``, ``bigquery_v2``.
    :param destination_properties: the destination's properties (host, port, database, account ...).
    :param schema: the destination schema, i.e. the Stitch source's ``name``.
    :param table: the destination table.
    :param destination_id: only needed for destination types without a known URI scheme.
    """
    from airflow.providers.common.compat.sdk import Asset

    location = destination_dataset(
        destination_type, destination_properties, schema, table, destination_id=destination_id
    )
    return Asset(uri=location.asset_uri)


def lineage_assets(lineage: ReplicationLineage) -> list[Asset]:
    """One asset per distinct destination table of ``lineage``, in load order."""
    from airflow.providers.common.compat.sdk import Asset

    uris = dict.fromkeys(location.asset_uri for location in lineage.outputs)
    return [Asset(uri=uri) for uri in uris]


def asset_aliases(outlets: Iterable[Any]) -> list[Any]:
    """The ``AssetAlias`` (``DatasetAlias`` on Airflow 2) objects among a task's outlets."""
    from airflow.providers.common.compat.sdk import AssetAlias

    return [outlet for outlet in outlets or () if isinstance(outlet, AssetAlias)]


def attach_to_aliases(context: Mapping[str, Any], outlets: Iterable[Any], lineage: ReplicationLineage) -> int:
    """Attach every destination table of ``lineage`` to each asset alias in ``outlets``.

    Returns the number of asset events added; 0 when the task declares no alias.
    """
    aliases = asset_aliases(outlets)
    if not aliases:
        return 0
    assets = lineage_assets(lineage)
    outlet_events = context["outlet_events"]
    for alias in aliases:
        for asset in assets:
            outlet_events[alias].add(asset)
    return len(aliases) * len(assets)
