"""Where a watched row may be, which page comes next, and who takes a turn — without a server."""

from __future__ import annotations

import json
import math

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
    JobsMonitor,
    ListSnapshot,
    Plan,
    load_identity,
)

EXTRACTION = KINDS[EXTRACTIONS]
LOAD = KINDS[LOADS]


def rows(*ids):
    return [{"source_id": i} for i in ids]


def loads(*pairs):
    return [{"source_name": source, "stream_name": stream} for source, stream in pairs]


def test_a_read_page_locates_its_rows_and_confirms_watched_rows_absent_between_them():
    snapshot = ListSnapshot()
    told = snapshot.absorb(EXTRACTION, 1, rows(1, 2, 4), True, 10.0, {"2", "3", "9"})
    assert told == {"1", "2", "4", "3"}
    assert snapshot.pages == {"1": 1, "2": 1, "4": 1, "3": 1}
    assert "3" not in snapshot.rows and snapshot.checked["3"] == 10.0
    assert "9" not in snapshot.pages and snapshot.candidate_pages(EXTRACTION, "9") == (2,)


def test_a_row_in_the_gap_between_two_read_pages_belongs_to_the_later_page():
    snapshot = ListSnapshot()
    snapshot.absorb(EXTRACTION, 1, rows(1, 2, 3), True, 10.0, set())
    snapshot.absorb(EXTRACTION, 2, rows(7, 8, 9), True, 11.0, set())
    assert snapshot.candidate_pages(EXTRACTION, "5") == (2,)
    snapshot.absorb(EXTRACTION, 2, rows(7, 8, 9), True, 30.0, {"5"})
    assert snapshot.pages["5"] == 2 and snapshot.checked["5"] == 30.0


def test_a_row_pushed_to_the_next_page_is_looked_for_there():
    snapshot = ListSnapshot()
    snapshot.absorb(EXTRACTION, 1, rows(1, 2, 3), True, 10.0, {"3"})
    snapshot.absorb(EXTRACTION, 2, rows(4, 5, 6), True, 10.0, set())
    assert snapshot.candidate_pages(EXTRACTION, "3") == (1,)
    snapshot.absorb(EXTRACTION, 1, rows(0, 1, 2), True, 20.0, {"3"})  # source 0 appeared before it
    assert "3" not in snapshot.pages
    assert snapshot.rows["3"] == {"source_id": 3}  # the last row seen is kept until a read says otherwise
    assert snapshot.candidate_pages(EXTRACTION, "3") == (2,)


def test_an_older_read_of_a_page_does_not_overwrite_a_newer_one():
    snapshot = ListSnapshot()
    snapshot.absorb(EXTRACTION, 1, rows(1, 2), False, 20.0, set())
    assert snapshot.absorb(EXTRACTION, 1, rows(1), False, 15.0, set()) == set()
    assert snapshot.reads[1].identities == frozenset({"1", "2"})


def test_load_rows_with_one_stream_name_across_pages_are_not_ruled_out_at_a_page_edge():
    snapshot = ListSnapshot()
    mine = load_identity("shop_c", "orders")
    snapshot.absorb(
        LOAD, 1, loads(("a", "items"), ("shop_a", "orders"), ("shop_b", "orders")), True, 5.0, {mine}
    )
    assert mine not in snapshot.pages and snapshot.candidate_pages(LOAD, mine) == (1, 2)
    snapshot.absorb(
        LOAD, 2, loads(("shop_d", "orders"), ("shop_e", "orders"), ("x", "users")), False, 6.0, {mine}
    )
    assert snapshot.candidate_pages(LOAD, mine) == (1, 2)


def test_the_plan_serves_never_read_pages_first_then_the_longest_unread():
    snapshots = {EXTRACTIONS: ListSnapshot(), LOADS: ListSnapshot()}
    ext = snapshots[EXTRACTIONS]
    ext.absorb(EXTRACTION, 1, rows(1, 2, 3), True, 30.0, set())
    ext.absorb(EXTRACTION, 2, rows(4, 5, 6), True, 10.0, set())
    ext.absorb(EXTRACTION, 3, rows(7, 8, 9), True, 20.0, set())
    plan = Plan.of(snapshots, {EXTRACTIONS: {"2", "5", "8", "12"}})
    assert [(turn.page, turn.read_at) for turn in plan.turns] == [
        (4, -math.inf),
        (2, 10.0),
        (3, 20.0),
        (1, 30.0),
    ]
    assert plan.rank_of(EXTRACTIONS, {1}, ext) == 3


def test_a_page_whose_waits_all_ended_leaves_the_plan_at_once():
    snapshots = {EXTRACTIONS: ListSnapshot(), LOADS: ListSnapshot()}
    snapshots[EXTRACTIONS].absorb(EXTRACTION, 1, rows(1, 2), True, 1.0, set())
    snapshots[EXTRACTIONS].absorb(EXTRACTION, 2, rows(3, 4), False, 2.0, set())
    assert {t.page for t in Plan.of(snapshots, {EXTRACTIONS: {"1", "3"}}).turns} == {1, 2}
    assert {t.page for t in Plan.of(snapshots, {EXTRACTIONS: {"3"}}).turns} == {2}


