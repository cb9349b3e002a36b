"""The scale harness's drill checks follow the very tasks each drill hit, and its own plumbing (host names,
clock offsets, load-scaled timeouts) measures what it claims."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.scale import checks, deployment
from benchmarks.scale.deployment import LIBFAKETIME, AirflowDeployment, LoadScaledTimer, clock_offset

START = "sync_source.start_replication"
LOADS = "sync_source.wait_for_loads"


def test_worker_kill_fails_when_one_killed_task_was_not_retried_although_others_were() -> None:
    killed = [(START, 0, 1), (START, 1, 1)]
    final = {(START, 0): ("success", 2), (START, 1): ("failed", 1)}
    check = checks.worker_kill(killed, final, {10: 1, 11: 1}, "celery-worker-1")
    assert not check.passed
    assert check.detail == (
        "2 task(s) killed on celery-worker-1 (0 after starting their sync, 0 of those retried after it had "
        "ended), 1 retried and succeeded (not: sync_source.start_replication[1]); "
        "one sync per source"
    )


def test_worker_kill_fails_on_a_second_sync_and_names_the_source() -> None:
    final = {(START, 0): ("success", 2)}
    check = checks.worker_kill([(START, 0, 1)], final, {10: 2, 11: 1}, "celery-worker-1")
    assert not check.passed
    assert check.detail.endswith("not one sync per source: 10 (2 jobs)")


def test_worker_kill_passes_only_when_it_hit_a_task() -> None:
    assert not checks.worker_kill([], {}, {10: 1}, "celery-worker-1").passed
    final = {(START, 0): ("success", 2), (LOADS, 0): ("success", 1)}
    check = checks.worker_kill(
        [(START, 0, 1)], final, {10: 1}, "celery-worker-1", after_sync_started=1, retried_after_sync_ended=1
    )
    assert check.passed
    assert check.detail == (
        "1 task(s) killed on celery-worker-1 (1 after starting their sync, 1 of those retried after it had "
        "ended), 1 retried and succeeded; one sync per source"
    )


def test_triggerer_kill_fails_when_a_wait_of_the_killed_triggerer_ended_in_a_retry() -> None:
    waits = [(START, 3, 1), (LOADS, 4, 1)]
    final = {(START, 3): ("success", 1), (LOADS, 4): ("success", 2)}
    check = checks.triggerer_kill(
        True, "all 9 triggers run on triggerer-2; 2 were on triggerer-1", waits, final
    )
    assert not check.passed
    assert check.detail == (
        "all 9 triggers run on triggerer-2; 2 were on triggerer-1; 1 of its 2 waits finished in the same try "
        "(not: sync_source.wait_for_loads[4])"
    )
    final[(LOADS, 4)] = ("success", 1)
    assert checks.triggerer_kill(True, "all 9", waits, final).passed
    assert not checks.triggerer_kill(False, "not taken over after 95 s", waits, final).passed
    assert not checks.triggerer_kill(True, "all 9", [], final).passed


def _redis(**changes: object) -> checks.Check:
    arguments: dict[str, object] = {
        "unpaid": [],
        "in_flight": 1,
        "after": 12,
        "busiest": 26,
        "waits": [(START, 5, 1), (LOADS, 6, 1)],
        "final": {(START, 5): ("success", 1), (LOADS, 6): ("success", 1)},
        "pids_before": {"scheduler": 100, "triggerer-2": 200},
        "pids_after": {"scheduler": 100, "triggerer-2": 200},
    }
    arguments.update(changes)
    return checks.redis_restart(**arguments)  # type: ignore[arg-type]


def test_redis_restart_passes_when_waits_ride_it_out() -> None:
    check = _redis()
    assert check.passed
    assert check.detail == (
        "0 Jobs requests while it was down (1 more just after the stop, paid before it), 12 after it came back, "
        "busiest window 26 of 30; 2 of the 2 waits deferred at the stop finished in the same try; "
        "no Airflow component restarted"
    )


def test_redis_restart_fails_when_a_waiting_task_was_failed_and_retried() -> None:
    # The last session's run: the budget failed closed and the window held, but waits ended with the error.
    check = _redis(final={(START, 5): ("success", 2), (LOADS, 6): ("success", 1)})
    assert not check.passed
    assert (
        "1 of the 2 waits deferred at the stop finished in the same try (not: sync_source.start_replication[5])"
        in (check.detail)
    )


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        (
            {"unpaid": ["GET /v4/7/extractions +4.0 s after the stop"] * 2},
            "2 Jobs requests while it was down",
        ),
        (
            {"unpaid": ["GET /v4/7/loads +4.0 s after the stop"]},
            "sent while down: GET /v4/7/loads +4.0 s after",
        ),
        ({"after": 0}, "0 after it came back"),
        ({"busiest": 31}, "busiest window 31 of 30"),
        ({"waits": []}, "0 of the 0 waits"),
        ({"pids_after": {"scheduler": 101, "triggerer-2": 200}}, "restarted or gone: scheduler"),
        ({"pids_after": {"scheduler": 100}}, "restarted or gone: triggerer-2"),
    ],
)
def test_redis_restart_fails_on_each_broken_promise(changes: dict[str, object], shown: str) -> None:
    check = _redis(**changes)
    assert not check.passed
    assert shown in check.detail


def test_skewed_clock_needs_the_measured_offset_and_a_task_on_that_worker() -> None:
    good = {
        "wanted": -180.0,
        "measured": -179.6,
        "tasks_on_host": 7,
        "busiest": 26,
        "host": "celery-worker-2",
    }
    check = checks.skewed_clock(**good)  # type: ignore[arg-type]
    assert check.passed
    assert check.name == "worker clock -3 min"
    assert check.detail == (
        "celery-worker-2's clock measured -179.6 s off (asked -180 s), 7 task(s) ran on it; busiest Jobs window 26 of 30"
    )
    for changes in ({"measured": -0.1}, {"measured": None}, {"tasks_on_host": 0}, {"busiest": 31}):
        assert not checks.skewed_clock(**{**good, **changes}).passed  # type: ignore[arg-type]


def test_load_scaled_timer_stretches_with_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(deployment.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(deployment, "load_factor", lambda: 3.0)
    timer = LoadScaledTimer(100.0)
    clock[0] += 250.0
    assert not timer.expired()  # 250 real seconds at load 3 per CPU weigh 83
    clock[0] += 60.0
    assert timer.expired()
    assert timer.real == pytest.approx(310.0)


def test_clock_offset_reads_an_unshifted_child_as_zero() -> None:
    assert abs(clock_offset(dict(os.environ))) < 2.0


@pytest.mark.skipif(not LIBFAKETIME.exists(), reason="libfaketime (Debian's faketime) is not installed")
def test_clock_offset_measures_libfaketime_shift() -> None:
    env = dict(os.environ, LD_PRELOAD=str(LIBFAKETIME), FAKETIME="-180")
    assert clock_offset(env) == pytest.approx(-180.0, abs=2.0)


def test_airflow_records_the_host_name_the_harness_gives_a_component(tmp_path: Path) -> None:
    # The environment a worker gets; both the scheduler side and the Task SDK (which stamps a task
    # instance's hostname) read the name from it.
    components = AirflowDeployment(tmp_path, deployment.RedisServer(tmp_path), "{}", env=dict(os.environ))
    env = components.host_env("celery-worker-7")
    code = (
        "from airflow.utils.net import get_hostname as a; from airflow.sdk.api.client import get_hostname as b; "
        "print('hosts', a(), b())"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    hosts = [line.split() for line in answer.stdout.splitlines() if line.startswith("hosts ")]
    assert hosts == [["hosts", "celery-worker-7", "celery-worker-7"]]


def test_queued_timeout_grows_with_the_tasks_queued_together_up_to_airflows_parallelism() -> None:
    # N=200 failed a load sensor that waited over 60 s behind ~50 queued tasks on a loaded 2-core box.
    assert deployment.task_queued_timeout(20) == 120
    assert deployment.task_queued_timeout(200) == deployment.task_queued_timeout(64) == 252


class _Recorder:
    """Stands in for the deployment, the budget's Redis and the emulator's clock; records the order of calls."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.clock = 100.0

    def now(self) -> float:
        self.clock += 1.0
        self.events.append(f"clock {self.clock:.0f}")
        return self.clock

    def stop(self) -> None:
        self.events.append("redis stopped")

    def start(self) -> None:
        self.events.append("redis started")

    def query(self, sql: str, parameters: object = ()) -> list[tuple[object, ...]]:
        return []

    def pids(self) -> dict[str, int]:
        return {"scheduler": 1}


def test_redis_drill_window_closes_before_the_server_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # A request paid by the restarted server, sent before the harness read the clock, once counted as "sent
    # while down" (a false failure on a loaded box).
    from benchmarks.scale import drills

    monkeypatch.setattr(drills.time, "sleep", lambda seconds: None)
    fake = _Recorder()
    plan = drills.DrillPlan(fake, fake, fake.now, "drills", 20, set, set())  # type: ignore[arg-type]
    plan._restart_redis()
    assert fake.events == ["redis stopped", "clock 101", "clock 102", "redis started"]
    assert (plan.log.redis_down_at, plan.log.redis_up_at) == (101.0, 102.0)
    assert plan.log.pids_at_redis_stop == {"scheduler": 1}
