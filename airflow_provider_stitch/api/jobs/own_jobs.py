"""A task's own started job, remembered in the budget's store so that a retry of the task adopts it.

Airflow clears a task instance's XComs when a new try starts, so a retry knows nothing of the job its
earlier try started. The start records that job in the budget's store (SQLite per host, Redis across
hosts), keyed by the task instance (DAG, run, task, map index; not the try) and the Stitch client and
source, for :data:`OWN_JOB_TTL` seconds. A try that reaches its end (a Stitch outcome, success or not)
forgets it; a try that dies while waiting (worker killed, trigger failed, task deadline) leaves it.

The rule of a later try (:func:`decide_retry`), from Stitch's rows and the record only (no worker clock):
the recorded job failed: start a new sync, that is what the retry is for; else (it succeeded, or still
runs, or Stitch does not list it yet) go on waiting for it as the earlier try would have, whatever
``if_running`` says, since it is not someone else's job. Without a store shared by the hosts (the
``memory`` backend; SQLite when the retry runs on another host) no record is found, and a retry starts
as a first try does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_stitch.api.errors import StitchBudgetStoreError, StitchBudgetStoreUnreachable
from airflow_provider_stitch.api.jobs.decisions import (
    ExtractionOutcome,
    ExtractionWatch,
    decide_extraction,
    job_started_at,
)
from airflow_provider_stitch.api.jobs.progress import iso

if TYPE_CHECKING:
    from airflow_provider_stitch.api.budget import JobsBudget

logger = logging.getLogger("airflow_provider_stitch.own_jobs")

#: Days a record of a started job is kept (on the store's clock) unless its task forgets it first.
OWN_JOB_TTL_DAYS = 7
OWN_JOB_TTL = OWN_JOB_TTL_DAYS * 24 * 3600.0


@dataclass(frozen=True)
class TaskIdentity:
    """One task instance across its tries.

    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the task.
    :param map_index: the mapped index (-1 when the task is not mapped).
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    def digest(self) -> str:
        """A short fixed-length key part (run ids may hold any characters)."""
        text = json.dumps([self.dag_id, self.run_id, self.task_id, self.map_index])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def __str__(self) -> str:
        index = "" if self.map_index < 0 else f"[{self.map_index}]"
        return f"{self.dag_id}.{self.task_id}{index} of run {self.run_id}"


def task_identity_of(task_instance: Any) -> TaskIdentity | None:
    """The identity of an Airflow task instance; None when it lacks one (a bare test context).

    :param task_instance: ``context["ti"]``.
    """
    dag_id, run_id, task_id = (getattr(task_instance, name, None) for name in ("dag_id", "run_id", "task_id"))
    if not (isinstance(dag_id, str) and isinstance(run_id, str) and isinstance(task_id, str)):
        return None
    if not (dag_id and run_id and task_id):
        return None
    map_index = getattr(task_instance, "map_index", -1)
    return TaskIdentity(dag_id, run_id, task_id, map_index if isinstance(map_index, int) else -1)


@dataclass(frozen=True)
class OwnJob:
    """The job a try of a task started: what its wait was anchored on.

    :param source_id: the source.
    :param job_name: the job's name (None: a start whose answer was lost met a running job, so the job is
        the first one Stitch lists after ``previous_job``).
    :param previous_job: job name of the source's row listed before the start (None: no row).
    :param previous_known: True when ``previous_job`` was read.
    :param try_number: the try that started it.
    """

    source_id: int
    job_name: str | None
    previous_job: str | None
    previous_known: bool
    try_number: int

    @property
    def identifiable(self) -> bool:
        """True when a later try can tell this job in Stitch's rows (a name, or the row before it)."""
        return self.job_name is not None or self.previous_known

    def watch(self) -> ExtractionWatch:
        """The question the earlier try's wait asked."""
        return ExtractionWatch(
            self.source_id,
            self.job_name,
            previous_job=self.previous_job,
            previous_known=self.previous_known,
        )

    def describe(self) -> str:
        """The job in words, with its start time read from its name (Stitch's clock)."""
        if self.job_name is None:
            return f"the job that followed {self.previous_job or 'no listed job'}"
        started = job_started_at(self.job_name)
        return self.job_name if started is None else f"{self.job_name} (started {iso(started)})"


def _own_job_from(payload: str, source_id: int) -> OwnJob | None:
    """A stored record read back; None (logged) when it is not one this version wrote for the source."""
    try:
        fields = json.loads(payload)
        job = OwnJob(
            source_id=int(fields["source_id"]),
            job_name=None if fields["job_name"] is None else str(fields["job_name"]),
            previous_job=None if fields["previous_job"] is None else str(fields["previous_job"]),
            previous_known=bool(fields["previous_known"]),
            try_number=int(fields["try_number"]),
        )
    except (ValueError, TypeError, KeyError) as problem:
        logger.warning("ignoring an unreadable record of a started job of source %s: %s", source_id, problem)
        return None
    if job.source_id != source_id or not job.identifiable:
        logger.warning("ignoring a record of a started job that does not fit source %s", source_id)
        return None
    return job


