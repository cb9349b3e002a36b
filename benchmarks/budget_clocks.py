"""Print the busiest Jobs window the emulator saw while writers' wall clocks stepped or disagreed.

Each case runs worker processes (``tests/budget/budget_clock_worker.py``) that send Jobs requests through a
SQLite or Redis budget store to an emulator child process at speed 600 (Stitch's 600-second window lasts
one real second; the budget window is 1.5 s). Cases: a forward step of 611 s, a backward step of 1 h, two
processes with one clock 700 s behind. Printed per case and store: the emulator's busiest window (limit
30), requests sent, the longest wait for a token, and errors.

Run from the repository root: ``python -m benchmarks.budget_clocks`` (about a minute; needs ``redis-server``
for the Redis rows). It runs the scenario of ``tests/budget/test_clock_steps.py``, imported as a module.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from airflow_provider_stitch.emulator.harness import EmulatorControl, EmulatorProcess
from tests.budget.test_clock_steps import BUDGET_WINDOW, busiest_window, longest_wait, run_workers
from tests.testkit.redis_server import REDIS_SERVER, RedisServer

CASES = {
    "forward step 611 s": [{"step_after": 30, "step": 611.0}],
    "backward step 1 h": [{"step_after": 30, "step": -3600.0}],
    "two processes, one 700 s behind": [{}, {"offset": -700.0}],
}


def main() -> None:
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        emulator = stack.enter_context(EmulatorProcess(Path(folder), speed=600.0))
        stores = [("sqlite", str(Path(folder) / "budget.sqlite"))]
        if REDIS_SERVER is not None:
            stores.append(("redis", stack.enter_context(RedisServer()).url))
        print(f"budget window {BUDGET_WINDOW:g} s; the emulator's window is 1 s (limit 30)")
        for case, workers in CASES.items():
            for kind, location in stores:
                control = EmulatorControl(emulator.base_url)
                control.reset()
                control.close()
                reports = run_workers(emulator, kind, location, *workers)
                sent = sum(len(r["sent"]) for r in reports)
                wait = max(longest_wait(r) for r in reports)
                errors = sum(len(r["errors"]) for r in reports)
                print(
                    f"{case:33s} {kind:6s} busiest={busiest_window(emulator)}/30 sent={sent} "
                    f"longest_wait={wait:.2f}s errors={errors}"
                )


if __name__ == "__main__":
    main()
