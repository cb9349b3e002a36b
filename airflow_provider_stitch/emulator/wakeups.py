"""When each source next needs settling: a time-ordered queue, so a request settles only what is due.

A source is due when its connection check ends, its job ends or its next scheduled run fires. The
queue keeps one live entry per source (the one whose time equals ``SourceRecord.due_at``); entries left
behind by a later re-entry are skipped when they come up.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass
class WakeupQueue:
    """Source ids ordered by the emulator time at which each needs settling."""

    _heap: list[tuple[float, int]] = field(default_factory=list)

    def push(self, due: float, source_id: int) -> None:
        """Wake ``source_id`` at ``due`` (emulator epoch seconds)."""
        heapq.heappush(self._heap, (due, source_id))

    def pop_due(self, now: float) -> list[tuple[float, int]]:
        """Remove and return every entry due at or before ``now``, earliest first."""
        due: list[tuple[float, int]] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap))
        return due

    def __len__(self) -> int:
        return len(self._heap)
