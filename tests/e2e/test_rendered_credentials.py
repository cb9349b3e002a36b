"""On a real Airflow, no credential canary is stored in clear: rendered fields, XCom, task logs, the database.

The canaries are under names Airflow does not mask by itself (``ssl_key``) and names it does (``password``);
the DAG renders them from Airflow Variables, runs through ``airflow dags test`` against the emulator, and the
test then reads ``rendered_task_instance_fields`` and ``xcom`` from the metadata database itself.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import airflow
import pytest

pytestmark = pytest.mark.skipif(
    int(airflow.__version__.split(".")[0]) < 3, reason="reads the Airflow 3 rendered-fields table layout"
)

DAG_ID = "stitch_credential_canaries"
DAGS = Path(__file__).with_name("credential_dags")
CANARIES = {
    "canary_warehouse_password": "CANARY-warehouse-pw-8c21d4",
    "canary_source_password": "CANARY-source-pw-5e02b7",
    "canary_ssl_key": "CANARY-ssl-key-1d9c66",
    "canary_new_ssl_key": "CANARY-ssl-key-new-77ab30",
    "canary_new_warehouse_password": "CANARY-warehouse-pw-new-90fe12",
}


@pytest.fixture
def canary_run(airflow_env: dict[str, str], demo: Any, e2e_emulator: Any, tmp_path: Path) -> dict[str, Any]:
    env = {
        **airflow_env,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        **{f"AIRFLOW_VAR_{name.upper()}": value for name, value in CANARIES.items()},
    }
    log_path = tmp_path / "canaries.log"
    code = demo.run_dag_test(env, DAG_ID, log_path=log_path)
    home = Path(env["AIRFLOW_HOME"])
    with sqlite3.connect(home / "airflow.db") as conn:
        rendered = conn.execute(
            "SELECT task_id, rendered_fields FROM rendered_task_instance_fields WHERE dag_id = ?", (DAG_ID,)
        ).fetchall()
        xcom = conn.execute("SELECT task_id, key, value FROM xcom WHERE dag_id = ?", (DAG_ID,)).fetchall()
    logs = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in (home / "logs").rglob("*") if p.is_file()
    )
    return {
        "code": code,
        "output": log_path.read_text(encoding="utf-8"),
        "rendered": dict(rendered),
        "xcom": json.dumps(xcom, default=str),
        "logs": logs,
        "state": e2e_emulator.runtime.state,
    }


def test_no_canary_is_stored_in_clear(canary_run: dict[str, Any]) -> None:
    assert canary_run["code"] == 0, canary_run["output"][-4000:]
    rendered = canary_run["rendered"]
    assert set(rendered) == {"create_destination", "create_source", "update_source", "update_destination"}
    places = {
        "rendered fields": json.dumps(rendered),
        "xcom": canary_run["xcom"],
        "task logs": canary_run["logs"],
        "dags test output": canary_run["output"],
    }
    found = {
        (name, place) for name, value in CANARIES.items() for place, text in places.items() if value in text
    }
    assert found == set()
    assert json.loads(rendered["create_source"])["properties"]["ssl_key"] == "***"
    assert json.loads(rendered["create_source"])["properties"]["host"] == "db.example.com"


def test_the_canaries_did_reach_stitch(canary_run: dict[str, Any]) -> None:
    """The scan above means something only if the values were really rendered and sent."""
    assert canary_run["code"] == 0, canary_run["output"][-4000:]
    sources = [s for a in canary_run["state"].accounts.values() for s in a.sources.values()]
    destinations = [d for a in canary_run["state"].accounts.values() for d in a.destinations.values()]
    assert [s.properties["ssl_key"] for s in sources] == [CANARIES["canary_new_ssl_key"]]
    assert [d.properties["password"] for d in destinations] == [CANARIES["canary_new_warehouse_password"]]
    assert [d.properties["username"] for d in destinations] == ["loader"]
