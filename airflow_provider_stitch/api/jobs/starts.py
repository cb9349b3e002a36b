"""Starting a sync so that the task knows its own job, even when an answer is lost on the way.

``POST /v4/sources/{id}/sync`` is not idempotent: a resend after a lost answer either meets the job the
first attempt started (``already_running``) or, when that job was shorter than the pause, starts a second
one. So the start is sent one attempt at a time; after an attempt that may have reached Stitch, the
source's extraction row is read again first: a row that was not there before the start is this task's own
job, finished already, and nothing is resent. An ``already_running`` answer after such an attempt is this
task's own job too, not a reason to fail or skip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_stitch.api.errors import StitchAPIError, StitchTransportError
from airflow_provider_stitch.api.jobs.decisions import EXTRACTIONS, ExtractionWatch, is_newer_job

if TYPE_CHECKING:
    from airflow_provider_stitch.api.client import StitchClient
    from airflow_provider_stitch.api.jobs.monitor import JobsMonitor
    from airflow_provider_stitch.api.models import SyncJob

#: Statuses worth another attempt of the start (Stitch busy or failing).
RESEND_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RowBeforeStart:
    """The source's extraction row as Stitch listed it before the start.

    :param source_id: the source.
    :param known: True when the row (or its absence) was read.
    :param job_name: the listed job's name (None: no row).
    """

    source_id: int
    known: bool
    job_name: str | None = None

    @classmethod
    def from_read(cls, source_id: int, read_at: float | None, row: dict[str, Any] | None) -> RowBeforeStart:
        """The row as :func:`read_row_since` answered it.

        :param source_id: the source.
        :param read_at: when it was read (None: never).
        :param row: the row (None: no row).
        """
        return cls(int(source_id), known=read_at is not None, job_name=_job_name_of(row))


@dataclass(frozen=True)
class SyncStart:
    """What the start led to.

    :param job_name: this task's job, when Stitch named it (or its row appeared after a lost answer).
    :param already_running: another job was running, so none was started.
    :param own: the job was started by this task although its answer was lost.
    :param message: Stitch's message of an ``already_running`` answer.
    :param attempts: starts sent.
    """

    job_name: str | None
    already_running: bool = False
    own: bool = False
    message: str | None = None
    attempts: int = 1


def _row_of(monitor: JobsMonitor, identity: str) -> tuple[float | None, dict[str, Any] | None]:
    """When the source's row was last read (monitor clock) and the row itself (None: no row)."""
    snapshot = monitor.snapshots[EXTRACTIONS]
    return snapshot.checked.get(identity), snapshot.rows.get(identity)


def _job_name_of(row: dict[str, Any] | None) -> str | None:
    name = (row or {}).get("job_name")
    return str(name) if name else None


def read_row_before_start(client: StitchClient, monitor: JobsMonitor, source_id: int) -> RowBeforeStart:
    """The source's extraction row as the shared snapshot knows it (reading a page if its turn is due).

    :param client: the task's client (pays a Jobs page only when the monitor's schedule says so).
    :param monitor: the account's monitor.
    :param source_id: the source.
    """
    identity = str(int(source_id))
    monitor.watch(EXTRACTIONS, [identity])
    try:
        monitor.check_extraction(client, ExtractionWatch(int(source_id)))
    finally:
        monitor.unwatch(EXTRACTIONS, [identity])
    read_at, row = _row_of(monitor, identity)
    return RowBeforeStart(int(source_id), known=read_at is not None, job_name=_job_name_of(row))


