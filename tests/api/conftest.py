"""Fixtures for the API client tests: fast clients and a manual clock."""

from __future__ import annotations

import pytest
from tenacity import wait_none

from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.client import StitchClient
from tests.api.stitch_api_testkit import CLIENT_ID, TOKEN, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def budget(clock: ManualClock) -> JobsBudget:
    return JobsBudget(CLIENT_ID, backend=InMemoryBudgetBackend(), clock=clock, sleep=clock.sleep)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(budget: JobsBudget, sleeps: list[float]) -> StitchClient:
    return StitchClient(
        TOKEN,
        client_id=CLIENT_ID,
        budget=budget,
        validate=False,
        retry_wait=wait_none(),
        retry_sleep=sleeps.append,
    )
