"""Shared snapshots of the Jobs lists and the page walks that refresh them."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_stitch.api.errors import (
    StitchRateBudgetExhausted,
    StitchServerError,
    StitchTransportError,
)

if TYPE_CHECKING:
    from airflow_provider_stitch.api.aclient import AsyncStitchClient
    from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.jobs.decisions import EXTRACTIONS, LOADS, load_identity

logger = logging.getLogger("airflow_provider_stitch.monitor")

#: Failures that end a refresh early and leave the page to the next one.
RETRY_LATER = (StitchRateBudgetExhausted, StitchServerError, StitchTransportError)
#: Pages one refresh reads at most (a guard against a list that never ends).
MAX_PAGES = 1000

# ---------------------------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class _ListKind:
    """How one Jobs list is keyed and ordered."""

    name: str
    endpoint: str
    identity: Callable[[dict[str, Any]], str]
    order: Callable[[dict[str, Any]], Any]
    order_of_identity: Callable[[str], Any]


def _extraction_order(identity: str) -> int:
    return int(identity)


def _load_order(identity: str) -> str:
    return str(json.loads(identity)[1])


KINDS = {
    EXTRACTIONS: _ListKind(
        name=EXTRACTIONS,
        endpoint="list_extractions",
        identity=lambda row: str(int(row.get("source_id") or 0)),
        order=lambda row: int(row.get("source_id") or 0),
        order_of_identity=_extraction_order,
    ),
    LOADS: _ListKind(
        name=LOADS,
        endpoint="list_loads",
        identity=lambda row: load_identity(row.get("source_name"), row.get("stream_name")),
        order=lambda row: str(row.get("stream_name") or ""),
        order_of_identity=_load_order,
    ),
}


@dataclass
class ListSnapshot:
    """What is known of one Jobs list: rows by identity, when each was read, and on which page."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    checked: dict[str, float] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)
    fetched_at: float = 0.0
    pages_per_refresh: int = 1

    def to_json(self) -> str:
        """Serialise for the shared backend."""
        return json.dumps(
            {
                "rows": self.rows,
                "checked": self.checked,
                "pages": self.pages,
                "fetched_at": self.fetched_at,
                "pages_per_refresh": self.pages_per_refresh,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ListSnapshot:
        """Read a serialised snapshot (a broken one reads as empty)."""
        try:
            data = json.loads(text)
            return cls(
                rows=dict(data.get("rows") or {}),
                checked={k: float(v) for k, v in (data.get("checked") or {}).items()},
                pages={k: int(v) for k, v in (data.get("pages") or {}).items()},
                fetched_at=float(data.get("fetched_at") or 0.0),
                pages_per_refresh=max(1, int(data.get("pages_per_refresh") or 1)),
            )
        except (ValueError, TypeError, AttributeError):
            return cls()

    def merge(self, other: ListSnapshot) -> None:
        """Take every entry ``other`` read more recently than this one."""
        for identity, when in other.checked.items():
            if when > self.checked.get(identity, -math.inf):
                self.checked[identity] = when
                if identity in other.rows:
                    self.rows[identity] = other.rows[identity]
                else:
                    self.rows.pop(identity, None)
                if identity in other.pages:
                    self.pages[identity] = other.pages[identity]
        if other.fetched_at > self.fetched_at:
            self.fetched_at = other.fetched_at
            self.pages_per_refresh = other.pages_per_refresh


class PageWalk:
    """One refresh of a sorted Jobs list that reads only the pages the watched rows can be on.

    Starts on the earliest page a watched row was last seen (or found missing) on, page 1 while any
    watched row has no such page; stops once every watched row was found
    or confirmed absent, or a page passes the largest watched key. If the start page begins after a
    watched key (rows shifted back), the walk starts over from page 1.
    """

    def __init__(self, kind: _ListKind, snapshot: ListSnapshot, watched: Iterable[str], now: float) -> None:
        self.kind = kind
        self.snapshot = snapshot
        self.watched = set(watched)
        self.now = now
        self.remaining = set(self.watched)
        hints = [snapshot.pages.get(identity, 1) for identity in self.watched]
        self.start = min(hints) if hints else 1
        self.max_order = max((kind.order_of_identity(i) for i in self.watched), default=None)
        self.pages_read = 0
        self._previous_last: Any = None
        self._restarted = self.start == 1

    def absorb(self, page: int, rows: list[dict[str, Any]], has_next: bool) -> int | None:
        """Record one page; return the next page to read, or None when done."""
        self.pages_read += 1
        orders = [self.kind.order(row) for row in rows]
        for row in rows:
            identity = self.kind.identity(row)
            self.snapshot.rows[identity] = row
            self.snapshot.checked[identity] = self.now
            self.snapshot.pages[identity] = page
            self.remaining.discard(identity)
        if page == 1 or self._previous_last is not None:
            lower = self._previous_last
        else:
            lower = orders[0] if orders else None
        upper = orders[-1] if orders else None
        for identity in list(self.remaining):
            order = self.kind.order_of_identity(identity)
            above = (page == 1 and self._previous_last is None) or (lower is not None and order > lower)
            below = not has_next or (upper is not None and order < upper)
            if above and below:
                self.snapshot.rows.pop(identity, None)
                self.snapshot.checked[identity] = self.now
                self.snapshot.pages[identity] = page
                self.remaining.discard(identity)
        if not self._restarted and page == self.start and orders:
            self._restarted = True
            if any(self.kind.order_of_identity(i) < orders[0] for i in self.remaining):
                self._previous_last = None
                return 1
        if orders:
            self._previous_last = orders[-1]
        if not has_next or not rows or not self.remaining or self.pages_read >= MAX_PAGES:
            return None
        if self.max_order is not None and orders[-1] > self.max_order:
            return None
        return page + 1

    def finish(self) -> None:
        """Stamp the snapshot with this refresh."""
        self.snapshot.fetched_at = self.now
        self.snapshot.pages_per_refresh = max(1, self.pages_read)


# ---------------------------------------------------------------------------------------------- reading pages


def _read_page(payload: Any, page: int) -> tuple[list[dict[str, Any]], bool]:
    from airflow_provider_stitch.api.base import parse_page

    envelope = parse_page(payload)
    rows = [row for row in envelope.data if isinstance(row, dict)]
    has_next = envelope.next_path is not None
    if not has_next and envelope.total is not None and rows:
        has_next = page * 100 < int(envelope.total)
    return rows, has_next


def fetch_page_sync(client: StitchClient, kind: _ListKind, page: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of a Jobs list through the sync client (pays one budget token)."""
    return _read_page(client.get_jobs_page(kind.endpoint, page), page)


async def fetch_page_async(
    client: AsyncStitchClient, kind: _ListKind, page: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of a Jobs list through the async client (pays one budget token)."""
    return _read_page(await client.get_jobs_page(kind.endpoint, page), page)


def skip_page_or_raise(kind: str, page: int, problem: Exception) -> None:
    """Log a page that a later refresh may read (server trouble, transport, 429, empty budget); raise others."""
    if not isinstance(problem, RETRY_LATER) and getattr(problem, "status", None) != 429:
        raise problem
    _log_skipped_page(kind, page, problem)


def _log_skipped_page(kind: str, page: int, problem: Exception) -> None:
    """A page that could not be read now ends the refresh; the next one tries again."""
    logger.info(
        "reading page %d of %s stopped early (%s); the next refresh will try again", page, kind, problem
    )
