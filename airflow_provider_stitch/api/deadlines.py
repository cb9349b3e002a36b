"""Task deadlines that bound every request in flight, for threads and asyncio tasks alike.

A task (an operator's wait, a sensor's poke, a trigger) wraps its work in ``with stitch_deadline(T):``;
every request the clients send inside it gets at most the time left, retries and budget waits stop when
they would pass it, and a request started after it raises :class:`StitchDeadlineExceeded`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from airflow_provider_stitch.api.errors import StitchDeadlineExceeded


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock, and how long the deadline was when set.

    :param at: ``time.monotonic()`` value at which it passes.
    :param seconds: its length, for messages.
    """

    at: float
    seconds: float

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()


#: Seconds a best-effort clean-up (stopping the sync) may take once a task's deadline has passed.
STOP_AFTER_DEADLINE_SECONDS = 10.0

_CURRENT: ContextVar[Deadline | None] = ContextVar("stitch_deadline", default=None)


@contextmanager
def stitch_deadline(seconds: float | None) -> Iterator[Deadline | None]:
    """Bound every Stitch request made inside the block by ``seconds`` from now (None: no bound).

    An enclosing, earlier deadline stays in force.

    :param seconds: the time the block may take.
    """
    if seconds is None:
        yield _CURRENT.get()
        return
    mine = Deadline(time.monotonic() + max(float(seconds), 0.0), float(seconds))
    outer = _CURRENT.get()
    chosen = outer if outer is not None and outer.at <= mine.at else mine
    token = _CURRENT.set(chosen)
    try:
        yield chosen
    finally:
        _CURRENT.reset(token)


def current_deadline() -> Deadline | None:
    """The deadline in force here, if any."""
    return _CURRENT.get()


def time_limit(timeout: float, what: str) -> float:
    """Seconds one request may take: its own timeout, or less when the task deadline is nearer.

    :param timeout: the request's own total timeout.
    :param what: the request, for the error message.
    :raises StitchDeadlineExceeded: when the task deadline has already passed.
    """
    deadline = _CURRENT.get()
    if deadline is None:
        return timeout
    left = deadline.left()
    if left <= 0:
        raise StitchDeadlineExceeded(what, deadline.seconds)
    return min(timeout, left)


def deadline_passed_error(what: str, error: BaseException) -> StitchDeadlineExceeded | None:
    """The error to raise instead of ``error`` when the task deadline has passed, else None.

    :param what: the request, for the message.
    :param error: how its last attempt ended.
    """
    deadline = _CURRENT.get()
    if deadline is None or deadline.left() > 0 or isinstance(error, StitchDeadlineExceeded):
        return None
    last = str(error).removeprefix(f"{what}: ")
    return StitchDeadlineExceeded(what, deadline.seconds, last)


def wait_limit(wanted: float) -> float:
    """Seconds a wait (a budget token, a retry pause) may last before the task deadline.

    :param wanted: how long the caller would wait without a deadline.
    """
    deadline = _CURRENT.get()
    return wanted if deadline is None else max(0.0, min(wanted, deadline.left()))


def would_pass_deadline(pause: float) -> bool:
    """True when sleeping ``pause`` seconds and trying again would pass the task deadline.

    :param pause: the pause before the next attempt.
    """
    deadline = _CURRENT.get()
    return deadline is not None and deadline.left() <= pause


__all__ = [
    "Deadline",
    "current_deadline",
    "deadline_passed_error",
    "stitch_deadline",
    "time_limit",
    "wait_limit",
    "would_pass_deadline",
]
