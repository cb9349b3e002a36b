"""``make demo``: a real Airflow runs the onboarding example DAG against the offline Stitch emulator.

Nothing to configure: the emulator runs as a child process on a free loopback port, Airflow gets a
throwaway home with a SQLite database, the ``stitch_default`` connection points at the emulator, and
``airflow dags test stitch_onboard_source`` runs every task (deferred ones included) in one process.
The script ends with a short summary read from the emulator and exits non-zero when anything failed.

The helpers here are also what ``tests/e2e`` uses to drive Airflow, so the demo and the tests share one
way of doing it.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
DEMO_DAG_ID = "stitch_onboard_source"
#: Emulator seconds per real second: a replication job of ~10 emulator seconds ends in well under one.
DEMO_SPEED = 20.0
#: Seconds the emulator child may take to write its ready file.
EMULATOR_STARTUP_SECONDS = 30.0
#: Seconds one ``airflow`` command may run.
AIRFLOW_COMMAND_SECONDS = 600.0
#: Stitch's allowance of Jobs requests per client account and 10 minutes.
JOBS_ALLOWANCE = 30


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and where its log is."""


# ---------------------------------------------------------------------------------------- children


def _stop_process(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Terminate one child by its PID, then kill it if it does not exit within ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace)


@dataclass
class EmulatorProcess:
    """The emulator (``airflow-stitch emulator``) as a child process on a free loopback port.

    Args:
        workdir: folder for the ready file and the emulator's output.
        speed: emulator seconds per real second.
        extra_args: more ``airflow-stitch emulator`` options.
    """

    workdir: Path
    speed: float = DEMO_SPEED
    extra_args: Sequence[str] = ()
    base_url: str = ""
    token: str = field(default="", repr=False)
    client_id: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> EmulatorProcess:
        """Start the child and wait until it serves; raises DemoError when it does not."""
        ready_file = self.workdir / "emulator-ready.json"
        log_path = self.workdir / "emulator.log"
        command = [
            sys.executable,
            "-m",
            "airflow_provider_stitch.cli",
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--speed",
            str(self.speed),
            "--ready-file",
            str(ready_file),
            *self.extra_args,
        ]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + EMULATOR_STARTUP_SECONDS
        while not ready_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise DemoError(f"the Stitch emulator did not start; see {log_path}")
            time.sleep(0.05)
        ready = json.loads(ready_file.read_text(encoding="utf-8"))
        self.base_url = str(ready["base_url"])
        self.token = str(ready["token"])
        self.client_id = int(ready["client_id"])
        return self

    def stop(self) -> None:
        """Stop the child by its PID (idempotent)."""
        if self.process is not None:
            _stop_process(self.process)


# ----------------------------------------------------------------------------------------- Airflow


