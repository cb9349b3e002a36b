"""Figures of issues 12 and 13 for ``benchmarks/reliability.py``: clocks, own outcomes, races, malformed
answers, URL differentials, rendered-field canaries, deadlines, endless bodies and fuzzing.

Each section runs the scenario of the test that proves the fix (the test modules and helpers are imported
as ``tests.<folder>.<module>``, not written again) and prints what it measured; :func:`run_all` returns the
summary lines. Run through ``python -m benchmarks.reliability`` from the repository root. Test modules used:
``tests.budget.test_clock_steps`` (with ``budget_clock_worker.py``), ``tests.testkit.jobs``,
``tests.waits.test_own_outcome`` and ``waits_testkit``, ``tests.operators.test_racing_creates`` (``race_workers``,
``tests.testkit.operators``), ``tests.operators.test_credential_masking``, ``tests.security.test_malformed_answers``;
the transport and fuzz figures come from ``benchmarks/transport_bounds.py`` and ``benchmarks/validator_fuzz.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.testkit.redis_server import REDIS_SERVER, RedisServer

# ------------------------------------------------------------------------------------------ issue 12 §2


@contextlib.contextmanager
def private_redis() -> Iterator[str | None]:
    """A redis-server of our own on a free loopback port (None when it is not installed); stopped by PID."""
    if REDIS_SERVER is None:
        yield None
        return
    with RedisServer() as server:
        yield server.url


def clock_cases(emit: Callable[[str], None]) -> dict[str, float]:
    """Clock steps and a clock 700 s behind (worker processes), and a store stamped an hour ahead."""
    from airflow_provider_stitch.emulator.harness import EmulatorProcess
    from tests.budget import test_clock_steps as steps

    cases = [
        ("forward step 611 s", [{"step_after": 30, "step": 611.0}]),
        ("backward step 1 h", [{"step_after": 30, "step": -3600.0}]),
        ("one of two 700 s behind", [{}, {"offset": -700.0}]),
    ]
    busiest = 0
    worst_stall = 0.0
    window = steps.EMULATOR_WINDOW
    emit(
        f"  emulator at speed {steps.FAST_SPEED:g}: its 600 s Jobs window lasts {window:.2f} real s; "
        f"a stall is the longest gap between a worker's requests, in windows"
    )
    with (
        tempfile.TemporaryDirectory() as folder,
        private_redis() as redis_url,
        EmulatorProcess(Path(folder), speed=steps.FAST_SPEED) as emulator,
    ):
        for _ in (0,):
            for kind in ("sqlite", "redis"):
                if kind == "redis" and redis_url is None:
                    emit("  redis: redis-server not installed, skipped")
                    continue
                for label, workers in cases:
                    control = emulator.control()
                    control.reset()
                    control.close()
                    location = redis_url if kind == "redis" else str(Path(folder) / f"{kind}-{len(label)}.db")
                    reports = steps.run_workers(emulator, kind, location or "", *workers)
                    window_count = steps.busiest_window(emulator)
                    stall = max(steps.longest_wait(report) for report in reports) / window
                    errors = sum(len(report["errors"]) for report in reports)
                    sent = sum(len(report["sent"]) for report in reports)
                    busiest = max(busiest, window_count)
                    worst_stall = max(worst_stall, stall)
                    emit(
                        f"  {kind:<6} {label:<24} busiest window {window_count:>2}/30  worst stall "
                        f"{stall:.2f} windows  {sent:>3} requests  {errors} errors"
                    )
    ahead_window, ahead_stall = future_stamped_store()
    busiest = max(busiest, ahead_window)
    worst_stall = max(worst_stall, ahead_stall)
    emit(
        f"  sqlite snapshot + announcement 1 h ahead   busiest window {ahead_window:>2}/30  "
        f"waiter saw its job {ahead_stall:.2f} windows after it ended (manual clock, pokes every 20 s)"
    )
    return {"busiest": busiest, "stall": worst_stall}


def future_stamped_store() -> tuple[int, float]:
    """The scenario of ``tests/budget/test_future_stamps.py``: busiest window, and the waiter's lag in windows."""
    from airflow_provider_stitch.api.budget import DEFAULT_JOBS_WINDOW, JobsBudget
    from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.api.jobs import EXTRACTIONS, ExtractionWatch, JobsMonitor
    from airflow_provider_stitch.api.jobs.monitor import monitor_for_client
    from airflow_provider_stitch.emulator import StitchEmulator
    from tests.testkit.jobs import completion_times, jobs_env, make_sources, start_jobs

    ahead, tap, poke_every = 3600.0, 120.0, 20.0
    with (
        tempfile.TemporaryDirectory() as folder,
        pytest.MonkeyPatch.context() as patch,
        StitchEmulator(clock="manual") as emulator,
    ):
        env = jobs_env(emulator, Path(folder), patch)
        (source_id,) = make_sources(emulator, env.client, 1)
        job_name = start_jobs(emulator, env.client, [source_id], lambda _: tap)[source_id]
        watch = ExtractionWatch(source_id=source_id, job_name=job_name)
        ahead_budget = JobsBudget(
            emulator.client_id, backend=SQLiteBudgetBackend(env.budget_path), clock=lambda: env.now() + ahead
        )
        foreign = StitchClient(
            emulator.token, base_url=emulator.base_url, client_id=emulator.client_id, budget=ahead_budget
        )
        foreign_monitor = JobsMonitor("foreign-ahead", ahead_budget)
        foreign_monitor.poll_extraction(foreign, watch)
        foreign_monitor.watch(EXTRACTIONS, [watch.identity])
        monitor = monitor_for_client(env.client)
        started = env.now()
        outcome = None
        while outcome is None and env.now() - started < tap + 10 * DEFAULT_JOBS_WINDOW:
            env.advance(poke_every)
            outcome = monitor.poll_extraction(env.client, watch)
        lag = env.now() - completion_times(emulator).get(job_name, started) if outcome else float("inf")
        stats = emulator.control.stats(include_log=False)
        foreign.close()
    return int(stats["max_jobs_in_window"]), lag / DEFAULT_JOBS_WINDOW


