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
    watch = LoadWatch("shop", ("orders",), T0, errors_after=T0)
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


# ---- anchored on Stitch's own data ------------------------------------------------------------------------

#: Job names as Stitch writes them: ``<client>.<source>.sync.<time-based UUID>`` (the docs' examples).
DOCS_JOB = "116078.244788.sync.2deb271f-b23b-11ea-894c-0ee2efcbf789"


def job_at(iso_time: str, source_id: int = 7) -> str:
    """A Stitch-like job name whose UUID was made at ``iso_time``."""
    import uuid

    ticks = int((to_epoch(iso_time) + 12_219_292_800) * 1e7)
    made = uuid.UUID(fields=(ticks & 0xFFFFFFFF, (ticks >> 32) & 0xFFFF, 0x1000 | (ticks >> 48), 0x80, 0, 1))
    return f"116078.{source_id}.sync.{made}"


def test_a_job_name_tells_when_stitch_created_the_job():
    from airflow_provider_stitch.api.jobs.decisions import is_newer_job, job_started_at

    # the docs' extraction example started at 2020-06-19T14:43:03Z; its job name says the same
    assert job_started_at(DOCS_JOB) == pytest.approx(to_epoch("2020-06-19T14:43:03Z"), abs=1)
    assert job_started_at("c.7.sync.a") is None and job_started_at(None) is None
    assert is_newer_job(job_at("2024-05-01T10:00:00Z"), job_at("2024-05-01T09:00:00Z")) is True
    assert is_newer_job(job_at("2024-05-01T09:00:00Z"), job_at("2024-05-01T10:00:00Z")) is False
    assert is_newer_job("c.7.sync.a", job_at("2024-05-01T10:00:00Z")) is None


def test_the_previous_job_is_never_ours_whatever_its_times_say():
    ours, previous = job_at("2024-05-01T10:00:00Z"), job_at("2024-05-01T09:00:00Z")
    # a sped-up emulator or a skewed worker: the previous row's times lie after any local "after"
    listed = row(job=previous, start="2030-01-01T00:00:00Z", end="2030-01-01T00:05:00Z")
    assert decide_extraction(listed, ExtractionWatch(7, ours)) is None
    assert decide_extraction(listed, ExtractionWatch(7, ours, after=T0)) is None


def test_a_newer_job_by_name_replaces_ours_even_with_older_timestamps():
    ours, newer = job_at("2024-05-01T10:00:00Z"), job_at("2024-05-01T10:10:00Z")
    listed = row(job=newer, start="2000-01-01T00:00:00Z", end="2000-01-01T00:05:00Z", tap_exit_status=2)
    outcome = decide_extraction(listed, ExtractionWatch(7, ours))
    assert outcome is not None and outcome.replaced and outcome.job_name == newer and not outcome.succeeded


def test_names_that_cannot_be_ordered_fall_back_to_the_row_listed_before_the_start():
    before = ExtractionWatch(7, "c.7.sync.ours", previous_job="c.7.sync.old", previous_known=True)
    assert decide_extraction(row(job="c.7.sync.old"), before) is None
    outcome = decide_extraction(row(job="c.7.sync.other"), before)
    assert outcome is not None and outcome.replaced and outcome.job_name == "c.7.sync.other"


def test_attached_waits_take_the_first_job_after_the_one_listed_before_the_start():
    previous = job_at("2024-05-01T09:00:00Z")
    attached = ExtractionWatch(7, None, previous_job=previous, previous_known=True)
    assert decide_extraction(row(job=previous), attached) is None
    running = job_at("2024-05-01T09:30:00Z")
    outcome = decide_extraction(row(job=running, start="1999-01-01T00:00:00Z"), attached)
    assert outcome is not None and outcome.job_name == running and not outcome.replaced
    nothing_before = ExtractionWatch(7, None, previous_known=True)
    assert decide_extraction(row(job=running), nothing_before) is not None


def test_a_load_error_read_before_the_extraction_was_known_is_not_this_runs():
    error = {"notification_data": {"warehouse_message": "disk full"}}
    rows = {load_identity("shop", "orders"): load("orders", when=None, error=error)}
    watch = LoadWatch("shop", ("orders",), T0, errors_after=5_000.0)  # monitor clock, not Stitch's
    assert decide_loads(rows, watch, {load_identity("shop", "orders"): 4_999.0}) is None
    assert decide_loads(rows, watch, {load_identity("shop", "orders"): 5_000.0}) is not None


def test_stream_names_resolve_like_stream_selection_or_fail_naming_each():
    from types import SimpleNamespace

    from airflow_provider_stitch.api.jobs.decisions import UnknownStreamError, stream_names_of

    streams = [
        SimpleNamespace(tap_stream_id="shop-public-customers", stream_name="customers"),
        SimpleNamespace(tap_stream_id="shop-public-orders", stream_name="orders"),
        SimpleNamespace(tap_stream_id="shop-sales-orders", stream_name="orders"),
    ]
    assert stream_names_of(["public-customers", "shop-public-orders"], streams) == ("customers", "orders")
    assert stream_names_of(["orders"], streams) == ("orders",)  # load rows name both tables "orders"
    with pytest.raises(UnknownStreamError) as failure:
        stream_names_of(["public-custmers", "invoices", "customers"], streams)
    assert failure.value.problems == [
        "no stream 'public-custmers' in this source; did you mean 'shop-public-customers' or 'customers' or "
        "'shop-public-orders'?",
        "no stream 'invoices' in this source",
    ]
