"""Triggers that wait for a Stitch extraction (and its loads) through the process-wide JobsMonitor.

All triggers of a triggerer share one monitor per account, so a single paid refresh of the Jobs lists
answers every one of them. Nothing here blocks the event loop; the API client and models load in ``run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import threading
import weakref
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

#: Event statuses.
SUCCESS = "success"
FAILED = "failed"
TIMEOUT = "timeout"
ERROR = "error"
#: Seconds of one wait on the monitor between two progress lines in the trigger log.
PROGRESS_SLICE = 60.0
#: What a wait needs beyond this module; the first trigger of a process imports it in a worker thread.
WAIT_MODULES = (
    "airflow_provider_stitch.api.deadlines",
    "airflow_provider_stitch.api.errors",
    "airflow_provider_stitch.api.jobs",
    "airflow_provider_stitch.api.jobs.progress",
    "airflow_provider_stitch.api.aclient",
    "airflow_provider_stitch.hooks.stitch",
)
#: What the first request and the first connection lookup would otherwise import on the event loop: anyio
#: (under httpx) loads its parts at first attribute use, Airflow's lookup loads its connection classes at
#: first call (``airflow.sdk`` names: Airflow 3). A name this Airflow or anyio lacks is skipped.
LAZY_DEPENDENCIES = (
    "anyio.abc",
    "anyio.lowlevel",
    "anyio.to_thread",
    "anyio.streams.memory",
    "anyio.streams.stapled",
    "anyio.streams.tls",
    "anyio._backends._asyncio",
    "httpcore._backends.anyio",
    "encodings.ascii",
    "airflow.sdk.definitions.connection",
    "airflow.sdk.execution_time.cache",
    "asgiref.sync",
)
_WAIT_MODULES_LOADED = threading.Event()
_IMPORT_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _import_wait_modules() -> None:
    for name in WAIT_MODULES:
        importlib.import_module(name)
    for name in LAZY_DEPENDENCIES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    _WAIT_MODULES_LOADED.set()


async def load_wait_modules() -> None:
    """Import the client, the monitor and the hook off the event loop, once per process.

    Importing them (httpx, pydantic models, the monitor) takes a few hundred milliseconds; done on the
    loop by the first Stitch trigger, it would stall every other trigger of the triggerer that long. The
    triggers that start meanwhile queue on one lock, so they go on one per loop iteration, not all at once.
    """
    if _WAIT_MODULES_LOADED.is_set():
        return
    lock = _IMPORT_LOCKS.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        if not _WAIT_MODULES_LOADED.is_set():
            await asyncio.to_thread(_import_wait_modules)


def json_safe_hook_params(hook_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The hook arguments a trigger can carry through serialisation (strings, numbers, booleans, None).

    :param hook_params: a task's ``hook_params``.
    """
    return {
        str(key): value
        for key, value in (hook_params or {}).items()
        if value is None or isinstance(value, (str, int, float, bool))
    }


def landed_streams_of(event: Any) -> list[str]:
    """The streams a trigger event reports as loaded (none when it carries no loads).

    :param event: what the trigger fired.
    """
    loads = event.get("loads") if isinstance(event, dict) else None
    loaded = loads.get("loaded_at") if isinstance(loads, dict) else None
    return [str(name) for name in loaded] if isinstance(loaded, dict) else []


