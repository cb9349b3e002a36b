"""Print the reliability figures: faults injected and survived, duplicates, inputs rejected, leaks found,
and the busiest Jobs window, all measured against the offline emulator on loopback.

* Bad input: every seeded invalid property object (all connector types) sent through StitchClient; counts
  those refused before the network, the requests the emulator saw, and errors that missed the property.
* Fault matrix: the onboarding and nightly-sync task sequences (in-process Airflow operators and sensors)
  under each fault kind, at a seeded 20 % rate and in bursts on every write and Jobs read.
* Persistent faults: a create and a sync start failing every time; the task's failure time and message.
* Rate under faults: JobsMonitor waiters on a manual clock with 20 % (or 100 %) failing Jobs requests.
* Leaks: the canary credentials and the token searched in every log record, exception text, and the
  emulator's request log and state written during the runs above.

The test helpers of ``tests/reliability`` are the scenarios; this script only runs them and counts. Run it from
the repository root as ``python -m benchmarks.reliability`` (it imports them as ``tests.reliability.<module>``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from benchmarks import reliability_trust
from tests.reliability.fault_kinds import (
    FAULT_KINDS,
    JOBS_PATHS,
    WRITES_AND_JOBS_READS,
    burst_faults,
    let_delayed_answers_finish,
    persistent_faults,
    random_faults,
)
from tests.reliability.flow_wiring import FLOW_SPEED, scaled_sleep, wire_tasks_to
from tests.reliability.invalid_properties import CANARY_PREFIX, generate_invalid_cases
from tests.reliability.task_flows import (
    SOURCE_PROPERTIES,
    WAREHOUSE_PROPERTIES,
    account_census,
    run_onboarding,
    run_scheduled_sync,
)

WAIT_LIMIT = 30.0


class RecordCollector(logging.Handler):
    """Keeps the formatted text of every log record (to search it for secrets)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@dataclass
class Figures:
    """Everything the summary prints."""

    invalid_objects: int = 0
    rejected_before_network: int = 0
    requests_during_bad_input: int = 0
    errors_missing_property: int = 0
    flow_runs: int = 0
    flow_runs_completed: int = 0
    faults_injected: int = 0
    duplicate_sources: int = 0
    duplicate_destinations: int = 0
    extra_jobs: int = 0
    persistent_failures_named: int = 0
    persistent_runs: int = 0
    slowest_persistent_failure: float = 0.0
    worst_jobs_window: int = 0
    blocked_by_emulator: int = 0
    leaks: int = 0
    searched_texts: list[str] = field(default_factory=list, repr=False)
    canaries: set[str] = field(default_factory=set, repr=False)