# ------------------------------------------------------------------------------------------ issue 12 §1


@contextlib.contextmanager
def waits_account(speed: float) -> Iterator[Any]:
    """The ``tests/waits`` fixture: an emulator at ``speed`` wired as the connection ``stitch_waits``."""
    from airflow_provider_stitch.api.jobs import forget_monitors
    from airflow_provider_stitch.emulator.harness import StitchEmulator
    from tests.waits.waits_testkit import CONN_ID, WaitsAccount

    with (
        tempfile.TemporaryDirectory() as folder,
        pytest.MonkeyPatch.context() as patch,
        StitchEmulator(speed=speed) as emulator,
    ):
        emulator.control.configure(check_seconds=0.0)
        account = WaitsAccount(emulator, Path(folder) / "jobs-budget.sqlite")
        patch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", account.connection_json())
        forget_monitors()
        try:
            yield account
        finally:
            forget_monitors()


def _foreign(run: dict[str, Any], should_fail: bool) -> int:
    """Waits of one DAG run (extraction, loads) that ended other than with their own job's outcome."""
    wrong = 0
    status, found = run["extraction"]
    if should_fail:
        wrong += status != "failed" or run["job_name"] not in str(found)
        wrong += run["loads"][0] != "failed"
        wrong += bool(run["asset_uris"])
    else:
        wrong += status != "ok" or found.get("job_name") != run["job_name"]
        wrong += run["loads"][0] != "ok"
    return wrong


