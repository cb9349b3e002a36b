"""Triggers that wait for a Stitch extraction (and its loads) through the process-wide JobsMonitor.

All triggers of a triggerer share one monitor per account, so a single paid refresh of the Jobs lists
answers every one of them. Nothing here blocks the event loop; the API client and models load in ``run``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

#: Event statuses.
SUCCESS = "success"
FAILED = "failed"
TIMEOUT = "timeout"
ERROR = "error"


def _end_event(status: str, payload: dict[str, Any], return_value: Any) -> TriggerEvent:
    """A task-ending event (success or failure) where this Airflow has one; a plain event otherwise."""
    try:
        from airflow.triggers.base import TaskFailedEvent, TaskSuccessEvent
    except ImportError:
        return TriggerEvent(payload)
    if status == SUCCESS:
        return TaskSuccessEvent(xcoms={"return_value": return_value})
    return TaskFailedEvent()


def read_event(event: Any, what: str) -> dict[str, Any]:
    """The payload of a Stitch trigger event; raises when the wait did not succeed.

    Under ``airflow dags test`` a task-ending event comes back as the bare state (``"success"`` /
    ``"failed"``), which is read here too.

    :param event: what the trigger fired.
    :param what: what was waited for, for messages.
    """
    from airflow.providers.common.compat.sdk import AirflowException

    if event in ("success", SUCCESS):
        return {"status": SUCCESS}
    if not isinstance(event, dict):
        raise AirflowException(f"{what}: the trigger ended with {event!r}")
    status = event.get("status")
    if status == SUCCESS:
        return event
    message = event.get("message") or "no details"
    if status == TIMEOUT:
        raise AirflowException(f"{what} timed out: {message}")
    raise AirflowException(f"{what} failed: {message}")


class _StitchWaitTrigger(BaseTrigger):
    """Shared arguments, serialisation and event building of the Stitch triggers.

    :param stitch_conn_id: Airflow connection id.
    :param source_id: the source.
    :param job_name: job to wait for (None: the first extraction completing after ``after``).
    :param after: epoch seconds the job was started or attached at.
    :param deadline: epoch seconds (budget clock) after which the wait gives up.
    :param stop_on_timeout: stop the running sync when the deadline passes.
    :param end_from_trigger: end the task from the triggerer (TaskSuccessEvent / TaskFailedEvent) instead
        of resuming it in ``execute_complete``; leave False under ``airflow dags test``.
    :param return_value: XCom return value of a task ended from the trigger.
    """

    def __init__(
        self,
        stitch_conn_id: str,
        source_id: int,
        job_name: str | None = None,
        after: float | None = None,
        deadline: float | None = None,
        stop_on_timeout: bool = False,
        end_from_trigger: bool = False,
        return_value: Any = None,
    ) -> None:
        super().__init__()
        self.stitch_conn_id = stitch_conn_id
        self.source_id = int(source_id)
        self.job_name = job_name
        self.after = None if after is None else float(after)
        self.deadline = None if deadline is None else float(deadline)
        self.stop_on_timeout = bool(stop_on_timeout)
        self.end_from_trigger = bool(end_from_trigger)
        self.return_value = return_value

    def _kwargs(self) -> dict[str, Any]:
        return {
            "stitch_conn_id": self.stitch_conn_id,
            "source_id": self.source_id,
            "job_name": self.job_name,
            "after": self.after,
            "deadline": self.deadline,
            "stop_on_timeout": self.stop_on_timeout,
            "end_from_trigger": self.end_from_trigger,
            "return_value": self.return_value,
        }

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and primitive keyword arguments."""
        return f"{type(self).__module__}.{type(self).__qualname__}", self._kwargs()

    def _event(self, status: str, message: str | None = None, **details: Any) -> TriggerEvent:
        payload = {
            "status": status,
            "source_id": self.source_id,
            "job_name": self.job_name,
            "message": message,
            **details,
        }
        if status != SUCCESS:
            self.log.error("Stitch wait on source %s ended with %s: %s", self.source_id, status, message)
        if self.end_from_trigger:
            return _end_event(status, payload, self.return_value)
        return TriggerEvent(payload)

    async def _stop_sync(self, client: Any) -> str:
        """Best-effort stop of the running sync; says what happened."""
        if not self.stop_on_timeout:
            return "the sync was left running"
        from airflow_provider_stitch.api.errors import StitchError

        try:
            await client.stop_sync(self.source_id)
        except StitchError as problem:
            return f"stopping the sync failed: {problem}"
        return "the sync was stopped"

    async def _wait_extraction(self, client: Any, monitor: Any) -> Any:
        from airflow_provider_stitch.api.jobs import ExtractionWatch

        watch = ExtractionWatch(self.source_id, self.job_name, self.after)
        return await monitor.await_extraction(client, watch, deadline=self.deadline)

    @abstractmethod
    async def _wait(self, client: Any, monitor: Any) -> TriggerEvent:
        """Wait for the condition; return the event to fire."""

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait through the shared monitor and fire one event."""
        from airflow_provider_stitch.api.errors import StitchError
        from airflow_provider_stitch.api.jobs import StitchWaitTimeout, amonitor_for_client
        from airflow_provider_stitch.hooks.stitch import StitchHook

        hook = StitchHook(self.stitch_conn_id)
        async with await hook.aget_client() as client:
            try:
                monitor = await amonitor_for_client(client)
                event = await self._wait(client, monitor)
            except StitchWaitTimeout as timeout:
                what = await self._stop_sync(client)
                event = self._event(TIMEOUT, f"{timeout}; {what}")
            except StitchError as problem:
                event = self._event(ERROR, f"could not read the job's state from Stitch: {problem}")
        yield event


class StitchExtractionTrigger(_StitchWaitTrigger):
    """Fires when the watched extraction has finished (status ``success`` or ``failed``) or the deadline passed."""

    async def _wait(self, client: Any, monitor: Any) -> TriggerEvent:
        outcome = await self._wait_extraction(client, monitor)
        if outcome.succeeded:
            return self._event(SUCCESS, extraction=outcome.as_dict(), job_name=outcome.job_name)
        return self._event(FAILED, outcome.message, extraction=outcome.as_dict(), job_name=outcome.job_name)


class StitchLoadTrigger(_StitchWaitTrigger):
    """Fires when the source's streams have loaded after its extraction (or a given time), or one failed.

    Without ``after`` it first waits for the extraction (``job_name``, or the source's latest) and waits for
    loads at or after its completion.

    :param streams: stream names; None for every selected stream of the source.
    :param loads_after: epoch seconds the loads must be at or after (skips the extraction wait).
    """

    def __init__(
        self,
        stitch_conn_id: str,
        source_id: int,
        streams: list[str] | None = None,
        loads_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(stitch_conn_id, source_id, **kwargs)
        self.streams = list(streams) if streams else None
        self.loads_after = None if loads_after is None else float(loads_after)

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "streams": self.streams, "loads_after": self.loads_after}

    async def _wait(self, client: Any, monitor: Any) -> TriggerEvent:
        extraction: dict[str, Any] | None = None
        loads_after = self.loads_after
        if loads_after is None:
            outcome = await self._wait_extraction(client, monitor)
            extraction = outcome.as_dict()
            if not outcome.succeeded:
                return self._event(FAILED, outcome.message, extraction=extraction, job_name=outcome.job_name)
            self.job_name = outcome.job_name
            loads_after = outcome.completion_time
        watch = await monitor.aload_watch(client, self.source_id, self.streams, loads_after)
        if not watch.streams:
            return self._event(
                FAILED, f"source {self.source_id} has no streams to wait for", extraction=extraction
            )
        loads = await monitor.await_loads(client, watch, deadline=self.deadline)
        status = SUCCESS if loads.succeeded else FAILED
        return self._event(status, loads.message, extraction=extraction, loads=loads.as_dict())


__all__ = ["StitchExtractionTrigger", "StitchLoadTrigger"]
