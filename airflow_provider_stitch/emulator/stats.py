"""Request counters: totals per rate-limit group and the busiest Jobs window per client id."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

#: The rate-limit group of the Jobs endpoints (extractions, extraction logs, loads).
JOBS = "jobs"
#: The group of every other request.
OTHER = "other"
#: Length of the Jobs rate-limit window, in emulator seconds.
JOBS_WINDOW_SECONDS = 600.0
#: Requests allowed per client id in one window.
JOBS_LIMIT = 30
#: How many request records the log keeps (oldest dropped first).
LOG_CAPACITY = 10_000


class SlidingWindow:
    """Times of events within the last ``seconds``; the window covers ``(t - seconds, t]``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._times: deque[float] = deque()

    def trim(self, now: float) -> int:
        """Forget events that left the window; return how many remain."""
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()
        return len(self._times)

    def add(self, now: float) -> int:
        """Record one event at ``now``; return the count in the window including it."""
        self.trim(now)
        self._times.append(now)
        return len(self._times)

    def frees_at(self) -> float | None:
        """When the oldest event leaves the window, or None when empty."""
        return self._times[0] + self.seconds if self._times else None


@dataclass
class ClientCounters:
    """Counters of one client id."""

    jobs: int = 0
    other: int = 0
    blocked: int = 0
    max_jobs_in_window: int = 0
    window: SlidingWindow = field(default_factory=lambda: SlidingWindow(JOBS_WINDOW_SECONDS))

    def as_dict(self) -> dict[str, int]:
        """JSON-ready counters."""
        return {
            "jobs": self.jobs,
            "other": self.other,
            "blocked": self.blocked,
            "max_jobs_in_window": self.max_jobs_in_window,
        }


class RequestStats:
    """Everything the stats endpoint reports; bodies and tokens are never recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every count and log entry."""
        with self._lock:
            self.totals = {JOBS: 0, OTHER: 0}
            self.clients: dict[int, ClientCounters] = {}
            self.log: deque[dict[str, Any]] = deque(maxlen=LOG_CAPACITY)

    def record(
        self,
        *,
        method: str,
        path: str,
        status: int | str,
        time: float,
        group: str,
        client_id: int | None,
        blocked: bool = False,
    ) -> None:
        """Count one answered (or dropped) request.

        :param method: HTTP method.
        :param path: path without query string.
        :param status: status code, or a word for requests that got no answer (``dropped``, ``hung``).
        :param time: emulator epoch seconds when the request arrived.
        :param group: ``jobs`` or ``other``.
        :param client_id: client id named by a Jobs path.
        :param blocked: the Jobs limit refused the request.
        """
        with self._lock:
            self.totals[group] = self.totals.get(group, 0) + 1
            if client_id is not None:
                counters = self.clients.setdefault(client_id, ClientCounters())
                if group == JOBS:
                    counters.jobs += 1
                    in_window = counters.window.add(time)
                    counters.max_jobs_in_window = max(counters.max_jobs_in_window, in_window)
                else:
                    counters.other += 1
                if blocked:
                    counters.blocked += 1
            self.log.append(
                {
                    "method": method,
                    "path": path,
                    "status": status,
                    "time": time,
                    "group": group,
                    "client_id": client_id,
                }
            )

    def snapshot(self, *, include_log: bool = True) -> dict[str, Any]:
        """The counters (and the request log) as JSON-ready data."""
        with self._lock:
            by_client = {str(cid): counters.as_dict() for cid, counters in sorted(self.clients.items())}
            result: dict[str, Any] = {
                "requests": {**self.totals, "total": sum(self.totals.values())},
                "by_client": by_client,
                "max_jobs_in_window": max((c.max_jobs_in_window for c in self.clients.values()), default=0),
                "jobs_window_seconds": JOBS_WINDOW_SECONDS,
                "jobs_limit": JOBS_LIMIT,
            }
            if include_log:
                result["log"] = list(self.log)
            return result
