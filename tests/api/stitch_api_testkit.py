"""Shared helpers of the API client tests: documented examples, constants and a manual clock."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

BASE = "https://api.stitchdata.com"
TOKEN = "ac_SuperSecretToken123"
CLIENT_ID = 116078

#: The documented examples the tests check, extracted from the reference docs into the repository
#: (``tools/extract_doc_examples.py``), so the tests run in a clone without ``../shared``.
DOC_EXAMPLES_FILE = Path(__file__).resolve().parents[1] / "data" / "stitch_docs_examples.json"


@functools.cache
def _doc_data() -> dict[str, Any]:
    return json.loads(DOC_EXAMPLES_FILE.read_text(encoding="utf-8"))


class ManualClock:
    """A clock that only moves when told (sleep advances it)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def doc_examples(relative: str) -> list[tuple[str, Any]]:
    """``(label, parsed JSON)`` of each example in a docs object page that is valid JSON."""
    return [(label, body) for label, body in _doc_data()["object_examples"].get(relative, [])]


def response_bodies(resource: str) -> list[tuple[str, str, str]]:
    """``(status, method, raw body)`` of each documented error body of a resource."""
    return [(status, method, body) for status, method, body in _doc_data()["error_bodies"][resource]]


def code_example(file_name: str, key: str) -> Any:
    """One parsed JSON example of ``_data/connect/code-examples/<file_name>``."""
    return _doc_data()["code_examples"][file_name][key]
