"""Helpers of the end-to-end tests: the demo driver, Airflow-version gate and Stitch setup through the API."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_SCRIPT = REPO_ROOT / "tools" / "demo.py"

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


def load_demo() -> ModuleType:
    """``tools/demo.py`` as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("stitch_demo", DEMO_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


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

    Args:
        client: a StitchClient on the emulator.
        display_name: the source's display name.
        tables: table names in the ``public`` schema to select.
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
