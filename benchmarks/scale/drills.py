"""Failure drills, run while a DAG run is in flight: a Celery worker dies, a triggerer dies, Redis restarts,
and a worker's clock is minutes off. Each drill notes what it did and when (emulator time), so the checks
afterwards can be read from Stitch's side."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scale.deployment import AirflowDeployment, RedisServer

#: Real seconds Redis stays down in the restart drill.
REDIS_DOWN_SECONDS = 10.0
#: Real seconds a killed worker's host stays down before it comes back.
WORKER_DOWN_SECONDS = 30.0
#: Real seconds between one drill and the next, so their effects can be told apart.
DRILL_GAP_SECONDS = 15.0


@dataclass
class DrillLog:
    """What the drills did, in emulator time."""

    worker_killed_at: float | None = None
    worker_tasks_killed: int = 0
    worker_restarted_at: float | None = None
    triggerer_killed_at: float | None = None
    triggers_before_kill: dict[int, int] = field(default_factory=dict)
    takeover: str | None = None
    takeover_seconds: float | None = None
    redis_down_at: float | None = None
    redis_up_at: float | None = None
    notes: list[str] = field(default_factory=list)


class DrillPlan:
    """Steps the drills forward each time :meth:`tick` is called during the drill run.

    :param deployment: the Airflow components.
    :param redis: the Redis server.
    :param emulator_now: returns the emulator's current time.
    :param source_count: N, to decide when enough waits are deferred.
    :param deferred_count: returns how many task instances are deferred.
    """

    def __init__(
        self,
        deployment: AirflowDeployment,
        redis: RedisServer,
        emulator_now: Callable[[], float],
        source_count: int,
        deferred_count: Callable[[], int],
    ) -> None:
        self.deployment = deployment
        self.redis = redis
        self.emulator_now = emulator_now
        self.deferred_count = deferred_count
        self.deferred_wanted = max(1, math.ceil(source_count / 4))
        self.log = DrillLog()
        self._last_step = time.monotonic()
        self._worker_killed_real: float | None = None
        self._idle_processes = self._worker_processes(1)

    @property
    def finished(self) -> bool:
        """Every drill has run (Redis is back up)."""
        return self.log.redis_up_at is not None

    def _worker_processes(self, number: int) -> int:
        """Processes in Celery worker ``number``'s tree (0 when it is down)."""
        component = self.deployment.components[f"celery-worker-{number}"]
        if not component.alive():
            return 0
        from scale.deployment import _descendants

        return len(_descendants(component.pid))

    def _worker_busy(self, number: int) -> int:
        """Task processes running under Celery worker ``number``: its tree beyond what it had idle."""
        return max(0, self._worker_processes(number) - self._idle_processes)

    def _triggers_by_triggerer(self) -> dict[int, int]:
        """How many triggers each triggerer job runs (from the metadata DB)."""
        rows = self.deployment.query("SELECT COALESCE(triggerer_id, -1), COUNT(*) FROM trigger GROUP BY 1")
        return {int(job): int(count) for job, count in rows}

    def _check_takeover(self, now: float) -> None:
        """Done when every trigger runs on the one triggerer still heartbeating, or after a minute."""
        alive = self.deployment.query(
            "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' "
            "ORDER BY latest_heartbeat DESC LIMIT 1"
        )
        on = self._triggers_by_triggerer()
        waited = now - self._last_step
        if alive and set(on) == {int(alive[0][0])}:
            moved = sum(count for job, count in self.log.triggers_before_kill.items() if job != alive[0][0])
            self.log.takeover = (
                f"all {on[int(alive[0][0])]} triggers run on the surviving triggerer (job {alive[0][0]}); "
                f"{moved} were on the killed one"
            )
            self.log.takeover_seconds = waited
            self.log.notes.append(f"triggerer takeover after {waited:.0f} s: {self.log.takeover}")
            self._last_step = now
        elif not on:
            self.log.takeover = "no trigger left to take over (the waits had ended)"
            self._last_step = now
        elif waited > 90:
            self.log.takeover = f"not taken over after {waited:.0f} s: triggers per triggerer job {on}"
            self._last_step = now

    def tick(self) -> None:
        """Run the next drill when its moment has come."""
        log = self.log
        now = time.monotonic()
        if log.worker_killed_at is None:
            busy = self._worker_busy(1)
            if busy:
                self.deployment.components["celery-worker-1"].kill()
                log.worker_killed_at = self.emulator_now()
                log.worker_tasks_killed = busy
                self._worker_killed_real = now
                self._last_step = now
                log.notes.append(
                    f"killed celery-worker-1 (SIGKILL to its process group) with {busy} task process(es) running"
                )
            return
        if log.worker_restarted_at is None and now - (self._worker_killed_real or now) >= WORKER_DOWN_SECONDS:
            self.deployment.start_worker(1)
            log.worker_restarted_at = self.emulator_now()
            log.notes.append(f"celery-worker-1 back after {WORKER_DOWN_SECONDS:.0f} s")
        if log.triggerer_killed_at is None:
            if now - self._last_step >= DRILL_GAP_SECONDS and self.deferred_count() >= self.deferred_wanted:
                log.triggers_before_kill = self._triggers_by_triggerer()
                self.deployment.components["triggerer-1"].kill()
                log.triggerer_killed_at = self.emulator_now()
                self._last_step = now
                log.notes.append(
                    f"killed triggerer-1 with {self.deferred_count()} waits deferred; not restarted"
                )
            return
        if log.takeover is None:
            self._check_takeover(now)
            return
        if log.redis_down_at is None and now - self._last_step >= DRILL_GAP_SECONDS:
            self.redis.stop()
            log.redis_down_at = self.emulator_now()
            time.sleep(REDIS_DOWN_SECONDS)
            self.redis.start()
            log.redis_up_at = self.emulator_now()
            self._last_step = time.monotonic()
            log.notes.append(
                f"the budget's redis-server stopped for {REDIS_DOWN_SECONDS:.0f} s and started again on the same port and data"
            )
