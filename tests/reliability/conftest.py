"""Fixtures of the reliability tests: a fast real-clock emulator and Airflow tasks wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.fault_kinds import let_delayed_answers_finish
from tests.reliability.flow_wiring import FLOW_SPEED, wire_tasks_to


@pytest.fixture(scope="session")
def flow_emulator_server() -> Iterator[Any]:
    """A fast real-clock emulator without scheduled runs, shared by the session."""
    from airflow_provider_stitch.emulator import StitchEmulator

    with StitchEmulator(speed=FLOW_SPEED, run_schedules=False) as emulator:
        yield emulator


@pytest.fixture
def flow_env(flow_emulator_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The fast emulator, reset, with in-process tasks wired to it (see :func:`flow_wiring.wire_tasks_to`)."""
    from airflow_provider_stitch.api.jobs import forget_monitors

    emulator = flow_emulator_server
    emulator.control.reset()
    wire_tasks_to(emulator, str(tmp_path / "jobs-budget.sqlite"), monkeypatch)
    yield emulator
    forget_monitors()
    let_delayed_answers_finish(emulator)
