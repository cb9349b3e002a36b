"""Sensors for a Stitch extraction and for its loads, answered by the shared JobsMonitor.

A poke never pays for its own poll: it asks the account's monitor, which reuses a snapshot another poke,
worker or triggerer fetched recently and refreshes only when the Jobs budget allows. The sensors do not
override ``execute``: in deferrable mode a poke that finds the job unfinished defers to the triggerer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
)

from airflow_provider_stitch.defaults import DEFAULT_CONN_ID, STITCH_JOB_XCOM_KEY, default_deferrable
from airflow_provider_stitch.lineage_mixin import ReplicationLineageMixin
from airflow_provider_stitch.links import StitchExtractionLogsLink, StitchSourceLink, push_stitch_source
from airflow_provider_stitch.operators.base import StitchHookMixin

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.api.jobs import ExtractionWatch, JobsMonitor, LoadWatch
    from airflow_provider_stitch.api.jobs.progress import WaitProgress


def job_reference(context: Context, replication_task_id: str | None) -> dict[str, Any]:
    """What an upstream start-replication task left in XCom (empty when there is none)."""
    if not replication_task_id:
        return {}
    value = context["ti"].xcom_pull(task_ids=replication_task_id, key=STITCH_JOB_XCOM_KEY)
    return value if isinstance(value, dict) else {}


class _StitchJobSensor(StitchHookMixin, BaseSensorOperator):
    """Shared arguments and plumbing of the Stitch sensors.

    :param source_id: the source.
    :param job_name: the job to wait for; None to take it from ``replication_task_id``'s XCom, or to accept
        the first extraction completing after ``after``.
    :param after: a time on Stitch's clock (datetime, ISO string or epoch seconds) the extraction must have
        completed at or after, when no job is named.
    :param replication_task_id: id of an upstream StitchStartReplicationOperator task to read the job from.
    :param stitch_conn_id: Airflow connection id.
    :param hook_params: extra arguments of the Stitch hook (``timeout``, ``max_attempts``...).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param end_from_trigger: in deferrable mode, end the task from the triggerer (leave False for
        ``airflow dags test``, which resumes the task with the bare state instead).
    """

    operator_extra_links = (StitchSourceLink(), StitchExtractionLogsLink())

    def __init__(
        self,
        *,
        source_id: int | str,
        job_name: str | None = None,
        after: Any = None,
        replication_task_id: str | None = None,
        stitch_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        deferrable: bool | None = None,
        end_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_id = source_id
        self.job_name = job_name
        self.after = after
        self.replication_task_id = replication_task_id
        self.stitch_conn_id = stitch_conn_id
        self.hook_params = dict(hook_params or {})
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.end_from_trigger = end_from_trigger
        self._source_name: str | None = None
        self._progress: WaitProgress | None = None

    # ------------------------------------------------------------------ what is waited for

    def _extraction_watch(self, context: Context) -> ExtractionWatch:
        """The job named, else the one an upstream start task left in XCom (with the row listed before it)."""
        from airflow_provider_stitch.api.jobs import ExtractionWatch, to_epoch

        if self.job_name:
            return ExtractionWatch(int(self.source_id), self.job_name, to_epoch(self.after))
        reference = job_reference(context, self.replication_task_id)
        return ExtractionWatch(
            int(self.source_id),
            reference.get("job_name") or None,
            to_epoch(self.after),
            previous_job=reference.get("previous_job"),
            previous_known=bool(reference.get("previous_known")),
        )

    def _check_source(self, client: StitchClient) -> str:
        """The source's name; a source Stitch does not know fails the task at once with Stitch's error."""
        if self._source_name is None:
            from airflow_provider_stitch.api.errors import StitchAPIError

            try:
                source = client.get_source(int(self.source_id))
            except StitchAPIError as problem:
                raise AirflowException(f"task {self.task_id}: source {self.source_id}: {problem}") from None
            self._source_name = str(source.name or "")
        return self._source_name

    def _push_links(self, context: Context, client: StitchClient) -> None:
        """Leave the source and job the "Stitch source" and "Extraction logs" links open (once per process)."""
        if getattr(self, "_links_pushed", False) or "ti" not in context:
            return
        job = self.job_name or job_reference(context, self.replication_task_id).get("job_name")
        push_stitch_source(
            context, client.client_id, int(self.source_id), api_url=client.base_url, job_name=job
        )
        self._links_pushed = True

    def _story(self, client: StitchClient, waits_for: str) -> WaitProgress:
        """This task's wait story (the first line is logged once per process)."""
        if self._progress is None:
            from airflow_provider_stitch.api.jobs.progress import WaitProgress

            name = self._source_name
            subject = f"source {self.source_id}" + (f" ({name})" if name else "")
            self._progress = WaitProgress(self.log, subject, budget=client.jobs_budget)
            self._progress.begin(waits_for, deadline_in=float(self.timeout))
        return self._progress

    def _poll_extraction(
        self, client: StitchClient, monitor: JobsMonitor, watch: ExtractionWatch
    ) -> dict[str, Any] | None:
        """Ask the monitor; log the outcome, raise when the extraction failed."""
        from airflow_provider_stitch.api.jobs import EXTRACTIONS
        from airflow_provider_stitch.api.jobs.progress import describe_extraction_watch

        story = self._story(client, describe_extraction_watch(watch))
        outcome = monitor.poll_extraction(client, watch)
        if outcome is None:
            story.tick("the extraction", next_look_in=self._next_look(monitor, EXTRACTIONS))
            return None
        story.extraction_finished(outcome)
        if not outcome.succeeded:
            raise AirflowException(
                f"Stitch extraction {outcome.job_name} of source {watch.source_id} failed: {outcome.message}"
            )
        return outcome.as_dict()

    def _next_look(self, monitor: JobsMonitor, kind: str) -> float:
        """Seconds until the next poke may look at the shared snapshot."""
        if self.deferrable:
            return monitor.next_check_in(kind)
        return max(float(self.poke_interval), monitor.next_check_in(kind))

    def _deadline(self) -> float:
        return self.hook.get_budget().clock() + float(self.timeout)

    # ------------------------------------------------------------------ deferral

    def _defer_if_deferrable(self, context: Context) -> None:
        """In deferrable mode, hand the rest of the wait to the triggerer."""
        if self.deferrable:
            self.defer(trigger=self._trigger(context), method_name="execute_complete")

    def _trigger(self, context: Context) -> Any:
        raise AirflowException(f"{type(self).__name__} cannot defer")

    def _trigger_kwargs(self, watch: ExtractionWatch) -> dict[str, Any]:
        from airflow_provider_stitch.triggers.replication import json_safe_hook_params

        return {
            "stitch_conn_id": self.stitch_conn_id,
            "source_id": watch.source_id,
            "job_name": watch.job_name,
            "after": watch.after,
            "previous_job": watch.previous_job,
            "previous_known": watch.previous_known,
            "deadline": self._deadline(),
            "end_from_trigger": self.end_from_trigger,
            "hook_params": json_safe_hook_params(self.hook_params),
        }

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Finish after the trigger fired: log and return what was found, or fail (skip with ``soft_fail``)."""
        from airflow_provider_stitch.triggers.replication import TIMEOUT, log_event_outcome, read_event

        what = f"Stitch wait on source {self.source_id}"
        log_event_outcome(self.log, f"source {self.source_id}", event)
        try:
            payload = read_event(event, what)
        except AirflowException as problem:
            if self.soft_fail:
                raise AirflowSkipException(str(problem)) from problem
            if isinstance(event, dict) and event.get("status") == TIMEOUT:
                raise AirflowSensorTimeout(str(problem)) from problem
            raise
        return payload.get("loads") or payload.get("extraction")


class StitchExtractionSensor(_StitchJobSensor):
    """Wait until a source's extraction has finished; fails when it failed (with Stitch's description).

    A source Stitch does not know fails the task at once with Stitch's error. Returns (XCom) the extraction
    outcome: job name, completion time, and on failure the phase and message.
    """

    template_fields: Sequence[str] = ("source_id", "job_name", "after", "replication_task_id")

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One look at the shared snapshot (refreshed when due and affordable); defers when deferrable."""
        from airflow_provider_stitch.api.jobs import monitor_for_client

        client = self.client
        self._check_source(client)
        self._push_links(context, client)
        watch = self._extraction_watch(context)
        found = self._poll_extraction(client, monitor_for_client(client), watch)
        if found is None:
            self._defer_if_deferrable(context)
            return False
        return PokeReturnValue(is_done=True, xcom_value=found)

    def _trigger(self, context: Context) -> Any:
        from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger

        return StitchExtractionTrigger(**self._trigger_kwargs(self._extraction_watch(context)))


