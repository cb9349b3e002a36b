"""Decisions about Stitch jobs: pure functions from Jobs rows to "finished, and how"."""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

EXTRACTIONS = "extractions"
LOADS = "loads"
PHASES = ("discovery", "tap", "target")

logger = logging.getLogger("airflow_provider_stitch.monitor")

# ---------------------------------------------------------------------------------------------- questions


def to_epoch(value: Any) -> float | None:
    """Epoch seconds of a datetime, an ISO 8601 string or a number; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        if text[-1:] in "zZ":
            text = text[:-1] + "+00:00"
        return to_epoch(datetime.fromisoformat(text))
    raise ValueError(f"cannot read a point in time from {value!r}")


def _second(value: float | None) -> float | None:
    """Stitch writes timestamps to the second: compare against the whole second."""
    return None if value is None else float(math.floor(value))


#: Seconds between the UUID epoch (1582-10-15) and the Unix epoch.
_UUID_EPOCH_OFFSET = 12_219_292_800


def job_started_at(job_name: str | None) -> float | None:
    """When Stitch created a job, read from its name (``<client>.<source>.sync.<uuid1>``); None if unreadable.

    Stitch names jobs with a time-based (version 1) UUID, so two job names of one source can be ordered
    without any clock but Stitch's own.

    :param job_name: a job name as ``start_sync`` or an extraction row gives it.
    """
    if not job_name:
        return None
    try:
        tail = uuid.UUID(str(job_name).rsplit(".", 1)[-1])
    except ValueError:
        return None
    if tail.version != 1:
        return None
    return tail.time / 1e7 - _UUID_EPOCH_OFFSET


def is_newer_job(candidate: str | None, reference: str | None) -> bool | None:
    """Whether job ``candidate`` was created after job ``reference``; None when their names cannot tell.

    :param candidate: the job name in question.
    :param reference: the job name it is compared with.
    """
    first, second = job_started_at(candidate), job_started_at(reference)
    if first is None or second is None:
        return None
    return first > second


@dataclass(frozen=True)
class ExtractionWatch:
    """The question "has this source's extraction finished?", anchored on what Stitch said.

    A job name ``start_sync`` returned decides by itself. Without one (attached to a running job), the
    answer is the first extraction that is not the one Stitch listed before the start.

    :param source_id: the source.
    :param job_name: the job ``start_sync`` returned; None when attached to a job Stitch did not name.
    :param after: a time on Stitch's clock (epoch seconds) the extraction must have completed at or after;
        only when a user gives one, never the worker's clock.
    :param previous_job: job name of the source's extraction row listed before the start (None: no row).
    :param previous_known: True when ``previous_job`` was read (False: nothing is known of it).
    """

    source_id: int
    job_name: str | None = None
    after: float | None = None
    previous_job: str | None = None
    previous_known: bool = False

    @property
    def identity(self) -> str:
        """Key of the source's row in the extractions snapshot."""
        return str(int(self.source_id))


@dataclass(frozen=True)
class LoadWatch:
    """The question "have these streams of the source loaded since ``after``?".

    :param source_name: the source's schema name (load rows carry it, not the id).
    :param streams: stream names to wait for.
    :param after: time on Stitch's clock the loads must be at or after (the extraction's completion time).
    :param errors_after: time on the monitor's clock from which a stream in error counts as failed (an
        error read before it may be a previous run's); None counts every error.
    """

    source_name: str
    streams: tuple[str, ...]
    after: float | None = None
    errors_after: float | None = None

    @cached_property
    def identities(self) -> tuple[str, ...]:
        """Keys of the streams' rows in the loads snapshot (built once per watch: every look reads them)."""
        return tuple(load_identity(self.source_name, stream) for stream in self.streams)