def quietly(figures: Figures, scenario: Callable[..., str], *args: Any) -> str:
    """Run one scenario with its logs captured (and kept for the leak search); return its table row."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        row = scenario(*args)
    figures.searched_texts.append(captured.getvalue())
    return row


def bad_input(figures: Figures) -> None:
    """Send every invalid object through the client; nothing may reach the emulator."""
    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.connectors import PropertiesValidationError
    from airflow_provider_stitch.emulator import StitchEmulator

    cases = generate_invalid_cases()
    with StitchEmulator(clock="manual") as emulator:
        with StitchClient(emulator.token, base_url=emulator.base_url, client_id=emulator.client_id) as client:
            for case in cases:
                figures.canaries.update(case.canaries)
                try:
                    if case.kind == "source":
                        client.create_source(case.connection_type, "Refused", case.properties)
                    else:
                        client.create_destination(case.connection_type, case.properties, "Refused")
                except PropertiesValidationError as error:
                    figures.rejected_before_network += 1
                    figures.errors_missing_property += case.bad_property not in error.bad_properties()
                    figures.searched_texts.append(f"{error}\n{error!r}")
        figures.requests_during_bad_input = int(
            emulator.control.stats(include_log=False)["requests"]["total"]
        )
    figures.invalid_objects = len(cases)


def flow_run(
    emulator: Any,
    figures: Figures,
    label: str,
    faults: list[dict[str, Any]],
    slow: bool,
) -> str:
    """One onboarding plus one nightly sync under ``faults``; a table row."""
    emulator.control.reset()
    if slow:
        emulator.control.configure(phase_seconds={"discovery": 5.0, "tap": 40.0, "target": 5.0})
    started = time.monotonic()
    completed = False
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        wire_tasks_to(emulator, str(Path(folder) / "budget.sqlite"), patch)
        emulator.control.set_faults(*faults)
        try:
            onboarded = run_onboarding(scaled_sleep, check_poll=0.02, wait_limit=WAIT_LIMIT)
            run_scheduled_sync(int(onboarded.source_id or 0), scaled_sleep, wait_limit=WAIT_LIMIT)
            completed = True
        except Exception as error:  # a failed run is counted, and its text searched
            figures.searched_texts.append(f"{error}\n{error!r}")
        hits = sum(rule["hits"] for rule in emulator.control.faults())
        let_delayed_answers_finish(emulator)
    census = account_census(emulator)
    stats = emulator.control.stats(include_log=True)
    figures.searched_texts += [str(stats["log"]), str(emulator.control.state())]
    extra_jobs = sum(max(count - 2, 0) for count in census.jobs_per_source.values())
    figures.flow_runs += 1
    figures.flow_runs_completed += completed
    figures.faults_injected += hits
    figures.duplicate_sources += census.duplicate_sources
    figures.duplicate_destinations += census.duplicate_destinations
    figures.extra_jobs += extra_jobs
    figures.worst_jobs_window = max(figures.worst_jobs_window, int(stats["max_jobs_in_window"]))
    return (
        f"  {label:<18} {'ok' if completed else 'FAILED':<7} {hits:>6} {census.duplicate_sources:>9} "
        f"{census.duplicate_destinations:>9} {extra_jobs:>10} {time.monotonic() - started:>8.1f}"
    )


def persistent_run(emulator: Any, figures: Figures, kind: str, target: str, what: str) -> str:
    """A create (or sync start) that always fails: how long until the task fails, and what it says."""
    emulator.control.reset()
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        wire_tasks_to(emulator, str(Path(folder) / "budget.sqlite"), patch)
        source_id = 0
        if what == "sync":
            emulator.control.configure(phase_seconds={"discovery": 5.0, "tap": 900.0, "target": 5.0})
            source_id = int(
                run_onboarding(scaled_sleep, check_poll=0.02, wait_limit=WAIT_LIMIT).source_id or 0
            )
        emulator.control.set_faults(persistent_faults(kind, target) | {"method": "POST"})
        started = time.monotonic()
        message = "(did not fail)"
        try:
            if what == "sync":
                run_scheduled_sync(source_id, scaled_sleep, wait_limit=WAIT_LIMIT)
            else:
                run_onboarding(scaled_sleep, check_poll=0.02, wait_limit=WAIT_LIMIT)
        except Exception as error:
            message = str(error)
            figures.searched_texts.append(f"{message}\n{error!r}")
        elapsed = time.monotonic() - started
        let_delayed_answers_finish(emulator)
    endpoint = f"POST /v4/sources/{source_id}/sync" if what == "sync" else "POST /v4/destinations"
    figures.persistent_runs += 1
    figures.persistent_failures_named += endpoint in message
    figures.slowest_persistent_failure = max(figures.slowest_persistent_failure, elapsed)
    return f"  {what:<7} {kind:<10} {elapsed:>6.2f} s  {message[:96]}"


def rate_runs(figures: Figures, emit: Callable[[str], None]) -> None:
    """Monitor waiters on a manual clock with failing Jobs requests; the emulator's limit blocks overruns."""
    from airflow_provider_stitch.emulator import StitchEmulator
    from tests.reliability.rate_scenario import (
        HORIZON,
        jobs_figures,
        start_jobs,
        wait_for_everything,
        waiting_client,
    )

    scenarios = [(f"{kind} 20%", random_faults(kind, JOBS_PATHS), HORIZON) for kind in sorted(FAULT_KINDS)]
    scenarios.append(("500 always", persistent_faults("500", JOBS_PATHS), 2 * 3600.0))
    with StitchEmulator(clock="manual") as emulator:
        for label, fault, horizon in scenarios:
            emulator.control.reset()
            client = waiting_client(emulator)
            watches = start_jobs(emulator, client)
            emulator.control.set_faults(fault)
            run = wait_for_everything(emulator, client, watches, horizon)
            jobs, busiest, blocked = jobs_figures(emulator)
            hits = sum(rule["hits"] for rule in emulator.control.faults())
            client.close()
            let_delayed_answers_finish(emulator)
            figures.worst_jobs_window = max(figures.worst_jobs_window, busiest)
            figures.blocked_by_emulator += blocked
            figures.faults_injected += hits
            emit(
                f"  {label:<14} {len(run.loads)}/{len(watches)} loaded  {jobs:>4} Jobs requests  "
                f"{hits:>4} faulted  busiest window {busiest:>2}/30  blocked {blocked}"
            )


