"""Name what a Stitch replication reads and writes: OpenLineage datasets and Airflow asset URIs.

Inputs are the source's selected streams; outputs are the destination tables they load into (schema = the
source's ``name``, table = the stream's name, or ``<source schema>__<table>`` when the database source sets
``include_schemas_in_destination_stream_name``). Namespaces follow the OpenLineage naming spec where it has
one (``postgres://host:port``, ``mysql://host:port``, ``snowflake://account``, ``bigquery``,
``s3://bucket`` ...) and are built only from non-secret properties (host, port, database, account, project,
bucket). A type without a known datasource scheme is named after the Stitch object that holds it, e.g.
``github://stitch-source-244788``.

Asset URIs are the same location written as a URI with one path segment per name part, which is the form
Airflow's own providers use for the schemes they know (``postgres://host:5432/db/schema/table``,
``bigquery://project/dataset/table``, ``s3://bucket/key``), so an asset a SQL operator declares and the
asset a Stitch load declares for the same table are equal.

Only the standard library is imported here; :func:`to_operator_lineage` loads the OpenLineage provider on
call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

PLATFORM_PREFIX = "platform."
SNOWFLAKE_HOST_SUFFIX = ".snowflakecomputing.com"
REDSHIFT_CLUSTER_HOST = re.compile(
    r"^(?P<cluster>[^.]+)\.[^.]+\.(?P<region>[a-z0-9-]+)\.redshift(?:-serverless)?\.amazonaws\.com$"
)
INCLUDE_SCHEMA_FLAG = "include_schemas_in_destination_stream_name"


class SourceLike(Protocol):
    """The fields of a Stitch source that lineage reads (``api.models.Source`` has them)."""

    id: int
    type: str | None
    name: str | None
    properties: dict[str, Any]


class DestinationLike(Protocol):
    """The fields of a Stitch destination that lineage reads (``api.models.Destination`` has them)."""

    id: int
    type: str | None
    properties: dict[str, Any]


class StreamLike(Protocol):
    """The fields of a Stitch stream that lineage reads (``api.models.Stream`` has them)."""

    stream_id: int
    tap_stream_id: str | None
    stream_name: str | None
    selected: bool | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class TableLocation:
    """One table or object prefix: its OpenLineage namespace and name and its Airflow asset URI."""

    namespace: str
    name: str
    asset_uri: str


@dataclass(frozen=True)
class SchemaField:
    """One replicated column: its name and JSON-schema type (``None`` when the schema gives none)."""

    name: str
    type: str | None = None


@dataclass(frozen=True)
class StreamLineage:
    """One replicated stream: where it is read, where it lands, and the columns selected for it.

    :param names: the names a task may give the stream (``stream_name`` and ``tap_stream_id``).
    :param source_table: where the stream is read from.
    :param destination_table: where it loads to; None when the destination is unknown.
    :param fields: the selected columns; empty when the stream's schema was not read.
    """

    names: frozenset[str]
    source_table: TableLocation
    destination_table: TableLocation | None = None
    fields: tuple[SchemaField, ...] = ()


@dataclass(frozen=True)
class ReplicationLineage:
    """What one Stitch source replicates, stream by stream, in the order Stitch lists the streams."""

    streams: tuple[StreamLineage, ...] = ()

    @property
    def inputs(self) -> list[TableLocation]:
        """The source tables of every stream."""
        return [stream.source_table for stream in self.streams]

    @property
    def outputs(self) -> list[TableLocation]:
        """The destination tables of every stream whose destination is known."""
        return [stream.destination_table for stream in self.streams if stream.destination_table is not None]

    def landed(self, stream_names: Collection[str]) -> ReplicationLineage:
        """The same inputs, with destination tables kept only for the streams that are known to have loaded."""
        wanted = set(stream_names)
        return ReplicationLineage(
            tuple(
                stream if stream.names & wanted else replace(stream, destination_table=None)
                for stream in self.streams
            )
        )


@dataclass(frozen=True)
class _Datasource:
    """A scheme and authority (the OpenLineage namespace) for a family of connection types."""

    scheme: str
    authority: str

    @property
    def namespace(self) -> str:
        """``scheme://authority``, or the bare scheme when there is no authority."""
        return f"{self.scheme}://{self.authority}" if self.authority else self.scheme

    def table(self, parts: Iterable[Any]) -> TableLocation:
        """A dotted OpenLineage name and a one-segment-per-part asset URI for ``parts`` (empty ones dropped)."""
        cleaned = [str(part) for part in parts if part not in (None, "")]
        uri_root = f"{self.namespace}/" if self.authority else f"{self.scheme}://"
        return TableLocation(
            namespace=self.namespace,
            name=".".join(cleaned),
            asset_uri=uri_root + "/".join(quote(part, safe="") for part in cleaned),
        )