class OwnJobRecords:
    """Where a task instance's started jobs are remembered: the store of the account's Jobs budget.

    Writes are best effort: a store that fails is logged (without its password) and the task goes on, since
    failing after a start would only make the retry start a second sync. A read that fails because the store
    does not answer raises :class:`StitchBudgetStoreUnreachable` (the caller waits for the store rather than
    start a sync that may be a second one); any other store failure is logged and reads as no record.

    :param budget: the account's Jobs budget (its key names the Stitch client, its backend is the store, its
        injected clock, if any, the records' timeline).
    :param ttl: seconds a record is kept.
    """

    def __init__(self, budget: JobsBudget, *, ttl: float = OWN_JOB_TTL) -> None:
        self.budget = budget
        self.ttl = ttl

    def key(self, task: TaskIdentity, source_id: int) -> str:
        """The record's key: the budget's client, the source and the task instance."""
        return f"{self.budget.key}:own-job:{int(source_id)}:{task.digest()}"

    def remember(self, task: TaskIdentity, job: OwnJob) -> bool:
        """Record the job a try started (replacing an earlier try's); True when it was stored.

        :param task: the task instance.
        :param job: the started job.
        """
        if not job.identifiable:
            return False
        payload = json.dumps(asdict(job))
        key = self.key(task, job.source_id)
        at = self.budget.injected_now()
        return self._call(
            "record", job.source_id, lambda: self.budget.backend.put_record(key, payload, self.ttl, at)
        )

    def recall(self, task: TaskIdentity, source_id: int) -> OwnJob | None:
        """The job an earlier try of ``task`` started and did not see to its end, or None.

        :param task: the task instance.
        :param source_id: the source.
        :raises StitchBudgetStoreUnreachable: the store does not answer.
        """
        found: list[str | None] = []
        key, at = self.key(task, source_id), self.budget.injected_now()
        if not self._call("read", source_id, lambda: found.append(self.budget.backend.get_record(key, at))):
            return None
        payload = found[0] if found else None
        return None if payload is None else _own_job_from(payload, int(source_id))

    def forget(self, task: TaskIdentity, source_id: int) -> None:
        """Drop the record: the try reached its end, so a later try (a clear) starts anew.

        :param task: the task instance.
        :param source_id: the source.
        """
        key = self.key(task, source_id)
        self._call("forget", source_id, lambda: self.budget.backend.delete_record(key))

    @staticmethod
    def _call(action: str, source_id: int, call: Any) -> bool:
        try:
            call()
        except StitchBudgetStoreError as problem:
            if action == "read" and isinstance(problem, StitchBudgetStoreUnreachable):
                raise
            then = "this try starts" if action == "read" else "a retry of this task would start"
            logger.warning(
                "could not %s the started job of source %s in the budget store (%s); %s as a first try does",
                action,
                source_id,
                problem,
                then,
            )
            return False
        return True


@dataclass(frozen=True)
class RetryDecision:
    """What a later try does with its earlier try's job.

    :param start_new: True: that job failed, start a new sync; False: go on waiting for it.
    :param outcome: how the job ended, when Stitch lists that already (None: still running or not listed).
    """

    start_new: bool
    outcome: ExtractionOutcome | None = None

    def describe(self, job: OwnJob, try_number: int) -> str:
        """The decision in words, with the job name and Stitch's ISO times, for the task log.

        :param job: the earlier try's job.
        :param try_number: this try.
        """
        head = f"Try {try_number}: try {job.try_number} of this task started {job.describe()}"
        outcome = self.outcome
        if outcome is None:
            return f"{head}; Stitch does not list it as ended, so this try waits for it instead of starting again"
        ended = f"ended at {iso(outcome.completion_time)}"
        if outcome.replaced:
            ended = f"was followed by {outcome.job_name}, which {ended}"
        if self.start_new:
            return f"{head}; it {ended} and failed ({outcome.message}), so this try starts a new sync"
        return f"{head}; it {ended} and succeeded, so this try starts nothing and goes on from its outcome"


def decide_retry(job: OwnJob, row: dict[str, Any] | None) -> RetryDecision:
    """Decide a later try from the source's extraction row and its earlier try's record.

    The answer is the one the earlier try's wait would have reached from the same row
    (:func:`~airflow_provider_stitch.api.jobs.decisions.decide_extraction`); only a failure starts anew.

    :param job: the earlier try's job.
    :param row: the source's row in the extractions list (None: no row, or not read).
    """
    outcome = decide_extraction(row, job.watch())
    return RetryDecision(start_new=outcome is not None and not outcome.succeeded, outcome=outcome)


__all__ = [
    "OWN_JOB_TTL",
    "OwnJob",
    "OwnJobRecords",
    "RetryDecision",
    "TaskIdentity",
    "decide_retry",
    "task_identity_of",
]
