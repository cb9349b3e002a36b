"""The Jobs budget settings of a connection, parsed once from its extras (no Airflow here).

One object owns the facts: how many Jobs requests per window (``jobs_budget``), where the shared window
lives (``budget_backend``, ``budget_location``) and how fast an offline emulator's clock runs
(``emulator_speed``, confirmed against what the emulator reports). Long-running processes rebuild it
whenever the connection's extras change, so they follow the new connection.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_stitch.api.budget import (
    DEFAULT_JOBS_LIMIT,
    BudgetBackend,
    JobsBudget,
    jobs_window_for,
)
from airflow_provider_stitch.api.budget_stores import shared_backend

BUDGET_BACKENDS = ("memory", "sqlite", "redis")
DEFAULT_BUDGET_BACKEND = "sqlite"
BUDGET_FILE_NAME = "stitch_jobs_budget.sqlite"
#: The header in which the offline emulator reports its clock speed on every answer.
SPEED_HEADER = "X-Stitch-Emulator-Speed"


class StitchSettingsError(ValueError):
    """Connection extras that cannot be used; lists every problem at once.

    :param problems: one sentence per problem, each naming the extra.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def default_budget_path() -> str:
    """Where the SQLite budget lives by default: under AIRFLOW_HOME, else the temp directory."""
    home = os.environ.get("AIRFLOW_HOME")
    return os.path.join(home or tempfile.gettempdir(), BUDGET_FILE_NAME)