def count_leaks(figures: Figures, collector: RecordCollector, token: str) -> None:
    """Occurrences of any canary or token in everything written during the runs."""
    secrets = {token, WAREHOUSE_PROPERTIES["password"], SOURCE_PROPERTIES["password"], *figures.canaries}
    texts = figures.searched_texts + collector.texts
    figures.leaks = sum(text.count(secret) for text in texts for secret in secrets if secret)
    figures.leaks += sum(text.count(CANARY_PREFIX) for text in texts)


def main() -> None:
    """Run every scenario and print the figures."""
    from airflow_provider_stitch.emulator import StitchEmulator

    collector = RecordCollector()
    logging.getLogger().addHandler(collector)
    logging.getLogger().setLevel(logging.DEBUG)
    figures = Figures()
    began = time.monotonic()

    quietly(figures, lambda: bad_input(figures) or "")
    print(
        f"Bad input: {figures.rejected_before_network}/{figures.invalid_objects} invalid property objects "
        f"refused before the network; {figures.requests_during_bad_input} requests reached the emulator; "
        f"{figures.errors_missing_property} errors missed the property."
    )

    with StitchEmulator(speed=FLOW_SPEED, run_schedules=False) as emulator:
        token = emulator.token
        print("\nFault matrix (onboarding + nightly sync, in-process tasks):")
        print(
            f"  {'run':<18} {'result':<7} {'faults':>6} {'dup src':>9} {'dup dest':>9} {'extra jobs':>10} {'seconds':>8}"
        )
        for kind in sorted(FAULT_KINDS):
            slow = FAULT_KINDS[kind]["action"] == "delay"
            print(quietly(figures, flow_run, emulator, figures, f"{kind} 20%", [random_faults(kind)], slow))
            bursts = [burst_faults(kind, t, length=2) for t, _ in WRITES_AND_JOBS_READS]
            print(quietly(figures, flow_run, emulator, figures, f"{kind} bursts", bursts, slow))
        print(quietly(figures, flow_run, emulator, figures, "lost 20%", [random_faults("lost")], False))
        for pattern, method in WRITES_AND_JOBS_READS:
            lost_burst = [burst_faults("lost", pattern, length=2) | {"method": method}]
            label = f"lost {method} {pattern.split('/')[-1][:8]}"
            print(quietly(figures, flow_run, emulator, figures, label, lost_burst, False))

        print("\nPersistent faults (task fails; time and message):")
        for kind in sorted(FAULT_KINDS):
            print(quietly(figures, persistent_run, emulator, figures, kind, r"^/v4/destinations$", "create"))
            print(
                quietly(figures, persistent_run, emulator, figures, kind, r"^/v4/sources/\d+/sync$", "sync")
            )

    print("\nRate under faults (JobsMonitor waiters, 5 jobs of 2-40 min, manual clock):")
    rows: list[str] = []
    quietly(figures, lambda: rate_runs(figures, rows.append) or "")
    print("\n".join(rows))

    logging.getLogger().removeHandler(collector)
    count_leaks(figures, collector, token)
    trust_summary = reliability_trust.run_all()
    print(
        "\nSummary\n"
        f"  faults injected           {figures.faults_injected}\n"
        f"  flow runs completed       {figures.flow_runs_completed}/{figures.flow_runs}\n"
        f"  duplicate sources         {figures.duplicate_sources}\n"
        f"  duplicate destinations    {figures.duplicate_destinations}\n"
        f"  extra sync jobs           {figures.extra_jobs}\n"
        f"  persistent faults named   {figures.persistent_failures_named}/{figures.persistent_runs} "
        f"(slowest failure {figures.slowest_persistent_failure:.2f} s)\n"
        f"  invalid inputs rejected   {figures.rejected_before_network}/{figures.invalid_objects} "
        f"({figures.requests_during_bad_input} requests sent)\n"
        f"  leaks found               {figures.leaks} (in {len(figures.searched_texts) + len(collector.texts)} texts)\n"
        f"  worst Jobs window         {figures.worst_jobs_window}/30 per 600 s "
        f"(emulator blocked {figures.blocked_by_emulator})\n"
        + "\n".join(trust_summary)
        + f"\n  wall time                 {time.monotonic() - began:.0f} s"
    )


if __name__ == "__main__":
    main()
