"""The emulator counts Jobs requests by its own routes, never by the client's endpoint table."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.emulator.request_groups import classify


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v4/116078/extractions", ("jobs", 116078)),
        ("get", "/v4/116078/extractions", ("jobs", 116078)),
        ("GET", "/v4/116078/extractions/116078.200001.sync.abc", ("jobs", 116078)),
        ("GET", "/v4/42/loads", ("jobs", 42)),
        ("GET", "/v4/sources", ("other", None)),
        ("GET", "/v4/sources/200001", ("other", None)),
        ("POST", "/v4/sources/200001/sync", ("other", None)),
        ("DELETE", "/v4/sources/200001/sync", ("other", None)),
        ("POST", "/v4/116078/extractions", ("other", None)),
        ("GET", "/v4/116078/loads/extra", ("other", None)),
        ("GET", "/v4/not-a-client/loads", ("other", None)),
        ("GET", "/__logs__/116078.200001.sync.abc", ("other", None)),
    ],
)
def test_classify_by_the_emulators_routes(method: str, path: str, expected: tuple[str, int | None]) -> None:
    assert classify(method, path) == expected


def test_the_emulator_never_imports_the_clients_endpoint_table() -> None:
    probe = (
        "import sys\n"
        "from airflow_provider_stitch.emulator import create_app\n"
        "from airflow_provider_stitch.emulator.harness import StitchEmulator\n"
        "import airflow_provider_stitch.emulator.server, airflow_provider_stitch.emulator.control\n"
        "create_app()\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('airflow_provider_stitch.api.')\n"
        "                and m != 'airflow_provider_stitch.api.models')\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = [name for name in result.stdout.strip().split(",") if name]
    assert "airflow_provider_stitch.api.endpoints" not in loaded
    assert "airflow_provider_stitch.api.client" not in loaded


def test_stats_count_jobs_requests_per_client(emu: StitchEmulator, http: httpx.Client) -> None:
    http.get("/v4/sources")
    http.get(f"/v4/{emu.client_id}/extractions")
    http.get(f"/v4/{emu.client_id}/loads", params={"page": 1})
    http.get(f"/v4/{emu.client_id}/extractions/no-such-job")
    stats = emu.control.stats()
    assert stats["requests"] == {"jobs": 3, "other": 1, "total": 4}
    assert stats["by_client"][str(emu.client_id)]["jobs"] == 3
    assert stats["max_jobs_in_window"] == 3
    assert [entry["group"] for entry in stats["log"]] == ["other", "jobs", "jobs", "jobs"]
