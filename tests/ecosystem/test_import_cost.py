"""Importing the operators and sensors in a DAG file must not load the client, the models or the emulator."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Heavy third-party packages: none may be newly loaded by our import (Airflow may have loaded some already).
HEAVY_THIRD_PARTY = ("requests", "httpx", "pydantic", "fastapi", "uvicorn", "starlette", "tenacity", "redis")
# Our own modules that load on first use only.
LAZY_PROVIDER_MODULES = (
    "airflow_provider_stitch.api.models",
    "airflow_provider_stitch.api.client",
    "airflow_provider_stitch.api.aclient",
    "airflow_provider_stitch.api.transport",
    "airflow_provider_stitch.emulator",
    "airflow_provider_stitch.connectors.validate",
    "airflow_provider_stitch.lineage",
    "airflow_provider_stitch.assets",
    "airflow_provider_stitch.hooks.stitch",
)
DAG_FILE_IMPORTS = (
    "airflow_provider_stitch.operators",
    "airflow_provider_stitch.sensors",
    "airflow_provider_stitch.operators.replication",
    "airflow_provider_stitch.sensors.replication",
)

PROBE = """
import importlib, json, sys
try:
    from airflow.sdk import DAG, BaseOperator
except ImportError:
    from airflow.models import DAG, BaseOperator
before = set(sys.modules)
imported = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        continue
    imported.append(name)
catalog = sys.modules.get("airflow_provider_stitch.connectors.catalog")
print(json.dumps({
    "imported": imported,
    "added": sorted(set(sys.modules) - before),
    "present": sorted(sys.modules),
    "catalog_loaded": bool(catalog and catalog.load_catalog_document.cache_info().currsize),
}))
"""


@pytest.fixture(scope="module")
def dag_file_import() -> dict:
    """What one fresh interpreter loads when a DAG file imports our operators and sensors."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *DAG_FILE_IMPORTS], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_packages_themselves_are_imported(dag_file_import: dict) -> None:
    assert dag_file_import["imported"][:2] == [
        "airflow_provider_stitch.operators",
        "airflow_provider_stitch.sensors",
    ]


def test_no_heavy_third_party_package_is_added(dag_file_import: dict) -> None:
    added_roots = {name.partition(".")[0] for name in dag_file_import["added"]}
    assert sorted(added_roots.intersection(HEAVY_THIRD_PARTY)) == []


def test_client_models_and_emulator_stay_unloaded(dag_file_import: dict) -> None:
    present = set(dag_file_import["present"])
    loaded = [name for name in LAZY_PROVIDER_MODULES if name in present]
    assert loaded == []
    assert not any(name.startswith("airflow_provider_stitch.emulator") for name in present)


def test_connector_catalog_is_not_read(dag_file_import: dict) -> None:
    assert dag_file_import["catalog_loaded"] is False


def test_lineage_module_import_is_light() -> None:
    probe = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_stitch.lineage_mixin\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    added = json.loads(result.stdout)
    assert [
        name for name in added if name.startswith(("airflow.", "openlineage", "pydantic", "requests"))
    ] == []
