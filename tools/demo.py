"""``make demo``: a real Airflow runs the onboarding example DAG against the offline Stitch emulator.

Nothing to configure: the emulator runs as a child process on a free loopback port, Airflow gets a
throwaway home with a SQLite database, the ``stitch_default`` connection points at the emulator, and
``airflow dags test stitch_onboard_source`` runs every task (deferred ones included) in one process.
The script ends with a short summary read from the emulator and exits non-zero when anything failed.

The emulator child and the Airflow commands come from ``airflow_provider_stitch.emulator`` (``harness``
and ``dag_runs``), which ``tests/e2e`` and ``benchmarks/scale`` use too, so they all drive Airflow one way;
nothing imports this script.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

from airflow_provider_stitch.emulator.dag_runs import (
    AirflowCommandError,
    airflow_environment,
    collect_summary,
    migrate_database,
    run_dag_test,
    stitch_connection_json,
    stop_running_commands,
)
from airflow_provider_stitch.emulator.harness import EmulatorProcess, EmulatorStartError

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
DEMO_DAG_ID = "stitch_onboard_source"
#: Emulator seconds per real second: a replication job of ~10 emulator seconds ends in well under one.
DEMO_SPEED = 20.0


# -------------------------------------------------------------------------------------------- main


def _raise_system_exit(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks stop the children."""
    raise SystemExit(128 + signum)


def run_demo(workdir: Path, out: TextIO) -> int:
    """Every step of the demo inside ``workdir``; return the exit code."""
    started = time.monotonic()
    emulator = EmulatorProcess(workdir, speed=DEMO_SPEED)
    atexit.register(emulator.stop)
    try:
        print(f"[1/4] Starting the Stitch emulator (x{DEMO_SPEED:g} speed) ...", file=out, flush=True)
        emulator.start()
        print(f"      serving {emulator.base_url}, client id {emulator.client_id}", file=out, flush=True)

        print("[2/4] Preparing a throwaway Airflow home with SQLite ...", file=out, flush=True)
        env = airflow_environment(workdir / "airflow", dags_folder=EXAMPLE_DAGS)
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
    except (AirflowCommandError, EmulatorStartError) as problem:
        print(f"\nDemo FAILED: {problem}", file=sys.stdout)
    finally:
        stop_running_commands()
        if code == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"Logs kept in {workdir}", file=sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