def stitch_connection_json(
    base_url: str,
    token: str,
    client_id: int,
    *,
    emulator_speed: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The ``stitch_default`` connection in Airflow's JSON form, for ``AIRFLOW_CONN_STITCH_DEFAULT``.

    Args:
        base_url: the API root (here the emulator's base URL).
        token: the API access token (the emulator's fake one).
        client_id: the Stitch client id.
        emulator_speed: the emulator's ``--speed``, so the Jobs budget counts its faster window.
        extra: more connection extras (``jobs_budget``, ``budget_backend``, ``budget_location``, ...).
    """
    extras: dict[str, Any] = {"stitch_client_id": client_id, **(extra or {})}
    if emulator_speed is not None:
        extras["emulator_speed"] = emulator_speed
    return json.dumps({"conn_type": "stitch", "host": base_url, "password": token, "extra": extras})


def airflow_environment(
    home: Path, *, dags_folder: Path = EXAMPLE_DAGS, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for ``airflow`` commands using a private home with a SQLite database.

    Args:
        home: the AIRFLOW_HOME to use (created when missing).
        dags_folder: the DAGs folder.
        base: environment to start from (defaults to this process's, without other AIRFLOW__ settings).
    """
    home.mkdir(parents=True, exist_ok=True)
    source = dict(os.environ if base is None else base)
    env = {
        name: value for name, value in source.items() if not name.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": sqlite_executor(),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def sqlite_executor() -> str:
    """The executor Airflow accepts on SQLite: Airflow 2 allows only SequentialExecutor, Airflow 3 has none."""
    major = int(importlib.metadata.version("apache-airflow").split(".")[0])
    return "SequentialExecutor" if major < 3 else "LocalExecutor"


_RUNNING: list[subprocess.Popen[Any]] = []


def run_airflow(
    env: Mapping[str, str],
    arguments: Sequence[str],
    *,
    log_path: Path,
    echo: TextIO | None = None,
    echo_filter: Any = None,
    timeout: float = AIRFLOW_COMMAND_SECONDS,
) -> int:
    """Run ``airflow <arguments>`` with its output in ``log_path``; return its exit code.

    Args:
        env: environment from :func:`airflow_environment`.
        arguments: the command's arguments, e.g. ``["db", "migrate"]``.
        log_path: file receiving stdout and stderr.
        echo: stream to which selected lines are copied while the command runs.
        echo_filter: callable turning a log line into the text to echo, or None to skip it.
        timeout: seconds before the command is stopped and counted as failed.
    """
    command = [sys.executable, "-m", "airflow", *arguments]
    deadline = time.monotonic() + timeout
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            cwd=REPO_ROOT,
        )
        _RUNNING.append(process)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                if echo is not None and echo_filter is not None:
                    shown = echo_filter(line)
                    if shown:
                        print(shown, file=echo, flush=True)
                if time.monotonic() > deadline:
                    _stop_process(process)
                    log.write(f"\n[demo] stopped after {timeout:.0f} s\n")
                    return 124
            return process.wait()
        finally:
            _stop_process(process)
            _RUNNING.remove(process)


def migrate_database(env: Mapping[str, str], log_path: Path) -> None:
    """``airflow db migrate``; raises DemoError when it fails."""
    if run_airflow(env, ["db", "migrate"], log_path=log_path) != 0:
        raise DemoError(f"airflow db migrate failed; see {log_path}")


def run_dag_test(
    env: Mapping[str, str],
    dag_id: str,
    *,
    log_path: Path,
    conf: Mapping[str, Any] | None = None,
    echo: TextIO | None = None,
) -> int:
    """``airflow dags test <dag_id>`` (deferred tasks run inline); return its exit code.

    Args:
        env: environment from :func:`airflow_environment` with the connection set.
        dag_id: the DAG to run.
        log_path: file receiving the whole output.
        conf: the run's configuration (overrides of the DAG's params).
        echo: stream for one line per task as it starts.
    """
    arguments = ["dags", "test", dag_id]
    if conf:
        arguments += ["--conf", json.dumps(dict(conf))]
    return run_airflow(env, arguments, log_path=log_path, echo=echo, echo_filter=_task_progress)


def _task_progress(line: str) -> str | None:
    """``  - task <id>`` for a line where ``dags test`` starts a task, else None."""
    marker = "[DAG TEST] starting task_id="
    if marker not in line:
        return None
    rest = line.split(marker, 1)[1].split()
    task_id = rest[0] if rest else "?"
    map_index = next((part.split("=", 1)[1] for part in rest if part.startswith("map_index=")), "-1")
    return f"    task {task_id}" + ("" if map_index == "-1" else f"[{map_index}]")


# ----------------------------------------------------------------------------------------- summary


class EmulatorEndpoint(Protocol):
    """Where an emulator serves and its primary account (an EmulatorProcess or an in-process StitchEmulator)."""

    @property
    def base_url(self) -> str:
        """The emulator's base URL."""
        ...

    @property
    def token(self) -> str:
        """Access token of the primary account."""
        ...

    @property
    def client_id(self) -> int:
        """Client id of the primary account."""
        ...


@dataclass
class RunSummary:
    """What the onboarding run left in Stitch, read back from the emulator."""

    source_id: int | None
    source_name: str | None
    streams_selected: list[str]
    job_name: str | None
    job_phase: str | None
    extraction: str
    streams_loaded: list[str]
    jobs_requests: int
    jobs_in_busiest_window: int
    failures: list[str]

    def lines(self) -> list[str]:
        """The summary as lines a person reads."""
        return [
            f"  source            {self.source_id} ({self.source_name})",
            f"  streams selected  {', '.join(self.streams_selected) or 'none'}",
            f"  job               {self.job_name or 'none'}",
            f"  extraction        {self.extraction}",
            f"  streams loaded    {', '.join(self.streams_loaded) or 'none'}",
            f"  Jobs requests     {self.jobs_requests} used; at most {self.jobs_in_busiest_window} in any "
            f"10 minutes, of the {JOBS_ALLOWANCE} allowed",
        ]


def _extraction_text(row: Any) -> str:
    """``succeeded`` or the failing phase with Stitch's description."""
    if row is None:
        return "none reported"
    if row.completion_time is None:
        return "still running"
    if row.succeeded:
        return "succeeded (discovery, tap and target exit status 0)"
    for phase in ("discovery", "tap", "target"):
        status = getattr(row, f"{phase}_exit_status", None)
        if status not in (0, None):
            description = getattr(row, f"{phase}_description", None) or "no description"
            return f"failed in {phase} (exit status {status}): {description}"
    return "failed"


def collect_summary(emulator: EmulatorEndpoint) -> RunSummary:
    """Read the run's outcome from the emulator: its state and counters, then the extraction and loads.

    The Jobs counters are read before the extraction and load lists are fetched, so the two requests
    this summary itself makes are not counted against the DAG.
    """
    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.emulator import EmulatorControl

    control = EmulatorControl(emulator.base_url)
    try:
        state = control.state()
        stats = control.stats(include_log=False)
    finally:
        control.close()
    account = next(a for a in state["accounts"] if a["client_id"] == emulator.client_id)
    sources = [s for s in account["sources"] if s["deleted_at"] is None]
    source = sources[0] if len(sources) == 1 else None
    failures: list[str] = []
    if source is None:
        failures.append(f"expected exactly one source, found {len(sources)}")
    jobs = [j for j in account["jobs"] if source is not None and j["source_id"] == source["id"]]
    job = jobs[-1] if jobs else None
    counters = stats["by_client"].get(str(emulator.client_id), {})

    extraction_row = None
    loaded: list[str] = []
    if source is not None:
        with StitchClient(emulator.token, base_url=emulator.base_url, client_id=emulator.client_id) as client:
            extraction_row = next(
                (row for row in client.list_extractions() if row.source_id == source["id"]), None
            )
            loaded = sorted(
                load.stream_name
                for load in client.list_loads()
                if load.source_name == source["name"] and load.last_batch_loaded_at is not None
            )
    extraction = _extraction_text(extraction_row)
    if extraction_row is None or not extraction_row.succeeded:
        failures.append(f"extraction {extraction}")
    selected = list(source["selected_streams"]) if source is not None else []
    if not selected:
        failures.append("no stream is selected")
    if selected and len(loaded) < len(selected):
        failures.append(f"{len(selected)} stream(s) selected but {len(loaded)} loaded")
    return RunSummary(
        source_id=source["id"] if source else None,
        source_name=source["name"] if source else None,
        streams_selected=selected,
        job_name=job["job_name"] if job else None,
        job_phase=job["phase"] if job else None,
        extraction=extraction,
        streams_loaded=loaded,
        jobs_requests=int(counters.get("jobs", 0)),
        jobs_in_busiest_window=int(counters.get("max_jobs_in_window", 0)),
        failures=failures,
    )


# -------------------------------------------------------------------------------------------- main


def _raise_system_exit(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks stop the children."""
    raise SystemExit(128 + signum)


def run_demo(workdir: Path, out: TextIO) -> int:
    """Every step of the demo inside ``workdir``; return the exit code."""
    started = time.monotonic()
    emulator = EmulatorProcess(workdir)
    atexit.register(emulator.stop)
    try:
        print(f"[1/4] Starting the Stitch emulator (x{DEMO_SPEED:g} speed) ...", file=out, flush=True)
        emulator.start()
        print(f"      serving {emulator.base_url}, client id {emulator.client_id}", file=out, flush=True)

        print("[2/4] Preparing a throwaway Airflow home with SQLite ...", file=out, flush=True)
        env = airflow_environment(workdir / "airflow")
        env["AIRFLOW_CONN_STITCH_DEFAULT"] = stitch_connection_json(
            emulator.base_url, emulator.token, emulator.client_id, emulator_speed=emulator.speed
        )
        migrate_database(env, workdir / "airflow-db-migrate.log")

        print(f"[3/4] airflow dags test {DEMO_DAG_ID}", file=out, flush=True)
        dag_log = workdir / "airflow-dags-test.log"
        code = run_dag_test(env, DEMO_DAG_ID, log_path=dag_log, echo=out)
        outcome = "succeeded" if code == 0 else f"FAILED (exit code {code}; log: {dag_log})"
        print(f"      DAG run {outcome}", file=out, flush=True)

        print("[4/4] What Stitch (the emulator) now holds:", file=out, flush=True)
        summary = collect_summary(emulator)
        for line in summary.lines():
            print(line, file=out)
        problems = ([] if code == 0 else [f"airflow dags test exited with {code}"]) + summary.failures
        elapsed = time.monotonic() - started
        if problems:
            print(f"\nDemo FAILED after {elapsed:.0f} s:", file=out)
            for problem in problems:
                print(f"  - {problem}", file=out)
            return 1
        print(f"\nDemo finished in {elapsed:.0f} s.", file=out, flush=True)
        return 0
    finally:
        emulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo in a temporary folder (kept when something failed, for its logs)."""
    del argv
    signal.signal(signal.SIGTERM, _raise_system_exit)
    workdir = Path(tempfile.mkdtemp(prefix="stitch-demo-"))
    code = 1
    try:
        code = run_demo(workdir, sys.stdout)
    except DemoError as problem:
        print(f"\nDemo FAILED: {problem}", file=sys.stdout)
    finally:
        for process in list(_RUNNING):
            _stop_process(process)
        if code == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"Logs kept in {workdir}", file=sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