def short_type(connection_type: str | None) -> str:
    """The connection type without ``platform.`` and with URI-safe characters (``platform.hp-mysql`` -> ``hp-mysql``)."""
    text = (connection_type or "unknown").removeprefix(PLATFORM_PREFIX)
    return re.sub(r"[^a-z0-9+.-]", "-", text.lower())


def _host_port(properties: Mapping[str, Any], default_port: int) -> str | None:
    """``host:port`` from a connection's properties (lower-cased host), or None without a host."""
    host = str(properties.get("host") or "").strip().lower()
    if not host:
        return None
    port = str(properties.get("port") or "").strip() or str(default_port)
    return f"{host}:{port}"


# ---- sources -------------------------------------------------------------------------------------------

_POSTGRES_SOURCES = frozenset({"postgres", "heroku_pg", "cloudsql_pg", "hp-postgres", "hp-cloudsql-pg"})
_MYSQL_SOURCES = frozenset({"mysql", "aurora", "mariadb", "cloudsql", "hp-mysql"})


def _stream_table(stream: StreamLike) -> str:
    """The table (or collection) a stream reads: its ``stream_name``, else the end of its ``tap_stream_id``."""
    return stream.stream_name or (stream.tap_stream_id or "").rsplit("-", 1)[-1]


def source_dataset(source: SourceLike, stream: StreamLike) -> TableLocation:
    """Where one stream of ``source`` is read from."""
    kind = (source.type or "").removeprefix(PLATFORM_PREFIX)
    properties = source.properties or {}
    metadata = stream.metadata or {}
    table = _stream_table(stream)
    database = metadata.get("database-name") or properties.get("dbname") or properties.get("database")
    schema = metadata.get("schema-name")
    if kind in _POSTGRES_SOURCES and (authority := _host_port(properties, 5432)):
        return _Datasource("postgres", authority).table([database, schema, table])
    if kind in _MYSQL_SOURCES and (authority := _host_port(properties, 3306)):
        return _Datasource("mysql", authority).table([database or schema, table])
    if kind == "mssql" and (authority := _host_port(properties, 1433)):
        return _Datasource("mssql", authority).table([database, schema, table])
    if kind == "oracle" and (authority := _host_port(properties, 1521)):
        return _Datasource("oracle", authority).table([properties.get("sid"), schema, table])
    if kind == "mongodb" and (authority := _host_port(properties, 27017)):
        return _Datasource("mongodb", authority).table([database, table])
    datasource = _Datasource(short_type(source.type), f"stitch-source-{source.id}")
    return datasource.table([stream.tap_stream_id or table])


# ---- destinations --------------------------------------------------------------------------------------


def destination_table_name(source: SourceLike, stream: StreamLike) -> str:
    """The table a stream loads into: its name, prefixed ``<schema>__`` when the source asks for that."""
    table = _stream_table(stream)
    flag = str((source.properties or {}).get(INCLUDE_SCHEMA_FLAG, "")).strip().lower()
    schema = (stream.metadata or {}).get("schema-name")
    return f"{schema}__{table}" if flag == "true" and schema else table


def _redshift_authority(properties: Mapping[str, Any]) -> str | None:
    """``cluster.region:port`` for a provisioned-cluster endpoint, else ``host:port``."""
    host_port = _host_port(properties, 5439)
    if host_port is None:
        return None
    host, _, port = host_port.rpartition(":")
    match = REDSHIFT_CLUSTER_HOST.match(host)
    return f"{match['cluster']}.{match['region']}:{port}" if match else host_port


def _snowflake_account(properties: Mapping[str, Any]) -> str | None:
    """The account identifier: the host without ``.snowflakecomputing.com``."""
    host = str(properties.get("host") or "").strip().lower()
    return host.removesuffix(SNOWFLAKE_HOST_SUFFIX) or None


def _databricks_host(properties: Mapping[str, Any]) -> str | None:
    """The workspace host of a Databricks JDBC URL; the URL's parameters (which may hold a token) are dropped."""
    url = str(properties.get("jdbc_url") or "").strip()
    if not url:
        return None
    hostname = urlsplit(url.removeprefix("jdbc:").split(";", 1)[0]).hostname
    return hostname or None


def _s3_location(properties: Mapping[str, Any], schema: str, table: str) -> TableLocation | None:
    """The key prefix a table's files share: the key format up to its first per-file placeholder."""
    bucket = str(properties.get("s3_bucket") or "").strip()
    if not bucket:
        return None
    key_format = str(properties.get("s3_key_format_string") or "[integration_name]/[table_name]/")
    key = key_format.replace("[integration_name]", schema).replace("[table_name]", table)
    prefix = key.split("[", 1)[0].rstrip("/_-.")
    return TableLocation(
        namespace=f"s3://{bucket}",
        name=prefix,
        asset_uri=f"s3://{bucket}/" + quote(prefix, safe="/"),
    )


