"""What speed a loopback server says its clock runs at (the offline emulator's ``X-Stitch-Emulator-Speed``).

One small request without credentials to the emulator's control path (which it never counts, limits or
faults), remembered for a short while per base URL, so a long-running process notices an emulator
restarted at another speed. Only the header decides: a server that does not send it reports no speed.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import httpx

from airflow_provider_stitch.api.settings import SPEED_HEADER, parse_speed_header

#: Seconds a reported speed is reused before the server is asked again.
SPEED_CACHE_SECONDS = 30.0
#: Where the emulator answers about its clock (any answer of it carries the speed header).
SPEED_PATH = "/__emulator__/speed"

_CACHE: dict[str, tuple[float, float | None]] = {}
_LOCK = threading.Lock()


class SpeedProbeError(RuntimeError):
    """The server could not be asked for its speed (nothing listening, timeout)."""


def reported_speed(base_url: str, *, timeout: float = 5.0) -> float | None:
    """The speed the server at ``base_url`` reports, or None when it sends no speed header.

    Sends ``GET <base_url>/__emulator__/speed`` with no token and reads the speed header of the answer.

    :param base_url: a checked API root on a loopback host.
    :param timeout: seconds for the request.
    :raises SpeedProbeError: when the server does not answer.
    """
    with _LOCK:
        cached = _CACHE.get(base_url)
        if cached is not None and time.monotonic() - cached[0] < SPEED_CACHE_SECONDS:
            return cached[1]
        # A plain-http probe never speaks TLS, so it loads no certificate store (tens of ms in each new
        # process, e.g. every poke of a sensor in reschedule mode); an https one verifies as usual.
        verify = urlsplit(base_url).scheme == "https"
        try:
            response = httpx.get(
                base_url.rstrip("/") + SPEED_PATH, timeout=timeout, follow_redirects=False, verify=verify
            )
        except httpx.HTTPError as problem:
            raise SpeedProbeError(f"{type(problem).__name__}: {problem}") from None
        speed = parse_speed_header(response.headers.get(SPEED_HEADER))
        _CACHE[base_url] = (time.monotonic(), speed)
        return speed


def forget_reported_speeds() -> None:
    """Forget every remembered speed (tests; an emulator restarted at another speed)."""
    with _LOCK:
        _CACHE.clear()