def log_event_outcome(log: Any, subject: str, event: Any) -> None:
    """Tell a trigger event's outcome in the task log of the resumed task (words and ISO times).

    :param log: the task's logger.
    :param subject: what was waited on, e.g. ``source 12``.
    :param event: what the trigger fired.
    """
    from airflow_provider_stitch.api.jobs import ExtractionOutcome, LoadOutcome
    from airflow_provider_stitch.api.jobs.progress import WaitProgress

    if not isinstance(event, dict):
        log.info(f"Stitch wait on {subject} ended: {event}")
        return
    story = WaitProgress(log, subject)
    try:
        if isinstance(event.get("extraction"), dict):
            story.extraction_finished(ExtractionOutcome(**event["extraction"]), waited=False)
        if isinstance(event.get("loads"), dict):
            loads = LoadOutcome(**event["loads"])
            streams = [*loads.loaded_at, *([loads.failed_stream] if loads.failed_stream else [])]
            story.loads_finished(loads, streams, waited=False)
    except TypeError:
        log.info(f"Stitch wait on {subject} ended with status {event.get('status')}")
        return
    if event.get("status") not in (SUCCESS, None):
        log.warning(f"Stitch wait on {subject} ended with {event.get('status')}: {event.get('message')}")


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
    :param after: a time on Stitch's clock (epoch seconds) the extraction must have completed at or after.
    :param previous_job: job name of the source's extraction row listed before the start.
    :param previous_known: True when ``previous_job`` was read (False: nothing known of it).
    :param deadline: epoch seconds (budget clock) after which the wait gives up.
    :param stop_on_timeout: stop the running sync when the deadline passes.
    :param end_from_trigger: end the task from the triggerer (TaskSuccessEvent / TaskFailedEvent) instead
        of resuming it in ``execute_complete``; leave False under ``airflow dags test``.
    :param return_value: XCom return value of a task ended from the trigger.
    :param hook_params: JSON-safe arguments of the Stitch hook (``timeout``, ``max_attempts``...).
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
        previous_job: str | None = None,
        previous_known: bool = False,
        hook_params: dict[str, Any] | None = None,
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
        self.previous_job = previous_job
        self.previous_known = bool(previous_known)
        self.hook_params = json_safe_hook_params(hook_params)

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
            "previous_job": self.previous_job,
            "previous_known": self.previous_known,
            "hook_params": dict(self.hook_params),
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

    async def _story(self, what: str, monitor: Any) -> Any:
        """The wait's story in the trigger log (first line now); the budget's use is read off the loop."""
        from airflow_provider_stitch.api.jobs.progress import WaitProgress

        await monitor.budget_use.afresh()
        story = WaitProgress(self.log, f"source {self.source_id}", budget=monitor.budget_use)
        left = None if self.deadline is None else max(0.0, self.deadline - monitor.now())
        story.begin(what, deadline_in=left)
        return story

    async def _in_slices(
        self,
        monitor: Any,
        story: Any,
        phase: str,
        client: Any,
        watch: Any,
        *,
        begin: str | None = None,
        event: bool = False,
    ) -> Any:
        """Wait through the monitor in slices of about a minute, logging progress between slices.

        ``watch`` is an ``ExtractionWatch`` (the monitor's ``await_extraction``) or a ``LoadWatch``
        (``await_loads``). One coroutine holding no bound method or closure per wait: thousands of waits
        keep what they hold small, and a full collection has less to walk.

        :param begin: what the wait is about, to begin its story here (``story`` is then None).
        :param event: return the extraction's event (as ``StitchExtractionTrigger._wait``) instead of the outcome.
        """
        from airflow_provider_stitch.api.jobs import EXTRACTIONS, LOADS, ExtractionWatch, StitchWaitTimeout

        if begin is not None:
            story = await self._story(begin, monitor)
        extraction = isinstance(watch, ExtractionWatch)
        kind = EXTRACTIONS if extraction else LOADS
        story.tick(phase, next_look_in=monitor.next_check_in(kind))
        while True:
            until = monitor.now() + PROGRESS_SLICE
            last = self.deadline is not None and self.deadline <= until
            if last:
                until = self.deadline
            try:
                if extraction:
                    outcome = await monitor.await_extraction(
                        client, watch, deadline=self.deadline, until=until
                    )
                else:
                    outcome = await monitor.await_loads(client, watch, deadline=self.deadline, until=until)
                break
            except StitchWaitTimeout:
                if last:
                    raise
                await monitor.budget_use.afresh()
                story.tick(phase, next_look_in=monitor.next_check_in(kind))
        if extraction:
            story.extraction_finished(outcome)
        else:
            story.loads_finished(outcome, watch.streams)
        return self._extraction_event(outcome) if event else outcome

    def _extraction_event(self, outcome: Any) -> TriggerEvent:
        """The event of a finished extraction (``success`` or ``failed``)."""
        if outcome.succeeded:
            return self._event(SUCCESS, extraction=outcome.as_dict(), job_name=outcome.job_name)
        return self._event(FAILED, outcome.message, extraction=outcome.as_dict(), job_name=outcome.job_name)

    def _extraction_watch(self) -> Any:
        from airflow_provider_stitch.api.jobs import ExtractionWatch

        return ExtractionWatch(
            self.source_id,
            self.job_name,
            self.after,
            previous_job=self.previous_job,
            previous_known=self.previous_known,
        )

    def _wait_extraction(self, client: Any, monitor: Any, story: Any, watch: Any = None) -> Awaitable[Any]:
        """The wait for the extraction (no coroutine of its own: the slices' one does it all)."""
        return self._in_slices(monitor, story, "the extraction", client, watch or self._extraction_watch())

    def _wait_loads(self, client: Any, monitor: Any, story: Any, watch: Any) -> Awaitable[Any]:
        """The wait for the loads of ``watch`` (a ``LoadWatch``)."""
        from airflow_provider_stitch.api.jobs.progress import describe_load_watch

        return self._in_slices(monitor, story, describe_load_watch(watch), client, watch)

    @abstractmethod
    def _wait(self, client: Any, monitor: Any) -> Awaitable[TriggerEvent]:
        """Wait for the condition; return the event to fire."""

    async def _client(self) -> Any:
        """An async client of the connection (the hook is not kept: thousands of waits may run at once)."""
        from airflow_provider_stitch.hooks.stitch import StitchHook

        return await StitchHook(self.stitch_conn_id, **self.hook_params).aget_client()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait through the shared monitor and fire one event."""
        await load_wait_modules()
        from airflow_provider_stitch.api.deadlines import (
            STOP_AFTER_DEADLINE_SECONDS,
            enter_deadline,
            leave_deadline,
            stitch_deadline,
        )
        from airflow_provider_stitch.api.errors import StitchError
        from airflow_provider_stitch.api.jobs import StitchWaitTimeout, amonitor_for_client

        client = await self._client()
        try:  # as ``async with client``, without holding its bound ``__aexit__`` through the whole wait
            monitor = await amonitor_for_client(client)
            # Every request in flight ends by the deadline too, whatever the server does. Set and left by
            # hand, not in a ``with`` block: the wait then holds the token only, not a block and its __exit__.
            token = None if self.deadline is None else enter_deadline(self.deadline - monitor.now())
            try:
                event = await self._wait(client, monitor)
            finally:
                if token is not None:
                    leave_deadline(token)
        except StitchWaitTimeout as timeout:
            with stitch_deadline(STOP_AFTER_DEADLINE_SECONDS):
                what = await self._stop_sync(client)
            event = self._event(TIMEOUT, f"{timeout}; {what}")
        except StitchError as problem:
            event = self._event(ERROR, f"could not read the job's state from Stitch: {problem}")
        except ValueError as problem:
            event = self._event(ERROR, f"cannot wait on source {self.source_id}: {problem}")
        finally:
            await client.aclose()
        yield event


class StitchExtractionTrigger(_StitchWaitTrigger):
    """Fires when the watched extraction has finished (status ``success`` or ``failed``) or the deadline passed."""

    def _wait(self, client: Any, monitor: Any) -> Awaitable[TriggerEvent]:
        """The slices' coroutine does it all: the story, the wait and the event (no coroutine of its own)."""
        from airflow_provider_stitch.api.jobs.progress import describe_extraction_watch

        watch = self._extraction_watch()
        return self._in_slices(
            monitor, None, "the extraction", client, watch, begin=describe_extraction_watch(watch), event=True
        )


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
        import dataclasses

        extraction: dict[str, Any] | None = None
        loads_after = self.loads_after
        watch = await monitor.aload_watch(client, self.source_id, self.streams, loads_after)
        if not watch.streams:
            return self._event(FAILED, f"source {self.source_id} has no streams to wait for")
        streams = ", ".join(watch.streams)
        story = await self._story(f"the loads of streams {streams}", monitor)
        if loads_after is None:
            outcome = await self._wait_extraction(client, monitor, story)
            extraction = outcome.as_dict()
            if not outcome.succeeded:
                return self._event(FAILED, outcome.message, extraction=extraction, job_name=outcome.job_name)
            self.job_name = outcome.job_name
            loads_after = outcome.completion_time
        watch = dataclasses.replace(watch, after=loads_after, errors_after=monitor.now())
        loads = await self._wait_loads(client, monitor, story, watch)
        status = SUCCESS if loads.succeeded else FAILED
        return self._event(status, loads.message, extraction=extraction, loads=loads.as_dict())


__all__ = ["StitchExtractionTrigger", "StitchLoadTrigger"]