def own_outcomes(emit: Callable[[str], None]) -> int:
    """Consecutive runs of one source (ok, tap fails, ok) and two syncs started seconds apart."""
    from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator
    from tests.waits import test_own_outcome as own
    from tests.waits.waits_testkit import CONN_ID, RecordingTaskInstance, outcome_of

    total_wrong = waits = 0
    for speed in (10.0, 20.0):
        with waits_account(speed) as account:
            account.emulator.control.advance((speed - 1) * 100)
            source_id = account.make_source()
            wrong = 0
            for run, fails in ((1, False), (2, True), (3, False)):
                scenario = {"fail": {"phase": "tap", "message": "HTTP 401 from Freshdesk"}} if fails else {}
                account.arrange(source_id, tap=3.0 * speed, **scenario)
                wrong += _foreign(own.dag_run(source_id, run), fails)
                waits += 2
            total_wrong += wrong
            emit(f"  consecutive runs (ok, tap fails, ok) at speed {speed:g}: {wrong} of 6 waits foreign")
    with waits_account(10.0) as account:
        source_id = account.make_source()
        account.arrange(source_id, tap=60.0)
        import threading

        first_ti = RecordingTaskInstance()
        results: dict[str, tuple[str, Any]] = {}
        first = StitchStartReplicationOperator(
            task_id="start_a", source_id=source_id, stitch_conn_id=CONN_ID, poll_interval=0.2
        )
        second = StitchStartReplicationOperator(
            task_id="start_b",
            source_id=source_id,
            stitch_conn_id=CONN_ID,
            if_running="attach",
            poll_interval=0.2,
        )
        runner = threading.Thread(
            target=lambda: results.__setitem__("a", outcome_of(lambda: first.execute({"ti": first_ti})))
        )
        runner.start()
        while not first_ti.pushed.get("stitch_job") and runner.is_alive():
            runner.join(0.05)
        results["b"] = outcome_of(lambda: second.execute({"ti": RecordingTaskInstance()}))
        runner.join(120)
        job_name = first_ti.pushed.get("stitch_job", {}).get("job_name")
        wrong = sum(result != ("ok", job_name) for result in results.values())
        account.arrange(source_id, tap=10.0, fail={"phase": "tap", "message": "rate limited by Freshdesk"})
        third = StitchStartReplicationOperator(
            task_id="start_c", source_id=source_id, stitch_conn_id=CONN_ID, poll_interval=0.2
        )
        status, message = outcome_of(lambda: third.execute({"ti": RecordingTaskInstance()}))
        wrong += status != "failed" or "rate limited by Freshdesk" not in str(message)
        waits += 3
        total_wrong += wrong
        emit(
            f"  two syncs seconds apart (start + attach), then a failing one, speed 10: {wrong} of 3 foreign"
        )
    emit("  (speed 1 omitted here: its page schedule reads every ~20 s, about 2 minutes; the test covers it)")
    return total_wrong


# ------------------------------------------------------------------------------------------ issue 12 §3


def create_races(emit: Callable[[str], None]) -> tuple[int, int]:
    """Two processes running one create at once (the emulator holds each create 1 s): duplicates, losers."""
    from airflow_provider_stitch.emulator.harness import StitchEmulator
    from tests.operators import test_racing_creates as races
    from tests.testkit.operators import POSTGRES_DESTINATION_PROPERTIES, POSTGRES_SOURCE_PROPERTIES

    cases = [
        (
            "destinations",
            r"^/v4/destinations$",
            "StitchCreateDestinationOperator",
            {
                "destination_type": "postgres",
                "name": "Warehouse",
                "properties": POSTGRES_DESTINATION_PROPERTIES,
            },
        ),
        (
            "sources",
            r"^/v4/sources$",
            "StitchCreateSourceOperator",
            {
                "source_type": "platform.postgres",
                "display_name": "Shop DB",
                "properties": POSTGRES_SOURCE_PROPERTIES,
                "if_exists": "fail",
            },
        ),
        (
            "custom emails",
            r"/custom-emails$",
            "StitchCustomEmailOperator",
            {"email_address": "ops@example.com"},
        ),
        (
            "post-load hooks",
            r"/hooks$",
            "StitchPostLoadHookOperator",
            {"url": "https://hooks.example.com/stitch/k3y"},
        ),
    ]
    duplicates = losers = 0
    with StitchEmulator() as emulator:
        for kind, pattern, operator_name, arguments in cases:
            emulator.control.reset()
            emulator.control.configure(check_seconds=0.0, destination_limit=5)
            races.hold_creates(emulator, pattern)
            outcomes = races.race(emulator, operator_name, dict(arguments))
            live = races.live(emulator, kind)
            failed = sum("error" in outcome for outcome in outcomes)
            duplicates += max(len(live) - 1, 0)
            losers += failed
            emit(
                f"  {kind:<16} {len(live)} live after the race, {failed} failed racers, "
                f"{emulator.control.faults()[0]['hits']} creates sent"
            )
    return duplicates, losers


