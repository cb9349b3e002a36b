"""Decisions about Stitch jobs: pure functions from Jobs rows to "finished, and how"."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

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


@dataclass(frozen=True)
class ExtractionWatch:
    """The question "has this source's extraction finished?".

    :param source_id: the source.
    :param job_name: the job started for it; None to take the first extraction completing after ``after``.
    :param after: epoch seconds when the job was started (or attached to).
    """

    source_id: int
    job_name: str | None = None
    after: float | None = None

    @property
    def identity(self) -> str:
        """Key of the source's row in the extractions snapshot."""
        return str(int(self.source_id))


@dataclass(frozen=True)
class LoadWatch:
    """The question "have these streams of the source loaded since ``after``?".

    :param source_name: the source's schema name (load rows carry it, not the id).
    :param streams: stream names to wait for.
    :param after: epoch seconds the loads must be at or after (usually the extraction's completion).
    """

    source_name: str
    streams: tuple[str, ...]
    after: float | None = None

    @property
    def identities(self) -> tuple[str, ...]:
        """Keys of the streams' rows in the loads snapshot."""
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


def decide_extraction(raw_row: dict[str, Any] | None, watch: ExtractionWatch) -> ExtractionOutcome | None:
    """Answer an :class:`ExtractionWatch` from the source's row in the extractions list (None = not yet).

    With a job name, the row must carry it, or be of a job started at or after ``after`` (a newer job that
    replaced ours before we saw it: the answer is taken from it). Without one, the row must have completed
    at or after ``after``.
    """
    if raw_row is None:
        return None
    from airflow_provider_stitch.api.models import Extraction

    row = Extraction.model_validate(raw_row)
    after = _second(watch.after)
    replaced = False
    if watch.job_name is not None and row.job_name != watch.job_name:
        started = to_epoch(row.start_time)
        if after is None or started is None or started < after:
            return None
        replaced = True
    elif watch.job_name is None and after is not None:
        completed = to_epoch(row.completion_time)
        if completed is None or completed < after:
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

    A stream in ``error_state`` fails the wait, but only when that row was read at or after ``after`` (an
    error read before the extraction completed may be a previous run's).
    """
    after = _second(watch.after)
    loaded: dict[str, float] = {}
    for stream, identity in zip(watch.streams, watch.identities, strict=True):
        raw = rows.get(identity)
        if raw is None:
            return None
        if raw.get("error_state"):
            read_at = checked_at.get(identity)
            if after is None or (read_at is not None and read_at >= after):
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


def stream_names_of(requested: Iterable[str], streams: Iterable[Any]) -> tuple[str, ...]:
    """The load-row names of the requested streams: a ``tap_stream_id`` (what the stream selection operator
    returns, e.g. ``shop-public-orders``) becomes its stream's ``stream_name``; other names pass unchanged."""
    by_tap_id = {s.tap_stream_id: s.stream_name for s in streams if s.tap_stream_id and s.stream_name}
    return tuple(dict.fromkeys(by_tap_id.get(name, name) for name in requested))


def selected_stream_names(streams: Iterable[Any]) -> tuple[str, ...]:
    """Names of the selected streams; every stream when the source selects none (types without selection)."""
    listed = [s for s in streams if s.stream_name]
    chosen = [s.stream_name for s in listed if s.selected] or [s.stream_name for s in listed]
    return tuple(dict.fromkeys(chosen))
