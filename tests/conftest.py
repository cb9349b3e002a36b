"""Session-wide test setup: a private AIRFLOW_HOME so no test touches the user's Airflow."""

from __future__ import annotations

import os
import tempfile

import pytest

_HOME = tempfile.mkdtemp(prefix="stitch-provider-tests-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.join(_HOME, "dags"))

# Suites marked by where they live, so `make test-fast` (-m "not e2e and not slow") needs no per-test marks.
_E2E_PARTS = ("e2e",)
_E2E_FILES = ("test_replication_lineage_e2e.py", "test_dag_runs_under_faults.py")
_SLOW_PARTS = ("reliability", "scale")
_SLOW_FILES = ("test_rate_budget.py", "test_budget_redis.py")


def pytest_collection_modifyitems(config: object, items: list[pytest.Item]) -> None:
    """Mark end-to-end and slow tests by their folder or file."""
    for item in items:
        parts = item.path.parts
        if any(part in parts for part in _E2E_PARTS) or item.path.name in _E2E_FILES:
            item.add_marker(pytest.mark.e2e)
        if any(part in parts for part in _SLOW_PARTS) or item.path.name in _SLOW_FILES:
            item.add_marker(pytest.mark.slow)
