"""Command-line adapter: ``jwmo-gateway validate`` (more commands follow the same pattern).

Reads files, directories, ZIP archives or standard input, runs the pure core and writes verdicts to
standard output. Exit status: 0 every message valid, 1 at least one invalid, 2 usage error or
unreadable path (message on standard error).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

from filters.policy import PolicyError
from gateway import __version__
from gateway.argtypes import positive_int
from gateway.batch import validate_items
from gateway.config import ConfigError, Settings
from gateway.intake.sources import InputError, expand, iter_items
from gateway.intake.transport import Limits
from gateway.logs import configure_logging
from gateway.minimise import SetupError, default_pipeline_step
from gateway.minimise import add_parser as add_minimise_parser
from gateway.minimise import run as run_minimise
from gateway.model import Declaration
from gateway.process_job import ProcessOptions, run_process
from gateway.registry import SchemaLoadError, default_registry
from gateway.results import Verdict
from gateway.service.kafka import config_from_env, run_worker
from gateway.service.serve import add_parser as add_serve_parser
from gateway.service.serve import run_serve
from gateway.stores.admin import add_parser as add_optout_parser
from gateway.stores.admin import run as run_optout
from gateway.stores.optouts import OptoutError
from gateway.stores.retention import add_parser as add_purge_parser
from gateway.stores.retention import run as run_purge
from gateway.validation import Validator

__all__ = ["main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_SHOWN_ERRORS = 3


class UsageError(Exception):
    """Bad arguments or unreadable input: exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jwmo-gateway",
        description="Validate, minimise and forward iJw/iWmo declaration messages.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = commands.add_parser(
        "validate",
        help="validate messages (files, directories, ZIP archives or - for standard input)",
        description="Validate declaration messages: transport checks, XSD, then in-message business rules.",
    )
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.add_argument("--json", action="store_true", help="one JSON object per message per line")
    validate.add_argument(
        "--schema-dir",
        action="append",
        default=None,
        metavar="DIR",
        help="extra or overriding XSDs, keyed by target namespace (default: $JWMO_SCHEMA_DIR)",
    )
    validate.add_argument(
        "--declaration",
        metavar="FILE",
        help="the JW323/WMO323 that the given 325 messages answer: adds the echo rules (TR337, TR367, ...)",
    )
    validate.add_argument(
        "--workers", type=positive_int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)"
    )
    validate.add_argument(
        "--max-message-bytes",
        type=positive_int,
        default=None,
        help="size limit (default: $JWMO_MAX_MESSAGE_BYTES or 25 MiB)",
    )
    process = commands.add_parser(
        "process",
        help="the batch job: every file (and ZIP) of INBOX -> billing, answers, restricted, audit, report",
        description="Validate, answer and minimise every message of INBOX (left untouched) into an outbox.",
    )
    process.add_argument("inbox", metavar="INBOX")
    process.add_argument("--out", metavar="DIR", help="outbox directory (default: $JWMO_DATA_DIR/outbox)")
    process.add_argument(
        "--workers", type=positive_int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)"
    )
    worker = commands.add_parser(
        "worker",
        help="the Kafka worker alone (needs JWMO_KAFKA_BOOTSTRAP): declarations.in -> output topics",
        description="Consume declarations.in, run the pipeline, produce the outputs, commit after every ack.",
    )
    worker.add_argument(
        "--workers", type=positive_int, default=os.cpu_count() or 1, help="pipeline processes (default: CPUs)"
    )
    add_serve_parser(commands)
    add_minimise_parser(commands)
    add_optout_parser(commands)
    add_purge_parser(commands)
    return parser


