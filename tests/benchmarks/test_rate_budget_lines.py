"""``benchmarks/rate_budget.py`` ends with lines a script can check: one per extraction run, one per loads run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.rate_budget import TURN, Figures

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "rate_budget.py"


def figures(**fields: object) -> Figures:
    base: dict[str, object] = {
        "label": "deferred",
        "waits": 250,
        "finished": 250,
        "delays": [10.0, 20.0, 30.0],
        "busiest": 30,
        "cpu_per_wait_ms": 1.0,
        "memory_per_wait_kib": 1.0,
        "max_lag_ms": 1.0,
        "wall_seconds": 1.0,
    }
    return Figures(**{**base, **fields})  # type: ignore[arg-type]


def test_the_extraction_line_keeps_its_form_and_the_loads_line_names_its_kind():
    assert (
        figures().line() == f"N=250 finished=250/250 busiest=30/30 median=20s p95=30s bound={3 * TURN:.0f}s"
    )
    loads = figures(label="loads", kind="loads", pages_held=4).line()
    assert (
        loads == f"kind=loads N=250 finished=250/250 busiest=30/30 median=20s p95=30s bound={4 * TURN:.0f}s"
    )


@pytest.mark.slow
def test_load_waits_sharing_one_stream_name_across_pages_all_finish_within_the_limit():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--loads", "150"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    found = re.fullmatch(
        r"kind=loads N=150 finished=(\d+)/150 busiest=(\d+)/30 median=(\d+)s p95=(\d+)s bound=(\d+)s", last
    )
    assert found, last
    finished, busiest, median, high, bound = map(int, found.groups())
    assert finished == 150 and busiest <= 30
    assert bound == round(2 * TURN)  # 150 'accounts' rows of 450 load rows: pages 1 and 2
    assert high <= 1.5 * bound and median <= 1.5 * bound / 2
