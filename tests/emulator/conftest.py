"""One manual-clock emulator per test module, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.emulator import StitchEmulator


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[StitchEmulator]:
    with StitchEmulator(clock="manual", client_id=116078) as emulator:
        yield emulator


@pytest.fixture
def emu(emulator_server: StitchEmulator) -> StitchEmulator:
    emulator_server.control.reset()
    return emulator_server


@pytest.fixture
def client(emu: StitchEmulator) -> Iterator[StitchClient]:
    with StitchClient(emu.token, base_url=emu.base_url, client_id=emu.client_id, max_attempts=1) as stitch:
        yield stitch


@pytest.fixture
def http(emu: StitchEmulator) -> Iterator[httpx.Client]:
    """Plain HTTP with the account's token, for checking raw bodies and status codes."""
    with httpx.Client(
        base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.token}"}, timeout=10
    ) as session:
        yield session
