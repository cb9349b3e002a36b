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


# ------------------------------------------------------------------------------------------------
# Hostile input files: exit 2 with one line, never a traceback, never the code for invalid properties
# ------------------------------------------------------------------------------------------------
def run_cli(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``airflow-stitch`` in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "airflow_provider_stitch.cli", *argv],
        input=stdin.decode("latin-1") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


HOSTILE_FILES = {
    "binary": (bytes(range(256)) * 4, "is not UTF-8 text (invalid byte at offset 128)"),
    "invalid-utf8": (b'{"host": "caf\xe9"}', "is not UTF-8 text (invalid byte at offset 13)"),
    "nul-bytes": (b'{"host": "a"}\x00\x00', "is not JSON (line 1, column 14)"),
    "deeply-nested": (b"[" * 200_000 + b"]" * 200_000, "nests JSON too deeply to read"),
    "huge-number": (b'{"port": ' + b"9" * 50_000 + b"}", "holds a number too long to read"),
    "huge": (b'{"host": "' + b"a" * (11 * 1024 * 1024) + b'"}', "is larger than 10 MiB"),
    "empty": (b"", "is not JSON (line 1, column 1)"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_FILES))
def test_hostile_files_exit_2_with_one_line(tmp_path: Path, kind: str) -> None:
    content, message = HOSTILE_FILES[kind]
    path = tmp_path / f"{kind}.json"
    path.write_bytes(content)
    result = run_cli("validate", "platform.hp-postgres", str(path))
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stderr == f"error: {path} {message}\n"
    assert result.stdout == ""


def test_a_directory_and_a_hostile_stdin_exit_2_with_one_line(tmp_path: Path) -> None:
    result = run_cli("validate", "platform.hp-postgres", str(tmp_path))
    assert (result.returncode, result.stderr) == (2, f"error: cannot read {tmp_path}: Is a directory\n")
    result = run_cli("validate", "platform.hp-postgres", "-", stdin=b"[" * 100_000)
    assert (result.returncode, result.stderr) == (2, "error: stdin nests JSON too deeply to read\n")


def test_a_parseable_but_deeply_nested_value_is_invalid_properties(tmp_path: Path) -> None:
    path = tmp_path / "deep-value.json"
    path.write_text(json.dumps({**VALID_POSTGRES, "host": json.loads("[" * 500 + "]" * 500)}))
    result = run_cli("validate", "platform.hp-postgres", str(path))
    assert result.returncode == 1
    assert "host: nests lists and objects more than 32 levels deep" in result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(VALID_POSTGRES).encode())
    assert run_cli("validate", "platform.hp-postgres", str(path)).returncode == 0


def test_output_to_a_closed_pipe_ends_quietly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_stitch.cli", "types", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first write, as with `| head` done early
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == cli.EXIT_BROKEN_PIPE
    assert stderr == ""


def test_types_json_piped_into_head_prints_no_traceback() -> None:
    command = f"{sys.executable} -m airflow_provider_stitch.cli types --json | head -n 2"
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines() == ["[", "  {"]
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr


# ------------------------------------------------------------------------------------------------
# describe: allowed values
# ------------------------------------------------------------------------------------------------
def test_describe_shows_the_allowed_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["describe", "platform.hp-mysql"]) == 0
    out = capsys.readouterr().out
    assert (
        "frequency_in_minutes: string, optional, user_provided, rule=frequency_in_minutes, allowed: one of 1, 30, 60, 360, 720, 1440\n"
        in out
    )
    assert (
        "port: integer, required, user_provided, rule=port, allowed: a port number from 1 to 65535, default 3306\n"
        in out
    )
    assert (
        'ssl: string, optional, user_provided, rule=boolean_flag, allowed: "true" or "false" (or a JSON boolean)\n'
        in out
    )
    assert "allowed: an ISO 8601 date-time at midnight UTC, YYYY-MM-DDT00:00:00Z" in out
    assert cli.main(["describe", "platform.hubspot"]) == 0
    assert "allowed: one of 30, 60, 360, 720, 1440\n" in capsys.readouterr().out
    assert cli.main(["describe", "s3"]) == 0
    assert "output_file_format: string, required, user_provided, rule=enum, allowed: one of csv, jsonl" in (
        capsys.readouterr().out
    )


def test_describe_says_which_required_property_a_create_may_leave_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["describe", "postgres"]) == 0
    out = capsys.readouterr().out
    assert (
        "encryption_type: string, required, user_provided, rule=enum, allowed: one of none, ssh, "
        "may be left out of a create (Stitch stores none)\n"
    ) in out
