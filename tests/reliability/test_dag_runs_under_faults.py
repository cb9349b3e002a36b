"""The example DAGs on a real Airflow (``airflow dags test``) under seeded faults, with canary secrets.

One module-scoped pair of runs serves every test here: the onboarding DAG, then the scheduled-sync DAG
for the onboarded source, each with 20 % of API requests answered 503 or cut. The access token, the
partner secret and both database passwords are canaries; afterwards none may appear in the task logs,
XCom, rendered template fields, exception texts, the Airflow database, or the emulator's request log and
state. The emulator's own records show the passwords did reach it (the API must receive them).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import airflow
import pytest

from tests.reliability.fault_kinds import FAULT_SEED
from tests.reliability.task_flows import account_census

pytestmark = pytest.mark.skipif(
    int(airflow.__version__.split(".")[0]) < 3,
    reason="the example DAGs use the Airflow 3 airflow.sdk API; Airflow 2.11 cannot parse them",
)

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
SPEED = 20.0
CANARIES = {
    "access token": "ac_CANARYtoken0b7c5e2a91d84f60",
    "partner secret": "oc_CANARYpartner6f1d9a3c7e20b4",
    "source password": "CANARY-source-db-password-51c8",
    "warehouse password": "CANARY-warehouse-password-2e94",
}
#: 20 % of API requests fail: half answered 503, half cut without an answer (two rules, 10 % each).
DAG_FAULTS = (
    {"pattern": r"^/v\d+/", "action": "status", "status": 503, "rate": 0.1, "seed": FAULT_SEED},
    {"pattern": r"^/v\d+/", "action": "drop", "rate": 0.1 / 0.9, "seed": FAULT_SEED + 1},
)


@pytest.fixture(scope="module")
def dag_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run both example DAGs under faults with canary secrets; return everything the scan looks at."""
    from airflow_provider_stitch.emulator import StitchEmulator
    from airflow_provider_stitch.emulator import dag_runs as demo

    folder = tmp_path_factory.mktemp("dag-runs-under-faults")
    home = folder / "airflow"
    env = demo.airflow_environment(home, dags_folder=EXAMPLE_DAGS)
    demo.migrate_database(env, folder / "db-migrate.log")
    with StitchEmulator(
        speed=SPEED,
        run_schedules=False,
        token=CANARIES["access token"],
        partner_secret=CANARIES["partner secret"],
    ) as emulator:
        env["AIRFLOW_CONN_STITCH_DEFAULT"] = demo.stitch_connection_json(
            emulator.base_url,
            emulator.token,
            emulator.client_id,
            emulator_speed=emulator.speed,
            extra={
                "partner_id": emulator.partner_id,
                "partner_secret": CANARIES["partner secret"],
                "budget_backend": "sqlite",
                "budget_location": str(folder / "jobs-budget.sqlite"),
            },
        )
        env["AIRFLOW_VAR_STITCH_EXAMPLE_SOURCE_PASSWORD"] = CANARIES["source password"]
        env["AIRFLOW_VAR_STITCH_EXAMPLE_WAREHOUSE_PASSWORD"] = CANARIES["warehouse password"]
        emulator.control.set_faults(*DAG_FAULTS)

        onboard_code = demo.run_dag_test(env, "stitch_onboard_source", log_path=folder / "onboard.log")
        onboarded = account_census(emulator)
        source_id = next(iter(onboarded.jobs_per_source), None)
        sync_code = demo.run_dag_test(
            env,
            "stitch_scheduled_sync",
            log_path=folder / "scheduled.log",
            conf={"source_ids": [source_id] if source_id else []},
        )
        stored = {
            record.display_name: dict(record.properties)
            for account in emulator.runtime.state.accounts.values()
            for record in account.sources.values()
        } | {
            record.name: dict(record.properties)
            for account in emulator.runtime.state.accounts.values()
            for record in account.destinations.values()
        }
        return {
            "codes": (onboard_code, sync_code),
            "logs": {
                "onboard run output": (folder / "onboard.log").read_text(encoding="utf-8"),
                "scheduled run output": (folder / "scheduled.log").read_text(encoding="utf-8"),
            },
            "home": home,
            "census": account_census(emulator),
            "source_id": source_id,
            "faults": emulator.control.faults(),
            "stats": emulator.control.stats(include_log=True),
            "state": emulator.control.state(),
            "stored_properties": stored,
        }


def _airflow_db_tables(home: Path) -> dict[str, str]:
    """XCom values and rendered template fields of every task, and the whole database file, as text."""
    database = home / "airflow.db"
    with sqlite3.connect(database) as conn:
        xcom = conn.execute("SELECT task_id, key, value FROM xcom").fetchall()
        rendered = conn.execute(
            "SELECT task_id, rendered_fields FROM rendered_task_instance_fields"
        ).fetchall()
    return {
        "XCom": json.dumps(xcom, default=str),
        "rendered template fields": json.dumps(rendered, default=str),
        "Airflow database file": database.read_bytes().decode("utf-8", errors="replace"),
    }


def _task_log_files(home: Path) -> dict[str, str]:
    return {
        str(path.relative_to(home)): path.read_text(encoding="utf-8", errors="replace")
        for path in (home / "logs").rglob("*")
        if path.is_file()
    }


def test_both_example_dags_complete_under_faults(dag_runs: dict[str, Any]) -> None:
    logs = dag_runs["logs"]
    assert dag_runs["codes"] == (0, 0), {name: text[-3000:] for name, text in logs.items()}
    hits = sum(rule["hits"] for rule in dag_runs["faults"])
    assert hits >= 3, dag_runs["faults"]


def test_the_runs_left_no_duplicates_and_one_job_per_sync_task(dag_runs: dict[str, Any]) -> None:
    census = dag_runs["census"]
    assert dict(census.live_sources) == {"Shop database": 1}
    assert dict(census.live_destinations) == {"Analytics warehouse": 1}
    assert dict(census.jobs_per_source) == {dag_runs["source_id"]: 2}
    assert dag_runs["stats"]["max_jobs_in_window"] <= 30


def test_the_api_received_the_canary_passwords(dag_runs: dict[str, Any]) -> None:
    """The scan below is meaningful only if the secrets were really used."""
    stored = dag_runs["stored_properties"]
    assert stored["Shop database"]["password"] == CANARIES["source password"]
    assert stored["Analytics warehouse"]["password"] == CANARIES["warehouse password"]


def test_no_canary_appears_in_logs_xcom_rendered_fields_or_the_emulator_records(
    dag_runs: dict[str, Any],
) -> None:
    home = dag_runs["home"]
    places = {
        **dag_runs["logs"],
        **_task_log_files(home),
        **_airflow_db_tables(home),
        "emulator request log": json.dumps(dag_runs["stats"]["log"]),
        "emulator state": json.dumps(dag_runs["state"]),
    }
    assert len(places) > 6
    found = {
        (secret, place): text.count(value)
        for secret, value in CANARIES.items()
        for place, text in places.items()
        if value in text
    }
    assert found == {}
