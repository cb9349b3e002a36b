"""Test data and helpers of the operator tests, shared with the trigger tests and the benchmarks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_stitch.emulator.dag_runs import stitch_connection_json
from airflow_provider_stitch.emulator.harness import StitchEmulator

POSTGRES_SOURCE_PROPERTIES = {
    "host": "db.example.com",
    "port": "5432",
    "user": "stitch",
    "password": "s3cret-pg-password",
    "dbname": "shop",
    "include_schemas_in_destination_stream_name": "true",
    "frequency_in_minutes": "60",
}
POSTGRES_DESTINATION_PROPERTIES = {
    "host": "warehouse.example.com",
    "port": "5432",
    "username": "loader",
    "password": "s3cret-dw-password",
    "database": "analytics",
    "ssl": "false",
    "encryption_type": "none",
}


class RecordingTaskInstance:
    """Stands in for the task instance: records XCom pushes."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON-serialisable
        self.xcom[key] = value


def connection_json(emulator: StitchEmulator, **extra: Any) -> str:
    """The AIRFLOW_CONN_STITCH_DEFAULT value pointing at the emulator."""
    extras = {"budget_backend": "memory", **extra}
    return stitch_connection_json(emulator.base_url, emulator.token, emulator.client_id, extra=extras)


def request_count(emulator: StitchEmulator) -> int:
    """Requests the emulator's API (not its control endpoints) has served since the last reset."""
    return int(emulator.control.stats(include_log=False)["requests"]["total"])


def wire_default_connection(emulator: StitchEmulator, monkeypatch: pytest.MonkeyPatch) -> StitchEmulator:
    """Point ``stitch_default`` at a reset real-clock emulator whose connection checks end at once.

    :param emulator: the reset emulator (the ``stitch_emulator`` fixture).
    :param monkeypatch: the test's monkeypatch, which undoes the setting afterwards.
    """
    emulator.control.configure(check_seconds=0.0, destination_limit=1)
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_DEFAULT", connection_json(emulator))
    return emulator


def retry_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the clients retry without waiting, so fault tests stay fast.

    :param monkeypatch: the test's monkeypatch, which undoes the change afterwards.
    """
    monkeypatch.setattr("airflow_provider_stitch.api.base.default_retry_wait", lambda: lambda state: 0.0)
