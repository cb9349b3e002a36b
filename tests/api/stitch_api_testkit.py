"""Shared helpers of the API client tests: documented examples, constants and a manual clock."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

BASE = "https://api.stitchdata.com"
TOKEN = "ac_SuperSecretToken123"
CLIENT_ID = 116078

#: The project's reference copy of Stitch's docs data (beside the repository), overridable.
DOCS = Path(
    os.environ.get(
        "STITCH_DOCS_DIR", Path(__file__).resolve().parents[3] / "shared" / "reference" / "stitch-docs"
    )
)
OBJECTS = DOCS / "_developer-files/connect/api/objects"
RESPONSE_CODES = DOCS / "_data/connect/response-codes"


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
    text = (OBJECTS / relative).read_text()
    front = re.split(r"^---\s*$", text, flags=re.M)[1]
    found = []
    for example in yaml.safe_load(front).get("examples") or []:
        code = re.sub(r"<STEP(_NUMBER)?>", "1", example.get("code") or "")
        code = re.sub(r'"<[A-Z_]*_ID>"', "4242", code)
        if not code.strip():
            continue
        try:
            found.append((str(example.get("type")), json.loads(code)))
        except ValueError:
            continue
    return found


def response_bodies(resource: str) -> list[tuple[str, str, str]]:
    """``(status, method, raw body)`` of each documented error body of a resource."""
    data = yaml.safe_load((RESPONSE_CODES / f"{resource}.yml").read_text())
    bodies = []
    for group in data.get("all", []):
        for item in group.get("responses") or []:
            raw = item.get("response-body")
            if not raw:
                continue
            body = re.sub(r"^```json\s*|```\s*$", "", raw.strip()).strip()
            body = body.replace("`", "")
            bodies.append((str(group["code"]), str(item.get("method")), body))
    return bodies
