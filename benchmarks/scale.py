"""Scale harness: a real CeleryExecutor deployment on loopback syncs N Stitch sources within the Jobs limit.

Starts two redis-servers (the Celery broker, and the Jobs budget store), the Stitch emulator, and Airflow 3 with the
CeleryExecutor — scheduler, dag-processor, api-server, two Celery workers in their own working directories
and two triggerers — with a SQLite metadata database. Then:

1. **measured run**: one run of ``stitch_scale_sync`` (the scheduled-sync example's mapped group) over N
   sources, every wait deferred; figures are read from the emulator's request log and state and from
   Airflow's database, not from the provider.
2. **drill run** (skip with ``--no-drills``): a second run over the same sources while Celery worker 2's
   clock is 3 minutes behind (libfaketime), Celery worker 1 is killed mid-task, triggerer 1 is killed and
   the budget's Redis is restarted (the broker stays up: Airflow 3.3.2's scheduler exits when it loses the
   Celery broker).

The last line is the summary; the exit code is 1 when a run failed, a job was duplicated or Stitch's
window saw more than 30 Jobs requests. Usage: ``python benchmarks/scale.py --sources 20`` (``make scale N=20``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from scale import checks
from scale.checks import Check
from scale.deployment import (
    SCALE_DAG_ID,
    AirflowDeployment,
    Component,
    HarnessError,
    LoadScaledTimer,
    RedisServer,
    clock_offset,
    task_queued_timeout,
)
from scale.drills import KILLED_WORKER, DrillLog, DrillPlan
from scale.measure import (
    STITCH_JOBS_LIMIT,
    STITCH_WINDOW_SECONDS,
    RequestLog,
    Sampler,
    Samples,
    busiest_window,
    detection_delays,
    jobs_since,
    median,
    parse_time,
    percentile,
)
from scale.sources import create_sources

from airflow_provider_stitch.emulator.dag_runs import stitch_connection_json
from airflow_provider_stitch.emulator.harness import EmulatorProcess

#: Emulator seconds per real second: Stitch's 600 s window lasts 60 s, so a run takes minutes, not hours.
DEFAULT_SPEED = 10.0
#: Worker 2's clock offset in the drill run (seconds; negative is behind).
SKEWED_WORKER_SECONDS = -180.0
SKEWED_WORKER = "celery-worker-2"
#: Tap durations (emulator seconds) in the drill run. Odd-numbered sources get long ones, so waits are still
#: deferred when the last drill (the Redis restart) comes; even-numbered ones short ones, so that a start task
#: killed with its worker is retried after the sync its first try started has ended (the retry must adopt it,
#: not start a second one).
DRILL_TAP_SECONDS = (500.0, 1100.0)
DRILL_SHORT_TAP_SECONDS = (100.0, 200.0)
#: Real seconds (on an idle box; they stretch with the load) a run may take before the harness gives up on
#: it: a base plus a share per source.
RUN_TIMEOUT_BASE = 300.0
RUN_TIMEOUT_PER_SOURCE = 3.0
#: Real seconds after Redis stops during which a Jobs request may still be one paid before the stop.
IN_FLIGHT_SECONDS = 1.0
START_TASK = "sync_source.start_replication"
LOADS_TASK = "sync_source.wait_for_loads"


@dataclass
class RunResult:
    """What one DAG run did, as read from the emulator and Airflow's database."""

    name: str
    run_state: str | None
    sources: int
    synced: int
    retried_tasks: int
    jobs_per_source: dict[int, int]
    duplicate_jobs: int
    busiest_jobs_window: int
    jobs_requests: int
    delays: list[float]
    resume_seconds: list[float]
    samples: Samples
    real_seconds: float
    drills: DrillLog | None = None
    drill_checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """All sources synced once, the run succeeded, the window held and every drill check passed."""
        return (
            self.run_state == "success"
            and self.synced == self.sources
            and self.duplicate_jobs == 0
            and all(count == 1 for count in self.jobs_per_source.values())
            and self.busiest_jobs_window <= STITCH_JOBS_LIMIT
            and all(check.passed for check in self.drill_checks)
        )


