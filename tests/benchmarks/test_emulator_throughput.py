"""``benchmarks/emulator_throughput.py`` runs end to end and prints its figures (their values are not judged)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "emulator_throughput.py"


def test_the_benchmark_prints_a_rate_per_endpoint_and_the_slowdown() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", "2", "40", "--seconds", "0.3"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("    2 sources (filled through the API in ")
    assert any(line.startswith("   40 sources (filled through the API in ") for line in lines)
    for name in (
        "GET /v4/sources",
        "bare server, same bytes",
        "GET /v4/sources/{id}",
        "extractions page 1",
        "loads page 1",
        "POST /v4/sources",
    ):
        rows = [line for line in lines if re.fullmatch(rf"    {re.escape(name)} +[\d,]+ req/s", line)]
        assert len(rows) == 2, (name, result.stdout)
    assert re.fullmatch(
        r"slowdown 2 -> 40 sources: GET /v4/sources/\{id\} [\d.]+x, extractions page 1 [\d.]+x, "
        r"loads page 1 [\d.]+x, POST /v4/sources [\d.]+x",
        lines[-1],
    )