# ------------------------------------------------------------------------------------------ issue 12 §4


def malformed_matrix(emit: Callable[[str], None]) -> int:
    """Every client method x malformed 2xx body: answers that are not the package's error naming the request."""
    from airflow_provider_stitch.api.aclient import AsyncStitchClient
    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.api.errors import StitchMalformedResponseError
    from tests.security import test_malformed_answers as malformed

    bodies = malformed._all_bodies()
    unclear = cases = 0

    def clear(error: BaseException, request: str) -> bool:
        return isinstance(error, StitchMalformedResponseError) and str(error).startswith(f"{request}: ")

    with malformed.SameAnswerServer() as server:
        for body_name, body in bodies:
            server.body = body
            for request, call in malformed.SYNC_CALLS.items():
                if malformed._is_lenient(request, body_name):
                    continue
                cases += 1
                client = StitchClient(malformed.TOKEN, **malformed._options(server))
                try:
                    call(client)
                    unclear += 1  # read as a result
                except Exception as error:  # noqa: BLE001 - the kind of error is the figure
                    unclear += not clear(error, request)
                finally:
                    client.close()
            for request, acall in malformed.ASYNC_CALLS.items():
                if malformed._is_lenient(request, body_name):
                    continue
                cases += 1

                async def run(acall: Any = acall) -> None:
                    async with AsyncStitchClient(malformed.TOKEN, **malformed._options(server)) as aclient:
                        await acall(aclient)

                try:
                    asyncio.run(run())
                    unclear += 1
                except Exception as error:  # noqa: BLE001
                    unclear += not clear(error, request)
    emit(
        f"  {cases} client method x malformed 2xx body pairs (sync and async, {len(bodies)} bodies, "
        f"{len(malformed.LENIENT)} valid-after-all pairs left out): {unclear} unclear errors"
    )
    return unclear


# ------------------------------------------------------------------------------------------ issue 13


def rendered_canaries(emit: Callable[[str], None]) -> tuple[int, int]:
    """A unique canary in every catalog credential of every type, rendered and serialised by Airflow."""
    from tests.operators import test_credential_masking as masking

    found = planted = 0
    for kind, connection_type, names in masking.CREDENTIAL_TYPES:
        canaries = {name: masking.canary(name) for name in names}
        stored = json.dumps(masking.render(masking.operator_for(kind, connection_type, dict(canaries))))
        planted += len(canaries)
        found += sum(value in stored for value in canaries.values())
    emit(
        f"  {planted} canaries in the credentials of {len(masking.CREDENTIAL_TYPES)} connection types "
        f"(create operators, Airflow's _serialize_rendered_fields): {found} found in the stored fields"
    )
    return found, planted