class Harness:
    """The deployment and its measurements for one invocation.

    :param workdir: folder for every component's data and logs.
    :param sources: N, the number of sources.
    :param speed: the emulator's speed (also given to the connection's ``emulator_speed`` extra).
    :param out: where progress lines go.
    """

    def __init__(self, workdir: Path, sources: int, speed: float, out: Any = sys.stdout) -> None:
        self.workdir = workdir
        self.count = sources
        self.speed = speed
        self.out = out
        self.broker = RedisServer(workdir, "redis-broker")
        self.redis = RedisServer(workdir, "redis-budget")
        self.emulator = EmulatorProcess(workdir, speed=speed, extra_args=["--no-schedules"])
        self.deployment: AirflowDeployment | None = None
        self.source_ids: list[int] = []
        self.control: Any = None
        self.requests: RequestLog | None = None
        self._clock_pair = (0.0, 0.0)

    def say(self, text: str) -> None:
        """One progress line."""
        print(text, file=self.out, flush=True)

    def emulator_now(self) -> float:
        """The emulator's clock (Stitch's side)."""
        return float(self.control.now())

    def to_real(self, emulator_time: float) -> float:
        """This host's epoch time at which the emulator's clock read ``emulator_time``."""
        emulator_at, real_at = self._clock_pair
        return real_at + (emulator_time - emulator_at) / self.speed

    def start(self) -> None:
        """Redis, the emulator, the sources, then Airflow."""
        from airflow_provider_stitch.api.client import StitchClient
        from airflow_provider_stitch.emulator import EmulatorControl

        self.broker.start()
        self.redis.start()
        self.say(
            f"  redis-server 127.0.0.1:{self.broker.port} (Celery broker and results), "
            f"127.0.0.1:{self.redis.port} (Jobs budget)"
        )
        self.emulator.start()
        self.control = EmulatorControl(self.emulator.base_url)
        self.requests = RequestLog(self.control.stats)
        before = time.time()
        emulator_at = self.emulator_now()
        self._clock_pair = (emulator_at, (before + time.time()) / 2)
        self.say(
            f"  emulator {self.emulator.base_url} at x{self.speed:g} (client id {self.emulator.client_id})"
        )
        with StitchClient(
            self.emulator.token, base_url=self.emulator.base_url, client_id=self.emulator.client_id
        ) as client:
            self.source_ids = create_sources(client, self.control, self.count)
        self.say(f"  {self.count} PostgreSQL sources created and configured through the API")
        connection = stitch_connection_json(
            self.emulator.base_url,
            self.emulator.token,
            self.emulator.client_id,
            emulator_speed=self.speed,
            extra={"budget_backend": "redis", "budget_location": self.redis.url(0)},
        )
        self.deployment = AirflowDeployment(
            self.workdir, self.broker, connection, queued_timeout=task_queued_timeout(self.count)
        )
        started = time.monotonic()
        self.deployment.prepare()
        self.deployment.start()
        self.say(
            "  Airflow (CeleryExecutor, SQLite): scheduler, dag-processor, api-server, 2 Celery workers x"
            f"{self.deployment.env['AIRFLOW__CELERY__WORKER_CONCURRENCY']} slots, 2 triggerers — up in "
            f"{time.monotonic() - started:.0f} s"
        )

    def _running_tasks(self, run_id: str) -> list[tuple[str, int, int, str]]:
        assert self.deployment is not None
        rows = self.deployment.query(
            "SELECT task_id, map_index, try_number, COALESCE(hostname, '') FROM task_instance "
            "WHERE dag_id = ? AND run_id = ? AND state = 'running'",
            (SCALE_DAG_ID, run_id),
        )
        return [(str(t), int(m), int(n), str(h)) for t, m, n, h in rows]

    def _deferred(self, run_id: str) -> int:
        assert self.deployment is not None
        rows = self.deployment.query(
            "SELECT COUNT(*) FROM task_instance WHERE dag_id = ? AND run_id = ? AND state = 'deferred'",
            (SCALE_DAG_ID, run_id),
        )
        return int(rows[0][0])

    def _triggers(self) -> int:
        assert self.deployment is not None
        return int(self.deployment.query("SELECT COUNT(*) FROM trigger")[0][0])

    def _triggerer_rss(self) -> dict[str, int]:
        assert self.deployment is not None
        found: dict[str, int] = {}
        for name in ("triggerer-1", "triggerer-2"):
            component: Component | None = self.deployment.components.get(name)
            if component is not None and component.alive():
                found[name] = component.tree_rss_bytes()
        return found

    def run(self, run_id: str, plan: DrillPlan | None = None) -> RunResult:
        """Trigger one run over every source, wait for it, and read what it did."""
        assert self.deployment is not None and self.requests is not None
        deployment = self.deployment
        self.requests.poll()
        since = self.emulator_now()
        started = time.monotonic()
        timer = LoadScaledTimer(RUN_TIMEOUT_BASE + RUN_TIMEOUT_PER_SOURCE * self.count)
        sampler = Sampler(
            lambda: self._running_tasks(run_id),
            lambda: self._deferred(run_id),
            self._triggers,
            self._triggerer_rss,
        )
        with sampler:
            deployment.trigger(run_id, self.source_ids)
            last_report = 0.0
            last_poll = 0.0
            while True:
                state = deployment.run_state(run_id)
                now = time.monotonic()
                if state in ("success", "failed"):
                    break
                if timer.expired():
                    raise HarnessError(
                        f"run {run_id} did not finish within {timer.real:.0f} s ({timer.seconds:.0f} s "
                        "on an idle box, stretched with the load)"
                    )
                if plan is not None:
                    plan.tick()
                deployment.check_alive()
                if now - last_poll >= 10:
                    self.requests.poll()
                    last_poll = now
                if now - last_report >= 20:
                    states = deployment.task_states(run_id)
                    shown = ", ".join(f"{count} {name}" for name, count in sorted(states.items()))
                    self.say(f"    {now - started:5.0f} s  {shown}")
                    last_report = now
                time.sleep(1)
        real_seconds = time.monotonic() - started
        self.requests.poll()
        if plan is not None:
            plan.log.pids_at_end = deployment.pids()
        return self._result(run_id, state, since, real_seconds, sampler.samples, plan)

    def _result(
        self,
        run_id: str,
        state: str | None,
        since: float,
        real_seconds: float,
        samples: Samples,
        plan: DrillPlan | None,
    ) -> RunResult:
        assert self.deployment is not None and self.requests is not None
        client_id = self.emulator.client_id
        emulator_state = self.control.state()
        outcome = jobs_since(emulator_state, client_id, self.source_ids, since)
        rows = self.deployment.query(
            "SELECT task_id, map_index, state, try_number, end_date, COALESCE(hostname, '') FROM task_instance "
            "WHERE dag_id = ? AND run_id = ?",
            (SCALE_DAG_ID, run_id),
        )
        by_index: dict[int, dict[str, tuple[str, int, str | None, str]]] = {}
        for task_id, map_index, task_state, try_number, end_date, host in rows:
            by_index.setdefault(int(map_index), {})[str(task_id)] = (
                str(task_state),
                int(try_number),
                end_date,
                str(host),
            )
        synced = sum(
            1
            for tasks in by_index.values()
            if tasks.get(START_TASK, ("",))[0] == "success" and tasks.get(LOADS_TASK, ("",))[0] == "success"
        )
        retried = sum(1 for _, _, _, try_number, _, _ in rows if int(try_number) > 1)
        times = self.requests.jobs_times(client_id)
        busiest, _ = busiest_window(times)
        delays = detection_delays(outcome.job_ends, self.requests.extraction_reads(client_id))
        resume = []
        index_of = {source_id: index for index, source_id in enumerate(self.source_ids)}
        # A task's end_date is stamped with the clock of the worker that ran it: the skewed one's are left out.
        skewed = {SKEWED_WORKER} if plan is not None else set()
        for source_id, end in outcome.job_ends.items():
            task = by_index.get(index_of[source_id], {}).get(START_TASK)
            if task is not None and task[0] == "success" and task[2] and task[3] not in skewed:
                resume.append(parse_time(_utc(task[2])) - self.to_real(end))
        result = RunResult(
            name=run_id,
            run_state=state,
            sources=len(self.source_ids),
            synced=synced,
            retried_tasks=retried,
            jobs_per_source=outcome.jobs_per_source,
            duplicate_jobs=outcome.duplicate_jobs,
            busiest_jobs_window=busiest,
            jobs_requests=len(self.requests.jobs_times(client_id, since=since)),
            delays=delays,
            resume_seconds=resume,
            samples=samples,
            real_seconds=real_seconds,
        )
        if plan is not None:
            final = {
                (task, index): (t[0], t[1]) for index, tasks in by_index.items() for task, t in tasks.items()
            }
            result.drills = plan.log
            result.drill_checks = self._drill_checks(plan.log, result, final, outcome.job_ends)
        return result

    def _retried_after_sync_ended(self, log: DrillLog, result: RunResult, job_ends: dict[int, float]) -> int:
        """Killed start tasks whose next try was first seen running after their first sync had ended."""
        count = 0
        for task, index, number in log.worker_tasks_killed:
            end = job_ends.get(self.source_ids[index])
            retry_seen = result.samples.first_running.get((task, index, number + 1))
            if index not in log.killed_after_sync_started or end is None or retry_seen is None:
                continue
            if retry_seen > self.to_real(end):
                count += 1
        return count

    def _drill_checks(
        self, log: DrillLog, result: RunResult, final: checks.FinalTries, job_ends: dict[int, float]
    ) -> list[Check]:
        assert self.requests is not None
        client_id = self.emulator.client_id
        found = [
            checks.worker_kill(
                log.worker_tasks_killed,
                final,
                result.jobs_per_source,
                KILLED_WORKER,
                after_sync_started=len(log.killed_after_sync_started),
                retried_after_sync_ended=self._retried_after_sync_ended(log, result, job_ends),
            ),
            checks.triggerer_kill(
                bool(log.takeover and log.takeover.startswith("all ")),
                log.takeover,
                log.triggerer_waits,
                final,
            ),
        ]
        if log.redis_down_at is not None and log.redis_up_at is not None:
            # A request paid just before Redis went away may still be on its way: allow it a real second
            # (more on a loaded box).
            in_flight_until = log.redis_down_at + IN_FLIGHT_SECONDS * log.load_at_redis_stop * self.speed
            during = self.requests.jobs_entries(client_id, since=log.redis_down_at, until=log.redis_up_at)
            unpaid = [
                f"{e.get('method')} {e.get('path')} {(float(e['time']) - log.redis_down_at) / self.speed:+.1f} s "
                "after the stop"
                for e in during
                if float(e["time"]) > in_flight_until
            ]
            found.append(
                checks.redis_restart(
                    unpaid=unpaid,
                    in_flight=len(during) - len(unpaid),
                    after=len(self.requests.jobs_times(client_id, since=log.redis_up_at)),
                    busiest=result.busiest_jobs_window,
                    waits=log.redis_waits,
                    final=final,
                    pids_before=log.pids_at_redis_stop,
                    pids_after=log.pids_at_end,
                )
            )
        else:
            found.append(Check("budget Redis restarted", False, "the run ended before the drill"))
        found.append(
            checks.skewed_clock(
                wanted=SKEWED_WORKER_SECONDS,
                measured=log.worker_clock_offset,
                tasks_on_host=result.samples.tasks_by_host.get(SKEWED_WORKER, 0),
                busiest=result.busiest_jobs_window,
                host=SKEWED_WORKER,
            )
        )
        return found

    def _synced_indexes(self, since: float) -> set[int]:
        """Map indexes whose source has a sync job started at or after ``since`` (emulator's state)."""
        outcome = jobs_since(self.control.state(), self.emulator.client_id, self.source_ids, since)
        return {
            index for index, source_id in enumerate(self.source_ids) if outcome.jobs_per_source[source_id]
        }

    def drill_run(self, run_id: str) -> RunResult:
        """The second run, with worker 2's clock skewed and the other drills fired mid-run."""
        assert self.deployment is not None
        draw = random.Random(16)
        short_syncs = set(range(0, self.count, 2))
        for index, source_id in enumerate(self.source_ids):
            taps = DRILL_SHORT_TAP_SECONDS if index in short_syncs else DRILL_TAP_SECONDS
            self.control.arrange(
                source_id, durations={"discovery": 5.0, "tap": draw.uniform(*taps), "target": 5.0}
            )
        deployment = self.deployment
        deployment.components[SKEWED_WORKER].stop()
        deployment.worker_clock_offsets = (0.0, SKEWED_WORKER_SECONDS)
        deployment.start_worker(2)
        since = self.emulator_now()
        plan = DrillPlan(
            deployment,
            self.redis,
            self.emulator_now,
            run_id,
            self.count,
            lambda: self._synced_indexes(since),
            short_syncs,
        )
        plan.log.worker_clock_offset = clock_offset(deployment.worker_env(2))
        self.say(
            f"  {SKEWED_WORKER} restarted with its clock {abs(SKEWED_WORKER_SECONDS):.0f} s behind (libfaketime; "
            f"measured {plan.log.worker_clock_offset:+.1f} s)"
        )
        return self.run(run_id, plan)

    def stop(self) -> None:
        """Stop everything this harness started (idempotent)."""
        if self.control is not None:
            self.control.close()
        if self.deployment is not None:
            self.deployment.stop()
        self.emulator.stop()
        self.redis.stop()
        self.broker.stop()


