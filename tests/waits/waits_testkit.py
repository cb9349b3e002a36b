"""What the "every wait ends with its own job's result" tests share: a sped-up real-clock emulator account
wired as an Airflow connection, DAG-run-like task sequences, and a worker clock that disagrees with Stitch's.

Nothing here pins the provider's clocks to the emulator's: the worker keeps its own clock (optionally
skewed), the emulator keeps its own (optionally sped up), as in a real deployment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, PokeReturnValue

from airflow_provider_stitch.emulator.dag_runs import stitch_connection_json
from airflow_provider_stitch.emulator.harness import StitchEmulator
from tests.testkit.jobs import DESTINATION, FRESHDESK

CONN_ID = "stitch_waits"
#: Real seconds a test waits for one task at most (the page schedule reads a page every ~20 s at speed 1).
TASK_TIMEOUT = 150.0


class RecordingTaskInstance:
    """Just enough of a task instance: XCom pushes, and pulls of what upstream tasks pushed."""

    def __init__(self, upstream: dict[tuple[str, str], Any] | None = None) -> None:
        self.pushed: dict[str, Any] = {}
        self.upstream = dict(upstream or {})

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON-serialisable
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.upstream.get((task_ids, key))


class RecordingOutletEvents(dict):  # type: ignore[type-arg]
    """``context["outlet_events"]``: records the assets added to each alias."""

    def __missing__(self, key: Any) -> Any:
        recorder = _AliasRecorder()
        self[key] = recorder
        return recorder

    def uris(self) -> list[str]:
        """Every asset URI added, over all aliases."""
        return [uri for recorder in self.values() for uri in recorder.uris]


class _AliasRecorder:
    def __init__(self) -> None:
        self.uris: list[str] = []

    def add(self, asset: Any) -> None:
        self.uris.append(asset.uri)


class WaitsAccount:
    """The emulator's primary account as the connection ``CONN_ID`` (SQLite budget in a temp dir)."""

    def __init__(self, emulator: StitchEmulator, budget_path: Path) -> None:
        self.emulator = emulator
        self.budget_path = budget_path

    def connection_json(self) -> str:
        extra = {"budget_backend": "sqlite", "budget_location": str(self.budget_path)}
        speed = self.emulator.speed if self.emulator.speed != 1 else None
        return stitch_connection_json(
            self.emulator.base_url,
            self.emulator.token,
            self.emulator.client_id,
            emulator_speed=speed,
            extra=extra,
        )

    @property
    def client(self) -> Any:
        from airflow_provider_stitch.hooks.stitch import StitchHook

        return StitchHook(CONN_ID).get_client()

    def make_source(self, name: str = "Shop") -> int:
        """A destination (once) and a Freshdesk source; scheduled runs off so only the tests start jobs."""
        client = self.client
        self.emulator.control.configure(run_schedules=False)
        if not client.list_destinations():
            client.create_destination("postgres", DESTINATION, "warehouse")
        return int(client.create_source("platform.freshdesk", name, FRESHDESK).id)

    def arrange(self, source_id: int, tap: float, **scenario: Any) -> None:
        """The source's next job: discovery 1 s, tap ``tap`` s, target 1 s (emulator seconds), plus faults."""
        self.emulator.control.arrange(
            source_id, durations={"discovery": 1.0, "tap": float(tap), "target": 1.0}, **scenario
        )

    def jobs_of(self, source_id: int) -> list[dict[str, Any]]:
        """The emulator's jobs of a source, oldest first."""
        jobs = self.emulator.control.state()["accounts"][0]["jobs"]
        return [job for job in jobs if job["source_id"] == source_id]


def poke_until_done(sensor: Any, context: dict[str, Any], *, timeout: float = TASK_TIMEOUT) -> Any:
    """Poke like a sensor in poke mode (every 0.2 s real) until it is done; its XCom value."""
    give_up = time.monotonic() + timeout
    while True:
        answer = sensor.poke(context)
        if isinstance(answer, PokeReturnValue) and answer.is_done:
            return answer.xcom_value
        if answer is True:
            return None
        if time.monotonic() > give_up:
            raise AssertionError(f"{sensor.task_id} did not finish within {timeout} s")
        time.sleep(0.2)


def outcome_of(call: Any) -> tuple[str, Any]:
    """``("ok", value)`` or ``("failed", message)`` of a task callable."""
    try:
        return "ok", call()
    except AirflowException as failure:
        return "failed", str(failure)


@contextmanager
def worker_clock_skewed(monkeypatch: Any, seconds: float) -> Iterator[None]:
    """Run with this worker's wall clock ``seconds`` away from Stitch's (the emulator's clock is left alone).

    Enter it before the test's first request: the Jobs budget's store then starts its timeline from the
    skewed wall clock, as on a host whose clock is wrong.
    """
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + seconds)
    yield
