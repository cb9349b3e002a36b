"""Hostile input against the validators: how many cases end in an error other than the package's own.

Prints three figures (issue 13 §4): random property objects given to ``validate_properties``, the same
kind of values given to the create-source operator's constructor, and hostile files given to
``airflow-stitch validate`` (exit code and traceback). A foreign error is any exception that is not
``PropertiesValidationError``; for the CLI, any exit other than 2 or any traceback.

Usage: ``python benchmarks/validator_fuzz.py [--objects 6000] [--constructors 1500] [--seed 13]``.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from airflow_provider_stitch.connectors import PropertiesValidationError, list_connectors, validate_properties

ODD_TEXTS = [
    "²",
    "٣٣",
    "５４３２",
    "9" * 5000,
    "0001-01-01T00:00:00+01:00",
    "http://[::1",
    "",
    " ",
    "[" * 3000,
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A JSON-like value: scalars, odd texts, huge integers, small containers, or a very deep nest."""
    roll = rng.random()
    if roll < 0.08:
        value: Any = "leaf"
        for _ in range(rng.randrange(1_000, 5_000)):
            value = [value] if rng.random() < 0.5 else {"k": value}
        return value
    if roll < 0.25:
        return rng.choice(ODD_TEXTS)
    if roll < 0.32:
        return rng.choice([10**5000, -(10**5000), 2**64, -1, 0])
    if roll < 0.5 and depth < 3:
        if rng.random() < 0.5:
            return [random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
        return {
            rng.choice(["a", "b", 1, "name"]): random_value(rng, depth + 1) for _ in range(rng.randrange(3))
        }
    return rng.choice([None, True, False, 3.5, float("nan"), "true", "60", "x", 5432])


def fuzz_validator(count: int, rng: random.Random) -> Counter[str]:
    """Outcome counts of ``count`` random property objects (``valid``, ``own error``, foreign types)."""
    connectors = list_connectors()
    outcomes: Counter[str] = Counter()
    for _ in range(count):
        connector = rng.choice(connectors)
        names = connector.property_names() or ["x"]
        properties = {rng.choice(names): random_value(rng) for _ in range(rng.randrange(1, 4))}
        try:
            validate_properties(connector.type, properties, partial=rng.random() < 0.5)
            outcomes["valid"] += 1
        except PropertiesValidationError:
            outcomes["own error"] += 1
        except Exception as error:  # noqa: BLE001 - counting what escapes is the point
            outcomes[type(error).__name__] += 1
    return outcomes


def fuzz_constructors(count: int, rng: random.Random) -> Counter[str]:
    """Outcome counts of ``count`` create-source operators built with random property values."""
    from airflow_provider_stitch.operators import StitchCreateSourceOperator

    outcomes: Counter[str] = Counter()
    names = ["host", "port", "frequency_in_minutes", "anchor_time", "ssl", "cron_expression", "start_date"]
    for index in range(count):
        properties = {"host": "h", "port": "3306", "user": "u", "password": "p-12345"}
        properties[rng.choice(names)] = random_value(rng)
        try:
            StitchCreateSourceOperator(
                task_id=f"fuzz_{index}",
                source_type="platform.hp-mysql",
                display_name="F",
                properties=properties,
            )
            outcomes["valid"] += 1
        except PropertiesValidationError:
            outcomes["own error"] += 1
        except Exception as error:  # noqa: BLE001
            outcomes[type(error).__name__] += 1
    return outcomes


HOSTILE_FILES = {
    "binary": bytes(range(256)) * 64,
    "invalid UTF-8": b'{"host": "caf\xe9"}',
    "deeply nested": b"[" * 200_000 + b"]" * 200_000,
    "huge (11 MiB)": b'{"host": "' + b"a" * (11 * 1024 * 1024) + b'"}',
    "endless digits": b'{"port": ' + b"9" * 50_000 + b"}",
    "NUL bytes": b'{"host": "a"}\x00',
    "empty": b"",
}


def fuzz_cli() -> list[tuple[str, int, bool]]:
    """``(case, exit code, printed a traceback)`` of ``airflow-stitch validate`` on each hostile file."""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for name, content in HOSTILE_FILES.items():
            path = Path(folder) / "input.json"
            path.write_bytes(content)
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "airflow_provider_stitch.cli",
                    "validate",
                    "platform.hp-mysql",
                    str(path),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            results.append((name, done.returncode, "Traceback" in done.stderr))
    return results


def main() -> None:
    """Run the three fuzzers and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=6000)
    parser.add_argument("--constructors", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    warnings.simplefilter("ignore")
    for label, run, count in (
        ("validate_properties", fuzz_validator, args.objects),
        ("operator constructors", fuzz_constructors, args.constructors),
    ):
        started = time.perf_counter()
        outcomes = run(count, rng)
        foreign = sum(n for kind, n in outcomes.items() if kind not in ("valid", "own error"))
        print(
            f"{label}: {count} cases in {time.perf_counter() - started:.1f} s, {foreign} foreign errors "
            f"({dict(sorted(outcomes.items()))})"
        )
    cli = fuzz_cli()
    bad = [name for name, code, traceback in cli if code != 2 or traceback]
    print(f"airflow-stitch validate: {len(cli)} hostile files, {len(bad)} without exit 2 and one line {bad}")


if __name__ == "__main__":
    main()