def _utc(text: str) -> str:
    """An Airflow DB timestamp (UTC, maybe without an offset) as ISO 8601 with one."""
    text = str(text).replace(" ", "T")
    return text if text.endswith("Z") or "+" in text[10:] else text + "+00:00"


def _mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


def report(result: RunResult, speed: float, out: Any) -> list[str]:
    """Lines describing one run."""
    samples = result.samples
    lines = [
        f"  {result.name}: DAG run {result.run_state}; {result.synced}/{result.sources} sources synced and loaded "
        f"in {result.real_seconds:.0f} s",
        f"    sync jobs: {sum(result.jobs_per_source.values())} for {result.sources} sources "
        f"({result.duplicate_jobs} duplicates); {result.retried_tasks} task(s) retried",
        f"    Jobs requests: {result.jobs_requests} in this run; busiest {STITCH_WINDOW_SECONDS:.0f} s window "
        f"(emulator request log, recounted): {result.busiest_jobs_window} of {STITCH_JOBS_LIMIT}",
        f"    detection delay (job end -> first extraction read, emulator s): median {median(result.delays):.1f}, "
        f"p95 {percentile(result.delays, 0.95):.1f} over {len(result.delays)} jobs",
        f"    job end -> start task finished (real s, includes Airflow's resume): median "
        f"{median(result.resume_seconds):.1f}, p95 {percentile(result.resume_seconds, 0.95):.1f} "
        f"(x{speed:g} = {median(result.resume_seconds) * speed:.0f} emulator s median)",
        f"    worker slots: peak {samples.peak_running} busy, {samples.running_slot_seconds:.0f} slot-s in all, "
        f"longest task stretch {samples.longest_running:.0f} s; waits deferred: peak {samples.peak_deferred}, "
        f"{samples.deferred_task_seconds:.0f} task-s, 0 slots held by them",
    ]
    for name in sorted(samples.triggerer_peak):
        base, peak = samples.triggerer_baseline.get(name, 0), samples.triggerer_peak[name]
        lines.append(f"    {name}: peak memory {_mib(peak)} (idle {_mib(base)})")
    if samples.peak_triggers:
        grown = sum(samples.triggerer_peak.values()) - sum(samples.triggerer_baseline.values())
        lines.append(
            f"    triggerer memory per wait: {grown / samples.peak_triggers / 1024:.0f} KiB "
            f"({samples.peak_triggers} triggers at peak)"
        )
    for note in result.drills.notes if result.drills else []:
        lines.append(f"    drill: {note}")
    for check in result.drill_checks:
        lines.append(f"    {'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    for line in lines:
        print(line, file=out, flush=True)
    return lines


def summary_line(count: int, results: Sequence[RunResult], failure: str | None = None) -> str:
    """The last line: executor, runs succeeded, duplicates and the busiest Jobs window."""
    succeeded = sum(r.synced for r in results)
    total = sum(r.sources for r in results)
    duplicates = sum(r.duplicate_jobs for r in results)
    busiest = max((r.busiest_jobs_window for r in results), default=0)
    verdict = "OK" if failure is None and results and all(r.ok for r in results) else "FAILED"
    drills = sum(len(r.drill_checks) for r in results)
    passed = sum(1 for r in results for check in r.drill_checks if check.passed)
    drill_text = f", drills {passed}/{drills} passed" if drills else ""
    return (
        f"scale {verdict}: CeleryExecutor, N={count}, 2 workers, 2 triggerers, Redis budget — runs succeeded "
        f"{succeeded}/{total}, duplicate sources/jobs 0/{duplicates}, busiest Jobs window {busiest}/"
        f"{STITCH_JOBS_LIMIT} per {STITCH_WINDOW_SECONDS:.0f} s{drill_text}"
        + (f" ({failure})" if failure else "")
    )


def _raise_system_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the harness; return 0 when every goal held."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sources", "-n", type=int, default=20, help="N, sources synced by each run (default 20)"
    )
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED, help="emulator speed (default 10)")
    parser.add_argument("--no-drills", action="store_true", help="only the measured run")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (logs) even on success")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.sources < 1:
        parser.error("--sources must be at least 1")
    try:
        import airflow.providers.celery  # noqa: F401
    except ImportError:
        print("benchmarks/scale.py needs the Celery provider: pip install -e '.[scale]' (make scale does it)")
        return 2
    signal.signal(signal.SIGTERM, _raise_system_exit)
    workdir = Path(tempfile.mkdtemp(prefix="stitch-scale-"))
    started = time.monotonic()
    harness = Harness(workdir, args.sources, args.speed)
    results: list[RunResult] = []
    code = 1
    failure: str | None = None
    print(f"Scale harness, N={args.sources}, working folder {workdir}", flush=True)
    try:
        harness.start()
        print("[1/2] measured run", flush=True)
        results.append(harness.run("measured"))
        report(results[-1], args.speed, sys.stdout)
        if not args.no_drills:
            print(
                "[2/2] drill run: worker clock skewed, a worker and a triggerer killed, budget Redis restarted",
                flush=True,
            )
            results.append(harness.drill_run("drills"))
            report(results[-1], args.speed, sys.stdout)
        code = 0 if all(r.ok for r in results) else 1
    except HarnessError as problem:
        failure = f"harness stopped: {problem}"
        print(f"harness FAILED: {problem}", flush=True)
    finally:
        harness.stop()
    if args.json:
        args.json.write_text(
            json.dumps(_figures(args.sources, args.speed, results), indent=2), encoding="utf-8"
        )
    print(f"total {time.monotonic() - started:.0f} s", flush=True)
    if code == 0 and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs kept in {workdir}", flush=True)
    print(summary_line(args.sources, results, failure), flush=True)
    return code


def _figures(count: int, speed: float, results: Sequence[RunResult]) -> dict[str, Any]:
    return {
        "sources": count,
        "speed": speed,
        "runs": [
            {
                "name": r.name,
                "state": r.run_state,
                "synced": r.synced,
                "duplicate_jobs": r.duplicate_jobs,
                "busiest_jobs_window": r.busiest_jobs_window,
                "delay_median": None if math.isnan(median(r.delays)) else median(r.delays),
                "delay_p95": None if not r.delays else percentile(r.delays, 0.95),
                "triggerer_peak_bytes": r.samples.triggerer_peak,
                "drill_checks": [dataclasses.asdict(check) for check in r.drill_checks],
            }
            for r in results
        ],
    }


if __name__ == "__main__":
    sys.exit(main())
