"""The retry rule (pure: an earlier try's record and Stitch's row) and the record store it reads."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

import pytest

from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.jobs.own_jobs import (
    OWN_JOB_TTL,
    OwnJob,
    OwnJobRecords,
    TaskIdentity,
    decide_retry,
    task_identity_of,
)

CLIENT, SOURCE = 116078, 42
#: 2026-12-07T09:00:00Z on Stitch's clock.
T0 = 1796634000.0


def job_name_at(epoch: float, node: int = 1) -> str:
    """A job name as Stitch writes it: ``<client>.<source>.sync.<uuid1 of the start time>``."""
    ticks = int(round((epoch + 12_219_292_800) * 1e7))
    tail = uuid.UUID(
        fields=(ticks & 0xFFFFFFFF, (ticks >> 32) & 0xFFFF, ((ticks >> 48) & 0x0FFF) | 0x1000, 0x80, 0, node)
    )
    return f"{CLIENT}.{SOURCE}.sync.{tail}"


def stamp(epoch: float) -> str:
    """ISO 8601 UTC, as Stitch writes times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def row(job_name: str, *, started: float, ended: float | None, failed: str | None = None) -> dict[str, Any]:
    """An extraction row; ``failed`` names the tap phase's error."""
    values: dict[str, Any] = {
        "job_name": job_name,
        "source_id": SOURCE,
        "stitch_client_id": CLIENT,
        "start_time": stamp(started),
        "completion_time": None if ended is None else stamp(ended),
    }
    for phase in ("discovery", "tap", "target"):
        done = ended is not None
        values[f"{phase}_exit_status"] = (1 if failed and phase == "tap" else 0) if done else None
        values[f"{phase}_description"] = failed if failed and phase == "tap" else None
    return values


PREVIOUS = job_name_at(T0 - 3600)
OURS = job_name_at(T0)
NEWER = job_name_at(T0 + 600)


def started_by_try_1(job_name: str | None = OURS, previous: str | None = PREVIOUS) -> OwnJob:
    return OwnJob(SOURCE, job_name, previous, previous_known=True, try_number=1)


# ---------------------------------------------------------------------------------------------- the rule


def test_its_job_succeeded_so_the_retry_goes_on_from_that_outcome() -> None:
    decision = decide_retry(started_by_try_1(), row(OURS, started=T0, ended=T0 + 42))
    assert not decision.start_new
    assert decision.outcome is not None and decision.outcome.succeeded
    assert (decision.outcome.job_name, decision.outcome.completion_time) == (OURS, T0 + 42)


def test_its_job_failed_so_the_retry_starts_a_new_sync() -> None:
    decision = decide_retry(started_by_try_1(), row(OURS, started=T0, ended=T0 + 42, failed="HTTP 401"))
    assert decision.start_new
    assert decision.outcome is not None and decision.outcome.message == (
        "the tap phase exited with status 1: HTTP 401"
    )


@pytest.mark.parametrize(
    "listed",
    [
        pytest.param(None, id="no row yet"),
        pytest.param(row(PREVIOUS, started=T0 - 3600, ended=T0 - 3500), id="the row before the start"),
        pytest.param(row(OURS, started=T0, ended=None), id="its own row, still running"),
    ],
)
def test_its_job_not_listed_as_ended_so_the_retry_waits_for_it(listed: dict[str, Any] | None) -> None:
    decision = decide_retry(started_by_try_1(), listed)
    assert (decision.start_new, decision.outcome) == (False, None)


def test_a_newer_job_listed_ended_answers_as_the_first_tries_wait_would() -> None:
    succeeded = decide_retry(started_by_try_1(), row(NEWER, started=T0 + 600, ended=T0 + 650))
    assert not succeeded.start_new and succeeded.outcome is not None and succeeded.outcome.replaced
    failed = decide_retry(started_by_try_1(), row(NEWER, started=T0 + 600, ended=T0 + 650, failed="boom"))
    assert failed.start_new


def test_a_lost_start_answer_is_the_first_job_after_the_row_listed_before() -> None:
    lost = started_by_try_1(job_name=None)
    assert decide_retry(lost, row(PREVIOUS, started=T0 - 3600, ended=T0 - 3500)).outcome is None
    assert not decide_retry(lost, row(OURS, started=T0, ended=T0 + 42)).start_new
    assert decide_retry(lost, row(OURS, started=T0, ended=T0 + 42, failed="boom")).start_new


@pytest.mark.parametrize("stitch_ahead_by", [-10 * 365 * 86400.0, 0.0, 10 * 365 * 86400.0])
def test_the_rule_reads_no_clock_but_stitchs(monkeypatch: pytest.MonkeyPatch, stitch_ahead_by: float) -> None:
    def no_worker_clock() -> float:
        raise AssertionError("the retry rule read the worker's clock")

    start = T0 + stitch_ahead_by
    ours = job_name_at(start)
    job = OwnJob(SOURCE, ours, job_name_at(start - 3600), True, 1)
    monkeypatch.setattr(time, "time", no_worker_clock)
    monkeypatch.setattr(time, "monotonic", no_worker_clock)
    assert not decide_retry(job, row(ours, started=start, ended=start + 42)).start_new
    assert decide_retry(job, row(ours, started=start, ended=start + 42, failed="boom")).start_new
    assert decide_retry(job, row(ours, started=start, ended=None)).outcome is None


