"""Extraction and load rows of one account, kept in listing order so a page costs its rows, not the account.

Stitch lists extractions by ``source_id`` and loads by ``stream_name``, 100 rows a page, and leaves out
rows older than the listing horizon. The rows stay sorted as they are written; the horizon is checked
against the oldest row, so the full scan happens only when some row is actually that old.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

from airflow_provider_stitch.emulator.responses import encode_json

Key = TypeVar("Key", bound=Hashable)


def listed_row(row: dict[str, Any]) -> bytes:
    """A stored row as the listing shows it: JSON without the emulator's ``_``-prefixed bookkeeping keys."""
    return encode_json({key: value for key, value in row.items() if not key.startswith("_")})


class JobRows(Generic[Key]):
    """Rows by key, listed in the order of ``sort_key(key)``; each row holds its time under ``_time``.

    A row is encoded for the listing once, when written (rows are replaced, never changed in place).

    :param sort_key: the listing order of a key (``(stream_name, source_name)`` for loads).
    :param encode: a row as the JSON bytes the listing shows.
    """

    def __init__(
        self, sort_key: Callable[[Key], Any], encode: Callable[[dict[str, Any]], bytes] = listed_row
    ) -> None:
        self._sort_key = sort_key
        self._encode = encode
        self._rows: dict[Key, dict[str, Any]] = {}
        self._encoded: dict[Key, bytes] = {}
        self._order: list[tuple[Any, Key]] = []
        self._times: list[tuple[float, int, Key]] = []
        self._writes = 0

    def __setitem__(self, key: Key, row: dict[str, Any]) -> None:
        if key not in self._rows:
            bisect.insort(self._order, (self._sort_key(key), key))
        self._rows[key] = row
        self._encoded[key] = self._encode(row)
        self._writes += 1
        heapq.heappush(self._times, (float(row["_time"]), self._writes, key))
        if len(self._times) > 2 * len(self._rows) + 64:
            # Drop the entries of rewritten rows so the heap stays the size of the rows.
            self._times = [(float(r["_time"]), self._writes, k) for k, r in self._rows.items()]
            heapq.heapify(self._times)

    def __getitem__(self, key: Key) -> dict[str, Any]:
        return self._rows[key]

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: Key) -> dict[str, Any] | None:
        """The row of ``key``, or None."""
        return self._rows.get(key)

    def values(self) -> Iterator[dict[str, Any]]:
        """Every row in listing order."""
        return (self._rows[key] for _, key in self._order)

    def _oldest_time(self) -> float | None:
        """The time of the oldest current row (entries of rewritten rows are dropped on the way)."""
        while self._times:
            time, _, key = self._times[0]
            if float(self._rows[key]["_time"]) == time:
                return time
            heapq.heappop(self._times)
        return None

    def page(self, number: int, size: int, listed_after: float) -> tuple[list[bytes], int]:
        """The encoded rows of page ``number`` (from 1) and how many rows are listed in all.

        :param number: page number, 1 for the first.
        :param size: rows per page.
        :param listed_after: rows at or before this time are past the horizon and not listed.
        """
        start = (number - 1) * size
        oldest = self._oldest_time()
        if oldest is None or oldest > listed_after:
            keys = self._order[start : start + size]
            return [self._encoded[key] for _, key in keys], len(self._order)
        listed = [self._encoded[key] for _, key in self._order if self._rows[key]["_time"] > listed_after]
        return listed[start : start + size], len(listed)
