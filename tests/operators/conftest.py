"""Fixtures for operator tests: an emulator-backed ``stitch_default`` connection and a small task context."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_stitch.emulator.harness import StitchEmulator
from tests.testkit.operators import RecordingTaskInstance, retry_at_once, wire_default_connection


@pytest.fixture
def context() -> dict[str, Any]:
    """A minimal execution context with a recording task instance."""
    return {"ti": RecordingTaskInstance()}


@pytest.fixture(autouse=True)
def no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen at once, so fault tests stay fast."""
    retry_at_once(monkeypatch)


@pytest.fixture
def emulator(stitch_emulator: StitchEmulator, monkeypatch: pytest.MonkeyPatch) -> StitchEmulator:
    """A reset real-clock emulator with quick connection checks, wired as ``stitch_default``."""
    return wire_default_connection(stitch_emulator, monkeypatch)
