"""``airflow-stitch``: validate connection properties, list and describe types, run the emulator.

Exit codes: 0 success (valid), 1 invalid properties, 2 usage errors (bad arguments, unknown type,
unreadable or non-JSON input). Imports stay cheap: the catalog and the emulator load on first use.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any, TextIO

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def _read_properties(path: str, stdin: TextIO) -> Any:
    if path == "-":
        return json.loads(stdin.read())
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


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
        properties = _read_properties(args.file, stdin)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=err)
        return EXIT_USAGE
    except json.JSONDecodeError as exc:
        print(f"error: {args.file} is not JSON (line {exc.lineno}, column {exc.colno})", file=err)
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
    """Describe one connection type: steps and every property with its constraints."""
    from airflow_provider_stitch.connectors import UnknownConnectionTypeError, get_connector

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
        if spec.enum:
            details.append("one of " + "|".join(spec.enum))
        if spec.required_when:
            details.append(f"required when {spec.required_when['property']}={spec.required_when['equals']}")
        if spec.default is not None:
            details.append(f"default {spec.default}")
        print(f"  [{spec.step}] {spec.name}: " + ", ".join(details), file=out)
    for note in connector.notes:
        print(f"note: {note}", file=out)
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

    emulator = commands.add_parser("emulator", help="run the offline Stitch emulator", add_help=False)
    emulator.add_argument("emulator_args", nargs=argparse.REMAINDER)
    emulator.set_defaults(handler=run_emulator)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``airflow-stitch``; return the exit code.

    Args:
        argv: arguments without the program name (defaults to ``sys.argv[1:]``).
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
    return int(args.handler(args, sys.stdout, sys.stderr, sys.stdin))


if __name__ == "__main__":
    sys.exit(main())
