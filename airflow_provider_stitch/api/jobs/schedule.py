"""The fair page schedule of the Jobs lists: which page is read next, and when each pending page comes round.

A page is pending while a watched row may be on it. Each turn reads one page: the pending page read longest
ago (never-read pages first). With P pending pages and one turn every ``interval`` seconds, every pending page
is read at least once every P × ``interval`` seconds, and no page is read twice in a row while another
pending page waits.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from airflow_provider_stitch.api.jobs.snapshots import KINDS, ListSnapshot

#: The order kinds are served in when their pages were read equally long ago.
KIND_ORDER = tuple(KINDS)


@dataclass(frozen=True)
class PageTurn:
    """One pending page in the schedule.

    :param kind: the list (extractions or loads).
    :param page: page number.
    :param read_at: when it was last read (minus infinity: never).
    :param waiting: watched rows that may be on it.
    """

    kind: str
    page: int
    read_at: float
    waiting: int

    @property
    def key(self) -> tuple[float, int, int]:
        """Sort key: longest unread first, then extractions before loads, then by page number."""
        return (self.read_at, KIND_ORDER.index(self.kind), self.page)


def pending_pages(kind: str, snapshot: ListSnapshot, watched: Iterable[str]) -> dict[int, int]:
    """Page -> number of watched rows that may be on it.

    :param kind: the list.
    :param snapshot: what is known of it.
    :param watched: rows someone waits on.
    """
    spec = KINDS[kind]
    counts: dict[int, int] = {}
    for identity in watched:
        for page in snapshot.candidate_pages(spec, identity):
            counts[page] = counts.get(page, 0) + 1
    return counts


@dataclass(frozen=True)
class Plan:
    """The pending pages of every list, in the order their turns come.

    :param turns: pending pages, the next to read first.
    """

    turns: tuple[PageTurn, ...] = ()
    _ranks: dict[tuple[str, int], int] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, snapshots: Mapping[str, ListSnapshot], watched: Mapping[str, Iterable[str]]) -> Plan:
        """Plan the turns for the rows watched in each list.

        :param snapshots: what is known of each list.
        :param watched: rows waited on, per list.
        """
        turns = [
            PageTurn(kind, page, snapshots[kind].read_at(page), waiting)
            for kind in KIND_ORDER
            for page, waiting in pending_pages(kind, snapshots[kind], watched.get(kind, ())).items()
        ]
        turns.sort(key=lambda turn: turn.key)
        ranks = {(turn.kind, turn.page): index for index, turn in enumerate(turns)}
        return cls(tuple(turns), ranks)

    @property
    def next(self) -> PageTurn | None:
        """The page the next turn reads (None: nothing is pending)."""
        return self.turns[0] if self.turns else None

    def rank_of(self, kind: str, pages: Iterable[int], snapshot: ListSnapshot) -> int:
        """Turns that come before the first of ``pages`` (a page not in the plan takes its place by age).

        :param kind: the list the pages belong to.
        :param pages: pages that may hold a watched row.
        :param snapshot: what is known of the list.
        """
        best = math.inf
        keys = [turn.key for turn in self.turns]
        for page in pages:
            rank = self._ranks.get((kind, page))
            if rank is None:
                key = (snapshot.read_at(page), KIND_ORDER.index(kind), page)
                rank = bisect.bisect_left(keys, key)
            best = min(best, rank)
        return 0 if best is math.inf else int(best)


@dataclass(frozen=True)
class Forecast:
    """When a wait's rows are next expected to be read, and the figures behind the estimate.

    :param at: expected time of the read (monitor clock).
    :param rank: turns before it.
    :param pending_pages: pages in the schedule (P).
    :param interval: seconds between two turns (what the budget sustains).
    """

    at: float
    rank: int
    pending_pages: int
    interval: float

    @property
    def cycle(self) -> float:
        """Seconds until every pending page has had its turn: P × ``interval``."""
        return max(1, self.pending_pages) * self.interval
