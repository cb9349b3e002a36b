"""Extract the documented JSON examples the tests check into ``tests/data/stitch_docs_examples.json``.

The facts (JSON example bodies, error bodies, the form-file type names) come from ``stitch-docs/`` in the
reference directory; only those facts are kept, so the tests run in a clone without the reference.

Usage: ``python tools/extract_doc_examples.py [REFERENCE_DIR] [--output PATH]``. The reference directory
defaults to ``$STITCH_REFERENCE_DIR`` or ``../shared/reference`` beside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "tests" / "data" / "stitch_docs_examples.json"
DOCS = "stitch-docs"
OBJECTS = "_developer-files/connect/api/objects"
FORMS = OBJECTS + "/form-properties"
RESPONSE_CODES = "_data/connect/response-codes"
CODE_EXAMPLES = "_data/connect/code-examples"
CODE_EXAMPLE_FILES = ("connection-checks.yml", "streams.yml")
SOURCE_NOTE = (
    "Facts extracted by tools/extract_doc_examples.py from stitchdata/docs (CC BY-SA 4.0, "
    "stitch-docs/LICENSE in the reference directory): example bodies, error bodies, form-file type names."
)


def page_examples(path: Path) -> list[list[Any]]:
    """``[label, parsed JSON]`` of each example of a docs object page that is valid JSON.

    Placeholders that keep an example from parsing become sample values: ``<STEP>`` 1, ``"<..._ID>"`` 4242.
    """
    front = re.split(r"^---\s*$", path.read_text(encoding="utf-8"), flags=re.M)[1]
    found = []
    for example in yaml.safe_load(front).get("examples") or []:
        code = re.sub(r"<STEP(_NUMBER)?>", "1", example.get("code") or "")
        code = re.sub(r'"<[A-Z_]*_ID>"', "4242", code)
        if not code.strip():
            continue
        try:
            found.append([str(example.get("type")), json.loads(code)])
        except ValueError:
            continue
    return found


def error_bodies(path: Path) -> list[list[str]]:
    """``[status, method, raw body]`` of each documented error body of one resource."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    bodies = []
    for group in data.get("all", []):
        for item in group.get("responses") or []:
            raw = item.get("response-body")
            if not raw:
                continue
            body = re.sub(r"^```json\s*|```\s*$", "", raw.strip()).strip().replace("`", "")
            bodies.append([str(group["code"]), str(item.get("method")), body])
    return bodies


def code_examples(path: Path) -> dict[str, Any]:
    """The entries of a code-examples file whose text is JSON, parsed."""
    parsed = {}
    for key, text in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
        try:
            parsed[str(key)] = json.loads(text)
        except (TypeError, ValueError):
            continue
    return parsed


def form_types(forms: Path) -> list[str]:
    """The ``api-type`` of every form-properties file, sorted."""
    names = set()
    for path in forms.rglob("*.md"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("api-type:"):
                names.add(line.split('"')[1])
                break
    return sorted(names)


def extract(reference: Path) -> dict[str, Any]:
    """The whole test-data document."""
    docs = reference / DOCS
    objects = docs / OBJECTS
    pages = {}
    for path in sorted(objects.rglob("*.md")):
        relative = path.relative_to(objects).as_posix()
        if relative.startswith("form-properties/"):
            continue
        examples = page_examples(path)
        if examples:
            pages[relative] = examples
    return {
        "source": SOURCE_NOTE,
        "object_examples": pages,
        "error_bodies": {
            path.stem: error_bodies(path) for path in sorted((docs / RESPONSE_CODES).glob("*.yml"))
        },
        "code_examples": {name: code_examples(docs / CODE_EXAMPLES / name) for name in CODE_EXAMPLE_FILES},
        "form_types": form_types(docs / FORMS),
    }


def render(document: dict[str, Any]) -> str:
    """Serialise with a stable key order, one top-level entry per line group."""
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def default_reference_dir() -> Path:
    """``$STITCH_REFERENCE_DIR`` or the ``shared/reference`` directory beside the repository."""
    env = os.environ.get("STITCH_REFERENCE_DIR")
    return Path(env) if env else REPO.parent / "shared" / "reference"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: extract and write the test data.

    :param argv: ``[REFERENCE_DIR] [--output PATH]``.
    """
    parser = argparse.ArgumentParser(description="Extract documented examples for the tests.")
    parser.add_argument("reference", nargs="?", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    reference = args.reference or default_reference_dir()
    if not (reference / DOCS / OBJECTS).is_dir():
        print(f"reference directory not found or incomplete: {reference}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(extract(reference)), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
