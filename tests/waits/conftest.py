"""A fresh real-clock emulator per test (sped up as the test asks), wired as the connection ``stitch_waits``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_stitch.emulator.harness import StitchEmulator
from tests.waits.waits_testkit import CONN_ID, WaitsAccount


@pytest.fixture
def speed(request: Any) -> float:
    """Emulator seconds per real second (parametrise indirectly to change it)."""
    return float(getattr(request, "param", 10.0))


@pytest.fixture
def account(speed: float, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[WaitsAccount]:
    """The emulator's primary account as ``stitch_waits``, with its own SQLite budget; monitors forgotten."""
    from airflow_provider_stitch.api.jobs import forget_monitors

    with StitchEmulator(speed=speed) as emulator:
        emulator.control.configure(check_seconds=0.0)
        wired = WaitsAccount(emulator, tmp_path / "jobs-budget.sqlite")
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", wired.connection_json())
        forget_monitors()
        yield wired
        forget_monitors()
