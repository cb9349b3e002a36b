"""``airflow-stitch``: validate connection properties, list and describe types, list a source's streams,
run the emulator.

Exit codes: 0 success (valid), 1 invalid properties, 2 usage errors (bad arguments, unknown type,
unreadable, oversized or non-JSON input; one line, no traceback), 3 Stitch answered with an error or could
not be reached, 141 the reader of the output went away (``| head``), as for a program ended by SIGPIPE.
Imports stay cheap: the catalog, Airflow and the emulator load on first use.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from typing import Any, TextIO

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_STITCH = 3
EXIT_BROKEN_PIPE = 141
#: Largest properties file read; real ones are a few kilobytes.
MAX_INPUT_BYTES = 10 * 1024 * 1024


class UnreadableInput(Exception):
    """The properties input cannot be read as JSON; the message is one line naming the input."""


def _read_bytes(path: str, stdin: TextIO) -> bytes:
    """At most ``MAX_INPUT_BYTES + 1`` bytes of the file (or of stdin for ``-``)."""
    limit = MAX_INPUT_BYTES + 1
    if path == "-":
        binary = getattr(stdin, "buffer", None)
        return binary.read(limit) if binary is not None else stdin.read(limit).encode("utf-8")
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        raise UnreadableInput(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None


def read_properties(path: str, stdin: TextIO) -> Any:
    """The JSON document in ``path`` (``-`` for stdin).

    :param path: a file path, or ``-``.
    :param stdin: where ``-`` reads from.
    :raises UnreadableInput: missing, oversized, not UTF-8, not JSON, or nested too deeply to parse.
    """
    label = "stdin" if path == "-" else path
    raw = _read_bytes(path, stdin)
    if len(raw) > MAX_INPUT_BYTES:
        raise UnreadableInput(f"{label} is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"{label} is not UTF-8 text (invalid byte at offset {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableInput(f"{label} is not JSON (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise UnreadableInput(f"{label} nests JSON too deeply to read") from None
    except ValueError:
        raise UnreadableInput(f"{label} holds a number too long to read") from None


def run_validate(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Validate a JSON properties file against a connection type; print every problem."""
    from airflow_provider_stitch.connectors import (
        PropertiesValidationError,
        UnknownConnectionTypeError,
        credential_properties,
        get_connector,
        validate_properties,
    )

    try:
        connector = get_connector(args.type)
    except UnknownConnectionTypeError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    try:
        properties = read_properties(args.file, stdin)
    except UnreadableInput as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            normalised = validate_properties(
                connector.type,
                properties,
                step=args.step,
                partial=args.partial,
                allow_unknown=args.allow_unknown,
            )
        except PropertiesValidationError as exc:
            print(str(exc), file=err)
            return EXIT_INVALID
    for warning in caught:
        print(f"note: {warning.message}", file=err)
    masked = credential_properties(connector.type)
    shown = {name: ("***" if name in masked else value) for name, value in normalised.items()}
    print(f"valid {connector.type} {args.step} properties", file=err)
    print(json.dumps(shown, indent=2, sort_keys=True), file=out)
    return EXIT_OK


