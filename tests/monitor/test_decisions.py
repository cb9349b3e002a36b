"""Completion semantics of the JobsMonitor, without a server (the page schedule: test_page_schedule*.py)."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.api.budget import (
    InMemoryBudgetBackend,
    JobsBudget,
)
from airflow_provider_stitch.api.jobs import (
    EXTRACTIONS,
    ExtractionWatch,
    JobsMonitor,
    LoadWatch,
    decide_extraction,
    decide_loads,
    load_identity,
    selected_stream_names,
    to_epoch,
)

T0 = to_epoch("2024-05-01T10:00:00Z")


def row(source_id=7, job="c.7.sync.a", start="2024-05-01T10:00:05Z", end="2024-05-01T10:03:00Z", **statuses):
    base = {
        "job_name": job,
        "source_id": source_id,
        "start_time": start,
        "completion_time": end,
        "discovery_exit_status": 0,
        "tap_exit_status": 0,
        "target_exit_status": 0,
    }
    base.update(statuses)
    return base


def test_extraction_with_our_job_name_and_all_zero_statuses_succeeds():
    outcome = decide_extraction(row(), ExtractionWatch(7, "c.7.sync.a", T0))
    assert outcome is not None and outcome.succeeded and outcome.job_name == "c.7.sync.a"
    assert outcome.completion_time == to_epoch("2024-05-01T10:03:00Z")


def test_older_row_of_another_job_means_not_yet():
    older = row(job="c.7.sync.old", start="2024-05-01T09:00:00Z", end="2024-05-01T09:05:00Z")
    assert decide_extraction(older, ExtractionWatch(7, "c.7.sync.a", T0)) is None
    assert decide_extraction(None, ExtractionWatch(7, "c.7.sync.a", T0)) is None


def test_newer_job_that_replaced_ours_decides_and_is_logged(caplog):
    newer = row(
        job="c.7.sync.newer", start="2024-05-01T10:20:00Z", tap_exit_status=2, tap_description="quota"
    )
    with caplog.at_level("WARNING", logger="airflow_provider_stitch.monitor"):
        outcome = decide_extraction(newer, ExtractionWatch(7, "c.7.sync.a", T0))
    assert outcome is not None and outcome.replaced and not outcome.succeeded
    assert outcome.failed_phase == "tap"
    assert outcome.message == "the tap phase exited with status 2: quota"
    assert "replaced by c.7.sync.newer" in caplog.text


def test_running_row_with_null_statuses_is_not_finished():
    running = row(discovery_exit_status=None, tap_exit_status=None, target_exit_status=None, end=None)
    assert decide_extraction(running, ExtractionWatch(7, "c.7.sync.a", T0)) is None


def test_discovery_failure_finishes_with_the_discovery_description():
    failed = row(
        discovery_exit_status=1,
        discovery_description="bad password",
        tap_exit_status=None,
        target_exit_status=None,
    )
    outcome = decide_extraction(failed, ExtractionWatch(7, "c.7.sync.a", T0))
    assert outcome is not None and outcome.failed_phase == "discovery"
    assert outcome.message == "the discovery phase exited with status 1: bad password"


def test_terminated_job_is_finished_and_failed():
    stopped = row(
        discovery_exit_status=None,
        tap_exit_status=None,
        target_exit_status=None,
        discovery_description="Terminated",
        tap_description="Terminated",
        target_description="Terminated",
    )
    outcome = decide_extraction(stopped, ExtractionWatch(7, "c.7.sync.a", T0))
    assert outcome is not None and not outcome.succeeded
    assert outcome.message == "the job ended before its discovery phase finished: Terminated"


def test_without_a_job_name_the_extraction_must_complete_after_the_time():
    watch = ExtractionWatch(7, None, to_epoch("2024-05-01T10:03:00.700Z"))
    assert decide_extraction(row(), watch) is not None  # same second counts (Stitch writes whole seconds)
    assert decide_extraction(row(), ExtractionWatch(7, None, to_epoch("2024-05-01T10:04:00Z"))) is None


def load(stream, when="2024-05-01T10:05:00Z", error=None, source="shop"):
    return {"source_name": source, "stream_name": stream, "last_batch_loaded_at": when, "error_state": error}


def test_loads_done_when_every_stream_loaded_at_or_after_the_time():
    watch = LoadWatch("shop", ("orders", "users"), to_epoch("2024-05-01T10:03:00Z"))
    rows = {load_identity("shop", "orders"): load("orders"), load_identity("shop", "users"): load("users")}
    outcome = decide_loads(rows, watch, {})
    assert outcome is not None and outcome.succeeded and set(outcome.loaded_at) == {"orders", "users"}
    rows[load_identity("shop", "users")] = load("users", when="2024-05-01T09:00:00Z")
    assert decide_loads(rows, watch, {}) is None


def test_load_error_fails_with_the_warehouse_message_once_read_after_the_time():
    error = {"notification_data": {"warehouse_message": "disk full", "message": "load data"}}
    watch = LoadWatch("shop", ("orders",), T0)
    rows = {load_identity("shop", "orders"): load("orders", when=None, error=error)}
    assert decide_loads(rows, watch, {load_identity("shop", "orders"): T0 - 60}) is None
    outcome = decide_loads(rows, watch, {load_identity("shop", "orders"): T0 + 60})
    assert outcome is not None and not outcome.succeeded and outcome.failed_stream == "orders"
    assert outcome.message == "loading stream 'orders' failed: disk full"


def test_selected_streams_or_all_when_none_selected():
    class S:
        def __init__(self, name, selected):
            self.stream_name, self.selected = name, selected

    assert selected_stream_names([S("a", True), S("b", False), S("c", None)]) == ("a",)
    assert selected_stream_names([S("a", None), S("b", None)]) == ("a", "b")


class Clock:
    def __init__(self):
        self.t = 1_000_000.0

    def __call__(self):
        return self.t


def test_watchers_are_shared_through_the_backend():
    clock = Clock()
    budget = JobsBudget(1, backend=InMemoryBudgetBackend(), clock=clock)
    first, second = JobsMonitor("a", budget), JobsMonitor("b", budget)
    first.watch(EXTRACTIONS, ["5"])
    assert second.watched(EXTRACTIONS) == {"5"}
    first.unwatch(EXTRACTIONS, ["5"])
    assert second.watched(EXTRACTIONS) == set()
    assert budget.backend.announced(f"{budget.key}:watchers:{EXTRACTIONS}") == set()


@pytest.mark.parametrize("value", ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00+00:00", T0, str(T0)])
def test_to_epoch_reads_the_usual_forms(value):
    assert to_epoch(value) == T0