@dataclass(frozen=True)
class ExtractionOutcome:
    """How a watched extraction ended."""

    source_id: int
    job_name: str | None
    succeeded: bool
    completion_time: float | None
    failed_phase: str | None = None
    message: str | None = None
    replaced: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Primitives only (for trigger events and XCom)."""
        return {
            "source_id": self.source_id,
            "job_name": self.job_name,
            "succeeded": self.succeeded,
            "completion_time": self.completion_time,
            "failed_phase": self.failed_phase,
            "message": self.message,
            "replaced": self.replaced,
        }


@dataclass(frozen=True)
class LoadOutcome:
    """How the watched loads ended."""

    source_name: str
    succeeded: bool
    loaded_at: dict[str, float] = field(default_factory=dict)
    failed_stream: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Primitives only (for trigger events and XCom)."""
        return {
            "source_name": self.source_name,
            "succeeded": self.succeeded,
            "loaded_at": dict(self.loaded_at),
            "failed_stream": self.failed_stream,
            "message": self.message,
        }


def load_identity(source_name: str | None, stream_name: str | None) -> str:
    """Key of one load row (a source name and a stream name)."""
    return json.dumps([source_name or "", stream_name or ""])


def extraction_failure(row: Any) -> tuple[str | None, str]:
    """The failing phase and a message for a finished extraction that did not succeed."""
    for phase in PHASES:
        status = getattr(row, f"{phase}_exit_status")
        if status not in (None, 0):
            description = getattr(row, f"{phase}_description") or "no description given"
            return phase, f"the {phase} phase exited with status {status}: {description}"
    for phase in PHASES:
        if getattr(row, f"{phase}_exit_status") is None:
            description = getattr(row, f"{phase}_description") or "no exit status"
            return phase, f"the job ended before its {phase} phase finished: {description}"
    return None, "the extraction did not succeed"


def _extraction_finished(row: Any) -> bool:
    """Finished: a completion time, and either every exit status or a failure/termination to explain the gap."""
    if row.completion_time is None:
        return False
    if row.is_finished:
        return True
    statuses = row.exit_statuses
    descriptions = [getattr(row, f"{phase}_description") for phase in PHASES]
    return any(s not in (None, 0) for s in statuses) or any(descriptions)


def _is_other_job_newer(row: Any, watch: ExtractionWatch) -> bool:
    """A finished row of another job than ours: was it created after ours (so it replaced ours)?"""
    newer = is_newer_job(row.job_name, watch.job_name)
    if newer is not None:
        return newer
    if watch.previous_known:
        return bool(row.job_name != watch.previous_job)
    if watch.after is not None:
        started = to_epoch(row.start_time)
        return started is not None and started >= (_second(watch.after) or 0.0)
    return False


def _is_after_previous(row: Any, watch: ExtractionWatch) -> bool:
    """Without a job name: is this row of a job other than (and newer than) the one listed before?"""
    if watch.previous_known:
        if watch.previous_job is not None and row.job_name == watch.previous_job:
            return False
        newer = is_newer_job(row.job_name, watch.previous_job)
        if newer is False:
            return False
    if watch.after is not None:
        completed = to_epoch(row.completion_time)
        return completed is not None and completed >= (_second(watch.after) or 0.0)
    return True


def decide_extraction(raw_row: dict[str, Any] | None, watch: ExtractionWatch) -> ExtractionOutcome | None:
    """Answer an :class:`ExtractionWatch` from the source's row in the extractions list (None = not yet).

    With a job name, the row must carry it, or be of a job created after it (a newer job that replaced
    ours before we saw it: the answer is taken from it). Which job is newer is read from the job names
    (Stitch's clock), else from the row listed before the start; never from the worker's clock.
    Without a job name, the row must be of another job than the one listed before the start.
    """
    if raw_row is None:
        return None
    from airflow_provider_stitch.api.models import Extraction

    row = Extraction.model_validate(raw_row)
    replaced = False
    if watch.job_name is not None and row.job_name != watch.job_name:
        if not _is_other_job_newer(row, watch):
            return None
        replaced = True
    elif watch.job_name is None and not _is_after_previous(row, watch):
        return None
    if not _extraction_finished(row):
        return None
    if replaced:
        logger.warning(
            "source %s: job %s was replaced by %s before it was seen finished; deciding from the newer job",
            watch.source_id,
            watch.job_name,
            row.job_name,
        )
    phase, message = (None, None) if row.succeeded else extraction_failure(row)
    return ExtractionOutcome(
        source_id=int(watch.source_id),
        job_name=row.job_name,
        succeeded=row.succeeded,
        completion_time=to_epoch(row.completion_time),
        failed_phase=phase,
        message=message,
        replaced=replaced,
    )


