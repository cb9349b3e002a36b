"""The emulator as a subprocess: ``airflow-stitch emulator`` serves, then stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from airflow_provider_stitch.emulator import server


def test_parser_defaults_bind_loopback() -> None:
    args = server.build_parser().parse_args([])
    assert (args.host, args.port, args.clock, args.speed) == ("127.0.0.1", 8765, "real", 1.0)


def test_subprocess_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    command = [
        sys.executable,
        "-c",
        "import sys; from airflow_provider_stitch.cli import main; sys.exit(main(sys.argv[1:]))",
        "emulator",
        "--port",
        "0",
        "--token",
        "ac_cli_test",
        "--client-id",
        "4242",
        "--clock",
        "manual",
        "--ready-file",
        str(ready),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        assert info["base_url"].startswith("http://127.0.0.1:") and info["client_id"] == 4242
        response = httpx.get(
            f"{info['base_url']}/v4/sources", headers={"Authorization": "Bearer ac_cli_test"}
        )
        assert response.status_code == 200 and response.json() == []
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert f"Stitch emulator serving {info['base_url']}" in stdout
    assert "access token (fake, for local tests only): ac_cli_test" in stdout
    assert "Stitch emulator stopped" in stdout


def test_python_dash_m_runs_the_emulator_command(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    command = [sys.executable, "-m", "airflow_provider_stitch.emulator", "--port", "0", "--speed", "4"]
    process = subprocess.Popen([*command, "--ready-file", str(ready)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        base_url = json.loads(ready.read_text())["base_url"]
        assert httpx.get(f"{base_url}/__emulator__/speed").json()["speed"] == 4.0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
    assert process.returncode == 0
