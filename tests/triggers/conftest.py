"""Fixtures shared with the JobsMonitor tests (helpers live in tests/testkit/jobs.py)."""

from __future__ import annotations

import pytest

from tests.testkit.jobs import JobsEnv, jobs_env


@pytest.fixture
def env(stitch_emulator_manual, tmp_path, monkeypatch) -> JobsEnv:
    """A reset manual-clock emulator, budget clock pinned to it, connection ``stitch_jobs_test``."""
    return jobs_env(stitch_emulator_manual, tmp_path, monkeypatch)
