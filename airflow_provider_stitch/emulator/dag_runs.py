"""Running real Airflow against the emulator: a private Airflow home, the connection, ``airflow dags test``,
and what a run left in the emulator.

``make demo`` and the end-to-end tests drive Airflow through these, so both do it one way. Airflow
runs in child processes (``python -m airflow``); nothing here imports Airflow or the provider's client.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import httpx

from airflow_provider_stitch.emulator.harness import EmulatorControl, stop_process

#: Seconds one ``airflow`` command may run.
AIRFLOW_COMMAND_SECONDS = 600.0
#: Stitch's allowance of Jobs requests per client account and 10 minutes.
JOBS_ALLOWANCE = 30
PHASES = ("discovery", "tap", "target")


class AirflowCommandError(RuntimeError):
    """An ``airflow`` command failed; the message names the command and its log file."""


def stitch_connection_json(
    base_url: str,
    token: str,
    client_id: int,
    *,
    emulator_speed: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The ``stitch_default`` connection in Airflow's JSON form, for ``AIRFLOW_CONN_STITCH_DEFAULT``.

    :param base_url: the API root (here the emulator's base URL).
    :param token: the API access token (the emulator's fake one).
    :param client_id: the Stitch client id.
    :param emulator_speed: the emulator's ``--speed``, so the Jobs budget counts its faster window.
    :param extra: more connection extras (``jobs_budget``, ``budget_backend``, ``budget_location``, ...).
    """
    extras: dict[str, Any] = {"stitch_client_id": client_id, **(extra or {})}
    if emulator_speed is not None:
        extras["emulator_speed"] = emulator_speed
    return json.dumps({"conn_type": "stitch", "host": base_url, "password": token, "extra": extras})


def sqlite_executor() -> str:
    """The executor Airflow accepts on SQLite: Airflow 2 allows only SequentialExecutor, Airflow 3 has none."""
    major = int(importlib.metadata.version("apache-airflow").split(".")[0])
    return "SequentialExecutor" if major < 3 else "LocalExecutor"


def airflow_environment(
    home: Path, *, dags_folder: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for ``airflow`` commands using a private home with a SQLite database.

    :param home: the AIRFLOW_HOME to use (created when missing).
    :param dags_folder: the DAGs folder.
    :param base: environment to start from (defaults to this process's); other ``AIRFLOW__`` settings
        and ``AIRFLOW_CONN_`` connections are left out.
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


#: ``airflow`` children still running (stopped by :func:`stop_running_commands`).
_RUNNING: list[subprocess.Popen[Any]] = []


def run_airflow(
    env: Mapping[str, str],
    arguments: Sequence[str],
    *,
    log_path: Path,
    echo: TextIO | None = None,
    echo_filter: Callable[[str], str | None] | None = None,
    timeout: float = AIRFLOW_COMMAND_SECONDS,
    cwd: Path | None = None,
) -> int:
    """Run ``airflow <arguments>`` with its output in ``log_path``; return its exit code (124 on timeout).

    :param env: environment from :func:`airflow_environment`.
    :param arguments: the command's arguments, e.g. ``["db", "migrate"]``.
    :param log_path: file receiving stdout and stderr.
    :param echo: stream to which selected lines are copied while the command runs.
    :param echo_filter: turns a log line into the text to echo, or None to skip it.
    :param timeout: seconds before the command is stopped and counted as failed.
    :param cwd: working folder of the command (this process's when None).
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
            cwd=cwd,
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
                    stop_process(process)
                    log.write(f"\n[stitch] stopped after {timeout:.0f} s\n")
                    return 124
            return process.wait()
        finally:
            stop_process(process)
            _RUNNING.remove(process)


def stop_running_commands() -> None:
    """Stop every ``airflow`` child this process started that is still running (each by its PID)."""
    for process in list(_RUNNING):
        stop_process(process)


def migrate_database(env: Mapping[str, str], log_path: Path) -> None:
    """``airflow db migrate``; :class:`AirflowCommandError` when it fails."""
    if run_airflow(env, ["db", "migrate"], log_path=log_path) != 0:
        raise AirflowCommandError(f"airflow db migrate failed; see {log_path}")


def task_progress(line: str) -> str | None:
    """``    task <id>`` for a line where ``dags test`` starts a task, else None."""
    marker = "[DAG TEST] starting task_id="
    if marker not in line:
        return None
    rest = line.split(marker, 1)[1].split()
    task_id = rest[0] if rest else "?"
    map_index = next((part.split("=", 1)[1] for part in rest if part.startswith("map_index=")), "-1")
    return f"    task {task_id}" + ("" if map_index == "-1" else f"[{map_index}]")


def run_dag_test(
    env: Mapping[str, str],
    dag_id: str,
    *,
    log_path: Path,
    conf: Mapping[str, Any] | None = None,
    echo: TextIO | None = None,
) -> int:
    """``airflow dags test <dag_id>`` (deferred tasks run inline); return its exit code.

    :param env: environment from :func:`airflow_environment` with the connection set.
    :param dag_id: the DAG to run.
    :param log_path: file receiving the whole output.
    :param conf: the run's configuration (overrides of the DAG's params).
    :param echo: stream for one line per task as it starts.
    """
    arguments = ["dags", "test", dag_id]
    if conf:
        arguments += ["--conf", json.dumps(dict(conf))]
    return run_airflow(env, arguments, log_path=log_path, echo=echo, echo_filter=task_progress)


class EmulatorEndpoint(Protocol):
    """Where an emulator serves and its primary account (an EmulatorProcess or a StitchEmulator)."""

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
    """What a run left in Stitch (the emulator): the source, its job, extraction, loads and Jobs requests."""

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


def extraction_text(row: Mapping[str, Any] | None) -> str:
    """An extraction row in words: ``succeeded``, still running, or the failing phase with its description."""
    if row is None:
        return "none reported"
    if row.get("completion_time") is None:
        return "still running"
    statuses = [row.get(f"{phase}_exit_status") for phase in PHASES]
    if statuses == [0, 0, 0]:
        return "succeeded (discovery, tap and target exit status 0)"
    for phase, status in zip(PHASES, statuses, strict=True):
        if status not in (0, None):
            description = row.get(f"{phase}_description") or "no description"
            return f"failed in {phase} (exit status {status}): {description}"
    return "failed"


def _all_rows(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    """Every row of a paginated Jobs list, following ``links.next``."""
    rows: list[dict[str, Any]] = []
    next_path: str | None = path
    while next_path:
        body = http.get(next_path).raise_for_status().json()
        rows.extend(body["data"])
        next_path = body.get("links", {}).get("next")
    return rows


def collect_summary(emulator: EmulatorEndpoint) -> RunSummary:
    """Read a run's outcome from the emulator: its state and counters, then the extraction and loads.

    The Jobs counters are read before the extraction and load lists are fetched, so the requests this
    summary itself makes are not counted against the run.

    :param emulator: the emulator the run used (its primary account is summarised).
    """
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
        headers = {"Authorization": f"Bearer {emulator.token}"}
        with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=30) as http:
            extraction_row = next(
                (
                    row
                    for row in _all_rows(http, f"/v4/{emulator.client_id}/extractions")
                    if row["source_id"] == source["id"]
                ),
                None,
            )
            loaded = sorted(
                row["stream_name"]
                for row in _all_rows(http, f"/v4/{emulator.client_id}/loads")
                if row["source_name"] == source["name"] and row["last_batch_loaded_at"] is not None
            )
    extraction = extraction_text(extraction_row)
    if not extraction.startswith("succeeded"):
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
