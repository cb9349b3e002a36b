"""The emulator's clock: real time times a speed factor, or frozen and moved by hand."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from functools import lru_cache

CLOCK_MODES = ("real", "manual")
#: Response header on every answer of the emulator: its clock speed (emulator seconds per real second).
SPEED_HEADER = "X-Stitch-Emulator-Speed"


class EmulatorClock:
    """Emulator time in epoch seconds; it never runs backwards.

    :param mode: ``"real"`` (wall-clock time scaled by ``speed``) or ``"manual"`` (frozen until advanced).
    :param speed: how many emulator seconds pass per real second in ``real`` mode.
    :param start: emulator epoch seconds at creation (defaults to the current wall-clock second).
    """

    def __init__(self, mode: str = "real", speed: float = 1.0, start: float | None = None) -> None:
        if mode not in CLOCK_MODES:
            raise ValueError(f"clock mode must be one of {', '.join(CLOCK_MODES)}, not {mode!r}")
        if speed <= 0:
            raise ValueError("clock speed must be greater than 0")
        self.mode = mode
        self.speed = float(speed)
        self._origin = float(int(time.time()) if start is None else start)
        self._real_origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Current emulator time, epoch seconds."""
        with self._lock:
            elapsed = 0.0
            if self.mode == "real":
                elapsed = (time.monotonic() - self._real_origin) * self.speed
            return self._origin + elapsed + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward (works in both modes); returns the new time.

        :param seconds: how far to move; must not be negative.
        """
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    def describe(self) -> dict[str, object]:
        """The clock as a JSON-ready mapping."""
        now = self.now()
        return {"now": now, "iso": iso(now), "mode": self.mode, "speed": self.speed}


def speed_text(speed: float) -> str:
    """The speed as the header shows it: ``10`` for a whole number, else the exact decimal (``2.5``).

    :param speed: emulator seconds per real second.
    """
    return str(int(speed)) if float(speed).is_integer() else repr(float(speed))


def iso(epoch: float | None) -> str | None:
    """Format epoch seconds the way Stitch does (``2019-05-24T18:04:08Z``), or None."""
    if epoch is None:
        return None
    return _iso_second(int(epoch))


@lru_cache(maxsize=65536)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: object) -> float | None:
    """Epoch seconds of an ISO 8601 timestamp string, or None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