def _database_table(
    scheme: str, authority: Callable[[Mapping[str, Any]], str | None]
) -> Callable[[Mapping[str, Any], str, str], TableLocation | None]:
    """A namer for ``scheme://authority`` destinations that write ``database.schema.table``."""

    def name(properties: Mapping[str, Any], schema: str, table: str) -> TableLocation | None:
        found = authority(properties)
        if found is None:
            return None
        return _Datasource(scheme, found).table([properties.get("database"), schema, table])

    return name


def _snowflake_table(properties: Mapping[str, Any], schema: str, table: str) -> TableLocation | None:
    """Snowflake folds unquoted names to upper case, so the database, schema and table are upper-cased."""
    account = _snowflake_account(properties)
    if account is None:
        return None
    parts = [properties.get("database"), schema, table]
    return _Datasource("snowflake", account).table(str(part).upper() for part in parts if part)


def _bigquery_table(properties: Mapping[str, Any], schema: str, table: str) -> TableLocation | None:
    """``bigquery`` namespace, ``project.dataset.table`` name; the dataset is the Stitch schema."""
    project = str(properties.get("project_id") or "").strip()
    if not project:
        return None
    return _Datasource("bigquery", "").table([project, schema, table])


def _mysql_table(properties: Mapping[str, Any], schema: str, table: str) -> TableLocation | None:
    """MySQL has no schemas: the Stitch schema is the database."""
    authority = _host_port(properties, 3306)
    return None if authority is None else _Datasource("mysql", authority).table([schema, table])


def _databricks_table(properties: Mapping[str, Any], schema: str, table: str) -> TableLocation | None:
    """``databricks://<workspace host>``, ``schema.table`` name."""
    host = _databricks_host(properties)
    return None if host is None else _Datasource("databricks", host).table([schema, table])


def _dataworld_table(properties: Mapping[str, Any], schema: str, table: str) -> TableLocation | None:
    """``dataworld://<account id>``, ``schema.table`` name."""
    account = str(properties.get("account_id") or "").strip()
    return None if not account else _Datasource("dataworld", account).table([schema, table])


_DESTINATION_NAMERS: dict[str, Callable[[Mapping[str, Any], str, str], TableLocation | None]] = {
    "postgres": _database_table("postgres", lambda props: _host_port(props, 5432)),
    "panoply": _database_table("postgres", lambda props: _host_port(props, 5439)),
    "redshift": _database_table("redshift", _redshift_authority),
    "mssql_server": _database_table("mssql", lambda props: _host_port(props, 1433)),
    "azure_sqldw": _database_table("sqlserver", lambda props: _host_port(props, 1433)),
    "snowflake": _snowflake_table,
    "bigquery_v2": _bigquery_table,
    "bigquery": _bigquery_table,
    "mysql_destination": _mysql_table,
    "databricks_delta": _databricks_table,
    "s3": _s3_location,
    "dataworld": _dataworld_table,
}


def destination_dataset(
    destination_type: str | None,
    destination_properties: Mapping[str, Any] | None,
    schema: str,
    table: str,
    *,
    destination_id: int | None = None,
) -> TableLocation:
    """Where ``schema.table`` lives in a destination of ``destination_type``.

    :param destination_type: Stitch destination type, e.g. ``postgres``, ``snowflake``, ``bigquery_v2``.
    :param destination_properties: the destination's properties (only non-secret ones are read).
    :param schema: the destination schema, i.e. the Stitch source's ``name``.
    :param table: the destination table name.
    :param destination_id: names the namespace of a type without a known datasource scheme.
    """
    properties = destination_properties or {}
    namer = _DESTINATION_NAMERS.get((destination_type or "").removeprefix(PLATFORM_PREFIX))
    location = namer(properties, schema, table) if namer else None
    if location is not None:
        return location
    owner = f"stitch-destination-{destination_id}" if destination_id is not None else "stitch-destination"
    return _Datasource(short_type(destination_type), owner).table([schema, table])


# ---- a whole replication -------------------------------------------------------------------------------


def is_selected(stream: StreamLike) -> bool:
    """Whether a stream is selected for replication (the stream flag or its stream-level metadata)."""
    if stream.selected is not None:
        return bool(stream.selected)
    return bool((stream.metadata or {}).get("selected"))


def selects_streams(source: SourceLike) -> bool:
    """Whether only selected streams replicate: False for a type whose report card has no field selection
    step (Stitch then replicates every stream); True when the report card is unknown."""
    report_card = getattr(source, "report_card", None)
    steps = getattr(report_card, "steps", None)
    if not steps:
        return True
    return any(getattr(step, "type", None) == "field_selection" for step in steps)


