"""Fixtures for operator tests: an emulator-backed ``stitch_default`` connection and a small task context."""

from __future__ import annotations

from typing import Any

import pytest
from operator_testkit import RecordingTaskInstance, connection_json

from airflow_provider_stitch.emulator.harness import StitchEmulator


@pytest.fixture
def context() -> dict[str, Any]:
    """A minimal execution context with a recording task instance."""
    return {"ti": RecordingTaskInstance()}


@pytest.fixture(autouse=True)
def no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen at once, so fault tests stay fast."""
    monkeypatch.setattr("airflow_provider_stitch.api.base.default_retry_wait", lambda: lambda state: 0.0)


@pytest.fixture
def emulator(stitch_emulator: StitchEmulator, monkeypatch: pytest.MonkeyPatch) -> StitchEmulator:
    """A reset real-clock emulator with quick connection checks, wired as ``stitch_default``."""
    stitch_emulator.control.configure(check_seconds=0.0, destination_limit=1)
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_DEFAULT", connection_json(stitch_emulator))
    return stitch_emulator
