"""A retry whose budget Redis does not answer waits for it before deciding: no second sync meanwhile.

Real redis-server on loopback (stopped, then started again on its port with the record back, as a Redis
that keeps its data comes back), real HTTP to the sped-up emulator process. Try 1 starts a sync and dies
while it waits; Redis goes away; the job ends; try 2 starts while Redis is still away.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import structlog

from airflow_provider_stitch.api.budget import JobsBudget
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.jobs import forget_monitors
from airflow_provider_stitch.api.jobs.own_jobs import OwnJobRecords, TaskIdentity
from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator
from tests.testkit.jobs import DESTINATION, FRESHDESK
from tests.testkit.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server binary is not installed")

CONN_ID = "stitch_retry_outage"
PASSWORD = "s3cret-redis-outage-password"
TASK = TaskIdentity("stitch_sync", "scheduled__outage", "start_sync")
#: Emulator seconds of the tap phase: 5 real seconds at the budget tests' emulator speed.
TAP_SECONDS = 3000.0


class Interrupted(Exception):
    """Stands in for the worker dying while try 1 waits."""


class TryOfTask:
    dag_id, run_id, task_id, map_index = TASK.dag_id, TASK.run_id, TASK.task_id, TASK.map_index

    def __init__(self, try_number: int) -> None:
        self.try_number = try_number

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)


@pytest.fixture
def task_log(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    caplog.set_level("INFO")
    with structlog.testing.capture_logs() as captured:
        yield lambda: [str(e["event"]) for e in captured] + [r.getMessage() for r in caplog.records]


def jobs_of(control: Any, source_id: int) -> list[str]:
    jobs = control.state()["accounts"][0]["jobs"]
    return [
        job["job_name"]
        for job in sorted(jobs, key=lambda j: j["started_at"])
        if job["source_id"] == source_id
    ]


def test_a_retry_waits_for_the_store_then_goes_on_with_its_job(emulator, monkeypatch, task_log) -> None:
    control = emulator.control()
    client = StitchClient(emulator.token, base_url=emulator.base_url, client_id=emulator.client_id)
    server = RedisServer(password=PASSWORD).start()
    try:
        control.configure(run_schedules=False)
        if not client.list_destinations():
            client.create_destination("postgres", DESTINATION, "warehouse")
        source_id = client.create_source("platform.freshdesk", "Outage retry", FRESHDESK).id
        control.arrange(source_id, durations={"discovery": 1.0, "tap": TAP_SECONDS, "target": 1.0})
        extras = {
            "stitch_client_id": emulator.client_id,
            "budget_backend": "redis",
            "budget_location": server.url,
        }
        connection = {
            "conn_type": "stitch",
            "host": emulator.base_url,
            "password": emulator.token,
            "extra": extras,
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
        forget_monitors()

        def killed(seconds: float) -> None:
            raise Interrupted

        monkeypatch.setattr(StitchStartReplicationOperator, "sleep", staticmethod(killed))
        with pytest.raises(Interrupted):
            StitchStartReplicationOperator(
                task_id="start_sync", source_id=source_id, stitch_conn_id=CONN_ID
            ).execute({"ti": TryOfTask(1)})
        (started,) = jobs_of(control, source_id)
        # the Redis backend's key layout: <prefix>record:<record key>
        key = "airflow-provider-stitch:record:" + OwnJobRecords(JobsBudget(emulator.client_id)).key(
            TASK, source_id
        )
        direct = redis.Redis.from_url(server.url, decode_responses=True)
        kept = direct.get(key)
        direct.close()
        assert kept is not None and json.loads(kept)["job_name"] == started
        server.stop()
        give_up = time.monotonic() + 60
        while control.state()["accounts"][0]["jobs"][-1]["phase"] != "done":
            assert time.monotonic() < give_up, "the job did not end"
            time.sleep(0.05)

        back: list[float] = []

        def store_comes_back_later(seconds: float) -> None:
            if not back:  # the first pause of try 2: Redis returns with its data
                back.append(seconds)
                server.start()
                again = redis.Redis.from_url(server.url, decode_responses=True)
                again.set(key, kept, ex=3600)
                again.close()
            time.sleep(min(seconds, 0.2))

        monkeypatch.setattr(StitchStartReplicationOperator, "sleep", staticmethod(store_comes_back_later))
        retry = StitchStartReplicationOperator(
            task_id="start_sync", source_id=source_id, stitch_conn_id=CONN_ID, poll_interval=0.2
        )
        assert retry.execute({"ti": TryOfTask(2)}) == started
        assert jobs_of(control, source_id) == [started]
        lines = task_log()
        waited = [line for line in lines if "the budget store does not answer" in line and "Try 2" in line]
        assert len(waited) == 1 and "nothing is started meanwhile" in waited[0], lines
        assert not any(PASSWORD in line for line in lines)
        assert any(line.startswith(f"Try 2: try 1 of this task started {started}") for line in lines)
    finally:
        server.stop()
        client.close()
        control.close()
        forget_monitors()
