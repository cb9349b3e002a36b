"""``airflow dags test`` of a start task whose first try dies while it waits: one sync per task across tries.

Real Airflow runs the tries (it clears the task's XComs between them, as in production); the emulator is a
real server on loopback. Try 1 starts a sync, then its wait meets an answer it cannot go on from (a 403 on
the extractions list, arranged once the sync runs), so the try fails without an outcome and the job goes
on. The job ends before try 2 begins. Try 2 must go on from that job when it succeeded, and start a new
one when it failed; the emulator's own job list and Airflow's task-instance table are the judges.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.e2e_support import create_ready_source

DAGS = Path(__file__).with_name("retry_dags")
DAG_ID = "stitch_retry_start"
#: Emulator seconds of the tap phase: 3 real seconds at the end-to-end emulator's speed (retry delay: 4 s).
TAP_SECONDS = 60.0


def jobs_of(emulator: Any, source_id: int) -> list[dict[str, Any]]:
    jobs = emulator.control.state()["accounts"][0]["jobs"]
    return sorted((job for job in jobs if job["source_id"] == source_id), key=lambda job: job["started_at"])


def break_the_wait_once_the_sync_runs(emulator: Any, source_id: int, stop: threading.Event) -> None:
    """Once try 1's sync runs, its next extractions read gets a 403 (once): the try dies, the job goes on."""
    while not stop.is_set():
        if jobs_of(emulator, source_id):
            emulator.control.set_faults(
                pattern=r"/extractions$", method="GET", action="status", status=403, times=1
            )
            return
        time.sleep(0.02)


@pytest.mark.parametrize("ends", ["succeeded", "failed"])
def test_a_retried_start_syncs_once_unless_its_job_failed(
    airflow_env: dict[str, str], demo: Any, e2e_emulator: Any, stitch_client: Any, tmp_path: Path, ends: str
) -> None:
    source_id = create_ready_source(stitch_client, f"Orders retry {ends}")
    scenario: dict[str, Any] = {"durations": {"discovery": 1.0, "tap": TAP_SECONDS, "target": 1.0}}
    if ends == "failed":
        scenario["fail"] = {"phase": "tap", "message": "HTTP 401 from the orders database"}
    e2e_emulator.control.arrange(source_id, **scenario)
    env = {
        **airflow_env,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        # 10 Jobs requests per window: turns 4 s apart, so the fault is in place before try 1 reads again
        "AIRFLOW_CONN_STITCH_DEFAULT": demo.stitch_connection_json(
            e2e_emulator.base_url,
            e2e_emulator.token,
            e2e_emulator.client_id,
            emulator_speed=e2e_emulator.speed,
            extra={
                "jobs_budget": 10,
                "budget_backend": "sqlite",
                "budget_location": str(tmp_path / "jobs-budget.sqlite"),
            },
        ),
    }
    stop = threading.Event()
    breaker = threading.Thread(target=break_the_wait_once_the_sync_runs, args=(e2e_emulator, source_id, stop))
    breaker.start()
    log_path = tmp_path / "dags-test.log"
    try:
        code = demo.run_dag_test(env, DAG_ID, log_path=log_path, conf={"source_id": source_id})
    finally:
        stop.set()
        breaker.join(10)
        e2e_emulator.control.clear_faults()
    output = log_path.read_text(encoding="utf-8")
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as conn:
        (state, tries) = conn.execute(
            "SELECT state, try_number FROM task_instance WHERE dag_id = ? ORDER BY start_date DESC LIMIT 1",
            (DAG_ID,),
        ).fetchone()
    assert (code, state, tries) == (0, "success", 2), output[-4000:]
    assert "403" in output  # try 1 died on the arranged answer, not otherwise
    names = [job["job_name"] for job in jobs_of(e2e_emulator, source_id)]
    if ends == "succeeded":
        assert len(names) == 1, names
        assert f"Try 2: try 1 of this task started {names[0]}" in output
        assert "succeeded, so this try starts nothing and goes on from its outcome" in output
    else:
        assert len(names) == 2, names
        assert "HTTP 401 from the orders database), so this try starts a new sync" in output
        assert f"Started Stitch job {names[1]}" in output
