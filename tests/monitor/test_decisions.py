"""Completion semantics and targeted paging of the JobsMonitor, without a server."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.api.budget import (
    DEFAULT_JOBS_WINDOW,
    InMemoryBudgetBackend,
    JobsBudget,
    jobs_window_for,
)
from airflow_provider_stitch.api.jobs import (
    EXTRACTIONS,
    KINDS,
    LOADS,
    ExtractionWatch,
    JobsMonitor,
    ListSnapshot,
    LoadWatch,
    PageWalk,
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


def pages_of(ids, size=3):
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    return {n + 1: [{"source_id": sid} for sid in chunk] for n, chunk in enumerate(chunks)}


def walk_through(walk, pages):
    read = []
    page = walk.start
    while page is not None:
        read.append(page)
        page = walk.absorb(page, pages[page], page < len(pages))
    walk.finish()
    return read


def test_page_walk_stops_after_the_page_passing_the_largest_watched_id():
    pages = pages_of([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    snapshot = ListSnapshot()
    walk = PageWalk(KINDS[EXTRACTIONS], snapshot, {"2", "5"}, now=100.0)
    assert walk_through(walk, pages) == [1, 2]
    assert snapshot.pages == {"1": 1, "2": 1, "3": 1, "4": 2, "5": 2, "6": 2}
    assert snapshot.pages_per_refresh == 2


def test_page_walk_starts_at_the_remembered_page():
    pages = pages_of([1, 2, 3, 4, 5, 6, 8, 9, 10])
    walk = PageWalk(KINDS[EXTRACTIONS], ListSnapshot(pages={"8": 3, "9": 3}), {"8", "9"}, now=50.0)
    assert walk_through(walk, pages) == [3]


def test_page_walk_confirms_a_missing_source_between_two_rows():
    snapshot = ListSnapshot()
    pages = pages_of([1, 2, 3, 4, 5, 6, 8, 9, 10])
    walk = PageWalk(KINDS[EXTRACTIONS], snapshot, {"7"}, now=50.0)
    assert walk_through(walk, pages) == [1, 2, 3]
    assert "7" not in snapshot.rows and snapshot.checked["7"] == 50.0 and snapshot.pages["7"] == 3


def test_page_walk_starts_over_when_rows_shifted_back():
    snapshot = ListSnapshot(pages={"4": 2, "9": 2})
    pages = pages_of([4, 5, 6, 7, 8, 9])  # source 4 is on page 1 now
    walk = PageWalk(KINDS[EXTRACTIONS], snapshot, {"4", "9"}, now=1.0)
    assert walk_through(walk, pages) == [2, 1]  # 9 found on page 2, then 4 found on page 1
    assert snapshot.pages["4"] == 1 and snapshot.pages["9"] == 2


def test_snapshot_round_trips_and_merges_newer_entries():
    mine = ListSnapshot(rows={"1": {"source_id": 1, "v": "old"}}, checked={"1": 10.0}, fetched_at=10.0)
    theirs = ListSnapshot(
        rows={"1": {"source_id": 1, "v": "new"}}, checked={"1": 20.0, "2": 20.0}, fetched_at=20.0
    )
    mine.merge(ListSnapshot.from_json(theirs.to_json()))
    assert mine.rows["1"]["v"] == "new" and "2" not in mine.rows and mine.checked["2"] == 20.0
    assert mine.fetched_at == 20.0
    assert ListSnapshot.from_json("{broken").rows == {}


class Clock:
    def __init__(self):
        self.t = 1_000_000.0

    def __call__(self):
        return self.t


def monitor(clock, limit=30):
    budget = JobsBudget(1, limit=limit, backend=InMemoryBudgetBackend(), clock=clock)
    return JobsMonitor("test#1", budget, jitter=0.0)


def test_spacing_grows_with_pages_and_with_both_lists_watched():
    mon = monitor(Clock())
    per_request = DEFAULT_JOBS_WINDOW / 30  # the window over 30 requests, for a one-page refresh
    assert mon.spacing(EXTRACTIONS) == pytest.approx(per_request)
    mon.snapshots[EXTRACTIONS].pages_per_refresh = 3
    assert mon.spacing(EXTRACTIONS) == pytest.approx(3 * per_request)
    mon.watch(EXTRACTIONS, ["1"])
    mon.watch(LOADS, [load_identity("s", "a")])
    assert mon.spacing(EXTRACTIONS) == pytest.approx(6 * per_request)
    assert monitor(Clock(), limit=10).spacing(EXTRACTIONS) == pytest.approx(DEFAULT_JOBS_WINDOW / 10)


def test_a_faster_emulator_window_shortens_spacing_and_the_minimum_gap_alike():
    real = JobsBudget(1, backend=InMemoryBudgetBackend(), clock=Clock())
    fast = JobsBudget(1, window=jobs_window_for(20), backend=InMemoryBudgetBackend(), clock=Clock())
    assert JobsMonitor("real", real).min_interval == 15.0
    fast_monitor = JobsMonitor("fast", fast, jitter=0.0)
    assert fast.window == 40.0
    assert fast_monitor.min_interval == pytest.approx(15.0 * 40.0 / DEFAULT_JOBS_WINDOW)
    assert fast_monitor.spacing(EXTRACTIONS) == pytest.approx(40.0 / 30)
    assert JobsMonitor("given", fast, min_interval=5.0).min_interval == 5.0


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
