"""Fixtures of the end-to-end tests: one migrated Airflow home and one emulator for the whole session.

Each DAG runs through ``airflow dags test`` in a subprocess whose environment points the
``stitch_default`` connection at the in-process emulator; every test starts from a reset emulator and
a fresh Jobs budget file, so tests do not share Stitch state or rate budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.e2e.e2e_support import EXAMPLE_DAGS

#: Emulator seconds per real second: a ~10 s replication job ends in half a second.
E2E_SPEED = 20.0


@pytest.fixture(scope="session")
def demo() -> ModuleType:
    """How ``make demo`` drives Airflow against the emulator (``airflow_provider_stitch.emulator.dag_runs``)."""
    from airflow_provider_stitch.emulator import dag_runs

    return dag_runs


@pytest.fixture(scope="session")
def e2e_emulator_server() -> Iterator[Any]:
    """A fast real-clock emulator without scheduled runs, shared by the session."""
    from airflow_provider_stitch.emulator import StitchEmulator

    with StitchEmulator(speed=E2E_SPEED, run_schedules=False) as emulator:
        yield emulator


@pytest.fixture
def e2e_emulator(e2e_emulator_server: Any) -> Any:
    """The session emulator, reset."""
    e2e_emulator_server.control.reset()
    return e2e_emulator_server


@pytest.fixture(scope="session")
def airflow_home(demo: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a private AIRFLOW_HOME whose SQLite database is migrated once per session."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = demo.airflow_environment(home, dags_folder=EXAMPLE_DAGS)
    demo.migrate_database(env, home / "db-migrate.log")
    return env


@pytest.fixture
def airflow_env(
    airflow_home: dict[str, str], e2e_emulator: Any, demo: ModuleType, tmp_path: Path
) -> dict[str, str]:
    """The session's Airflow environment with ``stitch_default`` on the emulator and a fresh Jobs budget."""
    env = dict(airflow_home)
    env["AIRFLOW_CONN_STITCH_DEFAULT"] = demo.stitch_connection_json(
        e2e_emulator.base_url,
        e2e_emulator.token,
        e2e_emulator.client_id,
        emulator_speed=E2E_SPEED,
        extra={"budget_backend": "sqlite", "budget_location": str(tmp_path / "jobs-budget.sqlite")},
    )
    return env


@pytest.fixture
def stitch_client(e2e_emulator: Any) -> Iterator[Any]:
    """A StitchClient on the emulator, for arranging and checking Stitch state."""
    from airflow_provider_stitch.api.client import StitchClient

    with StitchClient(
        e2e_emulator.token, base_url=e2e_emulator.base_url, client_id=e2e_emulator.client_id
    ) as client:
        yield client


@pytest.fixture
def run_dag(demo: ModuleType, airflow_env: dict[str, str], tmp_path: Path) -> Any:
    """Run ``airflow dags test <dag_id>``; returns (exit code, whole output)."""

    def run(dag_id: str, conf: dict[str, Any] | None = None) -> tuple[int, str]:
        log_path = tmp_path / f"{dag_id}-{len(list(tmp_path.glob('*.log')))}.log"
        code = demo.run_dag_test(airflow_env, dag_id, log_path=log_path, conf=conf)
        return code, log_path.read_text(encoding="utf-8")

    return run
