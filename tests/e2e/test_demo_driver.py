"""The demo driver's own plumbing: the emulator child process, the connection JSON and the Airflow environment."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from types import ModuleType

import httpx


def test_emulator_child_serves_and_stops_by_pid(demo: ModuleType, tmp_path: Path) -> None:
    emulator = demo.EmulatorProcess(tmp_path, speed=5.0).start()
    try:
        assert emulator.base_url.startswith("http://127.0.0.1:")
        assert emulator.token.startswith("ac_") and emulator.client_id > 0
        response = httpx.get(
            f"{emulator.base_url}/v4/sources", headers={"Authorization": f"Bearer {emulator.token}"}
        )
        assert response.status_code == 200 and response.json() == []
    finally:
        emulator.stop()
    assert emulator.process.returncode is not None
    emulator.stop()  # a second stop is harmless


def test_connection_json_is_what_the_hook_reads(demo: ModuleType) -> None:
    text = demo.stitch_connection_json(
        "http://127.0.0.1:9", "ac_fake", 42, extra={"budget_backend": "memory", "jobs_budget": 10}
    )
    assert json.loads(text) == {
        "conn_type": "stitch",
        "host": "http://127.0.0.1:9",
        "password": "ac_fake",
        "extra": {"stitch_client_id": 42, "budget_backend": "memory", "jobs_budget": 10},
    }


def test_airflow_environment_is_private_and_drops_foreign_settings(demo: ModuleType, tmp_path: Path) -> None:
    base = {
        "PATH": os.environ.get("PATH", ""),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW_CONN_X": "y",
    }
    env = demo.airflow_environment(tmp_path / "home", base=base)
    assert env["AIRFLOW_HOME"] == str(tmp_path / "home")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'home' / 'airflow.db'}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(demo.EXAMPLE_DAGS)
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    major = int(importlib.metadata.version("apache-airflow").split(".")[0])
    assert env["AIRFLOW__CORE__EXECUTOR"] == ("LocalExecutor" if major >= 3 else "SequentialExecutor")
    assert "AIRFLOW_CONN_X" not in env
