"""The demo's plumbing, imported from the package: the emulator child process, the connection JSON and the
Airflow environment (``airflow_provider_stitch.emulator.harness`` and ``.dag_runs``)."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
from pathlib import Path

import httpx
import pytest

from airflow_provider_stitch.emulator import dag_runs
from airflow_provider_stitch.emulator.harness import EmulatorProcess, EmulatorStartError
from tests.e2e.e2e_support import EXAMPLE_DAGS, REPO_ROOT


def test_emulator_child_serves_and_stops_by_pid(tmp_path: Path) -> None:
    emulator = EmulatorProcess(tmp_path, speed=5.0).start()
    try:
        assert emulator.base_url.startswith("http://127.0.0.1:")
        assert emulator.token.startswith("ac_") and emulator.client_id > 0
        response = httpx.get(
            f"{emulator.base_url}/v4/sources", headers={"Authorization": f"Bearer {emulator.token}"}
        )
        assert response.status_code == 200 and response.json() == []
        assert response.headers["X-Stitch-Emulator-Speed"] == "5"
        control = emulator.control()
        try:
            assert control.speed() == 5.0
        finally:
            control.close()
    finally:
        emulator.stop()
    assert emulator.process is not None and emulator.process.returncode is not None
    emulator.stop()  # a second stop is harmless


def test_emulator_child_that_cannot_start_names_its_log(tmp_path: Path) -> None:
    with pytest.raises(EmulatorStartError, match="did not start; see .*emulator.log"):
        EmulatorProcess(tmp_path, extra_args=("--clock", "sideways")).start()
    assert "invalid choice: 'sideways'" in (tmp_path / "emulator.log").read_text(encoding="utf-8")


def test_connection_json_is_what_the_hook_reads() -> None:
    text = dag_runs.stitch_connection_json(
        "http://127.0.0.1:9", "ac_fake", 42, extra={"budget_backend": "memory", "jobs_budget": 10}
    )
    assert json.loads(text) == {
        "conn_type": "stitch",
        "host": "http://127.0.0.1:9",
        "password": "ac_fake",
        "extra": {"stitch_client_id": 42, "budget_backend": "memory", "jobs_budget": 10},
    }


def test_airflow_environment_is_private_and_drops_foreign_settings(tmp_path: Path) -> None:
    base = {
        "PATH": os.environ.get("PATH", ""),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW_CONN_X": "y",
    }
    env = dag_runs.airflow_environment(tmp_path / "home", dags_folder=EXAMPLE_DAGS, base=base)
    assert env["AIRFLOW_HOME"] == str(tmp_path / "home")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'home' / 'airflow.db'}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(EXAMPLE_DAGS)
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    major = int(importlib.metadata.version("apache-airflow").split(".")[0])
    assert env["AIRFLOW__CORE__EXECUTOR"] == ("LocalExecutor" if major >= 3 else "SequentialExecutor")
    assert "AIRFLOW_CONN_X" not in env


@pytest.mark.parametrize(
    ("row", "text"),
    [
        (None, "none reported"),
        ({"completion_time": None}, "still running"),
        (
            {
                "completion_time": "t",
                "discovery_exit_status": 0,
                "tap_exit_status": 0,
                "target_exit_status": 0,
            },
            "succeeded (discovery, tap and target exit status 0)",
        ),
        (
            {
                "completion_time": "t",
                "discovery_exit_status": 0,
                "tap_exit_status": 1,
                "tap_description": "tap broke",
                "target_exit_status": None,
            },
            "failed in tap (exit status 1): tap broke",
        ),
    ],
)
def test_extraction_text(row: dict[str, object] | None, text: str) -> None:
    assert dag_runs.extraction_text(row) == text


def test_no_test_loads_the_demo_script() -> None:
    this_file = Path(__file__).resolve()
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "tests").rglob("*.py"))
        if path.resolve() != this_file and "demo.py" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_the_package_modules_import_neither_airflow_nor_the_client() -> None:
    for module in ("dag_runs", "harness"):
        source = (REPO_ROOT / "airflow_provider_stitch" / "emulator" / f"{module}.py").read_text(
            encoding="utf-8"
        )
        imported = {
            alias.name if isinstance(node, ast.Import) else str(node.module)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        assert not {name for name in imported if name.startswith(("airflow.", "airflow_provider_stitch.api"))}
        assert "airflow" not in imported