def run_types(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """List the connection types in the catalog."""
    from airflow_provider_stitch.connectors import list_connectors

    connectors = list_connectors(args.kind)
    if args.json:
        rows = [
            {
                "type": c.type,
                "display_name": c.display_name,
                "kind": c.kind,
                "deprecated": c.deprecated,
                "replacement": c.replacement,
            }
            for c in connectors
        ]
        print(json.dumps(rows, indent=2), file=out)
        return EXIT_OK
    width = max(len(c.type) for c in connectors)
    for c in connectors:
        flag = f"  (deprecated; use {c.replacement})" if c.deprecated and c.replacement else ""
        flag = flag or ("  (deprecated)" if c.deprecated else "")
        print(f"{c.type:<{width}}  {c.kind:<11}  {c.display_name}{flag}", file=out)
    return EXIT_OK


def run_describe(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Describe one connection type: steps and every property with its constraints and allowed values."""
    from airflow_provider_stitch.connectors import UnknownConnectionTypeError, get_connector
    from airflow_provider_stitch.connectors.allowed import allowed_values

    try:
        connector = get_connector(args.type)
    except UnknownConnectionTypeError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    print(f"{connector.display_name} ({connector.type}), {connector.kind}", file=out)
    if connector.deprecated:
        print(f"deprecated; replacement: {connector.replacement or 'not documented'}", file=out)
    print("steps: " + " -> ".join(connector.steps), file=out)
    for spec in connector.properties:
        details = [spec.datatype, spec.requirement, spec.property_type]
        if spec.credential:
            details.append("credential")
        if spec.rule:
            details.append(f"rule={spec.rule}")
        allowed = allowed_values(spec, connector)
        if allowed:
            details.append(f"allowed: {allowed}")
        if spec.required_when:
            details.append(f"required when {spec.required_when['property']}={spec.required_when['equals']}")
        if spec.default is not None:
            details.append(f"default {spec.default}")
        if spec.create_default is not None:
            details.append(f"may be left out of a create (Stitch stores {spec.create_default})")
        print(f"  [{spec.step}] {spec.name}: " + ", ".join(details), file=out)
    for note in connector.notes:
        print(f"note: {note}", file=out)
    return EXIT_OK


def run_streams(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """List a source's streams: the name to use in ``streams=``, selection and replication method."""
    # Airflow logs to stdout; while it loads and runs, stdout is stderr, so ``--json`` stays pure JSON.
    with contextlib.redirect_stdout(err):
        from airflow.providers.common.compat.sdk import AirflowNotFoundException

        from airflow_provider_stitch.api.errors import StitchError
        from airflow_provider_stitch.api.stream_selection import DiscoveredStream, name_for_spec
        from airflow_provider_stitch.hooks.stitch import StitchHook

        try:
            with StitchHook(args.conn_id, max_attempts=2).get_client() as client:
                listed = client.list_streams(args.source_id)
        except AirflowNotFoundException:
            print(f"error: no Airflow connection {args.conn_id!r}", file=err)
            return EXIT_USAGE
        except ValueError as exc:  # the connection's settings are invalid; the message names the setting
            print(f"error: connection {args.conn_id!r}: {exc}".splitlines()[0], file=err)
            return EXIT_USAGE
        except StitchError as exc:
            print(f"error: {exc}".splitlines()[0], file=err)
            return EXIT_STITCH
    discovered = [DiscoveredStream.from_listing(stream) for stream in listed]
    rows: list[dict[str, Any]] = [
        {
            "name": name_for_spec(stream, discovered),
            "tap_stream_id": stream.tap_stream_id,
            "stream_id": stream.stream_id,
            "selected": bool(stream.selected),
            "replication_method": stream.replication_method,
        }
        for stream in sorted(discovered, key=lambda s: (s.stream_name, s.tap_stream_id))
    ]
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
        return EXIT_OK
    if not rows:
        print(f"source {args.source_id} has no streams yet (discovery may still be running)", file=err)
        return EXIT_OK
    width = max(len("NAME"), *(len(row["name"]) for row in rows))
    print(f"{'NAME':<{width}}  {'SELECTED':<8}  {'METHOD':<11}  TAP_STREAM_ID", file=out)
    for row in rows:
        selected = "yes" if row["selected"] else "no"
        method = row["replication_method"] or "-"
        print(f"{row['name']:<{width}}  {selected:<8}  {method:<11}  {row['tap_stream_id']}", file=out)
    return EXIT_OK


def run_emulator(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Hand the remaining arguments to the offline emulator's own command line."""
    return forward_to_emulator(list(args.emulator_args))


def forward_to_emulator(arguments: list[str]) -> int:
    """Import the emulator server only now and run its ``main`` with the given arguments."""
    import importlib

    server = importlib.import_module("airflow_provider_stitch.emulator.server")

    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    return int(server.main(arguments))


def build_parser() -> argparse.ArgumentParser:
    """The ``airflow-stitch`` argument parser."""
    parser = argparse.ArgumentParser(prog="airflow-stitch", description="Stitch provider tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="validate a JSON properties file for a connection type")
    validate.add_argument("type", help="connection type, e.g. platform.postgres or hubspot")
    validate.add_argument("file", help="JSON file with the properties object, or - for stdin")
    validate.add_argument("--step", choices=("form", "oauth"), default="form")
    validate.add_argument(
        "--partial", action="store_true", help="an update: required properties not demanded"
    )
    validate.add_argument("--allow-unknown", action="store_true", help="pass unknown properties through")
    validate.set_defaults(handler=run_validate)

    types = commands.add_parser("types", help="list connection types")
    types.add_argument("--kind", choices=("source", "destination"))
    types.add_argument("--json", action="store_true", help="print JSON")
    types.set_defaults(handler=run_types)

    describe = commands.add_parser("describe", help="describe a connection type's properties")
    describe.add_argument("type")
    describe.set_defaults(handler=run_describe)

    streams = commands.add_parser(
        "streams", help="list a source's streams, their selection and replication method"
    )
    streams.add_argument("source_id", type=int, help="the Stitch source id")
    streams.add_argument("--conn-id", default=None, help="Airflow connection id (default: stitch_default)")
    streams.add_argument("--json", action="store_true", help="print JSON")
    streams.set_defaults(handler=run_streams)

    emulator = commands.add_parser("emulator", help="run the offline Stitch emulator", add_help=False)
    emulator.add_argument("emulator_args", nargs=argparse.REMAINDER)
    emulator.set_defaults(handler=run_emulator)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``airflow-stitch``; return the exit code.

    :param argv: arguments without the program name (defaults to ``sys.argv[1:]``).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["emulator"]:
        # The emulator owns its flags (--port, --help, ...); pass them through untouched.
        return forward_to_emulator(arguments[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "conn_id", False) is None:
        from airflow_provider_stitch.defaults import DEFAULT_CONN_ID

        args.conn_id = DEFAULT_CONN_ID
    try:
        code = int(args.handler(args, sys.stdout, sys.stderr, sys.stdin))
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _discard_stdout() -> None:
    """Point stdout at the null device, so the flush at exit does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
