"""The tests, benchmarks and tools reach shared code as packages: no path hacks, no helper by bare name.

Each test folder is a package (``tests.<folder>.test_x``), so two test modules may share a basename and a
helper is imported once, under one name. This reads the sources; it does not trust pytest's import mode.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS = REPO_ROOT / "tests"
SCANNED = ("tests", "benchmarks", "tools")
#: Folders of DAG files, which Airflow parses by path (``tests/e2e/*_dags``): not packages.
DAG_FOLDER_SUFFIX = "_dags"
PATH_HACKS = {
    ("sys", "path", "insert"),
    ("sys", "path", "append"),
    ("importlib", "util", "spec_from_file_location"),
}


def python_files() -> list[Path]:
    return sorted(
        path
        for folder in SCANNED
        for path in (REPO_ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts and ".venv" not in path.parts
    )


def dotted(node: ast.expr) -> tuple[str, ...]:
    """``sys.path.insert`` as ("sys", "path", "insert"); () for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ()
    return (node.id, *reversed(parts))


def test_no_file_puts_a_folder_on_sys_path_or_loads_a_module_by_its_path() -> None:
    found = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {'.'.join(dotted(node.func))}"
        for path in python_files()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and dotted(node.func) in PATH_HACKS
    ]
    assert found == []


def test_test_modules_and_helpers_are_imported_by_their_package_name() -> None:
    bare_names = {path.stem for path in TESTS.rglob("*.py") if path.stem != "__init__"}
    found = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [
                f"{path.relative_to(REPO_ROOT)}:{node.lineno}: import {name}"
                for name in names
                if name.split(".")[0] in bare_names
            ]
    assert found == []


def test_every_test_folder_is_a_package() -> None:
    folders = {path.parent for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts}
    missing = sorted(
        str(folder.relative_to(REPO_ROOT))
        for folder in folders
        if not folder.name.endswith(DAG_FOLDER_SUFFIX) and not (folder / "__init__.py").is_file()
    )
    assert missing == []
