"""Fixtures shared with the JobsMonitor tests (helpers live in tests/monitor/jobs_testkit.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitor"))

from jobs_testkit import JobsEnv, jobs_env  # noqa: E402


@pytest.fixture
def env(stitch_emulator_manual, tmp_path, monkeypatch) -> JobsEnv:
    """A reset manual-clock emulator, budget clock pinned to it, connection ``stitch_jobs_test``."""
    return jobs_env(stitch_emulator_manual, tmp_path, monkeypatch)