def _redacted_url(url: str) -> str:
    """A Redis URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.netloc.rpartition(":")[2].isdigit() else ""
    user = f"{parts.username}:***@" if parts.username else "***@"
    return parts._replace(netloc=f"{user}{host}{port}").geturl()


@dataclass(frozen=True)
class BudgetSettings:
    """The Jobs budget a connection asks for.

    :param jobs_limit: Jobs requests per window (at most Stitch's 30).
    :param backend: ``memory``, ``sqlite`` or ``redis``.
    :param location: SQLite file or Redis URL (None for memory).
    :param emulator_speed: the configured ``emulator_speed``, or None when the extra is not set.
    :param loopback: True when the API host is a loopback address (an offline emulator).
    """

    jobs_limit: int = DEFAULT_JOBS_LIMIT
    backend: str = DEFAULT_BUDGET_BACKEND
    location: str | None = None
    emulator_speed: float | None = None
    loopback: bool = False

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any], *, loopback: bool) -> BudgetSettings:
        """Parse the budget extras (``extra__stitch__`` prefixes already removed); every problem at once.

        :param extras: the connection's extras.
        :param loopback: whether the API host is a loopback address.
        :raises StitchSettingsError: naming each extra that is wrong and what it expects.
        """
        text = json.dumps({k: extras.get(k) for k in _BUDGET_EXTRAS}, sort_keys=True, default=str)
        settings = _parse(text, loopback)
        if settings.backend == "sqlite" and settings.location is None:
            return replace(settings, location=default_budget_path())
        return settings

    @property
    def where(self) -> str:
        """The store, for messages (a Redis password is hidden)."""
        if self.backend == "memory":
            return "process memory"
        return _redacted_url(self.location or "") if self.backend == "redis" else str(self.location)

    def store(self) -> BudgetBackend:
        """The process-wide backend of these settings (opened once per process and location)."""
        return shared_backend(self.backend, self.location)

    def speed(self, reported: float | None) -> float:
        """The emulator speed the budget uses: what the server reports, when it is allowed to.

        A speed above 1 is taken only from a loopback emulator that reports it; a configured
        ``emulator_speed`` the server does not confirm is refused.

        :param reported: the speed in the server's ``X-Stitch-Emulator-Speed`` header, None if absent.
        :raises StitchSettingsError: when the configured speed and the server disagree.
        """
        configured = self.emulator_speed
        if not self.loopback:
            return 1.0
        if reported is None:
            if configured is not None and configured != 1.0:
                raise StitchSettingsError(
                    [
                        f"emulator_speed is {configured:g}, but the server does not report a speed "
                        f"(no {SPEED_HEADER} header): remove the extra emulator_speed unless the server "
                        "is the offline emulator"
                    ]
                )
            return 1.0
        if configured is not None and abs(configured - reported) > 1e-9 * max(configured, reported):
            raise StitchSettingsError(
                [
                    f"emulator_speed is {configured:g}, but the emulator reports speed {reported:g}: "
                    "remove the extra emulator_speed (the reported speed is used) or set it to match"
                ]
            )
        return reported

    def window(self, reported_speed: float | None) -> float:
        """The budget window in real seconds for the speed :meth:`speed` accepts.

        :param reported_speed: the speed the server reports, None if it reports none.
        """
        return jobs_window_for(self.speed(reported_speed))

    def budget(self, client_id: int | str, reported_speed: float | None) -> JobsBudget:
        """The Jobs budget of a Stitch client id under these settings.

        :param client_id: the Stitch client id.
        :param reported_speed: the speed the server reports, None if it reports none.
        """
        return JobsBudget(
            client_id, limit=self.jobs_limit, window=self.window(reported_speed), backend=self.store()
        )


_BUDGET_EXTRAS = ("jobs_budget", "budget_backend", "budget_location", "emulator_speed")


def parse_speed_header(value: str | None) -> float | None:
    """The speed in an ``X-Stitch-Emulator-Speed`` header; None when absent or not a number of at least 1.

    :param value: the header's value.
    """
    if value is None:
        return None
    try:
        speed = float(value.strip())
    except ValueError:
        return None
    return speed if speed >= 1 and speed == speed and speed != float("inf") else None


@lru_cache(maxsize=256)
def _parse(text: str, loopback: bool) -> BudgetSettings:
    """Parse the canonical JSON of the budget extras (cached: the same extras are parsed once)."""
    extras: dict[str, Any] = json.loads(text)
    problems: list[str] = []

    raw_limit = extras.get("jobs_budget")
    limit = DEFAULT_JOBS_LIMIT
    if raw_limit not in (None, ""):
        try:
            limit = int(str(raw_limit).strip())
        except ValueError:
            limit = 0
        if not 1 <= limit <= DEFAULT_JOBS_LIMIT or isinstance(raw_limit, float) and raw_limit != limit:
            problems.append(
                f"jobs_budget must be a whole number between 1 and {DEFAULT_JOBS_LIMIT} "
                f"(Jobs requests per 10 minutes), not {raw_limit!r}"
            )
            limit = DEFAULT_JOBS_LIMIT

    kind = str(extras.get("budget_backend") or DEFAULT_BUDGET_BACKEND).strip().lower()
    if kind not in BUDGET_BACKENDS:
        problems.append(f"budget_backend must be one of {', '.join(BUDGET_BACKENDS)}, not {kind!r}")
    location = str(extras.get("budget_location") or "").strip() or None
    if kind == "redis":
        if location is None:
            problems.append("budget_backend 'redis' needs budget_location set to a redis:// URL")
        elif urlsplit(location).scheme not in ("redis", "rediss", "unix"):
            problems.append(
                "budget_location must be a redis://, rediss:// or unix:// URL for budget_backend 'redis'"
            )
    if kind == "memory":
        location = None

    raw_speed = extras.get("emulator_speed")
    speed: float | None = None
    if raw_speed not in (None, ""):
        try:
            speed = float(str(raw_speed).strip())
        except ValueError:
            speed = None
        if speed is None or not speed >= 1 or speed == float("inf"):
            problems.append(f"emulator_speed must be a number of at least 1, not {raw_speed!r}")
            speed = None
        elif speed > 1 and not loopback:
            problems.append(
                "emulator_speed is only for the offline emulator on a loopback host; Stitch counts its "
                "Jobs limit over a fixed 600 seconds"
            )
            speed = None

    if problems:
        raise StitchSettingsError(problems)
    return BudgetSettings(
        jobs_limit=limit, backend=kind, location=location, emulator_speed=speed, loopback=loopback
    )


__all__ = [
    "BUDGET_BACKENDS",
    "DEFAULT_BUDGET_BACKEND",
    "SPEED_HEADER",
    "BudgetSettings",
    "StitchSettingsError",
    "default_budget_path",
    "parse_speed_header",
]
