"""Failure drills, run while a DAG run is in flight: a Celery worker dies, a triggerer dies, Redis restarts,
and a worker's clock is minutes off. Each drill notes what it did, when (emulator time) and which task
instances it hit (from Airflow's database, by the host name each component records), so the checks afterwards
can follow those tasks to their end and read the rest from Stitch's side."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .deployment import SCALE_DAG_ID, AirflowDeployment, LoadScaledTimer, RedisServer, load_factor

#: Real seconds Redis stays down in the restart drill.
REDIS_DOWN_SECONDS = 10.0
#: Real seconds a killed worker's host stays down before it comes back.
WORKER_DOWN_SECONDS = 30.0
#: Real seconds between one drill and the next, so their effects can be told apart.
DRILL_GAP_SECONDS = 15.0
#: Seconds (on an idle box) the surviving triggerer gets to take every trigger over.
TAKEOVER_SECONDS = 90.0
#: Real seconds the worker drill waits for a start task that has already started a short sync before it kills
#: the worker with whatever tasks it runs (not stretched with the load: later drills need waits still
#: deferred).
KILL_AFTER_START_SECONDS = 15.0
START_TASK = "sync_source.start_replication"
KILLED_WORKER = "celery-worker-1"
KILLED_TRIGGERER = "triggerer-1"
#: Real seconds the triggerer drill waits for a trigger to run on the triggerer it kills.
TRIGGERER_HOLD_SECONDS = 45.0
SURVIVING_TRIGGERER = "triggerer-2"

#: A task instance try: (task_id, map_index, try_number).
TaskTry = tuple[str, int, int]


@dataclass
class DrillLog:
    """What the drills did, in emulator time, and the task tries each one hit."""

    worker_killed_at: float | None = None
    #: Tries running on the killed worker when it died.
    worker_tasks_killed: list[TaskTry] = field(default_factory=list)
    #: Map indexes of the killed start tasks whose sync Stitch already listed when the worker died.
    killed_after_sync_started: list[int] = field(default_factory=list)
    worker_restarted_at: float | None = None
    triggerer_killed_at: float | None = None
    #: Tries deferred to a trigger of the killed triggerer when it died.
    triggerer_waits: list[TaskTry] = field(default_factory=list)
    triggers_before_kill: dict[str, int] = field(default_factory=dict)
    takeover: str | None = None
    takeover_seconds: float | None = None
    #: When the stopped Redis had exited, and the last moment before it was started again (emulator time):
    #: the window in which it was down for certain.
    redis_down_at: float | None = None
    redis_up_at: float | None = None
    #: Tries deferred when Redis stopped.
    redis_waits: list[TaskTry] = field(default_factory=list)
    #: The box's load factor when Redis stopped (stretches the allowance for requests already on their way).
    load_at_redis_stop: float = 1.0
    #: PIDs of the running components when Redis stopped and when the run ended.
    pids_at_redis_stop: dict[str, int] = field(default_factory=dict)
    pids_at_end: dict[str, int] = field(default_factory=dict)
    #: The skewed worker's clock offset as measured from a child with its environment (seconds).
    worker_clock_offset: float | None = None
    notes: list[str] = field(default_factory=list)


class DrillPlan:
    """Steps the drills forward each time :meth:`tick` is called during the drill run.

    :param deployment: the Airflow components.
    :param redis: the budget's Redis server.
    :param emulator_now: returns the emulator's current time.
    :param run_id: the drill run.
    :param source_count: N, to decide when enough waits are deferred.
    :param synced_indexes: returns the map indexes whose source has a sync job of this run in Stitch.
    :param short_syncs: map indexes whose syncs end before a killed task's retry comes.
    """

    def __init__(
        self,
        deployment: AirflowDeployment,
        redis: RedisServer,
        emulator_now: Callable[[], float],
        run_id: str,
        source_count: int,
        synced_indexes: Callable[[], set[int]],
        short_syncs: set[int],
    ) -> None:
        self.deployment = deployment
        self.redis = redis
        self.emulator_now = emulator_now
        self.run_id = run_id
        self.synced_indexes = synced_indexes
        self.short_syncs = short_syncs
        self._first_busy: float | None = None
        self.deferred_wanted = max(1, -(-source_count // 4))
        self.log = DrillLog()
        self._last_step = time.monotonic()
        self._worker_killed_real: float | None = None
        self._takeover_timer: LoadScaledTimer | None = None
        #: When enough waits were first deferred for the triggerer drill (real monotonic seconds).
        self._triggerer_ready_at: float | None = None

    def _tries(self, where: str, parameters: tuple[object, ...] = ()) -> list[TaskTry]:
        """The run's task tries matching ``where`` (SQL on ``task_instance``)."""
        rows = self.deployment.query(
            f"SELECT task_id, map_index, try_number FROM task_instance WHERE dag_id = ? AND run_id = ? AND {where}",
            (SCALE_DAG_ID, self.run_id, *parameters),
        )
        return [(str(t), int(m), int(n)) for t, m, n in rows]

    def _triggers_by_host(self) -> dict[str, int]:
        """How many triggers each triggerer runs, by the host name its job recorded (``none``: unassigned)."""
        rows = self.deployment.query(
            "SELECT COALESCE(job.hostname, 'none'), COUNT(*) FROM trigger "
            "LEFT JOIN job ON job.id = trigger.triggerer_id GROUP BY 1"
        )
        return {str(host): int(count) for host, count in rows}

    def _kill_worker(self, now: float) -> None:
        """Kill the worker while it runs a start task whose short sync Stitch already lists (its retry comes
        after that sync ended and must go on with it, not start another), or, when none comes in time, while
        it runs any task."""
        running = self._tries("state = 'running' AND hostname = ?", (KILLED_WORKER,))
        if not running:
            return
        if self._first_busy is None:
            self._first_busy = now
        starts = {index for task, index, _ in running if task == START_TASK}
        synced = sorted(starts & self.synced_indexes()) if starts else []
        if not set(synced) & self.short_syncs and now - self._first_busy < KILL_AFTER_START_SECONDS:
            return
        self.deployment.components[KILLED_WORKER].kill()
        log = self.log
        log.killed_after_sync_started = synced
        log.worker_killed_at = self.emulator_now()
        log.worker_tasks_killed = running
        self._worker_killed_real = now
        self._last_step = now
        log.notes.append(
            f"killed {KILLED_WORKER} (SIGKILL to its process group) while it ran {len(running)} task(s): "
            + ", ".join(f"{task}[{index}] try {number}" for task, index, number in running)
            + f"; {len(synced)} start task(s) among them had started their sync"
        )

    def _kill_triggerer(self, now: float) -> None:
        """Kill the triggerer once enough waits are deferred and some of them run on it (Airflow may hand
        every trigger to the other one for a while: a kill then takes nothing over), or, when none comes to
        it within :data:`TRIGGERER_HOLD_SECONDS`, with whatever it runs."""
        deferred = self._tries("state = 'deferred'")
        if now - self._last_step < DRILL_GAP_SECONDS or len(deferred) < self.deferred_wanted:
            return
        on_killed = self._tries(
            "state = 'deferred' AND trigger_id IN (SELECT trigger.id FROM trigger JOIN job "
            "ON job.id = trigger.triggerer_id WHERE job.hostname = ?)",
            (KILLED_TRIGGERER,),
        )
        if self._triggerer_ready_at is None:
            self._triggerer_ready_at = now
        if not on_killed and now - self._triggerer_ready_at < TRIGGERER_HOLD_SECONDS:
            return
        log = self.log
        log.triggers_before_kill = self._triggers_by_host()
        log.triggerer_waits = on_killed
        self.deployment.components[KILLED_TRIGGERER].kill()
        log.triggerer_killed_at = self.emulator_now()
        self._last_step = now
        self._takeover_timer = LoadScaledTimer(TAKEOVER_SECONDS)
        log.notes.append(
            f"killed {KILLED_TRIGGERER} with {len(deferred)} waits deferred, {len(log.triggerer_waits)} of them "
            "on its triggers; not restarted"
        )

    def _check_takeover(self, now: float) -> None:
        """Done when every trigger runs on the surviving triggerer (none left on the killed one or unassigned),
        when no trigger is left, or when the takeover timer runs out."""
        on = self._triggers_by_host()
        waited = now - self._last_step
        log = self.log
        if set(on) == {SURVIVING_TRIGGERER}:
            moved = log.triggers_before_kill.get(KILLED_TRIGGERER, 0)
            log.takeover = (
                f"all {on[SURVIVING_TRIGGERER]} triggers run on {SURVIVING_TRIGGERER}; "
                f"{moved} were on {KILLED_TRIGGERER}"
            )
        elif not on:
            log.takeover = "no trigger left to take over (the waits had ended)"
        elif self._takeover_timer is not None and self._takeover_timer.expired():
            log.takeover = f"not taken over after {waited:.0f} s: triggers per triggerer {on}"
        else:
            return
        log.takeover_seconds = waited
        log.notes.append(f"triggerer takeover after {waited:.0f} s: {log.takeover}")
        self._last_step = now

    def _killed_tasks_tried_again(self) -> bool:
        """Every task killed with the worker has run a later try past its start (deferred or ended), so the
        Redis drill, which comes after, does not stand in the way of their retries adopting their own jobs."""
        past_start = {(t, i): n for t, i, n in self._tries("state IN ('deferred', 'success', 'failed')")}
        return all(past_start.get((t, i), 0) > n for t, i, n in self.log.worker_tasks_killed)

    def _restart_redis(self) -> None:
        log = self.log
        log.redis_waits = self._tries("state = 'deferred'")
        log.pids_at_redis_stop = self.deployment.pids()
        log.load_at_redis_stop = load_factor()
        self.redis.stop()
        log.redis_down_at = self.emulator_now()
        time.sleep(REDIS_DOWN_SECONDS)
        # Read before the start: a request the restarted server paid for must not count as sent while down.
        log.redis_up_at = self.emulator_now()
        self.redis.start()
        self._last_step = time.monotonic()
        log.notes.append(
            f"the budget's redis-server stopped for {REDIS_DOWN_SECONDS:.0f} s with {len(log.redis_waits)} waits "
            "deferred, and started again on the same port and data"
        )

    def tick(self) -> None:
        """Run the next drill when its moment has come."""
        log = self.log
        now = time.monotonic()
        if log.worker_killed_at is None:
            self._kill_worker(now)
            return
        if log.worker_restarted_at is None and now - (self._worker_killed_real or now) >= WORKER_DOWN_SECONDS:
            self.deployment.start_worker(1)
            log.worker_restarted_at = self.emulator_now()
            log.notes.append(f"{KILLED_WORKER} back after {WORKER_DOWN_SECONDS:.0f} s")
        if log.triggerer_killed_at is None:
            self._kill_triggerer(now)
        elif log.takeover is None:
            self._check_takeover(now)
        elif (
            log.redis_down_at is None
            and now - self._last_step >= DRILL_GAP_SECONDS
            and self._killed_tasks_tried_again()
        ):
            self._restart_redis()