class StitchLoadSensor(ReplicationLineageMixin, _StitchJobSensor):
    """Wait until a source's streams have loaded after its extraction (or after ``after``).

    Without ``after`` the sensor first waits for the extraction (the job from ``replication_task_id`` or
    ``job_name``, else the source's latest) and then for loads at or after its completion. A stream in
    error fails the task with the warehouse's message. Reports OpenLineage inputs and outputs of the
    streams it waited for, and once they loaded attaches their destination tables to every ``AssetAlias``
    in ``outlets``.

    :param streams: stream names (``stream_name``, ``tap_stream_id`` or a dash-joined tail such as
        ``public-orders``); None for every selected stream of the source. A name that matches no stream
        fails the task at once.
    """

    template_fields: Sequence[str] = ("source_id", "job_name", "after", "replication_task_id", "streams")

    def __init__(self, *, source_id: int | str, streams: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(source_id=source_id, **kwargs)
        self.streams = streams
        self._load_watch: LoadWatch | None = None
        self._errors_after: float | None = None

    def _lineage_stream_names(self) -> list[str] | None:
        """Lineage covers the streams this sensor waits for, as load rows name them."""
        if self._load_watch is not None and self.streams:
            return list(self._load_watch.streams)
        return list(self.streams) if self.streams else None

    def _streams_to_wait_for(self, client: StitchClient, monitor: JobsMonitor) -> LoadWatch:
        """The streams as load rows name them (read once); unknown names fail the task at once."""
        if self._load_watch is None:
            from airflow_provider_stitch.api.jobs.decisions import UnknownStreamError

            try:
                watch = monitor.load_watch(client, int(self.source_id), self.streams, None)
            except UnknownStreamError as problem:
                raise AirflowException(
                    f"task {self.task_id}: streams of source {self.source_id}: {problem}"
                ) from None
            if not watch.streams:
                raise AirflowException(
                    f"task {self.task_id}: source {self.source_id} has no streams to wait for"
                )
            self._load_watch = watch
        return self._load_watch

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Wait for the extraction when needed, then for the loads, from the shared snapshots."""
        from airflow_provider_stitch.api.jobs import LOADS, monitor_for_client

        client = self.client
        monitor = monitor_for_client(client)
        poke_started = monitor.now()
        self._check_source(client)
        self._push_links(context, client)
        streams = self._streams_to_wait_for(client, monitor)
        # Announce the loads before any page turn, so the schedule can give their page a turn this poke; a
        # pending poke leaves them announced until the next one (as an extraction poke does), so other
        # processes sharing the store keep their page in the schedule; a finished wait withdraws them.
        monitor.watch(LOADS, streams.identities)
        finished = True
        try:
            answer = self._poke_once(context, client, monitor, streams, poke_started)
            finished = answer is not False
            return answer
        finally:
            monitor.watchers.poked(LOADS, streams.identities, finished=finished)

    def _poke_once(
        self,
        context: Context,
        client: StitchClient,
        monitor: JobsMonitor,
        streams: LoadWatch,
        poke_started: float,
    ) -> bool | PokeReturnValue:
        from airflow_provider_stitch.api.jobs import LOADS, to_epoch
        from airflow_provider_stitch.api.jobs.progress import describe_extraction_watch, describe_load_watch

        loads_after = to_epoch(self.after)
        if loads_after is None:
            extraction_watch = self._extraction_watch(context)
            listed = ", ".join(streams.streams)
            self._story(client, f"{describe_extraction_watch(extraction_watch)}, then the loads of {listed}")
            extraction = self._poll_extraction(client, monitor, extraction_watch)
            if extraction is None:
                self._defer_if_deferrable(context)
                return False
            loads_after = extraction["completion_time"]
        if self._errors_after is None:
            # Pages read from this poke on were read after the extraction completed: their errors are this run's.
            self._errors_after = poke_started
        watch = dataclasses.replace(streams, after=loads_after, errors_after=self._errors_after)
        story = self._story(client, describe_load_watch(watch))
        outcome = monitor.poll_loads(client, watch)
        if outcome is None:
            story.tick(describe_load_watch(watch), next_look_in=self._next_look(monitor, LOADS))
            self._defer_if_deferrable(context, loads_after=loads_after)
            return False
        story.loads_finished(outcome, watch.streams)
        self.record_landed_streams(outcome.loaded_at)
        if not outcome.succeeded:
            raise AirflowException(f"Stitch loads of source {self.source_id} failed: {outcome.message}")
        self.attach_destination_assets(context)
        return PokeReturnValue(is_done=True, xcom_value=outcome.as_dict())

    def _defer_if_deferrable(self, context: Context, loads_after: float | None = None) -> None:
        if self.deferrable:
            self.defer(trigger=self._trigger(context, loads_after), method_name="execute_complete")

    def _trigger(self, context: Context, loads_after: float | None = None) -> Any:
        from airflow_provider_stitch.api.jobs import to_epoch
        from airflow_provider_stitch.triggers.replication import StitchLoadTrigger

        watch = self._extraction_watch(context)
        streams = list(self._load_watch.streams) if self._load_watch and self.streams else None
        return StitchLoadTrigger(
            streams=streams,
            loads_after=to_epoch(self.after) if loads_after is None else loads_after,
            **self._trigger_kwargs(watch),
        )

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Finish after the trigger fired; once the loads are in, attach the loaded tables to asset aliases."""
        from airflow_provider_stitch.triggers.replication import landed_streams_of

        self.record_landed_streams(landed_streams_of(event))
        result = super().execute_complete(context, event)
        self.attach_destination_assets(context)
        return result


__all__ = ["StitchExtractionSensor", "StitchLoadSensor", "default_deferrable", "job_reference"]
