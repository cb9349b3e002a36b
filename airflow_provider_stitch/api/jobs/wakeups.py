"""Waiters of one event loop parked on Jobs pages, woken a bounded slice per loop iteration.

Thousands of deferred waits may sit on one page (before the first read, every watched row's page is page
1), and they sleep until the same next turn. Waking them all in one loop iteration, when the page is read
or when their sleeps end together, runs every one of their checks back to back and stalls the triggerer's
loop for every other trigger. Every wake-up of a parked waiter, whatever its cause, goes through one queue
per loop that wakes :data:`WAKE_SLICE` waiters per iteration, so the loop serves everything else between.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable

#: Waiters woken per event-loop iteration.
WAKE_SLICE = 100


def wake(future: asyncio.Future[None]) -> None:
    """Set a waiter's future (nothing when it is already done or cancelled).

    :param future: the waiter's future.
    """
    if not future.done():
        future.set_result(None)


class PageWaiters:
    """The parked waiters of one event loop, by page; every call comes from that loop's thread.

    :param loop: the event loop the waiters run in.
    :param slice_size: waiters woken per loop iteration.
    """

    __slots__ = ("_draining", "_loop", "_parked", "_ready", "slice_size")

    def __init__(self, loop: asyncio.AbstractEventLoop, slice_size: int = WAKE_SLICE) -> None:
        if slice_size < 1:
            raise ValueError("a wake-up slice holds at least one waiter")
        self._loop = loop
        self.slice_size = slice_size
        #: page -> waiter's future -> when that waiter wakes anyway (monitor clock).
        self._parked: dict[Hashable, dict[asyncio.Future[None], float]] = {}
        #: waiters due to wake, woken a slice per loop iteration.
        self._ready: deque[asyncio.Future[None]] = deque()
        self._draining = False

    def park(self, page: Hashable, future: asyncio.Future[None], wake_at: float) -> None:
        """Park a waiter on a page until the page is read or it wakes at ``wake_at`` by itself.

        :param page: the page (any hashable, e.g. ``(kind, number)``).
        :param future: set when the page is read.
        :param wake_at: when the waiter wakes anyway.
        """
        self._parked.setdefault(page, {})[future] = wake_at

    def unpark(self, page: Hashable, future: asyncio.Future[None]) -> None:
        """Take a waiter off a page (it woke, or gave up)."""
        parked = self._parked.get(page)
        if parked is None:
            return
        parked.pop(future, None)
        if not parked:
            del self._parked[page]

    def parked(self, page: Hashable) -> int:
        """How many waiters are parked on a page."""
        return len(self._parked.get(page, ()))

    def earliest_wake(self, page: Hashable) -> float | None:
        """The earliest time a waiter parked on the page wakes by itself (None: nobody is parked)."""
        parked = self._parked.get(page)
        return min(parked.values()) if parked else None

    def wake_page(self, page: Hashable) -> int:
        """Wake the waiters of a page that was read (through the queue: a slice per loop iteration).

        :param page: the page that was read.
        :returns: how many waiters are being woken.
        """
        parked = self._parked.pop(page, None)
        if not parked:
            return 0
        self._ready.extend(parked)
        if not self._draining:
            self._drain()  # the first slice now; a drain already under way takes them in turn
        return len(parked)

    def wake_soon(self, future: asyncio.Future[None]) -> None:
        """Queue one waiter whose own sleep ended (a timer's callback); it wakes in its slice.

        :param future: the waiter's future.
        """
        self._ready.append(future)
        if not self._draining:
            self._draining = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        """Wake the next slice of queued waiters; the rest wait for the next loop iteration."""
        ready = self._ready
        for _ in range(min(self.slice_size, len(ready))):
            wake(ready.popleft())
        self._draining = bool(ready)
        if ready:
            self._loop.call_soon(self._drain)


__all__ = ["WAKE_SLICE", "PageWaiters", "wake"]
