"""stitch_onboard_source on a real Airflow against the emulator: the whole onboarding, then a re-run."""

from __future__ import annotations

from typing import Any

SELECTED = ["shop-public-customers", "shop-public-orders"]


def _account(emulator: Any) -> dict[str, Any]:
    state = emulator.control.state()
    return next(a for a in state["accounts"] if a["client_id"] == emulator.client_id)


def _assert_replicated(stitch_client: Any, source: dict[str, Any]) -> None:
    """The source's latest extraction succeeded and each selected stream has a load."""
    extraction = next(row for row in stitch_client.list_extractions() if row.source_id == source["id"])
    assert extraction.completion_time is not None
    assert extraction.exit_statuses == (0, 0, 0)
    loads = [load for load in stitch_client.list_loads() if load.source_name == source["name"]]
    assert len(loads) == len(SELECTED)
    assert all(load.last_batch_loaded_at is not None and load.error_state is None for load in loads)


def test_onboarding_dag_builds_the_pipeline_and_a_rerun_changes_nothing(
    run_dag: Any, e2e_emulator: Any, stitch_client: Any, demo: Any
) -> None:
    code, output = run_dag("stitch_onboard_source")
    assert code == 0, output[-4000:]

    account = _account(e2e_emulator)
    assert [(d["name"], d["type"]) for d in account["destinations"]] == [("Analytics warehouse", "postgres")]
    assert len(account["sources"]) == 1
    source = account["sources"][0]
    assert (source["display_name"], source["type"], source["step"]) == (
        "Shop database",
        "platform.hp-postgres",
        "fully_configured",
    )
    assert source["properties"]["password"] == "***"
    assert source["check"]["status"] == "succeeded"
    assert sorted(source["selected_streams"]) == SELECTED
    assert [(j["source_id"], j["phase"]) for j in account["jobs"]] == [(source["id"], "done")]
    first_job = account["jobs"][0]["job_name"]
    assert f"Started Stitch job {first_job}" in output

    stats = e2e_emulator.control.stats(include_log=False)
    assert 0 < stats["by_client"][str(e2e_emulator.client_id)]["max_jobs_in_window"] <= 30

    # What `make demo` prints after the same run (its counters are read before it lists anything).
    summary = demo.collect_summary(e2e_emulator)
    assert summary.failures == []
    assert (summary.source_id, summary.streams_selected, summary.job_name) == (
        source["id"],
        SELECTED,
        first_job,
    )
    assert summary.extraction.startswith("succeeded")
    assert summary.streams_loaded == ["customers", "orders"]
    assert summary.jobs_requests == stats["by_client"][str(e2e_emulator.client_id)]["jobs"]
    _assert_replicated(stitch_client, source)

    code, output = run_dag("stitch_onboard_source")
    assert code == 0, output[-4000:]

    account = _account(e2e_emulator)
    assert len(account["destinations"]) == 1
    assert [s["id"] for s in account["sources"]] == [source["id"]]
    assert sorted(account["sources"][0]["selected_streams"]) == SELECTED
    assert len(account["jobs"]) == 2 and all(j["phase"] == "done" for j in account["jobs"])
    assert "already exists" not in output
    _assert_replicated(stitch_client, account["sources"][0])