def captured(call: Callable[[], None]) -> list[str]:
    """The lines ``call`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call()
    return out.getvalue().splitlines()


def transport_and_fuzz(emit: Callable[[str], None]) -> dict[str, str]:
    """The figures of ``transport_bounds.py`` (deadline 5 s, cap 30 s) and ``validator_fuzz.py`` (full counts)."""
    from benchmarks import transport_bounds, validator_fuzz

    summary: dict[str, str] = {}
    lines = captured(transport_bounds.url_differentials)
    lines += captured(lambda: transport_bounds.deadline_overruns(5.0, 30.0))
    lines += captured(lambda: transport_bounds.endless_body_memory(30.0, 1024 << 20))
    for line in lines:
        emit(f"  {line}")
        if line.startswith("url differentials"):
            summary["urls"] = line.split(": ", 1)[1]
        elif line.startswith("worst deadline overrun"):
            summary["overrun"] = line.split(": ", 1)[1]
        elif line.startswith("endless body"):
            summary.setdefault("memory", "")
            summary["memory"] += ("; " if summary["memory"] else "") + line.split(
                "peak RSS of the child so far "
            )[-1][:60]
    warnings.simplefilter("ignore")
    rng = random.Random(13)
    foreign_total = 0
    for label, run, count in (
        ("validate_properties", validator_fuzz.fuzz_validator, 6000),
        ("operator constructors", validator_fuzz.fuzz_constructors, 1500),
    ):
        outcomes = run(count, rng)
        foreign = sum(n for kind, n in outcomes.items() if kind not in ("valid", "own error"))
        foreign_total += foreign
        emit(f"  fuzz {label}: {count} cases, {foreign} foreign errors")
    cli = validator_fuzz.fuzz_cli()
    bad = [name for name, code, traceback in cli if code != 2 or traceback]
    emit(f"  fuzz airflow-stitch validate: {len(cli)} hostile files, {len(bad)} without exit 2 and one line")
    summary["fuzz"] = f"{foreign_total} of 7,500 (+ {len(bad)} of {len(cli)} CLI files)"
    return summary


def run_all() -> list[str]:
    """Print every section of issues 12 and 13; return the summary lines."""

    def emit(line: str) -> None:
        print(line, flush=True)

    def section(title: str, call: Callable[[], Any], failed: Any = "FAILED") -> Any:
        print(f"\n{title}", flush=True)
        started = time.monotonic()
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - a broken section is printed, the others still run
            print(f"  SECTION FAILED: {type(error).__name__}: {str(error)[:300]}", flush=True)
            result = failed
        print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
        return result

    clocks = section(
        "Clock cases (issue 12 §2; worker processes on one store, emulator child at speed 600):",
        lambda: clock_cases(emit),
        {"busiest": -1, "stall": float("nan")},
    )
    foreign = section(
        "Own outcomes (issue 12 §1; README DAG runs against a sped-up real-clock emulator):",
        lambda: own_outcomes(emit),
    )
    duplicates, losers = section(
        "Create races (issue 12 §3; two spawned processes per race):",
        lambda: create_races(emit),
        ("FAILED", "FAILED"),
    )
    unclear = section("Malformed answers (issue 12 §4):", lambda: malformed_matrix(emit))
    found, planted = section(
        "Rendered fields (issue 13 §2; real Airflow):", lambda: rendered_canaries(emit), ("FAILED", "?")
    )
    bounds = section(
        "Transport and hostile input (issue 13 §1, §3, §4):", lambda: transport_and_fuzz(emit), {}
    )
    return [
        f"  clock cases: busiest Jobs window {clocks['busiest']}/30, worst waiter stall {clocks['stall']:.2f} windows",
        f"  waits ended with another job's outcome  {foreign}",
        f"  create races: duplicates {duplicates}, failed losers {losers} (4 races)",
        f"  malformed answers: unclear errors  {unclear}",
        f"  URLs: {bounds.get('urls', 'n/a')}",
        f"  canaries in rendered fields  {found} of {planted}",
        f"  worst deadline overrun  {bounds.get('overrun', 'n/a')}",
        f"  endless body peak memory  {bounds.get('memory', 'n/a')}",
        f"  fuzz cases with foreign errors  {bounds.get('fuzz', 'n/a')}",
    ]


if __name__ == "__main__":
    print("\n".join(run_all()))
