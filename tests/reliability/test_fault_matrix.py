"""Fault matrix: the onboarding and nightly-sync task sequences under every fault kind, at a seeded 20 %
rate and in bursts, complete with no duplicate source or destination and no extra sync job; under
persistent faults a task fails within its attempts, quickly, naming the endpoint and the failure."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.reliability.fault_kinds import (
    CLIENT_TIMEOUT,
    FAULT_KINDS,
    TIMEOUT_FAULT_DELAY,
    WRITES_AND_JOBS_READS,
    burst_faults,
    persistent_faults,
    random_faults,
)
from tests.reliability.flow_wiring import scaled_sleep
from tests.reliability.task_flows import (
    DESTINATION_NAME,
    SOURCE_NAME,
    FlowResult,
    account_census,
    run_onboarding,
    run_scheduled_sync,
)

#: Real seconds a flow's waits may take before the test gives up.
WAIT_LIMIT = 30.0
CHECK_POLL = 0.02
#: Attempts the hook allows per request (its default).
HOOK_ATTEMPTS = 5
SELECTED = ["shop-public-customers", "shop-public-orders"]
#: How each kind's failure reads in the task's error.
FAILURE_WORDS = {
    "500": "-> 500",
    "502": "-> 502",
    "503": "-> 503",
    "429": "-> 429",
    "timeout": "no complete answer from http://127.0.0.1:",
    "hang": "no complete answer from http://127.0.0.1:",
    "drop": ": connection reset",
    "malformed": "unreadable answer: the body is not JSON",
}


def outlast_held_back_requests(emulator: Any, kind: str) -> None:
    """For "timeout" faults, make jobs outlast a held-back request, as Stitch's minutes-long jobs do.

    A request the client gave up on still reaches the emulator later; a resend of ``POST .../sync`` is safe
    because Stitch answers ``already_running`` while the first job runs, which needs the job to run longer
    than the hold-back (on the fast emulator a default job ends in a fifth of a second).
    """
    if FAULT_KINDS[kind]["action"] == "delay":
        emulator.control.configure(phase_seconds={"discovery": 5.0, "tap": 40.0, "target": 5.0})


def run_both_flows() -> tuple[FlowResult, FlowResult]:
    """Onboard the source, then run one nightly sync of it."""
    onboarded = run_onboarding(scaled_sleep, check_poll=CHECK_POLL, wait_limit=WAIT_LIMIT)
    assert onboarded.source_id is not None
    nightly = run_scheduled_sync(onboarded.source_id, scaled_sleep, wait_limit=WAIT_LIMIT)
    return onboarded, nightly


def assert_clean_outcome(emulator: Any, onboarded: FlowResult, nightly: FlowResult) -> None:
    """Both flows finished with their loads in; nothing was created twice; one job per sync task."""
    assert sorted(onboarded.selected) == SELECTED
    assert onboarded.loads is not None and onboarded.loads["succeeded"] is True
    assert sorted(onboarded.loads["loaded_at"]) == ["customers", "orders"]
    assert nightly.loads is not None and nightly.loads["succeeded"] is True
    census = account_census(emulator)
    assert dict(census.live_sources) == {SOURCE_NAME: 1}
    assert dict(census.live_destinations) == {DESTINATION_NAME: 1}
    assert census.duplicate_sources == 0 and census.duplicate_destinations == 0
    assert dict(census.jobs_per_source) == {onboarded.source_id: 2}
    assert emulator.control.stats(include_log=False)["max_jobs_in_window"] <= 30


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_flows_complete_under_random_faults(flow_env: Any, kind: str) -> None:
    outlast_held_back_requests(flow_env, kind)
    flow_env.control.set_faults(random_faults(kind))

    onboarded, nightly = run_both_flows()

    assert_clean_outcome(flow_env, onboarded, nightly)
    assert flow_env.control.faults()[0]["hits"] >= 3


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_flows_complete_after_bursts_on_every_write_and_jobs_read(flow_env: Any, kind: str) -> None:
    outlast_held_back_requests(flow_env, kind)
    flow_env.control.set_faults(
        *(burst_faults(kind, target, length=2) for target, _ in WRITES_AND_JOBS_READS)
    )

    onboarded, nightly = run_both_flows()

    assert_clean_outcome(flow_env, onboarded, nightly)
    assert [rule["hits"] for rule in flow_env.control.faults()] == [2] * len(WRITES_AND_JOBS_READS)


def _attempts_on(emulator: Any, method: str, pattern: str) -> int:
    """Requests the emulator logged for this method and path (after held-back answers have gone out)."""
    import re

    if any(rule["action"] == "delay" for rule in emulator.control.faults()):
        time.sleep(TIMEOUT_FAULT_DELAY + 0.2)
    return sum(
        1
        for entry in emulator.control.stats()["log"]
        if entry["method"] == method and re.search(pattern, entry["path"])
    )


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_persistent_faults_on_create_fail_the_task_quickly_naming_endpoint_and_failure(
    flow_env: Any, kind: str
) -> None:
    from airflow.providers.common.compat.sdk import AirflowException

    flow_env.control.set_faults(persistent_faults(kind, r"^/v4/destinations$") | {"method": "POST"})
    started = time.monotonic()
    with pytest.raises(AirflowException) as failure:
        run_onboarding(scaled_sleep, check_poll=CHECK_POLL, wait_limit=WAIT_LIMIT)
    elapsed = time.monotonic() - started

    message = str(failure.value)
    assert "CANARY" not in message and flow_env.token not in message
    assert message.startswith(f"Could not create destination {DESTINATION_NAME!r}")
    assert "POST /v4/destinations" in message
    assert FAILURE_WORDS[kind] in message
    assert _attempts_on(flow_env, "POST", r"^/v4/destinations$") == HOOK_ATTEMPTS
    assert elapsed < HOOK_ATTEMPTS * 2 * CLIENT_TIMEOUT + 3.0
    census = account_census(flow_env)
    assert census.live_destinations == {} and census.live_sources == {}


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_persistent_faults_on_sync_start_fail_the_nightly_task_without_starting_jobs(
    flow_env: Any, kind: str
) -> None:
    from airflow_provider_stitch.api.errors import StitchError

    onboarded = run_onboarding(scaled_sleep, check_poll=CHECK_POLL, wait_limit=WAIT_LIMIT)
    # A job lasts minutes, as in Stitch, so a resend meets the job a late-arriving request started.
    flow_env.control.arrange(onboarded.source_id, durations={"discovery": 5.0, "tap": 900.0, "target": 5.0})
    flow_env.control.set_faults(persistent_faults(kind, r"^/v4/sources/\d+/sync$") | {"method": "POST"})
    started = time.monotonic()
    with pytest.raises(StitchError) as failure:
        run_scheduled_sync(int(onboarded.source_id or 0), scaled_sleep, wait_limit=WAIT_LIMIT)
    elapsed = time.monotonic() - started

    message = str(failure.value)
    assert "CANARY" not in message and flow_env.token not in message
    assert f"POST /v4/sources/{onboarded.source_id}/sync" in message
    assert FAILURE_WORDS[kind] in message
    assert _attempts_on(flow_env, "POST", r"^/v4/sources/\d+/sync$") == 1 + HOOK_ATTEMPTS
    assert elapsed < HOOK_ATTEMPTS * 2 * CLIENT_TIMEOUT + 3.0
    # Only a request held back past the client's timeout still reaches Stitch, and starts one job at most.
    started_late = 1 if FAULT_KINDS[kind]["action"] == "delay" else 0
    assert dict(account_census(flow_env).jobs_per_source) == {onboarded.source_id: 1 + started_late}