def _process(args: argparse.Namespace, out: TextIO, settings: Settings) -> int:
    options = ProcessOptions(
        inbox=Path(args.inbox),
        out=Path(args.out) if args.out else settings.data_dir / "outbox",
        data_dir=settings.data_dir,
        schema_dirs=settings.schema_dirs,
        max_bytes=settings.max_message_bytes,
        workers=args.workers,
        today=date.today(),
        minimiser_factory=default_pipeline_step,
    )
    default_pipeline_step()  # check the policy, tables, key and register before reading any input
    return run_process(options, out)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.kafka_bootstrap:
        raise UsageError("the Kafka worker needs JWMO_KAFKA_BOOTSTRAP (host:port of a broker)")
    configure_logging()
    default_pipeline_step()  # fail fast on a broken policy or key, before joining the consumer group
    asyncio.run(
        run_worker(
            config_from_env(settings.kafka_bootstrap),
            args.workers,
            settings.schema_dirs,
            settings.max_message_bytes,
            minimiser_factory=default_pipeline_step,
        )
    )
    return EXIT_OK


def _human_line(verdict: Verdict) -> str:
    if verdict.valid:
        return f"{verdict.source}: {verdict.message_type} valid"
    kind = verdict.message_type or "unknown type"
    stage = verdict.stage.value if verdict.stage is not None else "?"
    shown = []
    for e in verdict.errors[:_SHOWN_ERRORS]:
        code = f"{e.code}/{e.retourcode}" if e.retourcode else e.code
        where = f" at {e.path}" if e.path else ""
        shown.append(f"{code}{where}: {e.message}")
    more = len(verdict.errors) - _SHOWN_ERRORS
    suffix = f" (+{more} more)" if more > 0 else ""
    return f"{verdict.source}: {kind} INVALID ({stage}) " + "; ".join(shown) + suffix


def _load_declaration(
    path: str, settings: Settings, schema_dirs: tuple[Path, ...], today: date
) -> Declaration:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    validator = Validator(default_registry(schema_dirs), Limits(settings.max_message_bytes))
    checked = validator.check(data, path, today=today)
    if not isinstance(checked.message, Declaration):
        raise UsageError(f"--declaration {path} is not a JW323/WMO323 that passes the schema")
    return checked.message


def _validate(args: argparse.Namespace, out: TextIO, settings: Settings) -> int:
    schema_dirs = tuple(Path(d) for d in args.schema_dir) if args.schema_dir else settings.schema_dirs
    max_bytes = args.max_message_bytes or settings.max_message_bytes
    today = date.today()
    default_registry(schema_dirs)  # load and check the schema set before reading any input
    declaration = (
        _load_declaration(args.declaration, settings, schema_dirs, today) if args.declaration else None
    )
    files = expand(args.paths)
    verdicts = validate_items(
        iter_items(files, max_bytes),
        workers=args.workers,
        file_count=len(files),
        schema_dirs=schema_dirs,
        max_bytes=max_bytes,
        today=today,
        declaration=declaration,
    )
    total = invalid = 0
    for verdict in verdicts:
        total += 1
        invalid += not verdict.valid
        if args.json:
            out.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
        else:
            out.write(_human_line(verdict) + "\n")
    if not args.json:
        out.write(f"{total} message(s): {total - invalid} valid, {invalid} invalid\n")
    return EXIT_INVALID if invalid else EXIT_OK


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    commands: dict[str, Callable[[], int]] = {
        "validate": lambda: _validate(args, sys.stdout, settings),
        "process": lambda: _process(args, sys.stdout, settings),
        "worker": lambda: _worker(args, settings),
        "serve": lambda: run_serve(args, settings),
        "minimise": lambda: run_minimise(args, sys.stdout, settings),
        "optout": lambda: run_optout(args, sys.stdout, settings),
        "purge": lambda: run_purge(args, sys.stdout, settings),
    }
    return commands[args.command]()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _run_command(args, Settings.from_env())
    except (
        UsageError,
        InputError,
        ConfigError,
        SchemaLoadError,
        SetupError,
        PolicyError,
        OptoutError,
    ) as exc:
        print(f"jwmo-gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