class Clock:
    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def test_a_turn_is_what_the_budget_sustains():
    clock = Clock()
    assert JobsMonitor(
        "a", JobsBudget(1, clock=clock, backend=InMemoryBudgetBackend())
    ).interval == pytest.approx(DEFAULT_JOBS_WINDOW / 30)
    assert JobsMonitor(
        "b", JobsBudget(1, limit=10, clock=clock, backend=InMemoryBudgetBackend())
    ).interval == pytest.approx(DEFAULT_JOBS_WINDOW / 10)
    fast = JobsBudget(1, window=jobs_window_for(20), clock=clock, backend=InMemoryBudgetBackend())
    assert JobsMonitor("c", fast).interval == pytest.approx(40.0 / 30)


def test_two_processes_on_one_store_take_one_turn_between_them():
    clock = Clock()
    backend = InMemoryBudgetBackend()
    first = JobsMonitor("p1", JobsBudget(1, clock=clock, backend=backend))
    second = JobsMonitor("p2", JobsBudget(1, clock=clock, backend=backend))
    first.watch(EXTRACTIONS, ["5"])
    claims = [first._claim_turn(), second._claim_turn()]
    assert sum(claim is not None for claim in claims) == 1
    clock.t += first.interval
    assert second._claim_turn() is not None
    assert first._claim_turn() is None


def test_a_page_stamped_in_the_future_by_another_process_counts_as_read_now():
    clock = Clock()
    backend = InMemoryBudgetBackend()
    ahead = JobsMonitor("ahead", JobsBudget(1, clock=Clock(clock.t + 3600), backend=backend))
    here = JobsMonitor("here", JobsBudget(1, clock=clock, backend=backend))
    ahead.watch(EXTRACTIONS, ["1"])
    turn, read_at = ahead._claim_turn()
    ahead._record(
        turn,
        read_at,
        rows(1, 2),
        False,
    )
    here._pull_shared(EXTRACTIONS, force=True)
    assert here.snapshots[EXTRACTIONS].read_at(1) == clock.t
    ledger = json.loads(backend.get_snapshot("stitch-jobs:1:ledger:extractions")[0])
    assert ledger == {"1": clock.t + 3600}
    clock.t += 100.0
    here._pull_shared(EXTRACTIONS, force=True)  # the same stamp again: not read again
    assert here.snapshots[EXTRACTIONS].read_at(1) == clock.t - 100.0


def test_a_turn_lost_to_a_spent_budget_leaves_the_order_as_it_was():
    clock = Clock()
    budget = JobsBudget(1, clock=clock, backend=InMemoryBudgetBackend())
    monitor = JobsMonitor("m", budget)
    monitor.watch(EXTRACTIONS, ["1", "4", "7"])
    for page, ids in ((1, (1, 2, 3)), (2, (4, 5, 6)), (3, (7, 8, 9))):
        turn, read_at = monitor._claim_turn()
        assert turn.page == page
        monitor._record(turn, read_at, rows(*ids), page < 3)
        clock.t += monitor.interval
    assert all(budget.try_acquire() for _ in range(30))  # someone else spends the whole window
    assert monitor._claim_turn() is None
    clock.t += budget.window
    turn, _ = monitor._claim_turn()
    assert turn.page == 1  # the page read longest ago, not a walk that starts over or skips ahead
    assert [record.page for record in monitor.page_log] == [1, 2, 3]


def test_extraction_and_load_pages_share_one_round_by_age():
    snapshots = {EXTRACTIONS: ListSnapshot(), LOADS: ListSnapshot()}
    snapshots[EXTRACTIONS].absorb(EXTRACTION, 1, rows(1, 2), False, 50.0, set())
    snapshots[LOADS].absorb(LOAD, 1, loads(("shop", "a"), ("shop", "b")), True, 40.0, set())
    watched = {EXTRACTIONS: {"1"}, LOADS: {load_identity("shop", "a"), load_identity("shop", "z")}}
    plan = Plan.of(snapshots, watched)
    assert [(turn.kind, turn.page) for turn in plan.turns] == [(LOADS, 2), (LOADS, 1), (EXTRACTIONS, 1)]


def test_a_wait_in_slices_stays_registered_between_its_slices():
    import asyncio

    from airflow_provider_stitch.api.jobs import ExtractionWatch, StitchWaitTimeout

    clock = Clock()
    budget = JobsBudget(1, clock=clock, backend=InMemoryBudgetBackend())

    async def asleep(seconds):
        clock.t += seconds

    monitor = JobsMonitor("m", budget, asleep=asleep)
    monitor._next_turn_at = math.inf  # no page is read: this is about registration only
    calls = []
    monitor.watch = lambda kind, ids: calls.append(("watch", list(ids)))
    monitor.unwatch = lambda kind, ids: calls.append(("unwatch", list(ids)))

    async def main():
        for _ in range(3):
            with pytest.raises(StitchWaitTimeout, match="still waiting for the extraction of source 5"):
                await monitor.await_extraction(None, ExtractionWatch(5), until=clock.t + 60)
            assert calls == [("watch", ["5"])]
        await asyncio.sleep(0)
        await asyncio.gather(*monitor._background)

    asyncio.run(main())
    assert calls == [("watch", ["5"]), ("unwatch", ["5"])]
