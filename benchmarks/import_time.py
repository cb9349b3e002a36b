"""Print what importing the provider's operators and sensors adds to a DAG file's parse, next to Airbyte's.

Each measurement runs in a fresh interpreter that first imports what any DAG file imports (``DAG`` and
``BaseOperator`` from ``airflow.sdk``, or from ``airflow.models`` on Airflow 2), then times the import of
the targets: a module, or ``module:Class`` as a DAG file's ``from module import Class`` does. The median over several processes is printed with the number of modules the
import added. ``make bench`` installs apache-airflow-providers-airbyte first; without it that row says so.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

RUNS = 7
TARGETS: dict[str, tuple[str, ...]] = {
    "stitch operators package": ("airflow_provider_stitch.operators",),
    "stitch sensors package": ("airflow_provider_stitch.sensors",),
    "stitch start-replication operator": (
        "airflow_provider_stitch.operators:StitchStartReplicationOperator",
    ),
    "stitch load sensor": ("airflow_provider_stitch.sensors:StitchLoadSensor",),
    "stitch operator + sensor": (
        "airflow_provider_stitch.operators:StitchStartReplicationOperator",
        "airflow_provider_stitch.sensors:StitchLoadSensor",
    ),
    "airbyte operator": ("airflow.providers.airbyte.operators.airbyte:AirbyteTriggerSyncOperator",),
    "airbyte operator + sensor": (
        "airflow.providers.airbyte.operators.airbyte:AirbyteTriggerSyncOperator",
        "airflow.providers.airbyte.sensors.airbyte:AirbyteJobSensor",
    ),
}
PROBE = """
import importlib, sys, time
try:
    from airflow.sdk import DAG, BaseOperator
except ImportError:
    from airflow.models import DAG, BaseOperator
before = set(sys.modules)
start = time.perf_counter()
for target in sys.argv[1:]:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    if attribute:
        getattr(module, attribute)
elapsed_ms = (time.perf_counter() - start) * 1000
print(elapsed_ms, len(set(sys.modules) - before))
"""


def probe_once(modules: tuple[str, ...], env: dict[str, str]) -> tuple[float, int] | None:
    """Time one fresh-process import of ``modules`` (``module`` or ``module:Class``); None when one is missing."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        if "ModuleNotFoundError" in result.stderr:
            return None
        raise RuntimeError(f"import probe for {modules} failed:\n{result.stderr[-2000:]}")
    elapsed, added = result.stdout.split()
    return float(elapsed), int(added)


def measure(modules: tuple[str, ...], env: dict[str, str]) -> tuple[float, float, int] | None:
    """Median and minimum milliseconds and the module count added, over ``RUNS`` processes."""
    samples = []
    added = 0
    for _ in range(RUNS):
        sample = probe_once(modules, env)
        if sample is None:
            return None
        samples.append(sample[0])
        added = sample[1]
    return statistics.median(samples), min(samples), added


def main() -> None:
    """Measure every target and print a table plus the Stitch-to-Airbyte ratio."""
    with tempfile.TemporaryDirectory(prefix="stitch-import-bench-") as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        probe_once(("airflow_provider_stitch",), env)  # warm the bytecode caches once
        results: dict[str, tuple[float, float, int] | None] = {}
        print(f"marginal import time after DAG + BaseOperator, median of {RUNS} fresh processes")
        print(f"{'target':<34} {'median ms':>10} {'min ms':>8} {'modules added':>14}")
        for label, modules in TARGETS.items():
            results[label] = measure(modules, env)
            row = results[label]
            if row is None:
                print(f"{label:<34} {'not installed':>10}")
            else:
                print(f"{label:<34} {row[0]:>10.1f} {row[1]:>8.1f} {row[2]:>14d}")
    ours = results["stitch operator + sensor"]
    theirs = results["airbyte operator + sensor"]
    if ours is not None and theirs is not None and theirs[0] > 0:
        print(f"stitch / airbyte (operator + sensor classes, median): {ours[0] / theirs[0]:.2f}")


if __name__ == "__main__":
    main()
