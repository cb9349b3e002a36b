"""Connection slots of the shared HTTP client: one FIFO queue per lane, per event loop.

Thousands of triggers in one loop start their non-Jobs reads together. Queued inside httpx's pool, a request
spends its time limit waiting for a connection (and httpx scans its whole queue at every change, so the
queue costs CPU quadratic in its length). Here a request first waits for a slot of its lane, bounded only by
the task's deadline (:mod:`.deadlines`); its own time limit starts once it holds one. The lanes together
hold fewer slots than the pool has connections, so no request waits inside httpx.

Jobs requests (few, each paid from the budget at its turn) have a lane of their own, so a crowd of
non-Jobs reads never holds them back. The non-Jobs lane is kept small: answers that complete together are
parsed one after the other on the loop, so a small lane bounds how long that can stall it; and httpx's pool
scans all its connections (some of them with a system call each) at every request, so fewer connections
cost less CPU. Measured with 1,000 load triggers starting against the emulator: 3-3.8 ms of CPU per
trigger with 4 or 8 slots, 5-5.4 ms with 16, 5.3-6.3 ms with 32 or 64, at the same wall time (the
emulator answers at its own pace).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from airflow_provider_stitch.api.deadlines import current_deadline
from airflow_provider_stitch.api.errors import StitchDeadlineExceeded

#: Jobs requests of one event loop in flight at once (they come one per budget turn; a few more for retries
#: and log URLs).
JOBS_SLOTS = 4
#: Other requests of one event loop in flight at once.
OTHER_SLOTS = 8


class Lane:
    """Up to ``size`` holders at once; the others wait in order of arrival.

    :param size: how many may hold a slot together.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a lane needs at least one slot")
        self.size = size
        self.busy = 0
        self._queue: deque[asyncio.Future[bool]] = deque()

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return sum(1 for future in self._queue if not future.done())

    def _prune(self) -> None:
        while self._queue and self._queue[0].done():
            self._queue.popleft()

    async def acquire(self, timeout: float | None) -> bool:
        """Take a slot, waiting in turn at most ``timeout`` seconds (None: as long as it takes).

        :returns: True when the slot is held (give it back with :meth:`release`), False when the time ran out.
        """
        self._prune()
        if self.busy < self.size and not self._queue:
            self.busy += 1
            return True
        if timeout is not None and timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[bool] = loop.create_future()
        self._queue.append(turn)
        timer = loop.call_later(timeout, _expire, turn) if timeout is not None else None
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled() and turn.result():
                self.release()  # handed over just as the waiter was cancelled
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self) -> None:
        """Give a slot back: to the longest waiter, else to the lane."""
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(True)
                return
        self.busy -= 1


def _expire(turn: asyncio.Future[bool]) -> None:
    if not turn.done():
        turn.set_result(False)


class Lanes:
    """The lanes of one event loop.

    :param jobs: slots for Jobs requests.
    :param other: slots for every other request.
    """

    def __init__(self, jobs: int = JOBS_SLOTS, other: int = OTHER_SLOTS) -> None:
        self.jobs = Lane(jobs)
        self.other = Lane(other)

    @property
    def size(self) -> int:
        """Slots of both lanes together."""
        return self.jobs.size + self.other.size

    @asynccontextmanager
    async def slot(self, *, jobs: bool, what: str) -> AsyncIterator[None]:
        """Hold a slot of the request's lane for the block; the wait ends with the task's deadline.

        :param jobs: whether the request is a Jobs request.
        :param what: the request (``GET /v4/...``), for the error.
        :raises StitchDeadlineExceeded: when the task's deadline passes before a slot is free.
        """
        lane = self.jobs if jobs else self.other
        deadline = current_deadline()
        if not await lane.acquire(None if deadline is None else deadline.left()):
            assert deadline is not None
            raise StitchDeadlineExceeded(what, deadline.seconds, "still waiting for a connection slot")
        try:
            yield
        finally:
            lane.release()


_LANES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Lanes] = weakref.WeakKeyDictionary()
_LANES_LOCK = threading.Lock()


def loop_lanes() -> Lanes:
    """The running event loop's lanes (made on first use)."""
    loop = asyncio.get_running_loop()
    lanes = _LANES.get(loop)
    if lanes is None:
        with _LANES_LOCK:
            lanes = _LANES.get(loop)
            if lanes is None:
                lanes = _LANES[loop] = Lanes()
    return lanes


__all__ = ["JOBS_SLOTS", "OTHER_SLOTS", "Lane", "Lanes", "loop_lanes"]
