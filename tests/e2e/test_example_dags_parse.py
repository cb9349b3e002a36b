"""The example DAGs parse in a real DagBag: no import errors, no deprecation warnings from our code."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.e2e.e2e_support import REPO_ROOT

EXPECTED_DAG_IDS = {"stitch_onboard_source", "stitch_scheduled_sync", "stitch_notifications"}

# Runs in a fresh interpreter with every warning shown, so module-level warnings of our code are seen.
_PARSE_SCRIPT = """
import builtins, importlib, json, sys, warnings
warnings.simplefilter("always")
try:  # Airflow 3.x
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 2.11
    from airflow.models.dagbag import DagBag

def is_deprecation(category_name):
    module, _, name = category_name.rpartition(".")
    category = getattr(importlib.import_module(module) if module else builtins, name, None)
    return isinstance(category, type) and issubclass(category, (DeprecationWarning, PendingDeprecationWarning))

bag = DagBag(dag_folder=sys.argv[1])
found = []
for lines in bag.captured_warnings.values():
    for line in lines:
        location, category, message = line.split(": ", 2)
        found.append({"location": location, "category": category, "message": message,
                      "deprecation": is_deprecation(category)})
print(json.dumps({
    "dag_ids": sorted(bag.dag_ids),
    "import_errors": bag.import_errors,
    "warnings": found,
    "tags": {dag_id: sorted(bag.dags[dag_id].tags) for dag_id in bag.dag_ids},
}))
"""

OUR_CODE = ("airflow_provider_stitch", "example_dags")


def _parse_example_dags() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__CORE__DAGS_FOLDER")}
    env["PYTHONWARNINGS"] = "always"
    result = subprocess.run(
        [sys.executable, "-c", _PARSE_SCRIPT, str(REPO_ROOT / "example_dags")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_example_dags_parse_without_errors_or_deprecations() -> None:
    parsed = _parse_example_dags()

    assert parsed["import_errors"] == {}
    assert set(parsed["dag_ids"]) == EXPECTED_DAG_IDS
    ours = [w for w in parsed["warnings"] if w["deprecation"] and any(p in w["location"] for p in OUR_CODE)]
    assert ours == []
    for dag_id in EXPECTED_DAG_IDS:
        assert "stitch" in parsed["tags"][dag_id]
