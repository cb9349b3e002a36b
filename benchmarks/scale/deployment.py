"""The deployment under test: redis-server, the emulator and Airflow's CeleryExecutor components, each a child
process group on loopback that the harness can stop, kill and restart by PID."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_stitch.emulator.dag_runs import airflow_environment, run_airflow

from .host import HOST_VARIABLE, HOSTNAME_CALLABLE

BENCHMARKS = Path(__file__).resolve().parents[1]
SCALE_DAGS = Path(__file__).resolve().parent / "dags"
SCALE_DAG_ID = "stitch_scale_sync"
#: libfaketime from Debian's ``faketime`` package: shifts the clock of the process it is preloaded into.
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
#: Seconds a component may take to come up (on an idle box; see LoadScaledTimer).
STARTUP_SECONDS = 120.0
#: Task slots of each Celery worker.
WORKER_CONCURRENCY = 4
#: Seconds without a heartbeat after which the scheduler fails (and retries) a task whose worker died.
TASK_HEARTBEAT_TIMEOUT = 30
#: Task instances Airflow runs or queues at once.
PARALLELISM = 64
#: Seconds a task may stay queued before the scheduler queues it again (a message a killed worker had taken
#: is otherwise redelivered only after the broker's visibility timeout): a base plus a share for each task
#: that can be queued ahead of it, so a long Celery queue on a busy box is not taken for a stuck task.
TASK_QUEUED_TIMEOUT_BASE = 60
TASK_QUEUED_SECONDS_PER_TASK = 3
#: Times the scheduler queues a task again before it fails it (Airflow's default is 2).
STUCK_IN_QUEUED_RETRIES = 5
#: Seconds between the scheduler's looks for such tasks (Airflow's default, 120, adds up to two minutes).
TASK_QUEUED_TIMEOUT_CHECK_INTERVAL = 10
#: Seconds without a heartbeat after which a triggerer's triggers move to another triggerer.
TRIGGERER_HEALTH_THRESHOLD = 15


def task_queued_timeout(tasks_at_once: int) -> int:
    """``[scheduler] task_queued_timeout`` for a run that queues up to ``tasks_at_once`` tasks together.

    :param tasks_at_once: tasks that may be queued at the same time (N, the mapped tasks of one run).
    """
    return TASK_QUEUED_TIMEOUT_BASE + TASK_QUEUED_SECONDS_PER_TASK * min(tasks_at_once, PARALLELISM)


class HarnessError(RuntimeError):
    """A component did not start or a step failed; the message names the log to read."""


def load_factor() -> float:
    """How overloaded this box is right now: the 1-minute load average per CPU, at least 1."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


class LoadScaledTimer:
    """A timeout whose seconds stretch with the box's load, so a slow but moving run on a busy 2-core
    machine is not cut off, while a hung one still is.

    Each stretch of real time counts ``1 / load_factor()`` of itself: at a load of 3 per CPU a 300 s
    timeout lasts about 900 real seconds.

    :param seconds: the timeout on an idle box.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0
        self.real = 0.0
        self._last = time.monotonic()

    def expired(self) -> bool:
        """Whether the timeout has run out (call it regularly: each call weighs the time since the last)."""
        now = time.monotonic()
        self.spent += (now - self._last) / load_factor()
        self.real += now - self._last
        self._last = now
        return self.spent > self.seconds


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    """Wait until 127.0.0.1:port accepts connections; raise HarnessError if the process dies or time runs out.

    :param timeout: seconds on an idle box (stretched with the load).
    """
    timer = LoadScaledTimer(timeout)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if process.poll() is not None or timer.expired():
            raise HarnessError(f"{what} did not start listening on port {port}; see {log}")
        time.sleep(0.2)


@dataclass
class Component:
    """One long-running child process (and its children) in its own process group.

    :param name: what it is, e.g. ``celery-worker-1``.
    :param command: the command line.
    :param env: its environment.
    :param cwd: its working directory (created when missing).
    :param log: file receiving its stdout and stderr.
    """

    name: str
    command: Sequence[str]
    env: Mapping[str, str]
    cwd: Path
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    #: Stopped or killed on purpose (a drill), so its exit is not a failure.
    stopped: bool = False

    def start(self) -> Component:
        """Start the process in a new session (its own process group)."""
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.stopped = False
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                list(self.command),
                env=dict(self.env),
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        """PID of the group leader."""
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        """The group leader is still running."""
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds (idempotent)."""
        self.stopped = True
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        self._signal_group(signal.SIGKILL)
        self.process.wait(grace)

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as when a host dies."""
        self.stopped = True
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(15)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def tree_rss_bytes(self) -> int:
        """Resident memory of the group leader and all its descendants (0 once it is gone)."""
        if not self.alive():
            return 0
        return sum(_rss_bytes(pid) for pid in _descendants(self.pid))


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _descendants(pid: int) -> list[int]:
    children = _children_map()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class RedisServer:
    """redis-server on a loopback port with an append-only file synced on every write, so a restart keeps
    the Jobs budget's window (the sorted sets of taken tokens).

    :param workdir: folder for its data and log.
    :param name: what it serves, e.g. ``redis-broker``; names its data folder and log.
    """

    workdir: Path
    name: str = "redis"
    port: int = field(default_factory=free_port)
    component: Component | None = None

    def url(self, database: int) -> str:
        """``redis://127.0.0.1:port/database``."""
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> RedisServer:
        """Start (or restart on the same port and data) and wait until it accepts connections."""
        data = self.workdir / self.name
        data.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--protected-mode",
            "yes",
        ]
        self.component = Component(
            self.name, command, dict(os.environ), data, self.workdir / f"{self.name}.log"
        )
        self.component.start()
        assert self.component.process is not None
        wait_for_port(self.port, 30, self.component.process, "redis-server", self.component.log)
        return self

    def stop(self) -> None:
        """SIGTERM (redis flushes its append-only file), then SIGKILL if needed."""
        if self.component is not None:
            self.component.stop()


