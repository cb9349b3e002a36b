"""Every wait tells its story in the task log: what it waits for, progress at a bounded rate, the outcome per
stream; ISO times and human durations, never a raw epoch. Poke, reschedule and the operator's own wait."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import structlog
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.api.jobs import forget_monitors, progress
from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator
from airflow_provider_stitch.sensors import StitchExtractionSensor, StitchLoadSensor
from tests.testkit.jobs import CONN_ID, FakeTaskInstance, JobsEnv, make_sources, start_jobs

#: An epoch number such as 1795964615.0 (ten digits from 2001 to 2286).
RAW_EPOCH = re.compile(r"\b[1-9]\d{9}(\.\d+)?\b")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture
def task_log(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """The lines the tasks logged (Airflow 3's structlog task logger, or stdlib logging on 2.11)."""
    caplog.set_level("INFO")
    with structlog.testing.capture_logs() as captured:
        yield lambda: [str(e["event"]) for e in captured] + [r.getMessage() for r in caplog.records]


@pytest.fixture
def story_clock(env: JobsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stories' rate and durations follow the manual emulator clock the test moves."""
    monkeypatch.setattr(progress, "monotonic", env.now)


def assert_no_raw_epoch(lines: list[str]) -> None:
    """No line shows a time as an epoch number (job names, whose UUIDs hold digits, are left out)."""
    offenders = [line for line in lines if RAW_EPOCH.search(re.sub(r"\S+\.sync\.\S+", "JOB", line))]
    assert offenders == []


def test_poke_mode_tells_start_progress_once_a_minute_and_outcome(env, story_clock, task_log) -> None:
    (source_id,) = make_sources(env.emulator, env.client, 1)
    job = start_jobs(env.emulator, env.client, [source_id], lambda _: 300.0)[source_id]
    waiting = StitchExtractionSensor(
        task_id="wait", source_id=source_id, job_name=job, stitch_conn_id=CONN_ID, timeout=7200
    )
    pokes = 0
    while not waiting.poke({}):
        pokes += 1
        env.advance(10)
    lines = task_log()
    started = [line for line in lines if line.startswith("Waiting on source")]
    assert started == [
        f"Waiting on source {source_id} (shop_000) for job {job}; gives up in 2 h; "
        "Jobs requests in the last 10 min 10 s: 0 of 30"
    ]
    progress_lines = [line for line in lines if line.startswith("Still waiting")]
    waited = pokes * 10
    assert pokes >= 25 and 3 <= len(progress_lines) <= waited / 60 + 1
    assert re.fullmatch(
        rf"Still waiting on source {source_id} \(shop_000\): the extraction has not finished after 1 min; "
        r"next look in [^;]+; Jobs requests in the last 10 min 10 s: \d+ of 30",
        progress_lines[0],
    )
    (finished,) = [line for line in lines if line.startswith("Extraction ")]
    assert re.fullmatch(
        rf"Extraction {job} of source {source_id} \(shop_000\) succeeded; completed at {ISO} "
        r"\(waited \d+ min( \d+ s)?\)",
        finished,
    )
    assert_no_raw_epoch(lines)


def test_reschedule_mode_logs_one_line_per_poke_and_the_outcome_per_stream(
    env, story_clock, task_log
) -> None:
    (source_id,) = make_sources(env.emulator, env.client, 1)
    env.emulator.control.arrange(source_id, load_error={"message": "disk full", "streams": ["events"]})
    job = start_jobs(env.emulator, env.client, [source_id], lambda _: 120.0)[source_id]
    failure = None
    for _ in range(12):  # a rescheduled sensor: a new task object (and process) per poke
        forget_monitors()
        poke = StitchLoadSensor(
            task_id="wait", source_id=source_id, job_name=job, stitch_conn_id=CONN_ID, mode="reschedule"
        )
        try:
            if poke.poke({}):
                break
        except AirflowException as error:
            failure = str(error)
            break
        env.advance(60)
    assert failure == f"Stitch loads of source {source_id} failed: loading stream 'events' failed: disk full"
    lines = task_log()
    starts = [line for line in lines if line.startswith("Waiting on source")]
    assert starts and all(
        line.startswith(f"Waiting on source {source_id} (shop_000) for job {job}, then the loads of ")
        for line in starts
    )
    assert len([line for line in lines if line.startswith("Still waiting")]) <= len(starts)
    assert f"Stream accounts of source {source_id} (shop_000) loaded at " in "\n".join(lines)
    assert (
        f"Stream events of source {source_id} (shop_000) failed to load: loading stream 'events' failed: disk full"
        in lines
    )
    assert f"Loads of source {source_id} (shop_000): a load failed" in "\n".join(lines)
    assert_no_raw_epoch(lines)


def test_the_operators_own_wait_tells_the_same_story(env, story_clock, task_log, monkeypatch) -> None:
    monkeypatch.setattr(
        StitchStartReplicationOperator, "sleep", staticmethod(env.emulator.runtime.clock.advance)
    )
    (source_id,) = make_sources(env.emulator, env.client, 1)
    env.emulator.control.arrange(source_id, durations={"discovery": 1.0, "tap": 600.0, "target": 1.0})
    task = StitchStartReplicationOperator(
        task_id="start_sync",
        source_id=source_id,
        stitch_conn_id=CONN_ID,
        wait_for_loads=True,
        poll_interval=5,
    )
    job = task.execute({"ti": FakeTaskInstance()})
    lines = task_log()
    (started,) = [line for line in lines if line.startswith("Waiting on source")]
    assert started.startswith(f"Waiting on source {source_id} for job {job}; gives up in 6 h; Jobs requests")
    progress_lines = [line for line in lines if line.startswith("Still waiting")]
    assert 5 <= len(progress_lines) <= 602 / 60 + 2
    assert f"Extraction {job} of source {source_id} succeeded; completed at " in "\n".join(lines)
    for stream in ("accounts", "events", "users"):
        assert any(line.startswith(f"Stream {stream} of source {source_id} loaded at ") for line in lines)
    assert f"Loads of source {source_id}: all loaded" in "\n".join(lines)
    assert_no_raw_epoch(lines)
