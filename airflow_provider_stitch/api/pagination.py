"""Reading the paginated Jobs lists: dropping rows that reappear when rows shift between pages."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from airflow_provider_stitch.api.models import Extraction, Load

Row = TypeVar("Row")


class RowDeduplicator(Generic[Row]):
    """Keeps the first occurrence of each row key across pages.

    :param key: function giving a row's identity.
    """

    def __init__(self, key: Callable[[Row], Hashable]) -> None:
        self._key = key
        self._seen: set[Hashable] = set()

    def new_rows(self, rows: Iterable[Row]) -> list[Row]:
        """The rows not seen on an earlier page, in order."""
        fresh: list[Row] = []
        for row in rows:
            identity = self._key(row)
            if identity not in self._seen:
                self._seen.add(identity)
                fresh.append(row)
        return fresh


def extraction_key(row: Extraction) -> Hashable:
    """Extractions hold one row per source."""
    return row.source_id


def load_key(row: Load) -> Hashable:
    """Loads hold one row per stream of a source."""
    return (row.source_name, row.stream_name)


def passed_source_id(page_rows: list[Extraction], stop_after_source_id: int | None) -> bool:
    """True when a page sorted by source id already reached ``stop_after_source_id``."""
    if stop_after_source_id is None or not page_rows:
        return False
    return page_rows[-1].source_id >= stop_after_source_id
