"""The scale harness's own arithmetic: the window recount, the log gathering and the job tally it reports."""

from __future__ import annotations

from typing import Any

from benchmarks.scale.measure import (
    RequestLog,
    busiest_window,
    detection_delays,
    jobs_since,
    percentile,
)


def test_busiest_window_excludes_the_request_exactly_one_window_older() -> None:
    # (t - 600, t]: the request at 0 has left the window that ends at 600.
    assert busiest_window([0.0, 300.0, 600.0])[0] == 2
    assert busiest_window([0.0, 300.0, 599.9]) == (3, 599.9)


def test_busiest_window_finds_a_burst_among_spread_requests() -> None:
    times = [float(t) for t in range(0, 6000, 100)] + [3000.5 + i for i in range(25)]
    count, end = busiest_window(times)
    assert count == 31  # 25 in the burst plus the 100 s-spaced ones inside the same 600 s
    assert end is not None and 3000 < end < 3600


class _FakeStats:
    """Answers like /__emulator__/stats whose log keeps only the last ``capacity`` entries."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.all: list[dict[str, Any]] = []

    def add(self, count: int) -> None:
        for _ in range(count):
            n = len(self.all)
            self.all.append(
                {
                    "time": float(n),
                    "group": "jobs",
                    "client_id": 7,
                    "path": "/v4/7/extractions",
                    "method": "GET",
                }
            )

    def __call__(self) -> dict[str, Any]:
        return {"requests": {"total": len(self.all)}, "log": self.all[-self.capacity :]}


def test_request_log_keeps_every_entry_when_polled_often_and_counts_what_it_lost() -> None:
    stats = _FakeStats(capacity=5)
    log = RequestLog(stats)
    stats.add(4)
    log.poll()
    stats.add(3)
    log.poll()
    assert [e["time"] for e in log.entries] == [0, 1, 2, 3, 4, 5, 6]
    assert log.lost == 0
    stats.add(8)  # more than the log holds between two polls
    log.poll()
    assert log.lost == 3
    assert log.jobs_times(7, since=10.0) == [10.0, 11.0, 12.0, 13.0, 14.0]


def test_jobs_since_counts_duplicates_per_source_and_ends_from_arranged_durations() -> None:
    state = {
        "accounts": [
            {
                "client_id": 7,
                "sources": [
                    {"id": 1, "scenario": {"durations": {"discovery": 5, "tap": 100, "target": 5}}},
                    {"id": 2, "scenario": {}},
                ],
                "jobs": [
                    {"source_id": 1, "started_at": "2026-01-01T00:00:10Z"},
                    {"source_id": 1, "started_at": "2026-01-01T00:05:00Z"},
                    {"source_id": 2, "started_at": "2025-12-31T23:00:00Z"},  # before the run
                ],
            }
        ]
    }
    since = 1767225600.0  # 2026-01-01T00:00:00Z
    outcome = jobs_since(state, 7, [1, 2], since)
    assert outcome.jobs_per_source == {1: 2, 2: 0}
    assert outcome.duplicate_jobs == 1
    assert outcome.job_ends == {1: since + 10 + 110}


def test_detection_delay_is_the_first_read_at_or_after_the_job_end() -> None:
    assert detection_delays({1: 100.0, 2: 130.0, 3: 500.0}, [90.0, 100.0, 150.0]) == [0.0, 20.0]
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.95) == 4.0