def read_row_since(
    client: StitchClient,
    monitor: JobsMonitor,
    source_id: int,
    *,
    since: float,
    max_wait: float,
    sleep: Callable[[float], None],
) -> tuple[float | None, dict[str, Any] | None]:
    """The source's extraction row, read at or after ``since`` (monitor clock) if that happens in time.

    Waits at most ``max_wait`` seconds for such a read (pages are read in the monitor's turns); answers
    ``(read_at, row)`` of the latest read, which is older than ``since`` when none came in time
    (``read_at`` None: never read).

    :param client: the task's client.
    :param monitor: the account's monitor.
    :param source_id: the source.
    :param since: monitor time the read must not be older than.
    :param max_wait: seconds to wait for that read.
    :param sleep: blocks for some seconds.
    """
    identity = str(int(source_id))
    give_up = monitor.now() + max_wait
    monitor.watch(EXTRACTIONS, [identity])
    try:
        while True:
            monitor.check_extraction(client, ExtractionWatch(int(source_id)))
            read_at, row = _row_of(monitor, identity)
            if read_at is not None and read_at >= since:
                return read_at, row
            now = monitor.now()
            if now >= give_up:
                return read_at, row
            sleep(min(max(monitor.next_check_in(EXTRACTIONS), 0.5), give_up - now))
    finally:
        monitor.unwatch(EXTRACTIONS, [identity])


def job_finished_since(
    client: StitchClient,
    monitor: JobsMonitor,
    before: RowBeforeStart,
    *,
    since: float,
    max_wait: float,
    sleep: Callable[[float], None],
) -> str | None:
    """The job of a row Stitch lists now and did not list before the start (None: none, or not read in time).

    Waits until the source's row was read at or after ``since`` (monitor clock), at most ``max_wait`` seconds.

    :param client: the task's client.
    :param monitor: the account's monitor.
    :param before: the row read before the start.
    :param since: monitor time of the attempt whose answer was lost.
    :param max_wait: seconds to wait for that read.
    :param sleep: blocks for some seconds.
    """
    if not before.known:
        return None
    read_at, row = read_row_since(
        client, monitor, before.source_id, since=since, max_wait=max_wait, sleep=sleep
    )
    name = _job_name_of(row)
    if read_at is None or read_at < since:
        return None
    if not name or name == before.job_name or is_newer_job(name, before.job_name) is False:
        return None
    return name


def _may_have_started(problem: Exception) -> bool:
    """True when the failed attempt may have reached Stitch and started a job."""
    if isinstance(problem, StitchTransportError):
        return problem.request_sent is not False
    if isinstance(problem, StitchAPIError):
        return problem.status != 429
    return False


def _worth_resending(problem: Exception) -> bool:
    if isinstance(problem, StitchTransportError):
        return not problem.permanent
    return isinstance(problem, StitchAPIError) and problem.status in RESEND_STATUSES


def start_own_sync(
    start: Callable[[], SyncJob],
    finished_since: Callable[[float], str | None],
    now: Callable[[], float],
    *,
    attempts: int,
    pause: Callable[[int], None],
) -> SyncStart:
    """Send the start one attempt at a time, recognising this task's own job after a lost answer.

    :param start: sends one ``POST .../sync`` (no retries of its own).
    :param finished_since: given the monitor time of a failed attempt, the job of a row that appeared since
        the start, else None.
    :param now: the monitor's clock.
    :param attempts: starts to send at most.
    :param pause: waits before attempt number ``n + 1`` (given ``n``).
    :raises StitchError: the last attempt's failure, or a failure not worth resending.
    """
    failed_at: float | None = None
    for number in range(1, max(1, attempts) + 1):
        if failed_at is not None:
            adopted = finished_since(failed_at)
            if adopted is not None:
                return SyncStart(adopted, own=True, attempts=number - 1)
        try:
            job = start()
        except (StitchTransportError, StitchAPIError) as problem:
            if number >= attempts or not _worth_resending(problem):
                raise
            if _may_have_started(problem):
                failed_at = now()
            pause(number)
            continue
        maybe_started = failed_at is not None
        if job.already_running and maybe_started:
            return SyncStart(None, own=True, message=job.message, attempts=number)
        return SyncStart(
            job.job_name, already_running=job.already_running, message=job.message, attempts=number
        )
    raise AssertionError("the start loop ended without an answer")  # pragma: no cover


__all__ = [
    "RowBeforeStart",
    "SyncStart",
    "job_finished_since",
    "read_row_before_start",
    "read_row_since",
    "start_own_sync",
]