def test_the_decision_is_told_in_words_with_the_job_name_and_iso_times() -> None:
    job = started_by_try_1()
    went_on = decide_retry(job, row(OURS, started=T0, ended=T0 + 42)).describe(job, 2)
    assert went_on == (
        f"Try 2: try 1 of this task started {OURS} (started 2026-12-07T09:00:00Z); it ended at "
        "2026-12-07T09:00:42Z and succeeded, so this try starts nothing and goes on from its outcome"
    )
    failed = decide_retry(job, row(OURS, started=T0, ended=T0 + 42, failed="HTTP 401")).describe(job, 3)
    assert failed.endswith(
        "ended at 2026-12-07T09:00:42Z and failed (the tap phase exited with status 1: HTTP 401), so this "
        "try starts a new sync"
    )
    waiting = decide_retry(job, None).describe(job, 2)
    assert "does not list it as ended, so this try waits for it instead of starting again" in waiting
    for text in (went_on, failed, waiting):
        assert not re.search(r"\b1[6-9]\d{8}(\.\d+)?\b", text)  # no raw epoch


# ---------------------------------------------------------------------------------------------- identities


class _TaskInstance:
    dag_id, run_id, task_id, map_index, try_number = "d", "manual__2026-12-07T09:00:00+00:00", "t", 4, 2


def test_the_task_identity_leaves_the_try_out_and_keeps_the_map_index() -> None:
    assert task_identity_of(_TaskInstance()) == TaskIdentity("d", "manual__2026-12-07T09:00:00+00:00", "t", 4)
    assert task_identity_of(object()) is None
    assert TaskIdentity("d", "r", "t", 1).digest() != TaskIdentity("d", "r", "t", 2).digest()
    assert TaskIdentity("d", "r:t", "x").digest() != TaskIdentity("d:r", "t", "x").digest()


# ---------------------------------------------------------------------------------------------- records


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Any:
    return (
        InMemoryBudgetBackend() if request.param == "memory" else SQLiteBudgetBackend(tmp_path / "b.sqlite")
    )


TASK = TaskIdentity("stitch_sync", "scheduled__2026-12-07", "start_sync")


def test_a_record_is_kept_per_client_source_and_task_instance(backend: Any) -> None:
    records = OwnJobRecords(JobsBudget(CLIENT, backend=backend))
    job = started_by_try_1()
    assert records.remember(TASK, job)
    assert records.recall(TASK, SOURCE) == job
    assert records.recall(TASK, SOURCE + 1) is None
    assert records.recall(TaskIdentity("stitch_sync", "scheduled__2026-12-08", "start_sync"), SOURCE) is None
    assert OwnJobRecords(JobsBudget(CLIENT + 1, backend=backend)).recall(TASK, SOURCE) is None
    newer = OwnJob(SOURCE, NEWER, OURS, True, 2)
    records.remember(TASK, newer)
    assert records.recall(TASK, SOURCE) == newer
    records.forget(TASK, SOURCE)
    assert records.recall(TASK, SOURCE) is None


def test_a_record_expires_on_the_stores_timeline(backend: Any) -> None:
    clock = [T0]
    records = OwnJobRecords(JobsBudget(CLIENT, backend=backend, clock=lambda: clock[0]))
    records.remember(TASK, started_by_try_1())
    clock[0] = T0 + OWN_JOB_TTL - 1
    assert records.recall(TASK, SOURCE) is not None
    clock[0] = T0 + OWN_JOB_TTL
    assert records.recall(TASK, SOURCE) is None
    assert OWN_JOB_TTL == 7 * 86400


def test_nothing_identifiable_is_not_recorded(backend: Any) -> None:
    records = OwnJobRecords(JobsBudget(CLIENT, backend=backend))
    assert not records.remember(TASK, OwnJob(SOURCE, None, None, previous_known=False, try_number=1))
    assert records.recall(TASK, SOURCE) is None


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        json.dumps({"source_id": SOURCE}),
        json.dumps(
            {
                "source_id": SOURCE + 1,
                "job_name": OURS,
                "previous_job": None,
                "previous_known": True,
                "try_number": 1,
            }
        ),
    ],
)
def test_a_record_that_is_not_ours_is_ignored_and_logged(
    backend: Any, payload: str, caplog: pytest.LogCaptureFixture
) -> None:
    records = OwnJobRecords(JobsBudget(CLIENT, backend=backend))
    backend.put_record(records.key(TASK, SOURCE), payload, 60.0)
    with caplog.at_level(logging.WARNING, "airflow_provider_stitch.own_jobs"):
        assert records.recall(TASK, SOURCE) is None
    assert f"source {SOURCE}" in caplog.text
