"""The Jobs rate limit as the emulator enforces it: off, counted only, or blocking."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_stitch.emulator.stats import JOBS_LIMIT, JOBS_WINDOW_SECONDS, SlidingWindow

LIMIT_MODES = ("off", "count", "block")
DEFAULT_BLOCK_STATUS = 429


@dataclass
class JobsLimitSettings:
    """How the Jobs limit behaves.

    :param mode: ``off`` (nothing counted for the limit), ``count`` (counted in stats only, the default) or
        ``block`` (requests beyond ``limit`` in ``window_seconds`` get ``status``).
    :param limit: requests allowed per client id in one window.
    :param window_seconds: window length in emulator seconds.
    :param status: HTTP status of a refused request.
    """

    mode: str = "count"
    limit: int = JOBS_LIMIT
    window_seconds: float = JOBS_WINDOW_SECONDS
    status: int = DEFAULT_BLOCK_STATUS

    def __post_init__(self) -> None:
        if self.mode not in LIMIT_MODES:
            raise ValueError(f"jobs limit mode must be one of {', '.join(LIMIT_MODES)}")
        if self.limit < 1 or self.window_seconds <= 0:
            raise ValueError("jobs limit and window must be positive")
        if not 400 <= self.status <= 599:
            raise ValueError("a refused request needs a 4xx or 5xx status")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {
            "mode": self.mode,
            "limit": self.limit,
            "window_seconds": self.window_seconds,
            "status": self.status,
        }


@dataclass
class JobsLimiter:
    """Decides whether a Jobs request is served; only served requests fill the window."""

    settings: JobsLimitSettings = field(default_factory=JobsLimitSettings)
    _windows: dict[int, SlidingWindow] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, settings: JobsLimitSettings) -> None:
        """Replace the settings and forget the windows."""
        with self._lock:
            self.settings = settings
            self._windows.clear()

    def admit(self, client_id: int, now: float) -> float | None:
        """Record a Jobs request; return None when served, else seconds until the window frees up.

        :param client_id: the client id in the request path.
        :param now: emulator time of the request.
        """
        with self._lock:
            if self.settings.mode != "block":
                return None
            window = self._windows.get(client_id)
            if window is None or window.seconds != self.settings.window_seconds:
                window = self._windows[client_id] = SlidingWindow(self.settings.window_seconds)
            if window.trim(now) >= self.settings.limit:
                frees_at = window.frees_at()
                return max(0.0, (frees_at or now) - now)
            window.add(now)
            return None
