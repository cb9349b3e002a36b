"""Start and stop Stitch replication jobs; waiting goes through the shared JobsMonitor, never its own polls."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowSkipException,
    BaseOperator,
)

from airflow_provider_stitch.defaults import DEFAULT_CONN_ID, STITCH_JOB_XCOM_KEY, default_deferrable
from airflow_provider_stitch.lineage_mixin import ReplicationLineageMixin
from airflow_provider_stitch.links import StitchExtractionLogsLink, StitchSourceLink, push_stitch_source
from airflow_provider_stitch.operators.base import StitchHookMixin

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.api.jobs import ExtractionOutcome, ExtractionWatch, JobsMonitor
    from airflow_provider_stitch.api.jobs.own_jobs import OwnJob, OwnJobRecords, TaskIdentity
    from airflow_provider_stitch.api.jobs.progress import WaitProgress
    from airflow_provider_stitch.api.jobs.starts import RowBeforeStart, SyncStart

IF_RUNNING_CHOICES = ("attach", "fail", "skip")
#: Default seconds between looks at the shared snapshot while waiting in a worker.
DEFAULT_POLL_INTERVAL = 30.0
#: Default seconds a wait may last.
DEFAULT_TIMEOUT = 6 * 3600.0


class StitchStartReplicationOperator(StitchHookMixin, ReplicationLineageMixin, BaseOperator):
    """Start a replication job of a source and (optionally) wait for its extraction and loads.

    Returns the job name (None when it attached to a job Stitch did not name). Also pushes XCom
    ``stitch_job`` (job name, source id, and the extraction Stitch listed before the start) for sensors and
    ``stitch_source`` for the extra link. A start whose answer is lost is not resent blindly: the task
    recognises its own job instead of failing, skipping or starting a second sync. A waiting task records
    the job it started in the budget's store, so a retry after a try that died while waiting goes on with
    that job unless Stitch lists it failed (see :mod:`airflow_provider_stitch.api.jobs.own_jobs`).
    Reports OpenLineage inputs (selected streams) and outputs (destination tables) on completion; with
    ``wait_for_loads``, attaches the loaded tables to every ``AssetAlias`` in ``outlets``
    (see :mod:`airflow_provider_stitch.assets`).

    :param source_id: the source to replicate.
    :param wait_for_completion: wait until the extraction finished; fail if it failed.
    :param wait_for_loads: also wait until the source's selected streams loaded after the extraction.
    :param if_running: when a job already runs: ``attach`` (wait for it), ``fail`` or ``skip``.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: shortest seconds between looks at the shared snapshot (worker waits).
    :param timeout: seconds the wait may last; then the sync is stopped and the task fails.
    :param stitch_conn_id: Airflow connection id.
    :param end_from_trigger: in deferrable mode, end the task from the triggerer (not under ``dags test``).
    """

    template_fields: Sequence[str] = ("source_id",)
    operator_extra_links = (StitchSourceLink(), StitchExtractionLogsLink())
    ui_color = "#ffd700"

    #: How a worker wait sleeps (replaceable in tests that drive a manual clock).
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(
        self,
        *,
        source_id: int | str,
        wait_for_completion: bool = True,
        wait_for_loads: bool = False,
        if_running: str = "attach",
        deferrable: bool | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        stitch_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        end_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_running not in IF_RUNNING_CHOICES:
            raise ValueError(f"if_running must be one of {', '.join(IF_RUNNING_CHOICES)}, not {if_running!r}")
        if poll_interval <= 0 or timeout <= 0:
            raise ValueError("poll_interval and timeout must be positive numbers of seconds")
        self.source_id = source_id
        self.wait_for_completion = wait_for_completion
        self.wait_for_loads = wait_for_loads
        self.if_running = if_running
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.stitch_conn_id = stitch_conn_id
        self.hook_params = dict(hook_params or {})
        self.end_from_trigger = end_from_trigger
        self._running_source: int | None = None
        self._progress: WaitProgress | None = None
        self._own_job: tuple[OwnJobRecords, TaskIdentity] | None = None

    # ------------------------------------------------------------------ start

    def execute(self, context: Context) -> str | None:
        """Start the sync (or attach, or go on with an earlier try's job), then wait as configured."""
        from airflow_provider_stitch.api.jobs import ExtractionWatch
        from airflow_provider_stitch.api.jobs.own_jobs import OwnJob
        from airflow_provider_stitch.api.jobs.starts import RowBeforeStart, read_row_before_start

        source_id = int(self.source_id)
        client = self.client
        monitor = self._monitor(client)
        self._own_job = self._own_job_place(context)
        earlier = self._earlier_try(client, monitor, context, source_id)
        if isinstance(earlier, OwnJob):
            job_name: str | None = earlier.job_name
            before = RowBeforeStart(source_id, earlier.previous_known, earlier.previous_job)
        else:
            before = earlier or read_row_before_start(client, monitor, source_id)
            start = self._start(client, monitor, before)
            self._log_start(source_id, start)
            job_name = start.job_name
            self._remember_own_job(context, source_id, start, before)
        push_stitch_source(context, client.client_id, source_id, api_url=client.base_url, job_name=job_name)
        context["ti"].xcom_push(
            key=STITCH_JOB_XCOM_KEY,
            value={
                "job_name": job_name,
                "source_id": source_id,
                "previous_job": before.job_name,
                "previous_known": before.known,
            },
        )
        if not self.wait_for_completion:
            return job_name
        self._running_source = source_id
        watch = ExtractionWatch(
            source_id, job_name, previous_job=before.job_name, previous_known=before.known
        )
        deadline = monitor.now() + self.timeout
        if self.deferrable:
            self._defer(watch, deadline)
        from airflow_provider_stitch.api.deadlines import STOP_AFTER_DEADLINE_SECONDS, stitch_deadline
        from airflow_provider_stitch.api.errors import StitchDeadlineExceeded

        try:
            # Requests in flight end by the task's timeout too, whatever the server does.
            with stitch_deadline(self.timeout):
                outcome = self._wait_in_worker(client, watch, deadline)
                self._raise_if_failed(client, outcome)
                if self.wait_for_loads:
                    self._wait_loads_in_worker(client, outcome, deadline)
        except StitchDeadlineExceeded:
            with stitch_deadline(STOP_AFTER_DEADLINE_SECONDS):
                self._stop_and_fail(monitor, deadline)
        if self.wait_for_loads:
            self.attach_destination_assets(context)
        self._running_source = None
        self._forget_own_job()  # last: a try that dies before this leaves the record to its retry
        return outcome.job_name if job_name is None else job_name

    def _log_start(self, source_id: int, start: SyncStart) -> None:
        """Tell what the start led to; fail or skip on someone else's running job as ``if_running`` says."""
        if start.already_running:
            if self.if_running == "fail":
                raise AirflowException(f"source {source_id} already has a running job: {start.message}")
            if self.if_running == "skip":
                raise AirflowSkipException(f"source {source_id} already has a running job; skipping")
            self.log.info(f"Source {source_id} already has a running job; attaching to it")
        elif start.own:
            job = start.job_name or "the running job"
            self.log.info(
                f"The answer to the start of source {source_id} was lost; {job} is this task's own "
                f"({start.attempts} start(s) sent)"
            )
        else:
            self.log.info(f"Started Stitch job {start.job_name} for source {source_id}")

    # ------------------------------------------------------------------ an earlier try's job

    def _own_job_place(self, context: Context) -> tuple[OwnJobRecords, TaskIdentity] | None:
        """Where this task instance's started job is recorded; None when nothing is (see ``own_jobs``).

        A task that does not wait ends once the start is answered, and one that ends in the triggerer
        cannot forget its record, so neither records.
        """
        from airflow_provider_stitch.api.jobs.own_jobs import OwnJobRecords, task_identity_of

        if not self.wait_for_completion or self.end_from_trigger:
            return None
        task = task_identity_of(context.get("ti"))
        return None if task is None else (OwnJobRecords(self.client.jobs_budget), task)

    def _earlier_try(
        self, client: StitchClient, monitor: JobsMonitor, context: Context, source_id: int
    ) -> OwnJob | RowBeforeStart | None:
        """On a later try: the earlier try's job to go on with, or (it failed) the row read to decide so.

        None when there is nothing to decide (a first try, or no record): the start reads the row itself.
        """
        from airflow_provider_stitch.api.jobs.own_jobs import decide_retry
        from airflow_provider_stitch.api.jobs.starts import RowBeforeStart, read_row_since

        try_number = _try_number(context)
        if self._own_job is None or try_number <= 1:
            return None
        records, task = self._own_job
        job = self._recall_once_the_store_answers(records, task, source_id, try_number)
        if job is None:
            self.log.info(
                f"Try {try_number} of {task}: no job of source {source_id} recorded by an earlier try "
                "(none started, or it ended); starting as a first try does"
            )
            return None
        # A row read now that tells the job ended decides at once; else wait (bounded) for a fresh read.
        since, budget = monitor.now(), client.jobs_budget
        read_at, row = read_row_since(client, monitor, source_id, since=since, max_wait=0.0, sleep=self.sleep)
        decision = decide_retry(job, row)
        if decision.outcome is None and (read_at is None or read_at < since):
            read_at, row = read_row_since(
                client,
                monitor,
                source_id,
                since=since,
                max_wait=3 * budget.window / budget.limit,
                sleep=self.sleep,
            )
            decision = decide_retry(job, row)
        self.log.info(decision.describe(job, try_number))
        if not decision.start_new:
            return job
        return RowBeforeStart.from_read(source_id, read_at, row)

    def _recall_once_the_store_answers(
        self, records: OwnJobRecords, task: TaskIdentity, source_id: int, try_number: int
    ) -> OwnJob | None:
        """The earlier try's record; while the store does not answer, wait (nothing is started meanwhile).

        A start before the record is read may be a second sync of this task, so the try waits for the store,
        at most its ``timeout``, telling so once a minute.
        """
        import time

        from airflow_provider_stitch.api.errors import StitchBudgetStoreUnreachable
        from airflow_provider_stitch.api.jobs.progress import human_duration

        budget = records.budget
        pause = budget.window / budget.limit / 4
        began = time.monotonic()
        told_at: float | None = None
        while True:
            try:
                return records.recall(task, source_id)
            except StitchBudgetStoreUnreachable as problem:
                waited = time.monotonic() - began
                if waited >= self.timeout:
                    raise AirflowException(
                        f"Try {try_number} of {task}: the budget store did not answer within "
                        f"{human_duration(self.timeout)} ({problem}); nothing was started, since a start "
                        "now could be a second sync of this task"
                    ) from problem
                if told_at is None or time.monotonic() - told_at >= 60.0:
                    told_at = time.monotonic()
                    self.log.warning(
                        f"Try {try_number} of {task}: the budget store does not answer ({problem}); waiting "
                        f"for it before deciding about an earlier try's job of source {source_id} (nothing "
                        f"is started meanwhile; waited {human_duration(waited)} so far)"
                    )
                self.sleep(min(pause, max(self.timeout - waited, 0.0)))

    def _remember_own_job(
        self, context: Context, source_id: int, start: SyncStart, before: RowBeforeStart
    ) -> None:
        """Record the job this try started (before any wait), or forget an earlier try's on someone else's."""
        from airflow_provider_stitch.api.jobs.own_jobs import OwnJob

        if self._own_job is None:
            return
        records, task = self._own_job
        if start.already_running and not start.own:
            records.forget(task, source_id)
            return
        job = OwnJob(source_id, start.job_name, before.job_name, before.known, _try_number(context))
        records.remember(task, job)

    def _forget_own_job(self) -> None:
        """This try reached its end (a Stitch outcome): a later try of the task starts anew."""
        if self._own_job is not None:
            records, task = self._own_job
            records.forget(task, int(self.source_id))
            self._own_job = None

    def _start(self, client: StitchClient, monitor: JobsMonitor, before: RowBeforeStart) -> SyncStart:
        """Send the start one attempt at a time (a resend may meet this task's own job, see ``starts``)."""
        from airflow_provider_stitch.api.jobs.starts import job_finished_since, start_own_sync
        from airflow_provider_stitch.hooks.stitch import StitchHook

        params = {**self.hook_defaults, **self.hook_params, "max_attempts": 1}
        once = StitchHook(self.stitch_conn_id, **params).get_client()
        try:
            budget = client.jobs_budget
            return start_own_sync(
                lambda: once.start_sync(before.source_id),
                lambda since: job_finished_since(
                    client,
                    monitor,
                    before,
                    since=since,
                    max_wait=3 * budget.window / budget.limit,
                    sleep=self.sleep,
                ),
                monitor.now,
                attempts=self.hook.max_attempts,
                pause=lambda number: self.sleep(min(30.0, 2.0 ** (number - 1))),
            )
        finally:
            once.close()

    def _defer(self, watch: ExtractionWatch, deadline: float) -> None:
        from airflow_provider_stitch.triggers.replication import (
            StitchExtractionTrigger,
            StitchLoadTrigger,
            json_safe_hook_params,
        )

        common: dict[str, Any] = {
            "stitch_conn_id": self.stitch_conn_id,
            "source_id": watch.source_id,
            "job_name": watch.job_name,
            "previous_job": watch.previous_job,
            "previous_known": watch.previous_known,
            "deadline": deadline,
            "stop_on_timeout": True,
            "end_from_trigger": self.end_from_trigger,
            "return_value": watch.job_name,
            "hook_params": json_safe_hook_params(self.hook_params),
        }
        trigger = StitchLoadTrigger(**common) if self.wait_for_loads else StitchExtractionTrigger(**common)
        self.defer(trigger=trigger, method_name="execute_complete")

    # ------------------------------------------------------------------ waiting in a worker

    def _monitor(self, client: StitchClient) -> JobsMonitor:
        from airflow_provider_stitch.api.jobs import monitor_for_client

        return monitor_for_client(client)

    def _story(self, client: StitchClient, what: str, deadline: float, monitor: JobsMonitor) -> WaitProgress:
        from airflow_provider_stitch.api.jobs.progress import WaitProgress

        story = WaitProgress(self.log, f"source {self.source_id}", budget=client.jobs_budget)
        story.begin(what, deadline_in=deadline - monitor.now())
        return story

    def _pause(
        self, monitor: JobsMonitor, kind: str, deadline: float, story: WaitProgress, phase: str
    ) -> None:
        """Sleep until the next useful look, never past the deadline."""
        now = monitor.now()
        if now >= deadline:
            self._stop_and_fail(monitor, deadline)
        pause = min(max(self.poll_interval, monitor.next_check_in(kind)), deadline - now)
        story.tick(phase, next_look_in=pause)
        self.sleep(pause)

    def _stop_and_fail(self, monitor: JobsMonitor, deadline: float) -> None:
        from airflow_provider_stitch.api.jobs.progress import human_duration

        client = self.client
        what = self._stop_quietly(client)
        self._forget_own_job()
        outage = monitor.store_outage()
        raise AirflowException(
            f"Stitch job of source {self.source_id} did not finish within {human_duration(self.timeout)}; {what}"
            + (f"; {outage}" if outage else "")
        )

    def _wait_in_worker(
        self, client: StitchClient, watch: ExtractionWatch, deadline: float
    ) -> ExtractionOutcome:
        from airflow_provider_stitch.api.jobs import EXTRACTIONS
        from airflow_provider_stitch.api.jobs.progress import describe_extraction_watch

        monitor = self._monitor(client)
        self._progress = story = self._story(client, describe_extraction_watch(watch), deadline, monitor)
        monitor.watch(EXTRACTIONS, [watch.identity])
        try:
            while True:
                outcome = monitor.check_extraction(client, watch)
                if outcome is not None:
                    story.extraction_finished(outcome)
                    return outcome
                self._pause(monitor, EXTRACTIONS, deadline, story, "the extraction")
        finally:
            monitor.unwatch(EXTRACTIONS, [watch.identity])

    def _wait_loads_in_worker(
        self, client: StitchClient, outcome: ExtractionOutcome, deadline: float
    ) -> None:
        import dataclasses

        from airflow_provider_stitch.api.jobs import LOADS
        from airflow_provider_stitch.api.jobs.progress import describe_load_watch

        monitor = self._monitor(client)
        watch = monitor.load_watch(client, int(self.source_id), None, outcome.completion_time)
        watch = dataclasses.replace(watch, errors_after=monitor.now())
        story = self._progress or self._story(client, describe_load_watch(watch), deadline, monitor)
        phase = describe_load_watch(watch)
        monitor.watch(LOADS, watch.identities)
        try:
            while True:
                loads = monitor.check_loads(client, watch)
                if loads is not None:
                    story.loads_finished(loads, watch.streams)
                    self.record_landed_streams(loads.loaded_at)
                    if not loads.succeeded:
                        self._forget_own_job()
                        raise AirflowException(
                            f"Stitch loads of source {self.source_id} failed: {loads.message}"
                        )
                    return
                self._pause(monitor, LOADS, deadline, story, phase)
        finally:
            monitor.unwatch(LOADS, watch.identities)

    # ------------------------------------------------------------------ outcomes

    def _raise_if_failed(self, client: StitchClient, outcome: ExtractionOutcome) -> None:
        if outcome.succeeded:
            return
        self._running_source = None
        self._forget_own_job()
        self._log_logs_location(client, outcome.job_name)
        raise AirflowException(
            f"Stitch job {outcome.job_name} of source {self.source_id} failed in the {outcome.failed_phase} "
            f"phase: {outcome.message}"
        )

    def _log_logs_location(self, client: StitchClient, job_name: str | None) -> None:
        """Log where the extraction logs are; the URL costs a Jobs request, so only when the budget has one."""
        if not job_name:
            return
        from airflow_provider_stitch.api.endpoints import ENDPOINTS
        from airflow_provider_stitch.api.errors import StitchError

        path = ENDPOINTS["get_extraction_logs"].path(stitch_client_id=client.client_id, job_name=job_name)
        try:
            affordable = client.jobs_budget.seconds_until_available() == 0
        except StitchError as problem:  # a budget store that does not answer must not fail the task here
            self.log.error("Extraction logs of %s: GET %s (skipped now: %s)", job_name, path, problem)
            return
        if affordable:
            try:
                url = client.get_extraction_logs_url(job_name)
            except StitchError as problem:
                self.log.warning(
                    "Could not get the extraction log URL (%s); fetch it from GET %s", problem, path
                )
                return
            self.log.error(
                "Extraction logs of %s (pre-signed link, valid for a short time): %s", job_name, url
            )
            return
        self.log.error(
            "Extraction logs of %s: GET %s (skipped now: the Jobs budget is spent)", job_name, path
        )

    def execute_complete(self, context: Context, event: Any = None) -> str | None:
        """Finish after the trigger fired: log the outcome, return the job name, or fail with Stitch's message."""
        from airflow_provider_stitch.triggers.replication import (
            landed_streams_of,
            log_event_outcome,
            read_event,
        )

        self._running_source = None
        log_event_outcome(self.log, f"source {self.source_id}", event)
        # Only a Stitch outcome ends the task's business with its job; a broken-down wait leaves the record.
        self._own_job = self._own_job_place(context) if _ends_the_try(event) else None
        self.record_landed_streams(landed_streams_of(event))
        what = f"Stitch job of source {self.source_id}"
        try:
            payload = read_event(event, what)
        except AirflowException:
            if (
                isinstance(event, dict)
                and event.get("extraction")
                and not event["extraction"].get("succeeded")
            ):
                self._log_logs_location(self.client, event["extraction"].get("job_name"))
            self._forget_own_job()
            raise
        if self.wait_for_loads:
            self.attach_destination_assets(context)
        self._forget_own_job()  # last: a try that dies before this leaves the record to its retry
        return payload.get("job_name")

    # ------------------------------------------------------------------ stopping

    def _stop_quietly(self, client: StitchClient) -> str:
        from airflow_provider_stitch.api.errors import StitchError

        try:
            client.stop_sync(int(self.source_id))
        except StitchError as problem:
            return f"stopping the sync failed: {problem}"
        finally:
            self._running_source = None
        return "the sync was stopped"

    def on_kill(self) -> None:
        """Stop the sync this task started or attached to (best effort)."""
        if self._running_source is None:
            return
        what = self._stop_quietly(self.client)
        self.log.info("Task killed: %s (source %s)", what, self.source_id)


def _ends_the_try(event: Any) -> bool:
    """True when a trigger event is a Stitch outcome (or our deadline), not a wait that broke down."""
    from airflow_provider_stitch.triggers.replication import FAILED, SUCCESS, TIMEOUT

    if isinstance(event, dict):
        return event.get("status") in (SUCCESS, FAILED, TIMEOUT)
    return event == SUCCESS


def _try_number(context: Context) -> int:
    """The running try of the task (1 when the context does not say)."""
    number = getattr(context.get("ti"), "try_number", None)
    return number if isinstance(number, int) and not isinstance(number, bool) else 1


class StitchStopReplicationOperator(StitchHookMixin, BaseOperator):
    """Stop a source's running replication job; when none runs, that is success too.

    :param source_id: the source.
    :param stitch_conn_id: Airflow connection id.
    """

    template_fields: Sequence[str] = ("source_id",)
    operator_extra_links = (StitchSourceLink(),)

    def __init__(
        self,
        *,
        source_id: int | str,
        stitch_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_id = source_id
        self.stitch_conn_id = stitch_conn_id
        self.hook_params = dict(hook_params or {})

    def execute(self, context: Context) -> None:
        """Ask Stitch to stop the source's job."""
        from airflow_provider_stitch.api.errors import StitchAPIError

        client = self.client
        source_id = int(self.source_id)
        try:
            client.stop_sync(source_id)
        except StitchAPIError as problem:
            if problem.status != 404 or "source" in str(problem.message).lower():
                raise
            self.log.info("Source %s had no running job to stop", source_id)
            return
        push_stitch_source(context, client.client_id, source_id, api_url=client.base_url)
        self.log.info("Asked Stitch to stop the running job of source %s (none running is fine)", source_id)


__all__ = ["StitchStartReplicationOperator", "StitchStopReplicationOperator"]
