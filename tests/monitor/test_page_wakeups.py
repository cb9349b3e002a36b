"""Waiters parked on a page wake a bounded slice per event-loop iteration, and the loop serves others between."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.jobs import EXTRACTIONS, ExtractionWatch, JobsMonitor
from airflow_provider_stitch.api.jobs.wakeups import WAKE_SLICE, PageWaiters

PAGE = (EXTRACTIONS, 1)


async def parked_pause(monitor: Any, kind: str, pages: list[int], seconds: float) -> None:
    """Sleep as a waiting look does: ``seconds``, or less when one of ``pages`` is read in this event loop."""
    woke, timer = monitor._park(kind, tuple(pages), seconds)
    try:
        await woke
    finally:
        monitor._unpark(kind, tuple(pages), woke, timer)


def test_a_read_page_wakes_its_waiters_one_slice_per_loop_iteration_and_others_run_between():
    async def scenario() -> tuple[list[int], list[str]]:
        loop = asyncio.get_running_loop()
        waiters = PageWaiters(loop, slice_size=100)
        futures = [loop.create_future() for _ in range(250)]
        for future in futures:
            waiters.park(PAGE, future, wake_at=math.inf)
        order: list[str] = []
        done_counts: list[int] = []
        assert waiters.wake_page(PAGE) == 250
        done_counts.append(sum(f.done() for f in futures))
        loop.call_soon(lambda: order.append(f"another step saw {sum(f.done() for f in futures)} woken"))
        for _ in range(3):
            await asyncio.sleep(0)
            order.append(f"{sum(f.done() for f in futures)} woken")
            done_counts.append(sum(f.done() for f in futures))
        return done_counts, order

    counts, order = asyncio.run(scenario())
    assert counts == [100, 200, 250, 250]
    # A step scheduled after the page read ran while the last slice was still asleep.
    assert order == ["another step saw 200 woken", "200 woken", "250 woken", "250 woken"]


def test_a_waiter_that_woke_by_itself_leaves_the_page():
    async def scenario() -> tuple[int, int, float | None, int]:
        loop = asyncio.get_running_loop()
        waiters = PageWaiters(loop)
        early, late = loop.create_future(), loop.create_future()
        waiters.park(PAGE, early, wake_at=10.0)
        waiters.park(PAGE, late, wake_at=20.0)
        before = waiters.parked(PAGE)
        waiters.unpark(PAGE, early)
        return before, waiters.parked(PAGE), waiters.earliest_wake(PAGE), waiters.wake_page((EXTRACTIONS, 2))

    assert asyncio.run(scenario()) == (2, 1, 20.0, 0)


def test_a_slice_holds_at_least_one_waiter():
    with pytest.raises(ValueError, match="at least one waiter"):
        PageWaiters(asyncio.new_event_loop(), slice_size=0)


def test_monitor_waiters_on_one_page_wake_in_slices_when_it_is_signalled():
    """A thousand waits of one loop parked on page 1: a read wakes WAKE_SLICE per loop iteration."""

    class Clock:
        t = 1_000.0

        def __call__(self) -> float:
            return self.t

    clock = Clock()
    budget = JobsBudget(1, clock=clock, backend=InMemoryBudgetBackend())
    monitor = JobsMonitor("m", budget)
    count = 1000

    async def scenario() -> list[int]:
        pauses = [asyncio.create_task(parked_pause(monitor, EXTRACTIONS, [1], 3600.0)) for _ in range(count)]
        await asyncio.sleep(0)
        assert monitor._waiters().parked(PAGE) == count
        monitor._signal(EXTRACTIONS, 1)
        finished = []
        while len(finished) < 1 or finished[-1] < count:
            await asyncio.sleep(0)
            finished.append(sum(p.done() for p in pauses))
        return finished

    finished = asyncio.run(scenario())
    steps = [b - a for a, b in zip([0, *finished], finished, strict=False)]
    assert max(steps) <= WAKE_SLICE, f"woke {max(steps)} waiters in one loop iteration"
    assert len(finished) >= count // WAKE_SLICE


def test_a_pause_with_the_real_sleep_needs_no_task_per_waiter():
    """With asyncio.sleep the pause is a timer on the loop: no sleeper task per waiting trigger."""
    budget = JobsBudget(1, backend=InMemoryBudgetBackend())
    monitor = JobsMonitor("m", budget)

    async def scenario() -> tuple[int, int]:
        before = len(asyncio.all_tasks())
        pauses = [asyncio.create_task(parked_pause(monitor, EXTRACTIONS, [1], 3600.0)) for _ in range(50)]
        await asyncio.sleep(0)
        during = len(asyncio.all_tasks()) - before
        for pause in pauses:
            pause.cancel()
        await asyncio.gather(*pauses, return_exceptions=True)
        return during, monitor._waiters().parked(PAGE)

    assert asyncio.run(scenario()) == (50, 0)


def test_the_waiters_of_a_read_page_wake_through_the_monitor_and_answer(monkeypatch):
    """End to end without a server: waits parked on page 1 wake when the page's read is signalled."""
    clock_now = [5_000.0]
    budget = JobsBudget(1, clock=lambda: clock_now[0], backend=InMemoryBudgetBackend())
    monitor = JobsMonitor("m", budget)
    monitor._next_turn_at = clock_now[0] + 3600  # no turn comes: the test signals the page itself
    answers: dict[str, dict] = {}
    monkeypatch.setattr(monitor, "watch", lambda kind, ids: None)
    monkeypatch.setattr(monitor, "unwatch", lambda kind, ids: None)

    async def acheck(client, watch):
        row = answers.get(watch.identity)
        return None if row is None else row

    monkeypatch.setattr(monitor, "acheck_extraction", acheck)

    async def scenario() -> list[str]:
        waits = [
            asyncio.create_task(monitor.await_extraction(None, ExtractionWatch(source)))
            for source in range(1, 301)
        ]
        for _ in range(1000):
            if monitor._waiters().parked(PAGE) == 300:
                break
            await asyncio.sleep(0.005)
        assert monitor._waiters().parked(PAGE) == 300
        assert not any(wait.done() for wait in waits)
        answers.update({str(source): {"done": source} for source in range(1, 301)})
        monitor._signal(EXTRACTIONS, 1)
        results = await asyncio.wait_for(asyncio.gather(*waits), 10)
        return [str(r["done"]) for r in results]

    assert asyncio.run(scenario()) == [str(source) for source in range(1, 301)]