@dataclass
class AirflowDeployment:
    """Airflow 3 with the CeleryExecutor on loopback: scheduler, dag-processor, api-server, two Celery workers
    (each in its own working directory with its own log folder, standing in for two hosts) and two triggerers.

    :param workdir: the harness's folder; ``airflow/`` inside it is AIRFLOW_HOME.
    :param redis: the Celery broker (database 0) and Celery results (database 1).
    :param connection_json: the ``stitch_default`` connection in Airflow's JSON form.
    :param worker_clock_offsets: seconds to shift each worker's clock by (libfaketime); 0 leaves it alone.
    :param queued_timeout: ``[scheduler] task_queued_timeout`` (see :func:`task_queued_timeout`).
    """

    workdir: Path
    redis: RedisServer
    connection_json: str = field(repr=False)
    worker_clock_offsets: Sequence[float] = (0.0, 0.0)
    queued_timeout: int = TASK_QUEUED_TIMEOUT_BASE
    api_port: int = field(default_factory=free_port)
    components: dict[str, Component] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def home(self) -> Path:
        """AIRFLOW_HOME."""
        return self.workdir / "airflow"

    @property
    def database(self) -> Path:
        """The SQLite metadata database."""
        return self.home / "airflow.db"

    def prepare(self) -> None:
        """Build the environment and migrate the metadata database."""
        env = airflow_environment(self.home, dags_folder=SCALE_DAGS)
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "1000",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
                "AIRFLOW__API__SECRET_KEY": os.urandom(16).hex(),
                "AIRFLOW__CELERY__BROKER_URL": self.redis.url(0),
                "AIRFLOW__CELERY__RESULT_BACKEND": self.redis.url(1),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(TASK_HEARTBEAT_TIMEOUT),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(TRIGGERER_HEALTH_THRESHOLD),
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(self.queued_timeout),
                "AIRFLOW__SCHEDULER__NUM_STUCK_IN_QUEUED_RETRIES": str(STUCK_IN_QUEUED_RETRIES),
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": str(
                    TASK_QUEUED_TIMEOUT_CHECK_INTERVAL
                ),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
                "AIRFLOW_CONN_STITCH_DEFAULT": self.connection_json,
            }
        )
        self.env = env
        log = self.workdir / "airflow-db-migrate.log"
        if run_airflow(env, ["db", "migrate"], log_path=log) != 0:
            raise HarnessError(f"airflow db migrate failed; see {log}")

    def _airflow(
        self, name: str, arguments: Sequence[str], env: Mapping[str, str] | None = None
    ) -> Component:
        component = Component(
            name,
            [sys.executable, "-m", "airflow", *arguments],
            env or self.env,
            self.workdir / name,
            self.workdir / f"{name}.log",
        )
        self.components[name] = component
        return component.start()

    def host_env(self, name: str) -> dict[str, str]:
        """Environment of a component standing in for a host of its own: Airflow records ``name`` as its
        host name (task instances, triggerer jobs), so the harness can tell from the database which one ran what.

        :param name: the component's name, e.g. ``celery-worker-1``.
        """
        env = dict(self.env)
        env[HOST_VARIABLE] = name
        env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = HOSTNAME_CALLABLE
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCHMARKS), env.get("PYTHONPATH")]))
        return env

    def worker_env(self, number: int) -> dict[str, str]:
        """Environment of Celery worker ``number`` (1-based): its host name, log folder and clock offset."""
        name = f"celery-worker-{number}"
        env = self.host_env(name)
        env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(self.workdir / name / "logs")
        offset = self.worker_clock_offsets[number - 1]
        if offset:
            if not LIBFAKETIME.exists():
                raise HarnessError(
                    f"a worker clock offset needs libfaketime ({LIBFAKETIME}): apt-get install faketime"
                )
            env["LD_PRELOAD"] = str(LIBFAKETIME)
            # The monotonic clock is shifted too: with it left alone, libfaketime 0.9.10 makes Python's
            # time.sleep (an absolute clock_nanosleep) fail with EINVAL.
            env["FAKETIME"] = f"{offset:+.0f}"
        return env

    def start_worker(self, number: int) -> Component:
        """Start (or restart) Celery worker ``number``."""
        name = f"celery-worker-{number}"
        return self._airflow(
            name,
            ["celery", "worker", "--celery-hostname", f"worker{number}@127.0.0.1", "--skip-serve-logs"],
            self.worker_env(number),
        )

    def start_triggerer(self, number: int) -> Component:
        """Start (or restart) triggerer ``number``."""
        name = f"triggerer-{number}"
        return self._airflow(name, ["triggerer", "--skip-serve-logs"], self.host_env(name))

    def start(self) -> None:
        """Start every component and wait until the api-server answers and the DAG is parsed."""
        api = self._airflow("api-server", ["api-server", "--port", str(self.api_port), "--host", "127.0.0.1"])
        self._airflow("scheduler", ["scheduler"])
        self._airflow("dag-processor", ["dag-processor"])
        for number in (1, 2):
            self.start_worker(number)
            self.start_triggerer(number)
        assert api.process is not None
        wait_for_port(self.api_port, STARTUP_SECONDS, api.process, "the api-server", api.log)
        self.wait_for_dag()

    def pids(self) -> dict[str, int]:
        """PID of each component that runs now, by name (a restart shows as a new PID)."""
        return {name: c.pid for name, c in self.components.items() if c.alive()}

    def check_alive(self) -> None:
        """Raise HarnessError naming any component that exited by itself."""
        for component in self.components.values():
            if (
                not component.stopped
                and component.process is not None
                and component.process.poll() is not None
            ):
                raise HarnessError(
                    f"{component.name} exited with {component.process.returncode}; see {component.log}"
                )

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read the metadata database directly (read-only), independent of Airflow's own code."""
        uri = f"file:{self.database}?mode=ro"
        for attempt in range(20):
            try:
                with sqlite3.connect(uri, uri=True, timeout=10) as conn:
                    return list(conn.execute(sql, parameters))
            except sqlite3.OperationalError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        return []

    def wait_for_dag(self) -> None:
        """Wait until the dag-processor has serialized the scale DAG."""
        timer = LoadScaledTimer(STARTUP_SECONDS)
        while not self.query("SELECT 1 FROM serialized_dag WHERE dag_id = ?", (SCALE_DAG_ID,)):
            self.check_alive()
            if timer.expired():
                raise HarnessError(f"{SCALE_DAG_ID} was not parsed; see {self.workdir / 'dag-processor.log'}")
            time.sleep(1)

    def cli(self, arguments: Sequence[str], log_name: str) -> None:
        """Run one ``airflow`` CLI command; raise HarnessError when it fails."""
        log = self.workdir / f"{log_name}.log"
        if run_airflow(self.env, list(arguments), log_path=log) != 0:
            raise HarnessError(f"airflow {' '.join(arguments[:2])} failed; see {log}")

    def trigger(self, run_id: str, source_ids: Sequence[int]) -> None:
        """Unpause the scale DAG and start one run over ``source_ids``."""
        self.cli(["dags", "unpause", SCALE_DAG_ID], f"unpause-{run_id}")
        conf = json.dumps({"source_ids": list(source_ids)})
        self.cli(["dags", "trigger", SCALE_DAG_ID, "--run-id", run_id, "--conf", conf], f"trigger-{run_id}")

    def run_state(self, run_id: str) -> str | None:
        """State of one DAG run, or None before it exists."""
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", (SCALE_DAG_ID, run_id))
        return str(rows[0][0]) if rows else None

    def task_states(self, run_id: str) -> dict[str, int]:
        """How many task instances of the run are in each state."""
        rows = self.query(
            "SELECT COALESCE(state, 'none'), COUNT(*) FROM task_instance WHERE dag_id = ? AND run_id = ? "
            "GROUP BY 1",
            (SCALE_DAG_ID, run_id),
        )
        return {str(state): int(count) for state, count in rows}

    def stop(self) -> None:
        """Stop every component, workers and triggerers first."""
        for component in sorted(
            self.components.values(), key=lambda c: c.name in ("api-server", "scheduler")
        ):
            component.stop()


def clock_offset(env: Mapping[str, str]) -> float:
    """Seconds a process started with ``env`` reads its clock off by, measured against this process's clock.

    A check of the clock-skew drill that does not take libfaketime's word for it: a child with the worker's
    environment prints its ``time.time()``, compared with the middle of the time it took.

    :param env: a component's environment (e.g. :meth:`AirflowDeployment.worker_env`).
    """
    before = time.time()
    answer = subprocess.run(
        [sys.executable, "-S", "-c", "import time; print(repr(time.time()))"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    after = time.time()
    return float(answer.stdout.strip()) - (before + after) / 2
