"""Fixtures for operator tests: an emulator-backed ``stitch_default`` connection and a small task context."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_stitch.emulator.harness import StitchEmulator
from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator
from tests.testkit.jobs import JobsEnv, jobs_env, make_sources
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


@pytest.fixture
def env(stitch_emulator_manual: StitchEmulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> JobsEnv:
    """The manual-clock emulator as the jobs connection; the start operator's sleeps move its clock."""
    environment = jobs_env(stitch_emulator_manual, tmp_path, monkeypatch)
    monkeypatch.setattr(
        StitchStartReplicationOperator, "sleep", staticmethod(stitch_emulator_manual.runtime.clock.advance)
    )
    return environment


@pytest.fixture
def source_id(env: JobsEnv) -> int:
    """A source of ``env`` whose syncs take 42 emulator seconds (tap 40 s)."""
    (source,) = make_sources(env.emulator, env.client, 1)
    env.emulator.control.arrange(source, durations={"discovery": 1.0, "tap": 40.0, "target": 1.0})
    return source
