"""Print the busiest Jobs window the emulator saw while writers' wall clocks stepped or disagreed.

Each case runs worker processes (``tests/budget/budget_clock_worker.py``) that send Jobs requests through a
SQLite or Redis budget store to an emulator child process at speed 600 (Stitch's 600-second window lasts
one real second; the budget window is 1.5 s). Cases: a forward step of 611 s, a backward step of 1 h, two
processes with one clock 700 s behind. Printed per case and store: the emulator's busiest window (limit
30), requests sent, the longest wait for a token, and errors.

Usage: ``python benchmarks/budget_clocks.py`` (about a minute; needs ``redis-server`` for the Redis rows).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests" / "budget"
sys.path.insert(0, str(TESTS))

from test_clock_steps import BUDGET_WINDOW, busiest_window, longest_wait, run_workers  # noqa: E402

from airflow_provider_stitch.emulator.harness import EmulatorControl, EmulatorProcess  # noqa: E402

CASES = {
    "forward step 611 s": [{"step_after": 30, "step": 611.0}],
    "backward step 1 h": [{"step_after": 30, "step": -3600.0}],
    "two processes, one 700 s behind": [{}, {"offset": -700.0}],
}


def _redis(port: int) -> subprocess.Popen[bytes] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    server.terminate()
    return None


def main() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    redis = _redis(port)
    try:
        with tempfile.TemporaryDirectory() as folder, EmulatorProcess(Path(folder), speed=600.0) as emulator:
            stores = [("sqlite", str(Path(folder) / "budget.sqlite"))]
            if redis is not None:
                stores.append(("redis", f"redis://127.0.0.1:{port}/0"))
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
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
