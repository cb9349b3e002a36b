"""Helpers of the trigger start-up tests: the default connection pointed at an emulator, and probes run in a
fresh interpreter (what a triggerer process imports first, and on which thread, shows only there)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
#: The connection the hook reads by default.
DEFAULT_CONN_ENV = "AIRFLOW_CONN_STITCH_DEFAULT"


def connect_default(
    monkeypatch: pytest.MonkeyPatch, emulator: Any, budget_path: Path, token: str | None = None
) -> None:
    """Point ``stitch_default`` at ``emulator`` (client id 7) with its SQLite budget at ``budget_path``.

    :param monkeypatch: the test's monkeypatch (the variable is undone after the test).
    :param emulator: a running emulator.
    :param budget_path: the budget store's file.
    :param token: the API token (default: the emulator's own).
    """
    monkeypatch.setenv(
        DEFAULT_CONN_ENV,
        json.dumps(
            {
                "conn_type": "stitch",
                "password": emulator.token if token is None else token,
                "host": emulator.base_url,
                "extra": {"stitch_client_id": 7, "budget_location": str(budget_path)},
            }
        ),
    )


def run_probe(code: str, *args: str, timeout: float = 120.0) -> list[str]:
    """Run ``code`` in a fresh interpreter at the repository root; its output lines (it must succeed).

    :param code: the probe's source.
    :param args: its command-line arguments.
    :param timeout: seconds it may take.
    """
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()
