"""airflow-stitch: exit codes, every error listed, secrets never printed, emulator pass-through."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from airflow_provider_stitch import cli

SECRET = "Pa55-word-that-must-not-leak"
VALID_POSTGRES = {
    "host": "db.example.com",
    "port": 5432,
    "user": "stitch",
    "password": SECRET,
    "dbname": "app",
    "include_schemas_in_destination_stream_name": "false",
}


def write(tmp_path: Path, payload: object) -> str:
    path = tmp_path / "props.json"
    path.write_text(json.dumps(payload))
    return str(path)


def test_validate_valid_file_exits_0_and_masks_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["validate", "platform.hp-postgres", write(tmp_path, VALID_POSTGRES)]) == 0
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    shown = json.loads(out)
    assert shown["password"] == "***"
    assert shown["port"] == "5432"
    assert "valid platform.hp-postgres form properties" in err


def test_validate_invalid_exits_1_and_lists_every_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = {**VALID_POSTGRES, "hots": "x", "port": "0", "password": {"p": SECRET}}
    del payload["dbname"]
    assert cli.main(["validate", "hp-postgres", write(tmp_path, payload)]) == 1
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    for fragment in (
        "hots: is not a property",
        "did you mean 'host'?",
        "port: must be a port",
        "password:",
        "dbname: is required but missing",
    ):
        assert fragment in err


def test_validate_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"frequency_in_minutes": 60})))
    assert cli.main(["validate", "platform.hubspot", "-", "--partial"]) == 0
    assert json.loads(capsys.readouterr().out) == {"frequency_in_minutes": "60"}


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["validate", "platform.hubspto", "-"], "did you mean 'platform.hubspot' or"),
        (["validate", "platform.hubspot", "/no/such/file.json"], "cannot read"),
        (["frobnicate"], "invalid choice"),
        (["validate"], "required"),
        (["describe", "nosuchtype"], "unknown Stitch connection type"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_non_json_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    assert cli.main(["validate", "platform.hubspot", str(path)]) == 2
    assert "is not JSON" in capsys.readouterr().err


def test_anchor_time_note_is_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(
            [
                "validate",
                "hubspot",
                write(tmp_path, {"anchor_time": "2018-04-30T13:00:00-04:00"}),
                "--partial",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert "note: anchor_time had a UTC offset" in err
    assert json.loads(out) == {"anchor_time": "2018-04-30T17:00:00Z"}


def test_types_lists_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["types", "--kind", "destination", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 11
    assert {
        "type": "redshift",
        "display_name": "Amazon Redshift",
        "kind": "destination",
        "deprecated": False,
        "replacement": None,
    } in rows
    assert cli.main(["types"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 142
    assert "(deprecated; use platform.hp-postgres)" in out


def test_describe_shows_steps_and_properties(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["describe", "hubspot"]) == 0
    out = capsys.readouterr().out
    assert "HubSpot (platform.hubspot), source" in out
    assert "steps: form -> oauth -> discover_schema -> field_selection -> fully_configured" in out
    assert "[oauth] refresh_token: string, required, system_provided_by_default, credential" in out


def test_emulator_subcommand_forwards_its_own_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[list[str]] = []
    fake = types.ModuleType("airflow_provider_stitch.emulator.server")
    fake.main = lambda argv: received.append(argv) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow_provider_stitch.emulator.server", fake)
    import airflow_provider_stitch.emulator as emulator_package

    monkeypatch.setattr(emulator_package, "server", fake, raising=False)
    assert cli.main(["emulator", "--port", "8123", "--help"]) == 7
    assert received == [["--port", "8123", "--help"]]


def test_cli_import_is_cheap() -> None:
    code = "import sys, airflow_provider_stitch.cli\nprint(sorted(m for m in sys.modules if m.startswith(('airflow_provider_stitch.connectors', 'airflow_provider_stitch.emulator', 'airflow.'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
