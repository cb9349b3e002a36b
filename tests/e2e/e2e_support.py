"""Helpers of the end-to-end tests: where the example DAGs are, and Stitch setup through the API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO_ROOT / "example_dags"

#: A PostgreSQL source as the examples configure one; the password suits the emulator only.
POSTGRES_PROPERTIES: dict[str, Any] = {
    "host": "orders-db.example.com",
    "port": 5432,
    "user": "stitch_reader",
    "password": "emulator-only-password",
    "dbname": "orders",
    "include_schemas_in_destination_stream_name": "true",
    "frequency_in_minutes": "360",
}


def wait_for_check(client: Any, source_id: int, timeout: float = 30.0) -> None:
    """Poll a source's connection check (not a Jobs endpoint) until it has finished successfully."""
    deadline = time.monotonic() + timeout
    while True:
        check = client.get_last_connection_check(source_id)
        if not check.is_running:
            assert check.status == "succeeded", f"connection check of source {source_id}: {check.status}"
            return
        assert time.monotonic() < deadline, f"connection check of source {source_id} did not finish"
        time.sleep(0.05)


def create_ready_source(client: Any, display_name: str, tables: tuple[str, ...] = ("customers",)) -> int:
    """A PostgreSQL source that finished discovery with the given ``public`` tables selected (full table).

    :param client: a StitchClient on the emulator.
    :param display_name: the source's display name.
    :param tables: table names in the ``public`` schema to select.
    """
    source = client.create_source("platform.hp-postgres", display_name, dict(POSTGRES_PROPERTIES))
    wait_for_check(client, source.id)
    wanted = {f"public-{table}" for table in tables}
    streams = [
        s for s in client.list_streams(source.id) if "-".join(s.tap_stream_id.split("-")[-2:]) in wanted
    ]
    assert len(streams) == len(tables), (
        f"discovered: {[s.tap_stream_id for s in client.list_streams(source.id)]}"
    )
    client.update_stream_metadata(
        source.id,
        [
            {
                "tap_stream_id": stream.tap_stream_id,
                "metadata": [
                    {"breadcrumb": [], "metadata": {"selected": True, "replication-method": "FULL_TABLE"}}
                ],
            }
            for stream in streams
        ],
    )
    return int(source.id)
