"""Redis down at a wait's very first contact: the wait goes on, sends no Jobs request, and finishes later.

Real Airflow operators, sensors and triggers, a real redis-server on loopback (not started until the test
says so: this process never reached it before), real HTTP to a sped-up emulator child process. The budget
is on the store's own clock (Redis ``TIME``), nothing injected: a store never reached has no clock to lend
the wait, which is the case these tests are about. The emulator counts the Jobs requests by its own routes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, PokeReturnValue

from airflow_provider_stitch.api import budget_redis
from airflow_provider_stitch.api.budget import JobsBudget, process_time
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.jobs import forget_monitors
from airflow_provider_stitch.emulator.harness import EmulatorProcess
from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator
from airflow_provider_stitch.sensors import StitchExtractionSensor
from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger
from tests.testkit.jobs import DESTINATION, FRESHDESK, FakeTaskInstance
from tests.testkit.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server binary is not installed")

CONN_ID = "stitch_first_contact"
PASSWORD = "s3cret-first-contact-pass"
#: Real seconds the store stays away before it is started (1,800 emulator seconds: the job ends meanwhile).
DOWN_FOR = 3.0
#: Emulator seconds of the job's tap phase (a tenth of a real second at the emulator's speed).
TAP_SECONDS = 60.0
#: Real seconds any wait of these tests may take once the store is back (a loaded 2-core box).
GIVE_UP = 60.0
#: Seconds this host's clock runs ahead of the Redis server's in the skewed-clock case.
HOST_AHEAD = 1800.0


@pytest.fixture
def redis_later() -> Iterator[RedisServer]:
    """A redis-server on a port chosen now, not started until the test starts it."""
    server = RedisServer(password=PASSWORD)
    try:
        yield server
    finally:
        server.stop()


class Setup:
    """The emulator with one source, and the Airflow connection paying from the (down) Redis store."""

    def __init__(self, emulator: EmulatorProcess, redis: RedisServer) -> None:
        self.emulator = emulator
        self.redis = redis
        self.control = emulator.control()
        self.control.configure(run_schedules=False)
        client = StitchClient(
            emulator.token,
            base_url=emulator.base_url,
            client_id=emulator.client_id,
            budget=JobsBudget(emulator.client_id),
        )
        try:
            client.create_destination("postgres", DESTINATION, "warehouse")
            self.source_id = client.create_source("platform.freshdesk", "Shop first contact", FRESHDESK).id
            self.control.arrange(
                self.source_id, durations={"discovery": 1.0, "tap": TAP_SECONDS, "target": 1.0}
            )
            self.start_client = client
        except BaseException:
            client.close()
            raise

    def start_job(self) -> str:
        return str(self.start_client.start_sync(self.source_id).job_name)

    def jobs_requests(self) -> int:
        return int(self.control.stats(include_log=False)["requests"]["jobs"])

    def close(self) -> None:
        self.start_client.close()
        self.control.close()


@pytest.fixture
def setup(emulator, redis_later, monkeypatch) -> Iterator[Setup]:
    extras = {
        "stitch_client_id": emulator.client_id,
        "budget_backend": "redis",
        "budget_location": redis_later.url,
    }
    connection = {
        "conn_type": "stitch",
        "host": emulator.base_url,
        "password": emulator.token,
        "extra": extras,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
    forget_monitors()
    built = Setup(emulator, redis_later)
    try:
        yield built
    finally:
        built.close()
        forget_monitors()


def provider_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("airflow_provider_stitch")]


def assert_no_password(texts: list[str]) -> None:
    leaked = [text for text in texts if PASSWORD in text]
    assert not leaked, leaked


def test_a_poking_sensor_goes_on_while_redis_never_answered_and_finds_the_outcome_once_it_does(setup, caplog):
    job_name = setup.start_job()
    waiting = StitchExtractionSensor(
        task_id="wait", stitch_conn_id=CONN_ID, source_id=setup.source_id, job_name=job_name
    )
    context: dict[str, Any] = {"ti": FakeTaskInstance()}
    with caplog.at_level(logging.INFO, logger="airflow_provider_stitch"):
        pokes_down = 0
        down_until = time.monotonic() + DOWN_FOR
        while time.monotonic() < down_until or pokes_down < 3:
            assert waiting.poke(context) is False
            pokes_down += 1
            time.sleep(0.25)
        assert setup.jobs_requests() == 0, "a Jobs request went out while the budget store never answered"

        setup.redis.start()
        give_up = time.monotonic() + GIVE_UP
        answer: Any = False
        while not answer and time.monotonic() < give_up:
            time.sleep(0.25)
            answer = waiting.poke(context)
    assert isinstance(answer, PokeReturnValue) and answer.is_done
    assert answer.xcom_value["job_name"] == job_name and answer.xcom_value["succeeded"] is True
    messages = provider_messages(caplog)
    estimated = [m for m in messages if "has not answered yet" in m]
    held_back = [m for m in messages if "no Jobs request while the budget store does not answer" in m]
    assert len(estimated) == 1 and f"redis://127.0.0.1:{setup.redis.port}/0" in estimated[0], estimated
    assert len(held_back) == 1, held_back  # bounded: once for the outage, not once per poke
    assert re.search(r", since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)", held_back[0]), held_back
    assert any("budget store answers again" in m for m in messages)
    assert_no_password(messages)


def test_a_host_clock_half_an_hour_ahead_of_redis_does_not_hold_the_wait_back_once_redis_answers(
    setup, monkeypatch, caplog
):
    # This host's clock stands in for the store's until Redis answers; here it is 30 min ahead of Redis's.
    monkeypatch.setattr(budget_redis, "process_time", lambda: process_time() + HOST_AHEAD)
    job_name = setup.start_job()
    waiting = StitchExtractionSensor(
        task_id="wait", stitch_conn_id=CONN_ID, source_id=setup.source_id, job_name=job_name
    )
    context: dict[str, Any] = {"ti": FakeTaskInstance()}
    with caplog.at_level(logging.INFO, logger="airflow_provider_stitch"):
        for _ in range(3):
            assert waiting.poke(context) is False
            time.sleep(0.25)
        setup.redis.start()
        back_at = time.monotonic()
        answer: Any = False
        while not answer and time.monotonic() < back_at + GIVE_UP:
            time.sleep(0.25)
            answer = waiting.poke(context)
    assert isinstance(answer, PokeReturnValue) and answer.xcom_value["job_name"] == job_name
    replaced = [m for m in provider_messages(caplog) if "replaces this host's" in m]
    assert len(replaced) == 1 and re.search(r"which was 18\d\d\.\d s ahead", replaced[0]), replaced


def test_the_start_operators_worker_wait_begins_while_redis_is_down_and_finishes_after_it_returns(
    setup, caplog
):
    operator = StitchStartReplicationOperator(
        task_id="start_sync",
        stitch_conn_id=CONN_ID,
        source_id=setup.source_id,
        poll_interval=0.2,
        timeout=120,
    )
    sent: dict[str, int] = {}

    def start_redis() -> None:
        sent["while_down"] = setup.jobs_requests()
        setup.redis.start()

    timer = threading.Timer(DOWN_FOR, start_redis)  # the operator runs in this (the task's) thread
    started = time.monotonic()
    timer.start()
    try:
        with caplog.at_level(logging.INFO, logger="airflow_provider_stitch"):
            job_name = operator.execute({"ti": FakeTaskInstance()})
    finally:
        timer.cancel()
    assert time.monotonic() - started >= DOWN_FOR, "the operator ended before the store came back"
    assert sent.get("while_down") == 0, "a Jobs request went out while the budget store never answered"
    jobs = setup.control.state()["accounts"][0]["jobs"]
    assert [job["job_name"] for job in jobs if job["source_id"] == setup.source_id] == [job_name]
    assert_no_password(provider_messages(caplog))


def test_a_failed_job_fails_the_task_with_stitchs_message_while_redis_is_down(setup, capsys):
    operator = StitchStartReplicationOperator(
        task_id="start_sync", stitch_conn_id=CONN_ID, source_id=setup.source_id
    )
    event = {
        "status": "failed",
        "source_id": setup.source_id,
        "job_name": "job-that-failed",
        "message": "the tap phase exited with status 1: HTTP 401 from the API",
        "extraction": {
            "job_name": "job-that-failed",
            "succeeded": False,
            "completion_time": time.time(),
            "failed_phase": "tap",
            "message": "the tap phase exited with status 1: HTTP 401 from the API",
        },
    }
    with pytest.raises(AirflowException) as failure:
        operator.execute_complete({"ti": FakeTaskInstance()}, event)
    assert "failed: the tap phase exited with status 1: HTTP 401 from the API" in str(failure.value)
    printed = capsys.readouterr()
    task_log = printed.out + printed.err
    lines = [line for line in task_log.splitlines() if "Extraction logs of job-that-failed" in line]
    assert len(lines) == 1 and "/extractions/job-that-failed (skipped now: " in lines[0], lines
    assert f"redis://127.0.0.1:{setup.redis.port}/0" in lines[0], lines
    assert setup.jobs_requests() == 0
    assert_no_password([task_log])


def run_trigger(trigger: StitchExtractionTrigger) -> list[Any]:
    async def collect() -> list[Any]:
        return [event async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(collect(), GIVE_UP + DOWN_FOR))


def test_a_trigger_that_starts_while_redis_is_down_waits_and_fires_success_once_it_is_back(setup):
    job_name = setup.start_job()
    trigger = StitchExtractionTrigger(
        stitch_conn_id=CONN_ID, source_id=setup.source_id, job_name=job_name, deadline=time.time() + 120
    )
    sent: dict[str, int] = {}

    def start_redis() -> None:
        sent["while_down"] = setup.jobs_requests()
        setup.redis.start()

    timer = threading.Timer(DOWN_FOR, start_redis)
    timer.start()
    try:
        events = run_trigger(trigger)
    finally:
        timer.cancel()
    assert sent.get("while_down") == 0, "the trigger ended before the store came back, or sent a Jobs request"
    (event,) = events
    assert event.payload["status"] == "success", event.payload
    assert event.payload["extraction"]["job_name"] == job_name


def test_a_trigger_whose_store_never_answers_fails_at_its_deadline_naming_the_store(setup):
    job_name = setup.start_job()
    started = time.monotonic()
    trigger = StitchExtractionTrigger(
        stitch_conn_id=CONN_ID, source_id=setup.source_id, job_name=job_name, deadline=time.time() + DOWN_FOR
    )
    (event,) = run_trigger(trigger)
    assert time.monotonic() - started >= DOWN_FOR - 0.5, "the wait gave up before its deadline"
    assert event.payload["status"] == "timeout", event.payload
    message = event.payload["message"]
    assert "the deadline passed" in message
    assert f"the Jobs budget store redis://127.0.0.1:{setup.redis.port}/0 has not answered since" in message
    assert PASSWORD not in message
    assert setup.jobs_requests() == 0


def test_the_worker_wait_fails_at_its_deadline_naming_the_store_that_never_answered(setup):
    operator = StitchStartReplicationOperator(
        task_id="start_sync", stitch_conn_id=CONN_ID, source_id=setup.source_id, poll_interval=0.2, timeout=3
    )
    started = time.monotonic()
    with pytest.raises(AirflowException) as failure:
        operator.execute({"ti": FakeTaskInstance()})
    assert time.monotonic() - started >= 3 - 0.5, "the wait gave up before its deadline"
    message = str(failure.value)
    assert "did not finish within 3 s" in message
    assert f"the Jobs budget store redis://127.0.0.1:{setup.redis.port}/0 has not answered since" in message
    assert PASSWORD not in message
    assert setup.jobs_requests() == 0