def test_the_waiters_of_one_loop_pull_the_shared_pages_once_between_them(monkeypatch):
    """Waking waiters all find the pull due; one of them pulls (in a worker thread), the others go on."""
    import threading
    import time

    budget = JobsBudget(1, clock=lambda: 1_000.0, backend=InMemoryBudgetBackend())
    monitor = JobsMonitor("m", budget)
    monitor._next_turn_at = math.inf  # no turn: this is about pulling what other processes read
    pulls: list[str] = []

    def slow_pull(kind: str, *, force: bool = False) -> None:
        pulls.append(threading.current_thread().name)
        time.sleep(0.05)

    monkeypatch.setattr(monitor, "_pull_shared", slow_pull)

    async def many_waiters() -> None:
        await asyncio.gather(*(monitor._acatch_up(None, EXTRACTIONS) for _ in range(200)))

    asyncio.run(many_waiters())
    assert len(pulls) == 1 and pulls[0] != threading.main_thread().name


def test_sleeps_that_end_together_wake_their_waiters_one_slice_per_loop_iteration():
    """A thousand waits sleeping until the same next turn: their timers fire together, they wake in slices."""
    budget = JobsBudget(1, backend=InMemoryBudgetBackend())
    monitor = JobsMonitor("m", budget)
    count = 1000

    async def scenario() -> list[int]:
        pauses = [asyncio.create_task(parked_pause(monitor, EXTRACTIONS, [1], 0.05)) for _ in range(count)]
        await asyncio.sleep(0)
        finished = [0]
        while finished[-1] < count:
            await asyncio.sleep(0)
            finished.append(sum(p.done() for p in pauses))
        return finished

    finished = asyncio.run(scenario())
    steps = [b - a for a, b in zip(finished, finished[1:], strict=False)]
    assert max(steps) <= WAKE_SLICE, f"woke {max(steps)} waiters in one loop iteration"
    assert sum(1 for step in steps if step) >= count // WAKE_SLICE


def test_injected_sleeps_wake_through_the_same_slices():
    """Virtual time (an injected ``asleep``) ends many sleeps at once; they still wake a slice at a time."""
    release = asyncio.Event

    async def scenario() -> list[int]:
        gate = release()

        async def asleep(seconds: float) -> None:
            await gate.wait()

        monitor = JobsMonitor("m", JobsBudget(1, backend=InMemoryBudgetBackend()), asleep=asleep)
        pauses = [asyncio.create_task(parked_pause(monitor, EXTRACTIONS, [1], 60.0)) for _ in range(500)]
        for _ in range(3):
            await asyncio.sleep(0)
        gate.set()
        finished = [0]
        while finished[-1] < 500:
            await asyncio.sleep(0)
            finished.append(sum(p.done() for p in pauses))
        return finished

    finished = asyncio.run(scenario())
    steps = [b - a for a, b in zip(finished, finished[1:], strict=False)]
    assert max(steps) <= WAKE_SLICE, f"woke {max(steps)} waiters in one loop iteration"


def test_planning_the_turns_does_not_hold_the_lock_every_look_of_the_event_loop_takes(monkeypatch):
    """Planning thousands of watched rows runs outside the monitor's lock (a worker thread plans, the loop looks)."""
    import threading

    from airflow_provider_stitch.api.jobs import Plan

    monitor = JobsMonitor("m", JobsBudget(1, backend=InMemoryBudgetBackend()))
    monitor.watchers.counts[EXTRACTIONS].update({str(i): 1 for i in range(50)})
    real_of = Plan.of.__func__
    free_while_planning: list[bool] = []

    def planning(cls, snapshots, watched):  # noqa: ANN001, ANN202
        other = threading.Thread(target=lambda: free_while_planning.append(_try_lock(monitor._lock)))
        other.start()
        other.join()
        return real_of(cls, snapshots, watched)

    monkeypatch.setattr(Plan, "of", classmethod(planning))
    plan = monitor.replan()
    assert free_while_planning == [True]
    assert [(turn.kind, turn.page, turn.waiting) for turn in plan.turns] == [(EXTRACTIONS, 1, 50)]
    assert monitor.plan() is plan


def _try_lock(lock) -> bool:  # noqa: ANN001
    if lock.acquire(timeout=1.0):
        lock.release()
        return True
    return False
