"""One try of a start-replication task in a process of its own (a stand-in for one host's worker).

Run as ``python own_job_try_worker.py '<json settings>'`` with the task's Stitch connection in the
environment. Before the provider is imported, ``time.time`` is moved by ``clock_offset`` seconds, so this
worker's wall clock disagrees with the other worker's and with the emulator's. Writes one JSON object to
``result_path``: ``{"returned": <job name>}`` or ``{"failed": <message>}``.

Settings: ``conn_id``, ``source_id``, ``run_id``, ``try_number``, ``clock_offset``, ``result_path``.
"""

from __future__ import annotations

import json
import sys
import time

settings = json.loads(sys.argv[1])
_real_time = time.time
time.time = lambda: _real_time() + float(settings.get("clock_offset", 0.0))


class TryOfTask:
    """The task instance of this try: its identity, try number and XComs."""

    dag_id = "stitch_sync"
    task_id = "start_sync"
    map_index = -1

    def __init__(self, run_id: str, try_number: int) -> None:
        self.run_id = run_id
        self.try_number = try_number

    def xcom_push(self, key: str, value: object) -> None:
        json.dumps(value)


def main() -> None:
    from airflow.providers.common.compat.sdk import AirflowException

    from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator

    task = StitchStartReplicationOperator(
        task_id="start_sync",
        source_id=int(settings["source_id"]),
        stitch_conn_id=settings["conn_id"],
        poll_interval=0.2,
    )
    try:
        result = {
            "returned": task.execute({"ti": TryOfTask(settings["run_id"], int(settings["try_number"]))})
        }
    except AirflowException as failure:
        result = {"failed": str(failure)}
    with open(settings["result_path"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
