"""Sensors for a Stitch extraction and for its loads, answered by the shared JobsMonitor.

A poke never pays for its own poll: it asks the account's monitor, which reuses a snapshot another poke,
worker or triggerer fetched recently and refreshes only when the Jobs budget allows.
"""

from __future__ import annotations

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
from airflow_provider_stitch.operators.base import StitchHookMixin

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.api.jobs import ExtractionWatch


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
    :param after: time the job was started (datetime, ISO string or epoch seconds).
    :param replication_task_id: id of an upstream StitchStartReplicationOperator task to read the job from.
    :param stitch_conn_id: Airflow connection id.
    :param hook_params: extra arguments of the Stitch hook (``timeout``, ``max_attempts``...).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param end_from_trigger: in deferrable mode, end the task from the triggerer (leave False for
        ``airflow dags test``, which resumes the task with the bare state instead).
    """

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

    def _extraction_watch(self, context: Context) -> ExtractionWatch:
        from airflow_provider_stitch.api.jobs import ExtractionWatch, to_epoch

        job_name, after = self.job_name or None, to_epoch(self.after)
        if job_name is None:
            reference = job_reference(context, self.replication_task_id)
            job_name = reference.get("job_name")
            if after is None:
                after = to_epoch(reference.get("started_at"))
        return ExtractionWatch(int(self.source_id), job_name, after)

    def _poll_extraction(self, client: StitchClient, watch: ExtractionWatch) -> dict[str, Any] | None:
        """Ask the monitor; raise when the extraction failed."""
        from airflow_provider_stitch.api.jobs import monitor_for_client

        outcome = monitor_for_client(client).poll_extraction(client, watch)
        if outcome is None:
            self.log.info("Stitch extraction of source %s has not finished yet", watch.source_id)
            return None
        if not outcome.succeeded:
            raise AirflowException(
                f"Stitch extraction {outcome.job_name} of source {watch.source_id} failed: {outcome.message}"
            )
        return outcome.as_dict()

    def _deadline(self) -> float:
        return self.hook.get_budget().clock() + float(self.timeout)

    def execute(self, context: Context) -> Any:
        """Poke (or reschedule) as usual; in deferrable mode check once, then wait in the triggerer."""
        if not self.deferrable:
            return super().execute(context)
        answer = self.poke(context)
        if isinstance(answer, PokeReturnValue) and answer.is_done:
            return answer.xcom_value
        self.defer(trigger=self._trigger(context), method_name="execute_complete")

    def _trigger(self, context: Context) -> Any:
        raise AirflowException(f"{type(self).__name__} cannot defer")

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Finish after the trigger fired: return what was found, or fail (skip with ``soft_fail``)."""
        from airflow_provider_stitch.triggers.replication import TIMEOUT, read_event

        what = f"Stitch wait on source {self.source_id}"
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

    Returns (XCom) the extraction outcome: job name, completion time, and on failure the phase and message.
    """

    template_fields: Sequence[str] = ("source_id", "job_name", "after", "replication_task_id")

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One look at the shared snapshot (refreshed when due and affordable)."""
        client = self.client
        found = self._poll_extraction(client, self._extraction_watch(context))
        return False if found is None else PokeReturnValue(is_done=True, xcom_value=found)

    def _trigger(self, context: Context) -> Any:
        from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger

        watch = self._extraction_watch(context)
        return StitchExtractionTrigger(
            stitch_conn_id=self.stitch_conn_id,
            source_id=watch.source_id,
            job_name=watch.job_name,
            after=watch.after,
            deadline=self._deadline(),
            end_from_trigger=self.end_from_trigger,
        )


class StitchLoadSensor(ReplicationLineageMixin, _StitchJobSensor):
    """Wait until a source's streams have loaded after its extraction (or after ``after``).

    Without ``after`` the sensor first waits for the extraction (the job from ``replication_task_id`` or
    ``job_name``, else the source's latest) and then for loads at or after its completion. A stream in
    error fails the task with the warehouse's message. Reports OpenLineage inputs and outputs of the
    streams it waited for, and attaches their destination tables to every ``AssetAlias`` in ``outlets``.

    :param streams: stream names; None for every selected stream of the source.
    """

    template_fields: Sequence[str] = ("source_id", "job_name", "after", "replication_task_id", "streams")

    def __init__(self, *, source_id: int | str, streams: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(source_id=source_id, **kwargs)
        self.streams = streams

    def _lineage_stream_names(self) -> list[str] | None:
        """Lineage covers the streams this sensor waits for."""
        return list(self.streams) if self.streams else None

    def execute(self, context: Context) -> Any:
        """Wait as the base sensor does; once the loads are in, attach their tables to asset aliases."""
        result = super().execute(context)
        self.attach_destination_assets(context)
        return result

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Finish after the trigger fired; on success attach the loaded tables to asset aliases."""
        result = super().execute_complete(context, event)
        self.attach_destination_assets(context)
        return result

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Wait for the extraction when needed, then for the loads, from the shared snapshots."""
        from airflow_provider_stitch.api.jobs import monitor_for_client, to_epoch

        client = self.client
        loads_after = to_epoch(self.after)
        if loads_after is None:
            extraction = self._poll_extraction(client, self._extraction_watch(context))
            if extraction is None:
                return False
            loads_after = extraction["completion_time"]
        monitor = monitor_for_client(client)
        watch = monitor.load_watch(client, int(self.source_id), self.streams, loads_after)
        if not watch.streams:
            raise AirflowException(f"source {self.source_id} has no streams to wait for")
        outcome = monitor.poll_loads(client, watch)
        if outcome is None:
            self.log.info("Streams of %s have not all loaded since %s yet", watch.source_name, loads_after)
            return False
        if not outcome.succeeded:
            raise AirflowException(f"Stitch loads of source {self.source_id} failed: {outcome.message}")
        return PokeReturnValue(is_done=True, xcom_value=outcome.as_dict())

    def _trigger(self, context: Context) -> Any:
        from airflow_provider_stitch.api.jobs import to_epoch
        from airflow_provider_stitch.triggers.replication import StitchLoadTrigger

        watch = self._extraction_watch(context)
        return StitchLoadTrigger(
            stitch_conn_id=self.stitch_conn_id,
            source_id=watch.source_id,
            streams=list(self.streams) if self.streams else None,
            loads_after=to_epoch(self.after),
            job_name=watch.job_name,
            after=watch.after,
            deadline=self._deadline(),
            end_from_trigger=self.end_from_trigger,
        )


__all__ = ["StitchExtractionSensor", "StitchLoadSensor", "default_deferrable", "job_reference"]
