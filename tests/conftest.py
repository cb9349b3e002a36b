"""Session-wide test setup: a private Airflow home per test process, the suite's marks, its parallel schedule.

Under pytest-xdist (``make test``) every worker is its own process with its own AIRFLOW_HOME, so its own
Airflow database and default Jobs budget file: a home inherited from the parent process is replaced, never
shared. How the tests are shared among the workers is in ``parallel_schedule.py``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import pytest

from tests.parallel_schedule import make_scheduler, spread_files_sharing_fixtures, start_rank

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_HOME = tempfile.mkdtemp(prefix=f"stitch-provider-tests-{_WORKER}-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_HOME, "dags")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

# Suites marked by where they live, so `make test-fast` (-m "not e2e and not slow") needs no per-test marks.
_E2E_PARTS = ("e2e",)
_E2E_FILES = ("test_replication_lineage_e2e.py", "test_dag_runs_under_faults.py")
_SLOW_PARTS = ("reliability", "scale", "waits", "budget", "benchmarks")
_SLOW_FILES = (
    "test_rate_budget.py",
    "test_budget_redis.py",
    "test_racing_creates.py",
    "test_load_page_ties.py",
    "test_page_schedule.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark end-to-end and slow tests by their folder or file; collect long-running files first.

    The sort is stable, so each file's tests keep their order.
    """
    problems = spread_files_sharing_fixtures(items)
    if problems:
        raise pytest.UsageError("\n".join(problems))
    for item in items:
        parts = item.path.parts
        if any(part in parts for part in _E2E_PARTS) or item.path.name in _E2E_FILES:
            item.add_marker(pytest.mark.e2e)
        if any(part in parts for part in _SLOW_PARTS) or item.path.name in _SLOW_FILES:
            item.add_marker(pytest.mark.slow)
    items.sort(key=start_rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` hands out the suite's work units (see ``parallel_schedule.work_unit_of``)."""
    if config.getvalue("dist") != "loadfile":
        return None
    return make_scheduler(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this process's Airflow home once its tests are done."""
    shutil.rmtree(_HOME, ignore_errors=True)
