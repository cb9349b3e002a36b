"""The drill checks: each follows the task tries a drill hit to their end (Airflow's database) and reads the
rest from Stitch's side (the emulator's jobs and request log), so no check takes the provider's word."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .drills import TaskTry
from .measure import STITCH_JOBS_LIMIT

#: Seconds the measured clock offset of the skewed worker may differ from the one asked for.
CLOCK_TOLERANCE_SECONDS = 5.0


@dataclass(frozen=True)
class Check:
    """One drill's verdict.

    :param name: the drill.
    :param passed: whether everything it asks held.
    :param detail: what was seen, in words.
    """

    name: str
    passed: bool
    detail: str


#: Each task instance's final (state, try_number), by (task_id, map_index).
FinalTries = Mapping[tuple[str, int], tuple[str, int]]


def _named(tries: Sequence[TaskTry]) -> str:
    return ", ".join(f"{task}[{index}]" for task, index, _ in tries)


def _retried(tries: Sequence[TaskTry], final: FinalTries) -> tuple[list[TaskTry], list[TaskTry]]:
    """The tries that were tried again and then succeeded, and the rest."""
    good: list[TaskTry] = []
    bad: list[TaskTry] = []
    for task, index, number in tries:
        state, last = final.get((task, index), ("missing", number))
        (good if state == "success" and last > number else bad).append((task, index, number))
    return good, bad


def _finished_in_place(tries: Sequence[TaskTry], final: FinalTries) -> tuple[list[TaskTry], list[TaskTry]]:
    """The tries that succeeded without another try, and the rest."""
    good: list[TaskTry] = []
    bad: list[TaskTry] = []
    for task, index, number in tries:
        state, last = final.get((task, index), ("missing", number))
        (good if state == "success" and last == number else bad).append((task, index, number))
    return good, bad


def _extra_syncs(jobs_per_source: Mapping[int, int]) -> str:
    extra = [f"{source} ({count} jobs)" for source, count in sorted(jobs_per_source.items()) if count != 1]
    return "one sync per source" if not extra else "not one sync per source: " + ", ".join(extra)


def worker_kill(
    killed: Sequence[TaskTry],
    final: FinalTries,
    jobs_per_source: Mapping[int, int],
    host: str,
    *,
    after_sync_started: int = 0,
    retried_after_sync_ended: int = 0,
) -> Check:
    """Every task killed with the worker was retried and succeeded, and every source has exactly one sync job.

    :param killed: the tries running on the worker when it died.
    :param final: the run's task instances at its end.
    :param jobs_per_source: sync jobs Stitch holds per source for the run.
    :param host: the killed worker's name.
    :param after_sync_started: how many of the killed start tasks had started their sync (their retries must
        go on with it).
    :param retried_after_sync_ended: how many of those were retried only after that sync had ended.
    """
    retried, other = _retried(killed, final)
    one_sync = all(count == 1 for count in jobs_per_source.values())
    detail = (
        f"{len(killed)} task(s) killed on {host} ({after_sync_started} after starting their sync, "
        f"{retried_after_sync_ended} of those retried after it had ended), {len(retried)} retried and succeeded"
    )
    if other:
        detail += f" (not: {_named(other)})"
    return Check(
        "worker killed mid-task",
        bool(killed) and not other and one_sync,
        f"{detail}; {_extra_syncs(jobs_per_source)}",
    )


def triggerer_kill(
    took_over: bool, takeover: str | None, waits: Sequence[TaskTry], final: FinalTries
) -> Check:
    """The surviving triggerer took every trigger over, and every wait of the killed one finished in the same
    try (taken over, not failed and retried).

    :param took_over: every trigger ran on the surviving triggerer afterwards.
    :param takeover: what the drill saw, in words.
    :param waits: the tries deferred to the killed triggerer's triggers when it died.
    :param final: the run's task instances at its end.
    """
    done, other = _finished_in_place(waits, final)
    detail = f"{takeover or 'the run ended before the drill'}; {len(done)} of its {len(waits)} waits finished in the same try"
    if other:
        detail += f" (not: {_named(other)})"
    return Check("triggerer killed", took_over and bool(waits) and not other, detail)


def redis_restart(
    *,
    unpaid: Sequence[str],
    in_flight: int,
    after: int,
    busiest: int,
    waits: Sequence[TaskTry],
    final: FinalTries,
    pids_before: Mapping[str, int],
    pids_after: Mapping[str, int],
) -> Check:
    """While the budget's Redis was down no Jobs request reached Stitch (it fails closed), none went beyond
    the limit, requests resumed after it, every wait deferred at the stop finished in the same try, and no
    Airflow component was restarted.

    :param unpaid: Jobs requests Stitch logged while Redis was down (after the in-flight allowance), each
        described in words.
    :param in_flight: Jobs requests logged just after the stop (paid before it).
    :param after: Jobs requests after Redis came back.
    :param busiest: the run's busiest Jobs window (recounted from the emulator's log).
    :param waits: the tries deferred when Redis stopped.
    :param final: the run's task instances at its end.
    :param pids_before: component PIDs when Redis stopped.
    :param pids_after: component PIDs at the end of the run.
    """
    done, other = _finished_in_place(waits, final)
    restarted = sorted(name for name, pid in pids_before.items() if pids_after.get(name) != pid)
    detail = (
        f"{len(unpaid)} Jobs requests while it was down ({in_flight} more just after the stop, paid before it), "
        f"{after} after it came back, busiest window {busiest} of {STITCH_JOBS_LIMIT}; {len(done)} of the "
        f"{len(waits)} waits deferred at the stop finished in the same try"
    )
    if other:
        detail += f" (not: {_named(other)})"
    if unpaid:
        detail += "; sent while down: " + ", ".join(unpaid[:5]) + (" ..." if len(unpaid) > 5 else "")
    if restarted:
        detail += "; restarted or gone: " + ", ".join(restarted)
    else:
        detail += "; no Airflow component restarted"
    passed = (
        not unpaid
        and after > 0
        and busiest <= STITCH_JOBS_LIMIT
        and bool(waits)
        and not other
        and not restarted
    )
    return Check("budget Redis restarted", passed, detail)


def skewed_clock(
    *, wanted: float, measured: float | None, tasks_on_host: int, busiest: int, host: str
) -> Check:
    """The worker's clock really was off (measured from a child with its environment), it ran tasks, and the
    busiest Jobs window stayed within the limit.

    :param wanted: the offset asked for, in seconds.
    :param measured: the offset measured, in seconds (None: not measured).
    :param tasks_on_host: task tries seen running on that worker during the run.
    :param busiest: the run's busiest Jobs window.
    :param host: the skewed worker's name.
    """
    offset_ok = measured is not None and abs(measured - wanted) <= CLOCK_TOLERANCE_SECONDS
    shown = "not measured" if measured is None else f"{measured:+.1f} s"
    return Check(
        f"worker clock {wanted / 60:+.0f} min",
        offset_ok and tasks_on_host > 0 and busiest <= STITCH_JOBS_LIMIT,
        f"{host}'s clock measured {shown} off (asked {wanted:+.0f} s), {tasks_on_host} task(s) ran on it; "
        f"busiest Jobs window {busiest} of {STITCH_JOBS_LIMIT}",
    )
