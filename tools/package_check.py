"""Build the distribution, check its metadata, and prove the wheel works installed alone.

Steps: ``python -m build`` (sdist and wheel) into a temporary folder; ``twine check --strict``; a fresh venv
with only the wheel and Apache Airflow; then, from a folder outside the checkout, the installed package is
checked the way a user meets it: Airflow's provider manager lists the provider and its connection type, the
catalog loads, the ``airflow-stitch`` command answers, and the emulator serves a request over loopback.
Exits non-zero with the failing step named.

Usage: ``python tools/package_check.py [--airflow-version 3.3.2]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Run inside the fresh venv: the provider as Airflow's provider manager sees it, and the catalog.
PROVIDER_PROBE = """
import json, airflow_provider_stitch
from airflow.providers_manager import ProvidersManager
from airflow_provider_stitch.connectors import list_connectors
manager = ProvidersManager()
provider = manager.providers["airflow-provider-stitch"]
hook = manager.hooks["stitch"]
print(json.dumps({
    "module_file": airflow_provider_stitch.__file__,
    "version": provider.version,
    "hook": hook.hook_class_name if hook else None,
    "connection_types": len(list_connectors()),
}))
"""


def run(step: str, command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run one step; on failure print what it said and stop with the step's name."""
    print(f"-- {step}", flush=True)
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.stdout.write(result.stdout[-4000:])
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"package check failed at: {step} (exit {result.returncode})")
    return result


def check_emulator(bin_dir: Path, workdir: Path) -> None:
    """Start the installed ``airflow-stitch emulator`` on a free port and list sources through it."""
    ready = workdir / "emulator-ready.json"
    print("-- installed emulator answers over loopback", flush=True)
    process = subprocess.Popen(
        [str(bin_dir / "airflow-stitch"), "emulator", "--port", "0", "--ready-file", str(ready)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() or not ready.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("package check failed at: emulator start")
            time.sleep(0.2)
        info = json.loads(ready.read_text())
        request = urllib.request.Request(
            info["base_url"].rstrip("/") + "/v4/sources", headers={"Authorization": f"Bearer {info['token']}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200 or not isinstance(json.loads(response.read()), list):
                raise SystemExit("package check failed at: emulator GET /v4/sources")
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> int:
    """Build, check and install; print one line per step and a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow-version", default="3.3.2")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stitch-package-") as tmp:
        tmp_path = Path(tmp)
        dist = tmp_path / "dist"
        run("build sdist and wheel", [sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)])
        artefacts = sorted(str(p) for p in dist.iterdir())
        run("twine check --strict", [sys.executable, "-m", "twine", "check", "--strict", *artefacts])
        wheel = next(p for p in artefacts if p.endswith(".whl"))
        venv = tmp_path / "venv"
        run("fresh venv", [sys.executable, "-m", "venv", str(venv)])
        bin_dir = venv / "bin"
        run(
            "install the wheel alone with Airflow",
            [str(bin_dir / "pip"), "install", "-q", wheel, f"apache-airflow=={args.airflow_version}"],
        )
        workdir = tmp_path / "outside"
        workdir.mkdir()
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": "",
        }
        probe = run(
            "provider manager sees the provider",
            [str(bin_dir / "python"), "-c", PROVIDER_PROBE],
            cwd=workdir,
            env=env,
        )
        found = json.loads(probe.stdout.strip().splitlines()[-1])
        if str(REPO) in found["module_file"] or "site-packages" not in found["module_file"]:
            raise SystemExit(f"package check failed at: the import came from {found['module_file']}")
        if found["hook"] != "airflow_provider_stitch.hooks.stitch.StitchHook":
            raise SystemExit(f"package check failed at: connection type stitch maps to {found['hook']}")
        types = run(
            "airflow-stitch types --json",
            [str(bin_dir / "airflow-stitch"), "types", "--json"],
            cwd=workdir,
            env=env,
        )
        type_count = len(json.loads(types.stdout))
        if type_count < 100:
            raise SystemExit(f"package check failed at: only {type_count} connection types in the catalog")
        run(
            "airflow-stitch describe",
            [str(bin_dir / "airflow-stitch"), "describe", "platform.hp-postgres"],
            cwd=workdir,
            env=env,
        )
        check_emulator(bin_dir, workdir)
    print(
        f"package check passed: {len(artefacts)} artefacts, twine clean, provider {found['version']} from "
        f"site-packages, {type_count} connection types, emulator served (in {time.monotonic() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
