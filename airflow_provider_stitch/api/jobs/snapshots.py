"""What is known of the Jobs lists, page by page, and how one page is read and shared."""

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
from airflow_provider_stitch.api.jobs.decisions import EXTRACTIONS, LOADS, load_identity

if TYPE_CHECKING:
    from airflow_provider_stitch.api.aclient import AsyncStitchClient
    from airflow_provider_stitch.api.client import StitchClient

logger = logging.getLogger("airflow_provider_stitch.monitor")

#: Failures that leave a page unread until a later turn (the schedule keeps it due).
RETRY_LATER = (StitchRateBudgetExhausted, StitchServerError, StitchTransportError)

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


@dataclass(frozen=True)
class PageRead:
    """What one read of one page of a Jobs list saw.

    :param read_at: when the page was read (monitor clock).
    :param first: sort key of its first row (None for an empty page).
    :param last: sort key of its last row (None for an empty page).
    :param has_next: whether the list went on after this page.
    :param identities: the rows it held.
    """

    read_at: float
    first: Any
    last: Any
    has_next: bool
    identities: frozenset[str] = frozenset()


@dataclass
class ListSnapshot:
    """What is known of one Jobs list: rows by identity, when each was read, and what each page held.

    A row's page is where it was last seen, or where its absence was confirmed (the page whose sort range
    holds its key); a watched row without one is looked for on the pages its key may fall on.
    """

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    checked: dict[str, float] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)
    reads: dict[int, PageRead] = field(default_factory=dict)

    def absorb(
        self,
        kind: _ListKind,
        page: int,
        rows: list[dict[str, Any]],
        has_next: bool,
        read_at: float,
        watched: Iterable[str],
    ) -> set[str]:
        """Record one read of ``page``; return the watched rows it told about (found or confirmed absent).

        :param kind: the list the page belongs to.
        :param page: page number (1-based).
        :param rows: the page's rows, in list order.
        :param has_next: whether the list went on after this page.
        :param read_at: when the page was read; a read older than the one recorded for the page is ignored.
        :param watched: rows someone waits on, whose absence this page may confirm.
        """
        previous = self.reads.get(page)
        if previous is not None and previous.read_at >= read_at:
            return set()
        orders = [kind.order(row) for row in rows]
        identities = [kind.identity(row) for row in rows]
        read = PageRead(
            read_at=read_at,
            first=orders[0] if orders else None,
            last=orders[-1] if orders else None,
            has_next=has_next,
            identities=frozenset(identities),
        )
        self.reads[page] = read
        told: set[str] = set()
        for identity, row in zip(identities, rows, strict=True):
            if read_at >= self.checked.get(identity, -math.inf):
                self.rows[identity] = row
                self.checked[identity] = read_at
                self.pages[identity] = page
                told.add(identity)
        if previous is not None:
            for identity in previous.identities - read.identities:
                if self.pages.get(identity) == page:
                    del self.pages[identity]
        for identity in watched:
            if identity in read.identities or self.pages.get(identity, page) != page:
                continue
            if self.confirms_absence(kind, identity, page):
                if read_at >= self.checked.get(identity, -math.inf):
                    self.rows.pop(identity, None)
                    self.checked[identity] = read_at
                    told.add(identity)
                self.pages[identity] = page
            else:
                self.pages.pop(identity, None)
        return told

    def confirms_absence(self, kind: _ListKind, identity: str, page: int) -> bool:
        """True when the last read of ``page`` shows the row is not in the list (its key falls there, unseen).

        A key equal to a page's first or last key may sit on the neighbouring page (lists with ties, like
        loads ordered by stream name), so only the neighbour's own read can rule that out.
        """
        read = self.reads[page]
        if read.first is None:
            return page == 1
        order = kind.order_of_identity(identity)
        before = self.reads.get(page - 1)
        may_be_before = (
            page > 1
            and order <= read.first
            and not (before is not None and before.last is not None and before.last < order)
        )
        may_be_after = read.has_next and order >= read.last
        return not (may_be_before or may_be_after)

    def candidate_pages(self, kind: _ListKind, identity: str) -> tuple[int, ...]:
        """Pages the row may be on: where it was last seen, else the pages whose last read spans its key.

        A key tied with the first or last key of the spanning pages may also sit on the unread neighbour
        beyond them (loads sharing one stream name run over page boundaries), so that page is a candidate too.
        """
        page = self.pages.get(identity)
        if page is not None:
            return (page,)
        known = sorted(p for p, read in self.reads.items() if read.first is not None)
        if not known:
            return (1,)
        order = kind.order_of_identity(identity)
        spanning = tuple(p for p in known if self.reads[p].first <= order <= self.reads[p].last)
        if spanning:
            low, high = self.reads[spanning[0]], self.reads[spanning[-1]]
            before = (spanning[0] - 1,) if spanning[0] > 1 and low.first == order else ()
            after = (spanning[-1] + 1,) if high.has_next and high.last == order else ()
            return (
                tuple(p for p in before if p not in known)
                + spanning
                + tuple(p for p in after if p not in known)
            )
        later = [p for p in known if self.reads[p].first > order]
        if later:
            following = later[0]
            if following == 1 or (following - 1) in self.reads:
                return (following,)
            return (following - 1,)
        last_page = known[-1]
        return (last_page + 1,) if self.reads[last_page].has_next else (last_page,)

    def read_at(self, page: int) -> float:
        """When ``page`` was last read (minus infinity: never)."""
        read = self.reads.get(page)
        return -math.inf if read is None else read.read_at


def ledger_from_json(text: str) -> dict[int, float]:
    """Page -> read time of a stored ledger (``{"3": 1796630000.0}``; a broken one reads as empty)."""
    try:
        data = json.loads(text)
        return {int(page): float(read_at) for page, read_at in data.items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def page_to_json(rows: list[dict[str, Any]], has_next: bool, read_at: float) -> str:
    """One page's rows as stored for other processes."""
    return json.dumps({"rows": rows, "has_next": has_next, "read_at": read_at})


def page_from_json(text: str) -> tuple[list[dict[str, Any]], bool, float] | None:
    """``(rows, has_next, read_at)`` of a stored page, or None when it is broken."""
    try:
        data = json.loads(text)
        rows = [row for row in data["rows"] if isinstance(row, dict)]
        return rows, bool(data["has_next"]), float(data["read_at"])
    except (ValueError, TypeError, AttributeError, KeyError):
        return None


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
    """Log a page that a later turn may read (server trouble, transport, 429, empty budget); raise others."""
    if not isinstance(problem, RETRY_LATER) and getattr(problem, "status", None) != 429:
        raise problem
    _log_skipped_page(kind, page, problem)


def _log_skipped_page(kind: str, page: int, problem: Exception) -> None:
    """A page that could not be read now stays due; a later turn reads it."""
    logger.info("page %d of %s could not be read now (%s); a later turn will read it", page, kind, problem)