class SchemaLike(Protocol):
    """The parts of a stream's schema that lineage reads (``api.models.StreamSchema`` has them)."""

    json_schema: dict[str, Any]

    def field_metadata(self, field_name: str) -> dict[str, Any] | None: ...


def _json_type(definition: Any) -> str | None:
    """The first non-null JSON type of a property definition (``["null", "integer"]`` gives ``integer``)."""
    if not isinstance(definition, Mapping):
        return None
    kinds = definition.get("type")
    if isinstance(kinds, str):
        return kinds
    if isinstance(kinds, list):
        return next((str(kind) for kind in kinds if kind != "null"), None)
    return None


def selected_fields(schema: SchemaLike) -> tuple[SchemaField, ...]:
    """The columns of a stream that replicate: automatic ones, and those selected (or selected by default)."""
    properties = (schema.json_schema or {}).get("properties") or {}
    chosen: list[SchemaField] = []
    for name, definition in properties.items() if isinstance(properties, Mapping) else ():
        metadata = schema.field_metadata(str(name)) or {}
        inclusion = metadata.get("inclusion")
        if inclusion == "unsupported":
            continue
        picked = metadata.get("selected", metadata.get("selected-by-default", False))
        if inclusion == "automatic" or picked is True:
            chosen.append(SchemaField(name=str(name), type=_json_type(definition)))
    return tuple(chosen)


def replication_lineage(
    source: SourceLike,
    destination: DestinationLike | None,
    streams: Iterable[StreamLike],
    *,
    stream_names: Collection[str] | None = None,
    schemas: Mapping[int, SchemaLike] | None = None,
) -> ReplicationLineage:
    """Each replicated stream of one source: its source table, destination table and selected columns.

    :param source: the Stitch source; its ``name`` is the destination schema.
    :param destination: the account's destination; None yields no destination tables.
    :param streams: the source's streams; unselected ones are left out when the type selects streams.
    :param stream_names: keep only these streams (``stream_name`` or ``tap_stream_id``); None keeps all.
    :param schemas: stream schemas by ``stream_id``, for the selected columns; streams without one get none.
    """
    schema_name = source.name or f"source_{source.id}"
    wanted = None if stream_names is None else set(stream_names)
    only_selected = selects_streams(source)
    chosen: list[StreamLineage] = []
    for stream in streams:
        if only_selected and not is_selected(stream):
            continue
        names = frozenset(name for name in (stream.stream_name, stream.tap_stream_id) if name)
        if wanted is not None and not names & wanted:
            continue
        target = None
        if destination is not None:
            target = destination_dataset(
                destination.type,
                destination.properties,
                schema_name,
                destination_table_name(source, stream),
                destination_id=destination.id,
            )
        stream_schema = (schemas or {}).get(getattr(stream, "stream_id", -1))
        chosen.append(
            StreamLineage(
                names=names,
                source_table=source_dataset(source, stream),
                destination_table=target,
                fields=selected_fields(stream_schema) if stream_schema is not None else (),
            )
        )
    return ReplicationLineage(tuple(chosen))


class LineageReader(Protocol):
    """The non-Jobs reads lineage needs (``api.client.StitchClient`` has them)."""

    def get_source(self, source_id: int) -> Any: ...

    def list_streams(self, source_id: int) -> Any: ...

    def get_stream_schema(self, source_id: int, stream_id: int) -> Any: ...

    def list_destinations(self) -> Any: ...


def account_destination(
    destinations: Iterable[DestinationLike], source: SourceLike
) -> DestinationLike | None:
    """The destination ``source`` loads into: the one it names, else the account's first live one."""
    candidates = [item for item in destinations if getattr(item, "deleted_at", None) is None]
    wanted = getattr(source, "destination_id", None)
    named = [item for item in candidates if wanted is not None and item.id == wanted]
    chosen = named or candidates
    return chosen[0] if chosen else None


def fetch_replication_lineage(
    reader: LineageReader, source_id: int, *, stream_names: Collection[str] | None = None
) -> ReplicationLineage:
    """Lineage of one source from non-Jobs requests: the source, its streams, their schemas, the destinations.

    :param reader: a Stitch client (nothing here touches the Jobs endpoints or their budget).
    :param source_id: the Stitch source.
    :param stream_names: keep only these streams; None keeps every selected stream.
    """
    source = reader.get_source(source_id)
    streams = list(reader.list_streams(source_id))
    destination = account_destination(reader.list_destinations(), source)
    bare = replication_lineage(source, destination, streams, stream_names=stream_names)
    covered = {name for stream in bare.streams for name in stream.names}
    schemas = {
        stream.stream_id: reader.get_stream_schema(source_id, stream.stream_id)
        for stream in streams
        if covered & {stream.stream_name, stream.tap_stream_id}
    }
    return replication_lineage(source, destination, streams, stream_names=stream_names, schemas=schemas)
