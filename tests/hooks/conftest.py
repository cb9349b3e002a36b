"""Fixtures of the hook tests: every test starts with no remembered emulator speeds or opened stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_stitch.api.budget_stores import forget_shared_backends
from airflow_provider_stitch.api.emulator_speed import forget_reported_speeds
from airflow_provider_stitch.api.jobs import forget_monitors


@pytest.fixture(autouse=True)
def fresh_process_state() -> Iterator[None]:
    """No speed, store or monitor survives from one test to the next."""
    forget_reported_speeds()
    forget_shared_backends()
    forget_monitors()
    yield
    forget_reported_speeds()
    forget_shared_backends()
    forget_monitors()
