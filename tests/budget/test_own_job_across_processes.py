"""One sync per task across retries when the tries run in different processes on one Redis store.

Two worker processes stand in for two hosts: try 1 starts a sync and is killed (SIGKILL: no ``on_kill``,
the job goes on) while it waits; the job ends; try 2 runs in another process whose wall clock is half an
hour off. The emulator (a child process of its own, sped up) is the judge of how many jobs were started.
The Redis backend's record calls are checked on a real redis-server too, up and unreachable.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_stitch.api.budget import JobsBudget
from airflow_provider_stitch.api.budget_redis import RedisBudgetBackend
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.errors import StitchBudgetStoreUnreachable
from airflow_provider_stitch.api.jobs.own_jobs import OwnJob, OwnJobRecords, TaskIdentity
from tests.testkit.jobs import DESTINATION, FRESHDESK
from tests.testkit.redis_server import free_port

WORKER = Path(__file__).with_name("own_job_try_worker.py")
CONN_ID = "stitch_retry_test"
#: Emulator seconds of the tap phase: 5 real seconds at the budget tests' emulator speed.
TAP_SECONDS = 3000.0
PASSWORD = "s3cret-redis-password"


@pytest.fixture
def stitch(emulator) -> Iterator[tuple[Any, StitchClient]]:
    control = emulator.control()
    control.configure(run_schedules=False)
    client = StitchClient(emulator.token, base_url=emulator.base_url, client_id=emulator.client_id)
    try:
        yield control, client
    finally:
        client.close()
        control.close()


def jobs_of(control: Any, source_id: int) -> list[dict[str, Any]]:
    jobs = control.state()["accounts"][0]["jobs"]
    return sorted((job for job in jobs if job["source_id"] == source_id), key=lambda job: job["started_at"])


def worker_env(emulator: Any, redis_url: str) -> dict[str, str]:
    connection = {
        "conn_type": "stitch",
        "host": emulator.base_url,
        "password": emulator.token,
        "extra": {
            "stitch_client_id": emulator.client_id,
            "budget_backend": "redis",
            "budget_location": redis_url,
        },
    }
    return {**os.environ, f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(connection)}


def start_try(env: dict[str, str], tmp_path: Path, source_id: int, run_id: str, number: int, offset: float):
    result = tmp_path / f"try-{number}.json"
    settings = {
        "conn_id": CONN_ID,
        "source_id": source_id,
        "run_id": run_id,
        "try_number": number,
        "clock_offset": offset,
        "result_path": str(result),
    }
    log = open(tmp_path / f"try-{number}.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(settings)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    return process, result, log


def wait_until(condition: Any, what: str, timeout: float = 90.0) -> Any:
    give_up = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("ends", ["succeeded", "failed"])
def test_a_retry_on_another_worker_after_the_kill_starts_a_second_sync_only_when_the_first_failed(
    emulator, stitch, redis_url, tmp_path, ends
) -> None:
    control, client = stitch
    if not client.list_destinations():
        client.create_destination("postgres", DESTINATION, "warehouse")
    source_id = client.create_source("platform.freshdesk", f"Retry {uuid.uuid4().hex[:6]}", FRESHDESK).id
    scenario: dict[str, Any] = {"durations": {"discovery": 1.0, "tap": TAP_SECONDS, "target": 1.0}}
    if ends == "failed":
        scenario["fail"] = {"phase": "tap", "message": "HTTP 401 from Freshdesk"}
    control.arrange(source_id, **scenario)
    env, run_id = worker_env(emulator, redis_url), f"scheduled__{uuid.uuid4().hex}"

    first, _, first_log = start_try(env, tmp_path, source_id, run_id, 1, offset=0.0)
    try:
        (started,) = wait_until(lambda: jobs_of(control, source_id), "try 1 to start a sync")
        time.sleep(0.5)  # try 1 is in its wait now
        assert first.poll() is None, (tmp_path / "try-1.log").read_text()
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
        first_log.close()
    wait_until(
        lambda: all(job["phase"] == "done" for job in jobs_of(control, source_id)), "the job to end", 60
    )

    second, result, second_log = start_try(env, tmp_path, source_id, run_id, 2, offset=1800.0)
    try:
        second.wait(180)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(10)
        second_log.close()
    answer = (
        json.loads(result.read_text()) if result.exists() else {"log": (tmp_path / "try-2.log").read_text()}
    )
    names = [job["job_name"] for job in jobs_of(control, source_id)]
    if ends == "succeeded":
        assert answer == {"returned": started["job_name"]}
        assert names == [started["job_name"]]
    else:
        assert len(names) == 2 and names[0] == started["job_name"], answer
        assert answer == {"returned": names[1]}
    budget = JobsBudget(emulator.client_id, backend=RedisBudgetBackend(redis_url))
    assert OwnJobRecords(budget).recall(TaskIdentity("stitch_sync", run_id, "start_sync"), source_id) is None


# ---------------------------------------------------------------------------------------------- Redis itself

TASK = TaskIdentity("stitch_sync", "manual__2026-12-07", "start_sync")
JOB = OwnJob(42, "116078.42.sync.6b3c1a4e-d3a1-11f1-8000-000000000001", None, True, 1)


def test_redis_keeps_a_record_until_forgotten_or_expired(redis_url: str) -> None:
    backend = RedisBudgetBackend(redis_url, prefix=f"own-jobs-{uuid.uuid4().hex}:")
    records = OwnJobRecords(JobsBudget(116078, backend=backend))
    assert records.remember(TASK, JOB) and records.recall(TASK, 42) == JOB
    records.forget(TASK, 42)
    assert records.recall(TASK, 42) is None
    brief = OwnJobRecords(JobsBudget(116078, backend=backend), ttl=0.3)
    brief.remember(TASK, JOB)
    assert brief.recall(TASK, 42) == JOB
    time.sleep(0.5)
    assert brief.recall(TASK, 42) is None  # expired on the server's clock


def test_an_unreachable_redis_is_logged_or_raised_without_its_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    backend = RedisBudgetBackend(f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
    records = OwnJobRecords(JobsBudget(116078, backend=backend))
    with caplog.at_level(logging.WARNING, "airflow_provider_stitch.own_jobs"):
        assert not records.remember(TASK, JOB)  # after a start: logged, the task goes on
        records.forget(TASK, 42)
    assert "could not record the started job of source 42" in caplog.text
    assert "could not forget the started job of source 42" in caplog.text
    assert f"127.0.0.1:{port}" in caplog.text and PASSWORD not in caplog.text
    with pytest.raises(StitchBudgetStoreUnreachable) as unanswered:  # before a start: the caller waits
        records.recall(TASK, 42)
    assert f"127.0.0.1:{port}" in str(unanswered.value) and PASSWORD not in str(unanswered.value)
