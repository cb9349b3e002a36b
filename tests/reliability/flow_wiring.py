"""Wiring in-process Airflow tasks to a fast emulator: the connection, short timeouts, no retry pauses and
worker waits in emulator seconds (shared by tests and benchmark). The Jobs budget follows the speed the
emulator reports in its answers, as it does for users, so no clock is injected."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_stitch.emulator.dag_runs import stitch_connection_json
from tests.reliability.fault_kinds import CLIENT_TIMEOUT, zero_wait

#: Emulator seconds per real second for the task flows (a 10 s job ends in 0.2 s).
FLOW_SPEED = 50.0


def scaled_sleep(seconds: float) -> None:
    """Sleep emulator seconds on the fast emulator."""
    time.sleep(max(seconds, 0.0) / FLOW_SPEED)


def wire_tasks_to(emulator: Any, budget_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point ``stitch_default`` at ``emulator`` and make task waits fast; undone with ``monkeypatch``.

    :param emulator: a running real-clock emulator at :data:`FLOW_SPEED`.
    :param budget_path: SQLite file of the Jobs budget for these tasks.
    :param monkeypatch: where the changes are recorded (a fixture's, or ``pytest.MonkeyPatch.context()``).
    """
    from airflow_provider_stitch.api import base as client_base
    from airflow_provider_stitch.api.jobs import forget_monitors
    from airflow_provider_stitch.hooks.stitch import StitchHook
    from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator

    extra = {"budget_backend": "sqlite", "budget_location": budget_path}
    connection = stitch_connection_json(emulator.base_url, emulator.token, emulator.client_id, extra=extra)
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_DEFAULT", connection)
    monkeypatch.setitem(StitchHook.__init__.__kwdefaults__, "timeout", CLIENT_TIMEOUT)
    monkeypatch.setattr(client_base, "default_retry_wait", lambda: zero_wait)
    monkeypatch.setattr(StitchStartReplicationOperator, "sleep", staticmethod(scaled_sleep))
    forget_monitors()
