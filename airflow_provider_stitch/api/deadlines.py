"""Task deadlines that bound every request in flight, for threads and asyncio tasks alike.

A task (an operator's wait, a sensor's poke, a trigger) wraps its work in ``with stitch_deadline(T):``;
every request the clients send inside it gets at most the time left, retries and budget waits stop when
they would pass it, and a request started after it raises :class:`StitchDeadlineExceeded`.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
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


class DeadlineBlock:
    """The block of a :func:`stitch_deadline`: sets the deadline on entry and restores the one before on exit.

    A small object rather than a generator-based context manager: a deferred wait holds it for its whole
    life, and thousands of waits at once are objects every full garbage collection walks. One block is
    entered once at a time; entering it again after its exit sets a fresh deadline from then.

    :param seconds: the time the block may take (None: no bound of its own).
    """

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._token: Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline | None:
        if self._token is not None:
            raise RuntimeError("this stitch_deadline block is already in force; make a new one to nest")
        if self._seconds is not None:
            self._token = enter_deadline(self._seconds)
        return _CURRENT.get()

    def __exit__(self, *exc_info: object) -> None:
        token, self._token = self._token, None
        if token is not None:
            leave_deadline(token)


def enter_deadline(seconds: float) -> Token[Deadline | None]:
    """Set a deadline ``seconds`` from now until :func:`leave_deadline` (an enclosing, earlier one stays).

    What a ``with stitch_deadline(...)`` block does on entry, for a coroutine that holds the deadline for
    its whole life and keeps only the token (no context manager and bound ``__exit__`` beside it).

    :param seconds: the time left.
    :returns: the token to give :func:`leave_deadline`.
    """
    seconds = float(seconds)
    mine = Deadline(time.monotonic() + max(seconds, 0.0), seconds)
    outer = _CURRENT.get()
    return _CURRENT.set(outer if outer is not None and outer.at <= mine.at else mine)


def leave_deadline(token: Token[Deadline | None]) -> None:
    """Restore the deadline in force before :func:`enter_deadline` gave ``token``.

    :param token: what :func:`enter_deadline` returned (in this context).
    """
    _CURRENT.reset(token)


def stitch_deadline(seconds: float | None) -> DeadlineBlock:
    """Bound every Stitch request made inside the block by ``seconds`` from now (None: no bound).

    An enclosing, earlier deadline stays in force; ``with stitch_deadline(T) as deadline`` gives the one in
    force inside the block (None when there is none).

    :param seconds: the time the block may take.
    """
    return DeadlineBlock(seconds)


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
    "DeadlineBlock",
    "current_deadline",
    "deadline_passed_error",
    "enter_deadline",
    "leave_deadline",
    "stitch_deadline",
    "time_limit",
    "wait_limit",
    "would_pass_deadline",
]
