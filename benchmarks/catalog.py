"""Print the connector catalog's load time and validation throughput.

Load time: a fresh interpreter per run imports the package and looks up one type; the median of several
runs is printed (target < 50 ms). Throughput: validations per second of a full database-source object
(target > 10,000/s).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import warnings

LOAD_RUNS = 7
VALIDATIONS = 20_000
TIMING_SNIPPET = (
    "import time\n"
    "start = time.perf_counter()\n"
    "from airflow_provider_stitch.connectors import get_connector\n"
    "get_connector('platform.hubspot')\n"
    "print((time.perf_counter() - start) * 1000)\n"
)


def load_time_ms() -> float:
    """Median import-and-first-lookup time in milliseconds over fresh processes."""
    samples = []
    for _ in range(LOAD_RUNS):
        result = subprocess.run(
            [sys.executable, "-c", TIMING_SNIPPET], capture_output=True, text=True, check=True
        )
        samples.append(float(result.stdout.strip()))
    return statistics.median(samples)


def validations_per_second() -> float:
    """Validations per second of the Amazon Aurora example object (without the empty strings Stitch rejects)."""
    from airflow_provider_stitch.connectors import get_connector, validate_properties

    documented = get_connector("platform.aurora").examples["form"]
    example = {name: value for name, value in documented.items() if value != ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        validate_properties("platform.aurora", example)
        start = time.perf_counter()
        for _ in range(VALIDATIONS):
            validate_properties("platform.aurora", example)
        elapsed = time.perf_counter() - start
    return VALIDATIONS / elapsed


def main() -> int:
    """Print both figures."""
    load = load_time_ms()
    rate = validations_per_second()
    print(f"catalog load (fresh process, median of {LOAD_RUNS}): {load:.1f} ms (target < 50 ms)")
    print(f"validations per second: {rate:,.0f} (target > 10,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
