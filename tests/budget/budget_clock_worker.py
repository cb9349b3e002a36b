"""A worker process whose wall clock can step: it sends Jobs requests through the budget and reports when.

Run as ``python budget_clock_worker.py '<json settings>'``. Before the provider is imported, ``time.time``
is replaced by the real clock plus an offset, so everything in this process that reads the wall clock
(the provider's defaults included) sees the step, as after an NTP correction or ``date -s``; the
monotonic clock is left alone, as the kernel leaves it. Prints one JSON line: the monotonic times of the
requests sent, when sending began, and the errors met.

Settings: ``base_url``, ``token``, ``client_id``, ``backend`` (``sqlite`` or ``redis``), ``location``,
``window`` (budget seconds), ``offset`` (wall-clock offset from the start), ``step`` (seconds the wall
clock jumps), ``step_after`` (requests sent before the jump), ``seconds`` (how long to keep sending),
``start_at`` (monotonic time to begin, so two workers start together).
"""

from __future__ import annotations

import json
import sys
import time

settings = json.loads(sys.argv[1])
_real_time = time.time
_offset = [float(settings.get("offset", 0.0))]
time.time = lambda: _real_time() + _offset[0]  # the wall clock of this process, steppable

from airflow_provider_stitch.api.budget import JobsBudget  # noqa: E402
from airflow_provider_stitch.api.client import StitchClient  # noqa: E402
from airflow_provider_stitch.api.errors import StitchError  # noqa: E402


def backend_of(kind: str, location: str):  # noqa: ANN201
    if kind == "redis":
        from airflow_provider_stitch.api.budget_redis import RedisBudgetBackend

        return RedisBudgetBackend(location, prefix=settings.get("prefix", "clock-test:"))
    from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend

    return SQLiteBudgetBackend(location)


def main() -> None:
    budget = JobsBudget(
        settings["client_id"],
        window=float(settings["window"]),
        backend=backend_of(settings["backend"], settings["location"]),
    )
    client = StitchClient(
        settings["token"],
        base_url=settings["base_url"],
        client_id=settings["client_id"],
        budget=budget,
        budget_max_wait=float(settings["window"]) * 3,
        max_attempts=1,
        validate=False,
    )
    sent: list[float] = []
    errors: list[str] = []
    while time.monotonic() < float(settings.get("start_at", 0.0)):
        time.sleep(0.005)
    began = time.monotonic()  # later than start_at when this process started late on a loaded machine
    ends = began + float(settings["seconds"])
    step_after = settings.get("step_after")
    while time.monotonic() < ends:
        if step_after is not None and len(sent) == int(step_after):
            _offset[0] += float(settings.get("step", 0.0))
            step_after = None
        try:
            client.get_jobs_page("list_extractions", 1)
        except StitchError as error:
            errors.append(f"{type(error).__name__}: {error}")
            break
        sent.append(time.monotonic())
    print(json.dumps({"began": began, "sent": sent, "errors": errors}))


main()