def load_error_message(error_state: Any) -> str:
    """The warehouse's message from a load's ``error_state`` (its shape is not stable, so look around)."""
    if isinstance(error_state, dict):
        data = error_state.get("notification_data")
        if isinstance(data, dict):
            for key in ("warehouse_message", "exception_message", "message", "error"):
                if data.get(key):
                    return str(data[key])
        for key in ("message", "error"):
            if error_state.get(key):
                return str(error_state[key])
    return "the load failed (Stitch gave no message)"


def decide_loads(
    rows: dict[str, dict[str, Any] | None], watch: LoadWatch, checked_at: dict[str, float]
) -> LoadOutcome | None:
    """Answer a :class:`LoadWatch` from the rows of its streams (None = not yet).

    A stream in ``error_state`` fails the wait, but only when that row was read (monitor clock) at or
    after ``errors_after`` (an error read before the extraction completed may be a previous run's).
    """
    after = _second(watch.after)
    loaded: dict[str, float] = {}
    for stream, identity in zip(watch.streams, watch.identities, strict=True):
        raw = rows.get(identity)
        if raw is None:
            return None
        if raw.get("error_state"):
            read_at = checked_at.get(identity)
            if watch.errors_after is None or (read_at is not None and read_at >= watch.errors_after):
                return LoadOutcome(
                    source_name=watch.source_name,
                    succeeded=False,
                    loaded_at=loaded,
                    failed_stream=stream,
                    message=f"loading stream {stream!r} failed: {load_error_message(raw['error_state'])}",
                )
            return None
        loaded_at = to_epoch(raw.get("last_batch_loaded_at"))
        if loaded_at is None or (after is not None and loaded_at < after):
            return None
        loaded[stream] = loaded_at
    return LoadOutcome(source_name=watch.source_name, succeeded=True, loaded_at=loaded)


class UnknownStreamError(ValueError):
    """Stream names that match no stream of the source (or several), every one listed.

    :param problems: one sentence per name.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def stream_names_of(requested: Iterable[str], streams: Iterable[Any]) -> tuple[str, ...]:
    """The load-row names (``stream_name``) of the requested streams.

    A stream may be named by its ``stream_name``, its ``tap_stream_id`` (what the stream selection operator
    returns, e.g. ``shop-public-orders``) or a dash-joined tail of it (``public-orders``), the same rule as
    stream selection.

    :param requested: names as the user wrote them.
    :param streams: the source's streams (``tap_stream_id`` and ``stream_name``).
    :raises UnknownStreamError: naming every stream that matches none, or several with different names.
    """
    from airflow_provider_stitch.api.stream_selection import (
        DiscoveredStream,
        StreamRequest,
        StreamSelectionError,
        resolve_names,
    )

    listed = [s for s in streams if s.stream_name]
    by_tap_id = {str(s.tap_stream_id or s.stream_name): str(s.stream_name) for s in listed}
    discovered = [
        DiscoveredStream(stream_id=number, tap_stream_id=tap_id, stream_name=name)
        for number, (tap_id, name) in enumerate(by_tap_id.items())
    ]
    names: list[str] = []
    problems: list[str] = []
    for name in requested:
        if name in by_tap_id.values():
            names.append(name)
            continue
        try:
            (tap_stream_id,) = resolve_names({name: StreamRequest()}, discovered)
        except StreamSelectionError as error:
            problems.extend(error.problems)
            continue
        names.append(by_tap_id[tap_stream_id])
    if problems:
        raise UnknownStreamError(problems)
    return tuple(dict.fromkeys(names))


def selected_stream_names(streams: Iterable[Any]) -> tuple[str, ...]:
    """Names of the selected streams; every stream when the source selects none (types without selection)."""
    listed = [s for s in streams if s.stream_name]
    chosen = [s.stream_name for s in listed if s.selected] or [s.stream_name for s in listed]
    return tuple(dict.fromkeys(chosen))
